"""Live leaderboards: Redis sorted sets per period, with the ledger as the source of truth.

**Boards.** ``week`` (ISO week), ``month`` and ``all``; a member's score is the sum of qualifying points
(``points + pending_points`` of qualifying entries) created in the period. Order: score descending, then who
reached it first, then user id (:mod:`loyalty.selectors` has the reference query).

**Encoding.** One sorted set per board (``<prefix>:loyalty:lb:week:2026-W49``, ``...:month:2026-12``, ``...:all``)
whose *score is the exact points* (a double: exact up to 2**53) and whose *member* carries the tie-break::

    member = f"{T - reached_us:017d}{U - user_id:012d}"      T = 10**17 - 1, U = 10**12 - 1

Redis orders members of equal score lexicographically, and ``ZREVRANGE`` returns the greater first: an earlier
``reached_us`` (microseconds since the Unix epoch of the member's last qualifying entry in the period) makes a
greater string, so it ranks first; at the same microsecond the smaller user id does. Nothing of the points is
traded for the tie-break (a composite double score would cap points at 2**53 / time range). Limits: user ids
below 10**12, times before the year 5138; a member's string changes when they score, so a hash
(``<board>:m``, user id -> member) finds it. Masked display names live in one hash (``<prefix>:loyalty:lb:names``,
user id -> ``Priya S.``), written when the member scores or at a rebuild: a rename shows after their next earning
event or the next rebuild. Week and month keys expire ``LOYALTY_LEADERBOARD_KEEP_DAYS`` after their period ends.

**Recording** (:func:`leaderboard_record`, after the entry's transaction committed, from the follow-up task) is one
Lua script: it adds the entry to all three boards of the entry's time at once, moving the member's reached time to
the later of the two. It is idempotent: entry ids recorded in the last ``LOYALTY_LEADERBOARD_DEDUP_DAYS`` days are
kept in a sorted set (by when recorded; older ones trimmed), and an entry already there is skipped; a task re-run
later than that would count twice until the next rebuild.

**Rebuild** (:func:`leaderboards_rebuild`, ``manage.py loyalty_rebuild_leaderboards``, the nightly task): reads
every qualifying entry in one query (one snapshot), builds the current boards in temporary keys and swaps them in
with ``RENAME`` in one ``MULTI``, together with the recorded set (the snapshot's recent entry ids) and the
``built`` marker. Entries committed while it ran are then recorded again (idempotently) so none is lost.

**Degrading.** Reads use Redis only when ``REDIS_URL`` is set, the ``built`` marker exists (a flushed or new Redis
is empty, not "nobody earned") and Redis answers; otherwise they run the database query, and a missing marker
queues a rebuild (at most one per 5 minutes). Recording without Redis is a no-op; recording while Redis is down
is logged and made good by the next rebuild.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from django_redis import get_redis_connection
from redis import Redis
from redis import exceptions as redis_errors

from accounts.models import User
from commerce.core.errors import InvalidInput
from commerce.core.redis_guard import RateLimitedLog, is_redis_unavailable

from ..models import PointsEntry
from ..selectors import PERIODS, Period, leaderboard_ranking, period_of
from .programme import programme_get

logger = logging.getLogger(__name__)
_log = RateLimitedLog(logger)

T_MAX = 10**17 - 1
U_MAX = 10**12 - 1
SIZE_CACHE_KEY = "loyalty:lb:size"
SIZE_CACHE_SECONDS = 60
MAX_SIZE = 100
REBUILD_KICK_SECONDS = 300
CATCH_UP = timedelta(minutes=5)

_RECORD = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[8])
local delta = tonumber(ARGV[7])
for i = 1, (#KEYS - 2) / 2 do
  local z, h = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local score, reached = delta, ARGV[6]
  local old = redis.call('HGET', h, ARGV[4])
  if old then
    local s = redis.call('ZSCORE', z, old)
    if s then score = score + tonumber(s) end
    local old_reached = string.sub(old, 1, 17)
    if old_reached < reached then reached = old_reached end
    redis.call('ZREM', z, old)
  end
  local member = reached .. ARGV[5]
  redis.call('ZADD', z, score, member)
  redis.call('HSET', h, ARGV[4], member)
  local at = tonumber(ARGV[8 + i])
  if at > 0 then
    redis.call('EXPIREAT', z, at)
    redis.call('EXPIREAT', h, at)
  end
end
return 1
"""

_READ = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local top = redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local ids = {}
for i = 1, #top, 2 do
  ids[#ids + 1] = string.format('%d', tonumber(ARGV[3]) - tonumber(string.sub(top[i], 18)))
end
local names = {}
if #ids > 0 then names = redis.call('HMGET', KEYS[4], unpack(ids)) end
local rank, score = -1, ''
if ARGV[2] ~= '' then
  local member = redis.call('HGET', KEYS[3], ARGV[2])
  if member then
    rank = redis.call('ZREVRANK', KEYS[2], member) or -1
    score = redis.call('ZSCORE', KEYS[2], member) or ''
  end
end
return {ids, top, names, rank, score}
"""


@dataclass(frozen=True)
class _Keys:
    board: str
    members: str


# --- keys and encoding ------------------------------------------------------------------------------------------


def enabled() -> bool:
    return bool(settings.REDIS_URL)


def connection() -> Redis:
    conn: Redis = get_redis_connection("default")
    return conn


def _prefix() -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or ""
    return f"{prefix}:loyalty:lb" if prefix else "loyalty:lb"


def board_key(period: Period) -> str:
    return f"{_prefix()}:{period.name}:{period.label}"


def _keys(period: Period) -> _Keys:
    key = board_key(period)
    return _Keys(key, f"{key}:m")


def _names_key() -> str:
    return f"{_prefix()}:names"


def _recorded_key() -> str:
    return f"{_prefix()}:recorded"


def _built_key() -> str:
    return f"{_prefix()}:built"


def _expire_at(period: Period) -> int:
    """Unix time when a board's keys go (0: never): ``LOYALTY_LEADERBOARD_KEEP_DAYS`` after the period ends."""
    if period.ends_at is None:
        return 0
    keep = int(settings.LOYALTY_LEADERBOARD_KEEP_DAYS)
    return int((period.ends_at + timedelta(days=keep)).timestamp())


def _dedup_seconds() -> int:
    return int(settings.LOYALTY_LEADERBOARD_DEDUP_DAYS) * 86400


def _reached_part(at: datetime) -> str:
    micros = int(at.timestamp()) * 1_000_000 + at.microsecond
    return f"{T_MAX - micros:017d}"


def _user_part(user_id: int) -> str:
    return f"{U_MAX - user_id:012d}"


def member_for(*, user_id: int, reached: datetime) -> str:
    """The sorted-set member of a user who reached their score at ``reached`` (see the module docstring)."""
    return _reached_part(reached) + _user_part(user_id)


def display_name(*, full_name: str, account_id: int) -> str:
    """``Priya S.``: the first name and the initial of the last; one name as is; none: ``Member #1234``."""
    parts = full_name.split()
    if not parts:
        return f"Member #{account_id}"
    first = parts[0][:40]
    if len(parts) == 1:
        return first
    return f"{first} {parts[-1][0].upper()}."


def _warn_unavailable(action: str, exc: BaseException) -> None:
    _log.warning(f"lb-{action}", "Leaderboard %s without Redis (%s: %s)", action, type(exc).__name__, exc)


# --- recording --------------------------------------------------------------------------------------------------


def leaderboard_record(*, entry_id: int) -> None:
    """Add a qualifying entry's points to the week, month and all-time boards of its time (Redis; after commit).

    A no-op for an entry that is not qualifying or moves nothing, without Redis, and for an entry already recorded
    (see the module docstring). Redis being down is logged, not raised: the next rebuild makes it good."""
    if not enabled():
        return
    entry = (
        PointsEntry.objects.filter(pk=entry_id, qualifying=True)
        .values("id", "points", "pending_points", "created_at", "account_id", "account__user_id")
        .annotate(full_name=F("account__user__full_name"))
        .first()
    )
    if entry is None or entry["points"] + entry["pending_points"] == 0:
        return
    try:
        _record(connection(), entry=entry, now=timezone.now())
    except redis_errors.RedisError as exc:
        if not is_redis_unavailable(exc):
            raise
        _warn_unavailable("record", exc)


def _record(conn: Redis, *, entry: dict[str, Any], now: datetime) -> bool:
    periods = [period_of(period=name, at=entry["created_at"]) for name in PERIODS]
    keys = [_recorded_key(), _names_key()]
    for period in periods:
        keys += [_keys(period).board, _keys(period).members]
    user_id = entry["account__user_id"]
    args: list[Any] = [
        entry["id"],
        int(now.timestamp()),
        int(now.timestamp()) - _dedup_seconds(),
        user_id,
        _user_part(user_id),
        _reached_part(entry["created_at"]),
        entry["points"] + entry["pending_points"],
        display_name(full_name=entry["full_name"], account_id=entry["account_id"]),
        *[_expire_at(period) for period in periods],
    ]
    return bool(conn.eval(_RECORD, len(keys), *keys, *args))


# --- reading ----------------------------------------------------------------------------------------------------


def leaderboard_size() -> int:
    """The programme's board size, cached for a minute (so a Redis read touches no database)."""
    size = cache.get(SIZE_CACHE_KEY)
    if size is None:
        size = programme_get().leaderboard_size
        cache.set(SIZE_CACHE_KEY, size, SIZE_CACHE_SECONDS)
    return int(size)


def leaderboard_read(*, period: str, user_id: int | None, size: int, now: datetime | None = None) -> dict[str, Any]:
    """The current board of ``period``: ``{"period", "starts_at", "entries": [{"rank", "name", "points"}],
    "me": {"rank", "points"} | None}``; ``me`` is ``user_id``'s place wherever it ranks (``None`` when they have no
    qualifying points in the period, or no user). From Redis when it can, else the database (same answer)."""
    if period not in PERIODS:
        raise InvalidInput("Unknown leaderboard period.", fields={"period": [f"One of: {', '.join(PERIODS)}."]})
    size = max(1, min(size, MAX_SIZE))
    board = period_of(period=period, at=now or timezone.now())
    result = _read_redis(board, user_id=user_id, size=size) if enabled() else None
    if result is None:
        result = _read_database(board, user_id=user_id, size=size)
    return {"period": period, "starts_at": board.starts_at, **result}


def _read_redis(board: Period, *, user_id: int | None, size: int) -> dict[str, Any] | None:
    keys = _keys(board)
    try:
        conn = connection()
        reply = conn.eval(_READ, 4, _built_key(), keys.board, keys.members, _names_key(), size, user_id or "", U_MAX)
    except redis_errors.RedisError as exc:
        if not is_redis_unavailable(exc):
            raise
        _warn_unavailable("read", exc)
        return None
    if reply is None:
        _rebuild_kick(conn)
        return None
    ids, top, names, rank, score = reply
    entries = [
        {
            "rank": n + 1,
            "name": (names[n] or b"").decode() or "Member",
            "points": int(float(top[2 * n + 1])),
        }
        for n in range(len(ids))
    ]
    me = {"rank": int(rank) + 1, "points": int(float(score))} if int(rank) >= 0 else None
    return {"entries": entries, "me": me}


def _read_database(board: Period, *, user_id: int | None, size: int) -> dict[str, Any]:
    rows = leaderboard_ranking(period=board, size=size, user_id=user_id)
    entries = [
        {
            "rank": row["rank"],
            "name": display_name(full_name=row["full_name"], account_id=row["account_id"]),
            "points": int(row["score"]),
        }
        for row in rows
        if row["rank"] <= size
    ]
    mine = next((row for row in rows if user_id is not None and row["user_id"] == user_id), None)
    me = {"rank": mine["rank"], "points": int(mine["score"])} if mine else None
    return {"entries": entries, "me": me}


def _rebuild_kick(conn: Redis) -> None:
    """Queue one rebuild (at most every ``REBUILD_KICK_SECONDS``) when the boards are missing from Redis."""
    from ..tasks.leaderboard import rebuild_leaderboards

    try:
        if conn.set(f"{_prefix()}:rebuild-kick", 1, nx=True, ex=REBUILD_KICK_SECONDS):
            rebuild_leaderboards.delay()
    except Exception:  # the read is served from the database anyway; the nightly rebuild follows
        logger.warning("Could not queue a leaderboard rebuild", exc_info=True)


# --- rebuilding -------------------------------------------------------------------------------------------------


def leaderboards_rebuild(*, now: datetime | None = None) -> int:
    """Rebuild the current week, month and all-time boards from the ledger, swapped in atomically; the number of
    members on the all-time board. A no-op (0) without Redis. Raises when Redis is unreachable (a command)."""
    if not enabled():
        return 0
    now = now or timezone.now()
    periods = [period_of(period=name, at=now) for name in PERIODS]
    boards, recorded, accounts = _snapshot(periods, until=now, recent_since=now - timedelta(seconds=_dedup_seconds()))
    names = _names(accounts)
    conn = connection()
    _swap_in(conn, periods=periods, boards=boards, recorded=recorded, names=names, now=now)
    _catch_up(conn, since=now - CATCH_UP, now=now)
    return len(boards[-1])


def _snapshot(
    periods: list[Period], *, until: datetime, recent_since: datetime
) -> tuple[list[dict[int, tuple[int, datetime]]], list[int], dict[int, int]]:
    """One pass over every qualifying entry up to ``until`` (one query, one snapshot; later ones are recorded by
    their own tasks): per board, user id -> (score, reached);
    the ids of recent entries (the recorded set); user id -> account id."""
    boards: list[dict[int, tuple[int, datetime]]] = [{} for _ in periods]
    recorded: list[int] = []
    accounts: dict[int, int] = {}
    rows = (
        PointsEntry.objects.filter(qualifying=True, created_at__lte=until)
        .order_by()
        .values_list("id", "account_id", "account__user_id", "points", "pending_points", "created_at")
    )
    for entry_id, account_id, user_id, points, pending, created_at in rows.iterator(chunk_size=5000):
        delta = points + pending
        if not delta:
            continue
        accounts[user_id] = account_id
        if created_at >= recent_since:
            recorded.append(entry_id)
        for period, board in zip(periods, boards, strict=True):
            if period.starts_at and period.ends_at and not period.starts_at <= created_at < period.ends_at:
                continue
            score, reached = board.get(user_id, (0, created_at))
            board[user_id] = (score + delta, max(reached, created_at))
    return boards, recorded, accounts


def _names(accounts: dict[int, int]) -> dict[int, str]:
    user_ids = list(accounts)
    names: dict[int, str] = {}
    for start in range(0, len(user_ids), 5000):
        chunk = user_ids[start : start + 5000]
        for pk, full_name in User.objects.filter(pk__in=chunk).values_list("pk", "full_name"):
            names[pk] = display_name(full_name=full_name, account_id=accounts[pk])
    return names


def _swap_in(
    conn: Redis,
    *,
    periods: list[Period],
    boards: list[dict[int, tuple[int, datetime]]],
    recorded: list[int],
    names: dict[int, str],
    now: datetime,
) -> None:
    token = f"rebuild:{int(now.timestamp() * 1e6)}"
    temp = f"{_prefix()}:tmp:{token}"
    build = conn.pipeline(transaction=False)
    renames: list[tuple[str, str, bool]] = []  # (temporary key, live key, whether anything was built)
    server_now = int(conn.time()[0])  # EXPIREAT is judged by Redis's clock
    for n, (period, board) in enumerate(zip(periods, boards, strict=True)):
        keys = _keys(period)
        expire_at = _expire_at(period)
        # A board whose keys would already have expired (a rebuild "as of" a long past date) is not kept.
        live = bool(board) and (not expire_at or expire_at > server_now)
        if live:
            members = {uid: member_for(user_id=uid, reached=reached) for uid, (_, reached) in board.items()}
            _chunked_zadd(build, f"{temp}:{n}", {members[uid]: score for uid, (score, _) in board.items()})
            _chunked_hset(build, f"{temp}:{n}:m", {str(uid): m for uid, m in members.items()})
            if expire_at:
                build.expireat(f"{temp}:{n}", expire_at)
                build.expireat(f"{temp}:{n}:m", expire_at)
        renames += [(f"{temp}:{n}", keys.board, live), (f"{temp}:{n}:m", keys.members, live)]
    if recorded:
        _chunked_zadd(build, f"{temp}:recorded", {str(entry_id): int(now.timestamp()) for entry_id in recorded})
    renames.append((f"{temp}:recorded", _recorded_key(), bool(recorded)))
    if names:
        _chunked_hset(build, _names_key(), {str(uid): name for uid, name in names.items()})
    build.execute()
    swap = conn.pipeline(transaction=True)
    for source, target, built in renames:
        if built:
            swap.rename(source, target)
        else:
            swap.delete(target)
    swap.set(_built_key(), token)
    swap.execute()


def _chunked_zadd(pipe: Any, key: str, mapping: dict[str, int]) -> None:
    items = list(mapping.items())
    for start in range(0, len(items), 1000):
        pipe.zadd(key, dict(items[start : start + 1000]))


def _chunked_hset(pipe: Any, key: str, mapping: dict[str, str]) -> None:
    items = list(mapping.items())
    for start in range(0, len(items), 1000):
        pipe.hset(key, mapping=dict(items[start : start + 1000]))


def _catch_up(conn: Redis, *, since: datetime, now: datetime) -> None:
    """Record (idempotently) entries created shortly before the rebuild: those committed after its snapshot whose
    task ran before the swap would otherwise be lost."""
    recent = (
        PointsEntry.objects.filter(qualifying=True, created_at__gte=since)
        .values("id", "points", "pending_points", "created_at", "account_id", "account__user_id")
        .annotate(full_name=F("account__user__full_name"))
    )
    for entry in recent:
        if entry["points"] + entry["pending_points"]:
            _record(conn, entry=entry, now=now)
