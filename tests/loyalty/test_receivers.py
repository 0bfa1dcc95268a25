"""Loyalty's receivers of the orders' and accounts' events: each only enqueues its tasks, after the surrounding
transaction commits (never when it rolls back); the tasks run the earning services."""

from importlib import import_module
from unittest import mock

import pytest
from django.db import transaction

from accounts import events as account_events
from accounts.models import User
from commerce.orders import events as order_events
from commerce.orders.models import Order
from loyalty.models import PointsEntry
from loyalty.tasks import earning as tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_rules(db):
    """The default tiers and earning rules of migration 0003 (a transactional test run before may have flushed
    them)."""
    from django.apps import apps

    import_module("loyalty.migrations.0003_default_tiers_and_rules").create(apps, None)


TASKS = (
    "earn_order_points",
    "apply_order_refund_points",
    "award_event_points",
    "register_referral",
    "spend_order_hold",
    "release_order_hold",
    "refund_order_hold",
)


@pytest.fixture
def queued(monkeypatch):
    """Every task enqueued, as ``(task name, args)``, in order; nothing runs."""
    calls: list[tuple[str, tuple]] = []
    for name in TASKS:
        monkeypatch.setattr(getattr(tasks, name), "delay", lambda *args, _name=name: calls.append((_name, args)))
    return calls


def send_order(signal, **kwargs):
    signal.send(sender=Order, order_id=7, number="ORD-7", **kwargs)


def send_account(signal, **kwargs):
    signal.send(sender=User, user_id=5, **kwargs)


@pytest.mark.parametrize(
    ("signal", "kwargs", "expected"),
    [
        (order_events.order_paid, {}, [("earn_order_points", (7,)), ("spend_order_hold", (7,))]),
        (
            order_events.order_refunded,
            {"amount": "1.00", "currency": "INR", "refunded_total": "1.00", "fully_refunded": False},
            [("apply_order_refund_points", (7,)), ("refund_order_hold", (7,))],
        ),
        (
            order_events.order_cancelled,
            {"was_paid": True},
            [("apply_order_refund_points", (7,)), ("refund_order_hold", (7,))],
        ),
        (order_events.order_cancelled, {"was_paid": False}, [("release_order_hold", (7,))]),
        (order_events.order_expired, {}, [("release_order_hold", (7,))]),
        (order_events.order_delivered, {}, []),
        (order_events.order_fulfilled, {"carrier": "X", "tracking_number": "1"}, []),
    ],
)
def test_order_events_enqueue_their_tasks_on_commit(
    queued, django_capture_on_commit_callbacks, signal, kwargs, expected
):
    with django_capture_on_commit_callbacks(execute=True):
        send_order(signal, **kwargs)
        assert queued == []  # not before the commit

    assert queued == expected


@pytest.mark.parametrize(
    ("signal", "kwargs", "expected"),
    [
        (
            account_events.user_registered,
            {"referral_code": " AB7K9QXZ ", "ip": "203.0.113.9", "device_id": "d-1"},
            [("register_referral", (5, "AB7K9QXZ", "203.0.113.9", "d-1"))],
        ),
        (account_events.user_registered, {"referral_code": "", "ip": None, "device_id": None}, []),
        (account_events.user_registered, {"referral_code": "x" * 13, "ip": None, "device_id": None}, []),
        (account_events.phone_verified, {}, [("award_event_points", (5, "phone_verified"))]),
        (account_events.profile_completed, {}, [("award_event_points", (5, "profile_completed"))]),
    ],
)
def test_account_events_enqueue_their_tasks_on_commit(
    queued, django_capture_on_commit_callbacks, signal, kwargs, expected
):
    with django_capture_on_commit_callbacks(execute=True):
        send_account(signal, **kwargs)
        assert queued == []

    assert queued == expected


@pytest.mark.django_db(transaction=True)
def test_nothing_is_enqueued_when_the_transaction_rolls_back(queued):
    with pytest.raises(RuntimeError), transaction.atomic():
        send_order(order_events.order_paid)
        send_account(account_events.phone_verified)
        raise RuntimeError

    assert queued == []


def test_a_broker_that_is_down_does_not_break_the_sender(monkeypatch, django_capture_on_commit_callbacks):
    def down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.earn_order_points, "delay", down)
    monkeypatch.setattr(tasks.spend_order_hold, "delay", mock.Mock())

    with django_capture_on_commit_callbacks(execute=True):
        send_order(order_events.order_paid)

    tasks.spend_order_hold.delay.assert_called_once_with(7)


def test_order_paid_through_the_tasks_writes_pending_points(
    paid_order, shopper, eager_celery, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.spend_order_hold, "delay", mock.Mock())  # the redemption area's own concern
    order = paid_order()

    with django_capture_on_commit_callbacks(execute=True):
        order_events.order_paid.send(sender=Order, order_id=order.pk, number=order.number)
    with django_capture_on_commit_callbacks(execute=True):  # delivered twice
        order_events.order_paid.send(sender=Order, order_id=order.pk, number=order.number)

    entry = PointsEntry.objects.get(key=f"order-earn:{order.pk}")
    assert entry.pending_points == 99
    assert PointsEntry.objects.filter(key=f"event:first_order:{shopper.pk}").count() == 1
    assert PointsEntry.objects.filter(account__user=shopper, order=order, kind="earn_pending").count() == 1


def test_phone_verified_through_the_tasks_awards_points_once(shopper, eager_celery, django_capture_on_commit_callbacks):
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            account_events.phone_verified.send(sender=User, user_id=shopper.pk)

    assert list(PointsEntry.objects.values_list("key", "points")) == [(f"event:phone_verified:{shopper.pk}", 50)]
