"""Routes for starting payments, Razorpay's checkout confirmation and the demo gateway."""

from django.urls import path

from .payments import DemoCompleteView, PaymentStartView, RazorpayVerifyView

urlpatterns = [
    path("orders/<str:number>/payments", PaymentStartView.as_view(), name="order-payments"),
    path("payments/razorpay/verify", RazorpayVerifyView.as_view(), name="payment-razorpay-verify"),
    path("payments/demo/<int:pk>/complete", DemoCompleteView.as_view(), name="payment-demo-complete"),
]
