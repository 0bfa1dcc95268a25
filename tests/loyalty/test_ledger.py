"""The points ledger service: accounts and referral codes, the signs of each kind, balances never negative, the
balances after each entry, FIFO lots (created, consumed oldest first, untouched by holds), lifetime points, one row
per key, follow-ups of qualifying entries, and staff adjustments (reason, audit, once per key)."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import IntegrityError, transaction

from accounts.models import AuditEntry
from commerce.core.errors import Conflict, InvalidInput
from loyalty.models import PointsAccount, PointsEntry, PointsEntryKind, PointsLot
from loyalty.services import ledger
from loyalty.services.ledger import (
    REFERRAL_ALPHABET,
    add_months,
    points_account_get_or_create,
    points_account_lock,
    points_adjust,
    points_post,
)
from tests.factories import UserFactory
from tests.loyalty.conftest import points_fund

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def staff(db):
    return UserFactory(email="support@example.com", is_staff=True)


@pytest.fixture
def scheduled(monkeypatch):
    """The follow-ups the ledger scheduled, as ``(user_id, entry_id)``."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(
        ledger.hooks, "points_earned_schedule", lambda *, user_id, entry_id: calls.append((user_id, entry_id))
    )
    return calls


def post(user, **movement):
    """One ``points_post`` on the user's freshly locked account; returns the entry and the account after it."""
    with transaction.atomic():
        account = points_account_lock(user_id=user.pk)
        entry = points_post(account=account, **movement)
    account.refresh_from_db()
    return entry, account


def balances(account: PointsAccount) -> tuple[int, int, int, int]:
    account.refresh_from_db()
    return account.available, account.pending, account.held, account.lifetime


def lots(account: PointsAccount) -> list[tuple[int, int]]:
    return list(
        PointsLot.objects.filter(account=account).order_by("available_at", "id").values_list("points", "remaining")
    )


# --- accounts -------------------------------------------------------------------------------------------------


def test_an_account_is_created_once_with_a_referral_code(shopper):
    account = points_account_get_or_create(user_id=shopper.pk)
    again = points_account_get_or_create(user_id=shopper.pk)

    assert again.pk == account.pk
    assert len(account.referral_code) == 8
    assert set(account.referral_code) <= set(REFERRAL_ALPHABET)
    assert not set("0O1I") & set(REFERRAL_ALPHABET)
    assert (account.available, account.pending, account.held, account.lifetime) == (0, 0, 0, 0)


def test_a_taken_referral_code_is_drawn_again(shopper, monkeypatch):
    other = UserFactory()
    taken = points_account_get_or_create(user_id=other.pk).referral_code
    draws = iter([taken, taken, "ABCDEFGH"])
    monkeypatch.setattr(ledger, "referral_code_new", lambda: next(draws))

    account = points_account_get_or_create(user_id=shopper.pk)

    assert account.referral_code == "ABCDEFGH"
    assert PointsAccount.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_locks_and_movements_outside_a_transaction_are_refused(shopper):
    account = points_account_get_or_create(user_id=shopper.pk)

    with pytest.raises(RuntimeError, match=r"^Points movements must run inside the transaction that locked"):
        points_account_lock(user_id=shopper.pk)
    with pytest.raises(RuntimeError, match=r"^Points movements must run inside the transaction that locked"):
        points_post(account=account, kind=PointsEntryKind.EARN, points=10, key="earn:1")

    assert balances(account) == (0, 0, 0, 0)
    assert PointsEntry.objects.count() == 0


# --- each kind ----------------------------------------------------------------------------------------------------


@time_machine.travel(JAN, tick=False)
def test_pending_points_confirmed_become_a_lot_and_lifetime(shopper):
    post(shopper, kind=PointsEntryKind.EARN_PENDING, pending_points=120, key="order-earn:1", qualifying=True)
    entry, account = post(shopper, kind=PointsEntryKind.CONFIRM, points=120, pending_points=-120, key="confirm:1")

    assert balances(account) == (120, 0, 0, 120)
    assert (entry.balance_after, entry.pending_after, entry.held_after) == (120, 0, 0)
    lot = PointsLot.objects.get()
    assert (lot.entry_id, lot.points, lot.remaining) == (entry.pk, 120, 120)
    assert lot.available_at == JAN
    assert lot.expires_at == datetime(2027, 1, 10, 12, 0, tzinfo=UTC)  # LOYALTY_EXPIRY_MONTHS = 12


def test_earn_then_pending_reversal_and_reversal(shopper):
    post(shopper, kind=PointsEntryKind.EARN_PENDING, pending_points=80, key="order-earn:1")
    post(shopper, kind=PointsEntryKind.PENDING_REVERSAL, pending_points=-30, key="order-refund:1:pending")
    _, account = post(shopper, kind=PointsEntryKind.EARN, points=200, key="event:first_order")
    entry, account = post(shopper, kind=PointsEntryKind.REVERSAL, points=-50, key="order-refund:1")

    assert balances(account) == (150, 50, 0, 150)
    assert (entry.points, entry.balance_after, entry.pending_after) == (-50, 150, 50)
    assert lots(account) == [(200, 150)]


def test_hold_and_release_leave_the_lots_alone(shopper):
    account = points_fund(user=shopper, points=500)

    post(shopper, kind=PointsEntryKind.HOLD, points=-300, held_points=300, key="hold:1")
    assert balances(account) == (200, 0, 300, 500)
    assert lots(account) == [(500, 500)]

    entry, _ = post(shopper, kind=PointsEntryKind.RELEASE, points=300, held_points=-300, key="release:1")
    assert balances(account) == (500, 0, 0, 500)
    assert (entry.balance_after, entry.held_after) == (500, 0)
    assert lots(account) == [(500, 500)]
    assert PointsLot.objects.count() == 1


def test_spend_consumes_the_oldest_lots_first(shopper):
    with time_machine.travel(JAN, tick=False):
        points_fund(user=shopper, points=100, key="fund:1")
    with time_machine.travel(datetime(2026, 2, 1, tzinfo=UTC), tick=False):
        account = points_fund(user=shopper, points=200, key="fund:2")

    post(shopper, kind=PointsEntryKind.HOLD, points=-250, held_points=250, key="hold:1")
    entry, account = post(shopper, kind=PointsEntryKind.SPEND, held_points=-250, key="spend:1")

    assert balances(account) == (50, 0, 0, 300)
    assert (entry.points, entry.held_points, entry.balance_after, entry.held_after) == (0, -250, 50, 0)
    assert lots(account) == [(100, 0), (200, 50)]


def test_redeem_and_a_negative_adjustment_consume_lots(shopper):
    account = points_fund(user=shopper, points=300)

    post(shopper, kind=PointsEntryKind.REDEEM, points=-120, key="reward:1")
    _, account = post(shopper, kind=PointsEntryKind.ADJUSTMENT, points=-30, key="adjustment:x")

    assert balances(account) == (150, 0, 0, 300)
    assert lots(account) == [(300, 150)]


def test_return_gives_spent_points_back_as_a_new_lot_not_lifetime(shopper):
    points_fund(user=shopper, points=300)
    post(shopper, kind=PointsEntryKind.HOLD, points=-300, held_points=300, key="hold:1")
    post(shopper, kind=PointsEntryKind.SPEND, held_points=-300, key="spend:1")

    _, account = post(shopper, kind=PointsEntryKind.RETURN, points=100, key="hold-refund:1")

    assert balances(account) == (100, 0, 0, 300)
    assert lots(account) == [(300, 0), (100, 100)]


def test_a_reversal_never_takes_lifetime_below_zero(shopper):
    post(shopper, kind=PointsEntryKind.RETURN, points=100, key="hold-refund:1")

    _, account = post(shopper, kind=PointsEntryKind.REVERSAL, points=-40, key="order-refund:1")

    assert balances(account) == (60, 0, 0, 0)


@pytest.mark.parametrize(
    ("kind", "movement"),
    [
        (PointsEntryKind.EARN_PENDING, {"pending_points": -5}),
        (PointsEntryKind.EARN_PENDING, {"points": 5, "pending_points": 5}),
        (PointsEntryKind.CONFIRM, {"points": 10, "pending_points": -5}),
        (PointsEntryKind.EARN, {"points": -5}),
        (PointsEntryKind.EARN, {"points": 0}),
        (PointsEntryKind.REVERSAL, {"points": 5}),
        (PointsEntryKind.HOLD, {"points": -10, "held_points": 50}),
        (PointsEntryKind.RELEASE, {"points": -10, "held_points": 10}),
        (PointsEntryKind.SPEND, {"points": -10, "held_points": -10}),
        (PointsEntryKind.RETURN, {"points": -10}),
        (PointsEntryKind.REDEEM, {"points": 10}),
        (PointsEntryKind.EXPIRE, {"points": 10}),
        (PointsEntryKind.ADJUSTMENT, {"points": 0}),
        (PointsEntryKind.ADJUSTMENT, {"points": 10, "held_points": 10}),
        (PointsEntryKind.EARN, {"points": 1.5}),
        (PointsEntryKind.EARN, {"points": True}),
        ("gift", {"points": 10}),
    ],
)
def test_wrong_signs_are_a_programming_error(shopper, kind, movement):
    account = points_fund(user=shopper, points=100)

    with pytest.raises(ValueError), transaction.atomic():
        points_post(account=points_account_lock(user_id=shopper.pk), kind=kind, key="bad", **movement)

    assert balances(account) == (100, 0, 0, 100)
    assert PointsEntry.objects.count() == 1


def test_a_key_is_required(shopper):
    with pytest.raises(ValueError, match="needs a key"), transaction.atomic():
        points_post(account=points_account_lock(user_id=shopper.pk), kind=PointsEntryKind.EARN, points=1, key="")


@pytest.mark.parametrize(
    ("kind", "movement", "detail"),
    [
        (PointsEntryKind.REDEEM, {"points": -101}, "Only 100 points are available."),
        (PointsEntryKind.HOLD, {"points": -101, "held_points": 101}, "Only 100 points are available."),
        (PointsEntryKind.SPEND, {"held_points": -1}, "Only 0 points are held."),
        (PointsEntryKind.RELEASE, {"points": 1, "held_points": -1}, "Only 0 points are held."),
        (PointsEntryKind.PENDING_REVERSAL, {"pending_points": -1}, "Only 0 points are pending."),
        (PointsEntryKind.CONFIRM, {"points": 1, "pending_points": -1}, "Only 0 points are pending."),
        (PointsEntryKind.ADJUSTMENT, {"points": -101}, "Only 100 points are available."),
    ],
)
def test_no_balance_may_go_negative(shopper, kind, movement, detail):
    account = points_fund(user=shopper, points=100)

    with transaction.atomic():
        locked = points_account_lock(user_id=shopper.pk)
        with pytest.raises(Conflict) as caught:
            points_post(account=locked, kind=kind, key="too-much", **movement)
        assert (locked.available, locked.pending, locked.held) == (100, 0, 0)  # the object is left untouched

    assert (caught.value.code, caught.value.detail) == ("insufficient_points", detail)
    assert balances(account) == (100, 0, 0, 100)
    assert lots(account) == [(100, 100)]
    assert PointsEntry.objects.count() == 1


def test_a_balance_out_of_range_is_refused(shopper):
    points_fund(user=shopper, points=ledger.MAX_POINTS)

    with transaction.atomic(), pytest.raises(InvalidInput) as caught:
        points_post(account=points_account_lock(user_id=shopper.pk), kind=PointsEntryKind.EARN, points=1, key="one")

    assert caught.value.code == "points_out_of_range"


def test_a_key_is_posted_once(shopper):
    post(shopper, kind=PointsEntryKind.EARN, points=100, key="event:first_order")

    with pytest.raises(IntegrityError), transaction.atomic():
        points_post(
            account=points_account_lock(user_id=shopper.pk),
            kind=PointsEntryKind.EARN,
            points=100,
            key="event:first_order",
        )

    account = PointsAccount.objects.get(user=shopper)
    assert balances(account) == (100, 0, 0, 100)
    assert lots(account) == [(100, 100)]


def test_the_entry_records_its_cause(shopper, staff, paid_order):
    order = paid_order()

    entry, _ = post(
        shopper,
        kind=PointsEntryKind.EARN_PENDING,
        pending_points=99,
        key=f"order-earn:{order.pk}",
        qualifying=True,
        order=order,
        rule_code="spend-default",
        reason="1 point per 10.00 INR",
        actor=staff,
    )

    entry.refresh_from_db()
    assert (entry.kind, entry.order_id, entry.rule_code, entry.reason, entry.actor_id, entry.qualifying) == (
        "earn_pending",
        order.pk,
        "spend-default",
        "1 point per 10.00 INR",
        staff.pk,
        True,
    )


def test_qualifying_entries_schedule_the_followups(shopper, scheduled):
    qualifying, _ = post(shopper, kind=PointsEntryKind.EARN, points=10, key="earn:1", qualifying=True)
    post(shopper, kind=PointsEntryKind.EARN, points=10, key="earn:2")
    reversal, _ = post(shopper, kind=PointsEntryKind.REVERSAL, points=-5, key="reverse:1", qualifying=True)

    assert scheduled == [(shopper.pk, qualifying.pk), (shopper.pk, reversal.pk)]


def test_the_followups_run_only_after_commit(shopper, django_capture_on_commit_callbacks, monkeypatch):
    delayed: list[tuple[int, int]] = []
    monkeypatch.setattr(
        "loyalty.tasks.followups.points_earned_followups.delay",
        lambda user_id, entry_id: delayed.append((user_id, entry_id)),
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        entry, _ = post(shopper, kind=PointsEntryKind.EARN, points=10, key="earn:1", qualifying=True)

    assert len(callbacks) == 1
    assert delayed == [(shopper.pk, entry.pk)]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2026, 1, 31, 9, tzinfo=UTC), 1, datetime(2026, 2, 28, 9, tzinfo=UTC)),
        (datetime(2027, 11, 30, tzinfo=UTC), 3, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 5, 15, tzinfo=UTC), 12, datetime(2027, 5, 15, tzinfo=UTC)),
        (datetime(2026, 5, 15, tzinfo=UTC), 0, datetime(2026, 5, 15, tzinfo=UTC)),
    ],
)
def test_add_months_clamps_the_day(start, months, expected):
    assert add_months(start, months) == expected


# --- staff adjustments ----------------------------------------------------------------------------------------


def test_an_adjustment_is_audited_and_not_qualifying(shopper, staff, scheduled):
    entry = points_adjust(user_id=shopper.pk, points=250, reason="  Goodwill for a late parcel ", actor=staff, key="k1")

    assert (entry.kind, entry.points, entry.key, entry.reason, entry.actor_id, entry.qualifying) == (
        "adjustment",
        250,
        "adjustment:k1",
        "Goodwill for a late parcel",
        staff.pk,
        False,
    )
    assert scheduled == []
    audit = AuditEntry.objects.get(action="loyalty.points_adjusted")
    assert (audit.actor_id, audit.target_type, audit.target_id) == (
        staff.pk,
        "loyalty.pointsaccount",
        str(entry.account_id),
    )
    assert audit.before == {"available": 0, "lifetime": 0}
    assert audit.after == {"available": 250, "lifetime": 250, "points": 250, "reason": "Goodwill for a late parcel"}


def test_a_negative_adjustment_takes_points_off(shopper, staff):
    points_fund(user=shopper, points=100)

    entry = points_adjust(user_id=shopper.pk, points=-40, reason="Duplicate credit", actor=staff, key="k1")

    assert (entry.points, entry.balance_after) == (-40, 60)
    assert balances(entry.account) == (60, 0, 0, 100)


def test_an_adjustment_is_made_once_per_key(shopper, staff):
    points_adjust(user_id=shopper.pk, points=10, reason="Goodwill", actor=staff, key="k1")

    with pytest.raises(Conflict) as caught:
        points_adjust(user_id=shopper.pk, points=10, reason="Goodwill", actor=staff, key="k1")

    assert caught.value.code == "duplicate_adjustment"
    assert PointsAccount.objects.get(user=shopper).available == 10
    assert AuditEntry.objects.filter(action="loyalty.points_adjusted").count() == 1


def test_an_adjustment_below_zero_is_refused(shopper, staff):
    with pytest.raises(Conflict) as caught:
        points_adjust(user_id=shopper.pk, points=-1, reason="Oops", actor=staff, key="k1")

    assert caught.value.code == "insufficient_points"
    assert AuditEntry.objects.filter(action="loyalty.points_adjusted").count() == 0


@pytest.mark.parametrize(
    ("points", "reason", "key", "field"),
    [
        (10, "", "k1", "reason"),
        (10, "   ", "k1", "reason"),
        (0, "Goodwill", "k1", "points"),
        (ledger.MAX_POINTS + 1, "Goodwill", "k1", "points"),
        ("10", "Goodwill", "k1", "points"),
        (True, "Goodwill", "k1", "points"),
        (10, "Goodwill", "", "key"),
        (10, "Goodwill", "k" * 101, "key"),
    ],
)
def test_an_adjustment_needs_a_reason_points_and_key(shopper, staff, points, reason, key, field):
    with pytest.raises(InvalidInput) as caught:
        points_adjust(user_id=shopper.pk, points=points, reason=reason, actor=staff, key=key)

    assert list(caught.value.fields or {}) == [field]
    assert PointsEntry.objects.count() == 0
