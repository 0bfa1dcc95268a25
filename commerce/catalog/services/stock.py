"""Stock: the only code that writes ``stock_on_hand`` and ``stock_allocated``.

* allocation (an order is placed), release (cancelled) and fulfilment (shipped) move allocated units; they lock
  the variant rows (in id order, so two checkouts with the same SKUs cannot deadlock) and answer 409
  ``insufficient_stock`` when short;
* the stock on hand (a delivery, a recount, a write-off) changes through :func:`variant_stock_set_on_hand` or
  :func:`variant_stock_adjust`: never below what is allocated (409 ``stock_below_allocated``), and every change
  leaves a ``stock.adjusted`` audit row with the before and after figures and the reason.

Afterwards the touched products are refreshed (see ``refresh.py``); a change that leaves every touched variant
on the same side of zero available units cannot change ``in_stock`` and does not touch the product row.
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.utils import timezone

from accounts.services.audit import audit_record
from commerce.core.errors import Conflict, InvalidInput, NotFoundError

from ..models import ProductVariant
from .refresh import denormalization_batch, touch_products

logger = logging.getLogger(__name__)

STOCK_ADJUSTED = "stock.adjusted"
# PositiveIntegerField holds up to 2**31 - 1 on every supported database.
MAX_STOCK = 2_147_483_647
MAX_REASON_LENGTH = 200

_STOCK_FIELDS = ["stock_on_hand", "stock_allocated", "updated_at"]


def _whole_number(value: Any, *, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_STOCK:
        raise InvalidInput(f"{name} must be a whole number from {minimum}.", fields={name: [f"Must be >= {minimum}."]})
    return value


def _lock_variants(variant_ids: list[int]) -> dict[int, ProductVariant]:
    variants = {
        variant.pk: variant
        for variant in ProductVariant.objects.select_for_update().filter(pk__in=variant_ids).order_by("pk")
    }
    if len(variants) != len(set(variant_ids)):
        raise NotFoundError("No such product variant.")
    return variants


def _change_allocation(
    quantities: Mapping[int, int], apply: Callable[[ProductVariant, int], None]
) -> dict[int, ProductVariant]:
    """Lock the variants, ``apply`` each quantity, save, and touch the products (recompute only on a crossing)."""
    if not quantities:
        raise InvalidInput("Nothing to change.", fields={"quantity": ["At least one variant is required."]})
    for quantity in quantities.values():
        _whole_number(quantity, name="quantity", minimum=1)
    with denormalization_batch():
        variants = _lock_variants(sorted(quantities))
        crossed: set[int] = set()
        now = timezone.now()
        for variant_id in sorted(variants):
            variant = variants[variant_id]
            was_available = variant.stock_available > 0
            apply(variant, quantities[variant_id])
            variant.updated_at = now  # bulk_update does not run auto_now
            if (variant.stock_available > 0) != was_available:
                crossed.add(variant.product_id)
        # One UPDATE for all the variants, so a checkout's queries do not grow with its lines.
        ProductVariant.objects.bulk_update([variants[pk] for pk in sorted(variants)], _STOCK_FIELDS)
        touch_products({variant.product_id for variant in variants.values()} - crossed)
        touch_products(crossed, recompute=True)
    return variants


def _allocate(variant: ProductVariant, quantity: int) -> None:
    if quantity > variant.stock_available:
        raise Conflict(f"Only {variant.stock_available} left of SKU {variant.sku}.", code="insufficient_stock")
    variant.stock_allocated += quantity


def _release(variant: ProductVariant, quantity: int) -> None:
    if quantity > variant.stock_allocated:
        raise Conflict(f"Only {variant.stock_allocated} units of SKU {variant.sku} are allocated.")
    variant.stock_allocated -= quantity


def _fulfil(variant: ProductVariant, quantity: int) -> None:
    _release(variant, quantity)
    variant.stock_on_hand -= quantity


def variants_stock_allocate(*, quantities: Mapping[int, int]) -> dict[int, ProductVariant]:
    """Reserve units of several variants at once (``{variant_id: quantity}``, a checkout): all or nothing.

    409 ``insufficient_stock`` naming the first short SKU; 404 if a variant does not exist.
    """
    return _change_allocation(quantities, _allocate)


def variants_stock_release(*, quantities: Mapping[int, int]) -> dict[int, ProductVariant]:
    """Return reserved units of several variants to the available stock (an order is cancelled)."""
    return _change_allocation(quantities, _release)


def variants_stock_fulfil(*, quantities: Mapping[int, int]) -> dict[int, ProductVariant]:
    """Ship reserved units of several variants: they leave both the allocation and the stock on hand."""
    return _change_allocation(quantities, _fulfil)


def variant_stock_allocate(*, variant_id: int, quantity: int) -> ProductVariant:
    """Reserve ``quantity`` units (an order is placed); 409 ``insufficient_stock`` if fewer are available."""
    return variants_stock_allocate(quantities={variant_id: quantity})[variant_id]


def variant_stock_release(*, variant_id: int, quantity: int) -> ProductVariant:
    """Return ``quantity`` reserved units to the available stock (an order is cancelled)."""
    return variants_stock_release(quantities={variant_id: quantity})[variant_id]


def variant_stock_fulfil(*, variant_id: int, quantity: int) -> ProductVariant:
    """Ship ``quantity`` reserved units: they leave both the allocation and the stock on hand."""
    return variants_stock_fulfil(quantities={variant_id: quantity})[variant_id]


def _clean_reason(reason: Any) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > MAX_REASON_LENGTH:
        raise InvalidInput(
            "A reason is required for a stock change.",
            fields={"reason": [f"Give a reason of at most {MAX_REASON_LENGTH} characters."]},
        )
    return text


def _set_on_hand(variant: ProductVariant, *, on_hand: int, reason: str, actor: Any) -> ProductVariant:
    """Write the new stock on hand of a locked (or just created) variant and audit it."""
    if on_hand < variant.stock_allocated:
        raise Conflict(
            f"SKU {variant.sku} has {variant.stock_allocated} units allocated; "
            f"the stock on hand cannot go below that (asked for {on_hand}).",
            code="stock_below_allocated",
        )
    before = variant.stock_on_hand
    if on_hand == before:
        return variant
    was_available = variant.stock_available > 0
    variant.stock_on_hand = on_hand
    variant.save(update_fields=_STOCK_FIELDS)
    audit_record(
        action=STOCK_ADJUSTED,
        target=variant,
        before={"stock_on_hand": before, "stock_allocated": variant.stock_allocated},
        after={"stock_on_hand": on_hand, "stock_allocated": variant.stock_allocated, "reason": reason},
        actor=actor,
    )
    touch_products([variant.product_id], recompute=(variant.stock_available > 0) != was_available)
    logger.info("variant %s stock on hand %s -> %s (%s)", variant.pk, before, on_hand, reason)
    return variant


def _adjust_on_hand(
    *, variant_id: int, target: Callable[[ProductVariant], int], reason: Any, actor: Any
) -> ProductVariant:
    reason = _clean_reason(reason)
    with denormalization_batch():
        variant = _lock_variants([variant_id])[variant_id]
        on_hand = target(variant)
        if on_hand < 0 or on_hand > MAX_STOCK:
            raise InvalidInput(
                f"The stock on hand of SKU {variant.sku} would be {on_hand}.",
                fields={"on_hand": [f"Must be between 0 and {MAX_STOCK}."]},
            )
        return _set_on_hand(variant, on_hand=on_hand, reason=reason, actor=actor)


def variant_stock_set_on_hand(*, variant_id: int, on_hand: int, reason: str, actor: Any = None) -> ProductVariant:
    """Set the units on hand (a recount). 409 ``stock_below_allocated`` below the allocated units.

    ``actor`` defaults to the surrounding audit context (the admin and the API set it). Setting the current
    figure again changes nothing and records nothing.
    """
    on_hand = _whole_number(on_hand, name="on_hand", minimum=0)
    return _adjust_on_hand(variant_id=variant_id, target=lambda _: on_hand, reason=reason, actor=actor)


def variant_stock_adjust(*, variant_id: int, delta: int, reason: str, actor: Any = None) -> ProductVariant:
    """Add (a delivery) or remove (a write-off) units on hand; the same rules as :func:`variant_stock_set_on_hand`.

    The change is applied to the locked row, so two deliveries booked at once both count.
    """
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise InvalidInput("The change must be a non-zero whole number.", fields={"delta": ["Must not be zero."]})
    return _adjust_on_hand(
        variant_id=variant_id, target=lambda variant: variant.stock_on_hand + delta, reason=reason, actor=actor
    )
