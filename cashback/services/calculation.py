"""How much cashback an order or an affiliate sale earns. Pure: reads what it is given, writes nothing.

The rule, in order:

1. **Rate** (per cent): the ``cashback_rate`` of the offer the order used (its coupon's offer) when that offer
   has one, else the merchant's ``default_cashback_rate``. A conversion uses its offer's rate the same way.
2. **Base**: the order lines' net amount after discounts, ``sum(line_total - discount)`` over the lines. A line's
   ``discount`` already carries its share of the coupon and of the other reductions (loyalty points), so the
   base is what the shopper paid for goods. Shipping is never part of it. A conversion's base is its sale
   amount.
3. **Amount**: ``base * rate / 100``, rounded **once, on the total**, ROUND_HALF_UP to the currency's places
   (:func:`commerce.core.money.quantize`). Lines are never rounded one by one: three lines of 33.33 at 5 % earn
   ``quantize(99.99 * 5 / 100) = 5.00``, not ``3 x 1.67 = 5.01``.
4. **Caps**, after rounding: the platform's ``CASHBACK_MAX_PER_ORDER`` (empty: none; it is an amount in
   ``DEFAULT_CURRENCY``) and the merchant's ``MerchantCashback.max_cashback_per_order`` (empty: none). The lower
   cap wins; ``capped_by`` names the cap that lowered the amount (``"platform"`` when both caps are equal and
   bite), ``""`` when none did.
5. Never above the base (a rate is at most 100 %, so this only guards against bad data).

Wallets hold ``DEFAULT_CURRENCY`` only and nothing converts currencies, so **an order or sale in another
currency earns no cashback**: its quote has amount zero (and the entries service creates no entry for it).
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from commerce.catalog.models import Merchant
from commerce.core.money import MoneyError, normalize_currency, quantize, to_decimal
from commerce.offers.models import Offer
from commerce.orders.models import Order

from ..models import ZERO, MerchantCashback

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class CashbackQuote:
    """What a purchase earns. ``rate`` is per cent; ``amount`` is final (rounded once, capped)."""

    base_amount: Decimal
    rate: Decimal
    amount: Decimal
    currency: str
    offer_id: int | None
    capped_by: str  # "" | "platform" | "merchant"


def cashback_rate_for(*, merchant: Merchant, offer: Offer | None) -> Decimal:
    """The offer's cashback rate when it has one, else the merchant's default rate (per cent)."""
    if offer is not None and offer.cashback_rate is not None:
        return Decimal(offer.cashback_rate)
    return Decimal(merchant.default_cashback_rate)


def platform_cap() -> Decimal | None:
    """``CASHBACK_MAX_PER_ORDER`` as an amount, or None when it is empty. A value that is not a non-negative
    amount is a configuration error and raises ``ImproperlyConfigured``."""
    raw = str(getattr(settings, "CASHBACK_MAX_PER_ORDER", "") or "").strip()
    if not raw:
        return None
    try:
        cap = quantize(raw, str(settings.DEFAULT_CURRENCY))
    except MoneyError as exc:
        raise ImproperlyConfigured(f"CASHBACK_MAX_PER_ORDER={raw!r} is not an amount.") from exc
    if cap < 0:
        raise ImproperlyConfigured("CASHBACK_MAX_PER_ORDER must not be negative.")
    return cap


def _quote(
    *, base: Decimal, rate: Decimal, currency: str, offer_id: int | None, terms: MerchantCashback | None
) -> CashbackQuote:
    currency = normalize_currency(currency)
    base = quantize(base, currency)
    rate = to_decimal(rate)
    if rate < 0 or rate > HUNDRED:
        raise ValueError(f"A cashback rate is a percentage from 0 to 100, not {rate}.")
    if base < 0:
        raise ValueError(f"A cashback base cannot be negative ({base}).")
    if currency != str(settings.DEFAULT_CURRENCY):
        return CashbackQuote(
            base_amount=base, rate=rate, amount=ZERO, currency=currency, offer_id=offer_id, capped_by=""
        )
    amount = quantize(base * rate / HUNDRED, currency)
    capped_by = ""
    caps = [("platform", platform_cap())]
    if terms is not None and terms.max_cashback_per_order is not None:
        caps.append(("merchant", quantize(terms.max_cashback_per_order, currency)))
    for name, cap in caps:
        if cap is not None and amount > cap:
            amount, capped_by = cap, name
    amount = min(amount, base)
    return CashbackQuote(
        base_amount=base, rate=rate, amount=amount, currency=currency, offer_id=offer_id, capped_by=capped_by
    )


def order_cashback_base(*, order: Order) -> Decimal:
    """The lines' net amount after discounts (coupon and other reductions), without shipping."""
    return sum((line.line_total - line.discount for line in order.lines.all()), ZERO)


def cashback_quote_order(*, order: Order, terms: MerchantCashback | None) -> CashbackQuote:
    """The cashback ``order`` earns under ``terms`` (the merchant's cashback terms, None when it has none).
    Reads the order's lines (one query unless prefetched), its merchant and its offer."""
    offer = order.offer if order.offer_id is not None else None
    return _quote(
        base=order_cashback_base(order=order),
        rate=cashback_rate_for(merchant=order.merchant, offer=offer),
        currency=order.currency,
        offer_id=order.offer_id,
        terms=terms,
    )


def cashback_quote_sale(
    *, sale_amount: Decimal, currency: str, rate: Decimal, offer_id: int | None, terms: MerchantCashback | None
) -> CashbackQuote:
    """The cashback an affiliate sale of ``sale_amount`` earns at ``rate`` per cent (see
    :func:`cashback_rate_for`), with the same rounding and caps as an order."""
    return _quote(base=to_decimal(sale_amount), rate=rate, currency=currency, offer_id=offer_id, terms=terms)
