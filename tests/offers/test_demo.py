from io import StringIO

import pytest

from commerce.offers import demo
from commerce.offers.models import Offer, OfferClick, OfferDailyStats
from tests.catalog.factories import MerchantFactory, ProductFactory

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int]:
    return Offer.objects.count(), OfferDailyStats.objects.count(), OfferClick.objects.count()


def test_demo_offers_are_live_expiring_and_trending_and_a_second_run_creates_nothing(api_client):
    acme = MerchantFactory(slug="acme", name="Acme")
    MerchantFactory(slug="globex", name="Globex")
    MerchantFactory(slug="frozen", status="suspended")
    ProductFactory(merchant=acme, slug="acme-shoe")

    out = StringIO()
    demo.seed(stdout=out)

    assert out.getvalue() == "Offers: 7 demo offer(s) created."
    assert counts() == (7, 49, 21)
    assert set(Offer.objects.filter(code__isnull=False).values_list("code", flat=True)) == {
        "ACME10",
        "ACMEFLAT100",
        "GLOBEX10",
    }
    assert list(Offer.objects.get(code="ACMEFLAT100").products.values_list("slug", flat=True)) == ["acme-shoe"]
    assert api_client.get("/api/v1/offers").json()["count"] == 7
    expiring = api_client.get("/api/v1/offers?expiring_within_days=3").json()["results"]
    assert [o["title"] for o in expiring] == ["Acme: weekend flash deal", "Globex: weekend flash deal"]
    trending = api_client.get("/api/v1/offers/trending").json()["results"]
    assert len(trending) == 7
    assert trending[0]["title"] == "Acme: 10% off everything"

    again = StringIO()
    demo.seed(stdout=again)
    assert again.getvalue() == "Offers: demo offers exist."
    assert counts() == (7, 49, 21)


def test_demo_without_merchants_does_nothing():
    out = StringIO()
    demo.seed(stdout=out)
    assert out.getvalue() == "Offers: no active merchants, no demo offers."
    assert counts() == (0, 0, 0)
