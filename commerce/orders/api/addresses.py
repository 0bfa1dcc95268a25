"""The signed-in shopper's address book: ``GET/POST me/addresses``, ``PATCH/DELETE me/addresses/{id}``.

Thin: the body goes as it came to :mod:`commerce.orders.services.addresses`, which validates it (the same rules
as checkout's ``shipping_address``) and keeps one default per user. Another user's address is a 404.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import signed_in

from ..models import Address
from ..services import addresses as services
from .address_serializers import AddressCreateSerializer, AddressSerializer, AddressUpdateSerializer


class AddressListView(generics.ListAPIView[Address]):
    """The shopper's addresses, the default first, then newest first. POST saves one (the first becomes the
    default; ``is_default: true`` moves the default to it)."""

    permission_classes = [IsAuthenticated]
    serializer_class = AddressSerializer
    filter_backends: list = []
    error_responses = {"post": {409: f"address_limit: at most {services.MAX_ADDRESSES_PER_USER} addresses."}}

    def get_queryset(self):
        return Address.objects.filter(user=signed_in(self.request)).order_by("-is_default", "-created_at", "-id")

    @extend_schema(request=AddressCreateSerializer, responses={201: AddressSerializer})
    def post(self, request: Request) -> Response:
        address = services.address_create(user=signed_in(request), data=request.data)
        return Response(AddressSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailView(generics.GenericAPIView[Address]):
    """Change or delete one of the shopper's addresses. Deleting the default makes the newest remaining address
    the default."""

    permission_classes = [IsAuthenticated]
    serializer_class = AddressSerializer

    def get_queryset(self):
        return Address.objects.filter(user=signed_in(self.request))

    @extend_schema(request=AddressUpdateSerializer, responses=AddressSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        address = services.address_update(user=signed_in(request), address_id=pk, data=request.data)
        return Response(AddressSerializer(address).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.address_delete(user=signed_in(request), address_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
