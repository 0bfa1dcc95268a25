"""Routes for the shopper's saved payment methods (``me/payment-methods``)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
