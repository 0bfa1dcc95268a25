"""Back office for the catalog. Thin: status changes and exports go through services; merchant staff are scoped
to their own merchants by :class:`~commerce.catalog.permissions.MerchantScopedAdminMixin`.

Every foreign key to a large table is an autocomplete widget, so no page loads every product or merchant.
Statuses are read-only in the forms and change only through the actions (which call the services).

Saves and deletions go through the catalog services (``ServiceModelAdmin``), which refresh the denormalised
product columns and drop cached payloads; there are no model signals to do it behind the admin's back.

Stock is read-only everywhere here: ``stock_allocated`` changes only with orders (``variant_stock_*``), and the
stock on hand through the "Set stock on hand" fields of a variant's change page, which call
``variant_stock_set_on_hand`` (audited, never below the allocated units). A new variant's "Initial stock" is set
through the same service after the variant is created.

Editing: a variant's ``options`` and a product's ``attributes`` are edited as key/value rows
(:class:`~commerce.core.admin_widgets.KeyValueField`), stored as the same JSON object of text as before. Lists
show money with its currency code, a thumbnail of each product's first image, and few enough columns to fit a
1,366 px screen; the list's first-image columns are subqueries of the page's one query (no query per row).
"""

import csv
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display
from unfold.views import ChangeList
from unfold.widgets import UnfoldAdminIntegerFieldWidget, UnfoldAdminTextInputWidget

from commerce.core.admin_widgets import KeyValueField, money_cell, thumbnail
from commerce.core.errors import Conflict, DomainError

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
URL_FIELD_OVERRIDES: dict[type[models.Field], dict[str, Any]] = {models.URLField: {"assume_scheme": "https"}}


class _Echo:
    def write(self, value: str) -> str:
        return value


class ServiceModelAdmin(ModelAdmin):
    """Saves and deletes through a catalog service instead of ``Model.save()``/``delete()``.

    Placed after :class:`MerchantScopedAdminMixin` in the bases, so the mixin's scope check runs first.
    """

    def save_through_service(self, request: HttpRequest, obj, form, change: bool) -> None:
        raise NotImplementedError

    def delete_through_service(self, request: HttpRequest, ids: list[int]) -> None:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        self.save_through_service(request, obj, form, change)

    def delete_model(self, request, obj):
        self.delete_through_service(request, [obj.pk])

    def delete_queryset(self, request, queryset):
        self.delete_through_service(request, list(queryset.values_list("pk", flat=True)))


class MerchantMembershipInline(TabularInline):
    model = MerchantMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdminMixin, ServiceModelAdmin):
    merchant_scope_lookup = "pk"
    formfield_overrides = URL_FIELD_OVERRIDES
    list_display = ["name", "slug", "status", "default_cashback_rate", "commission_rate", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug", "website", "support_email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["status", "created_at", "updated_at"]
    inlines = [MerchantMembershipInline]
    actions = ["activate_merchants", "suspend_merchants"]

    def save_through_service(self, request, obj, form, change):
        services.merchant_save(merchant=obj)

    def delete_through_service(self, request, ids):
        services.merchants_delete(merchant_ids=ids)

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
class MerchantMembershipAdmin(MerchantScopedAdminMixin, ModelAdmin):
    list_display = ["user", "merchant", "created_at"]
    list_filter = [("merchant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__email", "user__full_name", "merchant__name"]
    autocomplete_fields = ["user", "merchant"]
    list_select_related = ["user", "merchant"]


@admin.register(Category)
class CategoryAdmin(ServiceModelAdmin):
    list_display = ["name", "slug", "parent", "position"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug"]
    autocomplete_fields = ["parent"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["parent"]
    ordering = ["parent__name", "position", "name"]

    def save_through_service(self, request, obj, form, change):
        services.category_save(category=obj)

    def delete_through_service(self, request, ids):
        services.categories_delete(category_ids=ids)


def options_field(extra_rows: int = 3) -> KeyValueField:
    return KeyValueField(
        label="Options", help_text="One option per row, e.g. size: M. Leave blank rows empty.", extra_rows=extra_rows
    )


class VariantAddForm(forms.ModelForm):
    """A new variant: its stock on hand is not a model field here; the service sets it, audited."""

    options = options_field()

    # Declared fields get the theme's widgets here (the admin themes only the fields it builds from the model).
    initial_stock = forms.IntegerField(
        min_value=0,
        max_value=services.MAX_STOCK,
        initial=0,
        required=False,
        help_text="Units on hand to start with.",
        widget=UnfoldAdminIntegerFieldWidget,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:  # an existing row of the inline: stock changes on its own page
            self.fields["initial_stock"].disabled = True
            self.fields["initial_stock"].help_text = "Change the stock on the variant's own page."


class VariantChangeForm(forms.ModelForm):
    """An existing variant: an optional new stock on hand with a reason, applied by the stock service."""

    options = options_field()

    set_stock_on_hand = forms.IntegerField(
        label="Set stock on hand",
        min_value=0,
        max_value=services.MAX_STOCK,
        required=False,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text="Leave empty to keep the stock. Never below the allocated units. Recorded in the audit log.",
    )
    stock_reason = forms.CharField(
        label="Reason for the stock change",
        max_length=200,
        required=False,
        help_text="e.g. delivery, recount",
        widget=UnfoldAdminTextInputWidget,
    )

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        on_hand = cleaned.get("set_stock_on_hand")
        if on_hand is None:
            return cleaned
        if not (cleaned.get("stock_reason") or "").strip():
            self.add_error("stock_reason", "Give a reason for the stock change.")
        if on_hand < self.instance.stock_allocated:
            self.add_error(
                "set_stock_on_hand", f"{self.instance.stock_allocated} units are allocated; it cannot go below that."
            )
        return cleaned


def _save_variant(request: HttpRequest, form: forms.ModelForm) -> None:
    """Save one variant form through the services (price and details, then a requested stock change)."""
    adding = form.instance._state.adding
    services.variant_save(
        variant=form.instance,
        initial_stock=(form.cleaned_data.get("initial_stock") or 0) if adding else 0,
        actor=request.user,
    )
    on_hand = None if adding else form.cleaned_data.get("set_stock_on_hand")
    if on_hand is None:
        return
    try:
        services.variant_stock_set_on_hand(
            variant_id=form.instance.pk, on_hand=on_hand, reason=form.cleaned_data["stock_reason"], actor=request.user
        )
    except DomainError as exc:  # allocated in the meantime: keep the other changes, say why the stock was not
        messages.error(request, f"The stock of {form.instance.sku} was not changed: {exc.detail}")


class VariantInlineForm(VariantAddForm):
    """A variant row of the product page: short labels, so the row fits a 1,366 px screen, and one blank option
    row (each row is two more posted fields, and Django refuses a form of over ``DATA_UPLOAD_MAX_NUMBER_FIELDS``:
    a product with many variants must stay savable; "Save and continue editing" brings a new blank row)."""

    options = options_field(extra_rows=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["compare_at_price"].label = "Compare at"
        self.fields["initial_stock"].label = "Initial"
        self.fields["initial_stock"].help_text = "Units on hand to start with (new variants only)."


class ProductVariantInline(TabularInline):
    """The product's variants as a table: stock figures read-only (a variant's own page changes its stock
    through the audited service; a new row's "Initial" stock is set by the same service)."""

    model = ProductVariant
    form = VariantInlineForm
    extra = 0
    show_change_link = True
    fields = ["sku", "options", "price", "compare_at_price", "currency", "on_hand", "allocated", "initial_stock"]
    readonly_fields = ["on_hand", "allocated"]
    # The theme's inputs shrink to their column; these keep a SKU and a price such as 12499.00 readable.
    wide_fields = {"sku", "price"}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and db_field.name in self.wide_fields:
            formfield.widget.attrs["class"] = f"{formfield.widget.attrs.get('class', '')} min-w-32".strip()
        return formfield

    @display(description="On hand")
    def on_hand(self, obj: ProductVariant) -> int | str:
        return obj.stock_on_hand if obj.pk else "-"

    @display(description="Allocated")
    def allocated(self, obj: ProductVariant) -> int | str:
        return obj.stock_allocated if obj.pk else "-"


class ProductImageInline(TabularInline):
    model = ProductImage
    extra = 0
    formfield_overrides = URL_FIELD_OVERRIDES
    fields = ["preview", "image", "url", "alt_text", "position"]
    readonly_fields = ["preview"]

    @display(description="Preview")
    def preview(self, obj: ProductImage) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return thumbnail(image_source(obj.image.name, obj.url), obj.alt_text or str(obj.product))


def image_source(file_name: str | None, url: str | None) -> str:
    """The address of a product image: the stored file's URL, else the external URL."""
    if file_name:
        return ProductImage._meta.get_field("image").storage.url(file_name)
    return url or ""


class ProductAdminForm(forms.ModelForm):
    attributes = KeyValueField(label="Attributes", help_text="One attribute per row, e.g. material: steel.")


TITLE_CHARS = 48


def with_first_image(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """Each product's first image (file, URL, alt text) as three correlated subqueries of the one query."""
    first_image = ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id")
    return queryset.annotate(
        first_image_file=Subquery(first_image.values("image")[:1]),
        first_image_url=Subquery(first_image.values("url")[:1]),
        first_image_alt=Subquery(first_image.values("alt_text")[:1]),
    )


class ProductChangeList(ChangeList):
    """The product list: only the displayed rows carry their first image; the querysets that actions and the
    CSV export receive (``get_queryset``) stay plain."""

    queryset: QuerySet[Product]

    def get_results(self, request):
        self.queryset = with_first_image(self.queryset)
        super().get_results(request)


@admin.register(Product)
class ProductAdmin(MerchantScopedAdminMixin, ServiceModelAdmin):
    merchant_scope_lookup = "merchant"
    form = ProductAdminForm
    # Brand and category are filters and search terms; the list keeps what staff scan, within 1,366 px.
    list_display = ["image_thumbnail", "short_title", "merchant", "status", "price", "in_stock", "updated_at"]
    list_display_links = ["image_thumbnail", "short_title"]
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

    def get_changelist(self, request, **kwargs):
        return ProductChangeList

    @display(description="Image")
    def image_thumbnail(self, obj: Product) -> str:
        source = image_source(getattr(obj, "first_image_file", None), getattr(obj, "first_image_url", None))
        return thumbnail(source, getattr(obj, "first_image_alt", None) or obj.title)

    @display(description="Title", ordering="title")
    def short_title(self, obj: Product) -> str:
        return format_html('<span title="{}">{}</span>', obj.title, Truncator(obj.title).chars(TITLE_CHARS))

    @display(description="Price from", ordering="min_price")
    def price(self, obj: Product) -> str:
        return money_cell(obj.min_price, obj.currency)

    def save_through_service(self, request, obj, form, change):
        services.product_save(product=obj)

    def delete_through_service(self, request, ids):
        services.products_delete(product_ids=ids)

    def save_related(self, request, form, formsets, change):
        # All inline variants and images in one batch: the product is refreshed once, at the end.
        with services.denormalization_batch():
            super().save_related(request, form, formsets, change)

    def save_formset(self, request, form, formset, change):
        if formset.model not in (ProductVariant, ProductImage):
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)
        saved = {id(obj) for obj in formset.new_objects} | {id(obj) for obj, _ in formset.changed_objects}
        deleted = [obj.pk for obj in formset.deleted_objects]
        if formset.model is ProductVariant:
            if deleted:
                services.variants_delete(variant_ids=deleted)
            for inline_form in formset.forms:
                if id(inline_form.instance) in saved:
                    _save_variant(request, inline_form)
        else:
            if deleted:
                services.product_images_delete(image_ids=deleted)
            for inline_form in formset.forms:
                if id(inline_form.instance) in saved:
                    services.product_image_save(image=inline_form.instance)

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
class ProductVariantAdmin(MerchantScopedAdminMixin, ServiceModelAdmin):
    merchant_scope_lookup = "product__merchant"
    list_display = ["sku", "product", "price_with_currency", "stock_on_hand", "stock_allocated"]
    list_filter = [("product__merchant", admin.RelatedOnlyFieldListFilter), "currency"]
    search_fields = ["sku", "product__title"]
    autocomplete_fields = ["product"]
    list_select_related = ["product"]
    detail_fields = ["product", "sku", "options", "price", "compare_at_price", "currency"]

    @display(description="Price", ordering="price")
    def price_with_currency(self, obj: ProductVariant) -> str:
        return money_cell(obj.price, obj.currency)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*self.detail_fields, "initial_stock"]
        return [*self.detail_fields, "stock_on_hand", "stock_allocated", "set_stock_on_hand", "stock_reason"]

    def get_readonly_fields(self, request, obj=None):
        return ["stock_on_hand", "stock_allocated"] if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = VariantChangeForm if obj is not None else VariantAddForm
        return super().get_form(request, obj, change, **kwargs)

    def save_through_service(self, request, obj, form, change):
        _save_variant(request, form)

    def delete_through_service(self, request, ids):
        services.variants_delete(variant_ids=ids)


@admin.register(SavedSearch)
class SavedSearchAdmin(ModelAdmin):
    list_display = ["name", "user", "created_at"]
    search_fields = ["name", "user__email"]
    autocomplete_fields = ["user"]
    list_select_related = ["user"]
    readonly_fields = ["created_at", "updated_at"]
