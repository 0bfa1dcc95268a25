"""The wallet ledger under real parallel transactions (PostgreSQL): a refund's reversal racing a withdrawal leaves
every paisa accounted for whichever commits first, and concurrent credits, adjustments and withdrawals on one
wallet lose nothing. Workers call the real services (entries, withdrawals, adjustments), each in its own thread
and connection (``tests/concurrency.py``); afterwards the wallet audit must find nothing."""

from decimal import Decimal

import pytest

from cashback.models import CashbackStatus, RiskAssessment, Wallet, WalletEntry, WalletEntryKind, Withdrawal
from cashback.services import entries
from cashback.services.ledger_audit import wallets_audit
from cashback.services.wallet import wallet_adjust
from cashback.services.withdrawals import withdrawal_request
from commerce.orders.services.transitions import order_record_refund
from tests.cashback.conftest import wallet_fund
from tests.concurrency import error_codes, run_together
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def low_risk(monkeypatch):
    """Every assessment scores low, so confirmed cashback is credited at once."""

    def fake(*, entry, now=None):
        return RiskAssessment.objects.create(entry=entry, score=0, level="low", rules=[])

    monkeypatch.setattr(entries, "risk_assess", fake)


@pytest.fixture(autouse=True)
def minimum(settings):
    settings.WITHDRAWAL_MINIMUM = "50.00"


def credited(order) -> int:
    """The order's cashback created, confirmed and credited through the entries service; its id."""
    entry = entries.cashback_create_for_order(order_id=order.pk)
    entries.cashback_confirm(entry_id=entry.pk)
    entries.cashback_assess(entry_id=entry.pk)
    return entry.pk


def withdraw(user, amount: str):
    return lambda: withdrawal_request(user_id=user.pk, amount=amount, method="upi", vpa="priya@okaxis")


def test_a_reversal_racing_a_withdrawal_accounts_for_every_paisa(shopper, paid_order, make_variant):
    # 5 % of 2 x 1000.00: 100.00 of cashback, credited.
    order = paid_order(lines=[(make_variant(sku="SOFA", price="1000.00"), 2)])
    entry_id = credited(order)
    assert Wallet.objects.get(user=shopper).available == Decimal("100.00")

    def refund():
        # 80 % of the order refunded: 80.00 of the cashback taken back.
        order_record_refund(order_id=order.pk, amount=Decimal("1600.00"), reference="rf_race")
        return entries.cashback_order_refunded(order_id=order.pk)

    results = run_together([refund, withdraw(shopper, "60.00")])

    wallet = Wallet.objects.get(user=shopper)
    withdrawals = list(Withdrawal.objects.filter(user=shopper).values_list("amount", "status"))
    reversed_ = -sum(
        WalletEntry.objects.filter(wallet=wallet, kind=WalletEntryKind.CASHBACK_REVERSAL).values_list(
            "amount", flat=True
        )
    )
    assert reversed_ == Decimal("80.00")
    assert entries.CashbackEntry.objects.get(pk=entry_id).reversed_amount == Decimal("80.00")
    if "error" in results[1]:  # the reversal committed first: 20.00 left, 60.00 refused
        assert error_codes(results) == {"ok": 1, "insufficient_balance": 1}
        assert withdrawals == []
        assert (wallet.available, wallet.held) == (Decimal("20.00"), Decimal("0.00"))
    else:  # the withdrawal held 60.00 first: the reversal takes the balance below zero by what was missing
        assert error_codes(results) == {"ok": 2}
        assert withdrawals == [(Decimal("60.00"), "requested")]
        assert (wallet.available, wallet.held) == (Decimal("-40.00"), Decimal("60.00"))
    # Available + held (+ nothing paid out yet) is what was credited less what was reversed, either way.
    assert wallet.available + wallet.held == Decimal("100.00") - reversed_
    assert wallet.lifetime_earned == Decimal("20.00")
    assert wallets_audit() == []


def test_a_negative_balance_refuses_withdrawals_until_it_is_positive_again(shopper, paid_order, make_variant):
    order = paid_order(lines=[(make_variant(sku="SOFA", price="1000.00"), 2)])
    credited(order)
    withdraw(shopper, "60.00")()
    order_record_refund(order_id=order.pk, amount=Decimal("1600.00"), reference="rf_1")
    entries.cashback_order_refunded(order_id=order.pk)

    results = run_together([withdraw(shopper, "50.00")] * 3)

    assert error_codes(results) == {"insufficient_balance": 3}
    assert Wallet.objects.get(user=shopper).available == Decimal("-40.00")
    assert wallets_audit() == []


def test_concurrent_credits_adjustments_and_withdrawals_on_one_wallet_lose_nothing(shopper, paid_order, make_variant):
    finance = UserFactory(email="finance@example.com", is_staff=True, is_superuser=True)
    wallet_fund(user=shopper, amount="110.00", key="start")
    confirmed = []
    for n in range(5):
        # 5 % of 200.00: 10.00 each, confirmed and waiting for the risk check that credits them.
        entry = entries.cashback_create_for_order(
            order_id=paid_order(lines=[(make_variant(sku=f"SKU-{n}", price="200.00"), 1)]).pk
        )
        entries.cashback_confirm(entry_id=entry.pk)
        confirmed.append(entry.pk)
    workers = [lambda pk=pk: entries.cashback_assess(entry_id=pk) for pk in confirmed]
    workers += [
        lambda n=n: wallet_adjust(
            user_id=shopper.pk, amount="7.25" if n % 2 else "-2.25", reason="Goodwill", actor=finance, key=f"adj-{n}"
        )
        for n in range(5)
    ]
    workers += [withdraw(shopper, "50.00") for _ in range(2)]

    results = run_together(workers)

    assert error_codes(results) == {"ok": 12}
    wallet = Wallet.objects.get(user=shopper)
    rows = list(WalletEntry.objects.filter(wallet=wallet).order_by("pk").values_list("amount", "balance_after"))
    # Start 110.00 + 5 credits of 10.00 + adjustments (2 x 7.25 - 3 x 2.25) - 2 withdrawals of 50.00 held. Even
    # in the worst order (the three debits, then both withdrawals) 103.25 covers the 100.00 asked.
    assert (wallet.available, wallet.held, wallet.pending, wallet.lifetime_earned) == (
        Decimal("67.75"),
        Decimal("100.00"),
        Decimal("0.00"),
        Decimal("50.00"),
    )
    assert len(rows) == 1 + 5 + 5 + 2
    running = Decimal("0.00")
    for amount, balance_after in rows:  # each row follows from the one before it: no update was lost
        running += amount
        assert balance_after == running
    assert set(entries.CashbackEntry.objects.filter(pk__in=confirmed).values_list("status", flat=True)) == {
        CashbackStatus.CREDITED
    }
    assert wallets_audit() == []
