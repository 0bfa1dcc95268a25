"""``POST checkout``: the signed-in shopper's cart becomes an order (201 with the order's body).

Body: exactly one of ``address_id`` (a saved address of the shopper) and ``shipping_address`` (the address
shape of ``me/addresses``), and optionally ``expected_total``: the total the shopper agreed to pay, either as
the money object the cart showed (``{"amount": "1047.00", "currency": "INR"}``) or as a plain amount string
(``"1047.00"``, in the cart's currency). With it, checkout goes ahead as long as the total still equals it;
without it, as long as nothing changed since the shopper's last ``GET cart`` (else 409 ``cart_changed``
with the new cart).

The ``Idempotency-Key`` header is required (1 to 255 printable ASCII characters; a UUID per checkout is the
usual choice): the same key and body again answer the first response (``Idempotent-Replayed: true`` is added),
another body with that key is 409 ``idempotency_key_reused``. Only a successful checkout is remembered, so
after an error the same key may be retried. See :mod:`commerce.orders.services.idempotency`.
"""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in
from commerce.core.api.fields import AmountQueryField
from commerce.core.money import SUPPORTED_CURRENCIES

from ..services.checkout import CartChanged, order_place
from ..services.idempotency import (
    HEADER,
    IdempotentResponse,
    idempotency_key_clean,
    idempotency_request_hash,
    idempotent_execute,
)
from .address_serializers import AddressInputSerializer
from .cart_serializers import cart_payload
from .order_serializers import OrderSerializer, order_payload

SCOPE = "checkout"
MAX_ID = 2**63 - 1
# DRF formats error messages with str.format: the braces of the JSON example are doubled.
EXPECTED_TOTAL_MESSAGE = 'Give the total as "1047.00" or as {{"amount": "1047.00", "currency": "INR"}}.'


AMOUNT_SCHEMA = {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$", "example": "1047.00"}


@extend_schema_field(
    {
        "oneOf": [
            AMOUNT_SCHEMA,
            {
                "type": "object",
                "properties": {
                    "amount": AMOUNT_SCHEMA,
                    "currency": {"type": "string", "enum": list(SUPPORTED_CURRENCIES)},
                },
                "required": ["amount", "currency"],
                "additionalProperties": False,
            },
        ],
        "description": "The total the shopper agreed to pay (the cart's total): a money object or an amount.",
    }
)
class ExpectedTotalField(serializers.Field[Any, Any, Any, Any]):
    """An amount string, or a money object whose amount is a string (the shape the cart answered); becomes
    ``(Decimal, currency or None)``. JSON numbers are refused: a float cannot carry an amount exactly."""

    default_error_messages = {"invalid": EXPECTED_TOTAL_MESSAGE}

    def to_internal_value(self, data: Any) -> tuple[Decimal, str | None]:
        currency: str | None = None
        amount = data
        if isinstance(data, dict):
            if set(data) != {"amount", "currency"}:
                self.fail("invalid")
            amount, currency = data["amount"], data["currency"]
            if not isinstance(currency, str) or currency not in SUPPORTED_CURRENCIES:
                self.fail("invalid")
        if not isinstance(amount, str):
            self.fail("invalid")
        parsed = AmountQueryField(min_value=Decimal("0"))
        try:
            value = parsed.run_validation(amount)
        except serializers.ValidationError:
            self.fail("invalid")
        return value, currency

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - input only
        return value


class CheckoutInputSerializer(serializers.Serializer[Any]):
    address_id = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="One of your saved addresses (me/addresses)."
    )
    shipping_address = AddressInputSerializer(
        required=False, help_text="A delivery address in the shape of me/addresses (instead of address_id)."
    )
    expected_total = ExpectedTotalField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_id, has_address = "address_id" in attrs, "shipping_address" in attrs
        if has_id == has_address:
            message = "Give either address_id or shipping_address." if not has_id else "Give only one of them."
            raise serializers.ValidationError({"address_id": [message], "shipping_address": [message]})
        return attrs


class CheckoutView(APIView):
    """Place an order from the cart. One transaction: the variants are locked, stock and prices re-checked,
    stock allocated, the coupon redeemed, each line snapshotted, the order and its first event written and the
    cart closed; the order waits for payment for ``ORDER_PAYMENT_TIMEOUT_MINUTES``."""

    permission_classes = [IsAuthenticated]
    error_responses = {
        404: "not_found: address_id is not one of your saved addresses.",
        409: "cart_empty; line_unavailable or insufficient_stock (fields per SKU); cart_changed (the new cart in "
        "`cart`); coupon_used_up / coupon_per_user_limit; idempotency_key_reused.",
    }

    @extend_schema(
        request=CheckoutInputSerializer,
        parameters=[
            OpenApiParameter(
                HEADER,
                location=OpenApiParameter.HEADER,
                required=True,
                type=str,
                description="1 to 255 printable ASCII characters, unique per checkout (e.g. a UUID).",
            )
        ],
        responses={201: OrderSerializer},
    )
    def post(self, request: Request) -> Response:
        user = signed_in(request)
        raw = request.data  # parsed first: a body that is not JSON is a parse_error whatever the headers
        key = idempotency_key_clean(value=request.headers.get(HEADER))
        body = CheckoutInputSerializer(data=raw)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        expected_total, expected_currency = data.get("expected_total") or (None, None)

        def place() -> IdempotentResponse:
            order = order_place(
                user=user,
                address_id=data.get("address_id"),
                shipping_address=data.get("shipping_address"),
                expected_total=expected_total,
                expected_currency=expected_currency,
            )
            payload = order_payload(order)
            return IdempotentResponse(status_code=status.HTTP_201_CREATED, body=payload, order=order)

        try:
            answer = idempotent_execute(
                user_id=user.pk,
                scope=SCOPE,
                key=key,
                request_hash=idempotency_request_hash(body=raw),
                work=place,
            )
        except CartChanged as exc:
            exc.extra = {"cart": cart_payload(exc.quote)}  # the new cart, as GET cart shows it
            raise
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return Response(answer.body, status=answer.status_code, headers=headers)
