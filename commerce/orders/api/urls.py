"""The orders app's API routes, one module per area (``urls_<area>.py``)."""

from django.urls import include, path

urlpatterns = [
    path("", include("commerce.orders.api.urls_cart")),
    path("", include("commerce.orders.api.urls_addresses")),
    path("", include("commerce.orders.api.urls_checkout")),
    path("", include("commerce.orders.api.urls_orders")),
    path("", include("commerce.orders.api.urls_invoices")),
    path("", include("commerce.orders.api.urls_recommendations")),
]
