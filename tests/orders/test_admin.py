"""The orders back office: the list, search and filters, read-only pages, the actions through the transitions
services, merchant scoping, and what support may (and may not) do."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEntry
from accounts.roles import ADMIN, CATALOG_MANAGER, FINANCE, MERCHANT_STAFF, SUPPORT
from commerce.orders.models import (
    CategoryTaxRate,
    MerchantShipping,
    Order,
    OrderEvent,
    OrderStatus,
    PaymentStatus,
)
from tests.catalog.factories import CategoryFactory, MerchantFactory, MerchantMembershipFactory
from tests.factories import StaffFactory, UserFactory

from .factories import order_build

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
SAVE_BUTTONS = ('name="_save"', 'name="_continue"', 'name="_addanother"')


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def staff(*roles, merchant=None, **fields):
    user = StaffFactory(**fields)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    if merchant is not None:
        MerchantMembershipFactory(merchant=merchant, user=user)
    return user


def change_url(order: Order) -> str:
    return f"/admin/orders/order/{order.pk}/change/"


def offered_actions(page: str) -> list[str]:
    if 'name="action"' not in page:
        return []
    return re.findall(r'<option value="(\w+)"', page.split('name="action"', 1)[1].split("</select>", 1)[0])


def run_action(client, action: str, orders, **data):
    """POST an action from the list, as its "Run" button does (``index``), or its form page (``apply``)."""
    payload = {"action": action, "_selected_action": [order.pk for order in orders], **data}
    if "apply" not in data:
        payload["index"] = "0"
    return client.post(CHANGELIST, payload, follow=True)


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(name="Globex", slug="globex")


@pytest.fixture
def paid_order(tshirt, shopper):
    return order_build(user=shopper, lines=[(tshirt, 2)], status=OrderStatus.PAID, number="ORD-PAID01")


@pytest.fixture
def foreign_order(make_variant, other_merchant):
    mug = make_variant(sku="MUG-1", price="250.00", merchant=other_merchant, title="Globex mug")
    buyer = UserFactory(email="someone@example.com", phone="+919800000001")
    return order_build(user=buyer, lines=[(mug, 1)], status=OrderStatus.PAID, number="ORD-OTHER1")


# --- the list ---------------------------------------------------------------------------------------------


def test_the_list_shows_number_shopper_merchant_statuses_total_and_date(client, admin_login, paid_order):
    admin_login(staff(ADMIN))

    page = client.get(CHANGELIST).content.decode()

    assert "ORD-PAID01" in page
    assert "shopper@example.com" in page
    assert "Threads" in page
    assert "Paid" in page
    assert "998.00 INR" in page
    assert "/admin/orders/order/add/" not in page


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("ORD-PAID01", ["ORD-PAID01"]),
        ("paid01", ["ORD-PAID01"]),
        ("shopper@example.com", ["ORD-PAID01"]),
        ("+919812345678", ["ORD-PAID01"]),
        ("someone@", ["ORD-OTHER1"]),
        ("9800000001", ["ORD-OTHER1"]),
        ("ORD-NOPE", []),
        ("\u202e%_", []),
    ],
)
def test_search_by_number_email_or_phone(client, admin_login, paid_order, foreign_order, term, found):
    admin_login(staff(ADMIN))

    response = client.get(CHANGELIST, {"q": term})

    assert response.status_code == 200
    assert [order.number for order in response.context["cl"].result_list] == found


def test_filters_by_status_payment_status_merchant_and_date(
    client, admin_login, paid_order, foreign_order, tshirt, other_merchant
):
    pending = order_build(lines=[(tshirt, 1)], number="ORD-PEND01")
    admin_login(staff(ADMIN))

    def numbers(**query) -> list[str]:
        response = client.get(CHANGELIST, query)
        assert response.status_code == 200
        return sorted(order.number for order in response.context["cl"].result_list)

    assert numbers(status__exact="pending_payment") == [pending.number]
    assert numbers(payment_status__exact="paid") == ["ORD-OTHER1", "ORD-PAID01"]
    assert numbers(merchant__id__exact=other_merchant.pk) == ["ORD-OTHER1"]
    assert numbers(placed_at__gte="2026-05-04 00:00:00+00:00", placed_at__lt="2026-05-05 00:00:00+00:00") == [
        "ORD-OTHER1",
        "ORD-PAID01",
        "ORD-PEND01",
    ]
    assert numbers(placed_at__gte="2026-05-05 00:00:00+00:00") == []


def test_an_orders_page_is_read_only_with_lines_and_history(client, admin_login, paid_order):
    admin_login(staff(ADMIN))

    response = client.get(change_url(paid_order))

    assert response.status_code == 200
    page = response.content.decode()
    assert [button for button in SAVE_BUTTONS if button in page] == []
    assert f"/admin/orders/order/{paid_order.pk}/delete/" not in page
    assert "TSHIRT-M" in page and "Cotton T-shirt" in page
    assert "499.00 INR" in page and "998.00 INR" in page
    assert "14 Residency Road" in page and "560025" in page
    assert "Placed" in page  # the history inline
    assert 'name="lines-0-quantity"' not in page  # nothing editable in the inlines
    assert "<textarea" not in page


def test_posting_the_order_form_changes_nothing(client, admin_login, paid_order):
    admin_login(staff(ADMIN))

    response = client.post(change_url(paid_order), {"status": "delivered", "total": "1.00"})

    assert response.status_code == 403
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.total) == (OrderStatus.PAID, Decimal("998.00"))


def test_orders_cannot_be_added_or_deleted_even_by_a_superuser(client, admin_login, paid_order):
    admin_login(StaffFactory(is_superuser=True))

    assert client.get("/admin/orders/order/add/").status_code == 403
    assert client.post(f"/admin/orders/order/{paid_order.pk}/delete/", {"post": "yes"}).status_code == 403
    assert offered_actions(client.get(CHANGELIST).content.decode()) == [
        "mark_fulfilled",
        "mark_delivered",
        "cancel_orders",
    ]
    assert Order.objects.filter(pk=paid_order.pk).exists()


# --- actions ----------------------------------------------------------------------------------------------


def test_mark_fulfilled_asks_for_carrier_and_tracking_then_fulfils(client, admin_login, paid_order):
    clerk = staff(ADMIN)
    admin_login(clerk)

    form_page = run_action(client, "mark_fulfilled", [paid_order])
    assert form_page.status_code == 200
    html = form_page.content.decode()
    assert 'data-order-action="mark_fulfilled"' in html
    assert 'name="carrier"' in html and 'name="tracking_number"' in html
    paid_order.refresh_from_db()
    assert paid_order.status == OrderStatus.PAID  # nothing happens before the form is sent

    done = run_action(
        client, "mark_fulfilled", [paid_order], apply="yes", carrier=" Blue Dart ", tracking_number="BD123456789IN"
    )

    assert done.status_code == 200
    assert page_messages(done) == ["Marked fulfilled: ORD-PAID01."]
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.carrier, paid_order.tracking_number) == (
        OrderStatus.FULFILLED,
        "Blue Dart",
        "BD123456789IN",
    )
    event = OrderEvent.objects.get(order=paid_order, type="fulfilled")
    assert (event.actor_id, event.from_status, event.to_status) == (clerk.pk, "paid", "fulfilled")


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"carrier": "", "tracking_number": "BD1"}, "carrier", "This field is required."),
        ({"carrier": "Blue Dart", "tracking_number": "   "}, "tracking_number", "This field is required."),
        ({"carrier": "Blue Dart", "tracking_number": "BD 12"}, "tracking_number", "A tracking number has no spaces."),
        (
            {"carrier": "Blue\u202eDart", "tracking_number": "BD1"},
            "carrier",
            "The carrier holds invisible or control characters.",
        ),
        (
            {"carrier": "Blue Dart", "tracking_number": "BD1\x00"},
            "tracking_number",
            "Null characters are not allowed.",
        ),
        (
            {"carrier": "Blue Dart", "tracking_number": "9" * 81},
            "tracking_number",
            "Ensure this value has at most 80 characters (it has 81).",
        ),
    ],
)
def test_mark_fulfilled_refuses_bad_input_and_changes_nothing(client, admin_login, paid_order, data, field, error):
    admin_login(staff(ADMIN))

    response = run_action(client, "mark_fulfilled", [paid_order], apply="yes", **data)

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [error]
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.tracking_number) == (OrderStatus.PAID, "")


def test_mark_fulfilled_takes_one_order_at_a_time(client, admin_login, paid_order, tshirt):
    second = order_build(lines=[(tshirt, 1)], status=OrderStatus.PAID)
    admin_login(staff(ADMIN))

    response = run_action(
        client, "mark_fulfilled", [paid_order, second], apply="yes", carrier="DHL", tracking_number="X1"
    )

    assert page_messages(response) == ["Mark fulfilled one order at a time: each has its own tracking number."]
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PAID}


def test_a_refused_transition_is_a_message_not_an_error(client, admin_login, paid_order, tshirt):
    pending = order_build(lines=[(tshirt, 1)], number="ORD-PEND01")
    admin_login(staff(ADMIN))

    response = run_action(client, "mark_delivered", [pending, paid_order])

    assert response.status_code == 200
    messages = page_messages(response)
    assert messages == [
        "ORD-PAID01: Order ORD-PAID01 cannot go from paid to delivered.",
        "ORD-PEND01: Order ORD-PEND01 cannot go from pending_payment to delivered.",
    ]
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PENDING_PAYMENT, OrderStatus.PAID}


def test_mark_delivered_moves_a_fulfilled_order(client, admin_login, tshirt):
    shipped = order_build(lines=[(tshirt, 1)], status=OrderStatus.FULFILLED, number="ORD-SHIP01")
    admin_login(staff(ADMIN))

    response = run_action(client, "mark_delivered", [shipped])

    assert page_messages(response) == ["Delivered: ORD-SHIP01."]
    shipped.refresh_from_db()
    assert shipped.status == OrderStatus.DELIVERED
    assert shipped.delivered_at == NOW


def test_cancel_asks_for_a_reason_and_cancels_each_order(client, admin_login, paid_order, tshirt):
    pending = order_build(lines=[(tshirt, 1)], number="ORD-PEND01")
    clerk = staff(ADMIN)
    admin_login(clerk)

    asked = run_action(client, "cancel_orders", [pending, paid_order])
    assert 'data-order-action="cancel_orders"' in asked.content.decode()
    refused = run_action(client, "cancel_orders", [pending, paid_order], apply="yes", reason="  ")
    assert refused.context["form"].errors["reason"] == ["This field is required."]
    assert Order.objects.filter(status=OrderStatus.CANCELLED).count() == 0

    done = run_action(client, "cancel_orders", [pending, paid_order], apply="yes", reason="Out of stock at the shop")

    assert page_messages(done) == ["Cancelled: ORD-PAID01, ORD-PEND01."]
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.CANCELLED}
    # The reason is in each order's history (the transitions service decides which event carries it).
    noted = OrderEvent.objects.filter(note="Out of stock at the shop").values_list("order__number", flat=True)
    assert sorted(noted) == ["ORD-PAID01", "ORD-PEND01"]
    assert sorted(OrderEvent.objects.filter(type="cancelled").values_list("actor_id", flat=True)) == [clerk.pk] * 2
    tshirt.refresh_from_db()
    assert (tshirt.stock_on_hand, tshirt.stock_allocated) == (10, 0)  # both orders' units are back


# --- merchant staff ---------------------------------------------------------------------------------------


def test_merchant_staff_see_only_their_merchants_orders(client, admin_login, merchant, paid_order, foreign_order):
    admin_login(staff(MERCHANT_STAFF, merchant=merchant))

    listing = client.get(CHANGELIST)

    assert [order.number for order in listing.context["cl"].result_list] == ["ORD-PAID01"]
    assert "ORD-OTHER1" not in listing.content.decode()
    assert client.get(change_url(foreign_order)).status_code == 404
    assert client.get(change_url(paid_order)).status_code == 200
    assert client.get(CHANGELIST, {"q": "ORD-OTHER1"}).context["cl"].result_list.count() == 0


def test_merchant_staff_cannot_act_on_another_merchants_order(client, admin_login, merchant, foreign_order):
    admin_login(staff(MERCHANT_STAFF, merchant=merchant))

    run_action(client, "cancel_orders", [foreign_order], apply="yes", reason="Not mine")
    run_action(client, "mark_fulfilled", [foreign_order], apply="yes", carrier="DHL", tracking_number="X1")

    foreign_order.refresh_from_db()
    assert foreign_order.status == OrderStatus.PAID
    assert not OrderEvent.objects.filter(order=foreign_order).exclude(type="placed").exists()


def test_merchant_staff_fulfil_their_own_orders(client, admin_login, merchant, paid_order):
    admin_login(staff(MERCHANT_STAFF, merchant=merchant))

    run_action(client, "mark_fulfilled", [paid_order], apply="yes", carrier="DHL", tracking_number="JD01")

    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.tracking_number) == (OrderStatus.FULFILLED, "JD01")


# --- support ----------------------------------------------------------------------------------------------


def test_support_sees_every_order_and_may_only_mark_delivered(client, admin_login, paid_order, foreign_order):
    admin_login(staff(SUPPORT))

    listing = client.get(CHANGELIST)

    assert sorted(order.number for order in listing.context["cl"].result_list) == ["ORD-OTHER1", "ORD-PAID01"]
    assert offered_actions(listing.content.decode()) == ["mark_delivered"]
    detail = client.get(change_url(foreign_order))
    assert detail.status_code == 200
    assert [button for button in SAVE_BUTTONS if button in detail.content.decode()] == []


def test_support_cannot_cancel_or_fulfil(client, admin_login, paid_order):
    admin_login(staff(SUPPORT))

    cancel = run_action(client, "cancel_orders", [paid_order], apply="yes", reason="Shopper asked")
    fulfil = run_action(client, "mark_fulfilled", [paid_order], apply="yes", carrier="DHL", tracking_number="X1")

    assert page_messages(cancel) == ["No action selected."]
    assert page_messages(fulfil) == ["No action selected."]
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.payment_status) == (OrderStatus.PAID, PaymentStatus.PAID)


def test_support_marks_a_shipped_order_delivered(client, admin_login, tshirt):
    shipped = order_build(lines=[(tshirt, 1)], status=OrderStatus.FULFILLED, number="ORD-SHIP01")
    agent = staff(SUPPORT)
    admin_login(agent)

    response = run_action(client, "mark_delivered", [shipped])

    assert page_messages(response) == ["Delivered: ORD-SHIP01."]
    assert OrderEvent.objects.get(order=shipped, type="delivered").actor_id == agent.pk


@pytest.mark.parametrize("role", [CATALOG_MANAGER, None])
def test_roles_without_order_permissions_cannot_open_orders(client, admin_login, paid_order, role):
    admin_login(staff(role) if role else StaffFactory())

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(paid_order)).status_code == 403


# --- shipping, tax rates and invoices ---------------------------------------------------------------------


def test_merchant_staff_manage_only_their_merchants_shipping(client, admin_login, merchant, other_merchant):
    own = MerchantShipping.objects.create(merchant=merchant, flat_fee=Decimal("40.00"))
    theirs = MerchantShipping.objects.create(merchant=other_merchant, flat_fee=Decimal("60.00"))
    admin_login(staff(MERCHANT_STAFF, merchant=merchant))

    listing = client.get("/admin/orders/merchantshipping/")
    assert [row.pk for row in listing.context["cl"].result_list] == [own.pk]
    assert client.get(f"/admin/orders/merchantshipping/{theirs.pk}/change/").status_code == 404

    response = client.post(
        f"/admin/orders/merchantshipping/{own.pk}/change/", {"flat_fee": "49.00", "free_shipping_threshold": "999.00"}
    )

    assert response.status_code == 302
    own.refresh_from_db()
    assert (own.flat_fee, own.free_shipping_threshold, own.merchant_id) == (
        Decimal("49.00"),
        Decimal("999.00"),
        merchant.pk,
    )
    entry = AuditEntry.objects.get(action="orders.shipping.saved")
    assert entry.before["flat_fee"] == "40.00" and entry.after["flat_fee"] == "49.00"


def test_shipping_refuses_a_negative_fee(client, admin_login, merchant):
    admin_login(staff(ADMIN))

    response = client.post("/admin/orders/merchantshipping/add/", {"merchant": merchant.pk, "flat_fee": "-1"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "flat_fee": ["Ensure this value is greater than or equal to 0."]
    }
    assert not MerchantShipping.objects.exists()


def test_finance_sets_tax_rates_and_merchant_staff_cannot(client, admin_login, merchant):
    category = CategoryFactory(name="Books")
    admin_login(staff(MERCHANT_STAFF, merchant=merchant))
    assert client.get("/admin/orders/categorytaxrate/").status_code == 403

    admin_login(staff(FINANCE))
    response = client.post("/admin/orders/categorytaxrate/add/", {"category": category.pk, "rate": "5.00"})
    refused = client.post("/admin/orders/categorytaxrate/add/", {"category": CategoryFactory().pk, "rate": "100.01"})

    assert response.status_code == 302
    assert CategoryTaxRate.objects.get().rate == Decimal("5.00")
    assert refused.status_code == 200
    assert AuditEntry.objects.filter(action="orders.tax_rate.saved").count() == 1


def _invoice(order, number: str):
    from django.core.files.base import ContentFile

    from commerce.orders.models import Invoice

    invoice = Invoice(order=order, financial_year="2026-27", sequence=int(number[-4:]), number=number)
    invoice.pdf.save(f"{number}.pdf", ContentFile(b"%PDF-1.4 " + number.encode()), save=False)
    invoice.save()
    return invoice


def test_invoices_are_listed_read_only_and_their_pdf_served_within_scope(
    client, admin_login, settings, tmp_path, merchant, paid_order, foreign_order
):
    settings.MEDIA_ROOT = str(tmp_path)
    own = _invoice(paid_order, "INV/2026-27/0001")
    theirs = _invoice(foreign_order, "INV/2026-27/0002")
    admin_login(staff(MERCHANT_STAFF, merchant=merchant))

    listing = client.get("/admin/orders/invoice/")
    pdf = client.get(f"/admin/orders/invoice/{own.pk}/pdf/")

    assert [row.number for row in listing.context["cl"].result_list] == ["INV/2026-27/0001"]
    assert "/admin/orders/invoice/add/" not in listing.content.decode()
    assert offered_actions(listing.content.decode()) == []
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content) == b"%PDF-1.4 INV/2026-27/0001"
    assert client.get(f"/admin/orders/invoice/{theirs.pk}/pdf/").status_code == 404
    assert client.get(f"/admin/orders/invoice/{theirs.pk}/change/").status_code == 404
    assert client.get("/admin/orders/invoice/999999/pdf/").status_code == 404
    detail = client.get(f"/admin/orders/order/{paid_order.pk}/change/").content.decode()
    assert f'href="/admin/orders/invoice/{own.pk}/pdf/"' in detail


def test_an_invoice_pdf_needs_the_view_permission(client, admin_login, settings, tmp_path, paid_order):
    settings.MEDIA_ROOT = str(tmp_path)
    invoice = _invoice(paid_order, "INV/2026-27/0001")

    admin_login(staff(SUPPORT))
    assert client.get(f"/admin/orders/invoice/{invoice.pk}/pdf/").status_code == 200
    admin_login(staff(CATALOG_MANAGER))
    assert client.get(f"/admin/orders/invoice/{invoice.pk}/pdf/").status_code == 404


def test_an_orders_page_costs_the_same_queries_with_one_line_or_many(client, admin_login, make_variant):
    """Lines, reductions and events are one query per inline, whatever their number."""
    admin_login(staff(MERCHANT_STAFF, merchant=make_variant(sku="SKU-0").product.merchant))
    variants = [make_variant(sku=f"SKU-{index}") for index in range(1, 21)]
    small = order_build(lines=[(variants[0], 1)], status=OrderStatus.PAID)
    large = order_build(lines=[(variant, 2) for variant in variants], status=OrderStatus.PAID)
    client.get(change_url(small))  # warm the per-process caches

    with CaptureQueriesContext(connection) as one:
        assert client.get(change_url(small)).status_code == 200
    with CaptureQueriesContext(connection) as twenty:
        assert client.get(change_url(large)).status_code == 200

    assert len(one) == len(twenty) == ORDER_PAGE_QUERIES_MERCHANT_STAFF


# Session, user, OTP device; roles and merchants (2); the scope check and the order (2); permissions (2); lines,
# reductions and events (3); the invoice (once, however often the theme renders its field).
ORDER_PAGE_QUERIES_MERCHANT_STAFF = 13


def test_merchant_staff_cannot_add_shipping_for_another_merchant(client, admin_login, merchant, other_merchant):
    admin_login(staff(MERCHANT_STAFF, merchant=merchant))

    refused = client.post("/admin/orders/merchantshipping/add/", {"merchant": other_merchant.pk, "flat_fee": "10"})
    added = client.post("/admin/orders/merchantshipping/add/", {"merchant": merchant.pk, "flat_fee": "10"})

    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["merchant"]
    assert added.status_code == 302
    assert list(MerchantShipping.objects.values_list("merchant_id", "flat_fee")) == [(merchant.pk, Decimal("10.00"))]
