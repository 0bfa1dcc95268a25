"""The orders' dashboard card: today's orders, paid orders and revenue (see :mod:`commerce.orders.reports` for
what "revenue" means), limited to the user's merchants, for holders of ``orders.view_salesoverview``. Its title
leads to the sales overview. "Today" is today in ``TIME_ZONE``, whatever range the dashboard shows. One query.
"""

from decimal import Decimal

from commerce.core.admin_widgets import money_text
from commerce.core.dashboard import CardContext, CardData, Figure, Table, register_card
from commerce.core.money import default_currency

from .reports import today_sales


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


def register() -> None:
    register_card(
        key="orders.today",
        title="Sales today",
        order=400,
        builder=today_card,
        permission="orders.view_salesoverview",
        link="admin:orders_salesoverview_changelist",
    )
