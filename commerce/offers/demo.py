"""Demo offers for ``manage.py seed_demo`` (runs after the catalog's demo data).

For each of the first four active merchants (by slug): a sitewide coupon, a deal that expires in two days,
a cashback offer and, when the merchant has products, a product coupon. Newly created offers get a week of
view and click counts and some click rows, so ``GET offers/trending`` is not empty.

Idempotent: an offer is identified by merchant and title and is created only when missing; events are added
only to offers created in this run, so a second run creates nothing. Deterministic: the same catalog gives
the same offers, codes and counts (dates are relative to the day of the run).
"""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from commerce.catalog.models import Merchant, MerchantStatus, Product, ProductStatus

from .models import AppliesTo, DiscountType, Offer, OfferClick, OfferDailyStats, OfferKind
from .services import offer_save

MERCHANTS = 4
_CLICK_NAMESPACE = uuid.UUID("4f1e3c52-8a0f-4d5e-9b8e-6f0c2a7d1b90")


def _code_stem(merchant: Merchant) -> str:
    return re.sub(r"[^A-Z0-9]", "", merchant.slug.upper())[:8] or f"M{merchant.pk}"


def _code(merchant: Merchant, suffix: str) -> str:
    code = f"{_code_stem(merchant)}{suffix}"
    taken = Offer.objects.filter(is_active=True, code__iexact=code).exclude(merchant=merchant).exists()
    return f"{code}{merchant.pk}" if taken else code


def _specs(merchant: Merchant, now) -> list[dict]:
    site = (merchant.website or f"https://{merchant.slug}.example.com").rstrip("/")
    specs = [
        {
            "title": f"{merchant.name}: 10% off everything",
            "description": "10% off your whole order, up to 200, on orders from 499.",
            "kind": OfferKind.COUPON,
            "code": _code(merchant, "10"),
            "discount_type": DiscountType.PERCENTAGE,
            "discount_value": Decimal("10.00"),
            "max_discount": Decimal("200.00"),
            "min_order_amount": Decimal("499.00"),
            "starts_at": now - timedelta(days=10),
            "ends_at": now + timedelta(days=30),
            "per_user_limit": 2,
        },
        {
            "title": f"{merchant.name}: weekend flash deal",
            "description": "Up to 40% off bestsellers. Ends in two days.",
            "kind": OfferKind.DEAL,
            "discount_type": DiscountType.PERCENTAGE,
            "discount_value": Decimal("40.00"),
            "destination_url": f"{site}/deals/flash",
            "starts_at": now - timedelta(days=5),
            "ends_at": now + timedelta(days=2),
        },
        {
            "title": f"{merchant.name}: extra cashback",
            "description": "Earn 8% cashback on every order.",
            "kind": OfferKind.CASHBACK,
            "cashback_rate": Decimal("8.00"),
            "destination_url": site,
            "starts_at": now - timedelta(days=20),
            "ends_at": None,
        },
    ]
    products = list(
        Product.objects.filter(merchant=merchant, status=ProductStatus.ACTIVE)
        .order_by("slug")
        .values_list("pk", flat=True)[:3]
    )
    if products:
        specs.append(
            {
                "title": f"{merchant.name}: 100 off selected products",
                "description": "A flat 100 off these products, this week only.",
                "kind": OfferKind.COUPON,
                "code": _code(merchant, "FLAT100"),
                "discount_type": DiscountType.FIXED,
                "discount_value": Decimal("100.00"),
                "applies_to": AppliesTo.PRODUCTS,
                "products": products,
                "starts_at": now - timedelta(days=2),
                "ends_at": now + timedelta(days=5),
                "usage_limit": 500,
            }
        )
    return specs


def _add_events(offer: Offer, rank: int, today, now) -> None:
    """A week of counts (busier for lower ``rank``) and a few click rows with deterministic ids."""
    base = max(60 - rank * 7, 5)
    OfferDailyStats.objects.bulk_create(
        [
            OfferDailyStats(
                offer=offer, date=today - timedelta(days=age), views=base + 3 * age, clicks=(base + 3 * age) // 6
            )
            for age in range(7)
        ]
    )
    OfferClick.objects.bulk_create(
        [
            OfferClick(
                click_id=uuid.uuid5(_CLICK_NAMESPACE, f"{offer.merchant.slug}/{offer.title}/{n}"),
                offer=offer,
                created_at=now - timedelta(hours=3 * n + 1),
            )
            for n in range(3)
        ]
    )


def seed(*, stdout) -> None:
    merchants = list(Merchant.objects.filter(status=MerchantStatus.ACTIVE).order_by("slug")[:MERCHANTS])
    if not merchants:
        stdout.write("Offers: no active merchants, no demo offers.")
        return
    now = timezone.now()
    today = timezone.localdate(now)
    created = 0
    for merchant in merchants:
        for spec in _specs(merchant, now):
            if Offer.objects.filter(merchant=merchant, title=spec["title"]).exists():
                continue
            products = spec.pop("products", [])
            offer = offer_save(offer=Offer(merchant=merchant, **spec))
            if products:
                offer.products.set(products)
            _add_events(offer, created, today, now)
            created += 1
    stdout.write(f"Offers: {created} demo offer(s) created." if created else "Offers: demo offers exist.")
