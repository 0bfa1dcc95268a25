"""The shopper's cashback and wallet, read-only: ``GET cashback`` (own entries, newest first, ``?status=``,
paginated), ``GET wallet`` (balances) and ``GET wallet/transactions`` (the ledger, newest first, paginated).

Thin: :mod:`cashback.selectors` decides what is read. Query budgets (asserted in
``tests/cashback/test_wallet_api.py``): each list costs two queries (the count and the page) for one row or a
full page; the wallet one query, and none is written by a GET (a shopper without a wallet sees zeros).
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in

from ..models import CashbackEntry, CashbackStatus, WalletEntry
from ..selectors import cashback_list, wallet_summary, wallet_transactions
from .wallet_serializers import CashbackEntrySerializer, WalletSerializer, WalletTransactionSerializer


class CashbackListQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=CashbackStatus.choices, required=False, allow_blank=True, help_text="Only entries in it."
    )


class CashbackListView(generics.ListAPIView[CashbackEntry]):
    """Your cashback, newest first: from orders placed here and from purchases at merchants' own shops."""

    permission_classes = [IsAuthenticated]
    serializer_class = CashbackEntrySerializer
    filter_backends: list[Any] = []
    status_filter: str | None = None

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", enum=CashbackStatus.values, required=False, description="Only entries in this status."
            )
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = CashbackListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.status_filter = query.validated_data.get("status") or None
        return self.list(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return cashback_list(user=signed_in(self.request), status=self.status_filter)


class WalletView(APIView):
    """Your wallet's balances."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=WalletSerializer)
    def get(self, request: Request) -> Response:
        return Response(WalletSerializer(wallet_summary(user=signed_in(request))).data)


class WalletTransactionListView(generics.ListAPIView[WalletEntry]):
    """Your wallet's ledger, newest first: every credit, reversal, withdrawal hold, release, payout and
    adjustment, with the balance after each."""

    permission_classes = [IsAuthenticated]
    serializer_class = WalletTransactionSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return wallet_transactions(user=signed_in(self.request))
