"""Property tests (hypothesis) of the cashback calculation and of refunds taking it back.

Over any lines, discounts, rates and caps the amount is the exact rational ``base * rate / 100`` rounded half up
once to the paisa (then capped), never negative and never above the base. Over any sequence of refunds the part
taken back only grows, never exceeds the amount, equals the rounded proportion of what was refunded, and is all
of it once the order is fully refunded; the wallet's pending balance always equals what is left.
"""

from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashback.models import CashbackEntry, CashbackStatus, MerchantCashback, RiskAssessment, Wallet
from cashback.services import entries
from cashback.services.calculation import cashback_quote_order, cashback_quote_sale
from commerce.catalog.models import Merchant
from commerce.orders.models import Order, OrderLine, PaymentStatus

PAISE = st.integers(min_value=0, max_value=10_000_000)  # up to 1,00,000.00
RATES = st.integers(min_value=0, max_value=10_000).map(lambda basis: Decimal(basis).scaleb(-2))  # 0.00 to 100.00


def _rupees(paise: int) -> Decimal:
    return Decimal(paise).scaleb(-2)


def _half_up(value: Fraction) -> Decimal:
    """The exact reference: round a non-negative rational half up to the paisa."""
    return _rupees(floor(value * 100 + Fraction(1, 2)))


@st.composite
def lines(draw):
    """(line_total, discount) pairs in paise, each discount at most its line total."""
    totals = draw(st.lists(PAISE, min_size=1, max_size=8))
    return [(total, draw(st.integers(min_value=0, max_value=total))) for total in totals]


def _order(rows, rate: Decimal) -> Order:
    """An unsaved order whose lines are already "prefetched" (the calculation only reads them)."""
    order = Order(pk=1, currency="INR", merchant=Merchant(default_cashback_rate=rate))
    order._prefetched_objects_cache = {
        "lines": [OrderLine(line_total=_rupees(total), discount=_rupees(discount)) for total, discount in rows]
    }
    return order


@settings(max_examples=300, deadline=None)
@given(rows=lines(), rate=RATES)
def test_order_cashback_is_exact_to_the_paisa_and_never_above_the_base(rows, rate):
    quote = cashback_quote_order(order=_order(rows, rate), terms=None)

    base = sum(total - discount for total, discount in rows)
    assert quote.base_amount == _rupees(base)
    assert quote.amount == min(_half_up(Fraction(base, 100) * Fraction(rate) / 100), _rupees(base))
    assert Decimal(0) <= quote.amount <= quote.base_amount
    assert quote.amount.as_tuple().exponent == -2


@settings(max_examples=300, deadline=None)
@given(
    sale=PAISE,
    rate=RATES,
    platform=st.none() | PAISE,
    merchant=st.none() | PAISE,
)
def test_caps_never_exceeded_and_named(sale, rate, platform, merchant):
    terms = MerchantCashback(max_cashback_per_order=None if merchant is None else _rupees(merchant))
    with override_settings(CASHBACK_MAX_PER_ORDER="" if platform is None else str(_rupees(platform))):
        quote = cashback_quote_sale(sale_amount=_rupees(sale), currency="INR", rate=rate, offer_id=None, terms=terms)

    uncapped = _half_up(Fraction(sale, 100) * Fraction(rate) / 100)
    caps = [_rupees(cap) for cap in (platform, merchant) if cap is not None]
    assert quote.amount == min([uncapped, *caps])
    assert quote.amount <= _rupees(sale)
    assert (quote.capped_by != "") == (quote.amount < uncapped)
    if quote.capped_by == "platform":
        assert quote.amount == _rupees(platform)
    if quote.capped_by == "merchant":
        assert quote.amount == _rupees(merchant)


class _Rollback(Exception):
    pass


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.integers(min_value=1, max_value=500_000), min_size=1, max_size=4),
    refunds=st.lists(st.integers(min_value=1, max_value=1_000_000), min_size=1, max_size=6),
    credited_first=st.booleans(),
)
def test_refunds_take_back_the_exact_proportion_and_never_more(
    paid_order, make_variant, monkeypatch, prices, refunds, credited_first
):
    monkeypatch.setattr(
        entries,
        "risk_assess",
        lambda *, entry, now=None: RiskAssessment.objects.create(entry=entry, score=0, level="low", rules=[]),
    )
    try:
        with transaction.atomic():
            variants = [make_variant(sku=f"P{n}", price=str(_rupees(price))) for n, price in enumerate(prices)]
            order = paid_order(lines=[(variant, 1) for variant in variants])
            entry = entries.cashback_create_for_order(order_id=order.pk)
            if entry is None:
                raise _Rollback
            if credited_first:
                entries.cashback_confirm(entry_id=entry.pk)
                entries.cashback_assess(entry_id=entry.pk)
            total_paise = sum(prices)
            refunded = 0
            previous = Decimal("0.00")
            for step in refunds:
                refunded = min(total_paise, refunded + step)
                Order.objects.filter(pk=order.pk).update(
                    refunded_amount=_rupees(refunded),
                    payment_status=PaymentStatus.REFUNDED
                    if refunded == total_paise
                    else PaymentStatus.PARTIALLY_REFUNDED,
                )
                entries.cashback_order_refunded(order_id=order.pk)
                entries.cashback_order_refunded(order_id=order.pk)  # a duplicate event changes nothing
                entry = CashbackEntry.objects.get(pk=entry.pk)
                expected = (
                    entry.amount
                    if refunded == total_paise
                    else _half_up(Fraction(entry.amount) * refunded / total_paise)
                )
                assert entry.reversed_amount == expected
                assert previous <= entry.reversed_amount <= entry.amount
                previous = entry.reversed_amount
                wallet = Wallet.objects.get(user=entry.user_id)
                if credited_first:
                    assert wallet.available == entry.net_amount
                    assert wallet.pending == 0
                else:
                    assert wallet.pending == entry.net_amount
                    assert wallet.available == 0
            if refunded == total_paise:
                assert entry.net_amount == 0
                assert entry.status in (CashbackStatus.REJECTED, CashbackStatus.REVERSED)
            raise _Rollback
    except _Rollback:
        pass
