"""Route of the leaderboard (``loyalty/leaderboard``)."""

from django.urls import path

from .leaderboard import LeaderboardView

urlpatterns = [
    path("loyalty/leaderboard", LeaderboardView.as_view(), name="loyalty-leaderboard"),
]
