"""Routes of the cart's points."""

from django.urls import path

from . import cart_points

urlpatterns = [
    path("cart/points", cart_points.CartPointsView.as_view(), name="cart-points"),
]
