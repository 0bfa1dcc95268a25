"""``GET/POST wallet/withdrawals``: the signed-in shopper's withdrawals, and a new one.

``POST`` needs an ``Idempotency-Key`` header (1 to 255 printable ASCII characters, e.g. a UUID per withdrawal),
scoped ``withdrawal``: the same key and body again answer the first 201 (with ``Idempotent-Replayed: true``),
another body with that key is 409 ``idempotency_key_reused``, a missing key is 400. Only a successful request is
remembered, so after a 400 or 409 the same key may be used again. The amount is held in the wallet at once
(see :mod:`cashback.services.withdrawals`).
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import signed_in
from commerce.orders.services.idempotency import (
    HEADER,
    IdempotentResponse,
    idempotency_key_clean,
    idempotency_request_hash,
    idempotent_execute,
)

from ..models import Withdrawal
from ..services.withdrawals import withdrawal_request
from .withdrawal_serializers import WithdrawalInputSerializer, WithdrawalSerializer, withdrawal_payload

SCOPE = "withdrawal"


class WithdrawalListCreateView(generics.ListAPIView[Withdrawal]):
    """The shopper's withdrawals, newest first (paginated); ``POST`` asks for a new one."""

    permission_classes = [IsAuthenticated]
    serializer_class = WithdrawalSerializer
    filter_backends: list[Any] = []
    error_responses = {
        "post": {
            409: "insufficient_balance: more than the wallet's available balance, or the balance is negative "
            "(`available` in the body); idempotency_key_reused: the key was used for another body; "
            "idempotency_key_in_use: a request with the key is still in progress.",
        }
    }

    def get_queryset(self) -> Any:
        return Withdrawal.objects.filter(user=signed_in(self.request)).order_by("-created_at", "-id")

    @extend_schema(
        request=WithdrawalInputSerializer,
        parameters=[
            OpenApiParameter(
                HEADER,
                location=OpenApiParameter.HEADER,
                required=True,
                type=str,
                description="1 to 255 printable ASCII characters, unique per withdrawal (e.g. a UUID).",
            )
        ],
        responses={201: WithdrawalSerializer},
    )
    def post(self, request: Request) -> Response:
        user = signed_in(request)
        raw = request.data  # parsed first: a body that is not JSON is a parse_error whatever the headers
        key = idempotency_key_clean(value=request.headers.get(HEADER))
        body = WithdrawalInputSerializer(data=raw)
        body.is_valid(raise_exception=True)
        data = body.validated_data

        def withdraw() -> IdempotentResponse:
            withdrawal = withdrawal_request(
                user_id=user.pk,
                amount=data["amount"],
                method=data["method"],
                vpa=data.get("vpa", ""),
                account_number=data.get("account_number", ""),
                ifsc=data.get("ifsc", ""),
                account_name=data.get("name", ""),
            )
            return IdempotentResponse(status_code=status.HTTP_201_CREATED, body=withdrawal_payload(withdrawal))

        answer = idempotent_execute(
            user_id=user.pk,
            scope=SCOPE,
            key=key,
            request_hash=idempotency_request_hash(body=raw),
            work=withdraw,
        )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return Response(answer.body, status=answer.status_code, headers=headers)
