"""Route of the member's achievements (``loyalty/achievements``)."""

from django.urls import URLPattern, path

from .achievements import AchievementListView

urlpatterns: list[URLPattern] = [
    path("loyalty/achievements", AchievementListView.as_view(), name="loyalty-achievements"),
]
