"""Co-purchase counts behind "frequently bought together": how many paid orders held both products of a pair.

:func:`co_purchases_recount` recomputes every :class:`~commerce.orders.models.CoPurchase` row from the orders in
bulk. The periodic task ``commerce.orders.tasks.recount_co_purchases`` runs it hourly (``CELERY_BEAT_SCHEDULE``);
no request ever counts anything (the read side, :mod:`commerce.orders.recommendations`, only reads the rows).

Decisions where the issue is silent:

* **What counts**: orders in status ``paid``, ``fulfilled`` or ``delivered`` whose payment was not refunded in
  full. A shopper who sent everything back did not buy the products together; a partial refund (one item
  returned) still leaves a real purchase. Cancelled orders (even cancelled after payment) and expired ones
  never count.
* **Window**: orders placed in the last ``ORDER_CO_PURCHASE_WINDOW_DAYS`` days (setting,
  default 365), so the counts follow what shoppers buy now and the recount
  does not grow with the whole history. A pair whose last order leaves the window disappears.
* **Once per order**: an order counts once for a pair however many lines (variants, quantities) of each
  product it holds. Two variants of one product are not a pair.
* **Non-public products keep their rows**: a pair is about what was sold; the read side hides products that are
  not public or not in stock, so a product back on sale gets its history back. Deleted products cascade.

How: one aggregate statement (order lines joined to the other lines of their order on ``product < other
product``, grouped by the pair, ``COUNT(DISTINCT order)``). The GROUP BY runs in the database on PostgreSQL and
SQLite alike, so both take the same, correct path. The existing rows are read once; only new or changed counts
are written (``bulk_create(update_conflicts=True)``, an upsert on the pair) and pairs that no longer occur are
deleted, in batches. A second run over the same orders writes nothing. On PostgreSQL a transaction-level advisory
lock keeps two runs (a slow one and the next beat) from interleaving: the second returns at once as skipped,
since the first is computing the same thing; SQLite serialises writers by itself. When anything changed, the
cached rankings and the catalog's listing generation are invalidated (now and on commit) so recommendations show
the new counts at once.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from commerce.catalog.cache import listing_cache_bump
from commerce.orders.models import CoPurchase, OrderLine, OrderStatus, PaymentStatus
from commerce.orders.recommendations import rankings_invalidate

logger = logging.getLogger(__name__)

COUNTED_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.DELIVERED)
BATCH_SIZE = 1000
# pg_try_advisory_xact_lock key of the recount ("co-purchase" in ASCII, folded into a signed 64-bit integer).
ADVISORY_LOCK_KEY = int.from_bytes(b"copurch", "big")

Pair = tuple[int, int]


@dataclass(frozen=True)
class CoPurchaseRecount:
    """What a recount did: ``pairs`` now stored, and how many rows it ``created``, ``updated`` and ``deleted``.
    ``skipped`` is true when another recount held the lock (nothing was done)."""

    pairs: int
    created: int
    updated: int
    deleted: int
    skipped: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


def co_purchase_window_days() -> int:
    return int(settings.ORDER_CO_PURCHASE_WINDOW_DAYS)


def co_purchase_counts(*, since: datetime) -> dict[Pair, int]:
    """``{(product_low_id, product_high_id): orders}`` over the counted orders placed since ``since`` (one query)."""
    rows = (
        OrderLine.objects.filter(
            order__status__in=COUNTED_STATUSES,
            order__placed_at__gte=since,
            # The same join is reused by values() below: the other line of the same order, of a higher product.
            order__lines__product_id__gt=F("product_id"),
        )
        .exclude(order__payment_status=PaymentStatus.REFUNDED)
        .values_list("product_id", "order__lines__product_id")
        .annotate(orders=Count("order_id", distinct=True))
        .order_by()
    )
    return {(low, high): orders for low, high, orders in rows.iterator(chunk_size=BATCH_SIZE)}


def _try_lock() -> bool:
    """Take the recount's advisory lock for this transaction on PostgreSQL; False if another run holds it."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        row = cursor.fetchone()
    return bool(row and row[0])


def _invalidate_recommendations() -> None:
    """Cached rankings and cached responses both hold the old counts."""
    rankings_invalidate()
    listing_cache_bump()


def co_purchases_recount(*, now: datetime | None = None) -> CoPurchaseRecount:
    """Bring every :class:`CoPurchase` row in line with the counted orders (see the module docstring).

    Idempotent: running it again without new orders changes nothing. ``now`` (default: the current time) sets the
    end of the window.
    """
    since = (now or timezone.now()) - timedelta(days=co_purchase_window_days())
    with transaction.atomic():
        if not _try_lock():
            logger.info("Co-purchase recount skipped: another recount is running.")
            return CoPurchaseRecount(pairs=0, created=0, updated=0, deleted=0, skipped=True)
        counts = co_purchase_counts(since=since)
        existing: dict[Pair, tuple[int, int]] = {
            (low, high): (pk, orders)
            for pk, low, high, orders in CoPurchase.objects.values_list(
                "pk", "product_low_id", "product_high_id", "orders"
            ).iterator(chunk_size=BATCH_SIZE)
        }
        created = [pair for pair in counts if pair not in existing]
        updated = [pair for pair, orders in counts.items() if pair in existing and existing[pair][1] != orders]
        vanished = sorted(pk for pair, (pk, _) in existing.items() if pair not in counts)
        changes = sorted(created + updated)
        if changes:
            CoPurchase.objects.bulk_create(
                [
                    CoPurchase(product_low_id=low, product_high_id=high, orders=counts[low, high])
                    for low, high in changes
                ],
                batch_size=BATCH_SIZE,
                update_conflicts=True,
                unique_fields=["product_low", "product_high"],
                update_fields=["orders", "updated_at"],
            )
        for start in range(0, len(vanished), BATCH_SIZE):
            CoPurchase.objects.filter(pk__in=vanished[start : start + BATCH_SIZE]).delete()
        result = CoPurchaseRecount(pairs=len(counts), created=len(created), updated=len(updated), deleted=len(vanished))
        if result.changed:
            # Now and again on commit, as the catalog does: a reader that rebuilt an entry from the old counts in
            # between cannot leave it cached.
            _invalidate_recommendations()
            transaction.on_commit(_invalidate_recommendations)
    logger.info(
        "Co-purchase recount: %d pairs, %d created, %d updated, %d deleted.",
        result.pairs,
        result.created,
        result.updated,
        result.deleted,
    )
    return result
