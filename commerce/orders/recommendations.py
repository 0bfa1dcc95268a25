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

Query budget on a cache miss: 4 (the product; the "together" products with merchant and category; the similar
ones likewise; the images of both lists), 3 when neither list has anything. A hit costs none: the whole response is
cached under the catalog's listing key, which carries the response-shape version and the catalog and listing
generations. Any product, variant, stock, category or merchant change bumps those, and so does a recount that
changed a count; :data:`RECOMMENDATIONS_TTL` bounds the rest. Without Redis the default cache misses and every
request is computed from the database within the same budget.
"""

from dataclasses import dataclass

from django.contrib.postgres.search import TrigramSimilarity
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

from commerce.catalog.cache import listing_key
from commerce.catalog.models import Product, ProductImage
from commerce.catalog.selectors import public_products
from commerce.core.errors import NotFoundError
from commerce.orders.models import CoPurchase

DEFAULT_LIMIT = 8
MAX_LIMIT = 20
# pg_trgm similarity of two titles from which they count as similar (pg_trgm's own default threshold).
SIMILARITY_THRESHOLD = 0.3
RECOMMENDATIONS_TTL = 10 * 60

TIER_SAME_BRAND = 0
TIER_SIMILAR_TITLE = 1
TIER_CATEGORY = 2


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


def frequently_bought_together(*, product_id: int, limit: int) -> list[Product]:
    """The recommendable products most often bought with ``product_id``, most orders first (one query)."""
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
    return list(_cards(queryset)[:limit])


def similar_products(
    *, product_id: int, category_id: int, brand: str, title: str, exclude: list[int], limit: int
) -> list[Product]:
    """Recommendable products like this one, best first (one query; see the module docstring for the order)."""
    base = recommendable_products().exclude(pk__in=[product_id, *exclude])
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
    return list(_cards(queryset)[:limit])


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


def product_recommendations(*, slug: str, limit: int = DEFAULT_LIMIT) -> Recommendations:
    """Both lists for the public product ``slug`` (4 queries, see the module docstring); 404 if there is none."""
    product = public_products().filter(slug=slug).values("pk", "category_id", "brand", "title").first()
    if product is None:
        raise NotFoundError("No such product.")
    together = frequently_bought_together(product_id=product["pk"], limit=limit)
    similar = similar_products(
        product_id=product["pk"],
        category_id=product["category_id"],
        brand=product["brand"],
        title=product["title"],
        exclude=[item.pk for item in together],
        limit=limit,
    )
    cards = together + similar
    if cards:
        prefetch_related_objects(cards, Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")))
    return Recommendations(frequently_bought_together=together, similar=similar)
