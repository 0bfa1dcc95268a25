"""The address shape of ``me/addresses`` and of checkout's ``shipping_address``.

Input is validated by :func:`commerce.orders.services.addresses.address_clean` (one set of rules for the address
book and checkout); :class:`AddressInputSerializer` runs it, so a view or a nested use gets the same 400 with
``fields``, and it documents the shape in the OpenAPI schema. :class:`AddressSerializer` is the output.
"""

from typing import Any

from rest_framework import serializers

from commerce.core.errors import InvalidInput

from ..models import Address
from ..services.addresses import MAX_LENGTHS, address_clean


def _text(name: str, *, required: bool = True, help_text: str = "") -> serializers.CharField:
    return serializers.CharField(
        max_length=MAX_LENGTHS[name], required=required, allow_blank=not required, help_text=help_text
    )


class AddressInputSerializer(serializers.Serializer[Any]):
    """An address as sent: text is trimmed and may not hold control characters. Unknown keys are ignored."""

    name = _text("name", help_text="The recipient.")
    line1 = _text("line1")
    line2 = _text("line2", required=False, help_text="Optional.")
    city = _text("city")
    state = _text("state")
    postal_code = _text(
        "postal_code", help_text="For IN: a 6-digit PIN code not starting with 0. Elsewhere 2-10 letters/digits."
    )
    country = serializers.CharField(
        min_length=2,
        max_length=2,
        required=False,
        help_text="ISO 3166-1 alpha-2 code; default IN.",
    )
    phone = _text("phone", help_text="Read in the address's country (E.164 always works); stored as E.164.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            return address_clean(data=data)
        except InvalidInput as exc:
            raise serializers.ValidationError(exc.fields or {"non_field_errors": [exc.detail]}) from None


class AddressCreateSerializer(AddressInputSerializer):
    """A new saved address. ``is_default``: make it the default (the first address always is)."""

    is_default = serializers.BooleanField(required=False, help_text="A JSON boolean.")


class AddressUpdateSerializer(AddressCreateSerializer):
    """The fields to change (any subset). ``is_default: true`` makes this the default; ``false`` on the default is
    refused (make another address the default instead)."""


class AddressSerializer(serializers.ModelSerializer[Address]):
    """A saved address. ``phone`` is E.164; ``country`` ISO 3166-1 alpha-2."""

    class Meta:
        model = Address
        fields = [
            "id",
            "name",
            "line1",
            "line2",
            "city",
            "state",
            "postal_code",
            "country",
            "phone",
            "is_default",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
