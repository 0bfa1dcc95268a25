"""The sales overview: its figures per day (orders, revenue less refunds, average order value), the top products,
currencies kept apart, merchant scoping, the page with its server-drawn chart, its query budget, and the
dashboard card of today's sales. Time is frozen: "today" is 15 March 2026 in Asia/Kolkata."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import ADMIN, FINANCE, MERCHANT_STAFF, SUPPORT
from commerce.core import dashboard
from commerce.orders.dashboard import period_card, today_card
from commerce.orders.models import Order, OrderStatus
from commerce.orders.reports import SalesReport, sales_chart_svg, sales_report
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory
from tests.factories import StaffFactory

from .factories import order_build

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 6, 30, tzinfo=UTC)  # 12:00 in Kolkata
TODAY = date(2026, 3, 15)
PAGE = "/admin/orders/salesoverview/"


@pytest.fixture(autouse=True)
def _kolkata(settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    with time_machine.travel(NOW, tick=False):
        yield


def at(day: date, hour: int = 12) -> datetime:
    """Noon (or ``hour``) of ``day`` in Kolkata, as UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=5, minutes=30)


def staff(*roles, merchant=None, **fields):
    user = StaffFactory(**fields)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    if merchant is not None:
        MerchantMembershipFactory(merchant=merchant, user=user)
    return user


@pytest.fixture
def shop(make_variant):
    """Threads sells T-shirts (499.00) and caps (200.00); Globex sells mugs (250.00)."""
    globex = MerchantFactory(name="Globex", slug="globex")
    return {
        "tshirt": make_variant(sku="TSHIRT-M", price="499.00", stock=100, title="Cotton T-shirt"),
        "cap": make_variant(sku="CAP-1", price="200.00", stock=100, title="Cap"),
        "mug": make_variant(sku="MUG-1", price="250.00", stock=100, merchant=globex, title="Globex mug"),
        "globex": globex,
    }


@pytest.fixture
def sales(shop):
    """Today: a paid order of 2 T-shirts (998.00) with 100.00 refunded, a paid cap (200.00), an unpaid cap, a
    Globex mug (250.00). Yesterday: a fulfilled T-shirt with shipping (549.00), a paid order in USD. 30 days ago
    (outside the range): a paid cap. Just before midnight in Kolkata yesterday, but "today" in UTC: none."""
    tshirt, cap, mug = shop["tshirt"], shop["cap"], shop["mug"]
    refunded = order_build(lines=[(tshirt, 2)], status=OrderStatus.PAID, placed_at=at(TODAY, 9))
    Order.objects.filter(pk=refunded.pk).update(refunded_amount=Decimal("100.00"), payment_status="partially_refunded")
    order_build(lines=[(cap, 1)], status=OrderStatus.PAID, placed_at=at(TODAY, 10))
    order_build(lines=[(cap, 1)], placed_at=at(TODAY, 11))
    order_build(lines=[(mug, 1)], status=OrderStatus.PAID, placed_at=at(TODAY, 8))
    order_build(lines=[(tshirt, 1)], status=OrderStatus.FULFILLED, shipping="50.00", placed_at=at(TODAY - timedelta(1)))
    dollars = order_build(lines=[(cap, 3)], status=OrderStatus.PAID, placed_at=at(TODAY - timedelta(1), 23))
    Order.objects.filter(pk=dollars.pk).update(currency="USD")
    order_build(lines=[(cap, 1)], status=OrderStatus.PAID, placed_at=at(TODAY - timedelta(30)))
    return shop


def test_the_report_counts_orders_revenue_and_average_per_day(sales):
    report = sales_report(scope=None, today=TODAY)

    assert (report.currency, report.currencies, report.start, report.end) == (
        "INR",
        ("INR", "USD"),
        date(2026, 2, 14),
        TODAY,
    )
    assert len(report.days) == 30
    today, yesterday = report.days[-1], report.days[-2]
    # 998.00 - 100.00 refunded + 200.00 + 250.00; the unpaid cap counts as an order, not as revenue.
    assert (today.orders, today.paid_orders, today.revenue, today.average) == (
        4,
        3,
        Decimal("1348.00"),
        Decimal("449.33"),
    )
    # The USD order placed at 23:00 Kolkata time yesterday is another currency: not in the INR figures.
    assert (yesterday.orders, yesterday.paid_orders, yesterday.revenue, yesterday.average) == (
        1,
        1,
        Decimal("549.00"),
        Decimal("549.00"),
    )
    assert all((day.orders, day.revenue, day.average) == (0, Decimal("0.00"), None) for day in report.days[:-2])
    assert (report.orders, report.paid_orders, report.revenue, report.average) == (
        5,
        4,
        Decimal("1897.00"),
        Decimal("474.25"),
    )


def test_the_top_products_by_units_and_by_revenue(sales):
    report = sales_report(scope=None, today=TODAY)

    assert [(row.title, row.units, row.revenue) for row in report.top_by_units] == [
        ("Cotton T-shirt", 3, Decimal("1497.00")),
        ("Cap", 1, Decimal("200.00")),
        ("Globex mug", 1, Decimal("250.00")),
    ]
    assert [row.title for row in report.top_by_revenue] == ["Cotton T-shirt", "Globex mug", "Cap"]


def test_another_currency_is_reported_on_its_own(sales):
    report = sales_report(scope=None, today=TODAY, currency="USD")

    assert report.currency == "USD"
    assert (report.orders, report.revenue) == (1, Decimal("600.00"))
    assert report.days[-2].paid_orders == 1
    assert [(row.title, row.units) for row in report.top_by_units] == [("Cap", 3)]
    assert sales_report(scope=None, today=TODAY, currency="EUR").currency == "INR"


def test_an_order_placed_before_midnight_in_the_shops_time_zone_is_yesterdays(shop):
    order_build(lines=[(shop["cap"], 1)], status=OrderStatus.PAID, placed_at=at(TODAY, 0) - timedelta(minutes=1))

    report = sales_report(scope=None, today=TODAY)

    assert (report.days[-2].orders, report.days[-1].orders) == (1, 0)


def test_merchant_scope_limits_every_figure(sales):
    report = sales_report(scope=frozenset({sales["globex"].pk}), today=TODAY)

    assert (report.orders, report.revenue) == (1, Decimal("250.00"))
    assert [row.title for row in report.top_by_units] == ["Globex mug"]
    assert sales_report(scope=frozenset(), today=TODAY).orders == 0


def test_no_sales_is_a_report_of_zeros():
    report = sales_report(scope=None, today=TODAY)

    assert (report.currency, report.currencies, report.orders, report.revenue, report.average) == (
        "INR",
        (),
        0,
        Decimal("0.00"),
        None,
    )
    assert report.top_by_units == report.top_by_revenue == ()
    assert "<rect" in sales_chart_svg(report)


def test_the_chart_is_inline_svg_with_a_bar_and_a_title_per_day(sales):
    svg = str(sales_chart_svg(sales_report(scope=None, today=TODAY)))

    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert svg.count("<rect") == 30
    assert "<title>15 Mar: 1348.00 INR, 4 orders</title>" in svg
    assert "<title>14 Mar: 549.00 INR, 1 orders</title>" in svg
    assert ">2000</text>" in svg  # the revenue axis rounds 1348.00 up to 2000
    assert "<script" not in svg and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_chart_text_is_escaped():
    report = SalesReport(
        currency="<b>", currencies=(), start=TODAY, end=TODAY, days=(), top_by_units=(), top_by_revenue=()
    )

    svg = str(sales_chart_svg(report))

    assert "<b>" not in svg and "&lt;b&gt;" in svg


# --- the page ---------------------------------------------------------------------------------------------


def test_the_page_shows_figures_chart_and_top_products(client, admin_login, sales):
    admin_login(staff(FINANCE))

    response = client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-sales-overview data-currency="INR"' in html
    assert '<span data-total="Orders">5</span>' in html
    assert '<span data-total="Revenue">1897.00 INR</span>' in html
    assert '<span data-total="Average order value">474.25 INR</span>' in html
    assert "<svg" in html and "data-sales-chart" in html
    assert "Cotton T-shirt" in html and "Globex mug" in html
    assert '<a href="?currency=USD"' in html
    assert "<script>" not in html
    assert 'href="/admin/orders/salesoverview/"' in html  # in the sidebar


def test_merchant_staff_see_their_merchants_sales_only(client, admin_login, sales):
    admin_login(staff(MERCHANT_STAFF, merchant=sales["globex"]))

    html = client.get(PAGE).content.decode()

    assert '<span data-total="Revenue">250.00 INR</span>' in html
    assert "Globex mug" in html and "Cotton T-shirt" not in html


@pytest.mark.parametrize("role", [SUPPORT, None])
def test_the_page_is_for_holders_of_its_permission_only(client, admin_login, sales, role):
    admin_login(staff(role) if role else StaffFactory())

    assert client.get(PAGE).status_code == 403


@pytest.mark.parametrize("query", ["?currency=USD", "?currency=usd", "?currency=%00%00%00", "?currency=" + "X" * 500])
def test_odd_currency_parameters_never_fail(client, admin_login, sales, query):
    admin_login(staff(ADMIN))

    response = client.get(PAGE + query)

    assert response.status_code == 200
    assert response.context["report"].currency == ("USD" if query == "?currency=USD" else "INR")


# Session, user, OTP device; the user's permissions (2: user and group permissions, cached for the request);
# roles and merchants of the scope (2); the report (3).
PAGE_QUERIES_MERCHANT_STAFF = 10


def test_the_page_has_a_fixed_query_budget(client, admin_login, shop, django_assert_num_queries):
    user = staff(MERCHANT_STAFF, merchant=shop["tshirt"].product.merchant)
    admin_login(user)
    order_build(lines=[(shop["tshirt"], 1)], status=OrderStatus.PAID, placed_at=at(TODAY))
    client.get(PAGE)  # warm the per-process caches (content types)

    with CaptureQueriesContext(connection) as one:
        assert client.get(PAGE).status_code == 200
    for day in range(30):
        order_build(
            lines=[(shop["tshirt"], 1), (shop["cap"], 2)],
            status=OrderStatus.PAID,
            placed_at=at(TODAY - timedelta(day)),
        )
    with django_assert_num_queries(len(one)):
        assert client.get(PAGE).status_code == 200
    assert len(one) == PAGE_QUERIES_MERCHANT_STAFF


# --- the dashboard card -----------------------------------------------------------------------------------


def test_the_dashboard_card_shows_todays_orders_and_revenue(sales, django_assert_num_queries):
    context = dashboard.CardContext(scope=None, period=dashboard.period_ending(days=7, today=TODAY), now=NOW)

    with django_assert_num_queries(1):
        data = today_card(context)

    assert [(figure.label, figure.value) for figure in data.figures] == [("Orders today", 4), ("Paid today", 3)]
    assert data.table is not None
    assert data.table.rows == (("INR", "1348.00 INR"),)


def test_the_dashboard_card_of_a_merchant_without_sales_today(sales):
    context = dashboard.CardContext(
        scope=frozenset({MerchantFactory().pk}), period=dashboard.period_ending(days=30, today=TODAY), now=NOW
    )

    data = today_card(context)

    assert [(figure.label, figure.value) for figure in data.figures] == [("Orders today", 0), ("Paid today", 0)]
    assert data.table is not None and data.table.rows == (("INR", "0.00 INR"),)


def test_the_dashboard_range_card_counts_orders_per_day_and_revenue_per_currency(sales, django_assert_num_queries):
    context = dashboard.CardContext(scope=None, period=dashboard.period_ending(days=7, today=TODAY), now=NOW)

    with django_assert_num_queries(1):
        data = period_card(context)

    # Counts of every currency (the USD order included); revenue per currency, never added across.
    assert [(figure.label, figure.value) for figure in data.figures] == [("Orders", 6), ("Paid", 5)]
    assert data.chart is not None
    assert data.chart.labels == ("09 Mar", "10 Mar", "11 Mar", "12 Mar", "13 Mar", "14 Mar", "15 Mar")
    assert [series.values for series in data.chart.series] == [(0, 0, 0, 0, 0, 2, 4), (0, 0, 0, 0, 0, 2, 3)]
    assert data.table is not None
    assert data.table.rows == (("INR", "1897.00 INR"), ("USD", "600.00 USD"))


def test_the_dashboard_range_card_is_scoped(sales):
    context = dashboard.CardContext(
        scope=frozenset({sales["globex"].pk}), period=dashboard.period_ending(days=30, today=TODAY), now=NOW
    )

    data = period_card(context)

    assert [(figure.label, figure.value) for figure in data.figures] == [("Orders", 1), ("Paid", 1)]
    assert data.table is not None and data.table.rows == (("INR", "250.00 INR"),)
