"""Property tests of the points ledger (hypothesis): any sequence of points earned pending, confirmed, earned at
once, taken back (pending or available), held, released, spent, returned, redeemed, adjusted and expired, through
``points_post``, ``points_adjust`` and ``points_expire_due``, keeps every invariant after every step:

* ``available == sum(points)``, ``pending == sum(pending_points)`` and ``held == sum(held_points)`` of the ledger,
  and the last entry's balances are the account's;
* no balance is ever negative: a movement that would make one negative is refused (409) exactly when it would;
* ``sum(lot.remaining) == available + held``, and the lots' remaining points are exactly what a first-in, first-out
  model kept beside the services says (so spending and expiry take the oldest points first);
* ``lifetime`` is every point made available (confirmed, earned, adjusted up) less what reversals took back.

Each example uses a fresh member, so examples share the test's transaction without seeing each other's rows. The
programme's expiry period is one month, so sequences that move the clock see points expire.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from commerce.core.errors import Conflict
from loyalty.models import PointsAccount, PointsEntry, PointsEntryKind, PointsLot
from loyalty.services.ledger import (
    add_months,
    points_account_get_or_create,
    points_account_lock,
    points_adjust,
    points_expire_due,
    points_post,
)
from loyalty.services.programme import programme_get
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

K = PointsEntryKind
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
EXPIRY_MONTHS = 1

amounts = st.integers(min_value=1, max_value=400)
# Points come in larger than they go out, so that holds and spends are often covered.
gains = st.integers(min_value=1, max_value=600)
takes = st.integers(min_value=1, max_value=250)
steps = st.one_of(
    st.tuples(st.sampled_from(["pend", "earn", "earn", "return"]), gains),
    st.tuples(st.sampled_from(["confirm", "pending_reversal", "reversal", "redeem"]), amounts),
    st.tuples(st.just("hold"), takes),
    st.tuples(st.sampled_from(["release", "spend"]), st.integers(min_value=0, max_value=9)),
    st.tuples(st.just("adjust"), amounts, st.booleans()),
    st.tuples(st.sampled_from(["wait", "wait_and_expire"]), st.integers(min_value=0, max_value=45)),
    st.tuples(st.just("expire"), st.just(0)),
)


@dataclass
class Lot:
    expires_at: datetime
    remaining: int


@dataclass
class Model:
    """What the ledger must show, kept by the test beside the services."""

    available: int = 0
    pending: int = 0
    lifetime: int = 0
    holds: list[int] = field(default_factory=list)  # open holds, oldest first
    lots: list[Lot] = field(default_factory=list)  # first in, first out
    expired_on: set[str] = field(default_factory=set)

    @property
    def held(self) -> int:
        return sum(self.holds)

    def add_lot(self, points: int, now: datetime) -> None:
        self.lots.append(Lot(add_months(now, EXPIRY_MONTHS), points))

    def consume(self, points: int, order: list[Lot] | None = None) -> None:
        for lot in order if order is not None else self.lots:
            taken = min(lot.remaining, points)
            lot.remaining -= taken
            points -= taken
        assert points == 0, "the model ran out of lots"


class Run:
    def __init__(self, admin) -> None:
        self.user = UserFactory()
        self.admin = admin
        self.account = points_account_get_or_create(user_id=self.user.pk)
        self.model = Model()
        self.now = START
        self.n = 0

    def key(self, kind: str) -> str:
        self.n += 1
        return f"property:{self.user.pk}:{kind}:{self.n}"

    def post(self, kind: str, **movement: int) -> bool:
        """Post a movement; False when the ledger refused it with 409 insufficient_points."""
        try:
            with transaction.atomic():
                points_post(
                    account=points_account_lock(user_id=self.user.pk),
                    kind=kind,
                    key=self.key(kind),
                    now=self.now,
                    **movement,
                )
        except Conflict as exc:
            assert exc.code == "insufficient_points"
            event(f"{kind} refused")
            return False
        return True

    def step(self, step: tuple) -> None:
        action, value, *rest = step
        model = self.model
        if action == "pend":
            self.post(K.EARN_PENDING, pending_points=value)
            model.pending += value
        elif action in ("earn", "return"):
            self.post(K.EARN if action == "earn" else K.RETURN, points=value)
            model.available += value
            model.lifetime += value if action == "earn" else 0
            model.add_lot(value, self.now)
        elif action == "confirm":
            self.confirm(value)
        elif action == "pending_reversal":
            accepted = self.post(K.PENDING_REVERSAL, pending_points=-value)
            assert accepted == (value <= model.pending)
            model.pending -= value if accepted else 0
        elif action in ("reversal", "redeem"):
            accepted = self.post(K.REVERSAL if action == "reversal" else K.REDEEM, points=-value)
            assert accepted == (value <= model.available), f"{action} of {value} with {model.available}"
            if accepted:
                model.available -= value
                model.lifetime = max(0, model.lifetime - value) if action == "reversal" else model.lifetime
                model.consume(value)
        elif action == "hold":
            accepted = self.post(K.HOLD, points=-value, held_points=value)
            assert accepted == (value <= model.available)
            if accepted:
                model.available -= value
                model.holds.append(value)
        elif action in ("release", "spend") and model.holds:
            self.settle(action, model.holds.pop(value % len(model.holds)))
        elif action == "adjust":
            self.adjust(value if rest[0] else -value)
        elif action in ("wait", "wait_and_expire"):
            self.now += timedelta(days=value)
            if action == "wait_and_expire":  # the nightly run
                self.expire()
        elif action == "expire":
            self.expire()

    def confirm(self, value: int) -> None:
        part = min(value, self.model.pending)
        if part:
            assert self.post(K.CONFIRM, points=part, pending_points=-part)
            self.model.pending -= part
            self.model.available += part
            self.model.lifetime += part
            self.model.add_lot(part, self.now)

    def settle(self, action: str, points: int) -> None:
        event(f"hold {action}")
        if action == "release":
            assert self.post(K.RELEASE, points=points, held_points=-points)
            self.model.available += points
        else:
            assert self.post(K.SPEND, held_points=-points)
            self.model.consume(points)

    def adjust(self, points: int) -> None:
        model = self.model
        try:
            with time_machine.travel(self.now, tick=False):  # the adjustment and its lot are dated by the clock
                points_adjust(
                    user_id=self.user.pk, points=points, reason="Property test", actor=self.admin, key=self.key("a")
                )
        except Conflict as exc:
            assert (exc.code, points + model.available < 0) == ("insufficient_points", True)
            return
        assert points + model.available >= 0
        model.available += points
        if points > 0:
            model.lifetime += points
            model.add_lot(points, self.now)
        else:
            model.consume(-points)

    def expire(self) -> None:
        model = self.model
        day = self.now.date().isoformat()
        points_expire_due(now=self.now)
        if day in model.expired_on:
            return
        due = [lot for lot in model.lots if lot.expires_at <= self.now]
        points = min(sum(lot.remaining for lot in due), model.available)
        if points > 0:
            event("points expired")
            model.expired_on.add(day)
            model.available -= points
            model.consume(points, order=due)

    def check(self) -> None:
        account = PointsAccount.objects.get(pk=self.account.pk)
        model = self.model
        sums = account.entries.aggregate(points=Sum("points"), pending=Sum("pending_points"), held=Sum("held_points"))
        assert (account.available, account.pending, account.held) == (
            sums["points"] or 0,
            sums["pending"] or 0,
            sums["held"] or 0,
        )
        assert min(account.available, account.pending, account.held, account.lifetime) >= 0
        assert (account.available, account.pending, account.held, account.lifetime) == (
            model.available,
            model.pending,
            model.held,
            model.lifetime,
        )
        last = PointsEntry.objects.filter(account=account).order_by("-id").first()
        if last is not None:
            assert (last.balance_after, last.pending_after, last.held_after) == (
                account.available,
                account.pending,
                account.held,
            )
        lots = list(PointsLot.objects.filter(account=account).order_by("available_at", "id"))
        assert sum(lot.remaining for lot in lots) == account.available + account.held
        assert [(lot.expires_at, lot.remaining) for lot in lots] == [
            (lot.expires_at, lot.remaining) for lot in model.lots
        ]


@pytest.fixture
def admin(db):
    return UserFactory(email="loyalty-admin@example.com", is_staff=True, is_superuser=True)


@pytest.fixture(autouse=True)
def one_month_expiry(db):
    programme = programme_get()
    programme.expiry_months = EXPIRY_MONTHS
    programme.save()


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(steps, min_size=5, max_size=30))
def test_any_sequence_of_movements_keeps_the_ledger_whole(admin, sequence):
    run = Run(admin)
    for step in sequence:
        run.step(step)
        run.check()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lots=st.lists(st.tuples(st.integers(min_value=1, max_value=20), amounts), min_size=1, max_size=8),
    spent=st.integers(min_value=0, max_value=1500),
    days_after=st.integers(min_value=0, max_value=200),
)
def test_expiry_takes_the_oldest_points_first(admin, lots, spent, days_after):
    """Lots made days apart, some points spent, then the clock moves on: what expires is exactly the points left in
    the lots past their date, and every later lot is untouched."""
    run = Run(admin)
    for gap, points in lots:
        run.now += timedelta(days=gap)
        run.step(("earn", points))
    run.step(("redeem", min(spent, run.model.available) or 1))
    before = {lot.pk: lot.remaining for lot in PointsLot.objects.filter(account=run.account)}
    run.now = START + timedelta(days=days_after)
    expire_at = run.now

    run.step(("expire", 0))

    run.check()
    account = PointsAccount.objects.get(pk=run.account.pk)
    expired = -sum(account.entries.filter(kind=K.EXPIRE).values_list("points", flat=True))
    for lot in PointsLot.objects.filter(account=account):
        if lot.expires_at <= expire_at:
            assert lot.remaining == 0
        else:
            assert lot.remaining == before[lot.pk]
    assert expired == sum(
        remaining for pk, remaining in before.items() if PointsLot.objects.get(pk=pk).expires_at <= expire_at
    )
