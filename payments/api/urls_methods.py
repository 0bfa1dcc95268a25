"""Routes for the shopper's saved payment methods (``me/payment-methods``)."""

from django.urls import path

from . import methods

urlpatterns = [
    path("me/payment-methods", methods.PaymentMethodListView.as_view(), name="payment-method-list"),
    path("me/payment-methods/<int:pk>", methods.PaymentMethodDetailView.as_view(), name="payment-method-detail"),
]
