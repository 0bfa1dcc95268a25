"""The signed-in shopper's saved payment methods: ``GET me/payment-methods``, ``DELETE me/payment-methods/{id}``.

Thin: :mod:`payments.services.methods` decides what is listed (stored rows, refreshed from the providers at most
every few minutes; a provider down never fails the read) and detaches a method at its provider before deleting
it. The list is paginated as every list is. Never card data: brand, last four digits, expiry, UPI handle.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import signed_in

from ..models import SavedPaymentMethod
from ..services import methods as services


class SavedPaymentMethodSerializer(serializers.ModelSerializer[SavedPaymentMethod]):
    """A saved payment method as a shopper recognises it. ``method``: ``card``, ``upi``, ``netbanking``,
    ``wallet`` or ``other``; ``brand``/``last4``/``exp_month``/``exp_year`` for cards (empty or null otherwise);
    ``vpa_handle`` the UPI handle (``okhdfc``) for UPI."""

    class Meta:
        model = SavedPaymentMethod
        fields = ["id", "provider", "method", "brand", "last4", "exp_month", "exp_year", "vpa_handle", "created_at"]
        read_only_fields = fields


class PaymentMethodListView(generics.ListAPIView[SavedPaymentMethod]):
    """The shopper's saved payment methods at the enabled providers, newest first. Served from what is stored,
    refreshed from a provider when the last refresh is more than a few minutes old; a provider that is down only
    delays the refresh."""

    permission_classes = [IsAuthenticated]
    serializer_class = SavedPaymentMethodSerializer
    filter_backends: list[Any] = []

    def get_queryset(self):
        return services.payment_methods_list(user=signed_in(self.request))


class PaymentMethodDetailView(generics.GenericAPIView[SavedPaymentMethod]):
    """Remove a saved method: it is detached at the provider, then forgotten here."""

    permission_classes = [IsAuthenticated]
    serializer_class = SavedPaymentMethodSerializer
    error_responses = {
        "delete": {
            400: "provider_refused: the provider refused to detach the method.",
            503: "provider_unavailable: the provider could not be reached; the method is kept, retry later.",
        }
    }

    def get_queryset(self):
        return SavedPaymentMethod.objects.filter(user=signed_in(self.request))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.payment_method_delete(user=signed_in(request), method_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
