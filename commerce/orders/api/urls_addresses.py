"""Routes of the addresses endpoints."""

from django.urls import path

from . import addresses

urlpatterns = [
    path("me/addresses", addresses.AddressListView.as_view(), name="address-list"),
    path("me/addresses/<int:pk>", addresses.AddressDetailView.as_view(), name="address-detail"),
]
