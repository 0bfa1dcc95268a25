"""Routes of the reward catalogue."""

from django.urls import path

from . import rewards

urlpatterns = [
    path("loyalty/rewards", rewards.RewardListView.as_view(), name="loyalty-rewards"),
    path("loyalty/rewards/<int:pk>/redeem", rewards.RewardRedeemView.as_view(), name="loyalty-reward-redeem"),
]
