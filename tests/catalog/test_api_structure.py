import pytest

from commerce.catalog import services
from commerce.catalog.models import MerchantStatus, ProductStatus
from tests.catalog.factories import CategoryFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def test_category_tree_is_nested_and_ordered(api_client):
    electronics = CategoryFactory(name="Electronics", slug="electronics", position=1)
    CategoryFactory(name="Fashion", slug="fashion", position=0)
    audio = CategoryFactory(name="Audio", slug="audio", parent=electronics, position=0)
    CategoryFactory(name="Headphones", slug="headphones", parent=audio)

    response = api_client.get("/api/v1/categories")

    assert response.status_code == 200
    assert response.json() == [
        {"slug": "fashion", "name": "Fashion", "position": 0, "children": []},
        {
            "slug": "electronics",
            "name": "Electronics",
            "position": 1,
            "children": [
                {
                    "slug": "audio",
                    "name": "Audio",
                    "position": 0,
                    "children": [{"slug": "headphones", "name": "Headphones", "position": 0, "children": []}],
                }
            ],
        },
    ]


def test_category_tree_is_one_query_then_cached(api_client, django_assert_num_queries):
    root = CategoryFactory(slug="root")
    for n in range(10):
        CategoryFactory(slug=f"child-{n}", parent=root)
    with django_assert_num_queries(1):
        api_client.get("/api/v1/categories")
    with django_assert_num_queries(0):
        api_client.get("/api/v1/categories")


def test_category_tree_cache_follows_category_changes(api_client):
    category = CategoryFactory(name="Old", slug="old")
    assert api_client.get("/api/v1/categories").json()[0]["name"] == "Old"
    category.name = "New"
    services.category_save(category=category)
    assert api_client.get("/api/v1/categories").json()[0]["name"] == "New"
    CategoryFactory(slug="child", parent=category)
    assert api_client.get("/api/v1/categories").json()[0]["children"][0]["slug"] == "child"


def test_category_tree_conditional_get(api_client):
    CategoryFactory(slug="root")
    etag = api_client.get("/api/v1/categories")["ETag"]
    assert api_client.get("/api/v1/categories", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_new_category_is_filterable_at_once(api_client, make_product):
    api_client.get("/api/v1/categories")  # caches the tree
    make_product(slug="p", category=CategoryFactory(slug="brand-new"))
    response = api_client.get("/api/v1/products", {"category": "brand-new"})
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_merchant_list_shows_active_merchants_with_product_counts(api_client, make_product):
    acme = MerchantFactory(name="Acme", slug="acme")
    MerchantFactory(name="Bolt", slug="bolt")
    MerchantFactory(name="Gone", slug="gone", status=MerchantStatus.SUSPENDED)
    make_product(merchant=acme)
    make_product(merchant=acme)
    make_product(merchant=acme, status=ProductStatus.DRAFT)

    response = api_client.get("/api/v1/merchants")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(m["slug"], m["product_count"]) for m in body["results"]] == [("acme", 2), ("bolt", 0)]
    assert body["results"][0] == {
        "slug": "acme",
        "name": "Acme",
        "website": "https://acme.example.com",
        "support_email": "support@acme.example.com",
        "default_cashback_rate": "5.00",
        "logo": None,
        "product_count": 2,
    }


def test_merchant_list_query_budget(api_client, django_assert_num_queries):
    for n in range(30):
        MerchantFactory(slug=f"m-{n}")
    with django_assert_num_queries(2):  # count, page with product counts
        response = api_client.get("/api/v1/merchants", {"page_size": 30})
    assert len(response.json()["results"]) == 30


def test_merchant_detail_and_404s(api_client):
    MerchantFactory(name="Acme", slug="acme")
    MerchantFactory(slug="gone", status=MerchantStatus.SUSPENDED)

    assert api_client.get("/api/v1/merchants/acme").json()["name"] == "Acme"
    assert api_client.get("/api/v1/merchants/gone").status_code == 404
    response = api_client.get("/api/v1/merchants/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_merchant_commission_is_not_public(api_client):
    MerchantFactory(slug="acme")
    assert "commission_rate" not in api_client.get("/api/v1/merchants/acme").json()
