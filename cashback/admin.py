"""Back office for cashback: the review queue, wallets with their ledger, withdrawals, conversions with their raw
reports, and merchants' cashback terms.

Nothing about money is editable here: no entry, ledger row, wallet, withdrawal or conversion is added, changed or
deleted through a form (the append-only tables have only a view permission, and the database refuses changes
too). They change only through the actions, which call the same services as the tasks and the API, so a refused
move is the service's 409 shown as an error message, never a 500, and every move is audited by the service.

Cashback entries and the review queue
    The list opens on the queue: confirmed entries that the risk assessment sent to staff (``risk_level`` high),
    riskiest first, each with its score and the reasons of its latest assessment beside it; the "Queue" filter
    switches to all entries. "Approve and credit" calls :func:`~cashback.services.entries.cashback_approve`;
    "Reject…" asks for a reason (shown to the shopper) and calls
    :func:`~cashback.services.entries.cashback_reject`. An entry's page shows its history (events) and every
    risk assessment with its rules, and has the same two as buttons ("Approve and credit…" with an optional
    note, "Reject…").

Wallets
    Read-only balances with the ledger inline (newest first, paginated) and a link to the whole ledger as a list.
    "Staff adjustment…" (the wallet page's button) asks for a signed amount and a reason (the shopper sees it in
    the wallet's history) and calls :func:`~cashback.services.wallet.wallet_adjust`; the form carries a one-time
    key, so submitting it twice adjusts once (the second is refused with a message).

Withdrawals
    The queue: requested first, then approved and processing, oldest first; destinations masked in the list (the
    page shows the full destination to those who pay it). "Approve", "Reject…" (a reason), "Record payout…" (the
    bank's UTR or reference of a manual payout, one withdrawal at a time) and "Mark failed…" (a reason) call
    :mod:`cashback.services.withdrawals`; a withdrawal's page has the same four as buttons.

Conversions and raw reports
    Conversions with their raw reports inline (body shown as sent), and every report (refused ones too) as its own
    list, filtered by outcome and error code.

Merchant cashback terms
    The cap per order and the risk flag are settings, editable (each save audited as ``cashback.terms_saved``).
    The conversion secret is never shown; "Rotate conversion secret" calls
    :func:`~cashback.services.merchant_terms.merchant_conversion_secret_rotate` and shows the new secret once, in
    the confirmation message.

Who may do what (permissions granted per role in ``migrations/0003_role_permissions.py``)
    * admin and finance: everything here; ``cashback.review_cashbackentry`` (approve, reject cashback),
      ``cashback.review_withdrawal`` (withdrawal actions), ``cashback.change_wallet`` (staff adjustments; nothing
      of a wallet is editable), ``cashback.change_merchantcashback`` (terms and secret rotation).
    * support: views entries, wallets (with the ledger) and withdrawals (destinations masked); acts on nothing.
    * merchant staff: their own merchants' conversions and raw reports (``MerchantScopedAdminMixin``), shoppers
      shown by number only; nothing else.
    * catalog managers: nothing.
"""

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin
from unfold.decorators import action as unfold_action
from unfold.decorators import display

from accounts.models import User
from accounts.services.audit import audit_record
from commerce.catalog.permissions import (
    MerchantScopedAdminMixin,
    register_merchant_scoped_model,
    user_is_merchant_scoped,
)
from commerce.core.admin_records import ReadOnlyAdminMixin, ReadOnlyInline
from commerce.core.admin_widgets import money_cell, money_text, percent_text
from commerce.core.errors import DomainError

from .admin_forms import ConfirmForm, NoteForm, PayoutReferenceForm, ReasonForm, WalletAdjustmentForm
from .models import (
    CashbackEntry,
    CashbackEntryEvent,
    CashbackSource,
    CashbackStatus,
    Conversion,
    ConversionReport,
    ConversionStatus,
    MerchantCashback,
    ReportOutcome,
    RiskAssessment,
    RiskLevel,
    Wallet,
    WalletEntry,
    Withdrawal,
    WithdrawalMethod,
    WithdrawalStatus,
)
from .selectors import withdrawal_destination_masked

register_merchant_scoped_model(Conversion, "merchant")
register_merchant_scoped_model(ConversionReport, "merchant")

ACTION_FORM = "admin/service_action_form.html"

CASHBACK_LABELS = {
    CashbackStatus.PENDING: "warning",
    CashbackStatus.CONFIRMED: "info",
    CashbackStatus.CREDITED: "success",
    CashbackStatus.REJECTED: "danger",
    CashbackStatus.REVERSED: "danger",
}
WITHDRAWAL_LABELS = {
    WithdrawalStatus.REQUESTED: "warning",
    WithdrawalStatus.APPROVED: "info",
    WithdrawalStatus.PROCESSING: "info",
    WithdrawalStatus.PAID: "success",
    WithdrawalStatus.REJECTED: "danger",
    WithdrawalStatus.FAILED: "danger",
}
CONVERSION_LABELS = {
    ConversionStatus.PENDING: "warning",
    ConversionStatus.APPROVED: "success",
    ConversionStatus.CANCELLED: "danger",
}
REPORT_LABELS = {ReportOutcome.ACCEPTED: "success", ReportOutcome.UNCHANGED: "info", ReportOutcome.REFUSED: "danger"}


if TYPE_CHECKING:  # the mixin is only ever combined with ModelAdmin
    from django.contrib.admin import ModelAdmin as DjangoModelAdmin

    _AdminBase = DjangoModelAdmin[Any]
else:
    _AdminBase = object


def _actor(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # the admin lets only signed-in staff in
        raise Http404("Not signed in.")
    return user


def _shopper(user: User) -> str:
    return user.email or user.phone or f"#{user.pk}"


def _risk_rules(assessment: RiskAssessment | None) -> str:
    """The fired rules of an assessment as a list: weight and reason each."""
    if assessment is None:
        return "-"
    rules = [rule for rule in assessment.rules if isinstance(rule, dict)]
    if not rules:
        return "No rule fired."
    return format_html(
        '<ul class="list-disc pl-4">{}</ul>',
        format_html_join(
            "",
            "<li>+{} {}</li>",
            ((rule.get("weight", ""), rule.get("reason") or rule.get("code", "")) for rule in rules),
        ),
    )


class _ActionsMixin(_AdminBase):
    """Runs a service per selected row and reports each refusal as an error message; renders the intermediate
    form page of actions that need input."""

    def _apply(self, request: HttpRequest, ids: Iterable[int], move: Callable[[int], Any], done: str) -> None:
        moved: list[str] = []
        for pk in ids:
            try:
                move(pk)
            except DomainError as exc:
                name = str(self.model._meta.verbose_name).capitalize()
                self.message_user(request, f"{name} {pk}: {exc.detail}", messages.ERROR)
            else:
                moved.append(str(pk))
        if moved:
            self.message_user(request, f"{done}: {', '.join(moved)}.", messages.SUCCESS)

    def _form_page(
        self,
        request: HttpRequest,
        *,
        form: forms.Form,
        title: str,
        submit_label: str,
        rows: list[tuple[int, str]] | None = None,
        action: str = "",
        figures: list[tuple[str, str]] | None = None,
        back_url: str = ".",
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "rows": rows or [],
            "figures": figures or [],
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "back_url": back_url,
            "submit_label": submit_label,
        }
        return TemplateResponse(request, ACTION_FORM, context)

    def page_figures(self, obj: Any) -> list[tuple[str, str]]:
        """What the page action's form shows about the row (overridden per admin)."""
        return []

    def _page_action(
        self,
        request: HttpRequest,
        object_id: str,
        *,
        form_class: type[forms.Form],
        title: str,
        submit_label: str,
        run: Callable[[Any, dict[str, Any]], str],
    ) -> HttpResponse:
        """A button on a row's page: the form page (GET, or a POST with errors), then ``run(row, cleaned_data)``
        (a service call) and its message or the service's refusal, and back to the row's page."""
        obj = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        if obj is None:
            raise Http404("No such row.")
        opts = self.model._meta
        page = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        form = form_class(request.POST if request.method == "POST" and "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(
                request,
                form=form,
                title=title,
                submit_label=submit_label,
                figures=self.page_figures(obj),
                back_url=page,
            )
        try:
            done = run(obj, form.cleaned_data)
        except DomainError as exc:
            name = str(opts.verbose_name).capitalize()
            self.message_user(request, f"{name} {obj.pk}: {exc.detail}", messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return redirect(page)


# --- cashback entries and the review queue --------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    """The review queue (the default) or every entry."""

    title = "queue"
    parameter_name = "queue"
    REVIEW = "review"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(self.REVIEW, "Awaiting review (riskiest first)"), (self.ALL, "All entries")]

    def value(self) -> str:
        chosen = super().value()
        return chosen if chosen in (self.REVIEW, self.ALL) else self.REVIEW

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == self.REVIEW:
            return queryset.filter(status=CashbackStatus.CONFIRMED, risk_level=RiskLevel.HIGH)
        return queryset


def _in_review_queue(request: HttpRequest) -> bool:
    return request.GET.get(QueueFilter.parameter_name, QueueFilter.REVIEW) not in (QueueFilter.ALL,)


_CASHBACK_ENTRY_EVENT_INLINE_FIELDS: list[str] = [
    "created_at",
    "from_status",
    "to_status",
    "amount_text",
    "note",
    "actor_text",
]


class CashbackEntryEventInline(ReadOnlyInline):
    model = CashbackEntryEvent
    verbose_name_plural = "history"
    fields = tuple(_CASHBACK_ENTRY_EVENT_INLINE_FIELDS)
    readonly_fields = _CASHBACK_ENTRY_EVENT_INLINE_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[CashbackEntryEvent]:
        return super().get_queryset(request).select_related("entry", "actor")

    @display(description="Amount")
    def amount_text(self, obj: CashbackEntryEvent) -> str:
        return money_text(obj.amount, obj.entry.currency) if obj.amount else "-"

    @display(description="By")
    def actor_text(self, obj: CashbackEntryEvent) -> str:
        return _shopper(obj.actor) if obj.actor_id and obj.actor else "system"


_RISK_ASSESSMENT_INLINE_FIELDS: list[str] = ["created_at", "score", "level", "rules_list"]


class RiskAssessmentInline(ReadOnlyInline):
    model = RiskAssessment
    verbose_name_plural = "risk assessments"
    fields = tuple(_RISK_ASSESSMENT_INLINE_FIELDS)
    readonly_fields = _RISK_ASSESSMENT_INLINE_FIELDS
    ordering = ["-created_at", "-id"]

    @display(description="Rules that fired")
    def rules_list(self, obj: RiskAssessment) -> str:
        return _risk_rules(obj)


@admin.register(CashbackEntry)
class CashbackEntryAdmin(ReadOnlyAdminMixin, _ActionsMixin, ModelAdmin):
    list_display = [
        "id",
        "shopper",
        "merchant",
        "source_text",
        "net_cell",
        "status_label",
        "risk_cell",
        "risk_reasons",
        "created_at",
    ]
    list_filter = [
        QueueFilter,
        "status",
        "source",
        "risk_level",
        ("merchant", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["order__number", "conversion__reference", "user__email", "user__phone"]
    search_help_text = "Order number, conversion reference, or the shopper's email or phone."
    list_select_related = ["merchant", "user", "order", "conversion"]
    list_per_page = 50
    show_full_result_count = False
    inlines = [CashbackEntryEventInline, RiskAssessmentInline]
    actions = ["approve_cashback", "reject_cashback"]
    actions_detail = ["approve_this_entry", "reject_this_entry"]
    fieldsets = [
        (None, {"fields": ["shopper", "merchant", "source_text", "offer", "status", "reason"]}),
        ("Amounts", {"fields": ["base_text", "rate_text", "amount_text", "reversed_text", "net_text"]}),
        ("Risk", {"fields": ["risk_level", "risk_score", "risk_reasons"]}),
        ("Dates", {"fields": ["created_at", "expected_on", "confirmed_at", "credited_at", "closed_at"]}),
    ]
    readonly_fields = [str(field) for _, options in fieldsets for field in options["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CashbackEntry]:
        latest_first = RiskAssessment.objects.order_by("-created_at", "-id")
        return (
            super()
            .get_queryset(request)
            .select_related("merchant", "user", "order", "conversion")
            .prefetch_related(Prefetch("risk_assessments", queryset=latest_first, to_attr="assessments"))
        )

    def get_ordering(self, request: HttpRequest) -> Any:
        if _in_review_queue(request):
            return ["-risk_score", "created_at", "id"]
        return ["-created_at", "-id"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        title = "Cashback awaiting review, riskiest first" if _in_review_queue(request) else "All cashback entries"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def get_urls(self) -> list[Any]:
        review = path(
            "review/",
            self.admin_site.admin_view(self.review_redirect),
            name="cashback_cashbackentry_review",
        )
        return [review, *super().get_urls()]

    def review_redirect(self, request: HttpRequest) -> HttpResponse:
        """A stable address of the review queue (the dashboard card links here)."""
        return redirect(f"{reverse('admin:cashback_cashbackentry_changelist')}?queue={QueueFilter.REVIEW}")

    def has_review_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("cashback.review_cashbackentry")

    def page_figures(self, obj: CashbackEntry) -> list[tuple[str, str]]:
        return [
            ("Shopper", _shopper(obj.user)),
            ("Source", self.source_text(obj)),
            ("The shopper gets", money_text(obj.net_amount, obj.currency)),
            ("Status", obj.get_status_display()),
            ("Risk score", "-" if obj.risk_score is None else str(obj.risk_score)),
        ]

    @unfold_action(description="Approve and credit…", url_path="approve", permissions=["review"], icon="check_circle")
    def approve_this_entry(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from .services.entries import cashback_approve

        actor = _actor(request)

        def run(entry: CashbackEntry, data: dict[str, Any]) -> str:
            credited = cashback_approve(entry_id=entry.pk, actor=actor, note=data["note"])
            return f"Approved and credited {money_text(credited.net_amount, credited.currency)}."

        return self._page_action(
            request, object_id, form_class=NoteForm, title="Approve and credit", submit_label="Approve", run=run
        )

    @unfold_action(description="Reject…", url_path="reject", permissions=["review"], icon="block")
    def reject_this_entry(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from .services.entries import cashback_reject

        actor = _actor(request)

        def run(entry: CashbackEntry, data: dict[str, Any]) -> str:
            cashback_reject(entry_id=entry.pk, actor=actor, reason=data["reason"])
            return "Rejected."

        return self._page_action(
            request, object_id, form_class=ReasonForm, title="Reject cashback", submit_label="Reject", run=run
        )

    # --- cells --------------------------------------------------------------------------------------------

    @display(description="Shopper", ordering="user__email")
    def shopper(self, obj: CashbackEntry) -> str:
        return _shopper(obj.user)

    @display(description="Source")
    def source_text(self, obj: CashbackEntry) -> str:
        if obj.source == CashbackSource.ORDER and obj.order is not None:
            return f"Order {obj.order.number}"
        return f"Conversion {obj.conversion.reference}" if obj.conversion is not None else "-"

    @display(description="Cashback", ordering="amount")
    def net_cell(self, obj: CashbackEntry) -> str:
        return money_cell(obj.net_amount, obj.currency)

    @display(description="Status", ordering="status", label=CASHBACK_LABELS)
    def status_label(self, obj: CashbackEntry) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description="Risk", ordering="risk_score")
    def risk_cell(self, obj: CashbackEntry) -> str:
        if obj.risk_score is None:
            return "-"
        return f"{obj.risk_score} ({obj.risk_level or 'not assessed'})"

    @display(description="Why (latest assessment)")
    def risk_reasons(self, obj: CashbackEntry) -> str:
        assessments = getattr(obj, "assessments", None)
        if assessments is None:
            assessments = list(obj.risk_assessments.order_by("-created_at", "-id")[:1])
        return _risk_rules(assessments[0] if assessments else None)

    @display(description="Base")
    def base_text(self, obj: CashbackEntry) -> str:
        return money_text(obj.base_amount, obj.currency)

    @display(description="Rate")
    def rate_text(self, obj: CashbackEntry) -> str:
        return percent_text(obj.rate)

    @display(description="Earned")
    def amount_text(self, obj: CashbackEntry) -> str:
        return money_text(obj.amount, obj.currency)

    @display(description="Taken back by refunds")
    def reversed_text(self, obj: CashbackEntry) -> str:
        return money_text(obj.reversed_amount, obj.currency)

    @display(description="The shopper gets")
    def net_text(self, obj: CashbackEntry) -> str:
        return money_text(obj.net_amount, obj.currency)

    # --- actions ------------------------------------------------------------------------------------------

    def _ids(self, queryset: QuerySet[CashbackEntry]) -> list[int]:
        return list(queryset.order_by("pk").values_list("pk", flat=True))

    @admin.action(description="Approve and credit", permissions=["review"])
    def approve_cashback(self, request: HttpRequest, queryset: QuerySet[CashbackEntry]) -> None:
        from .services.entries import cashback_approve

        actor = _actor(request)
        self._apply(
            request,
            self._ids(queryset),
            lambda pk: cashback_approve(entry_id=pk, actor=actor),
            "Approved and credited",
        )

    @admin.action(description="Reject (with a reason)…", permissions=["review"])
    def reject_cashback(self, request: HttpRequest, queryset: QuerySet[CashbackEntry]) -> TemplateResponse | None:
        from .services.entries import cashback_reject

        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            rows = [
                (entry.pk, f"{entry.pk} · {_shopper(entry.user)} · {money_text(entry.net_amount, entry.currency)}")
                for entry in queryset.select_related("user").order_by("pk")
            ]
            return self._form_page(
                request, form=form, title="Reject cashback", submit_label="Reject", rows=rows, action="reject_cashback"
            )
        actor = _actor(request)
        reason = form.cleaned_data["reason"]
        self._apply(
            request,
            self._ids(queryset),
            lambda pk: cashback_reject(entry_id=pk, actor=actor, reason=reason),
            "Rejected",
        )
        return None


@admin.register(CashbackEntryEvent)
class CashbackEntryEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    actions = None
    list_display = ["created_at", "entry_id", "from_status", "to_status", "amount", "note", "actor"]
    list_filter = ["to_status", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=entry__id"]
    list_select_related = ["actor"]
    list_per_page = 50
    show_full_result_count = False


_RISK_ASSESSMENT_ADMIN_FIELDS: list[str] = ["entry", "score", "level", "rules_list", "created_at"]


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(ReadOnlyAdminMixin, ModelAdmin):
    actions = None
    list_display = ["created_at", "entry_id", "score", "level", "rules_list"]
    list_filter = ["level", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=entry__id"]
    list_per_page = 50
    show_full_result_count = False
    fields = tuple(_RISK_ASSESSMENT_ADMIN_FIELDS)
    readonly_fields = _RISK_ASSESSMENT_ADMIN_FIELDS

    @display(description="Rules that fired")
    def rules_list(self, obj: RiskAssessment) -> str:
        return _risk_rules(obj)


# --- wallets and the ledger ------------------------------------------------------------------------------------


def _ledger_cause(row: WalletEntry) -> str:
    if row.cashback_entry_id:
        return f"Cashback {row.cashback_entry_id}"
    if row.withdrawal_id:
        return f"Withdrawal {row.withdrawal_id}"
    return "Staff adjustment" if row.actor_id else "-"


_WALLET_ENTRY_INLINE_FIELDS: list[str] = [
    "created_at",
    "kind",
    "amount_text",
    "held_text",
    "balance_text",
    "cause",
    "reason",
]


class WalletEntryInline(ReadOnlyInline):
    model = WalletEntry
    verbose_name_plural = "ledger (newest first)"
    fields = tuple(_WALLET_ENTRY_INLINE_FIELDS)
    readonly_fields = _WALLET_ENTRY_INLINE_FIELDS
    ordering = ["-created_at", "-id"]
    per_page: int | None = 20

    def get_queryset(self, request: HttpRequest) -> QuerySet[WalletEntry]:
        return super().get_queryset(request).select_related("wallet").order_by("-created_at", "-id")

    @display(description="Amount")
    def amount_text(self, obj: WalletEntry) -> str:
        return money_text(obj.amount, obj.wallet.currency)

    @display(description="Held")
    def held_text(self, obj: WalletEntry) -> str:
        return money_text(obj.held_amount, obj.wallet.currency)

    @display(description="Balance after")
    def balance_text(self, obj: WalletEntry) -> str:
        return money_text(obj.balance_after, obj.wallet.currency)

    @display(description="Cause")
    def cause(self, obj: WalletEntry) -> str:
        return _ledger_cause(obj)


_WALLET_ADMIN_FIELDS: list[str] = [
    "shopper",
    "currency",
    "available_text",
    "pending_text",
    "held_text",
    "earned_text",
    "ledger_link",
    "created_at",
    "updated_at",
]


@admin.register(Wallet)
class WalletAdmin(_ActionsMixin, ModelAdmin):
    actions = None
    list_display = ["id", "shopper", "available_cell", "pending_cell", "held_cell", "earned_cell", "updated_at"]
    search_fields = ["user__email", "user__phone", "=id"]
    search_help_text = "The shopper's email or phone, or the wallet's number."
    list_select_related = ["user"]
    list_per_page = 50
    ordering = ["-updated_at", "-id"]
    show_full_result_count = False
    inlines = [WalletEntryInline]
    actions_detail = ["adjust_this_wallet"]
    fields = tuple(_WALLET_ADMIN_FIELDS)
    readonly_fields = _WALLET_ADMIN_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Wallet]:
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A wallet's page is read-only for everyone (nothing to save); the adjustment has its own permission.
        return False

    def has_adjust_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("cashback.change_wallet")

    @display(description="Shopper", ordering="user__email")
    def shopper(self, obj: Wallet) -> str:
        return _shopper(obj.user)

    @display(description="Available", ordering="available")
    def available_cell(self, obj: Wallet) -> str:
        return money_cell(obj.available, obj.currency)

    @display(description="Pending", ordering="pending")
    def pending_cell(self, obj: Wallet) -> str:
        return money_cell(obj.pending, obj.currency)

    @display(description="Held", ordering="held")
    def held_cell(self, obj: Wallet) -> str:
        return money_cell(obj.held, obj.currency)

    @display(description="Earned", ordering="lifetime_earned")
    def earned_cell(self, obj: Wallet) -> str:
        return money_cell(obj.lifetime_earned, obj.currency)

    @display(description="Available")
    def available_text(self, obj: Wallet) -> str:
        return money_text(obj.available, obj.currency)

    @display(description="Pending cashback")
    def pending_text(self, obj: Wallet) -> str:
        return money_text(obj.pending, obj.currency)

    @display(description="Held for withdrawals")
    def held_text(self, obj: Wallet) -> str:
        return money_text(obj.held, obj.currency)

    @display(description="Earned (less reversals)")
    def earned_text(self, obj: Wallet) -> str:
        return money_text(obj.lifetime_earned, obj.currency)

    @display(description="Ledger")
    def ledger_link(self, obj: Wallet) -> str:
        url = f"{reverse('admin:cashback_walletentry_changelist')}?wallet__id__exact={obj.pk}"
        return format_html('<a href="{}">The whole ledger as a list</a>', url)

    @unfold_action(
        description="Staff adjustment…", url_path="adjust", permissions=["adjust"], icon="account_balance_wallet"
    )
    def adjust_this_wallet(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Add to or take from the available balance with a reason, through ``wallet_adjust`` (audited there)."""
        from .services.wallet import wallet_adjust

        wallet = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        if wallet is None:
            raise Http404("No such wallet.")
        page = reverse("admin:cashback_wallet_change", args=[wallet.pk])
        form = WalletAdjustmentForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(
                request,
                form=form,
                title=f"Adjust the wallet of {_shopper(wallet.user)}",
                submit_label="Adjust",
                figures=[
                    ("Available", money_text(wallet.available, wallet.currency)),
                    ("Held for withdrawals", money_text(wallet.held, wallet.currency)),
                ],
                back_url=page,
            )
        try:
            row = wallet_adjust(
                user_id=wallet.user_id,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                actor=_actor(request),
                key=str(form.cleaned_data["key"]),
            )
        except DomainError as exc:
            self.message_user(request, f"Wallet {wallet.pk}: {exc.detail}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Adjusted by {money_text(row.amount, wallet.currency)}; available now "
                f"{money_text(row.balance_after, wallet.currency)}.",
                messages.SUCCESS,
            )
        return redirect(page)


_WALLET_ENTRY_ADMIN_FIELDS: list[str] = [
    "wallet",
    "kind",
    "amount",
    "held_amount",
    "balance_after",
    "held_after",
    "key",
    "cashback_entry",
    "withdrawal",
    "actor",
    "reason",
    "created_at",
]


@admin.register(WalletEntry)
class WalletEntryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    actions = None
    list_display = [
        "created_at",
        "shopper",
        "kind",
        "amount_cell",
        "held_cell",
        "balance_cell",
        "cause",
        "reason",
        "actor",
    ]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["wallet__user__email", "wallet__user__phone", "=key"]
    search_help_text = "The shopper's email or phone, or the row's key (cashback-credit:12, ...)."
    list_select_related = ["wallet__user", "actor"]
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    fields = tuple(_WALLET_ENTRY_ADMIN_FIELDS)
    readonly_fields = _WALLET_ENTRY_ADMIN_FIELDS

    @display(description="Shopper", ordering="wallet__user__email")
    def shopper(self, obj: WalletEntry) -> str:
        return _shopper(obj.wallet.user)

    @display(description="Amount", ordering="amount")
    def amount_cell(self, obj: WalletEntry) -> str:
        return money_cell(obj.amount, obj.wallet.currency)

    @display(description="Held")
    def held_cell(self, obj: WalletEntry) -> str:
        return money_cell(obj.held_amount, obj.wallet.currency)

    @display(description="Balance after")
    def balance_cell(self, obj: WalletEntry) -> str:
        return money_cell(obj.balance_after, obj.wallet.currency)

    @display(description="Cause")
    def cause(self, obj: WalletEntry) -> str:
        return _ledger_cause(obj)


# --- withdrawals ---------------------------------------------------------------------------------------------

# The queue's order: what needs someone first.
_WITHDRAWAL_RANK = Case(
    When(status=WithdrawalStatus.REQUESTED, then=Value(0)),
    When(status=WithdrawalStatus.APPROVED, then=Value(1)),
    When(status=WithdrawalStatus.PROCESSING, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


class WithdrawalLedgerInline(WalletEntryInline):
    verbose_name_plural = "ledger rows of this withdrawal"
    fk_name = "withdrawal"
    per_page = None


_WITHDRAWAL_ADMIN_FIELDS: list[str] = [
    "shopper",
    "amount_text",
    "method",
    "destination_text",
    "status",
    "provider",
    "provider_reference",
    "failure_reason",
    "reviewed_by",
    "reviewed_at",
    "paid_at",
    "created_at",
]


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdminMixin, _ActionsMixin, ModelAdmin):
    list_display = [
        "id",
        "shopper",
        "amount_cell",
        "method",
        "destination",
        "status_label",
        "provider",
        "provider_reference",
        "created_at",
    ]
    list_filter = ["status", "method", "provider", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["user__email", "user__phone", "=provider_reference", "=id"]
    search_help_text = "The shopper's email or phone, the payout reference, or the withdrawal's number."
    list_select_related = ["user"]
    list_per_page = 50
    show_full_result_count = False
    inlines = [WithdrawalLedgerInline]
    actions = ["approve_withdrawals", "reject_withdrawals", "record_payout", "mark_failed"]
    actions_detail = ["approve_this_withdrawal", "reject_this_withdrawal", "record_this_payout", "fail_this_withdrawal"]
    fields = tuple(_WITHDRAWAL_ADMIN_FIELDS)
    readonly_fields = _WITHDRAWAL_ADMIN_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Withdrawal]:
        return super().get_queryset(request).select_related("user", "reviewed_by")

    def get_ordering(self, request: HttpRequest) -> Any:
        return [
            _WITHDRAWAL_RANK.asc(),
            "created_at",
            "id",
        ]  # requested first, then approved and processing; oldest first

    def has_review_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("cashback.review_withdrawal")

    def page_figures(self, obj: Withdrawal) -> list[tuple[str, str]]:
        return [
            ("Shopper", _shopper(obj.user)),
            ("Amount", money_text(obj.amount, obj.currency)),
            ("To", withdrawal_destination_masked(obj)),
            ("Status", obj.get_status_display()),
        ]

    @unfold_action(description="Approve…", url_path="approve", permissions=["review"], icon="check_circle")
    def approve_this_withdrawal(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from .services.withdrawals import withdrawal_approve

        actor = _actor(request)

        def run(withdrawal: Withdrawal, data: dict[str, Any]) -> str:
            withdrawal_approve(withdrawal_id=withdrawal.pk, actor=actor)
            return "Approved."

        return self._page_action(
            request, object_id, form_class=ConfirmForm, title="Approve the withdrawal", submit_label="Approve", run=run
        )

    @unfold_action(description="Reject…", url_path="reject", permissions=["review"], icon="block")
    def reject_this_withdrawal(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from .services.withdrawals import withdrawal_reject

        actor = _actor(request)

        def run(withdrawal: Withdrawal, data: dict[str, Any]) -> str:
            withdrawal_reject(withdrawal_id=withdrawal.pk, actor=actor, reason=data["reason"])
            return "Rejected: the money is back in the wallet."

        return self._page_action(
            request, object_id, form_class=ReasonForm, title="Reject the withdrawal", submit_label="Reject", run=run
        )

    @unfold_action(description="Record payout…", url_path="paid", permissions=["review"], icon="payments")
    def record_this_payout(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from .services.withdrawals import withdrawal_mark_paid

        actor = _actor(request)

        def run(withdrawal: Withdrawal, data: dict[str, Any]) -> str:
            withdrawal_mark_paid(withdrawal_id=withdrawal.pk, reference=data["reference"], actor=actor)
            return f"Paid, reference {data['reference']}."

        return self._page_action(
            request,
            object_id,
            form_class=PayoutReferenceForm,
            title="Record the payout",
            submit_label="Record payout",
            run=run,
        )

    @unfold_action(description="Mark failed…", url_path="failed", permissions=["review"], icon="error")
    def fail_this_withdrawal(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from .services.withdrawals import withdrawal_mark_failed

        actor = _actor(request)

        def run(withdrawal: Withdrawal, data: dict[str, Any]) -> str:
            withdrawal_mark_failed(withdrawal_id=withdrawal.pk, reason=data["reason"], actor=actor)
            return "Marked failed: the money is back in the wallet."

        return self._page_action(
            request,
            object_id,
            form_class=ReasonForm,
            title="Mark the payout failed",
            submit_label="Mark failed",
            run=run,
        )

    @display(description="Shopper", ordering="user__email")
    def shopper(self, obj: Withdrawal) -> str:
        return _shopper(obj.user)

    @display(description="Amount", ordering="amount")
    def amount_cell(self, obj: Withdrawal) -> str:
        return money_cell(obj.amount, obj.currency)

    @display(description="Amount")
    def amount_text(self, obj: Withdrawal) -> str:
        return money_text(obj.amount, obj.currency)

    @display(description="To")
    def destination(self, obj: Withdrawal) -> str:
        return withdrawal_destination_masked(obj)

    @display(description="Destination")
    def destination_text(self, obj: Withdrawal) -> str:
        return withdrawal_destination_masked(obj)

    @display(description="Destination (in full)")
    def destination_full(self, obj: Withdrawal) -> str:
        if obj.method == WithdrawalMethod.UPI:
            return f"UPI {obj.vpa}"
        return f"Bank account {obj.account_number}, IFSC {obj.ifsc}, in the name of {obj.account_name}"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """The full destination for those who pay it (``review_withdrawal``), masked for everyone else."""
        if not self.has_review_permission(request):
            return list(self.fields)
        return ["destination_full" if field == "destination_text" else field for field in self.fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    @display(description="Status", ordering="status", label=WITHDRAWAL_LABELS)
    def status_label(self, obj: Withdrawal) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    # --- actions ------------------------------------------------------------------------------------------

    def _rows(self, queryset: QuerySet[Withdrawal]) -> list[tuple[int, str]]:
        return [
            (
                w.pk,
                " · ".join(
                    (str(w.pk), _shopper(w.user), money_text(w.amount, w.currency), withdrawal_destination_masked(w))
                ),
            )
            for w in queryset.select_related("user").order_by("pk")
        ]

    def _ids(self, queryset: QuerySet[Withdrawal]) -> list[int]:
        return list(queryset.order_by("pk").values_list("pk", flat=True))

    @admin.action(description="Approve", permissions=["review"])
    def approve_withdrawals(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> None:
        from .services.withdrawals import withdrawal_approve

        actor = _actor(request)
        self._apply(
            request, self._ids(queryset), lambda pk: withdrawal_approve(withdrawal_id=pk, actor=actor), "Approved"
        )

    @admin.action(description="Reject (with a reason)…", permissions=["review"])
    def reject_withdrawals(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> TemplateResponse | None:
        from .services.withdrawals import withdrawal_reject

        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(
                request,
                form=form,
                title="Reject withdrawals",
                submit_label="Reject",
                rows=self._rows(queryset),
                action="reject_withdrawals",
            )
        actor = _actor(request)
        reason = form.cleaned_data["reason"]
        self._apply(
            request,
            self._ids(queryset),
            lambda pk: withdrawal_reject(withdrawal_id=pk, actor=actor, reason=reason),
            "Rejected (the money is back in the wallet)",
        )
        return None

    @admin.action(description="Record payout (bank reference)…", permissions=["review"])
    def record_payout(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> TemplateResponse | None:
        from .services.withdrawals import withdrawal_mark_paid

        ids = self._ids(queryset)
        if len(ids) != 1:
            self.message_user(
                request, "Record payouts one at a time: each has its own bank reference.", messages.WARNING
            )
            return None
        form = PayoutReferenceForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(
                request,
                form=form,
                title="Record a payout",
                submit_label="Record payout",
                rows=self._rows(queryset),
                action="record_payout",
            )
        actor = _actor(request)
        reference = form.cleaned_data["reference"]
        self._apply(
            request,
            ids,
            lambda pk: withdrawal_mark_paid(withdrawal_id=pk, reference=reference, actor=actor),
            "Paid",
        )
        return None

    @admin.action(description="Mark failed (with a reason)…", permissions=["review"])
    def mark_failed(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> TemplateResponse | None:
        from .services.withdrawals import withdrawal_mark_failed

        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(
                request,
                form=form,
                title="Mark withdrawals failed",
                submit_label="Mark failed",
                rows=self._rows(queryset),
                action="mark_failed",
            )
        actor = _actor(request)
        reason = form.cleaned_data["reason"]
        self._apply(
            request,
            self._ids(queryset),
            lambda pk: withdrawal_mark_failed(withdrawal_id=pk, reason=reason, actor=actor),
            "Marked failed (the money is back in the wallet)",
        )
        return None


# --- conversions and their raw reports ---------------------------------------------------------------------------


def _body(text: str) -> str:
    return format_html('<pre class="whitespace-pre-wrap break-all text-xs">{}</pre>', text)


_CONVERSION_REPORT_INLINE_FIELDS: list[str] = ["received_at", "outcome", "error_code", "timestamp", "body_text"]


class ConversionReportInline(ReadOnlyInline):
    model = ConversionReport
    verbose_name_plural = "reports received (raw)"
    fields = tuple(_CONVERSION_REPORT_INLINE_FIELDS)
    readonly_fields = _CONVERSION_REPORT_INLINE_FIELDS
    ordering = ["-received_at", "-id"]

    @display(description="Body")
    def body_text(self, obj: ConversionReport) -> str:
        return _body(obj.body)


_CONVERSION_ADMIN_FIELDS: list[str] = [
    "merchant",
    "reference",
    "offer",
    "click_text",
    "shopper",
    "sale_text",
    "status",
    "cashback_status",
    "reported_at",
    "updated_at",
]


@admin.register(Conversion)
class ConversionAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, ModelAdmin):
    merchant_scope_lookup = "merchant"
    actions = None
    list_display = ["reference", "merchant", "shopper", "sale_cell", "status_label", "cashback_status", "reported_at"]
    list_filter = ["status", ("merchant", admin.RelatedOnlyFieldListFilter), ("reported_at", admin.DateFieldListFilter)]
    search_fields = ["=reference"]
    search_help_text = "The merchant's reference of the sale."
    list_select_related = ["merchant", "user", "cashback"]
    list_per_page = 50
    ordering = ["-reported_at", "-id"]
    show_full_result_count = False
    inlines = [ConversionReportInline]
    fields = tuple(_CONVERSION_ADMIN_FIELDS)
    readonly_fields = _CONVERSION_ADMIN_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversion]:
        return super().get_queryset(request).select_related("merchant", "user", "cashback", "click", "offer")

    @display(description="Shopper")
    def shopper(self, obj: Conversion) -> str:
        return _shopper(obj.user)

    @display(description="Shopper")
    def shopper_number(self, obj: Conversion) -> str:
        return f"#{obj.user_id}"

    def _for(self, request: HttpRequest, fields: Iterable[Any]) -> list[Any]:
        """Merchant staff see which of their sales earned cashback, not who the shopper is."""
        if not user_is_merchant_scoped(request.user):
            return list(fields)
        return ["shopper_number" if field == "shopper" else field for field in fields]

    def get_list_display(self, request: HttpRequest) -> Any:
        return self._for(request, self.list_display)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._for(request, self.fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._for(request, self.fields)

    @display(description="Click")
    def click_text(self, obj: Conversion) -> str:
        return str(obj.click.click_id)

    @display(description="Sale", ordering="sale_amount")
    def sale_cell(self, obj: Conversion) -> str:
        return money_cell(obj.sale_amount, obj.currency)

    @display(description="Sale")
    def sale_text(self, obj: Conversion) -> str:
        return money_text(obj.sale_amount, obj.currency)

    @display(description="Status", ordering="status", label=CONVERSION_LABELS)
    def status_label(self, obj: Conversion) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description="Cashback")
    def cashback_status(self, obj: Conversion) -> str:
        entry = getattr(obj, "cashback", None)
        if entry is None:
            return "-"
        return f"{money_text(entry.net_amount, entry.currency)} ({entry.get_status_display().lower()})"


_CONVERSION_REPORT_ADMIN_FIELDS: list[str] = [
    "merchant",
    "conversion",
    "outcome",
    "error_code",
    "signature",
    "timestamp",
    "ip_hash",
    "received_at",
    "body_text",
]


@admin.register(ConversionReport)
class ConversionReportAdmin(ReadOnlyAdminMixin, MerchantScopedAdminMixin, ModelAdmin):
    merchant_scope_lookup = "merchant"
    actions = None
    list_display = ["received_at", "merchant", "outcome_label", "error_code", "conversion_reference", "ip_hash"]
    list_filter = [
        "outcome",
        "error_code",
        ("merchant", admin.RelatedOnlyFieldListFilter),
        ("received_at", admin.DateFieldListFilter),
    ]
    search_fields = ["=conversion__reference"]
    search_help_text = "The merchant's reference of the sale."
    list_select_related = ["merchant", "conversion"]
    list_per_page = 50
    ordering = ["-received_at", "-id"]
    show_full_result_count = False
    fields = tuple(_CONVERSION_REPORT_ADMIN_FIELDS)
    readonly_fields = _CONVERSION_REPORT_ADMIN_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConversionReport]:
        return super().get_queryset(request).select_related("merchant", "conversion")

    @display(description="Outcome", ordering="outcome", label=REPORT_LABELS)
    def outcome_label(self, obj: ConversionReport) -> tuple[str, str]:
        return obj.outcome, obj.get_outcome_display()

    @display(description="Conversion")
    def conversion_reference(self, obj: ConversionReport) -> str:
        return obj.conversion.reference if obj.conversion is not None else "-"

    @display(description="Body")
    def body_text(self, obj: ConversionReport) -> str:
        return _body(obj.body)


# --- merchants' cashback terms ---------------------------------------------------------------------------------

_TERMS_FIELDS = ("max_cashback_per_order", "flagged_risky", "risk_note")


@admin.register(MerchantCashback)
class MerchantCashbackAdmin(ModelAdmin):
    list_display = [
        "merchant",
        "cap_cell",
        "flagged_risky",
        "secret_state",
        "secret_rotated_at",
        "previous_secret_expires_at",
        "updated_at",
    ]
    list_filter = ["flagged_risky"]
    search_fields = ["merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    ordering = ["merchant__name"]
    actions = ["rotate_secret"]
    fields = [
        "merchant",
        "max_cashback_per_order",
        "flagged_risky",
        "risk_note",
        "secret_state",
        "secret_rotated_at",
        "previous_secret_expires_at",
        "updated_at",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["secret_state", "secret_rotated_at", "previous_secret_expires_at", "updated_at"]
        return ["merchant", *fields] if obj is not None else fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # terms are changed, never removed (conversions are checked against them)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "max_cashback_per_order":
            from decimal import Decimal

            kwargs["min_value"] = Decimal("0")  # the field's own message, not the table constraint's
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: MerchantCashback, form: Any, change: bool) -> None:
        before = (
            {field: str(getattr(MerchantCashback.objects.get(pk=obj.pk), field)) for field in _TERMS_FIELDS}
            if change
            else None
        )
        super().save_model(request, obj, form, change)
        audit_record(
            action="cashback.terms_saved",
            target=obj,
            actor=_actor(request),
            before=before,
            after={field: str(getattr(obj, field)) for field in _TERMS_FIELDS},
        )

    @display(description="Cap per order", ordering="max_cashback_per_order")
    def cap_cell(self, obj: MerchantCashback) -> str:
        from commerce.core.money import default_currency

        return money_cell(obj.max_cashback_per_order, default_currency(), empty="no cap")

    @display(description="Conversion secret")
    def secret_state(self, obj: MerchantCashback) -> str:
        if not obj.conversion_secret:
            return "Not set: rotate to create one"
        return "Set (never shown again; rotate to replace it)"

    @admin.action(description="Rotate conversion secret (shown once)", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[MerchantCashback]) -> None:
        from .services.merchant_terms import merchant_conversion_secret_rotate

        actor = _actor(request)
        for terms in queryset.select_related("merchant").order_by("pk"):
            try:
                secret = merchant_conversion_secret_rotate(merchant_id=terms.merchant_id, actor=actor)
            except DomainError as exc:
                self.message_user(request, f"{terms.merchant.name}: {exc.detail}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"New conversion secret of {terms.merchant.name}: {secret} (copy it now: it is not shown again; "
                "the previous one keeps working for the grace period).",
                messages.WARNING,
            )
