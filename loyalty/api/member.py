"""The member's loyalty, read-only: ``GET loyalty`` (balances, tier and progress, points expiring soon, referral
code, reward coupons) and ``GET loyalty/transactions`` (the points ledger, newest first, paginated).

Thin: :mod:`loyalty.member_selectors` decides what is read. A member without a points account gets one on their
first ``GET loyalty`` (its referral code must exist to be shared); ``GET loyalty/transactions`` never writes.
Query budgets (asserted in ``tests/loyalty/test_member_api.py``): the list costs two queries (count and page) for
one row or a full page; ``GET loyalty`` a fixed number whatever the ledger, lots and rewards.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in

from ..member_selectors import member_summary, member_transactions
from ..models import PointsEntry
from .member_serializers import LoyaltySerializer, PointsTransactionSerializer, loyalty_payload


class LoyaltyView(APIView):
    """Your points (available, pending, lifetime, held), your tier and how far the next one is, points expiring
    soon, your referral code and the reward coupons you bought with points."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=LoyaltySerializer)
    def get(self, request: Request) -> Response:
        return Response(loyalty_payload(member_summary(user=signed_in(request))))


class PointsTransactionListView(generics.ListAPIView[PointsEntry]):
    """Your points ledger, newest first: every point earned, confirmed, held, spent, returned, expired, taken back
    or adjusted, with the available balance after each."""

    permission_classes = [IsAuthenticated]
    serializer_class = PointsTransactionSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return member_transactions(user=signed_in(self.request))
