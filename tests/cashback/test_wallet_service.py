"""The wallet ledger service (``cashback.services.wallet``): signs per kind, holds never beyond what is available,
held never negative, one row per cause (the database's unique key), staff adjustments (reason, audit, once per
key), movements only inside the transaction that locked the wallet, lifetime earned."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import AuditEntry
from cashback.models import Wallet, WalletEntry, WalletEntryKind
from cashback.services.wallet import (
    wallet_adjust,
    wallet_get_or_create,
    wallet_lock,
    wallet_pending_change,
    wallet_post,
    wallets_lock,
)
from commerce.core.errors import Conflict, InvalidInput
from tests.cashback.conftest import wallet_fund
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

K = WalletEntryKind


def post(user, kind: str, amount: str, held: str = "0.00", *, key: str) -> WalletEntry:
    with transaction.atomic():
        wallet = wallet_lock(user_id=user.pk)
        return wallet_post(wallet=wallet, kind=kind, amount=Decimal(amount), held_amount=Decimal(held), key=key)


def balances(user) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    wallet = Wallet.objects.get(user=user)
    return wallet.available, wallet.held, wallet.pending, wallet.lifetime_earned


def ledger(user) -> list[tuple]:
    return list(
        WalletEntry.objects.filter(wallet__user=user)
        .order_by("pk")
        .values_list("kind", "amount", "held_amount", "balance_after", "held_after", "key")
    )


@pytest.fixture
def finance(db):
    return StaffFactory(email="finance@example.com")


# --- wallets ----------------------------------------------------------------------------------------------------


def test_a_wallet_is_created_once_empty_in_the_default_currency(shopper, settings):
    settings.DEFAULT_CURRENCY = "INR"

    first = wallet_get_or_create(user_id=shopper.pk)
    again = wallet_get_or_create(user_id=shopper.pk)

    assert first.pk == again.pk
    assert (first.currency, first.available, first.pending, first.held, first.lifetime_earned) == (
        "INR",
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert Wallet.objects.count() == 1


def test_wallets_lock_creates_missing_wallets_and_keys_them_by_user(shopper):
    other = UserFactory()
    existing = wallet_get_or_create(user_id=shopper.pk)

    with transaction.atomic():
        locked = wallets_lock(user_ids=[other.pk, shopper.pk, other.pk])

    assert sorted(locked) == sorted([shopper.pk, other.pk])
    assert locked[shopper.pk].pk == existing.pk
    assert locked[other.pk].user_id == other.pk
    assert Wallet.objects.count() == 2


# --- movements --------------------------------------------------------------------------------------------------


def test_every_kind_moves_the_balances_and_records_them_after_it(shopper):
    post(shopper, K.CASHBACK_CREDIT, "150.00", key="credit")
    post(shopper, K.CASHBACK_REVERSAL, "-20.00", key="reversal")
    post(shopper, K.WITHDRAWAL_HOLD, "-100.00", "100.00", key="hold")
    post(shopper, K.WITHDRAWAL_RELEASE, "40.00", "-40.00", key="release")
    post(shopper, K.WITHDRAWAL_PAID, "0.00", "-60.00", key="paid")
    post(shopper, K.ADJUSTMENT, "-5.50", key="adjust")

    assert ledger(shopper) == [
        (K.CASHBACK_CREDIT, Decimal("150.00"), Decimal("0.00"), Decimal("150.00"), Decimal("0.00"), "credit"),
        (K.CASHBACK_REVERSAL, Decimal("-20.00"), Decimal("0.00"), Decimal("130.00"), Decimal("0.00"), "reversal"),
        (K.WITHDRAWAL_HOLD, Decimal("-100.00"), Decimal("100.00"), Decimal("30.00"), Decimal("100.00"), "hold"),
        (K.WITHDRAWAL_RELEASE, Decimal("40.00"), Decimal("-40.00"), Decimal("70.00"), Decimal("60.00"), "release"),
        (K.WITHDRAWAL_PAID, Decimal("0.00"), Decimal("-60.00"), Decimal("70.00"), Decimal("0.00"), "paid"),
        (K.ADJUSTMENT, Decimal("-5.50"), Decimal("0.00"), Decimal("64.50"), Decimal("0.00"), "adjust"),
    ]
    assert balances(shopper) == (Decimal("64.50"), Decimal("0.00"), Decimal("0.00"), Decimal("130.00"))


def test_lifetime_earned_follows_credits_and_reversals_only(shopper):
    post(shopper, K.CASHBACK_CREDIT, "80.00", key="c1")
    post(shopper, K.CASHBACK_CREDIT, "20.00", key="c2")
    post(shopper, K.ADJUSTMENT, "500.00", key="a1")
    post(shopper, K.WITHDRAWAL_HOLD, "-300.00", "300.00", key="h1")
    post(shopper, K.WITHDRAWAL_PAID, "0.00", "-300.00", key="p1")
    post(shopper, K.CASHBACK_REVERSAL, "-30.00", key="r1")

    assert balances(shopper) == (Decimal("270.00"), Decimal("0.00"), Decimal("0.00"), Decimal("70.00"))


def test_amounts_are_rounded_half_up_to_the_paisa(shopper):
    entry = post(shopper, K.CASHBACK_CREDIT, "10.005", key="credit")

    assert entry.amount == Decimal("10.01")
    assert balances(shopper)[0] == Decimal("10.01")


@pytest.mark.parametrize(
    ("kind", "amount", "held"),
    [
        (K.CASHBACK_CREDIT, "-1.00", "0.00"),
        (K.CASHBACK_CREDIT, "0.00", "0.00"),
        (K.CASHBACK_CREDIT, "1.00", "1.00"),
        (K.CASHBACK_REVERSAL, "1.00", "0.00"),
        (K.CASHBACK_REVERSAL, "-1.00", "-1.00"),
        (K.WITHDRAWAL_HOLD, "1.00", "-1.00"),
        (K.WITHDRAWAL_HOLD, "-1.00", "0.00"),
        (K.WITHDRAWAL_HOLD, "0.00", "1.00"),
        (K.WITHDRAWAL_RELEASE, "-1.00", "1.00"),
        (K.WITHDRAWAL_RELEASE, "1.00", "0.00"),
        (K.WITHDRAWAL_PAID, "-1.00", "-1.00"),
        (K.WITHDRAWAL_PAID, "0.00", "1.00"),
        (K.ADJUSTMENT, "0.00", "0.00"),
        (K.ADJUSTMENT, "1.00", "1.00"),
        (K.ADJUSTMENT, "0.004", "0.00"),  # rounds to zero
    ],
)
def test_a_movement_with_the_wrong_signs_for_its_kind_is_refused(shopper, kind, amount, held):
    wallet_fund(user=shopper, amount="50.00")
    post(shopper, K.WITHDRAWAL_HOLD, "-10.00", "10.00", key="hold")
    before = (balances(shopper), ledger(shopper))

    with pytest.raises(ValueError, match=rf"^A {kind} movement cannot change available by "):
        post(shopper, kind, amount, held, key="wrong")

    assert (balances(shopper), ledger(shopper)) == before


@pytest.mark.parametrize(
    ("kind", "amount", "held"),
    [
        (K.WITHDRAWAL_HOLD, "-10.00", "50.00"),  # holds more than it takes from available: money made up
        (K.WITHDRAWAL_HOLD, "-50.00", "10.00"),
        (K.WITHDRAWAL_RELEASE, "50.00", "-10.00"),  # gives back more than it releases
        (K.WITHDRAWAL_RELEASE, "5.00", "-10.00"),
    ],
)
def test_a_hold_or_release_moves_the_same_amount_between_available_and_held(shopper, kind, amount, held):
    wallet_fund(user=shopper, amount="100.00")
    post(shopper, K.WITHDRAWAL_HOLD, "-20.00", "20.00", key="hold")
    before = (balances(shopper), ledger(shopper))

    with pytest.raises(ValueError, match=rf"^A {kind} movement must move the same amount"):
        post(shopper, kind, amount, held, key="uneven")

    assert (balances(shopper), ledger(shopper)) == before


def test_an_unknown_kind_is_refused(shopper):
    with pytest.raises(ValueError, match=r"^Unknown wallet entry kind 'bonus'\.$"):
        post(shopper, "bonus", "1.00", key="bonus")


def test_a_hold_beyond_what_is_available_is_a_409_and_changes_nothing(shopper):
    wallet_fund(user=shopper, amount="100.00")
    before = (balances(shopper), ledger(shopper))

    with pytest.raises(Conflict) as raised:
        post(shopper, K.WITHDRAWAL_HOLD, "-100.01", "100.01", key="hold")

    assert raised.value.code == "insufficient_balance"
    assert raised.value.detail == "Only 100.00 INR is available to withdraw."
    assert (balances(shopper), ledger(shopper)) == before


def test_a_hold_of_exactly_what_is_available_empties_it(shopper):
    wallet_fund(user=shopper, amount="100.00")

    post(shopper, K.WITHDRAWAL_HOLD, "-100.00", "100.00", key="hold")

    assert balances(shopper)[:2] == (Decimal("0.00"), Decimal("100.00"))


def test_nothing_can_be_held_while_the_balance_is_negative(shopper):
    post(shopper, K.CASHBACK_CREDIT, "50.00", key="credit")
    post(shopper, K.WITHDRAWAL_HOLD, "-50.00", "50.00", key="hold")
    post(shopper, K.WITHDRAWAL_PAID, "0.00", "-50.00", key="paid")
    post(shopper, K.CASHBACK_REVERSAL, "-50.00", key="reversal")  # reversed after it was paid out
    post(shopper, K.CASHBACK_CREDIT, "20.00", key="credit-2")

    with pytest.raises(Conflict) as raised:
        post(shopper, K.WITHDRAWAL_HOLD, "-0.01", "0.01", key="hold-2")

    assert raised.value.code == "insufficient_balance"
    assert balances(shopper)[:2] == (Decimal("-30.00"), Decimal("0.00"))


@pytest.mark.parametrize(
    ("kind", "amount", "held"), [(K.WITHDRAWAL_RELEASE, "30.01", "-30.01"), (K.WITHDRAWAL_PAID, "0.00", "-30.01")]
)
def test_held_never_goes_below_zero(shopper, kind, amount, held):
    wallet_fund(user=shopper, amount="100.00")
    post(shopper, K.WITHDRAWAL_HOLD, "-30.00", "30.00", key="hold")
    before = (balances(shopper), ledger(shopper))

    with pytest.raises(Conflict) as raised:
        post(shopper, kind, amount, held, key="too-much")

    assert raised.value.code == "insufficient_held"
    assert (balances(shopper), ledger(shopper)) == before


def test_a_balance_out_of_range_is_refused_and_the_wallet_object_keeps_its_balances(shopper):
    post(shopper, K.CASHBACK_CREDIT, "9999999999.99", key="big")

    with transaction.atomic():
        wallet = wallet_lock(user_id=shopper.pk)
        with pytest.raises(InvalidInput) as raised:
            wallet_post(wallet=wallet, kind=K.CASHBACK_CREDIT, amount=Decimal("0.01"), key="over")
        assert (wallet.available, wallet.lifetime_earned) == (Decimal("9999999999.99"), Decimal("9999999999.99"))

    assert raised.value.code == "amount_out_of_range"
    assert balances(shopper)[0] == Decimal("9999999999.99")
    assert [row[5] for row in ledger(shopper)] == ["big"]


def test_the_same_cause_posted_twice_is_refused_by_the_database(shopper):
    post(shopper, K.CASHBACK_CREDIT, "10.00", key="cashback-credit:1")

    with pytest.raises(IntegrityError):
        post(shopper, K.CASHBACK_CREDIT, "10.00", key="cashback-credit:1")

    assert balances(shopper)[0] == Decimal("10.00")
    assert [row[5] for row in ledger(shopper)] == ["cashback-credit:1"]


def test_the_key_is_unique_across_wallets(shopper):
    other = UserFactory()
    wallet_get_or_create(user_id=other.pk)
    post(shopper, K.CASHBACK_CREDIT, "10.00", key="withdrawal-hold:7")

    with pytest.raises(IntegrityError):
        post(other, K.CASHBACK_CREDIT, "10.00", key="withdrawal-hold:7")

    assert balances(other)[0] == Decimal("0.00")


def test_pending_moves_under_the_lock_and_never_below_zero(shopper):
    with transaction.atomic():
        wallet = wallet_lock(user_id=shopper.pk)
        wallet_pending_change(wallet=wallet, delta=Decimal("49.90"))
        wallet_pending_change(wallet=wallet, delta=Decimal("-9.90"))

    with pytest.raises(ValueError, match=r"would go below zero \(40\.00 -40\.01\)"), transaction.atomic():
        wallet_pending_change(wallet=wallet_lock(user_id=shopper.pk), delta=Decimal("-40.01"))

    assert balances(shopper) == (Decimal("0.00"), Decimal("0.00"), Decimal("40.00"), Decimal("0.00"))
    assert ledger(shopper) == []


@pytest.mark.django_db(transaction=True)
def test_movements_outside_a_transaction_are_refused(shopper):
    wallet = wallet_get_or_create(user_id=shopper.pk)

    with pytest.raises(RuntimeError, match=r"^Wallet movements must run inside the transaction that locked"):
        wallet_post(wallet=wallet, kind=K.CASHBACK_CREDIT, amount=Decimal("10.00"), key="loose")
    with pytest.raises(RuntimeError, match=r"^Wallet movements must run inside the transaction that locked"):
        wallet_pending_change(wallet=wallet, delta=Decimal("10.00"))

    assert balances(shopper) == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))
    assert WalletEntry.objects.count() == 0


# --- staff adjustments ------------------------------------------------------------------------------------------


def test_an_adjustment_moves_available_and_is_audited(shopper, finance):
    wallet_fund(user=shopper, amount="100.00", key="fund")

    entry = wallet_adjust(
        user_id=shopper.pk, amount="-25.50", reason="  Goodwill credit reversed  ", actor=finance, key="form-1"
    )

    wallet = Wallet.objects.get(user=shopper)
    assert (entry.kind, entry.amount, entry.balance_after, entry.key, entry.actor_id, entry.reason) == (
        K.ADJUSTMENT,
        Decimal("-25.50"),
        Decimal("74.50"),
        "adjustment:form-1",
        finance.pk,
        "Goodwill credit reversed",
    )
    assert balances(shopper) == (Decimal("74.50"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))
    assert list(
        AuditEntry.objects.filter(action="wallet.adjusted").values_list(
            "actor_id", "target_type", "target_id", "before", "after"
        )
    ) == [
        (
            finance.pk,
            "cashback.wallet",
            str(wallet.pk),
            {"available": "100.00"},
            {"available": "74.50", "amount": "-25.50", "reason": "Goodwill credit reversed"},
        )
    ]


def test_an_adjustment_may_take_the_balance_below_zero(shopper, finance):
    wallet_adjust(user_id=shopper.pk, amount="-10.00", reason="Recovered an overpayment", actor=finance, key="k")

    assert balances(shopper)[0] == Decimal("-10.00")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_an_adjustment_needs_a_reason(shopper, finance, reason):
    with pytest.raises(InvalidInput) as raised:
        wallet_adjust(user_id=shopper.pk, amount="10.00", reason=reason, actor=finance, key="k")

    assert raised.value.fields == {"reason": ["A reason is required."]}
    assert WalletEntry.objects.count() == 0
    assert AuditEntry.objects.filter(action="wallet.adjusted").count() == 0


@pytest.mark.parametrize("amount", ["0", "0.004", "abc", "NaN", "Infinity", "1e40", "10000000000.00", 1.5, True])
def test_an_adjustment_needs_a_non_zero_amount_in_range(shopper, finance, amount):
    with pytest.raises(InvalidInput) as raised:
        wallet_adjust(user_id=shopper.pk, amount=amount, reason="Goodwill", actor=finance, key="k")

    assert list(raised.value.fields) == ["amount"]
    assert WalletEntry.objects.count() == 0


def test_the_same_adjustment_submitted_twice_is_made_once(shopper, finance):
    wallet_adjust(user_id=shopper.pk, amount="15.00", reason="Goodwill", actor=finance, key="form-7")

    with pytest.raises(Conflict) as raised:
        wallet_adjust(user_id=shopper.pk, amount="15.00", reason="Goodwill", actor=finance, key="form-7")

    assert raised.value.code == "duplicate_adjustment"
    assert balances(shopper)[0] == Decimal("15.00")
    assert AuditEntry.objects.filter(action="wallet.adjusted").count() == 1


def test_adjustments_with_different_keys_both_apply(shopper, finance):
    wallet_adjust(user_id=shopper.pk, amount="15.00", reason="Goodwill", actor=finance, key="form-7")
    wallet_adjust(user_id=shopper.pk, amount="15.00", reason="Goodwill", actor=finance, key="form-8")

    assert balances(shopper)[0] == Decimal("30.00")
