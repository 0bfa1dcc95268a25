import re
from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command

from accounts.models import User
from commerce.catalog.models import Category, Merchant, MerchantStatus, Product, ProductVariant
from commerce.offers.models import Offer, OfferDailyStats
from commerce.offers.selectors import TRENDING_LIMIT, trending_offers
from commerce.orders.models import Address, Cart, CartStatus, Order

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 14, 30, tzinfo=UTC)

# What each demo merchant's name says it sells: the leaf categories of its trade.
TRADES = {
    "TechHaven": {"Mobiles", "Laptops", "Headphones", "Cameras", "Smart Watches"},
    "SoundWave Audio": {"Headphones", "Speakers"},
    "Urban Threads": {"Men's Clothing", "Women's Clothing", "Footwear", "Bags", "Watches"},
    "HomeNest": {"Furniture", "Kitchen Appliances", "Cookware", "Decor", "Bedding"},
    "Glow Beauty": {"Skincare", "Makeup", "Fragrances", "Hair Care"},
    "FitFuel Sports": {"Fitness Equipment", "Sportswear", "Cycling", "Nutrition"},
    "Bookworm Books": {"Fiction", "Non-fiction", "Children's Books"},
    "DailyBasket": {"Snacks", "Beverages"},
}


@pytest.fixture
def seeded(settings):
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-123!"
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", stdout=StringIO())
        yield


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_seed_demo_creates_the_admin_with_the_configured_password(settings):
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-123!"
    out = StringIO()
    call_command("seed_demo", stdout=out)
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password("demo-pass-123!")
    assert "Demo admin created: admin@example.com / demo-pass-123!" in out.getvalue()


def test_seed_demo_generates_and_prints_a_password_when_none_is_configured(settings):
    settings.DEMO_ADMIN_PASSWORD = ""
    out = StringIO()
    call_command("seed_demo", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if line.startswith("Demo admin created:"))
    password = line.rsplit(" / ", 1)[1]
    assert len(password) >= 16
    assert User.objects.get(email="admin@example.com").check_password(password)


def fingerprint() -> tuple:
    products = sorted(Product.objects.values_list("slug", "title", "merchant__slug", "category__slug", "min_price"))
    offers = sorted(Offer.objects.values_list("merchant__slug", "title", "code", "starts_at", "ends_at"))
    stats = sorted(OfferDailyStats.objects.values_list("offer__title", "date", "views", "clicks"))
    return products, offers, stats


def test_seed_demo_is_idempotent(seeded):
    before = row_counts()
    content = fingerprint()
    password_hash = User.objects.get(email="admin@example.com").password
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert row_counts() == before
    assert fingerprint() == content
    assert User.objects.get(email="admin@example.com").password == password_hash
    assert "Demo admin exists: admin@example.com" in out.getvalue()
    assert "Offers: demo offers exist." in out.getvalue()
    assert "Demo shopper exists: shopper@example.com" in out.getvalue()
    assert "Orders: demo orders exist." in out.getvalue()


def test_demo_catalog_looks_like_a_shop(seeded):
    merchants = {m.name: m for m in Merchant.objects.all()}
    assert set(merchants) == set(TRADES)
    assert [m.name for m in merchants.values() if m.status == MerchantStatus.SUSPENDED] == ["DailyBasket"]
    assert Category.objects.count() == 36
    assert Product.objects.count() == 1200
    assert ProductVariant.objects.count() > 1200

    rows = list(Product.objects.values_list("title", "merchant__name", "category__name"))
    titles = [title for title, _, _ in rows]
    assert len(set(titles)) == len(titles)
    serials = [title for title in titles if re.search(r"\d$|\d{3,}", title)]
    assert serials == []
    outside_trade = [
        (title, merchant, category) for title, merchant, category in rows if category not in TRADES[merchant]
    ]
    assert outside_trade == []
    # Every merchant sells across its trade, not one category only.
    for name, trade in TRADES.items():
        assert {category for _, merchant, category in rows if merchant == name} == trade


def test_demo_offers_cover_every_active_merchant_and_trend_with_a_spread(seeded):
    live = Offer.objects.live()
    active = Merchant.objects.filter(status=MerchantStatus.ACTIVE)
    assert Offer.objects.count() >= 16
    assert {m.slug for m in active if not live.filter(merchant=m).exists()} == set()
    assert not Offer.objects.filter(merchant__status=MerchantStatus.SUSPENDED).exists()

    trending = trending_offers()
    scores = [offer.trending_score for offer in trending]
    ids = [offer.pk for offer in trending]
    assert len(trending) == TRENDING_LIMIT
    assert len({round(score, 3) for score in scores}) == TRENDING_LIMIT  # no ties anywhere in the list
    assert scores == sorted(scores, reverse=True)
    assert ids not in (sorted(ids), sorted(ids, reverse=True))
    assert scores[0] > 3 * scores[-1]  # a real spread between the top and the tail
    assert len({offer.merchant_id for offer in trending}) == active.count()


def test_demo_shopper_has_an_address_a_cart_and_orders_in_every_state(seeded):
    shopper = User.objects.get(email="shopper@example.com")
    assert Address.objects.filter(user=shopper, is_default=True).count() == 1
    orders = Order.objects.filter(user=shopper).order_by("id")
    assert list(orders.values_list("status", flat=True)) == [
        "delivered",
        "fulfilled",
        "paid",
        "cancelled",
        "pending_payment",
    ]
    assert {order.merchant.name for order in orders} == {"Urban Threads"}
    assert orders[1].carrier == "Delhivery" and orders[1].tracking_number
    cart = Cart.objects.get(user=shopper, status=CartStatus.OPEN)
    assert cart.lines.count() == 2
