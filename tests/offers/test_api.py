import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.utils import timezone

from commerce.offers.models import DiscountType, OfferClick, OfferDailyStats, OfferKind
from tests.catalog.factories import CategoryFactory, MerchantFactory
from tests.factories import UserFactory

from .factories import DealFactory, OfferDailyStatsFactory, OfferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def straight_through(settings):
    """Events written straight to the database, as in the embedded default (no Redis)."""
    settings.REDIS_URL = ""


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def days_from_now(days: float):
    return timezone.now() + timedelta(days=days)


# --- GET offers ------------------------------------------------------------------------------------------


def test_list_shows_live_offers_of_active_merchants_newest_first(api_client):
    older = OfferFactory(starts_at=days_from_now(-3))
    newer = OfferFactory(starts_at=days_from_now(-1), ends_at=None)
    OfferFactory(is_active=False)
    OfferFactory(starts_at=days_from_now(1))
    OfferFactory(starts_at=days_from_now(-5), ends_at=days_from_now(-1))
    OfferFactory(merchant=MerchantFactory(status="suspended"))

    response = api_client.get("/api/v1/offers")

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert ids(response) == [newer.pk, older.pk]


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_list_item_shape(api_client):
    merchant = MerchantFactory(slug="acme", name="Acme", default_cashback_rate=Decimal("4.50"))
    with time_machine.travel(NOW, tick=False):
        offer = OfferFactory(
            merchant=merchant,
            title="10% off everything",
            description="Sitewide.",
            code="ACME10",
            discount_value=Decimal("10.00"),
            max_discount=Decimal("250.00"),
            min_order_amount=Decimal("499.00"),
            starts_at=NOW - timedelta(days=1),
            ends_at=NOW + timedelta(days=10),
        )

        item = api_client.get("/api/v1/offers").json()["results"][0]

    assert item == {
        "id": offer.pk,
        "merchant": {"slug": "acme", "name": "Acme"},
        "title": "10% off everything",
        "description": "Sitewide.",
        "kind": "coupon",
        "code": "ACME10",
        "discount": {
            "type": "percentage",
            "percent": "10.00",
            "max_discount": {"amount": "250.00", "currency": "INR"},
        },
        "min_order_amount": {"amount": "499.00", "currency": "INR"},
        "applies_to": "merchant",
        "cashback_rate": "4.50",
        "starts_at": "2026-05-31T12:00:00Z",
        "ends_at": "2026-06-11T12:00:00Z",
    }


def test_a_percentage_discount_without_a_cap_has_a_null_max_discount(api_client):
    OfferFactory(discount_value=Decimal("15"), max_discount=None, min_order_amount=Decimal("0"))

    item = api_client.get("/api/v1/offers").json()["results"][0]

    assert item["discount"] == {"type": "percentage", "percent": "15.00", "max_discount": None}
    assert item["min_order_amount"] == {"amount": "0.00", "currency": "INR"}


def test_a_fixed_discount_is_a_money_object_in_the_offers_currency(api_client):
    offer = OfferFactory(
        discount_type=DiscountType.FIXED,
        discount_value=Decimal("100.00"),
        min_order_amount=Decimal("999.00"),
        applies_to="categories",
        categories=[CategoryFactory(slug="shoes")],
    )

    listed = api_client.get("/api/v1/offers").json()["results"][0]
    detail = api_client.get(f"/api/v1/offers/{offer.pk}").json()

    for body in (listed, detail):
        assert body["discount"] == {"type": "fixed", "amount": {"amount": "100.00", "currency": "INR"}}
        assert body["min_order_amount"] == {"amount": "999.00", "currency": "INR"}
        assert "currency" not in body
        assert "discount_value" not in body


def test_amounts_have_the_places_of_the_offers_currency(api_client):
    OfferFactory(
        currency="JPY",
        discount_type=DiscountType.FIXED,
        discount_value=Decimal("500.00"),
        min_order_amount=Decimal("3000.00"),
    )

    item = api_client.get("/api/v1/offers").json()["results"][0]

    assert item["discount"] == {"type": "fixed", "amount": {"amount": "500", "currency": "JPY"}}
    assert item["min_order_amount"] == {"amount": "3000", "currency": "JPY"}


def test_trending_offers_carry_the_same_money_shape(api_client):
    with time_machine.travel(NOW, tick=False):
        offer = OfferFactory(
            discount_value=Decimal("20"), max_discount=Decimal("300"), min_order_amount=Decimal("1500")
        )
        OfferDailyStatsFactory(offer=offer, date=NOW.date(), views=3, clicks=1)

        item = api_client.get("/api/v1/offers/trending").json()["results"][0]

    assert item["discount"] == {
        "type": "percentage",
        "percent": "20.00",
        "max_discount": {"amount": "300.00", "currency": "INR"},
    }
    assert item["min_order_amount"] == {"amount": "1500.00", "currency": "INR"}


def test_list_filters_by_merchant_and_kind(api_client):
    acme = MerchantFactory(slug="acme")
    coupon = OfferFactory(merchant=acme)
    deal = DealFactory(merchant=acme)
    OfferFactory()

    assert sorted(ids(api_client.get("/api/v1/offers?merchant=acme"))) == sorted([coupon.pk, deal.pk])
    assert ids(api_client.get("/api/v1/offers?merchant=acme&kind=deal")) == [deal.pk]
    assert ids(api_client.get("/api/v1/offers?merchant=nobody")) == []


def test_expiring_filter_lists_offers_ending_within_n_days_soonest_first(api_client):
    in_five_days = OfferFactory(ends_at=days_from_now(5))
    in_half_a_day = OfferFactory(ends_at=days_from_now(0.5))
    OfferFactory(ends_at=days_from_now(8))
    OfferFactory(ends_at=None)
    OfferFactory(starts_at=days_from_now(-3), ends_at=days_from_now(-1))

    response = api_client.get("/api/v1/offers?expiring_within_days=7")

    assert response.status_code == 200
    assert ids(response) == [in_half_a_day.pk, in_five_days.pk]
    assert ids(api_client.get("/api/v1/offers?expiring_within_days=1")) == [in_half_a_day.pk]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("expiring_within_days=soon", "expiring_within_days", "A valid integer is required."),
        ("expiring_within_days=1.5", "expiring_within_days", "A valid integer is required."),
        ("expiring_within_days=0", "expiring_within_days", "Ensure this value is greater than or equal to 1."),
        ("expiring_within_days=366", "expiring_within_days", "Ensure this value is less than or equal to 365."),
        ("kind=voucher", "kind", '"voucher" is not a valid choice.'),
        (
            "merchant=not%20a%20slug",
            "merchant",
            'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.',
        ),
    ],
)
def test_bad_filters_are_400_with_fields(api_client, query, field, message):
    response = api_client.get(f"/api/v1/offers?{query}")
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "detail": message, "fields": {field: [message]}}


def test_list_is_paginated(api_client):
    for _ in range(3):
        OfferFactory()
    body = api_client.get("/api/v1/offers?page_size=2&page=2").json()
    assert body["count"] == 3
    assert len(body["results"]) == 1
    assert api_client.get("/api/v1/offers?page=9").status_code == 400


def test_list_is_cached_briefly_and_a_second_request_needs_no_query(api_client, django_assert_num_queries):
    first = OfferFactory()
    assert ids(api_client.get("/api/v1/offers")) == [first.pk]
    # A change made behind the services' back is not seen until the entry expires...
    OfferFactory(starts_at=timezone.now() - timedelta(minutes=1))
    with django_assert_num_queries(0):
        cached = api_client.get("/api/v1/offers")
    assert ids(cached) == [first.pk]
    # ... while other parameters are other entries.
    assert len(ids(api_client.get("/api/v1/offers?page_size=5"))) == 2


def test_offer_saved_through_the_service_refreshes_cached_lists(api_client, django_capture_on_commit_callbacks):
    from commerce.offers.services import offer_save

    first = OfferFactory()
    assert ids(api_client.get("/api/v1/offers")) == [first.pk]
    with django_capture_on_commit_callbacks(execute=True):
        offer_save(offer=OfferFactory.build(merchant=first.merchant, code="NEW1"))
    assert len(ids(api_client.get("/api/v1/offers"))) == 2


# --- GET offers/{id} -------------------------------------------------------------------------------------


def test_detail_shows_the_offer_and_counts_a_view_without_redis(api_client, straight_through):
    category = CategoryFactory(slug="shoes")
    offer = OfferFactory(applies_to="categories", categories=[category])

    first = api_client.get(f"/api/v1/offers/{offer.pk}")
    api_client.get(f"/api/v1/offers/{offer.pk}")

    assert first.status_code == 200
    assert first.json()["id"] == offer.pk
    assert first.json()["categories"] == ["shoes"]
    assert first.json()["products"] == []
    stats = OfferDailyStats.objects.get(offer=offer)
    assert (stats.date, stats.views, stats.clicks) == (timezone.localdate(), 2, 0)


@pytest.mark.parametrize("state", ["inactive", "not_started", "ended", "suspended_merchant"])
def test_detail_of_an_offer_that_is_not_live_is_404(api_client, state):
    kwargs = {
        "inactive": {"is_active": False},
        "not_started": {"starts_at": days_from_now(1)},
        "ended": {"starts_at": days_from_now(-3), "ends_at": days_from_now(-1)},
        "suspended_merchant": {"merchant": MerchantFactory(status="suspended")},
    }[state]
    offer = OfferFactory(**kwargs)
    response = api_client.get(f"/api/v1/offers/{offer.pk}")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such offer."}
    assert not OfferDailyStats.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/offers/999999", "/api/v1/offers/99999999999999999999999"])
def test_detail_of_an_unknown_offer_is_404(api_client, path):
    assert api_client.get(path).status_code == 404
    assert api_client.post(f"{path}/click").status_code == 404


def test_non_numeric_offer_id_is_404(api_client):
    response = api_client.get("/api/v1/offers/abc")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


# --- POST offers/{id}/click ------------------------------------------------------------------------------


def test_click_returns_a_click_id_and_the_destination_carrying_it(api_client, straight_through):
    offer = DealFactory(destination_url="https://shop.example.com/sale?utm_source=us#top")

    response = api_client.post(f"/api/v1/offers/{offer.pk}/click")

    assert response.status_code == 201
    body = response.json()
    click_id = uuid.UUID(body["click_id"])
    assert body["offer_id"] == offer.pk
    assert body["url"] == f"https://shop.example.com/sale?utm_source=us&click_id={click_id}#top"
    click = OfferClick.objects.get()
    assert (click.click_id, click.offer, click.user) == (click_id, offer, None)
    assert len(click.ip_hash) == 64
    assert OfferDailyStats.objects.get(offer=offer).clicks == 1


def test_each_click_gets_its_own_id(api_client, straight_through):
    offer = DealFactory()
    first = api_client.post(f"/api/v1/offers/{offer.pk}/click").json()["click_id"]
    second = api_client.post(f"/api/v1/offers/{offer.pk}/click").json()["click_id"]
    assert first != second
    assert sorted(str(c) for c in OfferClick.objects.values_list("click_id", flat=True)) == sorted([first, second])
    assert OfferDailyStats.objects.get(offer=offer).clicks == 2


def test_click_of_a_signed_in_shopper_records_the_user(api_client, straight_through):
    user = UserFactory()
    api_client.force_authenticate(user)
    offer = DealFactory()
    assert api_client.post(f"/api/v1/offers/{offer.pk}/click").status_code == 201
    assert OfferClick.objects.get().user == user


def test_click_on_a_coupon_without_url_goes_to_the_merchant_website(api_client, straight_through):
    offer = OfferFactory(merchant=MerchantFactory(website="https://acme.example.com"), destination_url="")
    body = api_client.post(f"/api/v1/offers/{offer.pk}/click").json()
    assert body["url"] == f"https://acme.example.com/?click_id={body['click_id']}"


def test_click_replaces_a_click_id_already_in_the_destination(api_client, straight_through):
    offer = DealFactory(destination_url="https://shop.example.com/?click_id=stale&a=1")
    body = api_client.post(f"/api/v1/offers/{offer.pk}/click").json()
    query = parse_qs(urlsplit(body["url"]).query)
    assert query == {"a": ["1"], "click_id": [body["click_id"]]}


def test_click_without_any_destination_is_409(api_client, straight_through):
    offer = OfferFactory(merchant=MerchantFactory(website=""), destination_url="")
    response = api_client.post(f"/api/v1/offers/{offer.pk}/click")
    assert response.status_code == 409
    assert response.json() == {"code": "offer_no_destination", "detail": "This offer has no destination to go to."}
    assert not OfferClick.objects.exists()


def test_click_on_an_offer_that_is_not_live_is_404(api_client):
    offer = DealFactory(is_active=False)
    assert api_client.post(f"/api/v1/offers/{offer.pk}/click").status_code == 404
    assert not OfferClick.objects.exists()


# --- GET offers/trending ---------------------------------------------------------------------------------


def test_trending_ranks_by_recent_clicks_and_views_with_recent_days_weighing_more(api_client):
    today = timezone.localdate()
    # Same activity, but a day apart: the more recent one ranks higher.
    recent = OfferFactory(title="recent")
    older = OfferFactory(title="older")
    OfferDailyStatsFactory(offer=recent, date=today, views=10, clicks=2)
    OfferDailyStatsFactory(offer=older, date=today - timedelta(days=2), views=10, clicks=2)
    # A click weighs five views.
    clicked = OfferFactory(title="clicked")
    OfferDailyStatsFactory(offer=clicked, date=today, views=0, clicks=5)
    viewed = OfferFactory(title="viewed")
    OfferDailyStatsFactory(offer=viewed, date=today, views=24, clicks=0)
    # Activity outside the 7-day window does not count; not-live offers are never trending.
    stale = OfferFactory(title="stale")
    OfferDailyStatsFactory(offer=stale, date=today - timedelta(days=7), views=1000, clicks=1000)
    paused = OfferFactory(title="paused", is_active=False)
    OfferDailyStatsFactory(offer=paused, date=today, views=1000, clicks=1000)
    OfferFactory(title="quiet")

    response = api_client.get("/api/v1/offers/trending")

    assert response.status_code == 200
    body = response.json()
    assert body["window_days"] == 7
    assert [item["title"] for item in body["results"]] == ["clicked", "viewed", "recent", "older"]
    assert [item["trending_score"] for item in body["results"]] == [25.0, 24.0, 20.0, 10.0]


def test_trending_sums_the_days_of_the_window(api_client):
    today = timezone.localdate()
    steady = OfferFactory(title="steady")
    for age in range(7):
        OfferDailyStatsFactory(offer=steady, date=today - timedelta(days=age), views=4)
    burst = OfferFactory(title="burst")
    OfferDailyStatsFactory(offer=burst, date=today, views=12)
    body = api_client.get("/api/v1/offers/trending").json()
    # 4 * (1 + 0.707 + 0.5 + 0.354 + 0.25 + 0.177 + 0.125) = 12.4497 > 12
    assert [item["title"] for item in body["results"]] == ["steady", "burst"]
    assert body["results"][0]["trending_score"] == 12.45


def test_trending_is_cached_for_a_minute(api_client, django_assert_num_queries):
    offer = OfferFactory()
    OfferDailyStatsFactory(offer=offer, views=3)
    assert [item["id"] for item in api_client.get("/api/v1/offers/trending").json()["results"]] == [offer.pk]
    OfferDailyStatsFactory(offer=OfferFactory(), views=100)
    with django_assert_num_queries(0):
        body = api_client.get("/api/v1/offers/trending").json()
    assert [item["id"] for item in body["results"]] == [offer.pk]


def test_trending_is_empty_without_events(api_client):
    OfferFactory(kind=OfferKind.COUPON)
    assert api_client.get("/api/v1/offers/trending").json() == {"window_days": 7, "results": []}


# --- query budgets ---------------------------------------------------------------------------------------


def test_list_page_costs_two_queries_whatever_its_size(api_client, django_assert_num_queries):
    for _ in range(5):
        OfferFactory()
    with django_assert_num_queries(2):  # count + page (merchant joined)
        assert len(ids(api_client.get("/api/v1/offers?expiring_within_days=365"))) == 5


def test_trending_costs_one_query(api_client, django_assert_num_queries):
    for views in (3, 2, 1):
        OfferDailyStatsFactory(offer=OfferFactory(), views=views)
    with django_assert_num_queries(1):
        assert len(api_client.get("/api/v1/offers/trending").json()["results"]) == 3
