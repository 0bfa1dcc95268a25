"""The read side of product recommendations (``GET products/{slug}/recommendations``): selectors and cache keys.

Two lists for a public product, each of at most ``limit`` product cards (:data:`DEFAULT_LIMIT`, at most
:data:`MAX_LIMIT`):

* **frequently bought together**: the products that shared the most counted orders with it, from the
  :class:`~commerce.orders.models.CoPurchase` rows the periodic recount keeps (see
  :mod:`commerce.orders.services.recommendations`); ties go to the more popular product, then the newer id.
* **similar**: candidates are the products of the same category, and on PostgreSQL also any product whose title
  is trigram-similar (``pg_trgm``'s ``%`` operator, which the catalog's trigram index serves). They rank in tiers:
  same category *and* brand (case-insensitive; an empty brand matches nothing) first, then titles at least
  :data:`SIMILARITY_THRESHOLD` similar, then the rest of the category by popularity, which is the fill when
  data is thin. Within the first two tiers a closer title ranks first (PostgreSQL); then popularity, newest.
  SQLite has no trigram similarity: same category and brand first, then the category by popularity. On
  PostgreSQL the similarity is computed only for a few candidates, the best ``limit`` of each tier taken in one
  UNION ALL subquery (see :func:`_similar_candidates`), not for a whole category: ranking those gives exactly
  the list that ranking everything would.

Both lists hold only public (active product of an active merchant) and in-stock products, never the product
itself, and never the same product twice: a product in "frequently bought together" is left out of "similar"
(the stronger signal wins). The product itself need not be in stock: an out-of-stock page is exactly where
alternatives help. An unknown or non-public slug is 404.

Two caches, so that the expensive part is not redone whenever any stock moves:

* the **ranking** (ids only, :data:`TOGETHER_CANDIDATES` and :data:`SIMILAR_CANDIDATES` long, more than any
  page) is cached per product for :data:`RANKING_TTL` under the catalog generation (category and merchant
  changes), a ranking generation the co-purchase recount moves when it changed a count, and the product's own
  category, brand and title (editing them ranks again at once). A product added to a category, back in stock, or
  whose popularity or title changed, enters others' rankings within :data:`RANKING_TTL`.
* the **response** is cached whole for :data:`RECOMMENDATIONS_TTL` under the catalog's listing key (response-shape
  version, catalog and listing generations), which every product, variant and stock change moves. So whatever is
  shown was public and in stock when the cards were read: the cards are always read fresh on a response miss,
  filtered again, in the ranking's order, with the bought-together ones taken out of "similar".

Query budget: a response hit costs none; a miss costs 3 (the product, the cards of both lists with merchant and
category, their images), plus 2 when the ranking is not cached (bought-together ids, similar ids): 5. With
nothing to recommend, 1 and 3. Without Redis the default cache misses and every request is computed from the
database within those 5 queries.
"""

import hashlib
import time
from dataclasses import dataclass

from django.contrib.postgres.search import TrigramSimilarity
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Case,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce

from commerce.catalog.cache import cached, listing_key
from commerce.catalog.models import Product, ProductImage
from commerce.catalog.selectors import public_products
from commerce.core.errors import NotFoundError
from commerce.orders.models import CoPurchase

DEFAULT_LIMIT = 8
MAX_LIMIT = 20
# pg_trgm similarity of two titles from which they count as similar (pg_trgm's own default threshold).
SIMILARITY_THRESHOLD = 0.3
RECOMMENDATIONS_TTL = 10 * 60
RANKING_TTL = 30 * 60
# How many ranked ids a ranking keeps per list, beyond the largest page: room for products that go out of stock
# or off sale before the ranking is renewed, and, for "similar", for the ones shown as bought together.
TOGETHER_CANDIDATES = 2 * MAX_LIMIT
SIMILAR_CANDIDATES = 3 * MAX_LIMIT
RANKING_GENERATION_KEY = "orders:recommendations:generation"

TIER_SAME_BRAND = 0
TIER_SIMILAR_TITLE = 1
TIER_CATEGORY = 2


@dataclass(frozen=True)
class Subject:
    """The product recommendations are for: what its ranking depends on."""

    pk: int
    category_id: int
    brand: str
    title: str


@dataclass(frozen=True)
class Recommendations:
    frequently_bought_together: list[Product]
    similar: list[Product]


def recommendable_products() -> QuerySet[Product]:
    """Products that may be recommended: public and in stock."""
    return public_products().filter(in_stock=True)


def recommendations_cache_key(*, slug: str, limit: int) -> str:
    return listing_key(f"recommendations:{slug}:{limit}")


def _cards(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """With what a product card shows; without the columns it never reads (the search vector is large)."""
    return queryset.select_related("merchant", "category").defer("search_vector", "description")


def frequently_bought_together(*, product_id: int, limit: int) -> list[int]:
    """The ids of the recommendable products most often bought with ``product_id``, most orders first (one
    query)."""
    as_high = CoPurchase.objects.filter(product_low_id=product_id, product_high_id=OuterRef("pk")).values("orders")
    as_low = CoPurchase.objects.filter(product_high_id=product_id, product_low_id=OuterRef("pk")).values("orders")
    # One IN over a UNION (not an OR of two INs), so PostgreSQL reads the partners from the pair indexes and
    # looks the products up by key instead of scanning the catalog.
    partners = (
        CoPurchase.objects.filter(product_low_id=product_id)
        .values("product_high_id")
        .union(CoPurchase.objects.filter(product_high_id=product_id).values("product_low_id"), all=True)
    )
    queryset = (
        recommendable_products()
        .filter(pk__in=partners)
        .annotate(together=Coalesce(Subquery(as_high[:1]), Subquery(as_low[:1]), Value(0)))
        .order_by(F("together").desc(), "-popularity", "-id")
    )
    return list(queryset.values_list("pk", flat=True)[:limit])


def similar_products(*, product_id: int, category_id: int, brand: str, title: str, limit: int) -> list[int]:
    """The ids of recommendable products like this one, best first (one query; see the module docstring for the
    order)."""
    base = recommendable_products().exclude(pk=product_id)
    same_brand = Q(category_id=category_id, brand__iexact=brand) if brand.strip() else None
    # (condition, tier) in rank order; a product in none of them is the category's popular fill.
    tiers: list[tuple[Q, int]] = [(same_brand, TIER_SAME_BRAND)] if same_brand is not None else []
    queryset: QuerySet[Product]
    if connection.vendor == "postgresql":
        tiers.append((Q(similarity__gte=SIMILARITY_THRESHOLD), TIER_SIMILAR_TITLE))
        queryset = base.filter(pk__in=_similar_candidates(base, category_id, same_brand, title, limit)).annotate(
            similarity=TrigramSimilarity("title", title)
        )
        # A closer title first within the first two tiers; the popular fill of the category ranks by popularity
        # alone, not by a weak title likeness.
        closeness: Case | Value = Case(
            *[When(condition, then=F("similarity")) for condition, _ in tiers],
            default=Value(0.0),
            output_field=FloatField(),
        )
    else:
        queryset = base.filter(category_id=category_id)
        closeness = Value(0.0, output_field=FloatField())
    queryset = queryset.annotate(
        tier=Case(
            *[When(condition, then=Value(tier)) for condition, tier in tiers],
            default=Value(TIER_CATEGORY),
            output_field=IntegerField(),
        ),
        closeness=closeness,
    ).order_by("tier", F("closeness").desc(), "-popularity", "-created_at", "-id")
    return list(queryset.values_list("pk", flat=True)[:limit])


def _similar_candidates(
    base: QuerySet[Product], category_id: int, same_brand: Q | None, title: str, limit: int
) -> QuerySet[Product, int]:
    """The ids that can make the top ``limit`` on PostgreSQL, as one UNION ALL subquery: the best ``limit`` of each
    tier in its own order (same category and brand by title likeness; similar titles through the trigram index;
    the category by popularity). Any product of the overall top ``limit`` is among the first ``limit`` of its
    tier's branch (everything ahead of it there is ahead of it overall too), so ranking only these gives the same
    list as ranking the whole category and every similar title, while the title similarity is computed for a few
    rows instead of a whole category."""
    order = ("-popularity", "-created_at", "-id")
    alike = base.annotate(similarity=TrigramSimilarity("title", title))
    branches = [
        alike.filter(title__trigram_similar=title, similarity__gte=SIMILARITY_THRESHOLD).order_by(
            F("similarity").desc(), *order
        ),
        base.filter(category_id=category_id).order_by(*order),
    ]
    if same_brand is not None:
        branches.append(alike.filter(same_brand).order_by(F("similarity").desc(), *order))
    ids = [branch.values_list("pk", flat=True)[:limit] for branch in branches]
    return ids[0].union(*ids[1:], all=True)


def ranking_generation() -> int:
    """The counter in every ranking's cache key; :func:`rankings_invalidate` moves it."""
    value = cache.get(RANKING_GENERATION_KEY)
    if value is None:
        # Seeded from the clock, so a generation lost to eviction never comes back to an older number.
        cache.add(RANKING_GENERATION_KEY, time.time_ns(), timeout=None)
        value = cache.get(RANKING_GENERATION_KEY, 0)
    return int(value)


def rankings_invalidate() -> None:
    """Make every cached ranking stale (the co-purchase recount calls it when it changed a count)."""
    try:
        cache.incr(RANKING_GENERATION_KEY)
    except ValueError:  # missing or evicted: start a new clock-based generation
        cache.set(RANKING_GENERATION_KEY, time.time_ns(), timeout=None)


def _ranking_name(product: Subject) -> str:
    # The product's own category, brand and title are in the key: editing them ranks again at once.
    own = hashlib.sha256(f"{product.category_id}|{product.brand}|{product.title}".encode()).hexdigest()
    return f"recommendations-ranking:{product.pk}:{own[:16]}:{ranking_generation()}"


def product_ranking(*, product: Subject) -> dict[str, list[int]]:
    """``{"together": [ids], "similar": [ids]}`` for ``product``, best first and longer than any page, cached for
    :data:`RANKING_TTL` (two queries on a miss)."""

    def rank() -> dict[str, list[int]]:
        return {
            "together": frequently_bought_together(product_id=product.pk, limit=TOGETHER_CANDIDATES),
            "similar": similar_products(
                product_id=product.pk,
                category_id=product.category_id,
                brand=product.brand,
                title=product.title,
                limit=SIMILAR_CANDIDATES,
            ),
        }

    return cached(_ranking_name(product), rank, timeout=RANKING_TTL)


def product_recommendations(*, slug: str, limit: int = DEFAULT_LIMIT) -> Recommendations:
    """Both lists for the public product ``slug``; 404 if there is none (queries: see the module docstring).

    The ranking (ids only) may be up to :data:`RANKING_TTL` old; the cards are read now, so every product shown is
    public and in stock at this moment, in the ranking's order, and none is in both lists.
    """
    row = public_products().filter(slug=slug).values_list("pk", "category_id", "brand", "title").first()
    if row is None:
        raise NotFoundError("No such product.")
    ranking = product_ranking(product=Subject(*row))
    wanted = set(ranking["together"]) | set(ranking["similar"])
    cards = {card.pk: card for card in _cards(recommendable_products().filter(pk__in=wanted))} if wanted else {}
    together = [cards[pk] for pk in ranking["together"] if pk in cards][:limit]
    shown = {card.pk for card in together}
    similar = [cards[pk] for pk in ranking["similar"] if pk in cards and pk not in shown][:limit]
    if together or similar:
        prefetch_related_objects(
            [*together, *similar], Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
        )
    return Recommendations(frequently_bought_together=together, similar=similar)
