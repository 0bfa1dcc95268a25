"""Back office for offers.

Merchant staff see and change only their own merchants' offers, pick only their own products, and cannot
move an offer to another merchant (the merchant is read-only once the offer exists); catalog managers and
admins see everything. The scoping is the catalog's :class:`MerchantScopedAdminMixin`. Relations use
autocomplete widgets, so no page loads every product or category. Saving goes through ``offer_save`` and
the switch actions through ``offer_set_active``, like any other caller: the form only shows the model's and
the service's errors on their fields, and ``is_active`` of an existing offer is read-only (use the actions).
The affiliate link's state is read-only too ("Link": working, broken since when and where clicks go instead);
the actions "Mark link broken" / "Mark link working" call ``offer_link_mark`` (audited), and the periodic
link check sets it as well.
Redemptions, clicks and daily counts are read-only records: no add, change or delete for anyone, and their
pages show no Save buttons, no add button and no action checkboxes.

Lists show a fixed discount as money with its currency ("150.00 INR") and a percentage as "10 %".
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.decorators import display

from commerce.catalog.permissions import (
    MerchantScopedAdminMixin,
    register_merchant_scoped_model,
    user_is_merchant_scoped,
)
from commerce.core.admin_widgets import money_cell, percent_cell
from commerce.core.errors import DomainError

from .models import DiscountType, Offer, OfferClick, OfferDailyStats, OfferRedemption
from .services import offer_save, offer_set_active, offer_validate
from .services.links import offer_link_mark

register_merchant_scoped_model(Offer, "merchant")


class OfferAdminForm(forms.ModelForm):
    destination_url = forms.URLField(
        label="Destination URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=Offer._meta.get_field("destination_url").help_text,
    )
    fallback_url = forms.URLField(
        label="Fallback URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=Offer._meta.get_field("fallback_url").help_text,
    )

    class Meta:
        model = Offer
        fields = (
            "merchant",
            "title",
            "description",
            "kind",
            "code",
            "is_active",
            "is_listed",
            "discount_type",
            "discount_value",
            "max_discount",
            "min_order_amount",
            "currency",
            "applies_to",
            "categories",
            "products",
            "cashback_rate",
            "destination_url",
            "fallback_url",
            "starts_at",
            "ends_at",
            "usage_limit",
            "per_user_limit",
        )

    def _post_clean(self) -> None:
        """After the model form's own checks, run the service's (``offer_validate``: the whole row's
        constraints, e.g. a code clash, and the target rules) and show each new error on its field."""
        super()._post_clean()  # type: ignore[misc]  # the stubs omit this hook; it runs once the instance is built
        targets = {
            name: self.cleaned_data.get(name)
            for name in ("categories", "products")
            if name in self.fields and name not in self.errors
        }
        try:
            offer_validate(offer=self.instance, **targets)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                key = field if field in self.fields else None
                if key is not None and key in self.errors:
                    continue  # the form already says what is wrong with this field
                known = [str(message) for message in self.errors.get(key or NON_FIELD_ERRORS) or []]
                new = [message for message in messages if message not in known]
                if new:
                    self.add_error(key, new)


class LiveStatusFilter(admin.SimpleListFilter):
    title = "schedule"
    parameter_name = "schedule"

    def lookups(self, request, model_admin):
        return [("live", "Live now"), ("scheduled", "Not started"), ("ended", "Ended"), ("off", "Switched off")]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "live":
            return queryset.live(now)
        if value == "scheduled":
            return queryset.filter(is_active=True, starts_at__gt=now)
        if value == "ended":
            return queryset.filter(is_active=True, ends_at__lte=now)
        if value == "off":
            return queryset.filter(is_active=False)
        return queryset


class _ServiceSavingAdmin(ModelAdmin):
    """Saves the offer and its targets through ``offer_save`` (one transaction), not ``form.save_m2m``."""

    def save_model(self, request, obj, form, change):
        offer_save(
            offer=obj, categories=form.cleaned_data.get("categories"), products=form.cleaned_data.get("products")
        )

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(Offer)
class OfferAdmin(MerchantScopedAdminMixin, _ServiceSavingAdmin):
    form = OfferAdminForm
    merchant_scope_lookup = "merchant"
    # Nine columns that fit 1,366 px: the discount and the uses are one column each.
    list_display = ("title", "merchant", "kind", "code", "discount", "is_active", "starts_at", "ends_at", "uses")
    list_filter = (
        "kind",
        "is_active",
        "is_listed",
        LiveStatusFilter,
        "discount_type",
        "applies_to",
        ("merchant", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("merchant",)
    search_fields = ("title", "code", "merchant__name", "merchant__slug")
    autocomplete_fields = ("merchant", "categories", "products")
    readonly_fields = ("times_used", "link_status", "link_checked_at", "created_at", "updated_at")
    date_hierarchy = "starts_at"
    ordering = ("-starts_at", "-id")
    actions = ("switch_on", "switch_off", "mark_link_broken", "mark_link_working")
    fieldsets = (
        (None, {"fields": ("merchant", "title", "description", "kind", "code", "is_active", "is_listed")}),
        ("Discount", {"fields": ("discount_type", "discount_value", "max_discount", "min_order_amount", "currency")}),
        ("Applies to", {"fields": ("applies_to", "categories", "products")}),
        (
            "Cashback and destination",
            {"fields": ("cashback_rate", "destination_url", "fallback_url", "link_status", "link_checked_at")},
        ),
        ("Schedule and limits", {"fields": ("starts_at", "ends_at", "usage_limit", "per_user_limit", "times_used")}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    @display(description="Discount", ordering="discount_value")
    def discount(self, obj: Offer) -> str:
        if obj.discount_type == DiscountType.FIXED:
            return money_cell(obj.discount_value, obj.currency)
        return percent_cell(obj.discount_value)

    @display(description="Uses", ordering="times_used")
    def uses(self, obj: Offer) -> str:
        used = f"{obj.times_used} / {obj.usage_limit}" if obj.usage_limit is not None else str(obj.times_used)
        return format_html('<span class="whitespace-nowrap">{}</span>', used)

    @display(description="Link")
    def link_status(self, obj: Offer) -> str:
        if obj.link_broken_at is None:
            return "Working" if obj.link_checked_at is not None else "Not checked yet"
        when = timezone.localtime(obj.link_broken_at)
        goes_to = "the fallback URL" if obj.fallback_url else "the merchant's website"
        return f"Broken since {when:%Y-%m-%d %H:%M}: clicks go to {goes_to}"

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Switching an existing offer on or off goes through offer_set_active (the actions), which checks
            # the code under a lock; the form only sets it for a new offer.
            fields = ("is_active", *fields)
        if obj is not None and user_is_merchant_scoped(request.user):
            # Merchant staff cannot hand an offer over to another merchant, even one they also belong to.
            fields = ("merchant", *fields)
        return fields

    def _switch(self, request, queryset: QuerySet[Offer], active: bool) -> None:
        done = 0
        for offer in queryset:
            try:
                offer_set_active(offer=offer, active=active)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{offer}: {exc.detail}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} offer(s) switched {'on' if active else 'off'}.", messages.SUCCESS)

    @admin.action(description="Switch on (publish or resume)", permissions=["change"])
    def switch_on(self, request, queryset):
        self._switch(request, queryset, True)

    @admin.action(description="Switch off (pause)", permissions=["change"])
    def switch_off(self, request, queryset):
        self._switch(request, queryset, False)

    def _mark_link(self, request, queryset: QuerySet[Offer], broken: bool) -> None:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        for offer_id in ids:
            offer_link_mark(offer_id=offer_id, broken=broken, actor=request.user)
        state = "broken: clicks go to the fallback" if broken else "working"
        self.message_user(request, f"{len(ids)} offer link(s) marked {state}.", messages.SUCCESS)

    @admin.action(description="Mark link broken (clicks go to the fallback)", permissions=["change"])
    def mark_link_broken(self, request, queryset):
        self._mark_link(request, queryset, True)

    @admin.action(description="Mark link working", permissions=["change"])
    def mark_link_working(self, request, queryset):
        self._mark_link(request, queryset, False)


class _ReadOnlyOfferRecordAdmin(MerchantScopedAdminMixin, ModelAdmin):
    """Records written by the services only: viewable, never added, edited or deleted here (no bulk actions,
    so no "Delete selected" either), whatever the role or superuser status."""

    merchant_scope_lookup = "offer__merchant"
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OfferRedemption)
class OfferRedemptionAdmin(_ReadOnlyOfferRecordAdmin):
    list_select_related = ("offer", "offer__merchant", "user")
    list_display = ("offer", "order_reference", "user", "amount_with_currency", "status", "created_at", "released_at")
    list_filter = ("status", "created_at")
    search_fields = ("order_reference", "offer__code", "offer__title", "user__email")
    raw_id_fields = ("offer", "user")

    @display(description="Amount", ordering="amount")
    def amount_with_currency(self, obj: OfferRedemption) -> str:
        return money_cell(obj.amount, obj.currency)


@admin.register(OfferClick)
class OfferClickAdmin(_ReadOnlyOfferRecordAdmin):
    list_select_related = ("offer", "offer__merchant", "user")
    list_display = ("click_id", "offer", "user", "created_at")
    list_filter = ("created_at",)
    search_fields = ("=click_id", "offer__title", "offer__code", "user__email")
    raw_id_fields = ("offer", "user")


@admin.register(OfferDailyStats)
class OfferDailyStatsAdmin(_ReadOnlyOfferRecordAdmin):
    list_select_related = ("offer", "offer__merchant")
    list_display = ("offer", "date", "views", "clicks")
    list_filter = ("date",)
    search_fields = ("offer__title", "offer__code")
    raw_id_fields = ("offer",)
