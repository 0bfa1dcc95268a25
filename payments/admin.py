"""Back office for payments: the finance desk's payments, refunds and webhook inbox.

Nothing about money is editable here: no payment, refund or webhook event is added, changed or deleted through a
form. They change only through the actions, which call the same services as the tasks and the API.

Payments
    A read-only list (filters provider, status, method and date; search by order number or the provider's ids)
    with each payment's refunds inline. "Refund…" asks for an amount and a reason for one payment at a time and
    calls :func:`payments.services.refunds.refund_create` with the staff member as the actor (audited there): a
    refund above what is left, a provider refusing or down is the service's message, never a 500.

Refunds
    A read-only list (filters status and provider; search by order number or the provider's refund id).

Webhook events
    The inbox, read-only (filters provider, status, type; search by event id), the raw body shown on its page.
    "Reprocess" runs the selected events through the inbox again (``payments.services.webhooks``): a
    ``received`` one is processed once more, a ``failed`` (or processed, ignored) one is replayed with a fresh set
    of attempts. Applying is idempotent, so reprocessing an applied event changes nothing.

Who may do what (permissions granted per role in ``migrations/0003_role_permissions.py``)
    * ``payments.add_refund`` (admin, finance): the "Refund…" action. Support sees payments and refunds, and
      cannot refund.
    * ``payments.change_webhookevent`` (admin, finance): "Reprocess". Nobody edits an event.
    * Merchant staff have no payments permissions: they follow an order's payment status on the order; the
      payments desk (provider ids, other merchants' money) is the platform's.

Saved payment methods and provider customers are not registered: provider tokens of shoppers, with nothing for
staff to decide (the shopper removes a method in the app).
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action as unfold_action
from unfold.decorators import display

from accounts.models import User
from commerce.core.admin_widgets import money_cell, money_text
from commerce.core.errors import DomainError

from .admin_forms import RefundForm
from .models import Payment, PaymentStatus, Refund, RefundStatus, WebhookEvent, WebhookStatus
from .services.refunds import refund_create, refundable_amount

PAYMENT_LABELS = {
    PaymentStatus.CREATED: "warning",
    PaymentStatus.AUTHORIZED: "info",
    PaymentStatus.CAPTURED: "success",
    PaymentStatus.FAILED: "danger",
    PaymentStatus.CANCELLED: "danger",
}
REFUND_LABELS = {
    RefundStatus.PENDING: "warning",
    RefundStatus.SUCCEEDED: "success",
    RefundStatus.FAILED: "danger",
}
WEBHOOK_LABELS = {
    WebhookStatus.RECEIVED: "warning",
    WebhookStatus.PROCESSED: "success",
    WebhookStatus.IGNORED: "info",
    WebhookStatus.FAILED: "danger",
}


class _ReadOnly:
    """Rows the services wrote: shown, never added, changed or deleted through a form."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RefundInline(_ReadOnly, TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = "refunds"
    fields = ["created_at", "amount_text", "status", "reason", "requested_by", "provider_refund_id", "last_error"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by")

    @display(description="Amount")
    def amount_text(self, obj: Refund) -> str:
        return money_text(obj.amount, obj.currency)


@admin.register(Payment)
class PaymentAdmin(_ReadOnly, ModelAdmin):
    list_display = [
        "id",
        "order_number",
        "provider",
        "status_label",
        "method",
        "amount_cell",
        "captured_cell",
        "refunded_cell",
        "created_at",
    ]
    list_filter = ["provider", "status", "method", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["order__number", "=provider_order_id", "=provider_payment_id"]
    search_help_text = "Order number, or the provider's order/intent or payment id."
    list_select_related = ["order"]
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    inlines = [RefundInline]
    actions = ["refund_payment"]
    actions_detail = ["refund_this_payment"]
    fields = [
        "order_link",
        "provider",
        "status",
        "method",
        "vpa_handle",
        "amount_text",
        "captured_text",
        "refunded_text",
        "refundable_text",
        "provider_order_id",
        "provider_payment_id",
        "idempotency_key",
        "last_error",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def has_refund_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("payments.add_refund")

    # --- cells and fields ---------------------------------------------------------------------------------

    @display(description="Order", ordering="order__number")
    def order_number(self, obj: Payment) -> str:
        return obj.order.number

    @display(description="Status", ordering="status", label=PAYMENT_LABELS)
    def status_label(self, obj: Payment) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description="Amount", ordering="amount")
    def amount_cell(self, obj: Payment) -> str:
        return money_cell(obj.amount, obj.currency)

    @display(description="Captured", ordering="captured_amount")
    def captured_cell(self, obj: Payment) -> str:
        return money_cell(obj.captured_amount, obj.currency)

    @display(description="Refunded", ordering="refunded_amount")
    def refunded_cell(self, obj: Payment) -> str:
        return money_cell(obj.refunded_amount, obj.currency)

    @display(description="Order")
    def order_link(self, obj: Payment) -> str:
        if not self.admin_site.is_registered(type(obj.order)):
            return obj.order.number
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[obj.order_id]), obj.order.number
        )

    @display(description="Amount")
    def amount_text(self, obj: Payment) -> str:
        return money_text(obj.amount, obj.currency)

    @display(description="Captured")
    def captured_text(self, obj: Payment) -> str:
        return money_text(obj.captured_amount, obj.currency)

    @display(description="Refunded")
    def refunded_text(self, obj: Payment) -> str:
        return money_text(obj.refunded_amount, obj.currency)

    @display(description="Left to refund (less pending refunds)")
    def refundable_text(self, obj: Payment) -> str:
        return money_text(refundable_amount(payment=obj), obj.currency)

    # --- refunding: the list's action and the payment page's button ---------------------------------------

    def _refund(self, request: HttpRequest, payment: Payment, *, action: str, back_url: str) -> TemplateResponse | None:
        """The form page until the input is valid, then ``refund_create`` and a message (``None``)."""
        form = RefundForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": f"Refund payment {payment.pk}",
                "opts": self.model._meta,
                "form": form,
                "payment": payment,
                "figures": [
                    ("Order", payment.order.number),
                    ("Provider", payment.get_provider_display()),
                    ("Captured", money_text(payment.captured_amount, payment.currency)),
                    ("Refunded", money_text(payment.refunded_amount, payment.currency)),
                    ("Left to refund", money_text(refundable_amount(payment=payment), payment.currency)),
                ],
                "action": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "back_url": back_url,
            }
            return TemplateResponse(request, "admin/payments/payment/refund_form.html", context)
        try:
            refund = refund_create(
                payment_id=payment.pk,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                actor=request.user if isinstance(request.user, User) else None,
            )
        except DomainError as exc:
            self.message_user(request, f"Payment {payment.pk}: {exc.detail}", messages.ERROR)
            return None
        amount = money_text(refund.amount, refund.currency)
        if refund.status == RefundStatus.SUCCEEDED:
            self.message_user(request, f"Refunded {amount} of payment {payment.pk}.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                f"Refund of {amount} of payment {payment.pk} sent; the provider confirms it later.",
                messages.INFO,
            )
        return None

    @admin.action(description="Refund (amount and reason)…", permissions=["refund"])
    def refund_payment(self, request: HttpRequest, queryset: QuerySet[Payment]):
        payments = list(queryset.select_related("order").order_by("pk")[:2])
        if len(payments) != 1:
            self.message_user(request, "Refund one payment at a time: each has its own amount.", messages.WARNING)
            return None
        return self._refund(
            request, payments[0], action="refund_payment", back_url=reverse("admin:payments_payment_changelist")
        )

    @unfold_action(description="Refund…", url_path="refund", permissions=["refund"], icon="currency_exchange")
    def refund_this_payment(self, request: HttpRequest, object_id: str):
        """The payment page's "Refund…" button: the same form and service; back to the page afterwards."""
        payment = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        if payment is None:
            raise Http404("No such payment.")
        page = reverse("admin:payments_payment_change", args=[payment.pk])
        response = self._refund(request, payment, action="", back_url=page)
        return response if response is not None else redirect(page)


@admin.register(Refund)
class RefundAdmin(_ReadOnly, ModelAdmin):
    actions = None
    list_display = [
        "id",
        "order_number",
        "payment_id",
        "provider",
        "amount_cell",
        "status_label",
        "reason",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "provider", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["payment__order__number", "=provider_refund_id"]
    search_help_text = "Order number, or the provider's refund id."
    list_select_related = ["payment__order", "requested_by"]
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    fields = [
        "payment",
        "order_number",
        "provider",
        "amount_text",
        "status",
        "reason",
        "requested_by",
        "provider_refund_id",
        "idempotency_key",
        "last_error",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    @display(description="Order", ordering="payment__order__number")
    def order_number(self, obj: Refund) -> str:
        return obj.payment.order.number

    @display(description="Amount", ordering="amount")
    def amount_cell(self, obj: Refund) -> str:
        return money_cell(obj.amount, obj.currency)

    @display(description="Amount")
    def amount_text(self, obj: Refund) -> str:
        return money_text(obj.amount, obj.currency)

    @display(description="Status", ordering="status", label=REFUND_LABELS)
    def status_label(self, obj: Refund) -> tuple[str, str]:
        return obj.status, obj.get_status_display()


@admin.register(WebhookEvent)
class WebhookEventAdmin(ModelAdmin):
    list_display = ["received_at", "provider", "type", "event_id", "status_label", "attempts", "processed_at"]
    list_filter = ["provider", "status", "type", ("received_at", admin.DateFieldListFilter)]
    search_fields = ["=event_id"]
    search_help_text = "The provider's event id."
    list_per_page = 50
    ordering = ["-received_at", "-id"]
    show_full_result_count = False
    actions = ["reprocess"]
    fields = [
        "provider",
        "event_id",
        "type",
        "status",
        "attempts",
        "received_at",
        "processed_at",
        "last_error",
        "headers",
        "body_text",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body", "headers")  # the list shows neither

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # "Reprocess" asks with no object; an event's page is read-only for everyone (nothing to save).
        return obj is None and super().has_change_permission(request)

    @display(description="Status", ordering="status", label=WEBHOOK_LABELS)
    def status_label(self, obj: WebhookEvent) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description="Body")
    def body_text(self, obj: WebhookEvent) -> str:
        return format_html('<pre class="whitespace-pre-wrap break-all text-xs">{}</pre>', obj.body)

    @admin.action(description="Reprocess", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]):
        """Run each selected event through the inbox again: ``received`` ones are processed once more, others are
        replayed (back to ``received`` with fresh attempts, then processed), one at a time, oldest first."""
        from .services.webhooks import webhook_process, webhooks_replay

        outcomes: list[str] = []
        rows = queryset.order_by("received_at", "pk").values_list("pk", "event_id", "status")
        for pk, event_id, status in rows:
            if status == WebhookStatus.RECEIVED:
                result = webhook_process(webhook_id=pk)
            else:
                replay = webhooks_replay(ids=[pk], statuses=(status,))
                result = ", ".join(sorted(replay.statuses)) or "unchanged"
            outcomes.append(f"{event_id}: {result}")
        if outcomes:
            self.message_user(request, f"Reprocessed {'; '.join(outcomes)}.", messages.SUCCESS)
