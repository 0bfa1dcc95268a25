"""``POST cashback/conversions``: a merchant's (or its affiliate network's) signed report of a sale.

No JWT: the HMAC signature is the credential (see :mod:`cashback.services.conversions` for the scheme, the
answers and the refusals), so there is no authentication class and no CSRF check. The raw body is handed to the
service untouched, because the signature covers its exact bytes; the service parses them with the API's safe
JSON parser (hostile bodies: 400 ``parse_error`` as everywhere) and reads no field until the signature holds.
Throttled per client IP in its own scope (``conversions``, ``THROTTLE_CONVERSIONS``, default 600/min): a network
re-sending a day of reports at once is fine, a flood of unsigned bodies is not.
"""

from typing import Any, ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.core.api.fields import MoneySerializer, money
from commerce.core.api.throttling import FixedWindowRateThrottle
from commerce.core.client_ip import client_ip_or_none

from ..models import ConversionStatus
from ..services.conversions import ConversionOutcome, conversion_report_receive


class ConversionThrottle(FixedWindowRateThrottle):
    """Per client IP, in its own scope: merchants' servers are not shoppers (the ``anon`` rate does not apply)."""

    scope = "conversions"  # rate: THROTTLE_CONVERSIONS in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]

    def ident_for(self, request: Any) -> str | None:
        return self.get_ident(request)


class ConversionReportSerializer(serializers.Serializer[Any]):
    """The report's body (documentation only: the service checks the raw bytes' signature, then these fields)."""

    click_id = serializers.UUIDField(help_text="The click id our click URL carried to the merchant.")
    reference = serializers.RegexField(
        r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$",
        max_length=100,
        help_text="The merchant's own unique id of the sale: 1-100 printable ASCII characters.",
    )
    amount = serializers.RegexField(
        r"^[0-9]{1,10}(\.[0-9]{1,2})?$", help_text='The sale amount as a string, > 0, at most 2 places: "1234.50".'
    )
    currency = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217 code, e.g. INR.")
    status = serializers.ChoiceField(choices=ConversionStatus.choices)


CONVERSION_ANSWER = inline_serializer(
    "ConversionReportAnswer",
    {
        "id": serializers.IntegerField(help_text="Our id of the conversion."),
        "reference": serializers.CharField(),
        "status": serializers.CharField(help_text="pending, approved or cancelled"),
        "cashback": inline_serializer(
            "ConversionCashback",
            {
                "amount": MoneySerializer(),
                "status": serializers.CharField(help_text="pending, confirmed, credited, rejected or reversed"),
            },
            allow_null=True,
            help_text="The shopper's cashback for this sale; null while there is none.",
        ),
    },
)

SIGNATURE_HEADERS = [
    OpenApiParameter(
        "X-Merchant", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="Your merchant slug."
    ),
    OpenApiParameter(
        "X-Timestamp",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description="Unix seconds when the report was signed; within 300 s of our clock.",
    ),
    OpenApiParameter(
        "X-Signature",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description='Hex HMAC-SHA256 with your conversion secret over "<X-Timestamp>.<raw body>".',
    ),
]


def conversion_payload(outcome: ConversionOutcome) -> dict[str, Any]:
    conversion, entry = outcome.conversion, outcome.entry
    return {
        "id": conversion.pk,
        "reference": conversion.reference,
        "status": conversion.status,
        "cashback": None if entry is None else {"amount": money(entry.amount, entry.currency), "status": entry.status},
    }


class ConversionReportView(APIView):
    """Report a sale made after one of our clicks (signed; see the headers). 201 when the conversion is new,
    200 when it was updated or the same report was sent again (which changes nothing)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [ConversionThrottle]
    error_responses: ClassVar[dict[int, str]] = {
        400: "invalid: `fields` says which body fields are wrong; parse_error: the body is not a JSON object.",
        401: "signature_invalid: missing or bad signature, timestamp or merchant; timestamp_stale: X-Timestamp is "
        "more than 300 s from our clock.",
        403: "click_of_another_merchant: the click was on another merchant's offer.",
        404: "unknown_click: no click has this click_id.",
        409: "conversion_conflict: the reference was reported with another click, amount or currency, or the status "
        "would move backwards; click_not_attributable: the click was anonymous.",
    }

    @extend_schema(
        request=ConversionReportSerializer,
        parameters=SIGNATURE_HEADERS,
        responses={201: CONVERSION_ANSWER, 200: CONVERSION_ANSWER},
    )
    def post(self, request: Request) -> Response:
        headers = request.headers
        outcome = conversion_report_receive(
            body=request.body,  # the exact bytes the signature covers; nothing has parsed them yet
            merchant_slug=headers.get("X-Merchant", ""),
            signature=headers.get("X-Signature", ""),
            timestamp=headers.get("X-Timestamp", ""),
            ip=client_ip_or_none(request),
        )
        return Response(
            conversion_payload(outcome), status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        )
