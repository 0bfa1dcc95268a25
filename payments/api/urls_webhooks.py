"""Routes for the providers' webhooks (``payments/webhooks/<provider>``)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
