"""A merchant's conversion drives its entry: pending -> pending entry, approved -> confirmed (then credited by the
risk run), cancelled -> rejected or, once credited, fully reversed. Sync again with nothing new: nothing changes."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from cashback.models import (
    CashbackEntry,
    CashbackSource,
    CashbackStatus,
    Conversion,
    ConversionStatus,
    MerchantCashback,
    RiskAssessment,
    Wallet,
    WalletEntry,
)
from cashback.services import entries
from commerce.offers.models import OfferClick
from tests.offers.factories import DealFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def low_risk(monkeypatch):
    def fake(*, entry, now=None):
        return RiskAssessment.objects.create(entry=entry, score=0, level="low", rules=[])

    monkeypatch.setattr(entries, "risk_assess", fake)


@pytest.fixture
def conversion(merchant, shopper):
    """``conversion(sale_amount="1000.00", cashback_rate=None, currency="INR")``: a pending reported sale."""

    def build(*, sale_amount="1000.00", cashback_rate=None, currency="INR", reference="SALE-1"):
        offer = DealFactory(merchant=merchant, cashback_rate=cashback_rate)
        click = OfferClick.objects.create(offer=offer, user=shopper)
        return Conversion.objects.create(
            merchant=merchant,
            offer=offer,
            click=click,
            user=shopper,
            reference=reference,
            sale_amount=Decimal(sale_amount),
            currency=currency,
        )

    return build


def _set_status(conversion: Conversion, status: str) -> None:
    Conversion.objects.filter(pk=conversion.pk).update(status=status)


def test_a_pending_conversion_creates_a_pending_entry(conversion, shopper, merchant):
    sale = conversion(sale_amount="1000.00")

    entry = entries.cashback_sync_conversion(conversion_id=sale.pk)

    assert (entry.source, entry.conversion_id, entry.order_id) == (CashbackSource.CONVERSION, sale.pk, None)
    assert (entry.user_id, entry.merchant_id, entry.offer_id) == (shopper.pk, merchant.pk, sale.offer_id)
    assert (entry.base_amount, entry.rate, entry.amount, entry.status) == (
        Decimal("1000.00"),
        Decimal("5.00"),
        Decimal("50.00"),
        CashbackStatus.PENDING,
    )
    assert Wallet.objects.get(user=shopper).pending == Decimal("50.00")


def test_the_offers_rate_and_the_merchants_cap_apply(conversion, merchant):
    MerchantCashback.objects.create(merchant=merchant, max_cashback_per_order=Decimal("75.00"))
    sale = conversion(sale_amount="1000.00", cashback_rate=Decimal("10.00"))

    entry = entries.cashback_sync_conversion(conversion_id=sale.pk)

    assert (entry.rate, entry.amount) == (Decimal("10.00"), Decimal("75.00"))
    assert entry.events.get().note == "Sale SALE-1 reported: 10.00 % of 1000.00; capped by the merchant maximum"


def test_syncing_again_changes_nothing(conversion, shopper):
    sale = conversion()

    first = entries.cashback_sync_conversion(conversion_id=sale.pk)
    second = entries.cashback_sync_conversion(conversion_id=sale.pk)

    assert second.pk == first.pk
    assert CashbackEntry.objects.count() == 1
    assert first.events.count() == 1
    assert Wallet.objects.get(user=shopper).pending == Decimal("50.00")


def test_approval_confirms_and_the_risk_run_credits(conversion, shopper):
    sale = conversion()
    entries.cashback_sync_conversion(conversion_id=sale.pk)
    _set_status(sale, ConversionStatus.APPROVED)

    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        entry = entries.cashback_sync_conversion(conversion_id=sale.pk)
        again = entries.cashback_sync_conversion(conversion_id=sale.pk)

    assert (entry.status, entry.expected_on) == (CashbackStatus.CONFIRMED, date(2026, 3, 10))
    assert again.events.count() == 2
    assert entries.cashbacks_process_confirmed() == 1
    wallet = Wallet.objects.get(user=shopper)
    assert (wallet.available, wallet.pending) == (Decimal("50.00"), Decimal("0.00"))


def test_a_conversion_first_seen_approved_is_created_confirmed(conversion, shopper):
    sale = conversion()
    _set_status(sale, ConversionStatus.APPROVED)

    entry = entries.cashback_sync_conversion(conversion_id=sale.pk)

    assert entry.status == CashbackStatus.CONFIRMED
    assert list(entry.events.values_list("from_status", "to_status")) == [("", "pending"), ("pending", "confirmed")]


def test_cancellation_rejects_an_uncredited_entry(conversion, shopper):
    sale = conversion()
    entries.cashback_sync_conversion(conversion_id=sale.pk)
    _set_status(sale, ConversionStatus.CANCELLED)

    entry = entries.cashback_sync_conversion(conversion_id=sale.pk)

    assert (entry.status, entry.reason) == (CashbackStatus.REJECTED, "The merchant cancelled the sale")
    assert Wallet.objects.get(user=shopper).pending == Decimal("0.00")


def test_cancellation_after_the_credit_reverses_it(conversion, shopper):
    sale = conversion()
    _set_status(sale, ConversionStatus.APPROVED)
    entry = entries.cashback_sync_conversion(conversion_id=sale.pk)
    entries.cashback_assess(entry_id=entry.pk)
    _set_status(sale, ConversionStatus.CANCELLED)

    entry = entries.cashback_sync_conversion(conversion_id=sale.pk)
    entries.cashback_sync_conversion(conversion_id=sale.pk)

    assert (entry.status, entry.reversed_amount) == (CashbackStatus.REVERSED, Decimal("50.00"))
    assert list(WalletEntry.objects.order_by("pk").values_list("kind", "amount")) == [
        ("cashback_credit", Decimal("50.00")),
        ("cashback_reversal", Decimal("-50.00")),
    ]
    assert Wallet.objects.get(user=shopper).available == Decimal("0.00")


def test_a_conversion_cancelled_before_any_entry_creates_none(conversion):
    sale = conversion()
    _set_status(sale, ConversionStatus.CANCELLED)

    assert entries.cashback_sync_conversion(conversion_id=sale.pk) is None
    assert CashbackEntry.objects.count() == 0


def test_a_sale_in_another_currency_earns_nothing(conversion):
    sale = conversion(currency="USD")

    assert entries.cashback_sync_conversion(conversion_id=sale.pk) is None


def test_an_unknown_conversion_is_none():
    assert entries.cashback_sync_conversion(conversion_id=999_999) is None
