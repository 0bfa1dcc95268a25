"""Invoices (``GET orders/{number}/invoice``): the PDF's text read back with pypdf, issued once and stored,
gap-free numbers per Indian financial year, who may have one, non-Latin text, and (PostgreSQL) two first requests
at once."""

import io
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.files.storage import FileSystemStorage, default_storage
from pypdf import PdfReader
from rest_framework.test import APIClient

from commerce.orders.invoice_pdf import pdf_text
from commerce.orders.models import (
    CategoryTaxRate,
    Invoice,
    InvoiceSequence,
    Order,
    OrderAdjustment,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)
from commerce.orders.services.invoices import financial_year, invoice_for_shopper
from tests.catalog.factories import CategoryFactory
from tests.concurrency import run_together
from tests.factories import UserFactory
from tests.orders.factories import order_build

# 10:00 in India on 22 Nov 2026: financial year 2026-27.
NOW = "2026-11-22 04:30:00Z"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.INVOICE_SELLER_NAME = "Bazaar Retail Pvt. Ltd."
    settings.INVOICE_SELLER_ADDRESS = "12 MG Road, Bengaluru 560001"
    settings.INVOICE_SELLER_TAX_ID = "29ABCDE1234F1Z5"


def _url(order) -> str:
    return f"/api/v1/orders/{order.number}/invoice"


def _pdf_bytes(response) -> bytes:
    return b"".join(response.streaming_content)


def _text(content: bytes) -> str:
    """The PDF's text, runs of whitespace (line and cell breaks) as one space."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def _paid(shopper, tshirt, **kwargs):
    return order_build(user=shopper, lines=[(tshirt, 2)], status=OrderStatus.PAID, number="ORD-7K3M9Q", **kwargs)


@time_machine.travel(NOW, tick=False)
def test_invoice_pdf_has_seller_buyer_numbers_lines_tax_and_totals(shopper, shopper_client, make_variant, tshirt):
    mug = make_variant(sku="MUG-1", price="250.00", title="Clay mug", category=CategoryFactory(name="Kitchen"))
    CategoryTaxRate.objects.create(category=mug.product.category, rate=Decimal("5.00"))
    order = order_build(
        user=shopper, lines=[(tshirt, 2), (mug, 1)], status=OrderStatus.PAID, number="ORD-7K3M9Q", shipping="49.00"
    )
    # A coupon of 100.00 (shared 80.00 / 20.00) and 50.00 of points on the t-shirts; shipping carries 7.47 tax.
    OrderLine.objects.filter(order=order, sku="TSHIRT-M").update(discount=Decimal("130.00"), tax=Decimal("132.41"))
    OrderLine.objects.filter(order=order, sku="MUG-1").update(discount=Decimal("20.00"), tax=Decimal("10.95"))
    OrderAdjustment.objects.create(order=order, source="loyalty_points", label="Loyalty points", amount=Decimal("50"))
    Order.objects.filter(pk=order.pk).update(
        coupon_code="SAVE100",
        discount=Decimal("100.00"),
        adjustments_total=Decimal("50.00"),
        tax=Decimal("150.83"),
        total=Decimal("1147.00"),
    )

    response = shopper_client.get(_url(order))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="INV-2026-27-000001.pdf"'
    text = _text(_pdf_bytes(response))
    for expected in [
        "Tax Invoice",
        "Bazaar Retail Pvt. Ltd.",
        "12 MG Road, Bengaluru 560001",
        "GSTIN: 29ABCDE1234F1Z5",
        "Merchant: Threads",
        "Invoice number: INV/2026-27/000001",
        "Invoice date: 22 Nov 2026",
        "Order number: ORD-7K3M9Q",
        "Order date: 22 Nov 2026",
        "Currency: INR",
        "Asha Rao",
        "14 Residency Road",
        "Flat 3B",
        "Bengaluru 560025",
        "Karnataka, IN",
        "Phone: +919812345678",
        "Email: shopper@example.com",
        # lines: #, title, SKU, qty, unit price, discount, rate, tax, amount
        "1 Cotton T-shirt TSHIRT-M 2 499.00 130.00 18% 132.41 868.00",
        "2 Clay mug MUG-1 1 250.00 20.00 5% 10.95 230.00",
        "Subtotal 1248.00",
        "Coupon SAVE100 -100.00",
        "Loyalty points -50.00",
        "Shipping 49.00",
        "Total (INR) 1147.00",
        "Tax included in total 150.83",
        # breakdown: taxable value = amount - tax
        "5% 219.05 10.95",
        "18% 735.59 132.41",
        "Shipping 41.53 7.47",
    ]:
        assert expected in text, expected
    invoice = Invoice.objects.get()
    assert (invoice.order_id, invoice.number, invoice.financial_year, invoice.sequence) == (
        order.pk,
        "INV/2026-27/000001",
        "2026-27",
        1,
    )
    assert re.fullmatch(r"invoices/2026/INV-2026-27-000001-[0-9a-f]{16}\.pdf", invoice.pdf.name)


@time_machine.travel(NOW, tick=False)
def test_the_second_request_serves_the_stored_file(shopper, shopper_client, tshirt, django_assert_num_queries):
    order = _paid(shopper, tshirt)
    first = _pdf_bytes(shopper_client.get(_url(order)))
    stored_name = Invoice.objects.get().pdf.name

    with django_assert_num_queries(1):  # the order with its invoice; the file comes from storage
        second = shopper_client.get(_url(order))

    assert second.status_code == 200
    assert _pdf_bytes(second) == first
    with default_storage.open(stored_name, "rb") as stored:
        assert stored.read() == first
    assert Invoice.objects.count() == 1
    assert InvoiceSequence.objects.get().last_number == 1
    assert OrderEvent.objects.filter(order=order, type="invoiced").count() == 1


@time_machine.travel(NOW, tick=False)
def test_issuing_writes_a_staff_only_invoiced_event(shopper, shopper_client, tshirt):
    order = _paid(shopper, tshirt)

    shopper_client.get(_url(order))

    event = OrderEvent.objects.get(order=order, type="invoiced")
    assert (event.note, event.data, event.shopper_visible) == (
        "Invoice INV/2026-27/000001 issued.",
        {"invoice": "INV/2026-27/000001"},
        False,
    )
    assert (event.from_status, event.to_status) == ("paid", "paid")
    assert event.actor_id == shopper.pk


@time_machine.travel(NOW, tick=False)
def test_issuing_has_a_fixed_query_budget(shopper, shopper_client, tshirt, make_variant, django_assert_num_queries):
    lines = [(tshirt, 1)] + [(make_variant(sku=f"SKU-{i}"), 1) for i in range(6)]
    order = order_build(user=shopper, lines=lines, status=OrderStatus.PAID)

    # order+invoice, savepoint, invoice?, lock order, invoice?, ensure year, lock year, lines, adjustments,
    # insert invoice, update year, insert event, release
    with django_assert_num_queries(13):
        assert shopper_client.get(_url(order)).status_code == 200


@time_machine.travel(NOW, tick=False)
def test_many_lines_flow_onto_more_pages(shopper, shopper_client, make_variant):
    lines = [(make_variant(sku=f"BULK-{i:02d}", title=f"Item {i:02d}"), 1) for i in range(45)]
    order = order_build(user=shopper, lines=lines, status=OrderStatus.PAID)

    content = _pdf_bytes(shopper_client.get(_url(order)))

    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) == 2
    text = _text(content)
    assert all(f"{i + 1} Item {i:02d} BULK-{i:02d} 1 499.00" in text for i in range(45))
    assert "Invoice INV/2026-27/000001, page 2" in text
    assert "Total (INR) 22455.00" in text


@pytest.mark.parametrize(
    ("status", "payment_status"),
    [
        (OrderStatus.PENDING_PAYMENT, PaymentStatus.UNPAID),
        (OrderStatus.CANCELLED, PaymentStatus.UNPAID),
        (OrderStatus.EXPIRED, PaymentStatus.UNPAID),
    ],
)
def test_an_unpaid_order_has_no_invoice_and_burns_no_number(shopper, shopper_client, tshirt, status, payment_status):
    order = order_build(user=shopper, lines=[(tshirt, 1)], status=status, payment_status=payment_status)

    response = shopper_client.get(_url(order))

    assert response.status_code == 409
    assert response.json() == {
        "code": "invoice_unavailable",
        "detail": "The invoice is available once the order is paid.",
    }
    assert Invoice.objects.count() == 0
    assert InvoiceSequence.objects.count() == 0


@pytest.mark.parametrize(
    ("status", "payment_status"),
    [
        (OrderStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED),
        (OrderStatus.CANCELLED, PaymentStatus.REFUNDED),
        (OrderStatus.FULFILLED, PaymentStatus.PAID),
        (OrderStatus.DELIVERED, PaymentStatus.PAID),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_an_order_that_was_paid_has_an_invoice(shopper, shopper_client, tshirt, status, payment_status):
    order = order_build(user=shopper, lines=[(tshirt, 1)], status=status, payment_status=payment_status)

    response = shopper_client.get(_url(order))

    assert response.status_code == 200
    assert "INV/2026-27/000001" in _text(_pdf_bytes(response))


def test_another_users_or_an_unknown_order_is_not_found_as_json(shopper_client, tshirt):
    other = order_build(user=UserFactory(), lines=[(tshirt, 1)], status=OrderStatus.PAID)

    for url in (
        _url(other),
        "/api/v1/orders/ORD-NOSUCH/invoice",
        "/api/v1/orders/ORD-%00/invoice",
        f"/api/v1/orders/{'X' * 5000}/invoice",
        "/api/v1/orders/%E0%A4%86%F0%9F%98%80/invoice",
    ):
        response = shopper_client.get(url, HTTP_ACCEPT="application/pdf")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"code": "not_found", "detail": "No such order."}
    assert Invoice.objects.count() == 0


def test_an_unpaid_order_answers_json_even_to_a_client_asking_for_pdf(shopper, shopper_client, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 1)])

    response = shopper_client.get(_url(order), HTTP_ACCEPT="application/pdf")

    assert response.status_code == 409
    assert response.json()["code"] == "invoice_unavailable"


def test_the_invoice_needs_authentication(shopper, tshirt):
    order = _paid(shopper, tshirt)

    response = APIClient().get(_url(order))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert Invoice.objects.count() == 0


def test_numbers_are_gap_free_and_restart_with_the_indian_financial_year(shopper, shopper_client, make_variant):
    orders = [
        order_build(user=shopper, lines=[(make_variant(sku=f"SKU-{i}"), 1)], status=OrderStatus.PAID) for i in range(4)
    ]
    unpaid = order_build(user=shopper, lines=[(make_variant(sku="SKU-U"), 1)])
    numbers = []
    # 31 March 2027, 23:00 in India (17:30 UTC): still 2026-27. An unpaid order in between takes no number.
    with time_machine.travel("2027-03-31 17:30:00Z", tick=False):
        numbers.append(Invoice.objects.get(pk=_issue(shopper_client, orders[0])).number)
        assert shopper_client.get(_url(unpaid)).status_code == 409
        numbers.append(Invoice.objects.get(pk=_issue(shopper_client, orders[1])).number)
    # 1 April 2027, 00:30 in India, while it is still 31 March in UTC: 2027-28 starts at 1.
    with time_machine.travel("2027-03-31 19:00:00Z", tick=False):
        numbers.append(Invoice.objects.get(pk=_issue(shopper_client, orders[2])).number)
        numbers.append(Invoice.objects.get(pk=_issue(shopper_client, orders[3])).number)
        # the first order's invoice stays what it was
        assert Invoice.objects.get(order=orders[0]).number == "INV/2026-27/000001"
        _issue(shopper_client, orders[0])

    assert numbers == ["INV/2026-27/000001", "INV/2026-27/000002", "INV/2027-28/000001", "INV/2027-28/000002"]
    assert dict(InvoiceSequence.objects.values_list("financial_year", "last_number")) == {"2026-27": 2, "2027-28": 2}
    assert Invoice.objects.count() == 4


def _issue(client, order) -> int:
    response = client.get(_url(order))
    assert response.status_code == 200
    _pdf_bytes(response)
    return Invoice.objects.get(order=order).pk


@pytest.mark.parametrize(
    ("moment", "year"),
    [
        ("2026-04-01 00:00:00+05:30", "2026-27"),
        ("2026-03-31 23:59:59+05:30", "2025-26"),
        ("2027-01-15 12:00:00+05:30", "2026-27"),
        ("2099-12-31 12:00:00+05:30", "2099-00"),
    ],
)
def test_financial_year_runs_april_to_march_in_india(moment, year):
    from datetime import datetime

    assert financial_year(datetime.fromisoformat(moment)) == year


@time_machine.travel(NOW, tick=False)
def test_devanagari_and_other_scripts_do_not_crash_and_are_transliterated(shopper, shopper_client, tshirt):
    order = _paid(shopper, tshirt)
    address = {**order.shipping_address, "name": "आशा राव", "line1": "१४ रेसिडेंसी रोड", "city": "बेंगलुरु"}
    Order.objects.filter(pk=order.pk).update(shipping_address=address)
    OrderLine.objects.filter(order=order).update(product_title="सूती टी-शर्ट 北京 Łódź <b>&")

    response = shopper_client.get(_url(order))

    assert response.status_code == 200
    text = _text(_pdf_bytes(response))
    assert "Aashaa Raav" in text
    assert "14 Residensii Rod" in text
    assert "Bengaluru" in text
    assert "Suutii Tii-shart ?? Lódz <b>&" in text


def test_pdf_text_keeps_western_text_and_transliterates_the_rest():
    assert pdf_text("Zoë Müller, Café") == "Zoë Müller, Café"
    assert pdf_text("आशा राव") == "Aashaa Raav"
    assert pdf_text("राम") == "Raam"  # word-final inherent vowel dropped in Devanagari
    assert pdf_text("கொச்சி") == "Kochchi"  # Tamil keeps it where written
    assert pdf_text("சென்னை") == "Chennai"
    assert pdf_text("ಬೆಂಗಳೂರು") == "Bengaluuru"
    assert pdf_text("कंपनी") == "Kampanii"  # anusvara before p is m
    assert pdf_text("ক্ষ") == "Ksha"
    assert pdf_text("Ω ≠ 北") == "? ? ?"
    assert pdf_text("tab\there\u200b") == "tabhere"


@time_machine.travel(NOW, tick=False)
def test_a_stored_file_gone_missing_is_drawn_again_identically(shopper, shopper_client, tshirt):
    order = _paid(shopper, tshirt)
    first = _pdf_bytes(shopper_client.get(_url(order)))
    invoice = Invoice.objects.get()
    default_storage.delete(invoice.pdf.name)

    response = shopper_client.get(_url(order))

    assert response.status_code == 200
    assert _pdf_bytes(response) == first
    invoice.refresh_from_db()
    assert default_storage.exists(invoice.pdf.name)
    assert (Invoice.objects.count(), InvoiceSequence.objects.get().last_number) == (1, 1)


@time_machine.travel(NOW, tick=False)
def test_storage_down_is_503_and_takes_no_number(shopper, shopper_client, tshirt, monkeypatch):
    order = _paid(shopper, tshirt)

    def refuse(self, name, content):
        raise OSError("disk full")

    monkeypatch.setattr(FileSystemStorage, "_save", refuse)
    response = shopper_client.get(_url(order))

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert Invoice.objects.count() == 0
    assert not InvoiceSequence.objects.filter(last_number__gt=0).exists()
    assert not OrderEvent.objects.filter(type="invoiced").exists()


def test_the_schema_documents_a_pdf_and_the_json_errors(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/orders/{number}/invoice"]["get"]

    assert list(operation["responses"]["200"]["content"]) == ["application/pdf"]
    assert {"401", "404", "409"} <= set(operation["responses"])
    assert list(operation["responses"]["409"]["content"]) == ["application/json"]


# --- concurrency (PostgreSQL) -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@time_machine.travel(NOW, tick=False)
def test_two_first_requests_at_once_make_one_invoice_and_take_one_number(make_variant):
    shopper = UserFactory()
    order = order_build(user=shopper, lines=[(make_variant(sku="RACE-1"), 1)], status=OrderStatus.PAID)

    def ask():
        return invoice_for_shopper(user=shopper, number=order.number).number

    assert run_together([ask, ask]) == [{"value": "INV/2026-27/000001"}] * 2
    assert Invoice.objects.count() == 1
    assert InvoiceSequence.objects.get().last_number == 1
    assert OrderEvent.objects.filter(order=order, type="invoiced").count() == 1
