"""The points ledger under real parallel transactions (PostgreSQL): two spends of 300 points from 500 available,
at once, each in its own thread and connection (``tests/concurrency.py``): the account lock serialises them, so one
succeeds and the other is refused with 409 ``insufficient_points``, and the balances, ledger and lots are exact.
Concurrent earnings on one account lose nothing."""

import pytest
from django.db import transaction
from django.db.models import Sum

from loyalty.models import PointsAccount, PointsEntryKind, PointsLot
from loyalty.services.ledger import points_account_lock, points_post
from tests.concurrency import error_codes, run_together
from tests.loyalty.conftest import points_fund

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def redeem(user, points: int, key: str):
    def work():
        with transaction.atomic():
            account = points_account_lock(user_id=user.pk)
            return points_post(account=account, kind=PointsEntryKind.REDEEM, points=-points, key=key)

    return work


def hold_and_spend(user, points: int, key: str):
    """A checkout: hold the points, then (paid) spend them, in two transactions like the real flow."""

    def work():
        with transaction.atomic():
            account = points_account_lock(user_id=user.pk)
            points_post(
                account=account, kind=PointsEntryKind.HOLD, points=-points, held_points=points, key=f"{key}:hold"
            )
        with transaction.atomic():
            account = points_account_lock(user_id=user.pk)
            return points_post(account=account, kind=PointsEntryKind.SPEND, held_points=-points, key=f"{key}:spend")

    return work


def assert_whole(account: PointsAccount) -> None:
    account.refresh_from_db()
    sums = account.entries.aggregate(points=Sum("points"), held=Sum("held_points"))
    assert (account.available, account.held) == (sums["points"], sums["held"])
    lots = PointsLot.objects.filter(account=account).aggregate(remaining=Sum("remaining"))["remaining"]
    assert lots == account.available + account.held


def test_two_spends_of_300_from_500_one_succeeds(shopper):
    account = points_fund(user=shopper, points=500)

    results = run_together([redeem(shopper, 300, "reward:1"), redeem(shopper, 300, "reward:2")])

    assert error_codes(results) == {"ok": 1, "insufficient_points": 1}
    account.refresh_from_db()
    assert (account.available, account.held, account.lifetime) == (200, 0, 500)
    assert account.entries.filter(kind=PointsEntryKind.REDEEM).count() == 1
    assert list(PointsLot.objects.filter(account=account).values_list("points", "remaining")) == [(500, 200)]
    assert_whole(account)


def test_two_checkouts_holding_300_of_500_one_succeeds(shopper):
    account = points_fund(user=shopper, points=500)

    results = run_together([hold_and_spend(shopper, 300, "order:1"), hold_and_spend(shopper, 300, "order:2")])

    assert error_codes(results) == {"ok": 1, "insufficient_points": 1}
    account.refresh_from_db()
    assert (account.available, account.held) == (200, 0)
    assert account.entries.filter(kind=PointsEntryKind.SPEND).count() == 1
    assert_whole(account)


def test_concurrent_earnings_lose_nothing(shopper):
    def earn(number: int):
        def work():
            with transaction.atomic():
                account = points_account_lock(user_id=shopper.pk)
                return points_post(account=account, kind=PointsEntryKind.EARN, points=10 + number, key=f"earn:{number}")

        return work

    results = run_together([earn(number) for number in range(6)])

    assert error_codes(results) == {"ok": 6}
    account = PointsAccount.objects.get(user=shopper)
    assert (account.available, account.lifetime) == (75, 75)
    assert sorted(account.entries.values_list("balance_after", flat=True)) == sorted(
        {entry.balance_after for entry in account.entries.all()}
    )
    assert_whole(account)


def test_the_first_lock_creates_the_account_once_under_a_race(shopper):
    def first_earn(number: int):
        def work():
            with transaction.atomic():
                account = points_account_lock(user_id=shopper.pk)
                points_post(account=account, kind=PointsEntryKind.EARN, points=5, key=f"first:{number}")
                return account.pk

        return work

    results = run_together([first_earn(number) for number in range(4)])

    assert error_codes(results) == {"ok": 4}
    assert len({result["value"] for result in results}) == 1
    assert PointsAccount.objects.get(user=shopper).available == 20
