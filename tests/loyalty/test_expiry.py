"""Points expiry and its reminders: lots past their date expire oldest first, one entry per account and day, never
more than what is available (held points wait); members hear once per lot, a few days before, by email or SMS;
``GET loyalty``'s expiring-soon list; the beat tasks."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from commerce.notifications.models import Notification
from loyalty.models import PointsAccount, PointsEntry, PointsEntryKind, PointsLot
from loyalty.services.ledger import (
    points_account_lock,
    points_expire_due,
    points_expiring_soon,
    points_expiry_reminders_send,
    points_post,
)
from loyalty.services.programme import programme_get
from loyalty.tasks.ledger import expire_points, send_expiry_reminders
from tests.factories import UserFactory
from tests.loyalty.conftest import points_fund

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
FEB = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
JAN_EXPIRY = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)  # 12 months (LOYALTY_EXPIRY_MONTHS) after JAN
AFTER_JAN_EXPIRY = datetime(2027, 1, 11, 2, 0, tzinfo=UTC)


def fund_at(user, points: int, when: datetime, key: str) -> PointsAccount:
    with time_machine.travel(when, tick=False):
        return points_fund(user=user, points=points, key=key)


def post(user, **movement) -> PointsEntry:
    with transaction.atomic():
        return points_post(account=points_account_lock(user_id=user.pk), **movement)


def lots(account: PointsAccount) -> list[tuple[int, int]]:
    return list(PointsLot.objects.filter(account=account).values_list("points", "remaining"))


def balances(account: PointsAccount) -> tuple[int, int, int]:
    account.refresh_from_db()
    return account.available, account.held, account.lifetime


@pytest.fixture
def two_lots(shopper):
    """100 points available since January and 200 since February."""
    fund_at(shopper, 100, JAN, "fund:jan")
    return fund_at(shopper, 200, FEB, "fund:feb")


# --- expiry -----------------------------------------------------------------------------------------------------


def test_nothing_expires_before_its_date(two_lots):
    assert points_expire_due(now=JAN_EXPIRY - timedelta(seconds=1)) == 0

    assert balances(two_lots) == (300, 0, 300)
    assert not PointsEntry.objects.filter(kind=PointsEntryKind.EXPIRE).exists()


def test_the_oldest_lot_expires_first(two_lots):
    assert points_expire_due(now=AFTER_JAN_EXPIRY) == 1

    entry = PointsEntry.objects.get(kind=PointsEntryKind.EXPIRE)
    assert (entry.points, entry.balance_after, entry.qualifying) == (-100, 200, False)
    assert entry.key == f"expire:{two_lots.pk}:2027-01-11"
    assert entry.created_at == AFTER_JAN_EXPIRY
    assert entry.reason == "100 points reached their expiry date"
    assert lots(two_lots) == [(100, 0), (200, 200)]
    assert balances(two_lots) == (200, 0, 300)  # lifetime counts what was earned, expired or not


def test_spending_took_the_oldest_points_so_only_the_rest_expires(shopper, two_lots):
    post(shopper, kind=PointsEntryKind.REDEEM, points=-130, key="reward:1")
    assert lots(two_lots) == [(100, 0), (200, 170)]

    assert points_expire_due(now=AFTER_JAN_EXPIRY) == 0
    assert points_expire_due(now=datetime(2027, 2, 11, tzinfo=UTC)) == 1

    assert PointsEntry.objects.get(kind=PointsEntryKind.EXPIRE).points == -170
    assert balances(two_lots) == (0, 0, 300)


def test_both_lots_expire_in_one_entry(two_lots):
    assert points_expire_due(now=datetime(2027, 3, 1, tzinfo=UTC)) == 1

    assert PointsEntry.objects.get(kind=PointsEntryKind.EXPIRE).points == -300
    assert lots(two_lots) == [(100, 0), (200, 0)]


def test_a_second_run_the_same_day_expires_nothing_more(two_lots):
    points_expire_due(now=AFTER_JAN_EXPIRY)

    assert points_expire_due(now=AFTER_JAN_EXPIRY + timedelta(hours=3)) == 0

    assert PointsEntry.objects.filter(kind=PointsEntryKind.EXPIRE).count() == 1
    assert balances(two_lots) == (200, 0, 300)


def test_held_points_wait_for_their_checkout(shopper):
    account = fund_at(shopper, 100, JAN, "fund:jan")
    post(shopper, kind=PointsEntryKind.HOLD, points=-80, held_points=80, key="hold:1")

    assert points_expire_due(now=AFTER_JAN_EXPIRY) == 1
    assert PointsEntry.objects.get(kind=PointsEntryKind.EXPIRE).points == -20
    assert balances(account) == (0, 80, 100)
    assert lots(account) == [(100, 80)]

    # The checkout is abandoned: the points come back and expire at the next nightly run.
    post(shopper, kind=PointsEntryKind.RELEASE, points=80, held_points=-80, key="release:1")
    assert points_expire_due(now=AFTER_JAN_EXPIRY + timedelta(days=1)) == 1

    assert list(PointsEntry.objects.filter(kind=PointsEntryKind.EXPIRE).order_by("pk").values_list("points")) == [
        (-20,),
        (-80,),
    ]
    assert balances(account) == (0, 0, 100)
    assert lots(account) == [(100, 0)]


def test_held_points_spent_take_the_expired_lot(shopper):
    account = fund_at(shopper, 100, JAN, "fund:jan")
    fund_at(shopper, 50, FEB, "fund:feb")
    post(shopper, kind=PointsEntryKind.HOLD, points=-120, held_points=120, key="hold:1")

    assert points_expire_due(now=AFTER_JAN_EXPIRY) == 1  # 30 available of the 100 past their date
    post(shopper, kind=PointsEntryKind.SPEND, held_points=-120, key="spend:1")

    assert PointsEntry.objects.get(kind=PointsEntryKind.EXPIRE).points == -30
    assert lots(account) == [(100, 0), (50, 0)]
    assert balances(account) == (0, 0, 150)


def test_a_shortened_expiry_period_expires_the_newer_lot_alone(shopper):
    account = fund_at(shopper, 100, JAN, "fund:jan")  # until January 2027
    programme = programme_get()
    programme.expiry_months = 1
    programme.save()
    fund_at(shopper, 40, FEB, "fund:feb")  # until March 2026

    assert points_expire_due(now=datetime(2026, 3, 11, tzinfo=UTC)) == 1

    assert PointsEntry.objects.get(kind=PointsEntryKind.EXPIRE).points == -40
    assert lots(account) == [(100, 100), (40, 0)]


def test_every_account_is_expired_whatever_the_batch_size(shopper):
    users = [shopper, UserFactory(), UserFactory()]
    for number, user in enumerate(users):
        fund_at(user, 10 * (number + 1), JAN, f"fund:{number}")

    assert points_expire_due(now=AFTER_JAN_EXPIRY, batch_size=2) == 3

    assert list(PointsAccount.objects.order_by("pk").values_list("available", flat=True)) == [0, 0, 0]
    assert sorted(PointsEntry.objects.filter(kind=PointsEntryKind.EXPIRE).values_list("points", flat=True)) == [
        -30,
        -20,
        -10,
    ]


@pytest.mark.parametrize("batch_size", [0, -1, True, 2.5])
def test_the_batch_size_is_a_positive_whole_number(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        points_expire_due(batch_size=batch_size)


def test_the_nightly_task_expires_due_points(two_lots):
    with time_machine.travel(AFTER_JAN_EXPIRY, tick=False):
        assert expire_points() == 1

    assert balances(two_lots) == (200, 0, 300)


# --- expiring soon ---------------------------------------------------------------------------------------------


def test_expiring_soon_lists_points_within_thirty_days_by_date(shopper, two_lots):
    fund_at(shopper, 70, FEB, "fund:feb-2")  # same expiry moment as the February lot
    two_lots.refresh_from_db()

    assert points_expiring_soon(account=two_lots, now=JAN_EXPIRY - timedelta(days=31)) == []
    assert points_expiring_soon(account=two_lots, now=JAN_EXPIRY - timedelta(days=30)) == [(100, JAN_EXPIRY)]
    assert points_expiring_soon(account=two_lots, now=datetime(2027, 1, 20, tzinfo=UTC)) == [
        (100, JAN_EXPIRY),  # past its date, not yet expired by the nightly run
        (270, datetime(2027, 2, 10, 12, 0, tzinfo=UTC)),
    ]


def test_expiring_soon_counts_no_more_than_available(shopper, two_lots):
    post(shopper, kind=PointsEntryKind.HOLD, points=-250, held_points=250, key="hold:1")
    two_lots.refresh_from_db()

    assert points_expiring_soon(account=two_lots, now=datetime(2027, 1, 20, tzinfo=UTC)) == [(50, JAN_EXPIRY)]


def test_expiring_soon_after_expiry_lists_the_rest(two_lots):
    points_expire_due(now=AFTER_JAN_EXPIRY)
    two_lots.refresh_from_db()

    assert points_expiring_soon(account=two_lots, now=datetime(2027, 1, 20, tzinfo=UTC)) == [
        (200, datetime(2027, 2, 10, 12, 0, tzinfo=UTC))
    ]


# --- reminders --------------------------------------------------------------------------------------------------


def remind(now: datetime, callbacks) -> int:
    with callbacks(execute=True):
        return points_expiry_reminders_send(now=now)


def test_a_member_is_reminded_seven_days_before_by_email(two_lots, django_capture_on_commit_callbacks):
    assert remind(datetime(2027, 1, 2, 9, tzinfo=UTC), django_capture_on_commit_callbacks) == 0  # 8 days before
    assert remind(datetime(2027, 1, 3, 9, tzinfo=UTC), django_capture_on_commit_callbacks) == 1

    message = Notification.objects.get(template="loyalty/points_expiring")
    assert (message.channel, message.recipient, message.user_id) == ("email", "shopper@example.com", two_lots.user_id)
    assert message.subject == "100 of your points expire on 10 January 2027"
    assert message.body == (
        "Hi Priya Sharma,\n\n"
        "100 of your loyalty points expire soon:\n\n"
        "- 100 points on 10 January 2027\n\n"
        "Spend them at checkout or on a reward before then. You have 300 points available.\n\n"
        "The Commerce team\n"
    )
    assert list(PointsLot.objects.order_by("available_at").values_list("reminded_at", flat=True)) == [
        datetime(2027, 1, 3, 9, tzinfo=UTC),
        None,
    ]


def test_each_lot_is_mentioned_once(two_lots, django_capture_on_commit_callbacks):
    remind(datetime(2027, 1, 3, 9, tzinfo=UTC), django_capture_on_commit_callbacks)

    assert remind(datetime(2027, 1, 4, 9, tzinfo=UTC), django_capture_on_commit_callbacks) == 0
    assert remind(datetime(2027, 2, 3, 9, tzinfo=UTC), django_capture_on_commit_callbacks) == 1  # the February lot

    subjects = list(Notification.objects.order_by("pk").values_list("subject", flat=True))
    assert subjects == [
        "100 of your points expire on 10 January 2027",
        "200 of your points expire on 10 February 2027",
    ]


def test_lots_in_the_window_together_make_one_message(shopper, django_capture_on_commit_callbacks):
    fund_at(shopper, 100, JAN, "fund:1")
    fund_at(shopper, 40, JAN + timedelta(days=3), "fund:2")

    assert remind(datetime(2027, 1, 6, 9, tzinfo=UTC), django_capture_on_commit_callbacks) == 1

    message = Notification.objects.get()
    assert message.subject == "140 of your points expire on 10 January 2027"
    assert "- 100 points on 10 January 2027\n- 40 points on 13 January 2027\n" in message.body


def test_a_member_with_only_a_phone_gets_an_sms(django_capture_on_commit_callbacks):
    member = UserFactory(email=None, phone="+919800000001", full_name="Arjun Rao")
    fund_at(member, 100, JAN, "fund:1")

    assert remind(datetime(2027, 1, 5, 9, tzinfo=UTC), django_capture_on_commit_callbacks) == 1

    message = Notification.objects.get()
    assert (message.channel, message.recipient) == ("sms", "+919800000001")
    assert message.body == (
        "Commerce: 100 of your loyalty points expire on 10 January 2027. "
        "Spend them at checkout or on a reward before then."
    )


def test_points_past_their_date_or_all_held_are_not_mentioned(shopper, django_capture_on_commit_callbacks):
    account = fund_at(shopper, 100, JAN, "fund:1")
    post(shopper, kind=PointsEntryKind.HOLD, points=-100, held_points=100, key="hold:1")

    assert remind(datetime(2027, 1, 5, 9, tzinfo=UTC), django_capture_on_commit_callbacks) == 0
    assert remind(AFTER_JAN_EXPIRY, django_capture_on_commit_callbacks) == 0

    assert Notification.objects.count() == 0
    assert PointsLot.objects.get(account=account).reminded_at == datetime(2027, 1, 5, 9, tzinfo=UTC)


def test_the_morning_task_sends_the_reminders(two_lots, django_capture_on_commit_callbacks):
    with (
        time_machine.travel(datetime(2027, 1, 4, 9, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert send_expiry_reminders() == 1

    assert Notification.objects.filter(template="loyalty/points_expiring").count() == 1
