"""Denormalised product columns and caches follow explicit service calls, never model signals, and the product
row is written only when its values change."""

from decimal import Decimal

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models.signals import post_delete, post_save, pre_save
from django.test.utils import CaptureQueriesContext

from commerce.catalog import services
from commerce.catalog.models import (
    Category,
    Merchant,
    MerchantStatus,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
)
from tests.catalog.factories import MerchantFactory, ProductFactory, ProductVariantFactory

pytestmark = pytest.mark.django_db

PRODUCT_UPDATE = 'UPDATE "catalog_product"'


def _product_updates(ctx) -> list[str]:
    return [query["sql"] for query in ctx.captured_queries if query["sql"].startswith(PRODUCT_UPDATE)]


def _denormalized(product: Product) -> tuple:
    return Product.objects.values_list("min_price", "currency", "in_stock").get(pk=product.pk)


@pytest.mark.parametrize("model", [Merchant, Category, Product, ProductVariant, ProductImage])
def test_catalog_models_have_no_save_or_delete_signal_receivers(model):
    assert not post_save.has_listeners(model)
    assert not post_delete.has_listeners(model)
    assert not pre_save.has_listeners(model)


def test_refresh_writes_only_the_rows_whose_values_changed():
    stale, fresh = ProductFactory(), ProductFactory()
    ProductVariantFactory(product=fresh, price=Decimal("20.00"))
    # Written behind the services' back, as a data import would: the product row is stale.
    ProductVariant.objects.bulk_create([ProductVariant(product=stale, sku="BULK-1", price=Decimal("9.00"))])

    with CaptureQueriesContext(connection) as ctx:
        changed = services.products_refresh_denormalized(product_ids=[stale.pk, fresh.pk], include_search_vector=False)

    assert changed == 1
    updates = _product_updates(ctx)
    assert len(updates) == 1
    assert f"IN ({stale.pk})" in updates[0]
    assert _denormalized(stale) == (Decimal("9.00"), "INR", False)

    with CaptureQueriesContext(connection) as ctx:
        assert (
            services.products_refresh_denormalized(product_ids=[stale.pk, fresh.pk], include_search_vector=False) == 0
        )
    assert _product_updates(ctx) == []


def test_a_price_change_refreshes_min_price_and_currency():
    product = ProductFactory()
    cheap = ProductVariantFactory(product=product, price=Decimal("300.00"))
    ProductVariantFactory(product=product, price=Decimal("400.00"))

    cheap.price = Decimal("500.00")
    services.variant_save(variant=cheap)
    assert _denormalized(product) == (Decimal("400.00"), "INR", True)

    cheap.price, cheap.currency = Decimal("100.00"), "USD"
    services.variant_save(variant=cheap)
    assert _denormalized(product) == (Decimal("100.00"), "USD", True)


def test_moving_a_variant_refreshes_both_products():
    source, target = ProductFactory(), ProductFactory()
    variant = ProductVariantFactory(product=source, price=Decimal("10.00"))

    variant.product = target
    services.variant_save(variant=variant)

    assert _denormalized(source) == (None, "INR", False)
    assert _denormalized(target) == (Decimal("10.00"), "INR", True)


def test_deleting_variants_refreshes_the_product():
    product = ProductFactory()
    cheap = ProductVariantFactory(product=product, price=Decimal("5.00"), stock_on_hand=0)
    dear = ProductVariantFactory(product=product, price=Decimal("8.00"), stock_on_hand=3)

    services.variants_delete(variant_ids=[dear.pk])
    assert _denormalized(product) == (Decimal("5.00"), "INR", False)
    services.variant_delete(variant=cheap)
    assert _denormalized(product) == (None, "INR", False)


def test_a_batch_refreshes_every_touched_product_once():
    product = ProductFactory()
    variants = [ProductVariantFactory(product=product, price=Decimal("50.00")) for _ in range(3)]

    with CaptureQueriesContext(connection) as ctx, services.denormalization_batch():
        for offset, variant in enumerate(variants):
            variant.price = Decimal("10.00") + offset
            services.variant_save(variant=variant)
        services.variant_stock_allocate(variant_id=variants[0].pk, quantity=10)

    assert len(_product_updates(ctx)) == 1
    assert _denormalized(product) == (Decimal("10.00"), "INR", True)


def test_a_failed_batch_writes_nothing():
    product = ProductFactory()
    variant = ProductVariantFactory(product=product, price=Decimal("50.00"), stock_on_hand=1)

    with pytest.raises(RuntimeError), services.denormalization_batch():
        variant.price = Decimal("1.00")
        services.variant_save(variant=variant)
        services.variant_stock_allocate(variant_id=variant.pk, quantity=1)
        raise RuntimeError("boom")

    assert ProductVariant.objects.values_list("price", "stock_allocated").get(pk=variant.pk) == (Decimal("50.00"), 0)
    assert _denormalized(product) == (Decimal("50.00"), "INR", True)


def test_saving_a_stale_product_keeps_its_status_popularity_and_denormalised_columns():
    product = ProductFactory(status=ProductStatus.ACTIVE)
    stale = Product.objects.get(pk=product.pk)
    ProductVariantFactory(product=product, price=Decimal("70.00"))
    services.product_add_popularity(product_id=product.pk, amount=5)
    services.product_set_status(product=product, status=ProductStatus.ARCHIVED)

    stale.title = "Renamed"
    services.product_save(product=stale)

    assert Product.objects.values_list("title", "status", "popularity", "min_price", "in_stock").get(pk=product.pk) == (
        "Renamed",
        ProductStatus.ARCHIVED,
        5,
        Decimal("70.00"),
        True,
    )


def test_saving_a_stale_merchant_keeps_its_status():
    merchant = MerchantFactory(name="Acme")
    stale = Merchant.objects.get(pk=merchant.pk)
    services.merchant_set_status(merchant=merchant, status=MerchantStatus.SUSPENDED)

    stale.name = "Acme Ltd"
    services.merchant_save(merchant=stale)

    assert Merchant.objects.values_list("name", "status").get(pk=merchant.pk) == ("Acme Ltd", MerchantStatus.SUSPENDED)


def test_an_allocation_drops_the_cached_detail_without_writing_the_product(api_client, make_product):
    product = make_product(slug="tee", stock=5)
    variant = product.variants.get()
    assert api_client.get("/api/v1/products/tee").json()["variants"][0]["stock_available"] == 5

    with CaptureQueriesContext(connection) as ctx:
        services.variant_stock_allocate(variant_id=variant.pk, quantity=2)

    assert _product_updates(ctx) == []
    assert api_client.get("/api/v1/products/tee").json()["variants"][0]["stock_available"] == 3


@pytest.mark.postgres
def test_product_save_refreshes_the_search_vector():
    product = ProductFactory(title="Plain kettle")
    product.title = "Copper teapot"
    services.product_save(product=product)
    matches = Product.objects.filter(search_vector=SearchQuery("teapot", config=services.SEARCH_CONFIG))
    assert list(matches.values_list("pk", flat=True)) == [product.pk]
