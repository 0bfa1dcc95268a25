"""``GET products/{slug}/recommendations``: "frequently bought together" and "similar" product cards.

Public like ``GET products/{slug}`` (anonymous, no authentication attempted, ETag and ``Cache-Control: public``).
The cards have exactly the shape of the product list (the catalog's ``ProductListSerializer``), so a client
renders them with the same code. What goes into each list, and the caching, are in
:mod:`commerce.orders.recommendations`.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from commerce.catalog.api.conditional import PublicCacheMixin, cached_response
from commerce.catalog.api.serializers import ProductListSerializer, query_params_dict
from commerce.core.api.query import QueryIntegerField
from commerce.orders.recommendations import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    RECOMMENDATIONS_TTL,
    product_recommendations,
    recommendations_cache_key,
)


class RecommendationsQuerySerializer(serializers.Serializer):
    limit = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"Most products in each list, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
    )


class RecommendationsSerializer(serializers.Serializer):
    frequently_bought_together = ProductListSerializer(
        many=True, help_text="Bought in the same paid orders as this product, most often first."
    )
    similar = ProductListSerializer(
        many=True,
        help_text="Same category and brand first, then similar titles, then the category's popular products; "
        "never one already in frequently_bought_together.",
    )


def recommendations_payload(*, slug: str, limit: int) -> dict[str, Any]:
    recommendations = product_recommendations(slug=slug, limit=limit)
    return {
        "frequently_bought_together": ProductListSerializer(recommendations.frequently_bought_together, many=True).data,
        "similar": ProductListSerializer(recommendations.similar, many=True).data,
    }


class ProductRecommendationsView(PublicCacheMixin, generics.GenericAPIView):
    """Recommendations for a public product; only public, in-stock products, never the product itself."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    filter_backends: list = []
    pagination_class = None
    http_method_names = ["get", "head", "options"]
    serializer_class = RecommendationsSerializer

    @extend_schema(parameters=[RecommendationsQuerySerializer], responses=RecommendationsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        query = RecommendationsQuerySerializer(data=query_params_dict(request.query_params))
        query.is_valid(raise_exception=True)
        limit = query.validated_data.get("limit", DEFAULT_LIMIT)
        return cached_response(
            recommendations_cache_key(slug=slug, limit=limit),
            lambda: recommendations_payload(slug=slug, limit=limit),
            timeout=RECOMMENDATIONS_TTL,
        )
