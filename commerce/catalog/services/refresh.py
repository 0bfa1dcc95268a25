"""Derived catalog data: the denormalised product columns, the search vector and the cache.

Services that write products, variants or stock do not refresh anything themselves row by row: they *touch* the
products they changed (:func:`touch_products`), and the touched products are refreshed once, together, when the
surrounding :func:`denormalization_batch` ends (or at once when there is none). One refresh then costs a fixed
number of queries however many products and variants a transaction changed.

A refresh computes ``min_price``, ``currency`` and ``in_stock`` first, compares them with the stored values and
writes only the rows that differ. A stock change that cannot alter ``in_stock`` (a variant that keeps some
available units) does not ask for a recompute at all: it only drops the cached detail, so it never reads with a
lock, nor writes, the product row. That keeps a flash sale on one product from serialising every checkout on
the product row.

Why a recompute locks the product rows first (``SELECT ... FOR UPDATE``, then a fresh ``SELECT``): two
transactions that each sell out the last available variant of the same product would otherwise both compute
"still in stock" (neither sees the other's uncommitted allocation) and both skip the write. Taking the product
lock before computing serialises exactly those transactions, and under READ COMMITTED the computing statement,
started after the lock was granted, sees what the previous holder committed. Only changes that can move a
denormalised value take that lock: a variant's availability crossing zero, a price, currency or product change,
a new or deleted variant.

Cache invalidation happens here too: immediately, and again when the transaction commits, so a reader that
rebuilt a cache entry from pre-commit data cannot leave it stale.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import SearchVector
from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Subquery, TextField, Value, When
from django.db.models.functions import Coalesce

from ..cache import catalog_cache_bump, product_cache_invalidate
from ..models import Category, Product, ProductVariant

# The text search configuration of the stored vector and of the queries (selectors.SEARCH_CONFIG).
SEARCH_CONFIG = "english"


def now_and_on_commit(action: Callable[[], None]) -> None:
    """Run a cache invalidation now and again after the commit (see the module docstring)."""
    action()
    transaction.on_commit(action)


@dataclass
class _Pending:
    """Products touched inside one batch: which need a recompute (and lock), which a new search vector."""

    touched: set[int] = field(default_factory=set)
    recompute: set[int] = field(default_factory=set)
    vectors: set[int] = field(default_factory=set)


_pending: ContextVar[_Pending | None] = ContextVar("catalog_pending_refresh", default=None)


@contextmanager
def denormalization_batch() -> Iterator[None]:
    """A transaction in which catalog services collect the products they touch; all of them are refreshed once,
    inside the transaction, when the block ends. Nested blocks join the outermost one.

    Use it around several service calls that belong together (an admin form with inline variants, a checkout
    that allocates several lines, a data import)::

        with services.denormalization_batch():
            services.variant_save(variant=a)
            services.variant_stock_allocate(variant_id=b.pk, quantity=2)
    """
    if _pending.get() is not None:
        with transaction.atomic():  # a savepoint, so a caller may catch an error of the inner block
            yield
        return
    pending = _Pending()
    with transaction.atomic():
        token = _pending.set(pending)
        try:
            yield
        finally:
            _pending.reset(token)
        _flush(pending)


def touch_products(product_ids: Iterable[int | None], *, recompute: bool = False, search_vector: bool = False) -> None:
    """Record that these products changed: their cached detail goes; with ``recompute`` their denormalised
    columns are recomputed under a lock (only when a value may have changed); with ``search_vector`` their
    vector is rebuilt. Deferred to the end of the current :func:`denormalization_batch`, or done now."""
    ids = {product_id for product_id in product_ids if product_id is not None}
    if not ids:
        return
    pending = _pending.get()
    if pending is None:
        with denormalization_batch():
            touch_products(ids, recompute=recompute, search_vector=search_vector)
        return
    pending.touched |= ids
    if recompute:
        pending.recompute |= ids
    if search_vector:
        pending.vectors |= ids


def _flush(pending: _Pending) -> int:
    """Refresh the touched products; returns the number of product rows whose denormalised columns changed."""
    if not pending.touched:
        return 0
    recompute = sorted(pending.recompute)
    if recompute and connection.features.has_select_for_update:
        # Lock first, compute in a later statement: see the module docstring.
        list(Product.objects.select_for_update().filter(pk__in=recompute).order_by("pk").values_list("pk"))
    products = Product.objects.filter(pk__in=sorted(pending.touched))
    rows: list[dict[str, Any]]
    if recompute:
        computed = _computed_columns()
        annotated = products.annotate(
            new_min=computed["min_price"], new_currency=computed["currency"], new_stock=computed["in_stock"]
        ).values(
            "pk", "slug", "category_id", "min_price", "currency", "in_stock", "new_min", "new_currency", "new_stock"
        )
        rows = [dict(row) for row in annotated]
    else:  # only cached details to drop: no aggregate over the variants
        rows = [dict(row) for row in products.values("pk", "slug", "category_id")]
    changed = [row["pk"] for row in rows if row["pk"] in pending.recompute and _differs(row)]
    if changed:
        Product.objects.filter(pk__in=changed).update(**_computed_columns())
    if pending.vectors and connection.vendor == "postgresql":
        _update_search_vectors([(row["pk"], row["category_id"]) for row in rows if row["pk"] in pending.vectors])
    slugs = [row["slug"] for row in rows]
    now_and_on_commit(lambda: product_cache_invalidate(slugs=slugs))
    return len(changed)


def _differs(row: dict[str, Any]) -> bool:
    stored = (row["min_price"], row["currency"], row["in_stock"])
    return stored != (row["new_min"], row["new_currency"], row["new_stock"])


def _computed_columns() -> dict[str, Any]:
    """The values the denormalised columns should hold, as expressions over the product's variants.

    ``min_price`` is the lowest price over all variants (``NULL`` without variants) and ``currency`` that
    variant's currency (unchanged without variants); ``in_stock`` is true when some variant has stock on hand
    that is not allocated.
    """
    variants = ProductVariant.objects.filter(product=OuterRef("pk"))
    cheapest = variants.order_by("price", "id")
    return {
        "min_price": Subquery(cheapest.values("price")[:1]),
        "currency": Coalesce(Subquery(cheapest.values("currency")[:1]), F("currency")),
        "in_stock": Exists(variants.filter(stock_on_hand__gt=F("stock_allocated"))),
    }


def products_refresh_denormalized(*, product_ids: Iterable[int], include_search_vector: bool = True) -> int:
    """Recompute ``min_price``, ``currency``, ``in_stock`` (and the search vector) of these products now.

    For code that wrote variants or products without the services (``bulk_create`` in data imports, the demo
    data). Locks the product rows, computes, and writes only the rows whose values differ; drops their cached
    details. Costs a fixed number of queries whatever the number of products. Returns the number of product
    rows whose denormalised columns changed.
    """
    ids = {product_id for product_id in product_ids if product_id is not None}
    if not ids:
        return 0
    pending = _Pending(touched=set(ids), recompute=set(ids), vectors=set(ids) if include_search_vector else set())
    with transaction.atomic():
        return _flush(pending)


def product_refresh_denormalized(*, product: Product, include_search_vector: bool = True) -> Product:
    """Recompute the denormalised columns of one product and load them onto ``product``."""
    products_refresh_denormalized(product_ids=[product.pk], include_search_vector=include_search_vector)
    fresh = Product.objects.filter(pk=product.pk).values("min_price", "currency", "in_stock").first()
    if fresh:
        for name, value in fresh.items():
            setattr(product, name, value)
    return product


def products_invalidate_cache(*, product_ids: Iterable[int]) -> None:
    """Drop cached detail payloads; for code that changed products, variants or images with ``update()``."""
    slugs = list(Product.objects.filter(pk__in=list(product_ids)).values_list("slug", flat=True))
    now_and_on_commit(lambda: product_cache_invalidate(slugs=slugs))


def catalog_invalidate_all() -> None:
    """Drop every cached catalog structure (category tree, merchants, product details)."""
    now_and_on_commit(catalog_cache_bump)


def _category_paths(category_ids: Iterable[int]) -> dict[int, str]:
    """``{category_id: "Electronics Audio Headphones"}``: the names from the root down, for the search vector."""
    rows = {row["id"]: row for row in Category.objects.values("id", "parent_id", "name")}
    paths: dict[int, str] = {}
    for category_id in set(category_ids):
        names: list[str] = []
        seen: set[int] = set()
        current = rows.get(category_id)
        while current is not None and current["id"] not in seen:
            seen.add(current["id"])
            names.append(current["name"])
            current = rows.get(current["parent_id"])
        paths[category_id] = " ".join(reversed(names))
    return paths


def products_refresh_search_vectors(
    *, product_ids: Iterable[int] | None = None, category_ids: Iterable[int] | None = None
) -> int:
    """Recompute the weighted search vector (title A, brand and category names B, description C).

    PostgreSQL only; a no-op elsewhere (the SQLite search does not use the column). Pass ``product_ids``, or
    ``category_ids`` to refresh every product in those categories. Three queries whatever the number of
    products: the products' categories, all category names, one UPDATE (category paths come from a CASE).
    """
    if connection.vendor != "postgresql":
        return 0
    products = Product.objects.all()
    if product_ids is not None:
        products = products.filter(pk__in=list(product_ids))
    if category_ids is not None:
        products = products.filter(category_id__in=list(category_ids))
    return _update_search_vectors(list(products.values_list("id", "category_id")))


def _update_search_vectors(rows: list[tuple[int, int]]) -> int:
    """``rows`` are ``(product_id, category_id)``; two queries: the category names, one UPDATE."""
    if not rows:
        return 0
    paths = _category_paths(category_id for _, category_id in rows)
    category_names = Case(
        *[When(category_id=category_id, then=Value(path)) for category_id, path in paths.items()],
        default=Value(""),
        output_field=TextField(),
    )
    vector = (
        SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("brand", category_names, weight="B", config=SEARCH_CONFIG)
        + SearchVector("description", weight="C", config=SEARCH_CONFIG)
    )
    return Product.objects.filter(pk__in=[product_id for product_id, _ in rows]).update(search_vector=vector)


def category_refresh_search_vectors(*, category: Category) -> int:
    """After a category is renamed or moved: refresh the vectors of the products in it and below it."""
    if connection.vendor != "postgresql":
        return 0
    children: dict[int | None, list[int]] = defaultdict(list)
    for category_id, parent_id in Category.objects.values_list("id", "parent_id"):
        children[parent_id].append(category_id)
    subtree, stack = set(), [category.pk]
    while stack:
        current = stack.pop()
        if current not in subtree:
            subtree.add(current)
            stack.extend(children[current])
    return products_refresh_search_vectors(category_ids=subtree)
