"""Routes of the orders endpoints."""

from django.urls import path

from .orders import OrderCancelView, OrderDetailView, OrderListView

urlpatterns = [
    path("orders", OrderListView.as_view(), name="order-list"),
    path("orders/<str:number>", OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:number>/cancel", OrderCancelView.as_view(), name="order-cancel"),
]
