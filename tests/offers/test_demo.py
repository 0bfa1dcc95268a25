from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.utils import timezone

from commerce.offers import demo
from commerce.offers.models import AppliesTo, Offer, OfferClick, OfferDailyStats
from commerce.offers.selectors import trending_offers
from tests.catalog.factories import CategoryFactory, MerchantFactory, ProductFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 14, 30, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def shop():
    acme = MerchantFactory(slug="acme", name="Acme Electronics")
    globex = MerchantFactory(slug="globex", name="Globex")
    frozen_merchant = MerchantFactory(slug="frozen", name="Frozen Foods", status="suspended")
    phones, cases = CategoryFactory(slug="phones", name="Phones"), CategoryFactory(slug="cases", name="Phone Cases")
    for n in range(4):
        ProductFactory(merchant=acme, category=phones, slug=f"acme-phone-{n}", title=f"Acme phone {n}")
    ProductFactory(merchant=acme, category=cases, slug="acme-case", title="Acme case")
    ProductFactory(merchant=frozen_merchant, slug="frozen-peas")
    return acme, globex, frozen_merchant


def snapshot() -> tuple:
    offers = sorted(
        Offer.objects.values_list("merchant__slug", "title", "code", "kind", "applies_to", "starts_at", "ends_at")
    )
    stats = sorted(OfferDailyStats.objects.values_list("offer__title", "date", "views", "clicks"))
    clicks = sorted(OfferClick.objects.values_list("click_id", "offer__title", "created_at"))
    return offers, stats, clicks


def test_every_active_merchant_gets_live_offers_and_the_suspended_one_none(frozen, shop):
    acme, globex, _ = shop
    out = StringIO()
    demo.seed(stdout=out)

    offers = list(Offer.objects.select_related("merchant"))
    assert out.getvalue() == f"Offers: {len(offers)} demo offer(s) created."
    assert {o.merchant for o in offers} == {acme, globex}
    for merchant in (acme, globex):
        live = [o for o in offers if o.merchant == merchant and o.is_live()]
        assert any(o.title == f"{o.discount_value:.0f}% off everything at {merchant.name}" for o in live)
    codes = [o.code for o in offers if o.code]
    assert len(codes) == len({code.lower() for code in codes})
    assert all(code.startswith(("ACME", "GLOBEX")) for code in codes)


def test_targeted_demo_offers_respect_the_offer_rules(frozen, shop):
    acme, _, _ = shop
    demo.seed(stdout=StringIO())
    for offer in Offer.objects.filter(applies_to=AppliesTo.PRODUCTS):
        assert offer.products.exists()
        assert set(offer.products.values_list("merchant_id", flat=True)) == {offer.merchant_id}
    for offer in Offer.objects.filter(applies_to=AppliesTo.CATEGORIES):
        # Acme's best-stocked category is Phones (4 products against 1).
        assert list(offer.categories.values_list("slug", flat=True)) == ["phones"]
        assert offer.merchant == acme


def test_daily_counts_and_click_rows_agree_and_never_precede_the_offer_or_follow_now(frozen, shop):
    demo.seed(stdout=StringIO())
    now = timezone.now()
    per_day = Counter((c.offer_id, timezone.localdate(c.created_at)) for c in OfferClick.objects.all())
    stats = list(OfferDailyStats.objects.select_related("offer"))
    assert stats  # the events below are checked row by row
    assert sum(per_day.values()) == sum(s.clicks for s in stats) > 0
    for row in stats:
        assert per_day[(row.offer_id, row.date)] == row.clicks
        assert row.clicks <= row.views
        assert timezone.localdate(row.offer.starts_at) <= row.date <= timezone.localdate(now)
        assert row.date > timezone.localdate(now) - timedelta(days=demo.EVENT_DAYS)
    for click in OfferClick.objects.select_related("offer"):
        assert click.offer.starts_at <= click.created_at <= now
    assert not OfferDailyStats.objects.filter(offer__starts_at__gt=now).exists()


def test_trending_has_a_real_spread_not_the_creation_order(frozen, shop):
    demo.seed(stdout=StringIO())
    trending = trending_offers()
    scores = [offer.trending_score for offer in trending]
    ids = [offer.pk for offer in trending]
    assert len(trending) == Offer.objects.filter(starts_at__lte=timezone.now()).count() >= 4
    assert len(set(scores)) == len(scores)
    assert ids not in (sorted(ids), sorted(ids, reverse=True))
    assert max(scores) > 2 * min(scores)


def test_demo_offers_are_deterministic_and_a_second_run_creates_nothing(frozen, shop):
    demo.seed(stdout=StringIO())
    first = snapshot()

    again = StringIO()
    demo.seed(stdout=again)
    assert again.getvalue() == "Offers: demo offers exist."
    assert snapshot() == first

    OfferClick.objects.all().delete()
    OfferDailyStats.objects.all().delete()
    Offer.objects.all().delete()
    demo.seed(stdout=StringIO())
    assert snapshot() == first


def test_demo_without_merchants_does_nothing():
    out = StringIO()
    demo.seed(stdout=out)
    assert out.getvalue() == "Offers: no active merchants, no demo offers."
    assert (Offer.objects.count(), OfferDailyStats.objects.count(), OfferClick.objects.count()) == (0, 0, 0)
