"""Routes of withdrawals: ``wallet/withdrawals`` (list and request)."""

from django.urls import path

from .withdrawals import WithdrawalListCreateView

urlpatterns = [
    path("wallet/withdrawals", WithdrawalListCreateView.as_view(), name="wallet-withdrawals"),
]
