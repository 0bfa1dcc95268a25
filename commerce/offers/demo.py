"""Demo offers for ``manage.py seed_demo`` (runs after the catalog's demo data).

Every active merchant gets a sitewide coupon (so each has at least one live offer) and, picked per merchant,
some of: a coupon on its best-stocked category, a flat discount on a few products, a flash deal ending in two
days, a cashback offer, and a sale that starts in three days (scheduled, not yet live). Suspended merchants
get none.

Newly created offers get up to a week of views and clicks (never before the offer started) that look like
traffic: each offer has its own reach (log-normal, so a few offers draw most of the traffic), trend and
click-through rate, with day-to-day noise. Every counted click is also a click row on the same day, so the
daily counts and the clicks agree and ``GET offers/trending`` has a real spread of scores.

Idempotent: an offer is identified by merchant and title and is created only when missing; events are added
only to offers created in this run, so a second run creates nothing. Deterministic: each merchant's and each
offer's random choices come from a generator seeded with its slug and title, so the same catalog gives the same
offers, codes and counts. Only the dates follow the day of the run.
"""

import random
import re
import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from commerce.catalog.models import Category, Merchant, MerchantStatus, Product, ProductStatus

from .models import AppliesTo, DiscountType, Offer, OfferClick, OfferDailyStats, OfferKind
from .services import offer_save

SEED = "offers-demo-v2"
EVENT_DAYS = 7  # the trending window
_CLICK_NAMESPACE = uuid.UUID("4f1e3c52-8a0f-4d5e-9b8e-6f0c2a7d1b90")
OPTIONAL_KINDS = ("category", "products", "deal", "cashback", "upcoming")


def _rng(*parts: str) -> random.Random:
    return random.Random("/".join((SEED, *parts)))  # noqa: S311  (deterministic demo data, not security)


def _code_stem(merchant: Merchant) -> str:
    """The merchant's first word, as shoppers would type it: "TECHHAVEN", "GLOW", "URBAN"."""
    first = merchant.name.split()[0] if merchant.name.split() else merchant.slug
    return re.sub(r"[^A-Z0-9]", "", first.upper())[:10] or f"M{merchant.pk}"


def _code(merchant: Merchant, suffix: str) -> str:
    code = f"{_code_stem(merchant)}{suffix}"
    taken = Offer.objects.filter(is_active=True, code__iexact=code).exclude(merchant=merchant).exists()
    return f"{code}{merchant.pk}" if taken else code


def _site(merchant: Merchant) -> str:
    return (merchant.website or f"https://{merchant.slug}.example.com").rstrip("/")


def _sitewide(merchant: Merchant, rng: random.Random, now: datetime) -> dict[str, Any]:
    percent = rng.choice([5, 10, 12, 15])
    minimum = rng.choice([499, 999, 1499])
    cap = rng.choice([150, 250, 500])
    return {
        "title": f"{percent}% off everything at {merchant.name}",
        "description": f"{percent}% off your whole order, up to {cap}, on orders from {minimum}.",
        "kind": OfferKind.COUPON,
        "code": _code(merchant, str(percent)),
        "discount_type": DiscountType.PERCENTAGE,
        "discount_value": Decimal(percent),
        "max_discount": Decimal(cap),
        "min_order_amount": Decimal(minimum),
        "starts_at": now - timedelta(days=rng.randint(8, 20)),
        "ends_at": now + timedelta(days=rng.randint(20, 40)),
        "per_user_limit": 2,
    }


def _category_coupon(
    merchant: Merchant, rng: random.Random, now: datetime, products: list[Product]
) -> dict[str, Any] | None:
    if not products:
        return None
    counts = Counter(product.category_id for product in products)
    categories = {category.pk: category for category in Category.objects.filter(pk__in=counts)}
    top = min(counts, key=lambda category_id: (-counts[category_id], categories[category_id].slug))
    category = categories[top]
    percent = rng.choice([15, 20, 25])
    return {
        "title": f"{percent}% off {category.name.lower()} at {merchant.name}",
        "description": f"{percent}% off everything in {category.name}, no minimum order.",
        "kind": OfferKind.COUPON,
        "code": _code(merchant, f"{re.sub(r'[^A-Z]', '', category.name.split()[0].upper())}{percent}"),
        "discount_type": DiscountType.PERCENTAGE,
        "discount_value": Decimal(percent),
        "max_discount": Decimal(rng.choice([300, 500, 1000])),
        "applies_to": AppliesTo.CATEGORIES,
        "categories": [category],
        "starts_at": now - timedelta(days=rng.randint(1, 6)),
        "ends_at": now + timedelta(days=rng.randint(5, 12)),
        "usage_limit": rng.choice([200, 500, 1000]),
    }


def _product_coupon(
    merchant: Merchant, rng: random.Random, now: datetime, products: list[Product]
) -> dict[str, Any] | None:
    if not products:
        return None
    chosen = rng.sample(products, min(3, len(products)))
    amount = rng.choice([100, 150, 250])
    return {
        "title": f"Flat {amount} off selected {merchant.name} bestsellers",
        "description": f"A flat {amount} off {', '.join(product.title for product in chosen)}. This week only.",
        "kind": OfferKind.COUPON,
        "code": _code(merchant, f"FLAT{amount}"),
        "discount_type": DiscountType.FIXED,
        "discount_value": Decimal(amount),
        "applies_to": AppliesTo.PRODUCTS,
        "products": chosen,
        "starts_at": now - timedelta(days=2),
        "ends_at": now + timedelta(days=5),
        "usage_limit": 500,
    }


def _deal(merchant: Merchant, rng: random.Random, now: datetime) -> dict[str, Any]:
    percent = rng.choice([30, 40, 50])
    return {
        "title": f"{merchant.name} weekend flash sale: up to {percent}% off",
        "description": f"Up to {percent}% off bestsellers. Ends in two days.",
        "kind": OfferKind.DEAL,
        "discount_type": DiscountType.PERCENTAGE,
        "discount_value": Decimal(percent),
        "destination_url": f"{_site(merchant)}/deals/flash",
        "starts_at": now - timedelta(days=rng.randint(3, 5)),
        "ends_at": now + timedelta(days=2),
    }


def _cashback(merchant: Merchant, rng: random.Random, now: datetime) -> dict[str, Any]:
    rate = Decimal(rng.choice([6, 8, 10, 12]))
    return {
        "title": f"Extra {rate}% cashback at {merchant.name}",
        "description": f"Earn {rate}% cashback on every order, on top of any coupon.",
        "kind": OfferKind.CASHBACK,
        "cashback_rate": rate,
        "destination_url": _site(merchant),
        "starts_at": now - timedelta(days=rng.randint(10, 30)),
        "ends_at": None,
    }


def _upcoming(merchant: Merchant, rng: random.Random, now: datetime) -> dict[str, Any]:
    percent = rng.choice([20, 30])
    return {
        "title": f"{merchant.name} season sale: up to {percent}% off",
        "description": "Starts in three days. Save the date.",
        "kind": OfferKind.DEAL,
        "discount_type": DiscountType.PERCENTAGE,
        "discount_value": Decimal(percent),
        "destination_url": f"{_site(merchant)}/sale",
        "starts_at": now + timedelta(days=3),
        "ends_at": now + timedelta(days=10),
    }


def _specs(merchant: Merchant, now: datetime) -> list[dict[str, Any]]:
    rng = _rng(merchant.slug)
    products = list(
        Product.objects.filter(merchant=merchant, status=ProductStatus.ACTIVE)
        .only("pk", "slug", "title", "merchant_id", "category_id")
        .order_by("slug")  # the slug is the demo product's identity; ids differ between databases
    )
    extra = rng.sample(OPTIONAL_KINDS, rng.randint(2, 3))
    builders = {
        "category": lambda: _category_coupon(merchant, rng, now, products),
        "products": lambda: _product_coupon(merchant, rng, now, products),
        "deal": lambda: _deal(merchant, rng, now),
        "cashback": lambda: _cashback(merchant, rng, now),
        "upcoming": lambda: _upcoming(merchant, rng, now),
    }
    specs = [_sitewide(merchant, rng, now)]
    for kind in OPTIONAL_KINDS:  # a fixed order, so each builder sees the same random stream every run
        if kind in extra:
            spec = builders[kind]()
            if spec is not None:
                specs.append(spec)
    return specs


def _daily_counts(offer: Offer, today: date) -> dict[date, tuple[int, int]]:
    """(views, clicks) per day of the trending window, from the day the offer started."""
    rng = _rng("events", offer.merchant.slug, offer.title)
    reach = rng.lognormvariate(5.0, 0.9)  # median about 150 views a day, a long tail of popular offers
    trend = rng.uniform(-0.12, 0.25)  # growth per day: some offers are heating up, some cooling down
    click_rate = rng.uniform(0.015, 0.09)
    first_day = timezone.localdate(offer.starts_at)
    counts: dict[date, tuple[int, int]] = {}
    for age in range(EVENT_DAYS):
        day = today - timedelta(days=age)
        if day < first_day:
            break
        views = int(reach * (1 + trend) ** -age * rng.uniform(0.75, 1.25))
        clicks = min(views, int(views * click_rate * rng.uniform(0.6, 1.4) + rng.random()))
        counts[day] = (views, clicks)
    return counts


def _click_rows(offer: Offer, counts: dict[date, tuple[int, int]], now: datetime) -> list[OfferClick]:
    """One row per counted click, at a time on its day, never before the offer started nor after now."""
    rng = _rng("clicks", offer.merchant.slug, offer.title)
    rows: list[OfferClick] = []
    for day, (_, clicks) in sorted(counts.items()):
        start = max(timezone.make_aware(datetime.combine(day, time.min)), offer.starts_at)
        end = min(timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min)), now)
        span = max(int((end - start).total_seconds()), 1)
        rows.extend(
            OfferClick(
                click_id=uuid.uuid5(_CLICK_NAMESPACE, f"{offer.merchant.slug}/{offer.title}/{day}/{n}"),
                offer=offer,
                created_at=start + timedelta(seconds=rng.randrange(span)),
            )
            for n in range(clicks)
        )
    return rows


def _add_events(offer: Offer, today: date, now: datetime) -> None:
    if offer.starts_at > now:
        return
    counts = _daily_counts(offer, today)
    OfferDailyStats.objects.bulk_create(
        [OfferDailyStats(offer=offer, date=day, views=views, clicks=clicks) for day, (views, clicks) in counts.items()]
    )
    OfferClick.objects.bulk_create(_click_rows(offer, counts, now), batch_size=1000)


def seed(*, stdout) -> None:
    merchants = list(Merchant.objects.filter(status=MerchantStatus.ACTIVE).order_by("slug"))
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
            targets = {"categories": spec.pop("categories", None), "products": spec.pop("products", None)}
            offer = offer_save(offer=Offer(merchant=merchant, **spec), **targets)
            _add_events(offer, today, now)
            created += 1
    stdout.write(f"Offers: {created} demo offer(s) created." if created else "Offers: demo offers exist.")
