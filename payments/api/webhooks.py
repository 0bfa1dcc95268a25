"""The providers' webhook endpoints: ``POST webhooks/stripe`` and ``POST webhooks/razorpay``.

Decisions:

* No authentication (the signature over the raw body is the credential) and therefore no CSRF check.
* **No throttling**: a provider retries a refused delivery for days at its own pace, and a 429 would only delay
  a payment. Abuse is bounded by what an unsigned request costs us: the body limit (413 above
  ``API_MAX_BODY_BYTES``), a JSON parse and one HMAC, then a 400 counted in
  ``payments_webhooks_received_total{outcome="invalid"}``; nothing is stored.
* The raw body is read before anything parses it, because the signature covers the exact bytes. It must also
  be JSON (both providers send JSON), parsed with the API's safe parser, so hostile bodies get the same 400/415
  as everywhere else.
* The answer is 200 at once, also for a duplicate, with ``{"event_id", "status", "duplicate"}``: processing
  runs on the ``webhooks`` queue after the row is committed (see :mod:`payments.services.webhooks`).
"""

from typing import ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..services.webhooks import webhook_receive

WEBHOOK_ACK = inline_serializer(
    "WebhookAck",
    {
        "event_id": serializers.CharField(),
        "status": serializers.CharField(help_text="received, processed, ignored or failed"),
        "duplicate": serializers.BooleanField(help_text="True when this event was stored before."),
    },
)


class WebhookView(APIView):
    """Verify, store and acknowledge one delivery of ``provider``'s webhook (set by the URL)."""

    provider: ClassVar[str] = ""
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []
    error_responses: ClassVar[dict[int, str]] = {
        400: "signature_invalid: the signature is bad, missing or stale (nothing stored); provider_unavailable: "
        "the provider is not configured here; parse_error: the body is not valid JSON.",
    }

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: WEBHOOK_ACK})
    def post(self, request: Request) -> Response:
        raw = request.body  # before request.data: the signature covers these exact bytes
        request.data  # noqa: B018 -- the safe JSON parser refuses hostile bodies with its 400/415
        event, created = webhook_receive(provider=self.provider, body=raw, headers=dict(request.headers))
        return Response({"event_id": event.event_id, "status": event.status, "duplicate": not created}, status=200)


class StripeWebhookView(WebhookView):
    """Stripe's events, signed in the ``Stripe-Signature`` header (``t=...,v1=...``, 300 s tolerance)."""

    provider = "stripe"


class RazorpayWebhookView(WebhookView):
    """Razorpay's events, signed in ``X-Razorpay-Signature`` (HMAC-SHA256 of the body), de-duplicated by
    ``X-Razorpay-Event-Id``."""

    provider = "razorpay"
