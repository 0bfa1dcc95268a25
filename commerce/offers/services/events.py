"""Recording offer views and clicks, and flushing the Redis buffer into the database.

With ``REDIS_URL`` set, a view or click touches only Redis (see :mod:`commerce.offers.buffer`) and
:func:`offer_events_flush`, run every few seconds by Celery beat, writes them in bulk: clicks with one
``bulk_create``, per-day counts with one ``F()`` increment per (offer, day). Without Redis, each event is
written straight away. If Redis fails mid-request, the event is written straight through rather than lost.
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
from redis.exceptions import RedisError

from commerce.core.errors import Conflict

from .. import buffer
from ..models import Offer, OfferClick, OfferDailyStats, OfferEventFlush

logger = logging.getLogger(__name__)

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
        except RedisError:
            logger.warning("Offer view buffer unavailable; writing the view straight through", exc_info=True)
    with transaction.atomic():
        _add_daily_counts({(offer_id, day): (1, 0)})


def offer_click_record(
    *, offer: Offer, user_id: int | None = None, ip: str | None = None, at: datetime | None = None
) -> RecordedClick:
    """Record a click through to the merchant and return the destination URL carrying the new click id.

    Raises ``Conflict(code="offer_no_destination")`` when neither the offer nor its merchant has a URL.
    """
    destination = offer.destination
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
        except RedisError:
            logger.warning("Offer click buffer unavailable; writing the click straight through", exc_info=True)
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

    rows = [
        OfferClick(
            click_id=uuid.UUID(c.click_id),
            offer_id=c.offer_id,
            user_id=c.user_id if c.user_id in existing_users else None,
            ip_hash=c.ip_hash,
            created_at=c.at,
        )
        for c in clicks
        if c.offer_id in existing_offers
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
    """Move buffered views and clicks from Redis into the database. Safe to run concurrently and repeatedly;
    a no-op without Redis."""
    if not buffer.enabled():
        return FlushResult()
    conn = buffer.connection()
    buffer.take(conn, batch_id=_new_batch_id())
    batches = views_total = clicks_total = 0
    for batch_id in buffer.pending(conn):
        views, clicks = buffer.read(conn, batch_id=batch_id)
        if _apply_batch(batch_id, views, clicks):
            batches += 1
            views_total += sum(views.values())
            clicks_total += len(clicks)
        buffer.forget(conn, batch_id=batch_id)
    OfferEventFlush.objects.filter(created_at__lt=timezone.now() - timedelta(days=FLUSH_LEDGER_DAYS)).delete()
    return FlushResult(batches=batches, views=views_total, clicks=clicks_total)
