"""The orders' dashboard cards, both limited to the user's merchants and for holders of
``orders.view_salesoverview`` (see :mod:`commerce.orders.reports` for what "revenue" means); their titles lead to
the sales overview. One query each.

* **Sales today**: today's orders, paid orders and revenue per currency ("today" in ``TIME_ZONE``, whatever range
  the dashboard shows).
* **Orders per day**: over the dashboard's range, orders and paid orders as a line chart, and the range's revenue
  per currency. Two cards, so the cards still pair up two to a row for the roles that see them.
"""

from decimal import Decimal

from commerce.core.admin_widgets import money_text
from commerce.core.dashboard import CardContext, CardData, Chart, Figure, Series, Table, register_card
from commerce.core.money import default_currency

from .reports import period_sales, today_sales


def today_card(ctx: CardContext) -> CardData:
    """Orders placed today and how many of them are paid; revenue per currency as a table (amounts of
    different currencies are never added, and a figure is a whole number)."""
    sales = today_sales(scope=ctx.scope, today=ctx.period.end)
    revenue = sales.revenue or {default_currency(): Decimal("0")}
    return CardData(
        figures=(
            Figure(label="Orders today", value=sales.orders),
            Figure(label="Paid today", value=sales.paid_orders),
        ),
        table=Table(
            headers=("Currency", "Revenue today"),
            rows=tuple((currency, money_text(amount, currency)) for currency, amount in revenue.items()),
        ),
    )


def period_card(ctx: CardContext) -> CardData:
    """Orders and paid orders per day over the range, and the range's revenue per currency."""
    sales = period_sales(scope=ctx.scope, start=ctx.period.start, end=ctx.period.end)
    revenue = sales.revenue or {default_currency(): Decimal("0")}
    return CardData(
        figures=(
            Figure(label="Orders", value=sum(sales.orders_per_day)),
            Figure(label="Paid", value=sum(sales.paid_per_day)),
        ),
        chart=Chart(
            kind="line",
            labels=tuple(day.strftime("%d %b") for day in ctx.period.dates()),
            series=(
                Series(label="Orders", values=sales.orders_per_day, color="var(--color-primary-300)"),
                Series(label="Paid", values=sales.paid_per_day, color="var(--color-primary-700)"),
            ),
        ),
        table=Table(
            headers=("Currency", "Revenue in the range"),
            rows=tuple((currency, money_text(amount, currency)) for currency, amount in revenue.items()),
        ),
    )


def register() -> None:
    register_card(
        key="orders.today",
        title="Sales today",
        order=400,
        builder=today_card,
        permission="orders.view_salesoverview",
        link="admin:orders_salesoverview_changelist",
    )
    register_card(
        key="orders.per_day",
        title="Orders per day",
        order=410,
        builder=period_card,
        permission="orders.view_salesoverview",
        link="admin:orders_salesoverview_changelist",
    )
