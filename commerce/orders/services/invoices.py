"""Invoices: issued once per paid order, numbered from a gap-free sequence per Indian financial year, drawn as a
PDF (:mod:`commerce.orders.invoice_pdf`) and stored with the default storage.

Rules, including the decisions the issue leaves open:

* **Who and when**: the owner of an order whose payment status is ``paid``, ``partially_refunded`` or
  ``refunded`` (an order that was paid, whatever happened to it since: a refund is not undone by withholding
  the invoice). An unpaid order is 409 ``invoice_unavailable``; another user's or an unknown order 404.
* **Once**: the first request issues the invoice; every later one serves the stored file. Issuing locks the
  order row first, then re-checks on the locked row, so two first requests at once make one invoice: the second
  waits for the first to commit and then finds its invoice.
* **Numbers** ``INV/2026-27/000001``: the financial year runs April to March by the date in India
  (Asia/Kolkata) when the invoice is issued, not when the order was placed or paid. The year's
  :class:`~commerce.orders.models.InvoiceSequence` row is created if missing (insert-if-absent, safe against a
  concurrent first invoice of the year) and locked with ``SELECT ... FOR UPDATE`` in the same transaction as
  the :class:`~commerce.orders.models.Invoice` row, so a number is taken exactly when an invoice commits: no
  gaps, no duplicates (also a UNIQUE constraint). Invoices are issued one at a time per year while that lock is
  held (drawing the PDF included, a few tens of milliseconds).
* **The file** (``invoices/<year>/INV-2026-27-000001-<random>.pdf``; it holds personal data: keep media private)
  is written to storage before the transaction commits; if the commit then fails, the file stays
  behind unreferenced (harmless: the number was not taken, and the retry writes a new file). A storage that is
  down is 503 ``service_unavailable``. If a stored file goes missing later, the next request draws the same
  invoice again (same number and date; drawing is deterministic) and stores it.
* **Events**: an ``invoiced`` :class:`~commerce.orders.models.OrderEvent` (not shopper-visible: the shopper
  asked for the invoice; the event is for staff) with the invoice number.
* An invoice is never re-issued or changed: refunds after it are the business of credit notes, not of this one.
"""

import secrets
from datetime import datetime
from decimal import Decimal
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from commerce.core.errors import Conflict, DependencyUnavailable, NotFoundError

from ..invoice_pdf import INDIA, InvoiceDocument, InvoiceLine, Seller, invoice_pdf_render
from ..models import (
    Invoice,
    InvoiceSequence,
    Order,
    OrderAdjustment,
    OrderEvent,
    OrderEventType,
    OrderLine,
    PaymentStatus,
)

NUMBER_MAX_LENGTH = int(getattr(Order._meta.get_field("number"), "max_length", 16))
INVOICEABLE = frozenset({PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED})


def financial_year(moment: datetime) -> str:
    """The Indian financial year (April to March) of ``moment``'s date in India: ``"2026-27"``."""
    day = moment.astimezone(INDIA).date()
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def invoice_number(*, year: str, sequence: int) -> str:
    return f"INV/{year}/{sequence:06d}"


def invoice_file_name(invoice: Invoice) -> str:
    """The name a downloaded invoice gets (its number without slashes): ``INV-2026-27-000001.pdf``."""
    return f"{invoice.number.replace('/', '-')}.pdf"


def _storage_name(invoice: Invoice) -> str:
    """The stored file's name: the download name plus a random part, so that even a storage exposed by mistake
    (media served publicly) does not hand out invoices to anyone counting numbers."""
    return f"{invoice.number.replace('/', '-')}-{secrets.token_hex(8)}.pdf"


def _unavailable() -> Conflict:
    return Conflict(
        "The invoice is available once the order is paid.",
        code="invoice_unavailable",
    )


def _document(invoice: Invoice, order: Order) -> InvoiceDocument:
    lines = list(OrderLine.objects.filter(order=order).order_by("id"))
    adjustments = list(OrderAdjustment.objects.filter(order=order).order_by("id"))
    line_tax = sum((line.tax for line in lines), Decimal("0.00"))
    return InvoiceDocument(
        number=invoice.number,
        issued_at=invoice.issued_at,
        order_number=order.number,
        placed_at=order.placed_at,
        currency=order.currency,
        seller=Seller(
            name=str(settings.INVOICE_SELLER_NAME),
            address=str(settings.INVOICE_SELLER_ADDRESS),
            tax_id=str(settings.INVOICE_SELLER_TAX_ID),
        ),
        merchant=order.merchant.name,
        buyer_address={key: str(value) for key, value in (order.shipping_address or {}).items()},
        buyer_email=order.email,
        buyer_phone=order.phone,
        lines=[
            InvoiceLine(
                title=line.product_title + _options(line.options),
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                tax_rate=line.tax_rate,
                tax=line.tax,
                amount=line.line_total - line.discount,
            )
            for line in lines
        ],
        subtotal=order.subtotal,
        coupon_code=order.coupon_code,
        discount=order.discount,
        adjustments=[(adjustment.label, adjustment.amount) for adjustment in adjustments],
        shipping=order.shipping,
        shipping_tax=max(order.tax - line_tax, Decimal("0.00")),
        tax=order.tax,
        total=order.total,
    )


def _options(options: object) -> str:
    """A variant's options as printed after its title: `` (size: M, colour: Blue)``."""
    if not isinstance(options, dict) or not options:
        return ""
    return " (" + ", ".join(f"{key}: {value}" for key, value in options.items()) + ")"


def _store(invoice: Invoice, order: Order) -> None:
    """Draw the invoice and put the file in storage (``invoice.pdf`` names it; the row is not saved here)."""
    content = invoice_pdf_render(_document(invoice, order))
    try:
        invoice.pdf.save(_storage_name(invoice), ContentFile(content), save=False)
    except OSError as exc:
        raise DependencyUnavailable("Invoices cannot be stored right now; try again shortly.") from exc


def invoice_issue(*, order_id: int, actor: User | None = None) -> Invoice:
    """The order's invoice, issued now if it has none (see the module for the rules). 409
    ``invoice_unavailable`` for an order that was never paid. ``actor``: who asked (the event's actor)."""
    existing = Invoice.objects.filter(order_id=order_id).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("merchant").filter(pk=order_id).first()
        if order is None:
            raise NotFoundError("No such order.")
        existing = Invoice.objects.filter(order_id=order_id).first()
        if existing is not None:  # issued by a request that held the lock before us
            return existing
        if order.payment_status not in INVOICEABLE:
            raise _unavailable()
        issued_at = timezone.now()
        year = financial_year(issued_at)
        InvoiceSequence.objects.bulk_create([InvoiceSequence(financial_year=year)], ignore_conflicts=True)
        sequence = InvoiceSequence.objects.select_for_update().get(financial_year=year)
        sequence.last_number += 1
        invoice = Invoice(
            order=order,
            financial_year=year,
            sequence=sequence.last_number,
            number=invoice_number(year=year, sequence=sequence.last_number),
            issued_at=issued_at,
        )
        _store(invoice, order)
        invoice.save(force_insert=True)
        sequence.save(update_fields=["last_number"])
        OrderEvent.objects.create(
            order=order,
            type=OrderEventType.INVOICED,
            from_status=order.status,
            to_status=order.status,
            note=f"Invoice {invoice.number} issued.",
            data={"invoice": invoice.number},
            shopper_visible=False,
            actor=actor,
            created_at=issued_at,
        )
    return invoice


def invoice_for_shopper(*, user: User, number: str) -> Invoice:
    """The invoice of ``user``'s order ``number``, issued on the first request. 404 for another user's or an
    unknown order; 409 ``invoice_unavailable`` while it is unpaid. One query when the invoice exists."""
    if len(number) > NUMBER_MAX_LENGTH or "\x00" in number:  # no such number; PostgreSQL refuses NUL in text
        raise NotFoundError("No such order.")
    order = Order.objects.filter(user=user, number=number).select_related("invoice").first()
    if order is None:
        raise NotFoundError("No such order.")
    try:
        return order.invoice
    except Invoice.DoesNotExist:
        pass
    if order.payment_status not in INVOICEABLE:
        raise _unavailable()
    return invoice_issue(order_id=order.pk, actor=user)


def invoice_open(*, invoice: Invoice) -> IO[bytes]:
    """The stored PDF, open for reading. A file gone missing from storage is drawn again (the same invoice) and
    stored, under a lock on the invoice row so two requests do not both write it."""
    try:
        return invoice.pdf.open("rb")
    except (FileNotFoundError, ValueError):
        pass
    except OSError as exc:
        raise DependencyUnavailable("Invoices cannot be read right now; try again shortly.") from exc
    with transaction.atomic():
        locked = Invoice.objects.select_for_update(of=("self",)).select_related("order__merchant").get(pk=invoice.pk)
        if not locked.pdf.name or not locked.pdf.storage.exists(locked.pdf.name):
            _store(locked, locked.order)
            locked.save(update_fields=["pdf"])
    try:
        return locked.pdf.open("rb")
    except OSError as exc:
        raise DependencyUnavailable("Invoices cannot be read right now; try again shortly.") from exc
