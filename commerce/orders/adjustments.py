"""The extension point through which higher apps reduce what a cart and an order cost (loyalty points, a
wallet balance, a gift card) without ``orders`` importing them.

A provider is any object with the three members of :class:`AdjustmentProvider`. A higher app registers one
instance from its ``AppConfig.ready``::

    from commerce.orders.adjustments import register_adjustment_provider
    register_adjustment_provider(PointsRedemption())

How the orders app uses it:

1. **Quoting** (every cart read and checkout): after the coupon, each registered provider, in registration
   order, is asked :meth:`AdjustmentProvider.quote` with the amount still due on the lines (after the coupon
   and earlier providers, before shipping). It answers ``None`` (nothing to take off) or an
   :class:`AdjustmentQuote`. The amount is clamped to what is due, so the order total never goes below the
   shipping fee and never below zero. Quoting only reads; it must not write.
2. **Applying** (inside the checkout transaction, after the stock is allocated and the order row written):
   :meth:`AdjustmentProvider.apply` is called with the order and the quote. It holds or consumes whatever
   backs the reduction (e.g. puts the points on hold) under its own row lock, re-checking it still can;
   if it cannot it raises a :class:`~commerce.core.errors.Conflict`, and the whole checkout rolls back.
   The orders app stores the quote as an :class:`~commerce.orders.models.OrderAdjustment` row.
3. **Afterwards** the provider follows the order through the domain events in :mod:`commerce.orders.events`
   (consume the hold on ``order_paid``, release it on ``order_cancelled``/``order_expired``, take back in
   proportion on ``order_refunded``).

The reduction is shared across the order's lines in proportion to their amounts (like the coupon), so each
line's tax share is computed on what the shopper really pays.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .models import Cart, Order


@dataclass(frozen=True)
class AdjustmentQuote:
    """A reduction offered by a provider: ``amount`` (positive, in the cart's currency) off the order."""

    source: str
    label: str
    amount: Decimal
    data: dict[str, Any] = field(default_factory=dict)


class AdjustmentProvider(Protocol):
    #: A short stable key, stored on the order's adjustment row (e.g. ``"loyalty_points"``).
    source: str

    def quote(self, *, cart: "Cart", amount_due: Decimal, currency: str) -> AdjustmentQuote | None:
        """What this provider takes off ``cart`` now, given ``amount_due`` on its lines. Reads only."""
        ...

    def apply(self, *, order: "Order", quote: AdjustmentQuote) -> None:
        """Inside the checkout transaction: hold what backs ``quote`` for ``order``, or raise ``Conflict``."""
        ...


_providers: list[AdjustmentProvider] = []


def register_adjustment_provider(provider: AdjustmentProvider) -> None:
    """Add ``provider`` (once per ``source``; registering a source again replaces the earlier provider)."""
    for index, existing in enumerate(_providers):
        if existing.source == provider.source:
            _providers[index] = provider
            return
    _providers.append(provider)


def unregister_adjustment_provider(source: str) -> None:
    """Remove the provider of ``source`` (tests use it to clean up a fake provider)."""
    _providers[:] = [provider for provider in _providers if provider.source != source]


def adjustment_providers() -> Sequence[AdjustmentProvider]:
    return tuple(_providers)
