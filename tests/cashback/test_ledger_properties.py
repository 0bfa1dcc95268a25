"""Property tests of the wallet ledger (hypothesis): any sequence of cashback credits and reversals, withdrawals
requested, rejected, paid or failed, and staff adjustments, all through the services, keeps every invariant after
every step:

* ``available == sum(amount)`` and ``held == sum(held_amount)`` of the ledger, and ``wallets_audit`` finds nothing;
* ``held`` is never negative and equals the open withdrawals' amounts;
* a withdrawal is accepted exactly when ``available`` covers it, so it never takes ``available`` below zero (only a
  reversal or an adjustment may);
* every paisa is accounted for: ``available + held + paid out == credited - reversed + adjusted``, and
  ``lifetime_earned == credited - reversed``.

Each example uses a fresh shopper, so examples share the test's transaction without seeing each other's rows.
"""

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cashback.models import OPEN_WITHDRAWAL_STATUSES, Wallet, WalletEntryKind, Withdrawal
from cashback.services.ledger_audit import wallets_audit
from cashback.services.wallet import wallet_adjust, wallet_get_or_create, wallet_lock, wallet_post
from cashback.services.withdrawals import (
    withdrawal_approve,
    withdrawal_mark_failed,
    withdrawal_mark_paid,
    withdrawal_minimum,
    withdrawal_reject,
    withdrawal_request,
)
from commerce.core.errors import Conflict
from commerce.core.money import quantize
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("400.00"), places=2)
# Credits are drawn larger and twice as often so that withdrawals (at least WITHDRAWAL_MINIMUM) are often covered.
credits = st.decimals(min_value=Decimal("50.00"), max_value=Decimal("900.00"), places=2)
steps = st.one_of(
    st.tuples(st.just("credit"), credits),
    st.tuples(st.just("credit"), credits),
    st.tuples(st.just("reverse"), amounts),
    st.tuples(st.just("withdraw"), st.decimals(min_value=ZERO, max_value=Decimal("200.00"), places=2)),
    st.tuples(st.sampled_from(["reject", "pay", "fail"]), st.integers(min_value=0, max_value=9)),
    st.tuples(st.just("adjust"), amounts, st.booleans()),
)


@dataclass
class Expected:
    """What the ledger must show, kept by the test beside the services."""

    credited: Decimal = ZERO
    reversed: Decimal = ZERO
    adjusted: Decimal = ZERO
    paid_out: Decimal = ZERO
    open: dict[int, Decimal] = field(default_factory=dict)  # withdrawal id -> amount still held

    @property
    def held(self) -> Decimal:
        return sum(self.open.values(), ZERO)

    @property
    def available(self) -> Decimal:
        return self.credited - self.reversed + self.adjusted - self.paid_out - self.held


class Run:
    def __init__(self, admin) -> None:
        self.user = UserFactory()
        self.admin = admin
        self.wallet = wallet_get_or_create(user_id=self.user.pk)
        self.expected = Expected()
        self.n = 0

    def key(self, kind: str) -> str:
        self.n += 1
        return f"property:{self.user.pk}:{kind}:{self.n}"

    def post(self, kind: str, amount: Decimal) -> None:
        with transaction.atomic():
            wallet_post(wallet=wallet_lock(user_id=self.user.pk), kind=kind, amount=amount, key=self.key(kind))

    def step(self, step: tuple) -> None:
        action, value, *rest = step
        expected = self.expected
        if action == "credit":
            self.post(WalletEntryKind.CASHBACK_CREDIT, value)
            expected.credited += value
        elif action == "reverse":
            # A refund takes back at most what was credited and not taken back yet.
            part = min(value, expected.credited - expected.reversed)
            if part > 0:
                self.post(WalletEntryKind.CASHBACK_REVERSAL, -part)
                expected.reversed += part
        elif action == "withdraw":
            self.withdraw(withdrawal_minimum() + value)
        elif action == "adjust":
            signed = value if rest[0] else -value
            wallet_adjust(
                user_id=self.user.pk, amount=signed, reason="Property test", actor=self.admin, key=self.key("a")
            )
            expected.adjusted += signed
        elif expected.open:
            self.settle(action, sorted(expected.open)[value % len(expected.open)])

    def withdraw(self, amount: Decimal) -> None:
        available = self.expected.available
        try:
            withdrawal = withdrawal_request(user_id=self.user.pk, amount=amount, method="upi", vpa="priya@okaxis")
        except Conflict as exc:
            assert exc.code == "insufficient_balance"
            assert available < amount, f"{amount} refused with {available} available"
            event("withdrawal refused")
            return
        event("withdrawal accepted")
        assert available >= amount, f"{amount} accepted with only {available} available"
        self.expected.open[withdrawal.pk] = amount
        assert Wallet.objects.get(pk=self.wallet.pk).available >= 0

    def settle(self, action: str, withdrawal_id: int) -> None:
        amount = self.expected.open.pop(withdrawal_id)
        event(f"withdrawal {action}")
        if action == "reject":
            withdrawal_reject(withdrawal_id=withdrawal_id, actor=self.admin, reason="Property test")
            return
        withdrawal_approve(withdrawal_id=withdrawal_id, actor=self.admin)
        if action == "pay":
            withdrawal_mark_paid(withdrawal_id=withdrawal_id, reference=f"UTR{withdrawal_id}", actor=self.admin)
            self.expected.paid_out += amount
        else:
            withdrawal_mark_failed(withdrawal_id=withdrawal_id, reason="Account closed", actor=self.admin)

    def check(self) -> None:
        wallet = Wallet.objects.get(pk=self.wallet.pk)
        sums = wallet.entries.aggregate(available=Sum("amount"), held=Sum("held_amount"))
        open_amount = Withdrawal.objects.filter(wallet=wallet, status__in=OPEN_WITHDRAWAL_STATUSES).aggregate(
            total=Sum("amount")
        )["total"]
        expected = self.expected
        # Sums are rounded: SQLite adds decimals as floating point.
        assert (wallet.available, wallet.held) == (quantize(sums["available"] or ZERO), quantize(sums["held"] or ZERO))
        assert wallet.held >= 0
        assert wallet.held == quantize(open_amount or ZERO) == expected.held
        assert wallet.available == expected.available
        assert wallet.available + wallet.held + expected.paid_out == (
            expected.credited - expected.reversed + expected.adjusted
        )
        assert wallet.lifetime_earned == expected.credited - expected.reversed
        assert wallets_audit(wallet_ids=[wallet.pk]) == []


@pytest.fixture
def admin(db):
    return UserFactory(email="finance-admin@example.com", is_staff=True, is_superuser=True)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(steps, min_size=1, max_size=25))
def test_any_sequence_of_movements_keeps_the_ledger_whole(admin, sequence):
    run = Run(admin)
    for step in sequence:
        run.step(step)
        run.check()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(credit=credits, asked=st.decimals(min_value=ZERO, max_value=Decimal("500.00"), places=2))
def test_a_withdrawal_never_takes_available_below_zero(admin, credit, asked):
    run = Run(admin)
    run.step(("credit", credit))

    run.withdraw(withdrawal_minimum() + asked)

    run.check()
    assert Wallet.objects.get(pk=run.wallet.pk).available >= 0
