"""Public representations of offers.

Amounts are money objects (``{"amount": "499.00", "currency": "INR"}``) in the offer's currency. The discount is
one object whose ``type`` says how to read it, so a per cent is never mistaken for an amount::

    {"type": "percentage", "percent": "10.00", "max_discount": {"amount": "250.00", "currency": "INR"}}
    {"type": "fixed", "amount": {"amount": "100.00", "currency": "INR"}}

``max_discount`` (the cap of a percentage discount) is ``null`` when there is no cap; a fixed discount has no
cap. Per cent values (``percent``, ``cashback_rate``) are decimal strings with two places.
"""

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from commerce.core.api.fields import MoneyField
from commerce.core.api.query import QueryIntegerField

from ..models import DiscountType, Offer, OfferKind


class OfferMerchantSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class PercentageDiscountSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=[DiscountType.PERCENTAGE.value], source="discount_type", read_only=True)
    percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, source="discount_value", read_only=True, help_text="Per cent off, 0-100."
    )
    max_discount = MoneyField(allow_null=True, help_text="Most the discount takes off; null: no cap.")


class FixedDiscountSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=[DiscountType.FIXED.value], source="discount_type", read_only=True)
    amount = MoneyField(source="discount_value", help_text="Taken off the eligible amount (never more than it).")


DISCOUNT_SERIALIZERS: dict[str, type[serializers.Serializer[Any]]] = {
    DiscountType.PERCENTAGE.value: PercentageDiscountSerializer,
    DiscountType.FIXED.value: FixedDiscountSerializer,
}

# In the schema: one of the two shapes, told apart by ``type``.
DISCOUNT_SCHEMA = PolymorphicProxySerializer(
    component_name="OfferDiscount",
    serializers=dict(DISCOUNT_SERIALIZERS),
    resource_type_field_name="type",
)


class OfferSerializer(serializers.ModelSerializer):
    """An offer as listed. ``cashback_rate`` is the rate that applies: the offer's own, else the merchant's
    default (per cent)."""

    merchant = OfferMerchantSerializer(read_only=True)
    discount = serializers.SerializerMethodField()
    min_order_amount = MoneyField(help_text="The cart subtotal with this merchant must reach this amount.")
    cashback_rate = serializers.SerializerMethodField()

    class Meta:
        model = Offer
        fields = [
            "id",
            "merchant",
            "title",
            "description",
            "kind",
            "code",
            "discount",
            "min_order_amount",
            "applies_to",
            "cashback_rate",
            "starts_at",
            "ends_at",
        ]
        read_only_fields = fields

    @extend_schema_field(DISCOUNT_SCHEMA)
    def get_discount(self, offer: Offer) -> dict[str, Any]:
        return DISCOUNT_SERIALIZERS[offer.discount_type](offer).data

    def get_cashback_rate(self, offer: Offer) -> str:
        rate = offer.cashback_rate if offer.cashback_rate is not None else offer.merchant.default_cashback_rate
        return f"{rate:.2f}"


class OfferDetailSerializer(OfferSerializer):
    """One offer, with the slugs of the categories or products it is limited to."""

    categories: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )
    products: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )

    class Meta(OfferSerializer.Meta):
        fields = [*OfferSerializer.Meta.fields, "categories", "products"]
        read_only_fields = fields


class TrendingOfferSerializer(OfferSerializer):
    trending_score = serializers.SerializerMethodField(help_text="Decayed, weighted activity of the last 7 days.")

    class Meta(OfferSerializer.Meta):
        fields = [*OfferSerializer.Meta.fields, "trending_score"]
        read_only_fields = fields

    def get_trending_score(self, offer: Offer) -> float:
        return round(offer.trending_score, 3)  # type: ignore[attr-defined]  # annotated by trending_offers()


class TrendingResponseSerializer(serializers.Serializer):
    window_days = serializers.IntegerField()
    results = TrendingOfferSerializer(many=True)


class ClickResponseSerializer(serializers.Serializer):
    offer_id = serializers.IntegerField()
    click_id = serializers.UUIDField()
    url = serializers.URLField(help_text="The destination, carrying the click id as the click_id parameter.")


EXPIRING_MAX_DAYS = 365


class OfferListQuerySerializer(serializers.Serializer):
    """Query parameters of ``GET offers``; bad values are a 400 with ``fields``."""

    merchant = serializers.SlugField(required=False, help_text="Only this merchant's offers (its slug).")
    kind = serializers.ChoiceField(choices=OfferKind.choices, required=False)
    expiring_within_days = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=EXPIRING_MAX_DAYS,
        help_text=f"Only offers ending within this many days (1-{EXPIRING_MAX_DAYS}), soonest first.",
    )
