"""The signed-in shopper's cart: ``GET cart``, ``POST cart/lines``, ``PATCH/DELETE cart/lines/{id}``,
``POST/DELETE cart/coupon``. Every one answers the whole cart priced now (``CartSerializer``'s shape), and the
service records that quote as what the shopper saw. Thin: input through the serializers, the rest in
:mod:`commerce.orders.services.cart`.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in

from ..pricing import CartQuote
from ..services import cart as services
from .cart_serializers import (
    CartCouponInputSerializer,
    CartLineInputSerializer,
    CartLineQuantitySerializer,
    CartSerializer,
    cart_payload,
)


def _answer(quote: CartQuote, code: int = status.HTTP_200_OK) -> Response:
    return Response(cart_payload(quote), status=code)


def _valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CartView(APIView):
    """The cart priced now: today's prices, lines that went off sale or out of stock flagged in ``warnings``
    (never dropped), a coupon that stopped validating removed with a warning. Without a cart: an empty one
    (``id`` null); reading never creates one."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=CartSerializer)
    def get(self, request: Request) -> Response:
        return _answer(services.cart_read(user=signed_in(request)))


class CartLinesView(APIView):
    """Add a SKU (to its line if the cart has one). The first line creates the cart."""

    permission_classes = [IsAuthenticated]
    error_responses = {
        409: "cart_merchant_conflict (another merchant's item; send replace: true), cart_currency_conflict, "
        "insufficient_stock (with sku and available)",
    }

    @extend_schema(request=CartLineInputSerializer, responses={201: CartSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(CartLineInputSerializer, request)
        quote = services.cart_line_add(
            user=signed_in(request), sku=data["sku"], quantity=data["quantity"], replace=data["replace"]
        )
        return _answer(quote, status.HTTP_201_CREATED)


class CartLineView(APIView):
    """Change a line's quantity, or remove the line. Another user's line is a 404."""

    permission_classes = [IsAuthenticated]
    error_responses = {"patch": {409: "insufficient_stock (with sku and available), line_unavailable"}}

    @extend_schema(request=CartLineQuantitySerializer, responses=CartSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        data = _valid(CartLineQuantitySerializer, request)
        return _answer(services.cart_line_update(user=signed_in(request), line_id=pk, quantity=data["quantity"]))

    @extend_schema(request=None, responses={200: CartSerializer})
    def delete(self, request: Request, pk: int) -> Response:
        return _answer(services.cart_line_remove(user=signed_in(request), line_id=pk))


class CartCouponView(APIView):
    """Apply a coupon (validated by the offers service: its codes and statuses as they are), or remove it."""

    permission_classes = [IsAuthenticated]
    error_responses = {"post": {409: "cart_empty, coupon_used_up, coupon_per_user_limit"}}

    @extend_schema(request=CartCouponInputSerializer, responses=CartSerializer)
    def post(self, request: Request) -> Response:
        data = _valid(CartCouponInputSerializer, request)
        return _answer(services.cart_coupon_apply(user=signed_in(request), code=data["code"]))

    @extend_schema(request=None, responses={200: CartSerializer})
    def delete(self, request: Request) -> Response:
        return _answer(services.cart_coupon_remove(user=signed_in(request)))
