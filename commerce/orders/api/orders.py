"""The shopper's orders: ``GET orders`` (own, newest first, ``?status=``, paginated), ``GET orders/{number}``
and ``POST orders/{number}/cancel``. Another user's order is a 404, exactly like an unknown number.

Query budgets (asserted in ``tests/orders/test_order_api.py``): the list costs the same for one order or a page
of them; the detail the same for one line or many.
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in

from ..models import Order, OrderStatus
from ..selectors import order_detail, order_id_for, order_list
from ..services.transitions import order_cancel
from .order_serializers import OrderSerializer, OrderSummarySerializer, order_payload

MAX_REASON_LENGTH = 500


class OrderListQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False, help_text="Only orders in it.")


class TextField(serializers.CharField):
    """A JSON string only: DRF's ``CharField`` would also take ``42`` or ``true`` and store their text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class OrderCancelSerializer(serializers.Serializer[Any]):
    reason = TextField(
        required=False, allow_blank=True, max_length=MAX_REASON_LENGTH, help_text="Why (optional, kept on the order)."
    )


class OrderListView(generics.ListAPIView[Order]):
    """Your orders, newest first."""

    permission_classes = [IsAuthenticated]
    serializer_class = OrderSummarySerializer
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=OrderStatus.values, required=False, description="Only orders in it.")
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = OrderListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.status_filter = query.validated_data.get("status")
        return self.list(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return order_list(user=signed_in(self.request), status=self.status_filter)


class OrderDetailView(APIView):
    """One of your orders: lines as sold, totals, delivery address, history and tracking."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OrderSerializer)
    def get(self, request: Request, number: str) -> Response:
        return Response(order_payload(order_detail(user=signed_in(request), number=number)))


class OrderCancelView(APIView):
    """Cancel your order. An unpaid order releases its stock and coupon use; a paid one not yet shipped is
    refunded (the payments app reacts to the cancellation). Anything else is 409 ``invalid_transition``."""

    permission_classes = [IsAuthenticated]
    error_responses = {409: "invalid_transition: the order can no longer be cancelled (e.g. it has shipped)."}

    @extend_schema(request=OrderCancelSerializer, responses={200: OrderSerializer})
    def post(self, request: Request, number: str) -> Response:
        user = signed_in(request)
        body = OrderCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order_id = order_id_for(user=user, number=number)
        cancelled = order_cancel(
            order_id=order_id, actor=user, reason=body.validated_data.get("reason", ""), by_shopper=True
        )
        return Response(order_payload(order_detail(user=user, number=cancelled.number)), status=status.HTTP_200_OK)
