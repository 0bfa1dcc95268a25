"""Loyalty API routes, one module per area: the member's points and history, cart points, rewards,
achievements and the leaderboard."""

from django.urls import include, path

urlpatterns = [
    path("", include("loyalty.api.urls_member")),
    path("", include("loyalty.api.urls_cart_points")),
    path("", include("loyalty.api.urls_rewards")),
    path("", include("loyalty.api.urls_achievements")),
    path("", include("loyalty.api.urls_leaderboard")),
]
