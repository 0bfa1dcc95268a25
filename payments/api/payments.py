"""Paying an order: ``POST orders/{number}/payments``, Razorpay's ``POST payments/razorpay/verify`` and the demo
gateway's ``POST payments/demo/{id}/complete``. Thin: validation here, the rules in
:mod:`payments.services.payments`.

Every answer is the payment: ``{"id", "provider", "status", "amount": {"amount", "currency"}, "client": {...}}``
where ``client`` is what the client needs to complete it (Stripe ``client_secret``; Razorpay ``order_id`` and
``key_id``; demo ``complete_url``). Starting answers **201** when a payment was opened and **200** when the open
payment of that order and provider was reused (same id, same ``client``).
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in
from commerce.core.api.fields import MoneyField

from ..models import Payment
from ..services.payments import DEMO_OUTCOMES, payment_demo_complete, payment_open, payment_razorpay_verify

MAX_PROVIDER_LENGTH = 16
MAX_RAZORPAY_ID_LENGTH = 100
MAX_SIGNATURE_LENGTH = 256


class TextField(serializers.CharField):
    """A JSON string only (DRF's ``CharField`` would also take ``42`` or ``true``)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` only (DRF's ``BooleanField`` also takes ``"yes"``, ``1``, ``"on"``)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class PaymentStartSerializer(serializers.Serializer[Any]):
    provider = TextField(
        max_length=MAX_PROVIDER_LENGTH, help_text="stripe, razorpay or demo: one of the providers enabled here."
    )
    save_method = StrictBooleanField(
        required=False, default=False, help_text="Keep the card or UPI method at the provider for next time."
    )


class RazorpayVerifySerializer(serializers.Serializer[Any]):
    razorpay_order_id = TextField(max_length=MAX_RAZORPAY_ID_LENGTH)
    razorpay_payment_id = TextField(max_length=MAX_RAZORPAY_ID_LENGTH)
    razorpay_signature = TextField(max_length=MAX_SIGNATURE_LENGTH)


class DemoCompleteSerializer(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=sorted(DEMO_OUTCOMES), help_text="How the demo payment ends.")


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    # A plain string in the schema: an enum here would collide with the orders' "status" and "payment_status"
    # enums in drf-spectacular's component names.
    status = serializers.CharField(
        read_only=True, help_text="created, authorized, captured, failed or cancelled (PaymentStatus)."
    )
    amount = MoneyField()
    client = serializers.JSONField(source="client_data", read_only=True, help_text="What the client needs.")

    class Meta:
        model = Payment
        fields = ["id", "provider", "status", "amount", "client"]
        read_only_fields = fields


def payment_payload(payment: Payment) -> dict[str, Any]:
    return dict(PaymentSerializer(payment).data)


class PaymentStartView(APIView):
    """Start paying your order with a provider (``stripe``, ``razorpay`` or ``demo``, as enabled here).

    A second call for the same order and provider returns the open payment (200) instead of opening another.
    """

    permission_classes = [IsAuthenticated]
    error_responses = {
        400: "provider_unavailable: unknown or unconfigured provider (fields.provider); provider_refused: the "
        "provider refused the payment.",
        404: "not_found: no such order of yours.",
        409: "invalid_transition: the order is not waiting for payment.",
        503: "provider_unavailable: the provider cannot be reached; retry (the same payment is reused).",
    }

    @extend_schema(request=PaymentStartSerializer, responses={201: PaymentSerializer, 200: PaymentSerializer})
    def post(self, request: Request, number: str) -> Response:
        user = signed_in(request)
        body = PaymentStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        payment, created = payment_open(
            user=user,
            order_number=number,
            provider=body.validated_data["provider"],
            save_method=body.validated_data["save_method"],
        )
        return Response(payment_payload(payment), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RazorpayVerifyView(APIView):
    """Hand over what Razorpay Checkout gave you after paying; the payment is recorded as authorised or captured
    (the webhook confirms it)."""

    permission_classes = [IsAuthenticated]
    error_responses = {
        400: "signature_invalid: the signature does not verify; provider_unavailable: Razorpay is not enabled.",
        404: "not_found: razorpay_order_id is not one of your payments.",
    }

    @extend_schema(request=RazorpayVerifySerializer, responses={200: PaymentSerializer})
    def post(self, request: Request) -> Response:
        user = signed_in(request)
        body = RazorpayVerifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        payment = payment_razorpay_verify(user=user, **body.validated_data)
        return Response(payment_payload(payment))


class DemoCompleteView(APIView):
    """Complete your demo payment as succeeded or failed: a signed demo webhook takes the same path a provider's
    does. In the embedded default the order is paid when this answers; with workers, shortly after."""

    permission_classes = [IsAuthenticated]
    error_responses = {
        404: "not_found: no such demo payment of yours, or the demo gateway is off.",
        409: "invalid_transition: the payment is already captured or cancelled.",
    }

    @extend_schema(request=DemoCompleteSerializer, responses={200: PaymentSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = signed_in(request)
        body = DemoCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        payment = payment_demo_complete(user=user, payment_id=pk, outcome=body.validated_data["outcome"])
        return Response(payment_payload(payment))
