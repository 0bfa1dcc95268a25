"""Catalog reads, each written to a fixed query budget whatever the page size.

* ``public_products()`` / ``public_merchants()``: what the public may see (active products of active merchants).
* ``category_index()`` / ``category_tree()`` / ``merchant_index()``: small structures built from one query each
  and cached per catalog generation (see ``cache.py``); filters resolve slugs and descendants from them.
* ``product_list(filters=...)``: filtered and ordered products for a list page: one query for the page and one
  for the images (plus the paginator's count).
* ``product_search_facets(filters=...)``: every facet count in a single SQL statement (a UNION ALL of grouped
  counts), each facet honouring all active filters except its own.
* ``autocomplete(q=...)``: a few products (one query), categories and merchants (cached).

Text search on PostgreSQL uses the stored, weighted ``search_vector`` (GIN) ranked with ``SearchRank``, plus
trigram word similarity on the title for typos; on other databases it falls back to a case-insensitive
substring search over title, brand, category name and description, every word having to match somewhere, made
typo tolerant by ``spelling``: a word found in no title, brand or category name also matches through its closest
catalog word ("headphnes" finds headphones). ``search_did_you_mean(q=...)`` offers a corrected query for a
search that found nothing (pg_trgm similarity on PostgreSQL, rapidfuzz elsewhere, over the same vocabulary).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Prefetch, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast

from commerce.core.errors import InvalidInput, NotFoundError

from . import spelling
from .cache import MERCHANTS_TTL, TREE_TTL, cached
from .models import Category, Merchant, MerchantStatus, Product, ProductImage, ProductStatus, ProductVariant

SEARCH_CONFIG = "english"
# Minimum pg_trgm word similarity between the query and a title for a typo match ("headphnoes").
TRIGRAM_THRESHOLD = 0.5
MAX_QUERY_LENGTH = 200
MAX_SEARCH_TERMS = 10
# The search vocabulary lives per catalog generation (a category or merchant change renews it) and at most this
# long, so words of new or renamed products join it within minutes. Not per listing generation: that one moves
# with every stock change, and rebuilding the vocabulary (a pass over every public product) that often would
# cost more than it saves.
VOCABULARY_TTL = 10 * 60

ORDER_RELEVANCE = "relevance"
ORDER_PRICE = "price"
ORDER_PRICE_DESC = "-price"
ORDER_NEWEST = "newest"
ORDER_POPULAR = "popular"
ORDERINGS = (ORDER_RELEVANCE, ORDER_PRICE, ORDER_PRICE_DESC, ORDER_NEWEST, ORDER_POPULAR)

# Price bands of the search facets, on ``min_price``, lower bound included and upper bound excluded.
PRICE_BANDS: tuple[tuple[Decimal, Decimal | None], ...] = (
    (Decimal("0"), Decimal("500")),
    (Decimal("500"), Decimal("1000")),
    (Decimal("1000"), Decimal("2500")),
    (Decimal("2500"), Decimal("5000")),
    (Decimal("5000"), None),
)


def price_band_key(low: Decimal, high: Decimal | None) -> str:
    return f"{low:.0f}-{high:.0f}" if high is not None else f"{low:.0f}+"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class ProductFilters:
    """Validated filters of ``GET products`` and ``GET search``. ``ordering=None`` means the default:
    relevance when there is a query, newest first otherwise."""

    q: str = ""
    category: str | None = None
    merchant: str | None = None
    brand: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    ordering: str | None = None

    @property
    def effective_ordering(self) -> str:
        if self.ordering:
            return self.ordering
        return ORDER_RELEVANCE if self.q else ORDER_NEWEST


# --- Public querysets -----------------------------------------------------------------------------------


def public_products() -> QuerySet[Product]:
    """Products the public may see: active, of an active merchant."""
    return Product.objects.filter(status=ProductStatus.ACTIVE, merchant__status=MerchantStatus.ACTIVE)


def public_merchants() -> QuerySet[Merchant]:
    return Merchant.objects.filter(status=MerchantStatus.ACTIVE)


def merchant_list() -> QuerySet[Merchant]:
    """Active merchants by name, each with the number of its active products (one query)."""
    return (
        public_merchants()
        .annotate(product_count=Count("products", filter=Q(products__status=ProductStatus.ACTIVE)))
        .order_by("name", "id")
    )


def merchant_detail(*, slug: str) -> Merchant:
    merchant = merchant_list().filter(slug=slug).first()
    if merchant is None:
        raise NotFoundError("No such merchant.")
    return merchant


# --- Cached structures ----------------------------------------------------------------------------------


def _build_category_index() -> dict[str, Any]:
    nodes: dict[int, dict[str, Any]] = {}
    children: dict[int | None, list[int]] = {}
    for row in Category.objects.order_by("position", "name", "id").values(
        "id", "parent_id", "name", "slug", "position"
    ):
        nodes[row["id"]] = dict(row)
        children.setdefault(row["parent_id"], []).append(row["id"])
    return {"nodes": nodes, "children": children, "by_slug": {row["slug"]: row["id"] for row in nodes.values()}}


def category_index() -> dict[str, Any]:
    """``{"nodes": {id: row}, "children": {parent_id: [ids]}, "by_slug": {slug: id}}``, from one cached query."""
    return cached("category-index", _build_category_index, timeout=TREE_TTL)


def _build_tree() -> list[dict[str, Any]]:
    index = category_index()
    nodes, children = index["nodes"], index["children"]

    def build(node_id: int, seen: frozenset[int]) -> dict[str, Any]:
        node = nodes[node_id]
        kids = [build(kid, seen | {node_id}) for kid in children.get(node_id, []) if kid not in seen]
        return {"slug": node["slug"], "name": node["name"], "position": node["position"], "children": kids}

    return [build(root, frozenset()) for root in children.get(None, [])]


def category_tree() -> list[dict[str, Any]]:
    """The whole category tree as nested ``{"slug", "name", "position", "children"}`` nodes (cached)."""
    return cached("category-tree", _build_tree, timeout=TREE_TTL)


def category_descendant_ids(*, slug: str) -> list[int]:
    """The id of the category with ``slug`` and of all its descendants; 400 for an unknown slug."""
    index = category_index()
    root = index["by_slug"].get(slug)
    if root is None:
        raise InvalidInput(f"Unknown category {slug!r}.", fields={"category": [f"Unknown category {slug!r}."]})
    ids, stack = [], [root]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        ids.append(current)
        stack.extend(index["children"].get(current, []))
    return sorted(ids)


def category_exists(slug: str) -> bool:
    return slug in category_index()["by_slug"]


def _build_merchant_index() -> dict[str, Any]:
    rows = list(public_merchants().order_by("name", "id").values("id", "slug", "name"))
    return {"by_slug": {row["slug"]: row for row in rows}, "by_id": {row["id"]: row for row in rows}}


def merchant_index() -> dict[str, Any]:
    """Active merchants as ``{"by_slug": {slug: row}, "by_id": {id: row}}`` (cached)."""
    return cached("merchant-index", _build_merchant_index, timeout=MERCHANTS_TTL)


def public_merchant_exists(slug: str) -> bool:
    return slug in merchant_index()["by_slug"]


# --- Filtering, search, ordering ------------------------------------------------------------------------


def normalize_query(q: str) -> str:
    return " ".join((q or "").split())


def _build_search_vocabulary() -> spelling.Vocabulary:
    rows = public_products().values_list("title", "brand", "category__name")
    return spelling.Vocabulary.from_texts(text for row in rows.iterator() for text in row)


def search_vocabulary() -> spelling.Vocabulary:
    """The words of public product titles, brands and category names (one query, cached; see VOCABULARY_TTL)."""
    return cached("search-vocabulary", _build_search_vocabulary, timeout=VOCABULARY_TTL)


def _term_match(term: str) -> Q:
    return (
        Q(title__icontains=term)
        | Q(brand__icontains=term)
        | Q(category__name__icontains=term)
        | Q(description__icontains=term)
    )


def search_did_you_mean(*, q: str) -> str | None:
    """A corrected query to offer when a search for ``q`` found nothing, or None.

    Each word that no catalog word contains is replaced by its closest catalog word: pg_trgm ``similarity`` on
    PostgreSQL, rapidfuzz elsewhere (with a looser cut-off than the corrections already searched, and None when
    it would only repeat them). Costs a query only for a word worth correcting (two with a cold vocabulary).
    """
    terms = normalize_query(q).split()[:MAX_SEARCH_TERMS]
    if not terms or not spelling.unknown_terms(terms, vocabulary := search_vocabulary()):
        return None
    if is_postgres():
        fixes, searched = spelling.pg_corrections(terms, vocabulary), {}
    else:
        fixes = spelling.corrections(terms, vocabulary, score_cutoff=spelling.SUGGEST_SCORE)
        searched = spelling.corrections(terms, vocabulary, score_cutoff=spelling.AUTO_CORRECT_SCORE)
    if not fixes or fixes.items() <= searched.items():
        return None
    return spelling.corrected_query(terms, fixes)


def _text_search(queryset: QuerySet[Product], q: str, *, rank: bool) -> QuerySet[Product]:
    if is_postgres():
        query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
        queryset = queryset.annotate(similarity=TrigramWordSimilarity(q, "title")).filter(
            Q(search_vector=query) | Q(similarity__gte=TRIGRAM_THRESHOLD)
        )
        if rank:
            queryset = queryset.annotate(rank=SearchRank(F("search_vector"), query))
        return queryset
    terms = q.split()[:MAX_SEARCH_TERMS]
    # A word that no title, brand or category name contains may be a typo: it matches through its closest
    # catalog word too. The word itself still counts, so a word found only in descriptions keeps its results.
    fixes = spelling.corrections(terms, search_vocabulary(), score_cutoff=spelling.AUTO_CORRECT_SCORE)
    for term in terms:
        match = _term_match(term)
        if term.casefold() in fixes:
            match |= _term_match(fixes[term.casefold()])
        queryset = queryset.filter(match)
    if rank:
        phrases = [q, spelling.corrected_query(terms, fixes)] if fixes else [q]
        in_title, in_brand_or_category = Q(), Q()
        for phrase in phrases:
            in_title |= Q(title__icontains=phrase)
            in_brand_or_category |= Q(brand__icontains=phrase) | Q(category__name__icontains=phrase)
        queryset = queryset.annotate(
            rank=Case(
                When(in_title, then=Value(3)),
                When(in_brand_or_category, then=Value(2)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
    return queryset


def _apply_filters(
    queryset: QuerySet[Product], filters: ProductFilters, *, skip: frozenset[str] = frozenset()
) -> QuerySet[Product]:
    """All non-text filters except those named in ``skip`` (facets leave out their own)."""
    if filters.category and "category" not in skip:
        queryset = queryset.filter(category_id__in=category_descendant_ids(slug=filters.category))
    if filters.merchant and "merchant" not in skip:
        merchant = merchant_index()["by_slug"].get(filters.merchant)
        if merchant is None:
            raise InvalidInput(
                f"Unknown merchant {filters.merchant!r}.",
                fields={"merchant": [f"Unknown merchant {filters.merchant!r}."]},
            )
        queryset = queryset.filter(merchant_id=merchant["id"])
    if filters.brand and "brand" not in skip:
        queryset = queryset.filter(brand__iexact=filters.brand)
    if "price" not in skip:
        if filters.min_price is not None:
            queryset = queryset.filter(min_price__gte=filters.min_price)
        if filters.max_price is not None:
            queryset = queryset.filter(min_price__lte=filters.max_price)
    if filters.in_stock is not None and "in_stock" not in skip:
        queryset = queryset.filter(in_stock=filters.in_stock)
    return queryset


def _ordered(queryset: QuerySet[Product], ordering: str, *, has_query: bool) -> QuerySet[Product]:
    if ordering == ORDER_PRICE:
        return queryset.order_by(F("min_price").asc(nulls_last=True), "-created_at", "-id")
    if ordering == ORDER_PRICE_DESC:
        return queryset.order_by(F("min_price").desc(nulls_last=True), "-created_at", "-id")
    if ordering == ORDER_POPULAR:
        return queryset.order_by("-popularity", "-created_at", "-id")
    if ordering == ORDER_RELEVANCE and has_query:
        # F() for the annotations: the type checker only knows the model's own fields by name.
        if is_postgres():
            return queryset.order_by(F("rank").desc(), F("similarity").desc(), "-popularity", "-id")
        return queryset.order_by(F("rank").desc(), "-popularity", "-id")
    return queryset.order_by("-created_at", "-id")


def product_list(*, filters: ProductFilters) -> QuerySet[Product]:
    """Public products matching ``filters``, ordered, with merchant, category and images loaded.

    A page costs one query plus one for the images, whatever its size (the paginator adds its count).
    """
    queryset = public_products()
    ordering = filters.effective_ordering
    q = normalize_query(filters.q)
    if q:
        queryset = _text_search(queryset, q, rank=ordering == ORDER_RELEVANCE)
    queryset = _apply_filters(queryset, filters)
    queryset = queryset.select_related("merchant", "category").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
    )
    return _ordered(queryset, ordering, has_query=bool(q))


def product_detail(*, slug: str) -> Product:
    """One public product with its merchant, category, variants and images (three queries); else 404."""
    product = (
        public_products()
        .select_related("merchant", "category")
        .prefetch_related(
            Prefetch("variants", queryset=ProductVariant.objects.order_by("id")),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")),
        )
        .filter(slug=slug)
        .first()
    )
    if product is None:
        raise NotFoundError("No such product.")
    return product


# --- Facets ---------------------------------------------------------------------------------------------


def _facet_branch(queryset: QuerySet[Product], name: str, key: Any) -> QuerySet[Any, Any]:
    return (
        queryset.order_by()
        .annotate(facet=Value(name, output_field=TextField()), key=key)
        .values("facet", "key")
        .annotate(n=Count("pk"))
    )


def _price_band_case() -> Case:
    whens = [
        When(min_price__lt=high, then=Value(price_band_key(low, high))) for low, high in PRICE_BANDS if high is not None
    ]
    low, high = PRICE_BANDS[-1]
    return Case(*whens, default=Value(price_band_key(low, high)), output_field=TextField())


def product_search_facets(*, filters: ProductFilters) -> dict[str, Any]:
    """Counts per category, merchant, brand, price band and stock for a search, in one SQL statement.

    Each facet applies the query and every other active filter but not its own, so choosing a brand still
    shows the counts of the other brands. Category counts include the products of descendant categories.
    Returns ``{"total": n, "facets": {...}}``; ``total`` applies all filters (the result count).
    """
    base = public_products()
    q = normalize_query(filters.q)
    if q:
        base = _text_search(base, q, rank=False)
    to_text = TextField()
    branches = [
        _facet_branch(_apply_filters(base, filters), "total", Value("", output_field=to_text)),
        _facet_branch(
            _apply_filters(base, filters, skip=frozenset({"category"})), "category", Cast("category_id", to_text)
        ),
        _facet_branch(
            _apply_filters(base, filters, skip=frozenset({"merchant"})), "merchant", Cast("merchant_id", to_text)
        ),
        _facet_branch(_apply_filters(base, filters, skip=frozenset({"brand"})).exclude(brand=""), "brand", F("brand")),
        _facet_branch(
            _apply_filters(base, filters, skip=frozenset({"price"})).filter(min_price__isnull=False),
            "price",
            _price_band_case(),
        ),
        _facet_branch(
            _apply_filters(base, filters, skip=frozenset({"in_stock"})),
            "in_stock",
            Case(When(in_stock=True, then=Value("true")), default=Value("false"), output_field=to_text),
        ),
    ]
    rows = list(branches[0].union(*branches[1:], all=True))
    return _shape_facets(rows)


def _shape_facets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["facet"], {})[row["key"]] = row["n"]
    total = sum(counts.get("total", {}).values())

    index = category_index()
    nodes = index["nodes"]
    rolled: dict[int, int] = {}
    for key, n in counts.get("category", {}).items():
        current: int | None = int(key)
        seen: set[int] = set()
        while current is not None and current in nodes and current not in seen:
            seen.add(current)
            rolled[current] = rolled.get(current, 0) + n
            current = nodes[current]["parent_id"]
    categories = [
        {
            "slug": nodes[cid]["slug"],
            "name": nodes[cid]["name"],
            "parent": nodes[nodes[cid]["parent_id"]]["slug"] if nodes[cid]["parent_id"] in nodes else None,
            "count": n,
        }
        for cid, n in rolled.items()
    ]
    categories.sort(key=lambda c: (-c["count"], c["name"], c["slug"]))

    by_id = merchant_index()["by_id"]
    merchants = [
        {"slug": by_id[int(key)]["slug"], "name": by_id[int(key)]["name"], "count": n}
        for key, n in counts.get("merchant", {}).items()
        if int(key) in by_id
    ]
    merchants.sort(key=lambda m: (-m["count"], m["name"], m["slug"]))

    brands: list[dict[str, Any]] = [{"value": key, "count": n} for key, n in counts.get("brand", {}).items()]
    brands.sort(key=lambda b: (-b["count"], b["value"].casefold()))

    price_counts = counts.get("price", {})
    prices = []
    for low, high in PRICE_BANDS:
        key = price_band_key(low, high)
        prices.append(
            {
                "key": key,
                "min": f"{low:.2f}",
                "max": f"{high:.2f}" if high is not None else None,
                "count": price_counts.get(key, 0),
            }
        )
    stock = counts.get("in_stock", {})
    return {
        "total": total,
        "facets": {
            "category": categories,
            "merchant": merchants,
            "brand": brands,
            "price": prices,
            "in_stock": {"true": stock.get("true", 0), "false": stock.get("false", 0)},
        },
    }


# --- Autocomplete ---------------------------------------------------------------------------------------


def _name_matches(items: list[dict[str, Any]], needle: str, limit: int) -> list[dict[str, Any]]:
    needle = needle.casefold()
    hits = [item for item in items if needle in item["name"].casefold()]
    hits.sort(key=lambda item: (not item["name"].casefold().startswith(needle), item["name"].casefold()))
    return [{"slug": item["slug"], "name": item["name"]} for item in hits[:limit]]


def autocomplete(*, q: str, limit: int = 5) -> dict[str, list[dict[str, Any]]]:
    """A few products (by title; typo tolerant on PostgreSQL), categories and merchants for a search box.

    One query for the products; categories and merchants come from the cached indexes.
    """
    q = normalize_query(q)
    products = public_products()
    if is_postgres():
        products = (
            products.filter(Q(title__icontains=q) | Q(title__trigram_word_similar=q))
            .annotate(similarity=TrigramWordSimilarity(q, "title"))
            .order_by("-similarity", "-popularity", "id")
        )
    else:
        products = products.filter(title__icontains=q).order_by(
            Case(When(title__istartswith=q, then=Value(0)), default=Value(1)), "-popularity", "id"
        )
    return {
        "products": [dict(row) for row in products.values("slug", "title")[:limit]],
        "categories": _name_matches(list(category_index()["nodes"].values()), q, limit),
        "merchants": _name_matches(list(merchant_index()["by_slug"].values()), q, limit),
    }
