"""Cashback selectors: the shopper's lists start from the user, descriptions of ledger rows, the masking of
withdrawal destinations, the review queue's order and the dashboard's totals.

The builders here (``order_entry``, ``conversion_entry``, ``withdrawal_held``, ``ledger_credit``) write rows the
way the services leave them, without going through the services, for the read-side tests of the API and admin.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from cashback.models import (
    CashbackEntry,
    CashbackSource,
    CashbackStatus,
    Conversion,
    RiskLevel,
    Wallet,
    WalletEntryKind,
    Withdrawal,
    WithdrawalStatus,
)
from cashback.selectors import (
    cashback_list,
    credited_totals,
    mask_account_number,
    mask_vpa,
    review_queue,
    review_totals,
    wallet_entry_description,
    wallet_summary,
    wallet_transactions,
    withdrawal_destination_masked,
    withdrawals_awaiting_totals,
)
from cashback.services.wallet import wallet_lock, wallet_post
from commerce.core.errors import InvalidInput
from commerce.offers.models import OfferClick
from tests.factories import UserFactory
from tests.offers.factories import DealFactory

pytestmark = pytest.mark.django_db


def order_entry(order, *, amount="49.90", status=CashbackStatus.PENDING, **fields) -> CashbackEntry:
    """A cashback entry of ``order`` (5 % of its subtotal unless told otherwise)."""
    return CashbackEntry.objects.create(
        user=order.user,
        merchant=order.merchant,
        source=CashbackSource.ORDER,
        order=order,
        currency=order.currency,
        base_amount=Decimal("998.00"),
        rate=Decimal("5.00"),
        amount=Decimal(amount),
        status=status,
        **fields,
    )


def conversion_entry(
    *, user, merchant, reference="SALE-1", sale="2000.00", amount="100.00", status=CashbackStatus.PENDING, **fields
) -> CashbackEntry:
    """A conversion (and its click on a deal of ``merchant``) with its cashback entry."""
    offer = DealFactory(merchant=merchant)
    click = OfferClick.objects.create(offer=offer, user=user)
    conversion = Conversion.objects.create(
        merchant=merchant,
        offer=offer,
        click=click,
        user=user,
        reference=reference,
        sale_amount=Decimal(sale),
        currency="INR",
    )
    return CashbackEntry.objects.create(
        user=user,
        merchant=merchant,
        source=CashbackSource.CONVERSION,
        conversion=conversion,
        offer=offer,
        currency="INR",
        base_amount=Decimal(sale),
        rate=Decimal("5.00"),
        amount=Decimal(amount),
        status=status,
        **fields,
    )


def ledger_credit(entry: CashbackEntry) -> None:
    """Credit ``entry`` to its shopper's wallet as the entries service would (ledger row and status)."""
    with transaction.atomic():
        wallet = wallet_lock(user_id=entry.user_id)
        wallet_post(
            wallet=wallet,
            kind=WalletEntryKind.CASHBACK_CREDIT,
            amount=entry.amount,
            key=f"cashback-credit:{entry.pk}",
            cashback_entry=entry,
        )
    CashbackEntry.objects.filter(pk=entry.pk).update(status=CashbackStatus.CREDITED, credited_at=entry.created_at)


def withdrawal_held(*, user, amount="100.00", method="upi", status=WithdrawalStatus.REQUESTED, **dest) -> Withdrawal:
    """A withdrawal whose amount is held in ``user``'s wallet (the wallet must have it available)."""
    destination = dest or (
        {"vpa": "priya.sharma@okaxis"}
        if method == "upi"
        else {"account_number": "123456789012", "ifsc": "HDFC0001234", "account_name": "Priya Sharma"}
    )
    with transaction.atomic():
        wallet = wallet_lock(user_id=user.pk)
        withdrawal = Withdrawal.objects.create(
            user=user,
            wallet=wallet,
            amount=Decimal(amount),
            currency="INR",
            method=method,
            status=status,
            **destination,
        )
        wallet_post(
            wallet=wallet,
            kind=WalletEntryKind.WITHDRAWAL_HOLD,
            amount=-Decimal(amount),
            held_amount=Decimal(amount),
            key=f"withdrawal-hold:{withdrawal.pk}",
            withdrawal=withdrawal,
        )
    return withdrawal


# --- masking --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vpa", "masked"),
    [("priya.sharma@okaxis", "pr***@okaxis"), ("x@upi", "x***@upi")],
)
def test_a_vpa_shows_two_characters_and_the_handle(vpa, masked):
    assert mask_vpa(vpa) == masked


def test_an_account_number_shows_its_last_four_digits():
    assert mask_account_number("123456789012") == "XXXXXX9012"


def test_destinations_are_masked_by_method(shopper, funded_wallet):
    funded_wallet("500.00")
    upi = withdrawal_held(user=shopper)
    bank = withdrawal_held(user=shopper, method="bank")

    assert withdrawal_destination_masked(upi) == "UPI pr***@okaxis"
    assert withdrawal_destination_masked(bank) == "bank account XXXXXX9012 (HDFC0001234)"


# --- the shopper's reads --------------------------------------------------------------------------------------


def test_cashback_list_is_the_users_own_newest_first(shopper, paid_order, merchant):
    first = order_entry(paid_order())
    second = conversion_entry(user=shopper, merchant=merchant)
    order_entry(paid_order(user=UserFactory()))

    assert list(cashback_list(user=shopper)) == [second, first]


def test_cashback_list_filters_by_status_and_refuses_an_unknown_one(shopper, paid_order):
    order_entry(paid_order())
    credited = order_entry(paid_order(), status=CashbackStatus.CREDITED)

    assert list(cashback_list(user=shopper, status="credited")) == [credited]
    assert len(cashback_list(user=shopper, status="")) == 2
    with pytest.raises(InvalidInput) as refused:
        cashback_list(user=shopper, status="paid")
    assert list(refused.value.fields) == ["status"]


def test_a_user_without_a_wallet_sees_zeros_and_none_is_created(shopper, django_assert_num_queries, settings):
    settings.WITHDRAWAL_MINIMUM = "250.00"

    with django_assert_num_queries(1):
        summary = wallet_summary(user=shopper)

    assert (summary.currency, summary.available, summary.pending, summary.held) == ("INR", 0, 0, 0)
    assert summary.minimum_withdrawal == Decimal("250.00")
    assert not Wallet.objects.exists()


def test_a_negative_balance_is_not_withdrawable(shopper, funded_wallet):
    funded_wallet("-20.00")

    summary = wallet_summary(user=shopper)

    assert summary.available == Decimal("-20.00")
    assert summary.withdrawable == Decimal("0.00")


def test_each_ledger_row_is_described_for_the_shopper(shopper, paid_order, merchant, funded_wallet):
    order = paid_order()
    ledger_credit(order_entry(order, amount="49.90"))
    ledger_credit(conversion_entry(user=shopper, merchant=merchant, reference="AMZ-77", amount="100.00"))
    funded_wallet("10.00")
    upi = withdrawal_held(user=shopper, amount="100.00")
    bank = withdrawal_held(user=shopper, amount="50.00", method="bank")

    rows = list(wallet_transactions(user=shopper))

    assert [wallet_entry_description(row) for row in rows] == [
        "Withdrawal to bank account XXXXXX9012 (HDFC0001234)",
        "Withdrawal to UPI pr***@okaxis",
        "Adjustment: test funding",
        "Cashback for your purchase at Threads (AMZ-77)",
        f"Cashback for order {order.number}",
    ]
    assert [row.withdrawal_id for row in rows[:2]] == [bank.pk, upi.pk]


def test_reversals_say_what_was_taken_back(shopper, paid_order, merchant):
    order = paid_order()
    from_order = order_entry(order, amount="40.00")
    from_sale = conversion_entry(user=shopper, merchant=merchant, reference="AMZ-9", amount="60.00")
    for entry in (from_order, from_sale):
        ledger_credit(entry)
        with transaction.atomic():
            wallet_post(
                wallet=wallet_lock(user_id=shopper.pk),
                kind=WalletEntryKind.CASHBACK_REVERSAL,
                amount=Decimal("-10.00"),
                key=f"cashback-reversal:{entry.pk}:10.00",
                cashback_entry=entry,
            )

    reversals = [row for row in wallet_transactions(user=shopper) if row.kind == WalletEntryKind.CASHBACK_REVERSAL]

    assert [wallet_entry_description(row) for row in reversals] == [
        "Cashback taken back for your purchase at Threads (AMZ-9)",
        f"Cashback taken back for order {order.number} (refund)",
    ]


def test_the_ledger_of_another_user_is_never_read(shopper, funded_wallet):
    other = UserFactory()
    funded_wallet("30.00", user=other)

    assert list(wallet_transactions(user=shopper)) == []


# --- back office ----------------------------------------------------------------------------------------------


def test_the_review_queue_is_confirmed_high_risk_riskiest_first(shopper, paid_order):
    high = {"status": CashbackStatus.CONFIRMED, "risk_level": RiskLevel.HIGH}
    medium = order_entry(paid_order(), risk_score=60, **high)
    riskiest = order_entry(paid_order(), risk_score=90, **high)
    order_entry(paid_order(), status=CashbackStatus.CONFIRMED, risk_level=RiskLevel.LOW, risk_score=10)
    order_entry(paid_order(), status=CashbackStatus.PENDING)

    assert list(review_queue()) == [riskiest, medium]


def test_dashboard_totals_count_and_add_per_currency(shopper, paid_order, funded_wallet, django_assert_num_queries):
    high = {"status": CashbackStatus.CONFIRMED, "risk_level": RiskLevel.HIGH, "risk_score": 80}
    order_entry(paid_order(), amount="40.00", reversed_amount=Decimal("5.00"), **high)
    order_entry(paid_order(), amount="10.00", **high)
    funded_wallet("500.00")
    withdrawal_held(user=shopper, amount="120.00")
    withdrawal_held(user=shopper, amount="130.00", status=WithdrawalStatus.APPROVED)

    with django_assert_num_queries(2):
        queue = review_totals()
        awaiting = withdrawals_awaiting_totals()

    assert (queue.count, queue.amounts) == (2, {"INR": Decimal("45.00")})
    assert (awaiting.count, awaiting.amounts) == (1, {"INR": Decimal("120.00")})


def test_credited_totals_count_only_credits_since_the_given_time(shopper, paid_order):
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        ledger_credit(order_entry(paid_order(), amount="20.00"))
    with time_machine.travel(start + timedelta(days=8), tick=False):
        ledger_credit(order_entry(paid_order(), amount="30.00"))

    totals = credited_totals(since=start + timedelta(days=1))

    assert (totals.count, totals.amounts) == (1, {"INR": Decimal("30.00")})
