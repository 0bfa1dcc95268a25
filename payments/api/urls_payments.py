"""Routes for starting payments, Razorpay's checkout confirmation and the demo gateway."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
