"""Catalog API serializers: query-parameter validation and response shapes.

Every amount in a response is a money object, ``{"amount": "499.00", "currency": "INR"}`` (``MoneyField``); the
object carries the currency, so products and variants have no separate ``currency`` key. Amount filters in the
query string (``min_price``, ``max_price``) are plain decimals (``AmountQueryField``).
"""

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commerce.catalog import selectors
from commerce.catalog.models import Merchant, Product, ProductImage, ProductVariant, SavedSearch
from commerce.core.api.fields import AmountQueryField, MoneyField
from commerce.core.money import default_currency

MAX_QUERY_LENGTH = selectors.MAX_QUERY_LENGTH


def query_params_dict(query_params) -> dict[str, str]:
    """The last value of each query parameter, without empty ones (``?category=`` means no filter)."""
    return {key: value for key, value in query_params.items() if value != ""}


class ProductQuerySerializer(serializers.Serializer):
    """Filters and ordering of ``GET products`` and ``GET search``. Unknown *values* are a 400 with fields;
    unknown parameters are ignored."""

    q = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_QUERY_LENGTH, help_text="Words to search for."
    )
    category = serializers.SlugField(
        required=False, max_length=140, help_text="Category slug; includes its descendant categories."
    )
    merchant = serializers.SlugField(required=False, max_length=140, help_text="Merchant slug.")
    brand = serializers.CharField(required=False, max_length=100, help_text="Brand name (case-insensitive).")
    min_price = AmountQueryField(
        required=False, min_value=Decimal("0"), help_text="Lowest price, inclusive; a plain decimal such as 499.50."
    )
    max_price = AmountQueryField(
        required=False, min_value=Decimal("0"), help_text="Highest price, inclusive; a plain decimal such as 999."
    )
    in_stock = serializers.BooleanField(required=False, help_text="true: only products that can be bought now.")
    ordering = serializers.ChoiceField(
        required=False,
        choices=selectors.ORDERINGS,
        help_text="relevance (default with q), price, -price, newest (default without q), popular.",
    )

    def validate_category(self, value: str) -> str:
        if not selectors.category_exists(value):
            raise serializers.ValidationError(f"Unknown category {value!r}.")
        return value

    def validate_merchant(self, value: str) -> str:
        if not selectors.public_merchant_exists(value):
            raise serializers.ValidationError(f"Unknown merchant {value!r}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": ["Must not be greater than max_price."]})
        return attrs

    def to_filters(self) -> selectors.ProductFilters:
        data = self.validated_data
        return selectors.ProductFilters(
            q=data.get("q", ""),
            category=data.get("category"),
            merchant=data.get("merchant"),
            brand=data.get("brand"),
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            in_stock=data.get("in_stock"),
            ordering=data.get("ordering"),
        )


class AutocompleteQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH, help_text="What the shopper has typed so far.")


class CategoryNodeSerializer(serializers.Serializer):
    """One node of the category tree (documentation only: the tree is served from the cache as is)."""

    slug = serializers.SlugField()
    name = serializers.CharField()
    position = serializers.IntegerField()
    children = serializers.ListField(child=serializers.DictField(), help_text="Nodes of the same shape.")


class MerchantSerializer(serializers.ModelSerializer):
    product_count = serializers.IntegerField(read_only=True, help_text="Active products of the merchant.")
    logo = serializers.SerializerMethodField()

    class Meta:
        model = Merchant
        fields = ["slug", "name", "website", "support_email", "default_cashback_rate", "logo", "product_count"]

    def get_logo(self, obj: Merchant) -> str | None:
        return obj.logo.url if obj.logo else None


class MerchantRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Merchant
        fields = ["slug", "name"]


class CategoryRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class ProductImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["url", "alt_text"]

    def get_url(self, obj: ProductImage) -> str:
        return obj.image.url if obj.image else obj.url


class ProductVariantSerializer(serializers.ModelSerializer):
    price = MoneyField()
    compare_at_price = MoneyField(allow_null=True, help_text="The crossed-out former price, if any.")
    stock_available = serializers.IntegerField(read_only=True, help_text="On hand minus allocated.")
    in_stock = serializers.SerializerMethodField()

    class Meta:
        model = ProductVariant
        fields = ["sku", "options", "price", "compare_at_price", "stock_available", "in_stock"]

    def get_in_stock(self, obj: ProductVariant) -> bool:
        return obj.stock_available > 0


class ProductListSerializer(serializers.ModelSerializer):
    merchant = MerchantRefSerializer(read_only=True)
    category = CategoryRefSerializer(read_only=True)
    min_price = MoneyField(allow_null=True, help_text="Lowest variant price; null while there are no variants.")
    image = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = [
            "slug",
            "title",
            "brand",
            "merchant",
            "category",
            "min_price",
            "in_stock",
            "image",
            "created_at",
        ]

    @extend_schema_field(ProductImageSerializer(allow_null=True))
    def get_image(self, obj: Product) -> dict[str, Any] | None:
        first = next(iter(obj.images.all()), None)
        return ProductImageSerializer(first).data if first is not None else None


class ProductDetailSerializer(ProductListSerializer):
    variants = ProductVariantSerializer(many=True, read_only=True)
    images = ProductImageSerializer(many=True, read_only=True)
    stock_available = serializers.SerializerMethodField()

    class Meta(ProductListSerializer.Meta):
        fields = [
            *ProductListSerializer.Meta.fields,
            "description",
            "attributes",
            "images",
            "variants",
            "stock_available",
            "updated_at",
        ]

    def get_stock_available(self, obj: Product) -> int:
        return sum(max(variant.stock_available, 0) for variant in obj.variants.all())


class FacetRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    count = serializers.IntegerField()


class CategoryFacetSerializer(FacetRefSerializer):
    # The stubs see Field.parent (the enclosing serializer); DRF's metaclass moves declared fields off the class.
    parent = serializers.SlugField(allow_null=True)  # type: ignore[assignment]


class BrandFacetSerializer(serializers.Serializer):
    value = serializers.CharField()
    count = serializers.IntegerField()


class PriceFacetSerializer(serializers.Serializer):
    """A price band. The bands are fixed amounts in the platform's default currency (``DEFAULT_CURRENCY``)."""

    key = serializers.CharField()
    min = MoneyField(currency=default_currency, help_text="Lower bound, inclusive.")
    max = MoneyField(currency=default_currency, allow_null=True, help_text="Upper bound, exclusive; null: no bound.")
    count = serializers.IntegerField()


class StockFacetSerializer(serializers.Serializer):
    true = serializers.IntegerField()
    false = serializers.IntegerField()


class FacetsSerializer(serializers.Serializer):
    category = CategoryFacetSerializer(many=True, help_text="Counts include descendant categories.")
    merchant = FacetRefSerializer(many=True)
    brand = BrandFacetSerializer(many=True)
    price = PriceFacetSerializer(many=True, help_text="Bands on the lowest variant price; max is exclusive.")
    in_stock = StockFacetSerializer()


class SearchResponseSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ProductListSerializer(many=True)
    facets = FacetsSerializer()
    did_you_mean = serializers.CharField(
        allow_null=True,
        help_text="When nothing matched: the query with its unknown words replaced by the closest catalog words "
        "(lower case), if any are close enough; otherwise null.",
    )


class AutocompleteProductSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()


class AutocompleteResponseSerializer(serializers.Serializer):
    products = AutocompleteProductSerializer(many=True)
    categories = CategoryRefSerializer(many=True)
    merchants = CategoryRefSerializer(many=True)


class SavedSearchParamsSerializer(ProductQuerySerializer):
    """The parameters of a saved search: those of ``GET search``. Unknown keys are refused here."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown search parameter."] for key in unknown})
        return super().to_internal_value(data)


class SavedSearchSerializer(serializers.ModelSerializer):
    params = SavedSearchParamsSerializer(required=False)
    query_string = serializers.SerializerMethodField(help_text="The saved parameters, ready for GET search?...")

    class Meta:
        model = SavedSearch
        fields = ["id", "name", "params", "query_string", "created_at"]
        read_only_fields = ["id", "query_string", "created_at"]

    def get_query_string(self, obj: SavedSearch) -> str:
        return urlencode(
            {key: str(value).lower() if isinstance(value, bool) else value for key, value in obj.params.items()}
        )

    def to_representation(self, instance: SavedSearch) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["params"] = dict(instance.params)
        return data


def params_to_json(params: dict[str, Any]) -> dict[str, Any]:
    """Validated search parameters as JSON-safe values (Decimal amounts as strings), without empty ones."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or value == "":
            continue
        out[key] = f"{value:.2f}" if isinstance(value, Decimal) else value
    return out
