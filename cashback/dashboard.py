"""The cashback dashboard cards, for the finance desk (platform-wide: never shown to merchant-scoped users). One
aggregate query each (see :mod:`cashback.selectors`); amounts per currency in a table, since a figure is a whole
number and amounts of different currencies are never added.

* **Cashback awaiting review**: confirmed entries the risk assessment sent to staff, how many and how much (net
  of refunds); for holders of ``cashback.review_cashbackentry``; leads to the review queue.
* **Withdrawals awaiting approval**: requested withdrawals, how many and how much; for holders of
  ``cashback.review_withdrawal``; leads to the withdrawals queue.
* **Cashback credited, past week**: the ledger's credits over the last 7 days whatever range the dashboard
  shows; for holders of ``cashback.review_cashbackentry`` (support sees wallets, not the desk's figures).
"""

from datetime import timedelta
from decimal import Decimal

from commerce.core.admin_widgets import money_text
from commerce.core.dashboard import CardContext, CardData, Figure, Table, register_card
from commerce.core.money import default_currency

from .selectors import Totals, credited_totals, review_totals, withdrawals_awaiting_totals

CREDITED_DAYS = 7


def _card(totals: Totals, *, count_label: str, amount_label: str) -> CardData:
    amounts = totals.amounts or {default_currency(): Decimal("0")}
    return CardData(
        figures=(Figure(label=count_label, value=totals.count),),
        table=Table(
            headers=("Currency", amount_label),
            rows=tuple((currency, money_text(amount, currency)) for currency, amount in amounts.items()),
        ),
    )


def review_card(ctx: CardContext) -> CardData:
    return _card(review_totals(), count_label="Awaiting review", amount_label="Cashback")


def withdrawals_card(ctx: CardContext) -> CardData:
    return _card(withdrawals_awaiting_totals(), count_label="Awaiting approval", amount_label="Amount")


def credited_card(ctx: CardContext) -> CardData:
    totals = credited_totals(since=ctx.now - timedelta(days=CREDITED_DAYS))
    return _card(totals, count_label="Credits", amount_label="Credited")


def register() -> None:
    register_card(
        key="cashback.review",
        title="Cashback awaiting review",
        order=500,
        builder=review_card,
        permission="cashback.review_cashbackentry",
        platform_wide=True,
        link="admin:cashback_cashbackentry_review",
    )
    register_card(
        key="cashback.withdrawals",
        title="Withdrawals awaiting approval",
        order=510,
        builder=withdrawals_card,
        permission="cashback.review_withdrawal",
        platform_wide=True,
        link="admin:cashback_withdrawal_changelist",
    )
    register_card(
        key="cashback.credited",
        title="Cashback credited, past week",
        order=520,
        builder=credited_card,
        permission="cashback.review_cashbackentry",
        platform_wide=True,
        link="admin:cashback_walletentry_changelist",
    )
