"""Caching of hot catalog reads in the configured cache (local memory or Redis).

Two kinds of keys:

* a **catalog generation** counter. Every cached catalog structure (the category tree, the public merchant
  map, product detail payloads) has the generation in its key, so bumping it invalidates all of them at once.
  It is bumped when a category or merchant changes: those changes alter many products' public payloads (a
  merchant suspension hides all its products, a category rename shows in every product of the category).
* **per-product** detail entries, keyed by slug, deleted when that product, one of its variants or images
  changes (:func:`product_cache_invalidate`), so a stock or price change does not flush the whole catalog.
* **listing** responses (product lists, search with facets, autocomplete, merchants), keyed by the request's
  host, path and sorted query under a *listing generation* that every product change bumps too, and kept for
  ``LISTING_TTL`` seconds at most. A listing shows many products at once, so any product change invalidates them
  all; on a busy day that still leaves most reads between two changes served from one cached copy.

Invalidation is driven by the catalog services that write (``services/refresh.py``: now and again on commit);
there are no model signals. Code in other apps that changes catalog rows with ``update()`` must call
``services.products_invalidate_cache`` or ``services.catalog_invalidate_all`` itself.
"""

import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache import cache

from commerce.core.api.shape import shape_prefix

GENERATION_KEY = "catalog:generation"
LISTING_GENERATION_KEY = "catalog:listing-generation"
LISTING_TTL = 30
TREE_TTL = 60 * 60
MERCHANTS_TTL = 60 * 60
PRODUCT_DETAIL_TTL = 10 * 60

T = TypeVar("T")


def _generation(key: str, known: Any = None) -> int:
    """The counter under ``key`` (``known`` if already read), started if missing."""
    if known is None:
        # Start from the clock, never from a constant: after an eviction, entries written under an earlier
        # generation with the same number could otherwise come back to life.
        cache.add(key, time.time_ns(), timeout=None)
        known = cache.get(key, 0)
    return int(known)


def catalog_generation() -> int:
    return _generation(GENERATION_KEY, cache.get(GENERATION_KEY))


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # the key was missing or evicted
        cache.set(key, time.time_ns(), timeout=None)


def catalog_cache_bump() -> None:
    """Invalidate every cached catalog structure (tree, merchants, all product details, all listings)."""
    _bump(GENERATION_KEY)


def listing_cache_bump() -> None:
    """Invalidate every cached listing response (lists, search, autocomplete, merchants)."""
    _bump(LISTING_GENERATION_KEY)


def listing_key(name: str) -> str:
    """The cache key of a listing response; one round trip reads both generations."""
    generations = cache.get_many([GENERATION_KEY, LISTING_GENERATION_KEY])
    generation = _generation(GENERATION_KEY, generations.get(GENERATION_KEY))
    listing_generation = _generation(LISTING_GENERATION_KEY, generations.get(LISTING_GENERATION_KEY))
    return f"catalog:{shape_prefix()}:{generation}:listing:{listing_generation}:{name}"


def _key(name: str) -> str:
    return f"catalog:{shape_prefix()}:{catalog_generation()}:{name}"


def cached(name: str, build: Callable[[], T], *, timeout: int) -> T:
    """The value cached under ``name`` in the current generation, built and stored on a miss."""
    key = _key(name)
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout=timeout)
    return value


def product_detail_key(slug: str) -> str:
    return _key(f"product:{slug}")


def product_cache_invalidate(*, slugs: Iterable[str]) -> None:
    """Drop the cached detail payloads of the products with these slugs."""
    keys = [product_detail_key(slug) for slug in {s for s in slugs if s}]
    if keys:
        cache.delete_many(keys)
        listing_cache_bump()
