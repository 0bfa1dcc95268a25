"""Routes of the member's loyalty (read-only)."""

from django.urls import path

from .member import LoyaltyView, PointsTransactionListView

urlpatterns = [
    path("loyalty", LoyaltyView.as_view(), name="loyalty"),
    path("loyalty/transactions", PointsTransactionListView.as_view(), name="loyalty-transactions"),
]
