"""Routes of the invoices endpoints."""

from django.urls import path

from .invoices import InvoiceView

urlpatterns = [
    path("orders/<str:number>/invoice", InvoiceView.as_view(), name="order-invoice"),
]
