"""Recording offer views and clicks, and flushing the Redis buffer into the database.

With ``REDIS_URL`` set, a view or click touches only Redis (see :mod:`commerce.offers.buffer`) and
:func:`offer_events_flush`, run every few seconds by Celery beat, writes them in bulk: clicks with one
``bulk_create``, per-day counts with one ``F()`` increment per (offer, day). Without Redis, each event is
written straight away.

Nothing is lost when Redis is unreachable: the event is written straight through to the database instead
(at once while the Redis circuit breaker is open, see :mod:`commerce.core.redis_guard`), logged at most once a
minute. Events already buffered stay in Redis until a flush succeeds, so the Redis holding the buffer must
persist them across restarts (``appendonly yes``; the flush warns once per process when it does not). The flush
itself never double-counts: a batch is applied once (ledger row), a click already in the database (written
straight through after a Redis timeout that had in fact stored it) is skipped with its count, an unreachable
Redis ends the flush quietly with the batches still pending, and a batch that cannot be applied is logged and
left pending without blocking the batches after it.
"""

import hashlib
import hmac
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from redis import Redis
from redis.exceptions import RedisError

from commerce.core.errors import Conflict
from commerce.core.redis_guard import RateLimitedLog, is_redis_unavailable

from .. import buffer
from ..models import Offer, OfferClick, OfferDailyStats, OfferEventFlush
from .links import offer_click_destination

logger = logging.getLogger(__name__)
_log = RateLimitedLog(logger)

CLICK_ID_PARAM = "click_id"
# Ledger rows older than this are pruned: a batch is long forgotten by then.
FLUSH_LEDGER_DAYS = 7


@dataclass(frozen=True)
class RecordedClick:
    offer_id: int
    click_id: uuid.UUID
    url: str


@dataclass(frozen=True)
class FlushResult:
    batches: int = 0
    views: int = 0
    clicks: int = 0


def hash_ip(ip: str | None) -> str:
    """A keyed hash of the client address: lets fraud checks group clicks without storing addresses."""
    if not ip:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), ip.encode(), hashlib.sha256).hexdigest()


def with_click_id(url: str, click_id: uuid.UUID) -> str:
    """``url`` with ``click_id=<id>`` added to its query (replacing one already there), fragment kept."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != CLICK_ID_PARAM]
    query.append((CLICK_ID_PARAM, str(click_id)))
    return urlunsplit(parts._replace(path=parts.path or "/", query=urlencode(query)))


def _add_daily_counts(counts: dict[tuple[int, date], tuple[int, int]]) -> None:
    """Add (views, clicks) to each (offer id, date) row, creating rows as needed. Sorted, so concurrent
    writers take row locks in the same order."""
    if not counts:
        return
    keys = sorted(counts)
    OfferDailyStats.objects.bulk_create(
        [OfferDailyStats(offer_id=offer_id, date=day) for offer_id, day in keys], ignore_conflicts=True
    )
    for offer_id, day in keys:
        views, clicks = counts[(offer_id, day)]
        OfferDailyStats.objects.filter(offer_id=offer_id, date=day).update(
            views=F("views") + views, clicks=F("clicks") + clicks
        )


def offer_view_record(*, offer_id: int, at: datetime | None = None) -> None:
    """Count one view of an offer (buffered in Redis when configured)."""
    day = timezone.localdate(at or timezone.now())
    if buffer.enabled():
        try:
            buffer.add_view(buffer.connection(), offer_id=offer_id, day=day)
            return
        except RedisError as exc:
            _log.warning("view", "Offer event buffer unavailable (%s); writing views straight through", exc)
    with transaction.atomic():
        _add_daily_counts({(offer_id, day): (1, 0)})


def offer_click_record(
    *, offer: Offer, user_id: int | None = None, ip: str | None = None, at: datetime | None = None
) -> RecordedClick:
    """Record a click through to the merchant and return the destination URL carrying the new click id.

    While the offer's link is marked broken the click goes to its fallback URL, else the merchant's website
    (:func:`~commerce.offers.services.links.offer_click_destination`). Raises
    ``Conflict(code="offer_no_destination")`` when neither the offer nor its merchant has a URL.
    """
    destination = offer_click_destination(offer)
    if not destination:
        raise Conflict("This offer has no destination to go to.", code="offer_no_destination")
    click = buffer.BufferedClick(
        click_id=str(uuid.uuid4()), offer_id=offer.pk, user_id=user_id, ip_hash=hash_ip(ip), at=at or timezone.now()
    )
    written = False
    if buffer.enabled():
        try:
            buffer.add_click(buffer.connection(), click)
            written = True
        except RedisError as exc:
            _log.warning("click", "Offer event buffer unavailable (%s); writing clicks straight through", exc)
    if not written:
        with transaction.atomic():
            _write_clicks([click])
    click_id = uuid.UUID(click.click_id)
    return RecordedClick(offer_id=offer.pk, click_id=click_id, url=with_click_id(destination, click_id))


def _write_clicks(clicks: list[buffer.BufferedClick], views: dict[tuple[int, date], int] | None = None) -> int:
    """Insert click rows and add views and clicks to the daily counts; events of offers deleted meanwhile
    are dropped, users deleted meanwhile become anonymous. Returns the number of clicks written."""
    views = views or {}
    offer_ids = {c.offer_id for c in clicks} | {offer_id for offer_id, _ in views}
    existing_offers = set(Offer.objects.filter(pk__in=offer_ids).values_list("pk", flat=True))
    user_ids = {c.user_id for c in clicks if c.user_id is not None}
    existing_users = set(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", flat=True))
    # A click can be in the database already: written straight through after a Redis timeout that had in
    # fact stored it. Skipping it here keeps the daily count from counting it twice.
    click_ids = [uuid.UUID(c.click_id) for c in clicks]
    written = {str(i) for i in OfferClick.objects.filter(click_id__in=click_ids).values_list("click_id", flat=True)}

    rows = [
        OfferClick(
            click_id=uuid.UUID(c.click_id),
            offer_id=c.offer_id,
            user_id=c.user_id if c.user_id in existing_users else None,
            ip_hash=c.ip_hash,
            created_at=c.at,
        )
        for c in clicks
        if c.offer_id in existing_offers and str(uuid.UUID(c.click_id)) not in written
    ]
    OfferClick.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)

    counts: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    for (offer_id, day), n in views.items():
        if offer_id in existing_offers:
            counts[(offer_id, day)][0] += n
    for row in rows:
        counts[(row.offer_id, timezone.localdate(row.created_at))][1] += 1
    _add_daily_counts({k: (v[0], v[1]) for k, v in counts.items()})
    return len(rows)


def _new_batch_id() -> str:
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"


def _apply_batch(batch_id: str, views: dict[tuple[int, date], int], clicks: list[buffer.BufferedClick]) -> bool:
    """Write one batch with its ledger row; False when the ledger says it was applied already."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                OfferEventFlush.objects.create(batch_id=batch_id, views=sum(views.values()), clicks=len(clicks))
        except IntegrityError:
            return False
        _write_clicks(clicks, views)
    return True


def offer_events_flush() -> FlushResult:
    """Move buffered views and clicks from Redis into the database and say how much was applied. Safe to run
    concurrently and repeatedly; a no-op without Redis. An unreachable Redis ends it early (logged, not
    raised): whatever was not applied and forgotten stays pending in Redis for the next run."""
    if not buffer.enabled():
        return FlushResult()
    result = FlushResult()
    try:
        conn = buffer.connection()
        buffer.warn_without_persistence(conn)
        buffer.take(conn, batch_id=_new_batch_id())
        for batch_id in buffer.pending(conn):
            applied = _apply_pending(conn, batch_id)
            if applied is None:
                continue
            result = FlushResult(
                batches=result.batches + applied.batches,
                views=result.views + applied.views,
                clicks=result.clicks + applied.clicks,
            )
            buffer.forget(conn, batch_id=batch_id)
    except Exception as exc:
        if not is_redis_unavailable(exc):
            raise
        _log.warning("flush", "Offer event flush stopped: Redis unavailable (%s); pending batches wait", exc)
    OfferEventFlush.objects.filter(created_at__lt=timezone.now() - timedelta(days=FLUSH_LEDGER_DAYS)).delete()
    return result


def _apply_pending(conn: Redis, batch_id: str) -> FlushResult | None:
    """Apply one pending batch: what it added (zeros when the ledger says it was applied before), or ``None``
    when it cannot be applied (bad data, a database error): logged and kept pending, so it neither blocks the
    other batches nor gets lost. Redis errors propagate."""
    try:
        views, clicks = buffer.read(conn, batch_id=batch_id)
        applied = _apply_batch(batch_id, views, clicks)
    except Exception as exc:
        if is_redis_unavailable(exc):
            raise
        _log.error(f"batch:{batch_id}", "Offer event batch %s could not be applied; kept", batch_id, exc_info=True)
        return None
    if not applied:
        return FlushResult()
    return FlushResult(batches=1, views=sum(views.values()), clicks=len(clicks))
