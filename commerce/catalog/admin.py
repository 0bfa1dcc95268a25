"""Back office for the catalog. Thin: status changes and exports go through services; merchant staff are scoped
to their own merchants by :class:`~commerce.catalog.permissions.MerchantScopedAdminMixin`.

Every foreign key to a large table is an autocomplete widget, so no page loads every product or merchant.
Statuses are read-only in the forms and change only through the actions (which call the services).
"""

import csv
from collections.abc import Iterator

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from commerce.core.errors import Conflict

from . import services
from .models import (
    Category,
    Merchant,
    MerchantMembership,
    MerchantStatus,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
    SavedSearch,
)
from .permissions import MerchantScopedAdminMixin

CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell that spreadsheet programs will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_PREFIXES) else text


# Django 6 defaults scheme-less URLs to https; opt in now (and silence the transition warning).
URL_FIELD_OVERRIDES = {models.URLField: {"assume_scheme": "https"}}


class _Echo:
    def write(self, value: str) -> str:
        return value


class MerchantMembershipInline(admin.TabularInline):
    model = MerchantMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_scope_lookup = "pk"
    formfield_overrides = URL_FIELD_OVERRIDES
    list_display = ["name", "slug", "status", "default_cashback_rate", "commission_rate", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug", "website", "support_email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["status", "created_at", "updated_at"]
    inlines = [MerchantMembershipInline]
    actions = ["activate_merchants", "suspend_merchants"]

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Merchant], status: str) -> None:
        changed = 0
        for merchant in queryset:
            try:
                services.merchant_set_status(merchant=merchant, status=status)
                changed += 1
            except Conflict:
                continue
        self.message_user(request, f"{changed} merchant(s) now {status}.", messages.SUCCESS)

    @admin.action(description="Activate selected merchants", permissions=["change"])
    def activate_merchants(self, request, queryset):
        self._set_status(request, queryset, MerchantStatus.ACTIVE)

    @admin.action(description="Suspend selected merchants (hides their products)", permissions=["change"])
    def suspend_merchants(self, request, queryset):
        self._set_status(request, queryset, MerchantStatus.SUSPENDED)


@admin.register(MerchantMembership)
class MerchantMembershipAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "merchant", "created_at"]
    list_filter = [("merchant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__email", "user__full_name", "merchant__name"]
    autocomplete_fields = ["user", "merchant"]
    list_select_related = ["user", "merchant"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "position"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug"]
    autocomplete_fields = ["parent"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["parent"]
    ordering = ["parent__name", "position", "name"]


class ProductVariantInline(admin.TabularInline):
    model = ProductVariant
    extra = 0
    fields = ["sku", "options", "price", "compare_at_price", "currency", "stock_on_hand", "stock_allocated"]


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    formfield_overrides = URL_FIELD_OVERRIDES
    fields = ["image", "url", "alt_text", "position"]


@admin.register(Product)
class ProductAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_scope_lookup = "merchant"
    list_display = ["title", "merchant", "category", "brand", "status", "min_price", "in_stock", "updated_at"]
    list_filter = [
        "status",
        "in_stock",
        ("merchant", admin.RelatedOnlyFieldListFilter),
        ("category", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["title", "slug", "brand", "variants__sku"]
    autocomplete_fields = ["merchant", "category"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["status", "min_price", "currency", "in_stock", "popularity", "created_at", "updated_at"]
    fields = [
        "merchant",
        "category",
        "title",
        "slug",
        "brand",
        "description",
        "attributes",
        "status",
        "min_price",
        "currency",
        "in_stock",
        "popularity",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["merchant", "category"]
    list_per_page = 50
    inlines = [ProductVariantInline, ProductImageInline]
    actions = ["activate_products", "archive_products", "move_to_draft", "export_csv"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Inline variant saves already refresh the product; this catches deletions-only and bulk edits.
        services.product_refresh_denormalized(product=form.instance)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Product], status: str) -> None:
        changed = services.products_set_status(product_ids=queryset.values_list("pk", flat=True), status=status)
        self.message_user(request, f"{changed} product(s) now {status}.", messages.SUCCESS)

    @admin.action(description="Activate selected products", permissions=["change"])
    def activate_products(self, request, queryset):
        self._set_status(request, queryset, ProductStatus.ACTIVE)

    @admin.action(description="Archive selected products", permissions=["change"])
    def archive_products(self, request, queryset):
        self._set_status(request, queryset, ProductStatus.ARCHIVED)

    @admin.action(description="Move selected products to draft", permissions=["change"])
    def move_to_draft(self, request, queryset):
        self._set_status(request, queryset, ProductStatus.DRAFT)

    @admin.action(description="Export selected products as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        rows = (
            queryset.select_related("merchant", "category")
            .annotate(
                variant_count=Count("variants"),
                stock_on_hand_total=Sum("variants__stock_on_hand"),
                stock_allocated_total=Sum("variants__stock_allocated"),
            )
            .order_by("pk")
        )
        writer = csv.writer(_Echo())

        def lines() -> Iterator[str]:
            yield writer.writerow(
                [
                    "id",
                    "slug",
                    "title",
                    "merchant",
                    "category",
                    "brand",
                    "status",
                    "min_price",
                    "currency",
                    "in_stock",
                    "variants",
                    "stock_available",
                    "created_at",
                ]
            )
            for product in rows.iterator(chunk_size=500):
                available = (product.stock_on_hand_total or 0) - (product.stock_allocated_total or 0)
                yield writer.writerow(
                    [
                        product.pk,
                        csv_safe(product.slug),
                        csv_safe(product.title),
                        csv_safe(product.merchant.name),
                        csv_safe(product.category.name),
                        csv_safe(product.brand),
                        product.status,
                        product.min_price if product.min_price is not None else "",
                        product.currency,
                        "yes" if product.in_stock else "no",
                        product.variant_count,
                        available,
                        product.created_at.isoformat(),
                    ]
                )

        filename = f"products-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@admin.register(ProductVariant)
class ProductVariantAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    merchant_scope_lookup = "product__merchant"
    list_display = ["sku", "product", "price", "currency", "stock_on_hand", "stock_allocated"]
    list_filter = [("product__merchant", admin.RelatedOnlyFieldListFilter), "currency"]
    search_fields = ["sku", "product__title"]
    autocomplete_fields = ["product"]
    list_select_related = ["product"]


@admin.register(SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "created_at"]
    search_fields = ["name", "user__email"]
    autocomplete_fields = ["user"]
    list_select_related = ["user"]
    readonly_fields = ["created_at", "updated_at"]
