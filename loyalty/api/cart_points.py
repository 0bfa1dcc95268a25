"""``POST cart/points`` and ``DELETE cart/points``: the points the signed-in shopper spends on their open cart.

Both answer the whole cart priced now, exactly as ``GET cart`` does (the points appear in ``adjustments`` as
``{"source": "loyalty_points", "label": "500 points", "amount": ...}`` and come off ``total``). Thin: the rules
are in :mod:`loyalty.services.redemption`, the cart's reading in :mod:`commerce.orders.services.cart`.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in
from commerce.orders.api.cart_serializers import CartSerializer, cart_payload
from commerce.orders.services.cart import cart_read

from ..services.redemption import cart_points_clear, cart_points_set
from .redemption_serializers import CartPointsInputSerializer


class CartPointsView(APIView):
    """Spend points on the cart (replacing what it asked before), or none. The cart uses the fewest of: the
    points asked, the points available, the points worth the programme's share of the amount due on the lines;
    none below the programme's minimum."""

    permission_classes = [IsAuthenticated]
    error_responses = {
        "post": {
            409: "cart_empty: no cart, or no lines; insufficient_points: more than your available points "
            "(`available` in the body); points_not_applicable: the cart is not in the currency points pay for.",
        }
    }

    @extend_schema(request=CartPointsInputSerializer, responses=CartSerializer)
    def post(self, request: Request) -> Response:
        body = CartPointsInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(body.validated_data)
        user = signed_in(request)
        cart_points_set(user=user, points=data["points"])
        return Response(cart_payload(cart_read(user=user)))

    @extend_schema(request=None, responses={200: CartSerializer})
    def delete(self, request: Request) -> Response:
        user = signed_in(request)
        cart_points_clear(user=user)
        return Response(cart_payload(cart_read(user=user)))
