"""Spending points at checkout (filled in by the redemption work)."""

from decimal import Decimal
from typing import TYPE_CHECKING

from commerce.orders.adjustments import AdjustmentQuote

if TYPE_CHECKING:
    from commerce.orders.models import Cart, Order


class PointsRedemption:
    """The orders adjustment provider that takes points off a cart (see :mod:`commerce.orders.adjustments`)."""

    source = "loyalty_points"

    def quote(self, *, cart: "Cart", amount_due: Decimal, currency: str) -> AdjustmentQuote | None:
        return None

    def apply(self, *, order: "Order", quote: AdjustmentQuote) -> None:
        raise NotImplementedError("Points are not spent yet.")
