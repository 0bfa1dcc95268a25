"""Routes of the checkout endpoints."""

from django.urls import path

from .checkout import CheckoutView

urlpatterns = [
    path("checkout", CheckoutView.as_view(), name="checkout"),
]
