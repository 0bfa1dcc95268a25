"""Routes for the providers' webhooks (``webhooks/<provider>``): no authentication, no throttling, signed bodies."""

from django.urls import URLPattern, path

from .webhooks import RazorpayWebhookView, StripeWebhookView

urlpatterns: list[URLPattern] = [
    path("webhooks/stripe", StripeWebhookView.as_view(), name="webhook-stripe"),
    path("webhooks/razorpay", RazorpayWebhookView.as_view(), name="webhook-razorpay"),
]
