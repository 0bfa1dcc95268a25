"""The Redis buffer for offer views and clicks (used only when ``REDIS_URL`` is set).

Requests only touch Redis: a view is ``HINCRBY`` on one hash (field ``"<offer id>:<date>"``), a click is
``RPUSH`` of a small JSON record onto one list. The periodic flush then:

1. *takes* the buffers atomically (a Lua script renames both keys to batch keys and records the batch id in a
   pending set), so events arriving meanwhile start fresh buffers and nothing is read twice;
2. reads every pending batch, writes it to the database together with a ledger row (``OfferEventFlush``)
   in one transaction;
3. *forgets* the batch (deletes its keys, removes it from the pending set).

A flush that dies between 2 and 3 leaves the batch pending; the next flush finds its ledger row and only
forgets it. So every event is written exactly once, even with two flushes running at the same time.

Until a flush has applied them, events exist only in Redis, so the Redis server holding this buffer must keep
its data across restarts: append-only persistence (``appendonly yes``, ``appendfsync everysec``: at most about
a second of events lost in a crash). docker-compose.yml runs Redis that way; :func:`warn_without_persistence`
logs a warning (once per process) when the server does not.
"""

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import ResponseError

logger = logging.getLogger(__name__)
_persistence_checked = False

_TAKE_SCRIPT = """
local moved = 0
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[3]); moved = 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[4]); moved = 1 end
if moved == 1 then redis.call('SADD', KEYS[5], ARGV[1]) end
return moved
"""


def enabled() -> bool:
    """Events are buffered in Redis when Redis is configured; otherwise they are written straight through."""
    return bool(settings.REDIS_URL)


def connection() -> Redis:
    return get_redis_connection("default")


def warn_without_persistence(conn: Redis) -> None:
    """Once per process: warn when the buffer's Redis has append-only persistence off (a restart would lose the
    buffered events). Servers that refuse ``INFO`` (some managed services) are not checked."""
    global _persistence_checked
    if _persistence_checked:
        return
    try:
        aof = conn.info("persistence").get("aof_enabled")
    except ResponseError:
        aof = None
    _persistence_checked = True
    if aof is not None and not int(aof):
        logger.warning(
            "The Redis holding the offer event buffer has appendonly off: a restart loses buffered views and "
            "clicks. Run it with appendonly yes (see README, When Redis is down)."
        )


def _prefix() -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or ""
    return f"{prefix}:offers:buf" if prefix else "offers:buf"


def views_key(batch_id: str | None = None) -> str:
    return f"{_prefix()}:views" + (f":{batch_id}" if batch_id else "")


def clicks_key(batch_id: str | None = None) -> str:
    return f"{_prefix()}:clicks" + (f":{batch_id}" if batch_id else "")


def pending_key() -> str:
    return f"{_prefix()}:pending"


@dataclass(frozen=True)
class BufferedClick:
    click_id: str
    offer_id: int
    user_id: int | None
    ip_hash: str
    at: datetime

    def dumps(self) -> str:
        return json.dumps(
            {
                "click_id": self.click_id,
                "offer_id": self.offer_id,
                "user_id": self.user_id,
                "ip_hash": self.ip_hash,
                "at": self.at.isoformat(),
            }
        )

    @classmethod
    def loads(cls, raw: bytes | str) -> "BufferedClick":
        data: dict[str, Any] = json.loads(raw)
        return cls(
            click_id=data["click_id"],
            offer_id=int(data["offer_id"]),
            user_id=data.get("user_id"),
            ip_hash=data.get("ip_hash", ""),
            at=datetime.fromisoformat(data["at"]),
        )


def add_view(conn: Redis, *, offer_id: int, day: date) -> None:
    conn.hincrby(views_key(), f"{offer_id}:{day.isoformat()}", 1)


def add_click(conn: Redis, click: BufferedClick) -> None:
    conn.rpush(clicks_key(), click.dumps())


def take(conn: Redis, *, batch_id: str) -> bool:
    """Move the current buffers into batch ``batch_id``; False when there was nothing to take."""
    keys = [views_key(), clicks_key(), views_key(batch_id), clicks_key(batch_id), pending_key()]
    return bool(conn.eval(_TAKE_SCRIPT, len(keys), *keys, batch_id))


def pending(conn: Redis) -> list[str]:
    """Batch ids taken but not yet forgotten, oldest first (ids sort by time)."""
    return sorted(member.decode() if isinstance(member, bytes) else member for member in conn.smembers(pending_key()))


def read(conn: Redis, *, batch_id: str) -> tuple[dict[tuple[int, date], int], list[BufferedClick]]:
    """The view counts per (offer id, date) and the clicks of a batch, read in one snapshot."""
    pipe = conn.pipeline(transaction=True)
    pipe.hgetall(views_key(batch_id))
    pipe.lrange(clicks_key(batch_id), 0, -1)
    raw_views, raw_clicks = pipe.execute()
    views: dict[tuple[int, date], int] = {}
    for field, count in raw_views.items():
        offer_id, day = (field.decode() if isinstance(field, bytes) else field).split(":", 1)
        views[(int(offer_id), date.fromisoformat(day))] = int(count)
    return views, [BufferedClick.loads(raw) for raw in raw_clicks]


def forget(conn: Redis, *, batch_id: str) -> None:
    pipe = conn.pipeline(transaction=True)
    pipe.delete(views_key(batch_id), clicks_key(batch_id))
    pipe.srem(pending_key(), batch_id)
    pipe.execute()
