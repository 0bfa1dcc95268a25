"""Recommendations against real servers: trigram similarity and the recount's advisory lock on PostgreSQL, and the
endpoint while Redis is down. The rest (``test_recommendations.py``) runs on both databases."""

import threading
import time

import pytest
from django.db import connections, transaction
from django_redis.pool import ConnectionFactory

from commerce.catalog import services as catalog_services
from commerce.catalog.models import ProductStatus
from commerce.core import redis_guard
from commerce.orders.models import CoPurchase
from commerce.orders.services.recommendations import ADVISORY_LOCK_KEY, co_purchases_recount
from tests.catalog.factories import CategoryFactory
from tests.core.test_redis_outage import RedisServer, point_caches_at
from tests.orders.factories import order_build

pytestmark = pytest.mark.django_db


def slugs(cards) -> list[str]:
    return [card["slug"] for card in cards]


@pytest.fixture
def product(make_variant):
    def build(title, *, category, brand="Zed", popularity=0, **fields):
        slug = title.lower().replace(" ", "-")
        variant = make_variant(sku=slug.upper(), title=title, slug=slug, brand=brand, category=category, **fields)
        if popularity:
            catalog_services.product_add_popularity(product_id=variant.product_id, amount=popularity)
        return variant

    return build


@pytest.mark.postgres
def test_similar_ranks_same_brand_then_similar_titles_then_the_popular_category(api_client, product):
    clothing, sale, accessories, garden = (CategoryFactory(slug=slug) for slug in ("clothing", "sale", "acc", "garden"))
    product("Organic Cotton Crew T-Shirt", category=clothing, brand="Acme")
    # Same category and brand, the closer title first (trigram similarity 0.71 and 0.18 to the shirt).
    product("Organic Cotton Crew T-Shirt Long Sleeve", category=clothing, brand="ACME")
    product("Linen Shirt", category=clothing, brand="Acme", popularity=40)
    # Similar titles from any category (0.84 and 0.375).
    product("Organic Cotton Crew T-Shirt Navy", category=sale)
    product("Cotton Crew Socks", category=accessories, popularity=50)
    # The rest of the category by popularity, however alike the title (Cotton Scarf: 0.25, under the threshold).
    product("Wool Scarf", category=clothing, popularity=3)
    product("Denim Jacket", category=clothing, popularity=9)
    product("Cotton Scarf", category=clothing, popularity=1)
    # Never: not alike and elsewhere, or not public, or out of stock.
    product("Garden Hose", category=garden, popularity=99)
    product("Organic Cotton Crew T-Shirt Draft", category=clothing, brand="Acme", status=ProductStatus.DRAFT)
    product("Organic Cotton Crew T-Shirt Empty", category=sale, brand="Acme", stock=0)

    expected = [
        "organic-cotton-crew-t-shirt-long-sleeve",
        "linen-shirt",
        "organic-cotton-crew-t-shirt-navy",
        "cotton-crew-socks",
        "denim-jacket",
        "wool-scarf",
        "cotton-scarf",
    ]
    body = api_client.get("/api/v1/products/organic-cotton-crew-t-shirt/recommendations").json()

    assert slugs(body["similar"]) == expected
    assert body["frequently_bought_together"] == []
    # Each tier contributes only its best `limit` candidates; the ranking over them is the same at every limit.
    for limit in range(1, len(expected) + 1):
        body = api_client.get(f"/api/v1/products/organic-cotton-crew-t-shirt/recommendations?limit={limit}").json()
        assert (limit, slugs(body["similar"])) == (limit, expected[:limit])


@pytest.mark.postgres
def test_a_bought_together_product_is_not_repeated_in_similar_on_postgres(api_client, product):
    clothing = CategoryFactory(slug="clothing")
    shirt = product("Organic Cotton Crew T-Shirt", category=clothing)
    navy = product("Organic Cotton Crew T-Shirt Navy", category=CategoryFactory(slug="sale"))
    product("Denim Jacket", category=clothing)
    order_build(lines=[(shirt, 1), (navy, 1)], status="paid")
    co_purchases_recount()

    body = api_client.get("/api/v1/products/organic-cotton-crew-t-shirt/recommendations").json()

    assert (slugs(body["frequently_bought_together"]), slugs(body["similar"])) == (
        ["organic-cotton-crew-t-shirt-navy"],
        ["denim-jacket"],
    )


@pytest.mark.postgres
def test_a_recount_while_another_runs_is_skipped(product):
    category = CategoryFactory()
    a, b = product("A", category=category), product("B", category=category)
    order_build(lines=[(a, 1), (b, 1)], status="paid")
    held, release = threading.Event(), threading.Event()

    def other_recount() -> None:
        try:
            with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
                held.set()
                release.wait(10)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=other_recount)
    thread.start()
    try:
        assert held.wait(10)
        skipped = co_purchases_recount()
    finally:
        release.set()
        thread.join(10)

    assert (skipped.skipped, skipped.pairs, skipped.created) == (True, 0, 0)
    assert CoPurchase.objects.count() == 0
    done = co_purchases_recount()
    assert (done.skipped, done.created) == (False, 1)
    assert CoPurchase.objects.get().orders == 1


@pytest.fixture
def redis_server(tmp_path, settings):
    redis_guard.reset_state()
    server = RedisServer(tmp_path)
    server.start()
    point_caches_at(settings, server.url)
    yield server
    ConnectionFactory._pools.pop(server.url, None)
    server.kill()
    redis_guard.reset_state()


@pytest.mark.redis
def test_recommendations_are_served_from_the_database_while_redis_is_down(api_client, product, redis_server):
    category = CategoryFactory()
    tee, cap = product("Tee", category=category), product("Cap", category=category)
    product("Polo", category=category)
    order_build(lines=[(tee, 1), (cap, 1)], status="paid")
    co_purchases_recount()
    cached = api_client.get("/api/v1/products/tee/recommendations")
    assert cached.status_code == 200

    redis_server.stop()
    started = time.monotonic()
    again = api_client.get("/api/v1/products/tee/recommendations")
    other = api_client.get("/api/v1/products/cap/recommendations")

    assert time.monotonic() - started < 2.0
    assert (again.status_code, again.json()) == (200, cached.json())
    assert (slugs(again.json()["frequently_bought_together"]), slugs(again.json()["similar"])) == (["cap"], ["polo"])
    assert other.status_code == 200
    assert (slugs(other.json()["frequently_bought_together"]), slugs(other.json()["similar"])) == (["tee"], ["polo"])
