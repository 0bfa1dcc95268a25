"""The reward catalogue: ``GET loyalty/rewards`` (active rewards, cheapest first, paginated, each with
``can_redeem`` for the caller and the ``reasons`` when not) and ``POST loyalty/rewards/{id}/redeem`` (201 with the
redemption and its single-use coupon).

``redeem`` honours an optional ``Idempotency-Key`` header (scope ``loyalty_reward``; 1 to 255 printable ASCII
characters): sent again with the same key it answers the first 201 (``Idempotent-Replayed: true``) instead of
spending points twice. Without the header every request redeems anew.

Query budgets (``tests/loyalty/test_rewards_api.py``): the list costs three queries (count, page with merchant
and tier, the caller's account with tier) whatever the number of rewards.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in
from commerce.orders.services.idempotency import (
    HEADER,
    IdempotentResponse,
    idempotency_key_clean,
    idempotency_request_hash,
    idempotent_execute,
)

from ..models import Reward
from ..services.rewards import member_standing, reward_eligibility, reward_redeem, rewards_catalogue
from .redemption_serializers import RewardRedemptionSerializer, RewardSerializer, redemption_payload, reward_payload

SCOPE = "loyalty_reward"


class RewardListView(generics.ListAPIView[Reward]):
    """Rewards you can buy with points, cheapest first. ``can_redeem`` says whether you can now; ``reasons`` why
    not: ``reward_not_available`` (for a higher tier), ``reward_out_of_stock``, ``insufficient_points``."""

    permission_classes = [IsAuthenticated]
    serializer_class = RewardSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return rewards_catalogue()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rewards = list(page) if page is not None else list(self.get_queryset())
        available, tier = member_standing(user_id=signed_in(request).pk)
        currency = settings.DEFAULT_CURRENCY
        rows = [
            reward_payload(reward, reward_eligibility(reward=reward, available=available, tier=tier), currency)
            for reward in rewards
        ]
        return self.get_paginated_response(rows) if page is not None else Response(rows)


class RewardRedeemView(APIView):
    """Buy a reward with your points: the points are spent at once and a single-use coupon is issued for the
    reward's merchant (apply it with ``POST cart/coupon``); it is listed under ``GET loyalty`` too."""

    permission_classes = [IsAuthenticated]
    error_responses = {
        400: "A malformed Idempotency-Key header (`fields`).",
        409: "insufficient_points (`available` in the body); reward_out_of_stock; reward_not_available: switched "
        "off, or for a higher tier; idempotency_key_reused: the key was used for another reward; "
        "idempotency_key_in_use: a request with the key is still in progress.",
    }

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                HEADER,
                location=OpenApiParameter.HEADER,
                required=False,
                type=str,
                description="Optional: 1 to 255 printable ASCII characters, unique per redemption (e.g. a UUID).",
            )
        ],
        responses={201: RewardRedemptionSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        user = signed_in(request)
        header = request.headers.get(HEADER)

        def redeem() -> IdempotentResponse:
            redemption = reward_redeem(user_id=user.pk, reward_id=pk)
            return IdempotentResponse(status_code=status.HTTP_201_CREATED, body=redemption_payload(redemption))

        if header is None:
            answer = redeem()
        else:
            answer = idempotent_execute(
                user_id=user.pk,
                scope=SCOPE,
                key=idempotency_key_clean(value=header),
                request_hash=idempotency_request_hash(body={"reward": pk}),
                work=redeem,
            )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return Response(answer.body, status=answer.status_code, headers=headers)
