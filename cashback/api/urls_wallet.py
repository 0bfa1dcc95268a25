"""Routes of the shopper's cashback and wallet (read-only)."""

from django.urls import path

from .wallet import CashbackListView, WalletTransactionListView, WalletView

urlpatterns = [
    path("cashback", CashbackListView.as_view(), name="cashback-list"),
    path("wallet", WalletView.as_view(), name="wallet"),
    path("wallet/transactions", WalletTransactionListView.as_view(), name="wallet-transactions"),
]
