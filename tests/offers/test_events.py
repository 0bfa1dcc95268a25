import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from commerce.core import redis_guard
from commerce.offers import buffer
from commerce.offers.models import OfferClick, OfferDailyStats, OfferEventFlush
from commerce.offers.services import FlushResult, offer_click_record, offer_events_flush, offer_view_record
from commerce.offers.tasks import flush_offer_events
from tests.factories import UserFactory

from .factories import DealFactory, OfferFactory

pytestmark = pytest.mark.django_db

# Every test runs at a fixed instant: "today" must not change between recording and asserting.
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_redis_guard():
    """Rate-limited log lines and circuit breakers start afresh in every test."""
    redis_guard.reset_state()
    yield
    redis_guard.reset_state()


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def stats(offer) -> tuple[int, int]:
    row = OfferDailyStats.objects.filter(offer=offer, date=timezone.localdate()).first()
    return (row.views, row.clicks) if row else (0, 0)


# --- without Redis: straight through ---------------------------------------------------------------------


def test_without_redis_views_and_clicks_are_written_straight_through(settings):
    settings.REDIS_URL = ""
    offer = DealFactory()
    offer_view_record(offer_id=offer.pk)
    offer_view_record(offer_id=offer.pk)
    click = offer_click_record(offer=offer, user_id=None, ip="203.0.113.9")
    assert stats(offer) == (2, 1)
    assert OfferClick.objects.get().click_id == click.click_id
    assert offer_events_flush() == FlushResult(batches=0, views=0, clicks=0)


def test_without_redis_views_of_different_days_get_their_own_rows(settings):
    settings.REDIS_URL = ""
    offer = OfferFactory()
    yesterday = timezone.now() - timedelta(days=1)
    offer_view_record(offer_id=offer.pk, at=yesterday)
    offer_view_record(offer_id=offer.pk)
    assert sorted(OfferDailyStats.objects.values_list("date", "views")) == [
        (timezone.localdate(yesterday), 1),
        (timezone.localdate(), 1),
    ]


def test_click_ip_is_stored_only_as_a_keyed_hash(settings):
    settings.REDIS_URL = ""
    offer = DealFactory()
    offer_click_record(offer=offer, ip="203.0.113.9")
    offer_click_record(offer=offer, ip="203.0.113.9")
    offer_click_record(offer=offer, ip="198.51.100.1")
    hashes = list(OfferClick.objects.order_by("id").values_list("ip_hash", flat=True))
    assert hashes[0] == hashes[1] != hashes[2]
    assert "203.0.113.9" not in hashes[0]


# --- with Redis: buffered, then flushed ------------------------------------------------------------------


@pytest.mark.redis
def test_with_redis_views_and_clicks_wait_in_redis_until_the_flush(django_assert_num_queries):
    offer = DealFactory()
    user = UserFactory()

    with django_assert_num_queries(0):
        for _ in range(3):
            offer_view_record(offer_id=offer.pk)
        first = offer_click_record(offer=offer, user_id=user.pk, ip="203.0.113.9")
        second = offer_click_record(offer=offer, user_id=None, ip=None)

    assert stats(offer) == (0, 0)
    assert not OfferClick.objects.exists()
    conn = buffer.connection()
    assert conn.hget(buffer.views_key(), f"{offer.pk}:{timezone.localdate().isoformat()}") == b"3"
    assert conn.llen(buffer.clicks_key()) == 2

    assert flush_offer_events.apply().get() == {"batches": 1, "views": 3, "clicks": 2}

    assert stats(offer) == (3, 2)
    clicks = {c.click_id: c for c in OfferClick.objects.all()}
    assert set(clicks) == {first.click_id, second.click_id}
    assert clicks[first.click_id].user == user
    assert clicks[second.click_id].user is None
    assert not conn.exists(buffer.views_key(), buffer.clicks_key(), buffer.pending_key())
    # Nothing left: a second flush writes nothing.
    assert offer_events_flush() == FlushResult(batches=0, views=0, clicks=0)
    assert stats(offer) == (3, 2)


@pytest.mark.redis
def test_flush_adds_to_the_counts_already_in_the_database():
    offer = OfferFactory()
    OfferDailyStats.objects.create(offer=offer, date=timezone.localdate(), views=10, clicks=1)
    offer_view_record(offer_id=offer.pk)
    offer_events_flush()
    offer_view_record(offer_id=offer.pk)
    offer_view_record(offer_id=offer.pk)
    offer_events_flush()
    assert stats(offer) == (13, 1)


@pytest.mark.redis
def test_events_arriving_after_the_buffers_were_taken_wait_for_the_next_flush():
    offer = OfferFactory()
    offer_view_record(offer_id=offer.pk)
    conn = buffer.connection()
    assert buffer.take(conn, batch_id="00000000000000000001-a") is True
    offer_view_record(offer_id=offer.pk)  # lands in a fresh buffer, not in the taken batch
    views, clicks = buffer.read(conn, batch_id="00000000000000000001-a")
    assert views == {(offer.pk, timezone.localdate()): 1}
    assert clicks == []
    assert offer_events_flush().views == 2
    assert stats(offer) == (2, 0)


@pytest.mark.redis
def test_a_batch_applied_but_not_forgotten_is_not_applied_again():
    offer = DealFactory()
    offer_view_record(offer_id=offer.pk)
    offer_click_record(offer=offer)
    # The first flush loses Redis after the database commit, before Redis forgets the batch: it stops there
    # (no exception for Celery to retry) and reports what it applied.
    with mock.patch.object(buffer, "forget", side_effect=RedisConnectionError("gone")):
        assert offer_events_flush() == FlushResult(batches=1, views=1, clicks=1)
    assert stats(offer) == (1, 1)
    assert len(buffer.pending(buffer.connection())) == 1

    assert offer_events_flush() == FlushResult(batches=0, views=0, clicks=0)

    assert stats(offer) == (1, 1)
    assert OfferClick.objects.count() == 1
    assert buffer.pending(buffer.connection()) == []
    assert OfferEventFlush.objects.count() == 1


@pytest.mark.redis
def test_a_batch_taken_but_not_applied_is_applied_by_the_next_flush():
    offer = OfferFactory()
    offer_view_record(offer_id=offer.pk)
    buffer.take(buffer.connection(), batch_id="00000000000000000001-b")  # a flush that died right after taking
    offer_view_record(offer_id=offer.pk)
    assert offer_events_flush() == FlushResult(batches=2, views=2, clicks=0)
    assert stats(offer) == (2, 0)


@pytest.mark.redis
def test_buffered_events_of_an_offer_deleted_before_the_flush_are_dropped():
    gone = DealFactory()
    kept = DealFactory()
    offer_view_record(offer_id=gone.pk)
    offer_click_record(offer=gone)
    offer_view_record(offer_id=kept.pk)
    gone.delete()
    offer_events_flush()
    assert stats(kept) == (1, 0)
    assert OfferDailyStats.objects.count() == 1
    assert not OfferClick.objects.exists()


@pytest.mark.redis
def test_when_redis_fails_events_are_written_straight_through():
    offer = DealFactory()
    with (
        mock.patch.object(buffer, "add_view", side_effect=RedisConnectionError("down")),
        mock.patch.object(buffer, "add_click", side_effect=RedisConnectionError("down")),
    ):
        offer_view_record(offer_id=offer.pk)
        click = offer_click_record(offer=offer)
    assert stats(offer) == (1, 1)
    assert OfferClick.objects.get().click_id == click.click_id


@pytest.mark.redis
def test_buffered_click_keeps_the_time_of_the_click():
    offer = DealFactory()
    at = timezone.now() - timedelta(hours=30)
    click = offer_click_record(offer=offer, at=at)
    offer_events_flush()
    row = OfferClick.objects.get(click_id=click.click_id)
    assert row.created_at == at
    assert OfferDailyStats.objects.get(offer=offer).date == timezone.localdate(at)
    assert isinstance(row.click_id, uuid.UUID)


@pytest.mark.redis
def test_api_views_and_clicks_are_buffered_then_flushed(api_client):
    offer = DealFactory()
    api_client.get(f"/api/v1/offers/{offer.pk}")
    click_id = api_client.post(f"/api/v1/offers/{offer.pk}/click").json()["click_id"]
    assert stats(offer) == (0, 0)
    offer_events_flush()
    assert stats(offer) == (1, 1)
    assert str(OfferClick.objects.get().click_id) == click_id


@pytest.mark.redis
def test_events_buffered_before_midnight_count_for_their_day_when_flushed_after_it(frozen_time):
    offer = DealFactory()
    frozen_time.move_to(datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC))
    offer_view_record(offer_id=offer.pk)
    offer_click_record(offer=offer)
    frozen_time.move_to(datetime(2026, 3, 15, 0, 0, 1, tzinfo=UTC))
    assert offer_events_flush() == FlushResult(batches=1, views=1, clicks=1)
    assert list(OfferDailyStats.objects.values_list("date", "views", "clicks")) == [(NOW.date(), 1, 1)]


@pytest.mark.redis
def test_a_click_already_written_straight_through_is_not_counted_twice_by_the_flush():
    offer = DealFactory()
    click = offer_click_record(offer=offer)  # buffered in Redis...
    # ...and, as after a Redis timeout whose command had in fact been stored, also written straight through.
    buffered = buffer.BufferedClick(
        click_id=str(click.click_id), offer_id=offer.pk, user_id=None, ip_hash="", at=timezone.now()
    )
    from commerce.offers.services.events import _write_clicks

    _write_clicks([buffered])
    assert stats(offer) == (0, 1)
    offer_events_flush()
    assert stats(offer) == (0, 1)
    assert OfferClick.objects.count() == 1


@pytest.mark.redis
def test_a_batch_that_cannot_be_applied_is_kept_and_does_not_block_the_others(caplog):
    offer = DealFactory()
    conn = buffer.connection()
    conn.rpush(buffer.clicks_key(), "not json")
    buffer.take(conn, batch_id="00000000000000000001-c")
    offer_view_record(offer_id=offer.pk)

    assert offer_events_flush() == FlushResult(batches=1, views=1, clicks=0)

    assert stats(offer) == (1, 0)
    assert buffer.pending(conn) == ["00000000000000000001-c"]
    assert conn.lrange(buffer.clicks_key("00000000000000000001-c"), 0, -1) == [b"not json"]
    assert "Offer event batch 00000000000000000001-c could not be applied; kept" in caplog.text


def test_a_flush_while_redis_is_unreachable_applies_nothing_and_does_not_raise(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with (
        mock.patch.object(buffer, "connection"),
        mock.patch.object(buffer, "warn_without_persistence"),
        mock.patch.object(buffer, "take", side_effect=RedisConnectionError("refused")),
    ):
        assert flush_offer_events.apply().get() == {"batches": 0, "views": 0, "clicks": 0}
    assert "Offer event flush stopped: Redis unavailable (refused); pending batches wait" in caplog.text


def test_a_flush_error_that_is_not_about_redis_is_raised(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with (
        mock.patch.object(buffer, "connection"),
        mock.patch.object(buffer, "warn_without_persistence"),
        mock.patch.object(buffer, "take", side_effect=KeyError("bug")),
        pytest.raises(KeyError),
    ):
        offer_events_flush()


def test_the_flush_warns_once_when_the_buffer_redis_does_not_persist(monkeypatch, caplog):
    monkeypatch.setattr(buffer, "_persistence_checked", False)
    conn = mock.Mock()
    conn.info.return_value = {"aof_enabled": 0}
    buffer.warn_without_persistence(conn)
    buffer.warn_without_persistence(conn)
    warnings = [r.getMessage() for r in caplog.records if r.name == "commerce.offers.buffer"]
    assert len(warnings) == 1
    assert warnings[0].startswith("The Redis holding the offer event buffer has appendonly off")
    conn.info.assert_called_once_with("persistence")


def test_the_flush_does_not_warn_when_the_buffer_redis_persists(monkeypatch, caplog):
    monkeypatch.setattr(buffer, "_persistence_checked", False)
    conn = mock.Mock()
    conn.info.return_value = {"aof_enabled": 1}
    buffer.warn_without_persistence(conn)
    assert [r for r in caplog.records if r.name == "commerce.offers.buffer"] == []
