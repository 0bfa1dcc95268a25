"""Back office for loyalty: the programme's settings, earning rules, campaigns, tiers, rewards and achievements
(configuration, editable), and the members with their ledger, tier history, holds, redemptions and achievements
(records, read-only), with manual points adjustments.

Configuration
    *Programme settings* is one row: the list opens its form (no add, no delete); every save is audited as
    ``loyalty.programme_changed`` with the fields before and after. *Earning rules*, *campaigns*, *tiers*,
    *rewards* and *achievements* are edited as settings; each save is audited as ``loyalty.<model>_saved`` with the
    changed fields. A reward's ``redeemed_count`` is read-only (the redemption service counts); rewards and tiers
    are never deleted here (redemptions, accounts and history point at them): switch a reward off instead.

Members
    *Members* are points accounts, read-only: balances, tier, referral code and who referred them, with the ledger
    inline (newest first, paginated, and a link to the whole ledger as a list), open lots with their expiry, tier
    history, checkout holds, reward redemptions and achievements earned. "Adjust points…" (the page's button) asks
    for signed points and a reason (the member sees it in their history) and calls
    :func:`~loyalty.services.ledger.points_adjust` (audited there as ``loyalty.points_adjusted``); the form carries
    a one-time key, so submitting it twice adjusts once (the second is refused with a message).

Records
    Points entries, tier changes, holds, redemptions, achievements earned and referrals (with their status and the
    reason of a refusal) are lists to read: nobody adds, changes or deletes them through a form (the append-only
    tables have only a view permission, and the database refuses changes too).

Who may do what (permissions granted per role in ``migrations/0006_role_permissions.py``)
    * admin: everything here, including ``loyalty.adjust_points`` (the adjustment form).
    * support: views members (with everything inline), the ledger, tier changes, holds, redemptions, achievements
      earned and referrals, and the tiers, rewards and achievements offered; adjusts points only when an admin gave
      them ``loyalty.adjust_points`` (not granted to the role by default).
    * finance: views everything here; changes nothing.
    * catalog managers and merchant staff: nothing (rewards are the programme's, bought with the platform's
      points, even when the coupon is for one merchant).
"""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin
from unfold.decorators import action as unfold_action
from unfold.decorators import display

from accounts.models import User
from accounts.services.audit import audit_record
from commerce.core.admin_records import ReadOnlyAdminMixin, ReadOnlyInline
from commerce.core.admin_widgets import money_text
from commerce.core.errors import DomainError
from commerce.core.money import default_currency

from .admin_forms import PointsAdjustmentForm, RewardForm
from .models import (
    Achievement,
    AchievementAward,
    Campaign,
    EarningRule,
    EarningRuleKind,
    HoldStatus,
    PointsAccount,
    PointsEntry,
    PointsEntryKind,
    PointsHold,
    PointsLot,
    Programme,
    Referral,
    ReferralStatus,
    Reward,
    RewardRedemption,
    Tier,
    TierChange,
)

ACTION_FORM = "admin/service_action_form.html"
ADJUST_PERMISSION = "loyalty.adjust_points"

HOLD_LABELS = {HoldStatus.HELD: "warning", HoldStatus.SPENT: "success", HoldStatus.RELEASED: "info"}
REFERRAL_LABELS = {
    ReferralStatus.PENDING: "warning",
    ReferralStatus.REWARDED: "success",
    ReferralStatus.REFUSED: "danger",
}


def _actor(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # the admin lets only signed-in staff in
        raise Http404("Not signed in.")
    return user


def _member(user: User) -> str:
    return user.email or user.phone or f"#{user.pk}"


def _points(value: int) -> str:
    return f"{value:+,d}" if value else "0"


def _snapshot(obj: Any, fields: list[str]) -> dict[str, str]:
    return {field: str(getattr(obj, field)) for field in fields}


class _AuditedSettingsAdmin(ModelAdmin):
    """Configuration edited as settings: every save is audited (``loyalty.<model>_saved``) with the changed
    fields before and after."""

    audit_action = ""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = [name for name in form.changed_data if name in {f.name for f in obj._meta.concrete_fields}]
        before = _snapshot(type(obj).objects.get(pk=obj.pk), fields) if change else None
        super().save_model(request, obj, form, change)
        audit_record(
            action=self.audit_action or f"loyalty.{obj._meta.model_name}_saved",
            target=obj,
            actor=_actor(request),
            before=before,
            after=_snapshot(obj, fields),
            request=request,
        )


# --- the programme's settings ----------------------------------------------------------------------------------

_PROGRAMME_FIELDS = [
    "point_value",
    "max_redeem_percent",
    "min_redeem_points",
    "expiry_months",
    "expiry_reminder_days",
    "referral_referrer_points",
    "referral_referee_points",
    "tier_window_months",
    "tier_downgrade_grace_days",
    "leaderboard_size",
]


@admin.register(Programme)
class ProgrammeAdmin(_AuditedSettingsAdmin):
    """The one settings row: the list is its form."""

    audit_action = "loyalty.programme_changed"
    fieldsets = [
        ("Redeeming at checkout", {"fields": ["point_value", "max_redeem_percent", "min_redeem_points"]}),
        ("Expiry", {"fields": ["expiry_months", "expiry_reminder_days"]}),
        ("Referrals", {"fields": ["referral_referrer_points", "referral_referee_points"]}),
        ("Tiers", {"fields": ["tier_window_months", "tier_downgrade_grace_days"]}),
        ("Leaderboard", {"fields": ["leaderboard_size", "updated_at"]}),
    ]
    readonly_fields = ["updated_at"]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row, created from the settings on first use

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        from .services.programme import programme_get

        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect(reverse("admin:loyalty_programme_change", args=[programme_get().pk]))

    def save_model(self, request: HttpRequest, obj: Programme, form: Any, change: bool) -> None:
        # Every field before and after, not only the changed ones: the programme is read as a whole.
        before = _snapshot(Programme.objects.get(pk=obj.pk), _PROGRAMME_FIELDS)
        ModelAdmin.save_model(self, request, obj, form, change)
        audit_record(
            action=self.audit_action,
            target=obj,
            actor=_actor(request),
            before=before,
            after=_snapshot(obj, _PROGRAMME_FIELDS),
            request=request,
        )


# --- earning rules, campaigns, tiers, rewards, achievements ---------------------------------------------------


@admin.register(EarningRule)
class EarningRuleAdmin(_AuditedSettingsAdmin):
    list_display = ["name", "code", "kind", "earns", "merchant", "category", "is_active"]
    list_filter = ["kind", "is_active", "event"]
    search_fields = ["name", "code"]
    list_select_related = ["merchant", "category"]
    autocomplete_fields = ["merchant", "category"]
    fieldsets = [
        (None, {"fields": ["name", "code", "kind", "is_active"]}),
        (
            "Points per amount spent",
            {"fields": ["points_per_unit", "unit_amount", "merchant", "category"]},
        ),
        ("Fixed points for an event", {"fields": ["event", "fixed_points"]}),
    ]

    @display(description="Earns")
    def earns(self, obj: EarningRule) -> str:
        if obj.kind == EarningRuleKind.SPEND:
            return f"{obj.points_per_unit.normalize():f} per {money_text(obj.unit_amount, default_currency())}"
        return f"{obj.fixed_points} once ({obj.get_event_display().lower()})"


@admin.register(Campaign)
class CampaignAdmin(_AuditedSettingsAdmin):
    list_display = ["name", "multiplier", "merchant", "category", "starts_at", "ends_at", "is_active"]
    list_filter = ["is_active", ("starts_at", admin.DateFieldListFilter)]
    search_fields = ["name"]
    list_select_related = ["merchant", "category"]
    autocomplete_fields = ["merchant", "category"]
    fields = ["name", "multiplier", "merchant", "category", "starts_at", "ends_at", "is_active"]


@admin.register(Tier)
class TierAdmin(_AuditedSettingsAdmin):
    list_display = ["rank", "code", "name", "threshold", "earn_multiplier", "shipping_cell", "early_access"]
    ordering = ["rank"]
    fields = ["code", "name", "rank", "threshold", "earn_multiplier", "free_shipping_threshold", "early_access"]
    actions = None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # members, their history and rewards point at tiers

    @display(description="Free shipping from")
    def shipping_cell(self, obj: Tier) -> str:
        if obj.free_shipping_threshold is None:
            return "the shop's rule"
        return money_text(obj.free_shipping_threshold, default_currency())


@admin.register(Reward)
class RewardAdmin(_AuditedSettingsAdmin):
    form = RewardForm
    list_display = ["name", "kind", "points_cost", "merchant", "stock_cell", "redeemed_count", "min_tier", "is_active"]
    list_filter = ["kind", "is_active", ("merchant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name"]
    list_select_related = ["merchant", "min_tier"]
    autocomplete_fields = ["merchant"]
    actions = None
    fieldsets = [
        (None, {"fields": ["name", "description", "kind", "points_cost", "merchant", "min_tier", "is_active"]}),
        ("The coupon issued", {"fields": ["discount_value", "min_order_amount", "cashback_rate", "valid_days"]}),
        ("Stock", {"fields": ["stock", "redeemed_count"]}),
    ]
    readonly_fields = ["redeemed_count"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # redemptions point at it: switch it off instead

    @display(description="Stock")
    def stock_cell(self, obj: Reward) -> str:
        return "no limit" if obj.stock is None else f"{obj.stock - obj.redeemed_count} of {obj.stock} left"


@admin.register(Achievement)
class AchievementAdmin(_AuditedSettingsAdmin):
    list_display = ["badge_cell", "name", "code", "criterion", "target", "points", "is_active"]
    list_display_links = ["name"]
    list_filter = ["criterion", "is_active"]
    search_fields = ["name", "code"]
    fields = ["code", "name", "description", "badge", "badge_cell", "criterion", "target", "points", "is_active"]
    readonly_fields = ["badge_cell"]
    actions = None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # awards point at it: switch it off instead

    @display(description="Badge")
    def badge_cell(self, obj: Achievement) -> str:
        if not obj.badge:
            return "-"
        return format_html('<img src="{}" alt="" width="40" height="40" class="rounded">', obj.badge.url)


# --- members --------------------------------------------------------------------------------------------------


def _entry_cause(entry: PointsEntry) -> str:
    if entry.order_id and entry.order is not None:
        return f"Order {entry.order.number}"
    if entry.kind == PointsEntryKind.ADJUSTMENT:
        return f"Staff ({_member(entry.actor)})" if entry.actor_id and entry.actor else "Staff"
    return entry.rule_code or "-"


_ENTRY_INLINE_FIELDS = [
    "created_at",
    "kind",
    "points_text",
    "pending_text",
    "held_text",
    "balance_after",
    "cause",
    "reason",
]


class PointsEntryInline(ReadOnlyInline):
    model = PointsEntry
    verbose_name_plural = "ledger (newest first)"
    fields = tuple(_ENTRY_INLINE_FIELDS)
    readonly_fields = _ENTRY_INLINE_FIELDS
    ordering = ["-created_at", "-id"]
    per_page = 20

    def get_queryset(self, request: HttpRequest) -> QuerySet[PointsEntry]:
        return super().get_queryset(request).select_related("order", "actor").order_by("-created_at", "-id")

    @display(description="Points")
    def points_text(self, obj: PointsEntry) -> str:
        return _points(obj.points)

    @display(description="Pending")
    def pending_text(self, obj: PointsEntry) -> str:
        return _points(obj.pending_points)

    @display(description="Held")
    def held_text(self, obj: PointsEntry) -> str:
        return _points(obj.held_points)

    @display(description="Cause")
    def cause(self, obj: PointsEntry) -> str:
        return _entry_cause(obj)


class OpenLotInline(ReadOnlyInline):
    model = PointsLot
    verbose_name_plural = "points not yet spent or expired (oldest first: spent and expired first)"
    fields = ("available_at", "points", "remaining", "expires_at", "reminded_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[PointsLot]:
        return super().get_queryset(request).filter(remaining__gt=0).order_by("available_at", "id")


class TierChangeInline(ReadOnlyInline):
    model = TierChange
    verbose_name_plural = "tier history"
    fields = ("created_at", "from_tier", "to_tier", "qualifying_points", "reason")
    readonly_fields = fields
    ordering = ["-created_at", "-id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TierChange]:
        return super().get_queryset(request).select_related("from_tier", "to_tier")


class PointsHoldInline(ReadOnlyInline):
    model = PointsHold
    verbose_name_plural = "checkout holds"
    fields = ("created_at", "order", "points", "amount", "status", "returned")
    readonly_fields = fields
    ordering = ["-created_at", "-id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PointsHold]:
        return super().get_queryset(request).select_related("order")


def _coupon_text(obj: RewardRedemption) -> str:
    if obj.coupon is None:
        return "-"
    return f"{obj.coupon.code} (used)" if obj.coupon.times_used else str(obj.coupon.code)


class RewardRedemptionInline(ReadOnlyInline):
    model = RewardRedemption
    verbose_name_plural = "rewards redeemed"
    fields = ("created_at", "reward", "points", "coupon_code")
    readonly_fields = fields
    ordering = ["-created_at", "-id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RewardRedemption]:
        return super().get_queryset(request).select_related("reward", "coupon")

    @display(description="Coupon")
    def coupon_code(self, obj: RewardRedemption) -> str:
        return _coupon_text(obj)


_ACCOUNT_FIELDS = [
    "member",
    "available",
    "pending",
    "held",
    "lifetime",
    "tier",
    "tier_since",
    "below_tier_since",
    "referral_code",
    "referred_by",
    "achievements",
    "ledger_link",
    "created_at",
    "updated_at",
]


@admin.register(PointsAccount)
class PointsAccountAdmin(ModelAdmin):
    """Members: read-only for everyone (nothing to save); the adjustment has its own permission."""

    actions = None
    list_display = ["id", "member", "available", "pending", "held", "lifetime", "tier", "referral_code", "updated_at"]
    list_filter = [("tier", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__email", "user__phone", "=referral_code", "=id"]
    search_help_text = "The member's email or phone, their referral code, or the account's number."
    list_select_related = ["user", "tier"]
    list_per_page = 50
    ordering = ["-updated_at", "-id"]
    show_full_result_count = False
    inlines = [PointsEntryInline, OpenLotInline, TierChangeInline, PointsHoldInline, RewardRedemptionInline]
    actions_detail = ["adjust_this_account"]
    fields = tuple(_ACCOUNT_FIELDS)
    readonly_fields = _ACCOUNT_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[PointsAccount]:
        return super().get_queryset(request).select_related("user", "tier", "referred_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_adjust_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(ADJUST_PERMISSION)

    @display(description="Member", ordering="user__email")
    def member(self, obj: PointsAccount) -> str:
        return _member(obj.user)

    @display(description="Achievements earned")
    def achievements(self, obj: PointsAccount) -> str:
        awards = AchievementAward.objects.filter(user_id=obj.user_id).select_related("achievement")
        rows = [(award.achievement.name, f"{award.awarded_at:%Y-%m-%d}") for award in awards]
        if not rows:
            return "None yet"
        return format_html('<ul class="list-disc pl-4">{}</ul>', format_html_join("", "<li>{} ({})</li>", rows))

    @display(description="Ledger")
    def ledger_link(self, obj: PointsAccount) -> str:
        url = f"{reverse('admin:loyalty_pointsentry_changelist')}?account__id__exact={obj.pk}"
        return format_html('<a href="{}">The whole ledger as a list</a>', url)

    def _form_page(self, request: HttpRequest, *, account: PointsAccount, form: Form, back_url: str) -> Any:
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust the points of {_member(account.user)}",
            "opts": self.model._meta,
            "form": form,
            "figures": [
                ("Available", f"{account.available:,d}"),
                ("Pending", f"{account.pending:,d}"),
                ("Held for checkouts", f"{account.held:,d}"),
            ],
            "back_url": back_url,
            "submit_label": "Adjust",
        }
        return TemplateResponse(request, ACTION_FORM, context)

    @unfold_action(description="Adjust points…", url_path="adjust", permissions=["adjust"], icon="tune")
    def adjust_this_account(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Add or take away available points with a reason, through ``points_adjust`` (audited there)."""
        from .services.ledger import points_adjust

        account = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        if account is None:
            raise Http404("No such member.")
        page = reverse("admin:loyalty_pointsaccount_change", args=[account.pk])
        form = PointsAdjustmentForm(request.POST if request.method == "POST" and "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(request, account=account, form=form, back_url=page)
        try:
            entry = points_adjust(
                user_id=account.user_id,
                points=form.cleaned_data["points"],
                reason=form.cleaned_data["reason"],
                actor=_actor(request),
                key=f"admin-adjust:{form.cleaned_data['key']}",
            )
        except DomainError as exc:
            self.message_user(request, f"Member {account.pk}: {exc.detail}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Adjusted by {entry.points:+,d} points; available now {entry.balance_after:,d}.",
                messages.SUCCESS,
            )
        return redirect(page)


# --- records ------------------------------------------------------------------------------------------------

_ENTRY_ADMIN_FIELDS = [
    "account",
    "kind",
    "points",
    "pending_points",
    "held_points",
    "balance_after",
    "pending_after",
    "held_after",
    "qualifying",
    "key",
    "order",
    "rule_code",
    "reason",
    "actor",
    "created_at",
]


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    actions = None
    list_display = [
        "created_at",
        "member",
        "kind",
        "points_cell",
        "pending_cell",
        "held_cell",
        "balance_after",
        "cause",
        "reason",
    ]
    list_filter = ["kind", "qualifying", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["account__user__email", "account__user__phone", "=key", "=order__number"]
    search_help_text = "The member's email or phone, the row's key (order-earn:12, ...) or an order number."
    list_select_related = ["account__user", "order", "actor"]
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    fields = tuple(_ENTRY_ADMIN_FIELDS)
    readonly_fields = _ENTRY_ADMIN_FIELDS

    @display(description="Member", ordering="account__user__email")
    def member(self, obj: PointsEntry) -> str:
        return _member(obj.account.user)

    @display(description="Points", ordering="points")
    def points_cell(self, obj: PointsEntry) -> str:
        return _points(obj.points)

    @display(description="Pending")
    def pending_cell(self, obj: PointsEntry) -> str:
        return _points(obj.pending_points)

    @display(description="Held")
    def held_cell(self, obj: PointsEntry) -> str:
        return _points(obj.held_points)

    @display(description="Cause")
    def cause(self, obj: PointsEntry) -> str:
        return _entry_cause(obj)


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    actions = None
    list_display = ["created_at", "member", "from_tier", "to_tier", "qualifying_points", "reason"]
    list_filter = [("to_tier", admin.RelatedOnlyFieldListFilter), ("created_at", admin.DateFieldListFilter)]
    search_fields = ["account__user__email", "account__user__phone"]
    list_select_related = ["account__user", "from_tier", "to_tier"]
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    show_full_result_count = False

    @display(description="Member", ordering="account__user__email")
    def member(self, obj: TierChange) -> str:
        return _member(obj.account.user)


@admin.register(PointsHold)
class PointsHoldAdmin(ReadOnlyAdminMixin, ModelAdmin):
    actions = None
    list_display = ["created_at", "member", "order", "points", "amount_cell", "status_label", "returned"]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["account__user__email", "account__user__phone", "=order__number"]
    list_select_related = ["account__user", "order"]
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    show_full_result_count = False

    @display(description="Member", ordering="account__user__email")
    def member(self, obj: PointsHold) -> str:
        return _member(obj.account.user)

    @display(description="Took off the order", ordering="amount")
    def amount_cell(self, obj: PointsHold) -> str:
        return money_text(obj.amount, obj.currency)

    @display(description="Status", ordering="status", label=HOLD_LABELS)
    def status_label(self, obj: PointsHold) -> tuple[str, str]:
        return obj.status, obj.get_status_display()


@admin.register(RewardRedemption)
class RewardRedemptionAdmin(ReadOnlyAdminMixin, ModelAdmin):
    actions = None
    list_display = ["created_at", "member", "reward", "points", "coupon_code"]
    list_filter = [("reward", admin.RelatedOnlyFieldListFilter), ("created_at", admin.DateFieldListFilter)]
    search_fields = ["account__user__email", "account__user__phone", "=coupon__code"]
    list_select_related = ["account__user", "reward", "coupon"]
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    show_full_result_count = False

    @display(description="Member", ordering="account__user__email")
    def member(self, obj: RewardRedemption) -> str:
        return _member(obj.account.user)

    @display(description="Coupon")
    def coupon_code(self, obj: RewardRedemption) -> str:
        return _coupon_text(obj)


@admin.register(AchievementAward)
class AchievementAwardAdmin(ReadOnlyAdminMixin, ModelAdmin):
    actions = None
    list_display = ["awarded_at", "member", "achievement", "entry"]
    list_filter = [("achievement", admin.RelatedOnlyFieldListFilter), ("awarded_at", admin.DateFieldListFilter)]
    search_fields = ["user__email", "user__phone"]
    list_select_related = ["user", "achievement", "entry"]
    list_per_page = 50
    ordering = ["-awarded_at", "-id"]
    show_full_result_count = False

    @display(description="Member", ordering="user__email")
    def member(self, obj: AchievementAward) -> str:
        return _member(obj.user)


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdminMixin, ModelAdmin):
    actions = None
    list_display = ["created_at", "referrer_text", "referee_text", "code", "status_label", "refused_reason", "order"]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["referrer__email", "referrer__phone", "referee__email", "referee__phone", "=code"]
    search_help_text = "Either member's email or phone, or the code used."
    list_select_related = ["referrer", "referee", "order"]
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    show_full_result_count = False

    @display(description="Referrer", ordering="referrer__email")
    def referrer_text(self, obj: Referral) -> str:
        return _member(obj.referrer)

    @display(description="New member", ordering="referee__email")
    def referee_text(self, obj: Referral) -> str:
        return _member(obj.referee)

    @display(description="Status", ordering="status", label=REFERRAL_LABELS)
    def status_label(self, obj: Referral) -> tuple[str, str]:
        return obj.status, obj.get_status_display()
