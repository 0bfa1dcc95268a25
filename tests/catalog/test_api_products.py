from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.catalog import services
from commerce.catalog.models import MerchantStatus, ProductStatus
from tests.catalog.factories import CategoryFactory, MerchantFactory, ProductVariantFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/products"


def slugs(response):
    return [item["slug"] for item in response.json()["results"]]


def test_list_shows_only_active_products_of_active_merchants(api_client, make_product):
    visible = make_product(slug="visible")
    make_product(slug="draft", status=ProductStatus.DRAFT)
    make_product(slug="archived", status=ProductStatus.ARCHIVED)
    make_product(slug="suspended", merchant=MerchantFactory(status=MerchantStatus.SUSPENDED))

    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    assert response.json()["count"] == 1
    item = response.json()["results"][0]
    assert item["slug"] == "visible"
    assert item["title"] == visible.title
    assert item["min_price"] == {"amount": "499.00", "currency": "INR"}
    assert "currency" not in item  # the money object carries it
    assert item["in_stock"] is True
    assert item["merchant"] == {"slug": visible.merchant.slug, "name": visible.merchant.name}
    assert item["category"] == {"slug": visible.category.slug, "name": visible.category.name}
    assert item["image"]["url"].startswith("https://img.example.com/")


def test_min_price_and_in_stock_follow_the_variants(make_product):
    product = make_product(prices=("900.00", "300.00", "450.00"), stock=0)
    assert product.min_price == Decimal("300.00")
    assert product.in_stock is False

    ProductVariantFactory(product=product, price=Decimal("1200.00"), stock_on_hand=2)
    product.refresh_from_db()
    assert product.min_price == Decimal("300.00")
    assert product.in_stock is True

    services.variant_delete(variant=product.variants.get(price=Decimal("300.00")))
    product.refresh_from_db()
    assert product.min_price == Decimal("450.00")


def test_fully_allocated_stock_is_not_in_stock(make_product):
    product = make_product(stock=3, allocated=3)
    assert product.in_stock is False


def test_category_filter_includes_descendants(api_client, make_product):
    electronics = CategoryFactory(slug="electronics")
    audio = CategoryFactory(slug="audio", parent=electronics)
    headphones = CategoryFactory(slug="headphones", parent=audio)
    fashion = CategoryFactory(slug="fashion")
    make_product(slug="tv", category=electronics)
    make_product(slug="speaker", category=audio)
    make_product(slug="earbuds", category=headphones)
    make_product(slug="shirt", category=fashion)

    assert sorted(slugs(api_client.get(LIST_URL, {"category": "electronics"}))) == ["earbuds", "speaker", "tv"]
    assert sorted(slugs(api_client.get(LIST_URL, {"category": "audio"}))) == ["earbuds", "speaker"]
    assert slugs(api_client.get(LIST_URL, {"category": "headphones"})) == ["earbuds"]


def test_merchant_brand_price_and_stock_filters(api_client, make_product):
    acme = MerchantFactory(slug="acme")
    other = MerchantFactory(slug="other")
    make_product(slug="cheap", merchant=acme, brand="Zen", prices=("100.00",))
    make_product(slug="mid", merchant=acme, brand="Zen", prices=("500.00", "800.00"), stock=0)
    make_product(slug="dear", merchant=other, brand="Nova", prices=("2000.00",))

    assert sorted(slugs(api_client.get(LIST_URL, {"merchant": "acme"}))) == ["cheap", "mid"]
    assert sorted(slugs(api_client.get(LIST_URL, {"brand": "zen"}))) == ["cheap", "mid"]
    assert sorted(slugs(api_client.get(LIST_URL, {"min_price": "200", "max_price": "2000"}))) == ["dear", "mid"]
    assert slugs(api_client.get(LIST_URL, {"max_price": "499.99"})) == ["cheap"]
    assert sorted(slugs(api_client.get(LIST_URL, {"in_stock": "true"}))) == ["cheap", "dear"]
    assert slugs(api_client.get(LIST_URL, {"in_stock": "false"})) == ["mid"]
    assert slugs(api_client.get(LIST_URL, {"merchant": "acme", "in_stock": "true", "brand": "Zen"})) == ["cheap"]


def test_price_filters_take_plain_decimals(api_client, make_product):
    make_product(slug="cheap", prices=("100.00",))
    make_product(slug="dear", prices=("499.50",))

    assert slugs(api_client.get(LIST_URL, {"min_price": "499.5"})) == ["dear"]
    assert slugs(api_client.get(LIST_URL, {"min_price": "0499.50", "max_price": "499.50"})) == ["dear"]
    assert slugs(api_client.get(LIST_URL, {"max_price": "100"})) == ["cheap"]
    assert slugs(api_client.get(LIST_URL, {"min_price": "100", "max_price": "100.00"})) == ["cheap"]


def test_an_amount_in_exponent_notation_is_refused_in_the_error_shape(api_client):
    response = api_client.get(LIST_URL, {"min_price": "1e3"})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "Enter a plain decimal amount, such as 499 or 499.50.",
        "fields": {"min_price": ["Enter a plain decimal amount, such as 499 or 499.50."]},
    }


def test_prices_are_money_objects_in_the_variants_currency(api_client, make_product):
    product = make_product(slug="yen", prices=())
    ProductVariantFactory(product=product, price=Decimal("500.00"), compare_at_price=Decimal("650.00"), currency="JPY")
    make_product(slug="bare", prices=())

    listed = {item["slug"]: item for item in api_client.get(LIST_URL).json()["results"]}
    detail = api_client.get("/api/v1/products/yen").json()

    assert listed["yen"]["min_price"] == {"amount": "500", "currency": "JPY"}
    assert listed["bare"]["min_price"] is None
    assert detail["min_price"] == {"amount": "500", "currency": "JPY"}
    assert detail["variants"][0]["price"] == {"amount": "500", "currency": "JPY"}
    assert detail["variants"][0]["compare_at_price"] == {"amount": "650", "currency": "JPY"}


def test_orderings(api_client, make_product):
    first = make_product(slug="first", prices=("300.00",))
    second = make_product(slug="second", prices=("100.00",))
    third = make_product(slug="third", prices=("200.00",))
    type(first).objects.filter(pk=first.pk).update(popularity=5)
    type(first).objects.filter(pk=second.pk).update(popularity=50)
    type(first).objects.filter(pk=third.pk).update(popularity=1)

    assert slugs(api_client.get(LIST_URL, {"ordering": "price"})) == ["second", "third", "first"]
    assert slugs(api_client.get(LIST_URL, {"ordering": "-price"})) == ["first", "third", "second"]
    assert slugs(api_client.get(LIST_URL, {"ordering": "newest"})) == ["third", "second", "first"]
    assert slugs(api_client.get(LIST_URL)) == ["third", "second", "first"]
    assert slugs(api_client.get(LIST_URL, {"ordering": "popular"})) == ["second", "first", "third"]


def test_products_without_variants_sort_last_by_price(api_client, make_product):
    make_product(slug="priced", prices=("10.00",))
    make_product(slug="unpriced", prices=())
    assert slugs(api_client.get(LIST_URL, {"ordering": "price"})) == ["priced", "unpriced"]
    assert slugs(api_client.get(LIST_URL, {"ordering": "-price"})) == ["priced", "unpriced"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ordering": "cheapest"}, "ordering"),
        ({"category": "no-such-category"}, "category"),
        ({"merchant": "no-such-merchant"}, "merchant"),
        ({"min_price": "abc"}, "min_price"),
        ({"max_price": "NaN"}, "max_price"),
        ({"min_price": "-1"}, "min_price"),
        ({"min_price": "1e3"}, "min_price"),
        ({"min_price": "1E-2"}, "min_price"),
        ({"max_price": "Infinity"}, "max_price"),
        ({"max_price": "-inf"}, "max_price"),
        ({"max_price": "snan"}, "max_price"),
        ({"max_price": "99999999999"}, "max_price"),
        ({"max_price": "1" * 400}, "max_price"),
        ({"min_price": "10.999"}, "min_price"),
        ({"min_price": "1_000"}, "min_price"),
        ({"min_price": "+5"}, "min_price"),
        ({"min_price": ".5"}, "min_price"),
        ({"min_price": "0x10"}, "min_price"),
        ({"min_price": " 100"}, "min_price"),
        ({"min_price": "\u0661\u0662\u0663"}, "min_price"),  # Arabic-Indic digits, which Decimal() would take
        ({"min_price": "500", "max_price": "100"}, "min_price"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"q": "x" * 201}, "q"),
        ({"page": "0"}, "page"),
        ({"page": "99"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page_size": "1000"}, "page_size"),
    ],
)
def test_bad_input_is_a_400_with_fields(api_client, make_product, params, field):
    make_product()
    response = api_client.get(LIST_URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]


def test_suspended_merchant_slug_is_an_unknown_filter_value(api_client):
    MerchantFactory(slug="gone", status=MerchantStatus.SUSPENDED)
    response = api_client.get(LIST_URL, {"merchant": "gone"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"merchant": ["Unknown merchant 'gone'."]}


def test_empty_and_unknown_parameters_are_ignored(api_client, make_product):
    make_product(slug="one")
    response = api_client.get(LIST_URL, {"category": "", "colour": "red", "q": ""})
    assert response.status_code == 200
    assert slugs(response) == ["one"]


def test_a_stale_bearer_token_does_not_break_public_browsing(api_client, make_product):
    make_product(slug="one")
    response = api_client.get(LIST_URL, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 200


def _count_list_queries(api_client, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = api_client.get(LIST_URL, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()


def test_list_query_count_is_the_same_for_1_and_50_items(api_client, make_product):
    category = CategoryFactory(slug="root")
    merchant = MerchantFactory(slug="shop")
    make_product(category=category, merchant=merchant)
    api_client.get(LIST_URL, {"category": "root", "merchant": "shop"})  # warm the category/merchant caches

    one, body = _count_list_queries(api_client, {"page_size": 50, "category": "root", "merchant": "shop"})
    assert body["count"] == 1
    for _ in range(49):
        make_product(category=category, merchant=merchant)
    fifty, body = _count_list_queries(api_client, {"page_size": 50, "category": "root", "merchant": "shop"})
    assert len(body["results"]) == 50
    assert one == fifty == 3  # count, page (with merchant and category joined), images


def test_list_query_budget_with_cold_caches(api_client, make_product, django_assert_max_num_queries):
    category = CategoryFactory(slug="root")
    for _ in range(5):
        make_product(category=category, merchant=MerchantFactory(slug="shop"))
    from django.core.cache import cache

    cache.clear()
    with django_assert_max_num_queries(5):
        response = api_client.get(LIST_URL, {"category": "root", "merchant": "shop", "ordering": "price"})
    assert response.json()["count"] == 5


def test_detail_has_variants_and_available_stock(api_client, make_product):
    product = make_product(slug="tee", prices=("499.00",), stock=10, allocated=4)
    ProductVariantFactory(
        product=product,
        sku="TEE-L",
        options={"size": "L"},
        price=Decimal("549.00"),
        compare_at_price=Decimal("699.00"),
        stock_on_hand=0,
    )

    response = api_client.get("/api/v1/products/tee")

    assert response.status_code == 200
    body = response.json()
    assert body["slug"] == "tee"
    assert body["min_price"] == {"amount": "499.00", "currency": "INR"}
    assert "currency" not in body
    assert body["stock_available"] == 6
    assert body["variants"][1] == {
        "sku": "TEE-L",
        "options": {"size": "L"},
        "price": {"amount": "549.00", "currency": "INR"},
        "compare_at_price": {"amount": "699.00", "currency": "INR"},
        "stock_available": 0,
        "in_stock": False,
    }
    assert body["variants"][0]["compare_at_price"] is None
    assert body["variants"][0]["stock_available"] == 6
    assert len(body["images"]) == 1
    assert response["Cache-Control"] == "public, max-age=60"


def test_detail_query_budget_and_cache(api_client, make_product, django_assert_num_queries):
    make_product(slug="tee", prices=("1.00", "2.00", "3.00"))
    with django_assert_num_queries(3):  # product with merchant and category, variants, images
        assert api_client.get("/api/v1/products/tee").status_code == 200
    with django_assert_num_queries(0):  # served from the cache
        assert api_client.get("/api/v1/products/tee").status_code == 200


@pytest.mark.parametrize(
    "make",
    [
        lambda f: f(slug="p", status=ProductStatus.DRAFT),
        lambda f: f(slug="p", status=ProductStatus.ARCHIVED),
        lambda f: f(slug="p", merchant=MerchantFactory(status=MerchantStatus.SUSPENDED)),
    ],
    ids=["draft", "archived", "suspended-merchant"],
)
def test_non_public_products_are_404(api_client, make_product, make):
    make(make_product)
    response = api_client.get("/api/v1/products/p")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such product."}


def test_unknown_product_is_404(api_client):
    assert api_client.get("/api/v1/products/nope").status_code == 404


def test_detail_cache_is_invalidated_by_a_variant_price_change(api_client, make_product):
    product = make_product(slug="tee", prices=("499.00",))
    assert api_client.get("/api/v1/products/tee").json()["variants"][0]["price"] == {
        "amount": "499.00",
        "currency": "INR",
    }

    variant = product.variants.get()
    variant.price = Decimal("399.00")
    services.variant_save(variant=variant)

    body = api_client.get("/api/v1/products/tee").json()
    assert body["variants"][0]["price"] == {"amount": "399.00", "currency": "INR"}
    assert body["min_price"] == {"amount": "399.00", "currency": "INR"}


def test_detail_cache_is_invalidated_by_product_and_merchant_changes(api_client, make_product):
    product = make_product(slug="tee")
    assert api_client.get("/api/v1/products/tee").status_code == 200

    product.title = "New title"
    services.product_save(product=product)
    assert api_client.get("/api/v1/products/tee").json()["title"] == "New title"

    product.slug = "tee-2"
    services.product_save(product=product)
    assert api_client.get("/api/v1/products/tee").status_code == 404
    assert api_client.get("/api/v1/products/tee-2").status_code == 200

    services.merchant_set_status(merchant=product.merchant, status=MerchantStatus.SUSPENDED)
    assert api_client.get("/api/v1/products/tee-2").status_code == 404


def test_detail_cache_is_invalidated_by_a_status_service(api_client, make_product):
    from commerce.catalog.services import product_set_status

    product = make_product(slug="tee")
    assert api_client.get("/api/v1/products/tee").status_code == 200
    product_set_status(product=product, status=ProductStatus.ARCHIVED)
    assert api_client.get("/api/v1/products/tee").status_code == 404


def test_etag_and_conditional_get(api_client, make_product):
    product = make_product(slug="tee")
    first = api_client.get("/api/v1/products/tee")
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    again = api_client.get("/api/v1/products/tee", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert api_client.get("/api/v1/products/tee", HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304

    variant = product.variants.get()
    services.variant_stock_set_on_hand(variant_id=variant.pk, on_hand=1, reason="recount")
    changed = api_client.get("/api/v1/products/tee", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_list_etag_gives_304(api_client, make_product):
    make_product()
    etag = api_client.get(LIST_URL)["ETag"]
    assert api_client.get(LIST_URL, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert api_client.get(LIST_URL, {"ordering": "price"}, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_errors_carry_no_etag(api_client):
    response = api_client.get("/api/v1/products/nope")
    assert "ETag" not in response


def test_public_catalog_is_read_only(api_client, make_product):
    make_product(slug="tee")
    assert api_client.post(LIST_URL, {}).status_code == 405
    assert api_client.delete("/api/v1/products/tee").status_code == 405


def test_detail_cache_follows_images_and_category_renames(api_client, make_product):
    from tests.catalog.factories import ProductImageFactory

    product = make_product(slug="tee", image=False)
    assert api_client.get("/api/v1/products/tee").json()["images"] == []

    image = ProductImageFactory(product=product, url="https://img.example.com/tee.jpg", alt_text="Tee")
    assert api_client.get("/api/v1/products/tee").json()["images"] == [
        {"url": "https://img.example.com/tee.jpg", "alt_text": "Tee"}
    ]
    services.product_image_delete(image=image)
    assert api_client.get("/api/v1/products/tee").json()["images"] == []

    category = product.category
    category.name = "Renamed"
    services.category_save(category=category)
    assert api_client.get("/api/v1/products/tee").json()["category"]["name"] == "Renamed"


def test_deleted_product_is_404_at_once(api_client, make_product):
    product = make_product(slug="tee")
    assert api_client.get("/api/v1/products/tee").status_code == 200
    services.product_delete(product=product)
    assert api_client.get("/api/v1/products/tee").status_code == 404


def test_head_request_gets_the_headers(api_client, make_product):
    make_product(slug="tee")
    response = api_client.head("/api/v1/products/tee")
    assert response.status_code == 200
    assert response["ETag"] == api_client.get("/api/v1/products/tee")["ETag"]
