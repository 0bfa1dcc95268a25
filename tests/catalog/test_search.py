from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.catalog import selectors, services, spelling
from commerce.catalog.cache import listing_cache_bump
from commerce.catalog.models import ProductStatus
from tests.catalog.factories import CategoryFactory, MerchantFactory

pytestmark = pytest.mark.django_db

SEARCH_URL = "/api/v1/search"


def slugs(response):
    return [item["slug"] for item in response.json()["results"]]


@pytest.fixture
def faceted(make_product):
    electronics = CategoryFactory(name="Electronics", slug="electronics")
    audio = CategoryFactory(name="Audio", slug="audio", parent=electronics)
    fashion = CategoryFactory(name="Fashion", slug="fashion")
    acme = MerchantFactory(name="Acme", slug="acme")
    bolt = MerchantFactory(name="Bolt", slug="bolt")
    make_product(slug="p1", title="Zen Widget One", category=audio, merchant=acme, brand="Zen", prices=("300.00",))
    make_product(
        slug="p2", title="Nova Widget Two", category=audio, merchant=bolt, brand="Nova", prices=("700.00",), stock=0
    )
    make_product(
        slug="p3", title="Zen Widget Three", category=electronics, merchant=acme, brand="Zen", prices=("1200.00",)
    )
    make_product(slug="p4", title="Nova Widget Four", category=fashion, merchant=bolt, brand="Nova", prices=("6000",))
    make_product(slug="p5", title="Plain Sock", category=fashion, merchant=acme, brand="", prices=("100.00",))
    make_product(slug="p6", title="Hidden Widget", category=fashion, merchant=acme, status=ProductStatus.DRAFT)


def price_counts(body):
    return {band["key"]: band["count"] for band in body["facets"]["price"]}


def test_facets_honour_the_other_filters(api_client, faceted):
    response = api_client.get(SEARCH_URL, {"q": "widget", "brand": "Zen"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert sorted(slugs(response)) == ["p1", "p3"]
    facets = body["facets"]
    # The brand facet ignores the brand filter: the shopper can still switch to Nova.
    assert facets["brand"] == [{"value": "Nova", "count": 2}, {"value": "Zen", "count": 2}]
    # Category counts include descendants: p1 (audio) also counts for electronics.
    assert facets["category"] == [
        {"slug": "electronics", "name": "Electronics", "parent": None, "count": 2},
        {"slug": "audio", "name": "Audio", "parent": "electronics", "count": 1},
    ]
    assert facets["merchant"] == [{"slug": "acme", "name": "Acme", "count": 2}]
    assert price_counts(body) == {"0-500": 1, "500-1000": 0, "1000-2500": 1, "2500-5000": 0, "5000+": 0}
    assert facets["price"][0] == {
        "key": "0-500",
        "min": {"amount": "0.00", "currency": "INR"},
        "max": {"amount": "500.00", "currency": "INR"},
        "count": 1,
    }
    assert facets["price"][-1] == {
        "key": "5000+",
        "min": {"amount": "5000.00", "currency": "INR"},
        "max": None,
        "count": 0,
    }
    assert facets["in_stock"] == {"true": 2, "false": 0}


def test_each_facet_ignores_only_its_own_filter(api_client, faceted):
    body = api_client.get(
        SEARCH_URL, {"q": "widget", "merchant": "bolt", "in_stock": "true", "max_price": "1000"}
    ).json()

    assert body["count"] == 0
    facets = body["facets"]
    # merchant facet: in stock and <= 1000 -> p1 (acme) only.
    assert facets["merchant"] == [{"slug": "acme", "name": "Acme", "count": 1}]
    # stock facet: bolt and <= 1000 -> p2, out of stock.
    assert facets["in_stock"] == {"true": 0, "false": 1}
    # price facet: bolt and in stock -> p4 at 6000.
    assert price_counts(body)["5000+"] == 1
    assert sum(price_counts(body).values()) == 1
    assert facets["brand"] == []
    assert facets["category"] == []


def test_category_filter_in_search_includes_descendants(api_client, faceted):
    body = api_client.get(SEARCH_URL, {"q": "widget", "category": "electronics"}).json()
    assert sorted(item["slug"] for item in body["results"]) == ["p1", "p2", "p3"]
    # The category facet ignores the category filter.
    assert {c["slug"]: c["count"] for c in body["facets"]["category"]} == {"electronics": 3, "audio": 2, "fashion": 1}


def test_search_without_query_browses_with_facets(api_client, faceted):
    body = api_client.get(SEARCH_URL).json()
    assert body["count"] == 5
    assert body["facets"]["in_stock"] == {"true": 4, "false": 1}


def test_search_bad_input(api_client, faceted):
    for params, field in [
        ({"q": "x" * 201}, "q"),
        ({"q": "widget", "ordering": "best"}, "ordering"),
        ({"q": "widget", "min_price": "10", "max_price": "5"}, "min_price"),
        ({"q": "widget", "category": "nope"}, "category"),
        ({"q": "widget", "page": "5"}, "page"),
    ]:
        response = api_client.get(SEARCH_URL, params)
        assert response.status_code == 400, params
        assert list(response.json()["fields"]) == [field]


def test_search_pagination_uses_the_facet_total(api_client, make_product):
    for n in range(5):
        make_product(slug=f"w{n}", title=f"Widget {n}")
    body = api_client.get(SEARCH_URL, {"q": "widget", "page_size": 2, "page": 3, "ordering": "newest"}).json()
    assert body["count"] == 5
    assert body["next"] is None
    assert slugs_of(body) == ["w0"]


def slugs_of(body):
    return [item["slug"] for item in body["results"]]


def _search_queries(api_client, params):
    with CaptureQueriesContext(connection) as ctx:
        response = api_client.get(SEARCH_URL, params)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()


def test_search_with_facets_query_budget(api_client, make_product):
    category = CategoryFactory(slug="gear")
    merchant = MerchantFactory(slug="shop")
    make_product(title="Widget 0", category=category, merchant=merchant)
    params = {"q": "widget", "category": "gear", "merchant": "shop", "in_stock": "true", "page_size": 50}

    cache.clear()
    cold, body = _search_queries(api_client, params)
    assert body["count"] == 1
    assert cold <= 6
    cached, _ = _search_queries(api_client, params)
    assert cached == 0  # the same listing again is served whole from the cache
    listing_cache_bump()
    one, _ = _search_queries(api_client, params)
    for n in range(1, 50):
        make_product(title=f"Widget {n}", category=category, merchant=merchant)
    fifty, body = _search_queries(api_client, params)
    assert len(body["results"]) == 50
    assert one == fifty == 3  # facets with the total (one UNION ALL statement), page, images


def test_listing_cache_is_invalidated_by_a_product_change(api_client, make_product):
    product = make_product(title="Widget", prices=("100.00",))
    first = api_client.get("/api/v1/products").json()
    assert first["results"][0]["min_price"] == {"amount": "100.00", "currency": "INR"}
    variant = product.variants.get()
    variant.price = "80.00"
    services.variant_save(variant=variant)
    second = api_client.get("/api/v1/products").json()
    assert second["results"][0]["min_price"] == {"amount": "80.00", "currency": "INR"}
    searched = api_client.get(SEARCH_URL, {"q": "widget"}).json()
    assert searched["results"][0]["min_price"] == {"amount": "80.00", "currency": "INR"}


def test_substring_fallback_search(api_client, make_product, monkeypatch):
    """The non-PostgreSQL path (what SQLite uses), forced on whatever database runs the suite."""
    monkeypatch.setattr(selectors, "is_postgres", lambda: False)
    audio = CategoryFactory(name="Audio", slug="audio")
    make_product(slug="title", title="Studio Headphones", description="Closed back.")
    make_product(slug="desc", title="DJ Kit", description="Comes with headphones and a mixer.")
    make_product(slug="cat", title="Boom Box", category=audio)
    make_product(slug="brand", title="Cable", brand="Audiophile")
    make_product(slug="none", title="Teapot", description="Porcelain.")
    make_product(slug="draft", title="Draft Headphones", status=ProductStatus.DRAFT)

    assert slugs(api_client.get(SEARCH_URL, {"q": "headphones"})) == ["title", "desc"]
    assert slugs(api_client.get(SEARCH_URL, {"q": "HEADPHONES"})) == ["title", "desc"]
    # Every word must match somewhere; a title match ranks first.
    assert slugs(api_client.get(SEARCH_URL, {"q": "headphones mixer"})) == ["desc"]
    assert sorted(slugs(api_client.get(SEARCH_URL, {"q": "audio"}))) == ["brand", "cat"]
    assert slugs(api_client.get(SEARCH_URL, {"q": "phone"})) == ["title", "desc"]
    body = api_client.get(SEARCH_URL, {"q": "headphones"}).json()
    assert body["count"] == 2
    assert body["facets"]["in_stock"] == {"true": 2, "false": 0}


def test_products_list_accepts_q(api_client, make_product, monkeypatch):
    monkeypatch.setattr(selectors, "is_postgres", lambda: False)
    make_product(slug="a", title="Red Kettle")
    make_product(slug="b", title="Blue Mug")
    assert slugs(api_client.get("/api/v1/products", {"q": "kettle"})) == ["a"]


def test_autocomplete_returns_products_categories_and_merchants(api_client, make_product, monkeypatch):
    monkeypatch.setattr(selectors, "is_postgres", lambda: False)
    CategoryFactory(name="Headphones", slug="headphones")
    CategoryFactory(name="Hats", slug="hats")
    MerchantFactory(name="Head Start Audio", slug="head-start")
    make_product(slug="p1", title="Headphones Pro")
    make_product(slug="p2", title="Over-ear headphones")
    make_product(slug="p3", title="Hidden Headset", status=ProductStatus.DRAFT)

    response = api_client.get("/api/v1/search/autocomplete", {"q": "head"})

    assert response.status_code == 200
    body = response.json()
    assert body["products"] == [
        {"slug": "p1", "title": "Headphones Pro"},
        {"slug": "p2", "title": "Over-ear headphones"},
    ]
    assert body["categories"] == [{"slug": "headphones", "name": "Headphones"}]
    assert body["merchants"] == [{"slug": "head-start", "name": "Head Start Audio"}]


# --- Typo tolerance and did_you_mean in the embedded default (rapidfuzz) --------------------------------------


@pytest.fixture
def embedded_search(monkeypatch):
    """The non-PostgreSQL search path (what SQLite uses), forced on whatever database runs the suite."""
    monkeypatch.setattr(selectors, "is_postgres", lambda: False)


@pytest.fixture
def audio_shop(make_product):
    audio = CategoryFactory(name="Audio", slug="audio")
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    acme = MerchantFactory(name="Acme", slug="acme")
    make_product(
        slug="hp", title="Studio Headphones", brand="Sonora", category=audio, merchant=acme, description="Closed."
    )
    make_product(slug="dj", title="DJ Kit", category=audio, merchant=acme, description="With headphones and a mixer.")
    make_product(slug="kettle", title="Electric Kettle", brand="Brewmaster", category=kitchen, merchant=acme)
    make_product(slug="draft", title="Draft Headphones", merchant=acme, category=audio, status=ProductStatus.DRAFT)


def test_typo_finds_headphones_in_the_embedded_default(api_client, embedded_search, audio_shop):
    body = api_client.get(SEARCH_URL, {"q": "headphnes"}).json()

    # The title match through the corrected word ranks above the description match.
    assert slugs_of(body) == ["hp", "dj"]
    assert body["count"] == 2
    assert body["did_you_mean"] is None
    assert body["facets"]["in_stock"] == {"true": 2, "false": 0}


def test_typos_in_brands_category_names_and_several_words(api_client, embedded_search, audio_shop):
    assert slugs(api_client.get(SEARCH_URL, {"q": "sonra"})) == ["hp"]  # brand Sonora
    assert slugs(api_client.get(SEARCH_URL, {"q": "kitchn"})) == ["kettle"]  # category Kitchen
    assert slugs(api_client.get(SEARCH_URL, {"q": "electrik kettel"})) == ["kettle"]
    assert slugs(api_client.get(SEARCH_URL, {"q": "STUDIO HEADPHNOES"})) == ["hp"]
    assert slugs(api_client.get("/api/v1/products", {"q": "headphnes", "ordering": "newest"})) == ["dj", "hp"]


def test_correction_never_drops_what_the_typed_word_finds(api_client, embedded_search, audio_shop):
    # "mixer" is only in a description: not in the vocabulary, but the word itself still matches.
    assert slugs(api_client.get(SEARCH_URL, {"q": "mixer"})) == ["dj"]
    # Words under four letters are never corrected: "hed" is not taken for "headphones".
    assert slugs(api_client.get(SEARCH_URL, {"q": "hed"})) == []
    assert api_client.get(SEARCH_URL, {"q": "hed"}).json()["did_you_mean"] is None


def test_no_hit_query_answers_did_you_mean(api_client, embedded_search, audio_shop):
    # Too far for an automatic correction (rapidfuzz ratio 77.8), close enough to suggest.
    body = api_client.get(SEARCH_URL, {"q": "hedfones"}).json()
    assert body["count"] == 0
    assert body["results"] == []
    assert body["did_you_mean"] == "headphones"

    assert api_client.get(SEARCH_URL, {"q": "studio hedfones"}).json()["did_you_mean"] == "studio headphones"
    assert slugs(api_client.get(SEARCH_URL, {"q": "studio headphones"})) == ["hp"]


def test_did_you_mean_is_null_when_nothing_is_close_or_already_searched(api_client, embedded_search, audio_shop):
    assert api_client.get(SEARCH_URL, {"q": "zzyzx"}).json()["did_you_mean"] is None
    # "headphnes" was already searched as "headphones": none in the kitchen, so nothing better to suggest.
    body = api_client.get(SEARCH_URL, {"q": "headphnes", "category": "kitchen"}).json()
    assert body["count"] == 0
    assert body["did_you_mean"] is None
    # A hit never carries a suggestion.
    assert api_client.get(SEARCH_URL, {"q": "kettle"}).json()["did_you_mean"] is None
    assert api_client.get(SEARCH_URL).json()["did_you_mean"] is None


def test_vocabulary_follows_the_catalog_within_its_ttl(api_client, embedded_search, make_product, settings):
    # Time travel cannot move a Redis server's clock: expire entries in process memory for this test.
    settings.CACHES = {
        alias: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "vocabulary-ttl"}
        for alias in settings.CACHES
    }
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    merchant = MerchantFactory(slug="brew")
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), tick=False) as traveller:
        make_product(slug="kettle", title="Electric Kettle", category=kitchen, merchant=merchant)
        assert slugs(api_client.get(SEARCH_URL, {"q": "kettel"})) == ["kettle"]
        make_product(slug="teapot", title="Porcelain Teapot", category=kitchen, merchant=merchant)
        # The new title is searchable at once; its words join the typo vocabulary within VOCABULARY_TTL.
        assert slugs(api_client.get(SEARCH_URL, {"q": "teapot"})) == ["teapot"]
        assert slugs(api_client.get(SEARCH_URL, {"q": "teapto"})) == []
        traveller.shift(selectors.VOCABULARY_TTL + 1)
        assert slugs(api_client.get(SEARCH_URL, {"q": "teapto"})) == ["teapot"]


def test_category_rename_renews_the_vocabulary_at_once(api_client, embedded_search, make_product):
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    make_product(slug="kettle", title="Electric Kettle", category=kitchen)
    assert slugs(api_client.get(SEARCH_URL, {"q": "cokware"})) == []
    kitchen.name = "Cookware"
    services.category_save(category=kitchen)
    assert slugs(api_client.get(SEARCH_URL, {"q": "cokware"})) == ["kettle"]


def test_vocabulary_holds_public_titles_brands_and_category_names(embedded_search, audio_shop):
    # Not "draft" (a draft product), not "dj" (two letters), no description words.
    expected = {"studio", "headphones", "sonora", "audio", "kit", "acme", "electric", "kettle", "brewmaster", "kitchen"}
    assert selectors.search_vocabulary().words == tuple(sorted(expected))


def test_typo_search_query_budget(api_client, embedded_search, audio_shop):
    cache.clear()
    cold, body = _search_queries(api_client, {"q": "headphnes"})
    assert body["count"] == 2
    # Cold caches add the vocabulary and the category and merchant indexes to facets, page and images: the
    # search budget of 6 holds with typo tolerance.
    assert cold <= 6
    listing_cache_bump()
    warm, _ = _search_queries(api_client, {"q": "headphnes"})
    assert warm == 3  # the vocabulary stays cached across listing changes: facets, page, images
    listing_cache_bump()
    no_hit, body = _search_queries(api_client, {"q": "hedfones"})
    assert body["did_you_mean"] == "headphones"
    assert no_hit == 1  # facets only: no page to fetch, and the suggestion comes from the cached vocabulary


def test_autocomplete_requires_a_short_q(api_client):
    assert list(api_client.get("/api/v1/search/autocomplete").json()["fields"]) == ["q"]
    assert api_client.get("/api/v1/search/autocomplete", {"q": "x" * 201}).status_code == 400


def test_autocomplete_query_budget(api_client, make_product, django_assert_max_num_queries):
    for n in range(10):
        make_product(title=f"Lamp {n}")
    cache.clear()
    with django_assert_max_num_queries(3):  # products, category index, merchant index
        response = api_client.get("/api/v1/search/autocomplete", {"q": "lamp"})
    assert len(response.json()["products"]) == 5


# --- PostgreSQL: full-text ranking and trigram typo tolerance ---------------------------------------------


@pytest.mark.postgres
def test_title_match_ranks_above_description_match(api_client, make_product):
    make_product(slug="desc", title="DJ Kit", description="Comes with headphones and a mixer.")
    make_product(slug="title", title="Studio Headphones", description="Closed back, for mixing.")
    make_product(slug="none", title="Teapot", description="Porcelain.")

    assert slugs(api_client.get(SEARCH_URL, {"q": "headphones"})) == ["title", "desc"]


@pytest.mark.postgres
def test_brand_and_category_names_are_searchable_and_rank_between(api_client, make_product):
    audio = CategoryFactory(name="Audio", slug="audio")
    make_product(slug="desc", title="Cable", description="Great audio quality.")
    make_product(slug="cat", title="Boom Box", category=audio)
    make_product(slug="title", title="Audio Interface")

    assert slugs(api_client.get(SEARCH_URL, {"q": "audio"})) == ["title", "cat", "desc"]


@pytest.mark.postgres
def test_stemming_matches_word_forms(api_client, make_product):
    make_product(slug="run", title="Trail Running Shoes")
    assert slugs(api_client.get(SEARCH_URL, {"q": "runs"})) == ["run"]


@pytest.mark.postgres
def test_typo_finds_the_product_through_trigrams(api_client, make_product):
    make_product(slug="hp", title="Wireless Headphones")
    make_product(slug="other", title="Garden Hose")

    body = api_client.get(SEARCH_URL, {"q": "headphnoes"}).json()
    assert [item["slug"] for item in body["results"]] == ["hp"]
    assert body["count"] == 1


@pytest.mark.postgres
def test_exact_matches_rank_above_typo_matches(api_client, make_product):
    make_product(slug="fuzzy", title="Headphone Stand")
    make_product(slug="exact", title="Wireless Headphones", description="Headphones with noise cancelling.")
    assert slugs(api_client.get(SEARCH_URL, {"q": "headphones"}))[0] == "exact"


@pytest.mark.postgres
def test_search_vector_follows_category_rename(api_client, make_product):
    category = CategoryFactory(name="Audio", slug="audio")
    make_product(slug="box", title="Boom Box", category=category)
    assert slugs(api_client.get(SEARCH_URL, {"q": "speakers"})) == []
    category.name = "Speakers"
    services.category_save(category=category)
    assert slugs(api_client.get(SEARCH_URL, {"q": "speakers"})) == ["box"]


@pytest.mark.postgres
def test_facets_on_postgres_full_text(api_client, faceted):
    body = api_client.get(SEARCH_URL, {"q": "widgets", "brand": "Nova"}).json()
    assert sorted(item["slug"] for item in body["results"]) == ["p2", "p4"]
    assert body["facets"]["brand"] == [{"value": "Nova", "count": 2}, {"value": "Zen", "count": 2}]
    assert body["facets"]["in_stock"] == {"true": 1, "false": 1}


@pytest.mark.postgres
def test_autocomplete_tolerates_typos_on_postgres(api_client, make_product):
    make_product(slug="hp", title="Wireless Headphones")
    make_product(slug="hose", title="Garden Hose")
    body = api_client.get("/api/v1/search/autocomplete", {"q": "headphnes"}).json()
    assert body["products"] == [{"slug": "hp", "title": "Wireless Headphones"}]


@pytest.mark.postgres
def test_search_uses_the_stored_vector_with_a_gin_index():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'catalog_product' AND indexdef LIKE '%gin%'"
        )
        indexes = dict(cursor.fetchall())
    assert "catalog_product_search_gin" in indexes
    assert "gin_trgm_ops" in indexes["catalog_product_title_trgm"]


@pytest.mark.postgres
def test_headphnes_finds_headphones_on_postgres(api_client, make_product):
    make_product(slug="hp", title="Wireless Headphones")
    make_product(slug="hose", title="Garden Hose")
    body = api_client.get(SEARCH_URL, {"q": "headphnes"}).json()
    assert slugs_of(body) == ["hp"]
    assert body["did_you_mean"] is None


@pytest.mark.postgres
def test_did_you_mean_on_postgres_comes_from_trigram_similarity(api_client, make_product, monkeypatch):
    def no_rapidfuzz(*args, **kwargs):
        raise AssertionError("PostgreSQL suggests with pg_trgm")

    monkeypatch.setattr(spelling, "corrections", no_rapidfuzz)
    make_product(slug="hp", title="Wireless Headphones", brand="Sonora")
    make_product(slug="hose", title="Garden Hose")

    body = api_client.get(SEARCH_URL, {"q": "hedfones"}).json()
    assert body["count"] == 0
    assert body["did_you_mean"] == "headphones"
    assert slugs(api_client.get(SEARCH_URL, {"q": body["did_you_mean"]})) == ["hp"]
    assert api_client.get(SEARCH_URL, {"q": "snora"}).json()["did_you_mean"] == "sonora"
    assert api_client.get(SEARCH_URL, {"q": "zzyzx"}).json()["did_you_mean"] is None


@pytest.mark.postgres
def test_did_you_mean_query_budget_on_postgres(api_client, make_product):
    make_product(slug="hp", title="Wireless Headphones")
    api_client.get(SEARCH_URL, {"q": "wireless"})  # warm caches (vocabulary, category and merchant indexes)
    selectors.search_vocabulary()
    queries, body = _search_queries(api_client, {"q": "hedfones"})
    assert body["did_you_mean"] == "headphones"
    assert queries == 2  # facets, and one similarity statement for every unknown word
