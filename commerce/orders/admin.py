"""Back office for orders: the orders themselves, merchants' shipping, tax rates, invoices and the sales overview.

Orders
    Everything about an order is read-only here, its lines, reductions and history included (inlines without
    add, change or delete); no order is added or deleted. It moves only through the actions, which call the
    transitions services like the API and the tasks do (``order_fulfil``, ``order_deliver``, ``order_cancel``),
    so a refused move is the service's 409 shown as a message, never a 500, and every move is in the order's
    history with the staff member as its actor.

    * "Mark fulfilled" asks for the carrier and the tracking number, so it takes one order at a time.
    * "Cancel" asks for a reason (kept in each order's history). A paid order's cancellation makes payments
      refund it (the ``order_cancelled`` event with ``was_paid``).
    * "Mark delivered" needs no input.

Who may do what (permissions granted per role in ``migrations/0004_role_permissions.py``)
    * ``orders.change_order`` (admin, merchant staff): every action. There is no order form to save: an order's
      change page is a read-only view for everyone (``has_change_permission`` answers only for the list).
    * ``orders.deliver_order`` (support): only "Mark delivered". Support sees every order and its invoice but
      changes nothing about money or stock: no fulfil, no cancel, no refund.
    * Merchant staff see and act on their merchants' orders only (``MerchantScopedAdminMixin``): another
      merchant's order is absent from the list, its page is a 404, and an action posted with its id skips it.

Configuration
    ``MerchantShipping`` (scoped for merchant staff) and ``CategoryTaxRate`` are plain settings rows; each save
    and deletion leaves an audit row (they change what shoppers pay). ``Invoice`` is a read-only list whose PDF
    is served through the admin (``invoice/<id>/pdf/``, scoped and permission-checked), never as a public media
    URL. ``IdempotencyRecord`` is not registered: a technical record of checkout answers (with addresses),
    purged after a day, with nothing for staff to decide.

Sales overview
    ``SalesOverview`` (a proxy of ``Order``) gives the page of :mod:`commerce.orders.reports` its place in the
    navigation and its ``view_salesoverview`` permission; its "list" is the overview.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from accounts.services.audit import audit_record
from commerce.catalog.permissions import (
    MerchantScopedAdminMixin,
    merchant_ids_for_user,
    register_merchant_scoped_model,
)
from commerce.core.admin_widgets import money_cell, money_text, percent_cell
from commerce.core.errors import DomainError

from . import reports
from .admin_forms import CancelForm, FulfilForm
from .models import (
    ADDRESS_FIELDS,
    CategoryTaxRate,
    Invoice,
    MerchantShipping,
    Order,
    OrderAdjustment,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    SalesOverview,
)
from .services.transitions import order_cancel, order_deliver, order_fulfil

register_merchant_scoped_model(Order, "merchant")
register_merchant_scoped_model(MerchantShipping, "merchant")
register_merchant_scoped_model(Invoice, "order__merchant")

STATUS_LABELS = {
    OrderStatus.PENDING_PAYMENT: "warning",
    OrderStatus.PAID: "info",
    OrderStatus.FULFILLED: "info",
    OrderStatus.DELIVERED: "success",
    OrderStatus.CANCELLED: "danger",
    OrderStatus.EXPIRED: "danger",
}
PAYMENT_LABELS = {
    PaymentStatus.UNPAID: "warning",
    PaymentStatus.PAID: "success",
    PaymentStatus.PARTIALLY_REFUNDED: "info",
    PaymentStatus.REFUNDED: "danger",
}


class _ReadOnlyInline(TabularInline):
    """Rows the services wrote: shown, never added, changed or deleted here."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(_ReadOnlyInline):
    model = OrderLine
    verbose_name_plural = "lines"
    fields = ["sku", "product_title", "quantity", "unit", "amount", "reduction", "rate", "tax_amount"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")

    @display(description="Unit price")
    def unit(self, obj: OrderLine) -> str:
        return money_cell(obj.unit_price, obj.order.currency)

    @display(description="Line total")
    def amount(self, obj: OrderLine) -> str:
        return money_cell(obj.line_total, obj.order.currency)

    @display(description="Reductions")
    def reduction(self, obj: OrderLine) -> str:
        return money_cell(obj.discount, obj.order.currency)

    @display(description="Tax rate")
    def rate(self, obj: OrderLine) -> str:
        return percent_cell(obj.tax_rate)

    @display(description="Tax")
    def tax_amount(self, obj: OrderLine) -> str:
        return money_cell(obj.tax, obj.order.currency)


class OrderAdjustmentInline(_ReadOnlyInline):
    model = OrderAdjustment
    verbose_name_plural = "other reductions"
    fields = ["source", "label", "reduction"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")

    @display(description="Amount")
    def reduction(self, obj: OrderAdjustment) -> str:
        return money_cell(obj.amount, obj.order.currency)


class OrderEventInline(_ReadOnlyInline):
    model = OrderEvent
    verbose_name_plural = "history"
    fields = ["created_at", "type", "from_status", "to_status", "actor", "note", "shopper_visible"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


def _shopper(obj: Order) -> str:
    return obj.email or obj.phone or str(obj.user_id)


@admin.register(Order)
class OrderAdmin(MerchantScopedAdminMixin, ModelAdmin):
    merchant_scope_lookup = "merchant"
    list_display = ["number", "shopper", "merchant", "status_label", "payment_label", "total_cell", "placed_at"]
    list_filter = [
        "status",
        "payment_status",
        ("merchant", admin.RelatedOnlyFieldListFilter),
        ("placed_at", admin.DateFieldListFilter),
        "needs_attention",
    ]
    # The order's own email and phone are the shopper's at checkout; the account's are searched too.
    search_fields = ["number", "email", "phone", "user__email", "user__phone"]
    search_help_text = "Order number, or the shopper's email or phone."
    list_select_related = ["merchant"]
    list_per_page = 50
    ordering = ["-placed_at", "-id"]
    show_full_result_count = False
    inlines = [OrderLineInline, OrderAdjustmentInline, OrderEventInline]
    actions = ["mark_fulfilled", "mark_delivered", "cancel_orders"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "account",
                    "merchant",
                    "status",
                    "payment_status",
                    "needs_attention",
                    "invoice_link",
                ]
            },
        ),
        (
            "Amounts",
            {
                "fields": [
                    "subtotal_text",
                    "discount_text",
                    "adjustments_text",
                    "shipping_text",
                    "tax_text",
                    "total_text",
                    "refunded_text",
                    "coupon_code",
                ]
            },
        ),
        ("Shopper and delivery", {"fields": ["email", "phone", "address_text", "carrier", "tracking_number"]}),
        (
            "Dates",
            {
                "fields": [
                    "placed_at",
                    "expires_at",
                    "paid_at",
                    "fulfilled_at",
                    "delivered_at",
                    "cancelled_at",
                ]
            },
        ),
    ]
    readonly_fields = [str(field) for _, options in fieldsets for field in options["fields"]]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("merchant", "user")

    # --- permissions: a read-only page; the actions need their own permissions ---------------------------

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The list's actions ask with no object; an order's page is read-only for everyone (nothing to save).
        return obj is None and super().has_change_permission(request)

    def has_deliver_permission(self, request) -> bool:
        return request.user.has_perm("orders.change_order") or request.user.has_perm("orders.deliver_order")

    # --- list cells ---------------------------------------------------------------------------------------

    @display(description="Shopper", ordering="email")
    def shopper(self, obj: Order) -> str:
        return _shopper(obj)

    @display(description="Status", ordering="status", label=STATUS_LABELS)
    def status_label(self, obj: Order) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description="Payment", ordering="payment_status", label=PAYMENT_LABELS)
    def payment_label(self, obj: Order) -> tuple[str, str]:
        return obj.payment_status, obj.get_payment_status_display()

    @display(description="Total", ordering="total")
    def total_cell(self, obj: Order) -> str:
        return money_cell(obj.total, obj.currency)

    # --- the page's read-only fields ----------------------------------------------------------------------

    def _money(self, obj: Order, amount) -> str:
        return money_text(amount, obj.currency)

    @display(description="Subtotal")
    def subtotal_text(self, obj: Order) -> str:
        return self._money(obj, obj.subtotal)

    @display(description="Coupon discount")
    def discount_text(self, obj: Order) -> str:
        return self._money(obj, obj.discount)

    @display(description="Other reductions")
    def adjustments_text(self, obj: Order) -> str:
        return self._money(obj, obj.adjustments_total)

    @display(description="Shipping")
    def shipping_text(self, obj: Order) -> str:
        return self._money(obj, obj.shipping)

    @display(description="Tax included")
    def tax_text(self, obj: Order) -> str:
        return self._money(obj, obj.tax)

    @display(description="Total")
    def total_text(self, obj: Order) -> str:
        return self._money(obj, obj.total)

    @display(description="Refunded")
    def refunded_text(self, obj: Order) -> str:
        return self._money(obj, obj.refunded_amount)

    @display(description="Shipping address")
    def address_text(self, obj: Order) -> str:
        address = obj.shipping_address or {}
        parts = [str(address.get(key) or "").strip() for key in ADDRESS_FIELDS]
        return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts if part)) or "-"

    @display(description="Account")
    def account(self, obj: Order) -> str:
        # Text, not a link: merchant staff may not open the users' admin.
        return obj.user.email or obj.user.phone or str(obj.user_id)

    @display(description="Invoice")
    def invoice_link(self, obj: Order) -> str:
        # The theme renders a read-only field more than once: one query per page, kept on the order.
        if not hasattr(obj, "_admin_invoice"):
            obj._admin_invoice = Invoice.objects.filter(order=obj).only("pk", "number").first()  # type: ignore[attr-defined]
        invoice = obj._admin_invoice  # type: ignore[attr-defined]
        if invoice is None:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_invoice_pdf", args=[invoice.pk]), invoice)

    # --- actions ------------------------------------------------------------------------------------------

    def _apply(self, request: HttpRequest, queryset: QuerySet[Order], move: Callable[[int], Any], done: str) -> None:
        """Call ``move`` with each order's id (its own transaction in the service); say which moved and which were
        refused and why."""
        moved: list[str] = []
        for order_id, number in queryset.order_by("pk").values_list("pk", "number"):
            try:
                move(order_id)
            except DomainError as exc:
                self.message_user(request, f"{number}: {exc.detail}", messages.ERROR)
            else:
                moved.append(number)
        if moved:
            self.message_user(request, f"{done}: {', '.join(moved)}.", messages.SUCCESS)

    def _form_page(
        self, request: HttpRequest, queryset: QuerySet[Order], *, form: forms.Form, action: str, title: str
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "orders": list(queryset.order_by("pk")),
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/orders/order/action_form.html", context)

    @admin.action(description="Mark fulfilled (carrier and tracking number)…", permissions=["change"])
    def mark_fulfilled(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, "Mark fulfilled one order at a time: each has its own tracking number.", messages.WARNING
            )
            return None
        form = FulfilForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(
                request, queryset, form=form, action="mark_fulfilled", title="Mark the order fulfilled"
            )
        self._apply(
            request,
            queryset,
            lambda order_id: order_fulfil(
                order_id=order_id,
                actor=request.user,
                carrier=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
            ),
            "Marked fulfilled",
        )
        return None

    @admin.action(description="Mark delivered", permissions=["deliver"])
    def mark_delivered(self, request, queryset):
        self._apply(
            request, queryset, lambda order_id: order_deliver(order_id=order_id, actor=request.user), "Delivered"
        )

    @admin.action(description="Cancel (with a reason)…", permissions=["change"])
    def cancel_orders(self, request, queryset):
        form = CancelForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(request, queryset, form=form, action="cancel_orders", title="Cancel orders")
        self._apply(
            request,
            queryset,
            lambda order_id: order_cancel(order_id=order_id, actor=request.user, reason=form.cleaned_data["reason"]),
            "Cancelled",
        )
        return None


# --- configuration --------------------------------------------------------------------------------------


class _AuditedConfigAdmin(ModelAdmin):
    """Saves and deletions of settings rows leave an audit row (who, what, from where: the admin's context)."""

    audit_prefix = ""
    audit_fields: tuple[str, ...] = ()

    def _snapshot(self, obj) -> dict[str, str]:
        return {field: str(getattr(obj, field)) for field in self.audit_fields}

    def save_model(self, request, obj, form, change):
        before = self._snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        audit_record(action=f"{self.audit_prefix}.saved", target=obj, before=before, after=self._snapshot(obj))

    def delete_model(self, request, obj):
        before = self._snapshot(obj)
        target_id = obj.pk
        super().delete_model(request, obj)
        audit_record(
            action=f"{self.audit_prefix}.deleted",
            target_type=obj._meta.label_lower,
            target_id=target_id,
            before=before,
        )

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(MerchantShipping)
class MerchantShippingAdmin(MerchantScopedAdminMixin, _AuditedConfigAdmin):
    merchant_scope_lookup = "merchant"
    audit_prefix = "orders.shipping"
    audit_fields = ("merchant_id", "flat_fee", "free_shipping_threshold")
    list_display = ["merchant", "flat_fee", "free_shipping_threshold", "updated_at"]
    list_select_related = ["merchant"]
    search_fields = ["merchant__name", "merchant__slug"]
    autocomplete_fields = ["merchant"]
    readonly_fields = ["created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.insert(0, "merchant")  # a row belongs to its merchant for good
        return fields

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("flat_fee", "free_shipping_threshold"):
            kwargs["min_value"] = Decimal("0")  # the field's own message, not the table constraint's
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(CategoryTaxRate)
class CategoryTaxRateAdmin(_AuditedConfigAdmin):
    audit_prefix = "orders.tax_rate"
    audit_fields = ("category_id", "rate")
    list_display = ["category", "rate_cell", "updated_at"]
    list_select_related = ["category"]
    search_fields = ["category__name", "category__slug"]
    autocomplete_fields = ["category"]
    readonly_fields = ["created_at", "updated_at"]

    @display(description="Rate", ordering="rate")
    def rate_cell(self, obj: CategoryTaxRate) -> str:
        return percent_cell(obj.rate)


@admin.register(Invoice)
class InvoiceAdmin(MerchantScopedAdminMixin, ModelAdmin):
    """Invoices are issued by the invoices service: a read-only list, the PDF served through the admin."""

    merchant_scope_lookup = "order__merchant"
    actions = None
    list_display = ["number", "order_number", "financial_year", "issued_at", "pdf_link"]
    list_filter = ["financial_year"]
    search_fields = ["=number", "=order__number"]
    list_select_related = ["order"]
    fields = ["number", "order", "financial_year", "sequence", "issued_at", "pdf_link"]
    readonly_fields = ["number", "order", "financial_year", "sequence", "issued_at", "pdf_link"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(description="Order", ordering="order__number")
    def order_number(self, obj: Invoice) -> str:
        return obj.order.number

    @display(description="PDF")
    def pdf_link(self, obj: Invoice) -> str:
        return format_html('<a href="{}">PDF</a>', reverse("admin:orders_invoice_pdf", args=[obj.pk]))

    def get_urls(self):
        pdf = path("<int:invoice_id>/pdf/", self.admin_site.admin_view(self.pdf_view), name="orders_invoice_pdf")
        return [pdf, *super().get_urls()]

    def pdf_view(self, request: HttpRequest, invoice_id: int) -> FileResponse:
        """The stored PDF, to staff who may view this invoice (merchant staff: their merchants' only)."""
        if not self.has_view_permission(request):
            raise Http404("No such invoice.")
        invoice = self.get_queryset(request).filter(pk=invoice_id).first()
        if invoice is None or not invoice.pdf:
            raise Http404("No such invoice.")
        try:
            handle = invoice.pdf.open("rb")
        except FileNotFoundError:
            raise Http404("The invoice's file is missing.") from None
        return FileResponse(handle, content_type="application/pdf", filename=f"{invoice.number.replace('/', '-')}.pdf")


# --- the sales overview ---------------------------------------------------------------------------------


@admin.register(SalesOverview)
class SalesOverviewAdmin(ModelAdmin):
    """The sales overview (see :mod:`commerce.orders.reports`) in place of a list: for holders of
    ``orders.view_salesoverview``, limited to their merchants for merchant staff."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("orders.view_salesoverview")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        requested = request.GET.get("currency")
        report = reports.sales_report(
            scope=merchant_ids_for_user(request.user),
            today=timezone.localdate(),
            currency=requested if isinstance(requested, str) and len(requested) == 3 else None,
        )
        currency = report.currency

        def amount(value) -> str:
            return money_text(value, currency) if value is not None else "-"

        def top(rows: tuple[reports.ProductSales, ...]) -> dict[str, Any]:
            return {
                "headers": ["Product", "Units", "Revenue"],
                "rows": [[row.title, row.units, amount(row.revenue)] for row in rows],
            }

        context = {
            **self.admin_site.each_context(request),
            "title": "Sales overview",
            "opts": self.opts,
            "report": report,
            "figures": [
                ("Orders", report.orders),
                ("Paid orders", report.paid_orders),
                ("Revenue", amount(report.revenue)),
                ("Average order value", amount(report.average)),
            ],
            "chart": reports.sales_chart_svg(report),
            "top_units_table": top(report.top_by_units),
            "top_revenue_table": top(report.top_by_revenue),
            "days_table": {
                "headers": ["Day", "Orders", "Paid orders", "Revenue", "Average order value"],
                "rows": [
                    [
                        day.day.strftime("%a %d %b"),
                        day.orders,
                        day.paid_orders,
                        amount(day.revenue),
                        amount(day.average),
                    ]
                    for day in reversed(report.days)
                ],
            },
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/orders/sales_overview.html", context)
