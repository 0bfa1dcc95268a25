"""The payments app's API routes, one module per area (``urls_<area>.py``)."""

from django.urls import include, path

urlpatterns = [
    path("", include("payments.api.urls_payments")),
    path("", include("payments.api.urls_webhooks")),
    path("", include("payments.api.urls_methods")),
]
