"""The sales overview of the back office: orders, revenue and average order value per day, and the top products.

Definitions (the issue leaves them open; the README repeats them for operators):

* **Day**: the date an order was *placed*, in ``TIME_ZONE``. An order paid a few minutes after midnight counts
  on the day it was placed, so a day's orders and its revenue describe the same orders.
* **Orders**: every order placed that day, whatever became of it (unpaid, expired and cancelled included): the
  demand. **Paid orders**: those of them whose payment was captured (``payment_status`` not ``unpaid``), later
  refunds or cancellation included.
* **Revenue**: the paid orders' ``total`` (what the shoppers paid: after coupon and other reductions, with
  shipping and tax) **less what was refunded on them** (``refunded_amount``). A paid order cancelled and fully
  refunded therefore adds nothing; one cancelled but not yet refunded still counts until payments records the
  refund.
* **Average order value**: a day's revenue divided by its paid orders (empty on a day without one).
* **Top products**: over the paid orders of the whole range, by units sold and by revenue, where a line's
  revenue is its ``line_total`` less its share of the order's reductions (refunds are per order, not per line,
  and are not subtracted here).
* **Currency**: amounts of different currencies are never added. The overview is for one currency at a time
  (the default currency unless another is asked for); its order counts are of that currency's orders too.

Scope: ``None`` for every merchant, else the ids of the merchants the user is limited to (merchant staff).

Cost: three queries whatever the data (one grouped by day and currency, two grouped by product), all on the
``placed_at`` indexes; the chart is inline SVG drawn here (no JavaScript, nothing from another origin).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from commerce.core.money import quantize

from .models import Order, OrderLine, PaymentStatus

DAYS = 30
TOP_PRODUCTS = 10
_AMOUNT = DecimalField(max_digits=14, decimal_places=2)
PAID = ~Q(payment_status=PaymentStatus.UNPAID)


@dataclass(frozen=True)
class DaySales:
    day: date
    orders: int
    paid_orders: int
    revenue: Decimal
    average: Decimal | None


@dataclass(frozen=True)
class ProductSales:
    product_id: int
    title: str
    units: int
    revenue: Decimal


@dataclass(frozen=True)
class SalesReport:
    currency: str
    currencies: tuple[str, ...]
    start: date
    end: date
    days: tuple[DaySales, ...]
    top_by_units: tuple[ProductSales, ...]
    top_by_revenue: tuple[ProductSales, ...]

    @property
    def orders(self) -> int:
        return sum(day.orders for day in self.days)

    @property
    def paid_orders(self) -> int:
        return sum(day.paid_orders for day in self.days)

    @property
    def revenue(self) -> Decimal:
        return quantize(sum((day.revenue for day in self.days), Decimal("0")), self.currency)

    @property
    def average(self) -> Decimal | None:
        return quantize(self.revenue / self.paid_orders, self.currency) if self.paid_orders else None


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def orders_in(*, scope: frozenset[int] | None, start: date, end: date) -> QuerySet[Order]:
    """Orders placed from ``start`` to ``end`` (dates in ``TIME_ZONE``, inclusive) of the merchants in scope."""
    orders = Order.objects.filter(placed_at__gte=_start_of(start), placed_at__lt=_start_of(end + timedelta(days=1)))
    if scope is not None:
        orders = orders.filter(merchant_id__in=scope)
    return orders


def _revenue() -> Sum:
    return Sum(ExpressionWrapper(F("total") - F("refunded_amount"), output_field=_AMOUNT), filter=PAID)


def _pick_currency(requested: str | None, present: set[str]) -> str:
    default = str(settings.DEFAULT_CURRENCY)
    if requested and requested in present:
        return requested
    if default in present or not present:
        return default
    return sorted(present)[0]


def _top_products(lines: QuerySet[OrderLine], *, order_by: str) -> tuple[ProductSales, ...]:
    rows = (
        lines.values("product_id", "product__title")
        .annotate(
            units=Sum("quantity"),
            revenue=Sum(ExpressionWrapper(F("line_total") - F("discount"), output_field=_AMOUNT)),
        )
        .order_by(f"-{order_by}", "product_id")[:TOP_PRODUCTS]
    )
    return tuple(
        ProductSales(
            product_id=row["product_id"],
            title=row["product__title"],
            units=row["units"] or 0,
            revenue=quantize(row["revenue"] or 0),
        )
        for row in rows
    )


def sales_report(
    *, scope: frozenset[int] | None, today: date, currency: str | None = None, days: int = DAYS
) -> SalesReport:
    """The sales of the ``days`` days ending ``today`` (included) in one currency: see the module's definitions.

    ``currency`` picks among the currencies of the range's orders; unknown or absent, the default currency is
    used when it has orders, else the first currency that has. Three queries.
    """
    start = today - timedelta(days=days - 1)
    orders = orders_in(scope=scope, start=start, end=today)
    rows = list(
        orders.annotate(day=TruncDate("placed_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "currency")
        .annotate(orders=Count("pk"), paid_orders=Count("pk", filter=PAID), revenue=_revenue())
        .order_by("day", "currency")
    )
    present = {row["currency"] for row in rows}
    chosen = _pick_currency(currency, present)
    per_day = {row["day"]: row for row in rows if row["currency"] == chosen}
    day_rows = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        row = per_day.get(day)
        count = row["orders"] if row else 0
        paid = row["paid_orders"] if row else 0
        revenue = quantize((row["revenue"] if row else None) or 0, chosen)
        day_rows.append(
            DaySales(
                day=day,
                orders=count,
                paid_orders=paid,
                revenue=revenue,
                average=quantize(revenue / paid, chosen) if paid else None,
            )
        )
    lines = OrderLine.objects.filter(order__in=orders.filter(PAID, currency=chosen))
    return SalesReport(
        currency=chosen,
        currencies=tuple(sorted(present)),
        start=start,
        end=today,
        days=tuple(day_rows),
        top_by_units=_top_products(lines, order_by="units"),
        top_by_revenue=_top_products(lines, order_by="revenue"),
    )


@dataclass(frozen=True)
class TodaySales:
    orders: int
    paid_orders: int
    revenue: dict[str, Decimal]


def today_sales(*, scope: frozenset[int] | None, today: date) -> TodaySales:
    """Today's orders, paid orders and revenue per currency (for the dashboard card). One query."""
    rows = (
        orders_in(scope=scope, start=today, end=today)
        .values("currency")
        .annotate(orders=Count("pk"), paid_orders=Count("pk", filter=PAID), revenue=_revenue())
        .order_by("currency")
    )
    orders = paid = 0
    revenue: dict[str, Decimal] = {}
    for row in rows:
        orders += row["orders"]
        paid += row["paid_orders"]
        revenue[row["currency"]] = quantize(row["revenue"] or 0, row["currency"])
    return TodaySales(orders=orders, paid_orders=paid, revenue=revenue)


@dataclass(frozen=True)
class PeriodSales:
    orders_per_day: tuple[int, ...]
    paid_per_day: tuple[int, ...]
    revenue: dict[str, Decimal]


def period_sales(*, scope: frozenset[int] | None, start: date, end: date) -> PeriodSales:
    """Orders and paid orders per day from ``start`` to ``end`` (all currencies: they are counts), and the
    revenue of the whole period per currency (for the dashboard's range card). One query."""
    rows = (
        orders_in(scope=scope, start=start, end=end)
        .annotate(day=TruncDate("placed_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "currency")
        .annotate(orders=Count("pk"), paid_orders=Count("pk", filter=PAID), revenue=_revenue())
        .order_by("day", "currency")
    )
    orders: dict[date, int] = {}
    paid: dict[date, int] = {}
    revenue: dict[str, Decimal] = {}
    for row in rows:
        orders[row["day"]] = orders.get(row["day"], 0) + row["orders"]
        paid[row["day"]] = paid.get(row["day"], 0) + row["paid_orders"]
        revenue[row["currency"]] = quantize(
            revenue.get(row["currency"], Decimal("0")) + (row["revenue"] or 0), row["currency"]
        )
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    return PeriodSales(
        orders_per_day=tuple(orders.get(day, 0) for day in days),
        paid_per_day=tuple(paid.get(day, 0) for day in days),
        revenue=dict(sorted(revenue.items())),
    )


# --- the chart ----------------------------------------------------------------------------------------------

CHART_WIDTH = 720
CHART_HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 48, 16, 28
BAR_COLOR = "var(--color-primary-500, #a855f7)"
LINE_COLOR = "var(--color-base-700, #374151)"


def _nice_ceiling(value: Decimal | int) -> Decimal:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``value`` (1 for nothing)."""
    number = Decimal(value)
    if number <= 0:
        return Decimal(1)
    power = Decimal(10) ** (len(str(int(number))) - 1)
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if number <= power * step:
            return power * step
    return power * 10  # pragma: no cover - the loop ends at 10 times the power, which is always enough


def sales_chart_svg(report: SalesReport) -> SafeString:
    """Revenue per day as bars (left axis, in the report's currency) and orders per day as a line (right axis),
    as an accessible inline ``<svg>`` with a ``<title>`` per day. Colours are the theme's CSS variables."""
    days = report.days
    plot_width = CHART_WIDTH - _LEFT - _RIGHT
    plot_height = CHART_HEIGHT - _TOP - _BOTTOM
    slot = Decimal(plot_width) / max(len(days), 1)
    revenue_top = _nice_ceiling(max((day.revenue for day in days), default=Decimal(0)))
    orders_top = _nice_ceiling(max((day.orders for day in days), default=0))

    def y(value: Decimal | int, top: Decimal) -> str:
        return f"{_TOP + plot_height - Decimal(value) / top * plot_height:.1f}"

    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" style="fill: {}"><title>{}: {} {}, {} orders</title></rect>',
        (
            (
                f"{_LEFT + slot * index + slot * Decimal('0.15'):.1f}",
                y(day.revenue, revenue_top),
                f"{slot * Decimal('0.7'):.1f}",
                f"{day.revenue / revenue_top * plot_height:.1f}",
                BAR_COLOR,
                day.day.strftime("%d %b"),
                day.revenue,
                report.currency,
                day.orders,
            )
            for index, day in enumerate(days)
        ),
    )
    points = " ".join(
        f"{_LEFT + slot * index + slot / 2:.1f},{y(day.orders, orders_top)}" for index, day in enumerate(days)
    )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (f"{_LEFT + slot * index + slot / 2:.1f}", CHART_HEIGHT - 8, day.day.strftime("%d %b"))
            for index, day in enumerate(days)
            if index % 5 == 0 or index == len(days) - 1
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-labelledby="sales-chart-title" class="text-font-subtle-light dark:text-font-subtle-dark" '
        'font-size="11" fill="currentColor" data-sales-chart>'
        '<title id="sales-chart-title">Revenue ({currency}, bars) and orders (line) per day, {start} to {end}</title>'
        '<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="currentColor" stroke-opacity="0.4"/>'
        '<text x="{label_x}" y="{top_label}" text-anchor="end">{revenue_top}</text>'
        '<text x="{label_x}" y="{base}" text-anchor="end">0</text>'
        '<text x="{orders_x}" y="{top_label}" text-anchor="start">{orders_top}</text>'
        "{bars}"
        '<polyline points="{points}" fill="none" style="stroke: {line}" stroke-width="2"/>'
        "{labels}"
        "</svg>",
        w=CHART_WIDTH,
        h=CHART_HEIGHT,
        currency=report.currency,
        start=report.start.isoformat(),
        end=report.end.isoformat(),
        left=_LEFT,
        right=CHART_WIDTH - _RIGHT,
        base=_TOP + plot_height,
        label_x=_LEFT - 6,
        top_label=_TOP + 8,
        revenue_top=f"{revenue_top:f}",
        orders_x=CHART_WIDTH - _RIGHT + 6,
        orders_top=f"{orders_top:f}",
        bars=bars,
        points=mark_safe(points),  # numbers only, built above  # noqa: S308
        line=LINE_COLOR,
        labels=labels,
    )
