"""Public representations of offers. Amounts are strings with the offer's ``currency`` beside them."""

from rest_framework import serializers

from commerce.core.api.query import QueryIntegerField

from ..models import Offer, OfferKind


class OfferMerchantSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class OfferSerializer(serializers.ModelSerializer):
    """An offer as listed. ``cashback_rate`` is the rate that applies: the offer's own, else the merchant's
    default (per cent)."""

    merchant = OfferMerchantSerializer(read_only=True)
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
            "discount_type",
            "discount_value",
            "max_discount",
            "min_order_amount",
            "currency",
            "applies_to",
            "cashback_rate",
            "starts_at",
            "ends_at",
        ]
        read_only_fields = fields

    def get_cashback_rate(self, offer: Offer) -> str:
        rate = offer.cashback_rate if offer.cashback_rate is not None else offer.merchant.default_cashback_rate
        return f"{rate:.2f}"


class OfferDetailSerializer(OfferSerializer):
    """One offer, with the slugs of the categories or products it is limited to."""

    categories = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    products = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta(OfferSerializer.Meta):
        fields = [*OfferSerializer.Meta.fields, "categories", "products"]
        read_only_fields = fields


class TrendingOfferSerializer(OfferSerializer):
    trending_score = serializers.SerializerMethodField(help_text="Decayed, weighted activity of the last 7 days.")

    class Meta(OfferSerializer.Meta):
        fields = [*OfferSerializer.Meta.fields, "trending_score"]
        read_only_fields = fields

    def get_trending_score(self, offer: Offer) -> float:
        return round(offer.trending_score, 3)


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
