"""Brief caching of the public offer lists (list, expiring, trending).

Entries live ``LIST_TTL`` seconds at most. Every key carries a *generation* number that the offer services bump
after a change commits, so an edited offer shows up at once instead of after the TTL.
"""

import time
from collections.abc import Callable
from hashlib import sha256
from typing import Any

from django.core.cache import cache

from commerce.core.api.shape import shape_prefix

LIST_TTL = 30
TRENDING_TTL = 60
_GENERATION_KEY = "offers:cache:generation"


def generation() -> int:
    value = cache.get(_GENERATION_KEY)
    if value is None:
        # Seeded from the clock, so a generation lost to eviction never comes back to an older number.
        cache.add(_GENERATION_KEY, time.time_ns() // 1000, timeout=None)
        value = cache.get(_GENERATION_KEY, 0)
    return int(value)


def bump_generation() -> None:
    """Make every cached offer list stale."""
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:  # not there (never read, or evicted): start a new clock-based generation
        cache.add(_GENERATION_KEY, time.time_ns() // 1000, timeout=None)


def key(name: str, params: dict[str, str] | None = None) -> str:
    """A cache key for ``name`` and the (sorted) request parameters, in the current generation."""
    items = sorted((params or {}).items())
    digest = sha256(repr(items).encode()).hexdigest()[:32]
    return f"offers:{shape_prefix()}:{name}:g{generation()}:{digest}"


def cached(cache_key: str, ttl: int, compute: Callable[[], Any]) -> Any:
    value = cache.get(cache_key)
    if value is None:
        value = compute()
        cache.set(cache_key, value, timeout=ttl)
    return value
