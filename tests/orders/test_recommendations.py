"""Recommendations: the co-purchase recount (what counts, idempotence, vanished pairs, the window, the task) and
``GET products/{slug}/recommendations`` (exact lists, public and in-stock only, no duplicates, limit, 404s, cache,
query budgets). PostgreSQL's trigram ordering and the recount's lock are in ``test_recommendations_postgres.py``."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.catalog import services as catalog_services
from commerce.catalog.models import Category, MerchantStatus, Product, ProductStatus, ProductVariant
from commerce.core.api import shape
from commerce.orders.models import CoPurchase, OrderStatus, PaymentStatus
from commerce.orders.recommendations import DEFAULT_LIMIT, RANKING_TTL, recommendations_cache_key
from commerce.orders.services.recommendations import co_purchases_recount
from commerce.orders.services.transitions import order_cancel, order_record_refund
from commerce.orders.tasks import recount_co_purchases
from tests.catalog.factories import CategoryFactory, MerchantFactory, ProductImageFactory, ProductVariantFactory
from tests.orders.factories import order_build

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def clothing(db):
    return CategoryFactory(name="Clothing", slug="clothing")


@pytest.fixture
def item(make_variant, clothing):
    """``item("tee", brand="Acme", stock=10, category=clothing, popularity=0)``: a public product with one variant
    (SKU the slug in capitals) and one image; returns the variant."""

    def build(slug, *, brand="Acme", stock=10, category=None, popularity=0, title=None, **fields):
        variant = make_variant(
            sku=slug.upper(),
            stock=stock,
            category=category or clothing,
            title=title or slug.replace("-", " ").title(),
            slug=slug,
            brand=brand,
            **fields,
        )
        ProductImageFactory(product=variant.product)
        if popularity:
            catalog_services.product_add_popularity(product_id=variant.product_id, amount=popularity)
        return variant

    return build


def paid(*variants, status=OrderStatus.PAID, **kwargs):
    return order_build(lines=[(variant, 1) for variant in variants], status=status, **kwargs)


def pairs() -> dict[tuple[str, str], int]:
    """The stored counts by product slugs."""
    return {
        (row.product_low.slug, row.product_high.slug): row.orders
        for row in CoPurchase.objects.select_related("product_low", "product_high")
    }


def url(slug: str, query: str = "") -> str:
    return f"/api/v1/products/{slug}/recommendations{query}"


def lists(response) -> tuple[list[str], list[str]]:
    body = response.json()
    return (
        [card["slug"] for card in body["frequently_bought_together"]],
        [card["slug"] for card in body["similar"]],
    )


# --- the recount ------------------------------------------------------------------------------------------


def test_recount_counts_orders_that_were_paid_and_not_refunded_in_full(item):
    a, b, c, d = item("a"), item("b"), item("c"), item("d")
    paid(a, b)
    paid(a, b, c, status=OrderStatus.FULFILLED)
    paid(a, c, status=OrderStatus.DELIVERED)
    paid(b, c, payment_status=PaymentStatus.PARTIALLY_REFUNDED)  # one item went back: still bought together
    paid(c, d, payment_status=PaymentStatus.REFUNDED)  # everything went back
    paid(a, d, status=OrderStatus.PENDING_PAYMENT)
    paid(a, d, status=OrderStatus.CANCELLED)
    paid(b, d, status=OrderStatus.EXPIRED)
    paid(d)  # a single product makes no pair

    result = co_purchases_recount()

    assert pairs() == {("a", "b"): 2, ("a", "c"): 2, ("b", "c"): 2}
    assert (result.pairs, result.created, result.updated, result.deleted, result.skipped) == (3, 3, 0, 0, False)
    assert all(row.product_low_id < row.product_high_id for row in CoPurchase.objects.all())


def test_an_order_counts_once_per_pair_whatever_its_lines(item, make_variant):
    a, b = item("a"), item("b")
    a_large = ProductVariantFactory(product=a.product, sku="A-L", price=Decimal("599.00"))
    order_build(lines=[(a, 2), (a_large, 3), (b, 5)], status=OrderStatus.PAID)

    co_purchases_recount()

    assert pairs() == {("a", "b"): 1}


def test_recount_is_idempotent(item):
    a, b, c = item("a"), item("b"), item("c")
    paid(a, b, c)
    paid(a, b)
    co_purchases_recount()
    before = {(row.pk, row.product_low_id, row.product_high_id, row.orders) for row in CoPurchase.objects.all()}

    again = co_purchases_recount()

    assert (again.pairs, again.created, again.updated, again.deleted, again.changed) == (3, 0, 0, 0, False)
    assert {(row.pk, row.product_low_id, row.product_high_id, row.orders) for row in CoPurchase.objects.all()} == (
        before
    )


def test_recount_updates_counts_and_removes_pairs_that_no_longer_occur(item):
    a, b, c = item("a"), item("b"), item("c")
    first = paid(a, b)
    paid(a, b)
    third = paid(b, c)
    co_purchases_recount()
    assert pairs() == {("a", "b"): 2, ("b", "c"): 1}

    order_cancel(order_id=first.pk, reason="Changed my mind.")  # paid, then cancelled: no longer bought
    order_record_refund(order_id=third.pk, amount=third.total)  # refunded in full
    paid(a, c)
    result = co_purchases_recount()

    assert pairs() == {("a", "b"): 1, ("a", "c"): 1}
    assert (result.pairs, result.created, result.updated, result.deleted) == (2, 1, 1, 1)


def test_a_partial_refund_keeps_the_pair(item):
    a, b = item("a"), item("b")
    order = paid(a, b)
    order_record_refund(order_id=order.pk, amount=Decimal("1.00"))

    co_purchases_recount()

    assert pairs() == {("a", "b"): 1}


def test_recount_removes_rows_no_order_supports(item):
    a, b, c = item("a"), item("b"), item("c")
    paid(a, b)
    CoPurchase.objects.create(product_low=b.product, product_high=c.product, orders=7)

    result = co_purchases_recount()

    assert pairs() == {("a", "b"): 1}
    assert result.deleted == 1


def test_orders_older_than_the_window_stop_counting(item, frozen, settings):
    a, b, c = item("a"), item("b"), item("c")
    paid(a, b, placed_at=NOW - timedelta(days=365))
    paid(a, c, placed_at=NOW - timedelta(days=30))
    co_purchases_recount()
    assert pairs() == {("a", "b"): 1, ("a", "c"): 1}

    frozen.shift(timedelta(days=1))
    co_purchases_recount()
    assert pairs() == {("a", "c"): 1}

    settings.ORDER_CO_PURCHASE_WINDOW_DAYS = 30
    co_purchases_recount()
    assert pairs() == {}


def test_the_periodic_task_runs_the_recount(item):
    a, b = item("a"), item("b")
    paid(a, b)

    assert recount_co_purchases() == {"pairs": 1, "created": 1, "updated": 0, "deleted": 0, "skipped": 0}
    assert recount_co_purchases() == {"pairs": 1, "created": 0, "updated": 0, "deleted": 0, "skipped": 0}
    assert pairs() == {("a", "b"): 1}


def test_the_recount_costs_the_same_queries_for_few_and_many_pairs(item):
    def queries_of_a_recount(size: int) -> int:
        variants = [item(f"p{size}-{number}") for number in range(size)]
        for first, second in pairwise(variants):
            paid(first, second)
        with CaptureQueriesContext(connection) as queries:
            result = co_purchases_recount()
        assert result.created == size - 1
        return len(queries)

    # Savepoint, (the advisory lock on PostgreSQL,) the aggregate, the stored rows, one upsert, release.
    expected = 6 if connection.vendor == "postgresql" else 5
    assert (queries_of_a_recount(2), queries_of_a_recount(30)) == (expected, expected)


# --- the endpoint -----------------------------------------------------------------------------------------


@pytest.fixture
def shop(item, clothing):
    """A tee bought with several products, and neighbours in its category and elsewhere."""
    shoes = CategoryFactory(name="Shoes", slug="shoes")
    tee = item("tee", brand="Acme", popularity=5, stock=50)
    socks = item("socks", brand="Acme", category=shoes)  # bought with the tee 3 times
    cap = item("cap", brand="Acme")  # bought with the tee twice; same category and brand too
    belt = item("belt", brand="Other", category=shoes)  # bought with the tee once
    draft = item("draft-scarf", status=ProductStatus.DRAFT)  # bought with the tee 4 times, not public
    sold_out = item("sold-out-hat")  # bought with the tee 4 times, then out of stock
    suspended = item("far-shirt", merchant=MerchantFactory(slug="gone", status=MerchantStatus.SUSPENDED))
    item("polo", brand="acme", popularity=1)  # same category and brand (case-insensitive)
    item("hoodie", brand="Acme", popularity=3)
    item("jeans", brand="Other", popularity=9)  # same category only: the popular fill
    item("chinos", brand="", popularity=2)
    item("sandals", brand="Acme", category=shoes, popularity=50)  # another category: never "similar" on SQLite
    item("draft-polo", brand="Acme", status=ProductStatus.DRAFT)
    item("empty-polo", brand="Acme", stock=0)
    for _ in range(3):
        paid(tee, socks)
    paid(tee, cap)
    paid(tee, cap, belt)
    for _ in range(4):
        paid(tee, draft, sold_out, suspended)
    catalog_services.variant_stock_set_on_hand(variant_id=sold_out.pk, on_hand=0, reason="Stock count")
    co_purchases_recount()
    return tee


def test_recommendations_exact_lists(api_client, shop):
    response = api_client.get(url("tee"))

    assert response.status_code == 200
    assert lists(response) == (["socks", "cap", "belt"], ["hoodie", "polo", "jeans", "chinos"])
    assert response["Cache-Control"] == "public, max-age=60"


def test_cards_have_the_shape_of_the_product_list(api_client, shop):
    cards = {card["slug"]: card for card in api_client.get("/api/v1/products?category=clothing").json()["results"]}
    body = api_client.get(url("tee")).json()

    assert body["similar"][0] == cards["hoodie"]
    assert body["frequently_bought_together"][1] == cards["cap"]
    assert body["similar"][0]["min_price"] == {"amount": "499.00", "currency": "INR"}
    assert set(body) == {"frequently_bought_together", "similar"}


def test_recommendations_of_a_product_without_orders_fall_back_to_its_category(api_client, shop):
    assert lists(api_client.get(url("polo"))) == ([], ["tee", "hoodie", "cap", "jeans", "chinos"])


def test_an_out_of_stock_product_still_gets_recommendations_but_is_never_recommended(api_client, shop):
    assert lists(api_client.get(url("sold-out-hat"))) == (
        ["tee"],
        ["hoodie", "polo", "cap", "jeans", "chinos"],
    )


def test_limit_caps_each_list(api_client, shop):
    assert lists(api_client.get(url("tee", "?limit=2"))) == (["socks", "cap"], ["hoodie", "polo"])
    assert lists(api_client.get(url("tee", "?limit=1"))) == (["socks"], ["hoodie"])
    assert lists(api_client.get(url("tee", "?limit=20"))) == (
        ["socks", "cap", "belt"],
        ["hoodie", "polo", "jeans", "chinos"],
    )


@pytest.mark.parametrize("value", ["0", "21", "-1", "abc", "1.5", "٣", "99999999999999999999", " 3"])
def test_a_bad_limit_is_400(api_client, shop, value):
    response = api_client.get(url("tee"), {"limit": value})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["limit"]


def test_an_empty_limit_means_the_default(api_client, shop):
    assert lists(api_client.get(url("tee", "?limit="))) == lists(api_client.get(url("tee")))


@pytest.mark.parametrize("slug", ["nope", "draft-scarf", "far-shirt"], ids=["unknown", "draft", "suspended-merchant"])
def test_unknown_or_non_public_products_are_404(api_client, shop, slug):
    response = api_client.get(url(slug))

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such product."}


def test_a_slug_the_route_does_not_accept_is_404(api_client, shop):
    response = api_client.get("/api/v1/products/t%C3%A9e/recommendations")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_only_reads_are_allowed(api_client, shop):
    assert api_client.post(url("tee"), {}, format="json").status_code == 405


def test_query_budget_on_a_miss_and_none_on_a_hit(api_client, shop, django_assert_num_queries):
    # The product; the ranking: bought-together ids, similar ids; the cards with merchant and category; images.
    with django_assert_num_queries(5):
        assert api_client.get(url("tee")).status_code == 200
    with django_assert_num_queries(0):
        assert api_client.get(url("tee")).status_code == 200
    with django_assert_num_queries(3):  # another page size: the ranking is cached, the response is not
        assert lists(api_client.get(url("tee", "?limit=1"))) == (["socks"], ["hoodie"])


def test_a_stock_change_elsewhere_costs_three_queries_not_a_new_ranking(api_client, shop, django_assert_num_queries):
    first = api_client.get(url("tee")).json()
    other = ProductVariant.objects.get(sku="SANDALS")
    catalog_services.variant_stock_set_on_hand(variant_id=other.pk, on_hand=3, reason="Stock count")

    with django_assert_num_queries(3):  # the product, the cards, the images
        again = api_client.get(url("tee"))
    assert again.json() == first


def test_the_budget_does_not_grow_with_the_cards(api_client, item, django_assert_num_queries):
    tee = item("tee", stock=50)
    for number in range(12):
        other = item(f"other-{number}")
        paid(tee, other)
        item(f"similar-{number}")
    co_purchases_recount()

    with django_assert_num_queries(5):
        response = api_client.get(url("tee", "?limit=20"))
    assert [len(cards) for cards in response.json().values()] == [12, 12]


def test_a_product_with_nothing_to_recommend_costs_three_queries(api_client, item, django_assert_num_queries):
    item("lonely")
    with django_assert_num_queries(3):  # the product, and the (empty) ranking
        assert lists(api_client.get(url("lonely"))) == ([], [])
    with django_assert_num_queries(1):  # the ranking cached, another page size: the product alone
        assert lists(api_client.get(url("lonely", "?limit=3"))) == ([], [])


def test_not_modified_when_the_etag_matches(api_client, shop):
    etag = api_client.get(url("tee"))["ETag"]

    response = api_client.get(url("tee"), HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response["ETag"] == etag


def test_a_stock_change_shows_at_once(api_client, shop):
    assert lists(api_client.get(url("tee")))[0] == ["socks", "cap", "belt"]
    socks = ProductVariant.objects.get(sku="SOCKS")

    catalog_services.variant_stock_set_on_hand(variant_id=socks.pk, on_hand=0, reason="Stock count")

    assert lists(api_client.get(url("tee")))[0] == ["cap", "belt"]


def test_a_recount_that_changed_counts_shows_at_once(api_client, shop, django_capture_on_commit_callbacks):
    assert lists(api_client.get(url("tee")))[0] == ["socks", "cap", "belt"]
    belt = ProductVariant.objects.get(sku="BELT")
    for _ in range(4):
        paid(shop, belt)

    assert lists(api_client.get(url("tee")))[0] == ["socks", "cap", "belt"]  # counts move only with the recount
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        co_purchases_recount()
    assert len(callbacks) == 1
    assert lists(api_client.get(url("tee")))[0] == ["belt", "socks", "cap"]


def test_ties_go_to_the_more_popular_product(api_client, item):
    tee, a, b = item("tee"), item("a", category=CategoryFactory()), item("b", category=CategoryFactory())
    paid(tee, a)
    paid(tee, b)
    catalog_services.product_add_popularity(product_id=a.product_id, amount=2)
    co_purchases_recount()

    assert lists(api_client.get(url("tee")))[0] == ["a", "b"]


def test_an_unpublished_product_disappears_at_once(api_client, shop):
    assert lists(api_client.get(url("tee")))[1] == ["hoodie", "polo", "jeans", "chinos"]
    hoodie = Product.objects.get(slug="hoodie")

    catalog_services.product_set_status(product=hoodie, status=ProductStatus.DRAFT)

    assert lists(api_client.get(url("tee")))[1] == ["polo", "jeans", "chinos"]


def test_a_body_cached_under_an_older_response_shape_is_not_served(api_client, shop, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(shape, "RESPONSE_SHAPE_VERSION", shape.RESPONSE_SHAPE_VERSION - 1)
        old_key = recommendations_cache_key(slug="tee", limit=DEFAULT_LIMIT)
    cache.set(old_key, {"data": {"similar": "old"}, "etag": '"old"'}, timeout=600)

    response = api_client.get(url("tee"))

    assert old_key != recommendations_cache_key(slug="tee", limit=DEFAULT_LIMIT)
    assert lists(response) == (["socks", "cap", "belt"], ["hoodie", "polo", "jeans", "chinos"])
    assert response["ETag"] != '"old"'


def test_a_recommended_product_that_sells_out_gives_way_to_the_next_at_once(api_client, shop):
    assert lists(api_client.get(url("tee", "?limit=2"))) == (["socks", "cap"], ["hoodie", "polo"])

    for sku in ("SOCKS", "HOODIE"):
        variant = ProductVariant.objects.get(sku=sku)
        catalog_services.variant_stock_set_on_hand(variant_id=variant.pk, on_hand=0, reason="Stock count")

    assert lists(api_client.get(url("tee", "?limit=2"))) == (["cap", "belt"], ["polo", "jeans"])


def test_a_new_product_enters_the_ranking_when_it_is_renewed(api_client, shop, item, frozen, settings):
    # A local cache, whose expiry follows the frozen clock (a Redis server keeps its own time).
    settings.CACHES = {
        alias: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "recommendations-ttl"}
        for alias in ("default", "strict")
    }
    assert lists(api_client.get(url("tee")))[1] == ["hoodie", "polo", "jeans", "chinos"]
    item("parka", brand="Acme", popularity=100)

    # Shown at once where a ranking is made now, not yet in the tee's cached ranking.
    assert lists(api_client.get(url("polo")))[1][0] == "parka"
    assert lists(api_client.get(url("tee")))[1] == ["hoodie", "polo", "jeans", "chinos"]

    frozen.shift(timedelta(seconds=RANKING_TTL + 1))
    assert lists(api_client.get(url("tee")))[1] == ["parka", "hoodie", "polo", "jeans", "chinos"]


def test_editing_the_product_itself_ranks_again_at_once(api_client, shop):
    assert lists(api_client.get(url("tee")))[1] == ["hoodie", "polo", "jeans", "chinos"]
    tee = Product.objects.get(slug="tee")

    tee.category = Category.objects.get(slug="shoes")
    catalog_services.product_save(product=tee)

    # Now a shoe: its category's products, sandals (same brand) first; socks and belt stay bought together.
    assert lists(api_client.get(url("tee"))) == (["socks", "cap", "belt"], ["sandals"])
