"""Routes of the cart endpoints."""

from django.urls import path

from . import cart

urlpatterns = [
    path("cart", cart.CartView.as_view(), name="cart"),
    path("cart/lines", cart.CartLinesView.as_view(), name="cart-lines"),
    path("cart/lines/<int:pk>", cart.CartLineView.as_view(), name="cart-line"),
    path("cart/coupon", cart.CartCouponView.as_view(), name="cart-coupon"),
]
