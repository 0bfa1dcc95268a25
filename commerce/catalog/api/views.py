"""Catalog API: categories, merchants, products, search with facets, autocomplete, saved searches.

Public views are anonymous (no authentication is attempted, so a stale token cannot break browsing), GET only,
and carry ETag/Cache-Control. Reads go through ``selectors``; writes through ``services``.
"""

from typing import cast

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import signed_in
from commerce.catalog import selectors, services
from commerce.catalog.cache import PRODUCT_DETAIL_TTL, product_detail_key
from commerce.catalog.models import SavedSearch

from .conditional import CachedListingMixin, PublicCacheMixin, cached_response
from .pagination import KnownCountPagination
from .serializers import (
    AutocompleteQuerySerializer,
    AutocompleteResponseSerializer,
    CategoryNodeSerializer,
    FacetsSerializer,
    MerchantSerializer,
    ProductDetailSerializer,
    ProductListSerializer,
    ProductQuerySerializer,
    SavedSearchSerializer,
    SearchResponseSerializer,
    params_to_json,
    query_params_dict,
)


class PublicCatalogView(CachedListingMixin, PublicCacheMixin, generics.GenericAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    filter_backends: list = []
    http_method_names = ["get", "head", "options"]

    def query_filters(self, request: Request) -> selectors.ProductFilters:
        serializer = ProductQuerySerializer(data=query_params_dict(request.query_params))
        serializer.is_valid(raise_exception=True)
        return serializer.to_filters()


class CategoryTreeView(PublicCatalogView):
    """The whole category tree, nested, from the cache."""

    serializer_class = CategoryNodeSerializer
    pagination_class = None

    @extend_schema(responses=CategoryNodeSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(selectors.category_tree())


class MerchantListView(PublicCatalogView, generics.ListAPIView):
    serializer_class = MerchantSerializer

    def get_queryset(self):
        return selectors.merchant_list()

    def get(self, request: Request, *args, **kwargs) -> Response:
        return self.cached_listing(request, lambda: self.list(request, *args, **kwargs).data)


class MerchantDetailView(PublicCatalogView):
    serializer_class = MerchantSerializer

    def get(self, request: Request, slug: str) -> Response:
        return Response(MerchantSerializer(selectors.merchant_detail(slug=slug)).data)


class ProductListView(PublicCatalogView, generics.ListAPIView):
    """Public products, filtered and ordered; a page costs the same queries for 1 or 100 items."""

    serializer_class = ProductListSerializer

    def get_queryset(self):
        return selectors.product_list(filters=self.query_filters(self.request))

    @extend_schema(parameters=[ProductQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return self.cached_listing(request, lambda: self.list(request, *args, **kwargs).data)


class ProductDetailView(PublicCatalogView):
    """One public product with its variants and available stock (cached until the product changes)."""

    serializer_class = ProductDetailSerializer

    def get(self, request: Request, slug: str) -> Response:
        return cached_response(
            product_detail_key(slug),
            lambda: ProductDetailSerializer(selectors.product_detail(slug=slug)).data,
            timeout=PRODUCT_DETAIL_TTL,
        )


class SearchView(PublicCatalogView):
    """Ranked full-text search with facets; each facet honours every active filter but its own. A search that
    finds nothing answers ``did_you_mean``: the query with its unknown words corrected, or null."""

    serializer_class = ProductListSerializer
    pagination_class = KnownCountPagination

    @extend_schema(
        parameters=[
            ProductQuerySerializer,
            OpenApiParameter("page", int, description="Page number, from 1."),
            OpenApiParameter("page_size", int, description="Results per page, 1 to 100 (default 20)."),
        ],
        responses=SearchResponseSerializer,
    )
    def get(self, request: Request) -> Response:
        return self.cached_listing(request, lambda: self.search(request))

    def search(self, request: Request) -> dict:
        filters = self.query_filters(request)
        summary = selectors.product_search_facets(filters=filters)
        paginator = cast(KnownCountPagination, self.paginator)  # pagination_class above
        page = paginator.paginate_queryset_with_count(
            selectors.product_list(filters=filters), request, count=summary["total"], view=self
        )
        data = paginator.get_paginated_response(ProductListSerializer(page, many=True).data).data
        data["facets"] = FacetsSerializer(summary["facets"]).data  # renders the price bands' money objects
        # Only a search that found nothing pays for a suggestion (the listing cache keeps it with the response).
        data["did_you_mean"] = selectors.search_did_you_mean(q=filters.q) if summary["total"] == 0 else None
        return data


class AutocompleteView(PublicCatalogView):
    """A few products, categories and merchants matching what the shopper is typing."""

    serializer_class = AutocompleteResponseSerializer
    pagination_class = None

    @extend_schema(parameters=[AutocompleteQuerySerializer], responses=AutocompleteResponseSerializer)
    def get(self, request: Request) -> Response:
        serializer = AutocompleteQuerySerializer(data=query_params_dict(request.query_params))
        serializer.is_valid(raise_exception=True)
        return self.cached_listing(request, lambda: selectors.autocomplete(q=serializer.validated_data["q"]))


class SavedSearchListView(generics.ListCreateAPIView):
    """The signed-in user's saved searches; POST saves one (name + the parameters of GET search)."""

    error_responses = {"post": {409: "duplicate_name, or saved_search_limit reached"}}
    serializer_class = SavedSearchSerializer
    permission_classes = [IsAuthenticated]
    filter_backends: list = []

    def get_queryset(self):
        return SavedSearch.objects.filter(user=signed_in(self.request)).order_by("-created_at", "-id")

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = services.saved_search_create(
            user=signed_in(request),
            name=serializer.validated_data["name"],
            params=params_to_json(serializer.validated_data.get("params", {})),
        )
        return Response(self.get_serializer(saved).data, status=status.HTTP_201_CREATED)


class SavedSearchDetailView(generics.GenericAPIView):
    serializer_class = SavedSearchSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return SavedSearch.objects.filter(user=signed_in(self.request))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.saved_search_delete(user=signed_in(request), saved_search_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
