"""Referrals: registration with another member's code (case-insensitive), refusal of self-referrals that share a
phone, device or IP address (keyed hashes), unknown and own codes, and the reward for both members once the
referee's first kept paid order is delivered and past the return window."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.services.fingerprints import account_fingerprint_record
from commerce.notifications.models import Notification
from commerce.orders.models import Order, OrderStatus
from loyalty.models import PointsAccount, PointsEntry, Referral, ReferralStatus
from loyalty.services.ledger import points_account_get_or_create
from loyalty.services.referrals import referral_register, referrals_reward_due
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def code(shopper) -> str:
    """The shopper's (the referrer's) referral code."""
    return points_account_get_or_create(user_id=shopper.pk).referral_code


@pytest.fixture
def friend(db):
    return UserFactory(email="arjun@example.com", full_name="Arjun Mehta", phone="+919898989898")


def register(friend, code: str, *, ip: str | None = "203.0.113.9", device_id: str | None = "device-friend"):
    return referral_register(referee_id=friend.pk, code=code, ip=ip, device_id=device_id)


def test_a_friend_signs_up_with_the_code_in_any_case(shopper, friend, code):
    account_fingerprint_record(user_id=shopper.pk, ip="198.51.100.7", device_id="device-priya")
    referral = register(friend, f"  {code.lower()} ")
    assert (referral.referrer, referral.referee, referral.code, referral.status, referral.refused_reason) == (
        shopper,
        friend,
        code,
        ReferralStatus.PENDING,
        "",
    )
    assert PointsAccount.objects.get(user=friend).referred_by == shopper
    assert register(friend, code) == referral  # a second registration changes nothing
    assert Referral.objects.count() == 1


@pytest.mark.parametrize(
    ("seen", "reason"),
    [
        ({"device_id": "device-friend"}, "Self-referral: same device as the referrer"),
        ({"ip": "203.0.113.9"}, "Self-referral: same IP address as the referrer"),
        ({"ip": "::ffff:203.0.113.9"}, "Self-referral: same IP address as the referrer"),
        ({"phone": "+919898989898"}, "Self-referral: same phone number as the referrer"),
        (
            {"phone": "09898989898", "device_id": "device-friend", "ip": "203.0.113.9"},
            "Self-referral: same phone number, device, IP address as the referrer",
        ),
    ],
)
def test_a_self_referral_is_refused_and_recorded(shopper, friend, code, seen, reason):
    account_fingerprint_record(user_id=shopper.pk, **seen)
    referral = register(friend, code)
    assert (referral.status, referral.refused_reason, referral.referrer) == (ReferralStatus.REFUSED, reason, shopper)
    assert PointsAccount.objects.get(user=friend).referred_by is None


def test_fingerprints_the_referee_was_already_seen_with_count(shopper, friend, code):
    account_fingerprint_record(user_id=shopper.pk, device_id="shared-tablet")
    account_fingerprint_record(user_id=friend.pk, device_id="shared-tablet")
    referral = register(friend, code, ip=None, device_id=None)
    assert referral.refused_reason == "Self-referral: same device as the referrer"


def test_unknown_blank_overlong_and_own_codes_are_ignored(shopper, friend, code):
    assert register(friend, "NOSUCHCD") is None
    assert register(friend, "") is None
    assert register(friend, code + "X" * 10) is None
    assert referral_register(referee_id=shopper.pk, code=code, ip=None, device_id=None) is None
    assert not Referral.objects.exists()


def delivered_order(paid_order, user, *, delivered_at: datetime, placed_at: datetime | None = None, **fields):
    order = paid_order(user=user, status=OrderStatus.DELIVERED, placed_at=placed_at or delivered_at - timedelta(days=3))
    Order.objects.filter(pk=order.pk).update(delivered_at=delivered_at, **fields)
    return order


def test_both_are_rewarded_after_the_return_window_only(
    shopper, friend, code, paid_order, settings, django_capture_on_commit_callbacks
):
    settings.CASHBACK_RETURN_WINDOW_DAYS = 30
    referral = register(friend, code)
    order = delivered_order(paid_order, friend, delivered_at=NOW - timedelta(days=29, hours=23))
    assert referrals_reward_due(now=NOW) == 0
    assert Referral.objects.get().status == ReferralStatus.PENDING
    later = NOW + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert referrals_reward_due(now=later) == 1
    referral.refresh_from_db()
    assert (referral.status, referral.order, referral.rewarded_at) == (ReferralStatus.REWARDED, order, later)
    referrer_entry = PointsEntry.objects.get(key=f"referral:{referral.pk}:referrer")
    referee_entry = PointsEntry.objects.get(key=f"referral:{referral.pk}:referee")
    assert (referrer_entry.account.user, referrer_entry.kind, referrer_entry.points, referrer_entry.qualifying) == (
        shopper,
        "earn",
        500,
        True,
    )
    assert referrer_entry.reason == f"Referral: friend referred (Arjun M.'s first order {order.number})"
    assert (referee_entry.account.user, referee_entry.points, referee_entry.order) == (friend, 250, order)
    assert referee_entry.reason == f"Referral: joined with a referral code (Priya S.'s first order {order.number})"
    to_referrer = Notification.objects.get(template="loyalty/referral_rewarded", recipient="shopper@example.com")
    assert to_referrer.subject == "500 referral points for you"
    assert "Arjun M. joined with your referral code" in to_referrer.body
    to_referee = Notification.objects.get(template="loyalty/referral_rewarded", recipient="arjun@example.com")
    assert "the 250 points for joining with Priya S.'s referral code" in to_referee.body
    assert referrals_reward_due(now=later) == 0
    assert PointsEntry.objects.filter(key__startswith="referral:").count() == 2


def test_an_order_not_yet_delivered_is_not_due(shopper, friend, code, paid_order):
    register(friend, code)
    paid_order(user=friend, status=OrderStatus.FULFILLED, placed_at=NOW - timedelta(days=90))
    assert referrals_reward_due(now=NOW) == 0


def test_a_fully_refunded_first_order_does_not_count_the_next_one_does(shopper, friend, code, paid_order):
    register(friend, code)
    first = delivered_order(paid_order, friend, delivered_at=NOW - timedelta(days=60))
    Order.objects.filter(pk=first.pk).update(refunded_amount=first.total)
    assert referrals_reward_due(now=NOW) == 0
    second = delivered_order(paid_order, friend, delivered_at=NOW - timedelta(days=40))
    assert referrals_reward_due(now=NOW) == 1
    assert Referral.objects.get().order == second


def test_a_partly_refunded_first_order_still_counts(shopper, friend, code, paid_order):
    register(friend, code)
    order = delivered_order(paid_order, friend, delivered_at=NOW - timedelta(days=31))
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("100.00"))
    assert referrals_reward_due(now=NOW) == 1


def test_the_first_paid_order_decides_even_when_a_later_one_is_due(shopper, friend, code, paid_order):
    register(friend, code)
    paid_order(user=friend, status=OrderStatus.PAID, placed_at=NOW - timedelta(days=50))
    delivered_order(paid_order, friend, delivered_at=NOW - timedelta(days=35), placed_at=NOW - timedelta(days=40))
    assert referrals_reward_due(now=NOW) == 0


def test_refused_referrals_are_never_rewarded(shopper, friend, code, paid_order):
    account_fingerprint_record(user_id=shopper.pk, device_id="device-friend")
    register(friend, code)
    delivered_order(paid_order, friend, delivered_at=NOW - timedelta(days=60))
    assert referrals_reward_due(now=NOW) == 0
    assert not PointsEntry.objects.exists()


def test_rewards_run_in_batches(shopper, code, paid_order):
    friends = UserFactory.create_batch(3)
    for user in friends:
        register(user, code, ip=None, device_id=None)
        delivered_order(paid_order, user, delivered_at=NOW - timedelta(days=31))
    assert referrals_reward_due(now=NOW, batch_size=2) == 3
    assert PointsAccount.objects.get(user=shopper).available == 1500
