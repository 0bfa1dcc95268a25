"""Cashback API routes, one module per area: the shopper's cashback and wallet, withdrawals, and the merchants'
signed conversion reports."""

from django.urls import include, path

urlpatterns = [
    path("", include("cashback.api.urls_wallet")),
    path("", include("cashback.api.urls_withdrawals")),
    path("", include("cashback.api.urls_conversions")),
]
