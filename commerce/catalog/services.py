"""Every write to the catalog: status changes, denormalised product columns, stock, popularity, saved searches.

Cache invalidation happens here (and in ``signals.py`` for plain model saves): immediately, and again when the
transaction commits, so a reader that rebuilt a cache entry from pre-commit data cannot leave it stale.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.postgres.search import SearchVector
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Subquery, TextField, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from commerce.core.errors import Conflict, InvalidInput, NotFoundError

from .cache import catalog_cache_bump, product_cache_invalidate
from .models import (
    MERCHANT_TRANSITIONS,
    PRODUCT_TRANSITIONS,
    Category,
    Merchant,
    MerchantStatus,
    Product,
    ProductStatus,
    ProductVariant,
    SavedSearch,
)

logger = logging.getLogger(__name__)

# The text search configuration of the stored vector and of the queries (selectors.SEARCH_CONFIG).
SEARCH_CONFIG = "english"
MAX_SAVED_SEARCHES_PER_USER = 50


def _now_and_on_commit(action: Callable[[], None]) -> None:
    action()
    transaction.on_commit(action)


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


def products_refresh_denormalized(*, product_ids: Iterable[int], include_search_vector: bool = True) -> int:
    """Recompute ``min_price``, ``currency``, ``in_stock`` (and the search vector) of these products.

    ``min_price`` is the lowest price over all variants (``NULL`` without variants) and ``currency`` that
    variant's currency; ``in_stock`` is true when some variant has stock on hand that is not allocated.
    Costs a fixed number of queries whatever the number of products: two, four with the vector on PostgreSQL.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return 0
    variants = ProductVariant.objects.filter(product=OuterRef("pk"))
    cheapest = variants.order_by("price", "id")
    with transaction.atomic():
        updated = Product.objects.filter(pk__in=ids).update(
            min_price=Subquery(cheapest.values("price")[:1]),
            currency=Coalesce(Subquery(cheapest.values("currency")[:1]), F("currency")),
            in_stock=Exists(variants.filter(stock_on_hand__gt=F("stock_allocated"))),
        )
        rows = list(Product.objects.filter(pk__in=ids).values_list("id", "category_id", "slug"))
        if include_search_vector and connection.vendor == "postgresql":
            _update_search_vectors([(product_id, category_id) for product_id, category_id, _ in rows])
        slugs = [slug for _, _, slug in rows]
        _now_and_on_commit(lambda: product_cache_invalidate(slugs=slugs))
    return updated


def product_refresh_denormalized(*, product: Product, include_search_vector: bool = True) -> Product:
    """Recompute the denormalised columns of one product and load them onto ``product``."""
    products_refresh_denormalized(product_ids=[product.pk], include_search_vector=include_search_vector)
    fresh = Product.objects.filter(pk=product.pk).values("min_price", "currency", "in_stock").first()
    if fresh:
        for name, value in fresh.items():
            setattr(product, name, value)
    old_slug = getattr(product, "_loaded_slug", None)
    if old_slug and old_slug != product.slug:
        _now_and_on_commit(lambda: product_cache_invalidate(slugs=[old_slug]))
    product._loaded_slug = product.slug
    return product


def products_invalidate_cache(*, product_ids: Iterable[int]) -> None:
    """Drop cached detail payloads; for code that changed products, variants or images with ``update()``."""
    slugs = list(Product.objects.filter(pk__in=list(product_ids)).values_list("slug", flat=True))
    _now_and_on_commit(lambda: product_cache_invalidate(slugs=slugs))


def catalog_invalidate_all() -> None:
    """Drop every cached catalog structure (category tree, merchants, product details)."""
    _now_and_on_commit(catalog_cache_bump)


def product_set_status(*, product: Product, status: str) -> Product:
    """Move one product to ``status`` along ``PRODUCT_TRANSITIONS``; 409 ``invalid_transition`` otherwise."""
    status = ProductStatus(status)
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if status not in PRODUCT_TRANSITIONS[locked.status]:
            raise Conflict(
                f"A {locked.get_status_display().lower()} product cannot become {status.label.lower()}.",
                code="invalid_transition",
            )
        Product.objects.filter(pk=locked.pk).update(status=status, updated_at=timezone.now())
        _now_and_on_commit(lambda: product_cache_invalidate(slugs=[locked.slug]))
    logger.info("product %s status %s -> %s", locked.pk, locked.status, status)
    product.status = status
    return product


def products_set_status(*, product_ids: Iterable[int], status: str) -> int:
    """Bulk status change (admin actions): moves every product for which the transition is allowed.

    Products already in ``status`` are left alone. Returns the number of products changed.
    """
    status = ProductStatus(status)
    allowed_from = [source for source, targets in PRODUCT_TRANSITIONS.items() if status in targets]
    with transaction.atomic():
        rows = list(
            Product.objects.select_for_update()
            .filter(pk__in=list(product_ids), status__in=allowed_from)
            .values_list("pk", "slug")
        )
        changed = Product.objects.filter(pk__in=[pk for pk, _ in rows]).update(status=status, updated_at=timezone.now())
        slugs = [slug for _, slug in rows]
        _now_and_on_commit(lambda: product_cache_invalidate(slugs=slugs))
    logger.info("%s products moved to %s", changed, status)
    return changed


def merchant_set_status(*, merchant: Merchant, status: str) -> Merchant:
    """Activate or suspend a merchant. Suspension hides all its products from the public API at once."""
    status = MerchantStatus(status)
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if status not in MERCHANT_TRANSITIONS[locked.status]:
            raise Conflict(f"The merchant is already {locked.get_status_display().lower()}.", code="invalid_transition")
        Merchant.objects.filter(pk=locked.pk).update(status=status, updated_at=timezone.now())
        _now_and_on_commit(catalog_cache_bump)
    logger.info("merchant %s status %s -> %s", locked.pk, locked.status, status)
    merchant.status = status
    return merchant


def product_add_popularity(*, product_id: int, amount: int = 1) -> None:
    """Raise a product's popularity score (units sold, offer clicks); drives the ``popular`` ordering.

    An atomic ``UPDATE ... SET popularity = popularity + n``: safe under concurrency, no lock held.
    """
    if amount < 1:
        raise InvalidInput("Popularity only goes up.", fields={"amount": ["Must be a positive whole number."]})
    Product.objects.filter(pk=product_id).update(popularity=F("popularity") + amount)


def _change_stock(*, variant_id: int, quantity: int, apply: Callable[[ProductVariant], None]) -> ProductVariant:
    if quantity < 1:
        raise InvalidInput("Quantity must be positive.", fields={"quantity": ["Must be a positive whole number."]})
    with transaction.atomic():
        try:
            variant = ProductVariant.objects.select_for_update().get(pk=variant_id)
        except ProductVariant.DoesNotExist:
            raise NotFoundError("No such product variant.") from None
        apply(variant)
        # A plain save: the post_save handler refreshes the product's in_stock and drops its cached detail.
        variant.save(update_fields=["stock_on_hand", "stock_allocated", "updated_at"])
    return variant


def variant_stock_allocate(*, variant_id: int, quantity: int) -> ProductVariant:
    """Reserve ``quantity`` units (an order is placed); 409 ``insufficient_stock`` if fewer are available."""

    def apply(variant: ProductVariant) -> None:
        if quantity > variant.stock_available:
            raise Conflict(f"Only {variant.stock_available} left of SKU {variant.sku}.", code="insufficient_stock")
        variant.stock_allocated += quantity

    return _change_stock(variant_id=variant_id, quantity=quantity, apply=apply)


def variant_stock_release(*, variant_id: int, quantity: int) -> ProductVariant:
    """Return ``quantity`` reserved units to the available stock (an order is cancelled)."""

    def apply(variant: ProductVariant) -> None:
        if quantity > variant.stock_allocated:
            raise Conflict(f"Only {variant.stock_allocated} units of SKU {variant.sku} are allocated.")
        variant.stock_allocated -= quantity

    return _change_stock(variant_id=variant_id, quantity=quantity, apply=apply)


def variant_stock_fulfil(*, variant_id: int, quantity: int) -> ProductVariant:
    """Ship ``quantity`` reserved units: they leave both the allocation and the stock on hand."""

    def apply(variant: ProductVariant) -> None:
        if quantity > variant.stock_allocated:
            raise Conflict(f"Only {variant.stock_allocated} units of SKU {variant.sku} are allocated.")
        variant.stock_allocated -= quantity
        variant.stock_on_hand -= quantity

    return _change_stock(variant_id=variant_id, quantity=quantity, apply=apply)


def saved_search_create(*, user: Any, name: str, params: dict[str, Any]) -> SavedSearch:
    """Save a named search (already validated ``GET search`` parameters) for ``user``.

    409 ``duplicate_name`` if the user already has a search of that name, ``saved_search_limit`` past
    :data:`MAX_SAVED_SEARCHES_PER_USER`.
    """
    name = name.strip()
    if not name:
        raise InvalidInput("A name is required.", fields={"name": ["This field may not be blank."]})
    with transaction.atomic():
        if SavedSearch.objects.filter(user=user).count() >= MAX_SAVED_SEARCHES_PER_USER:
            raise Conflict(
                f"You can keep at most {MAX_SAVED_SEARCHES_PER_USER} saved searches.", code="saved_search_limit"
            )
        if SavedSearch.objects.filter(user=user, name=name).exists():
            raise Conflict(f"You already have a saved search named {name!r}.", code="duplicate_name")
        try:
            with transaction.atomic():
                return SavedSearch.objects.create(user=user, name=name, params=params)
        except IntegrityError:  # a concurrent request saved the same name
            raise Conflict(f"You already have a saved search named {name!r}.", code="duplicate_name") from None


def saved_search_delete(*, user: Any, saved_search_id: int) -> None:
    """Delete one of the user's saved searches; another user's (or a missing) one is a 404."""
    deleted, _ = SavedSearch.objects.filter(user=user, pk=saved_search_id).delete()
    if not deleted:
        raise NotFoundError("No such saved search.")
