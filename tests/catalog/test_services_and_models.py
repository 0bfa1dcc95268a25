from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from accounts.roles import ADMIN, CATALOG_MANAGER, MERCHANT_STAFF, SUPPORT
from commerce.catalog import demo, services
from commerce.catalog.models import (
    Category,
    Merchant,
    MerchantStatus,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
)
from commerce.catalog.permissions import merchant_ids_for_user, scope_queryset, user_is_merchant_scoped
from commerce.core.errors import Conflict, InvalidInput, NotFoundError
from tests.catalog.factories import MerchantFactory, ProductFactory, ProductVariantFactory
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "fields",
    [
        {"stock_on_hand": 2, "stock_allocated": 3},
        {"price": Decimal("-1.00")},
        {"price": Decimal("10.00"), "compare_at_price": Decimal("9.00")},
    ],
    ids=["allocated-above-on-hand", "negative-price", "compare-at-below-price"],
)
def test_database_check_constraints(fields):
    product = ProductFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductVariant.objects.create(product=product, sku="X-1", **{"price": Decimal("5.00"), **fields})


def test_sku_is_unique():
    ProductVariantFactory(sku="DUP")
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductVariantFactory(sku="DUP")


def test_allocated_stock_cannot_exceed_on_hand_through_update():
    variant = ProductVariantFactory(stock_on_hand=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductVariant.objects.filter(pk=variant.pk).update(stock_allocated=2)


def test_stock_allocate_release_and_fulfil():
    variant = ProductVariantFactory(sku="TEE-M", stock_on_hand=3)

    services.variant_stock_allocate(variant_id=variant.pk, quantity=2)
    with pytest.raises(Conflict) as exc:
        services.variant_stock_allocate(variant_id=variant.pk, quantity=2)
    assert exc.value.code == "insufficient_stock"
    assert exc.value.detail == "Only 1 left of SKU TEE-M."

    services.variant_stock_allocate(variant_id=variant.pk, quantity=1)
    variant.product.refresh_from_db()
    assert variant.product.in_stock is False

    services.variant_stock_release(variant_id=variant.pk, quantity=1)
    services.variant_stock_fulfil(variant_id=variant.pk, quantity=2)
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated) == (1, 0)
    variant.product.refresh_from_db()
    assert variant.product.in_stock is True

    with pytest.raises(Conflict):
        services.variant_stock_release(variant_id=variant.pk, quantity=1)
    with pytest.raises(InvalidInput):
        services.variant_stock_allocate(variant_id=variant.pk, quantity=0)
    with pytest.raises(NotFoundError):
        services.variant_stock_allocate(variant_id=0, quantity=1)


def test_product_status_transitions():
    product = ProductFactory(status=ProductStatus.DRAFT)
    services.product_set_status(product=product, status=ProductStatus.ACTIVE)
    assert Product.objects.get(pk=product.pk).status == ProductStatus.ACTIVE
    with pytest.raises(Conflict) as exc:
        services.product_set_status(product=product, status=ProductStatus.ACTIVE)
    assert exc.value.code == "invalid_transition"


def test_bulk_status_skips_rows_already_there():
    active = ProductFactory(status=ProductStatus.ACTIVE)
    draft = ProductFactory(status=ProductStatus.DRAFT)
    assert services.products_set_status(product_ids=[active.pk, draft.pk], status=ProductStatus.ACTIVE) == 1
    assert Product.objects.get(pk=draft.pk).status == ProductStatus.ACTIVE


def test_merchant_status_service():
    merchant = MerchantFactory()
    services.merchant_set_status(merchant=merchant, status=MerchantStatus.SUSPENDED)
    assert Merchant.objects.get(pk=merchant.pk).status == MerchantStatus.SUSPENDED
    with pytest.raises(Conflict):
        services.merchant_set_status(merchant=merchant, status=MerchantStatus.SUSPENDED)


def test_popularity_only_goes_up():
    product = ProductFactory()
    services.product_add_popularity(product_id=product.pk, amount=3)
    services.product_add_popularity(product_id=product.pk)
    assert Product.objects.get(pk=product.pk).popularity == 4
    with pytest.raises(InvalidInput):
        services.product_add_popularity(product_id=product.pk, amount=0)


def test_bulk_refresh_costs_fixed_queries(django_assert_max_num_queries):
    def refresh_queries(count: int) -> int:
        products = [ProductFactory() for _ in range(count)]
        ProductVariant.objects.bulk_create(
            [ProductVariant(product=p, sku=f"B-{p.pk}", price=Decimal("7.00"), stock_on_hand=1) for p in products]
        )
        # Savepoint, lock, compute, one UPDATE, release; plus category names and the vector UPDATE on PostgreSQL.
        with django_assert_max_num_queries(7) as ctx:
            assert services.products_refresh_denormalized(product_ids=[p.pk for p in products]) == count
        return len(ctx.captured_queries)

    assert refresh_queries(1) == refresh_queries(20)
    assert set(Product.objects.values_list("min_price", "in_stock")) == {(Decimal("7.00"), True)}


def test_merchant_scope_helpers():
    mine, other = MerchantFactory(), MerchantFactory()
    ProductFactory(merchant=mine)
    ProductFactory(merchant=other)
    staff = StaffFactory()
    staff.groups.add(Group.objects.get(name=MERCHANT_STAFF))
    staff.merchant_memberships.create(merchant=mine)

    assert user_is_merchant_scoped(staff)
    assert merchant_ids_for_user(staff) == frozenset({mine.pk})
    assert list(scope_queryset(Product.objects.all(), user=staff).values_list("merchant_id", flat=True)) == [mine.pk]

    manager = StaffFactory()
    manager.groups.add(Group.objects.get(name=MERCHANT_STAFF), Group.objects.get(name=CATALOG_MANAGER))
    assert merchant_ids_for_user(manager) is None
    assert scope_queryset(Product.objects.all(), user=manager).count() == 2
    assert merchant_ids_for_user(StaffFactory(is_superuser=True)) is None
    assert scope_queryset(Product.objects.all(), user=UserFactory()).count() == 2


def test_role_permissions():
    def perms(role):
        return set(
            Group.objects.get(name=role)
            .permissions.filter(content_type__app_label="catalog")
            .values_list("codename", flat=True)
        )

    assert {"add_product", "change_product", "delete_product", "view_product", "delete_merchant"} <= perms(
        CATALOG_MANAGER
    )
    assert perms(ADMIN) == perms(CATALOG_MANAGER)
    assert perms(MERCHANT_STAFF) == {
        "view_product",
        "change_product",
        "add_product",
        "view_productvariant",
        "change_productvariant",
        "add_productvariant",
        "view_productimage",
        "change_productimage",
        "add_productimage",
        "view_merchant",
        "view_category",
    }
    assert perms(SUPPORT) == {codename for codename in perms(ADMIN) if codename.startswith("view_")}


def test_seed_demo_is_realistic_and_idempotent():
    out = StringIO()
    demo.seed(stdout=out)
    counts = (
        Merchant.objects.count(),
        Category.objects.count(),
        Product.objects.count(),
        ProductVariant.objects.count(),
        ProductImage.objects.count(),
    )
    assert counts[0] >= 5
    assert counts[1] >= 20
    assert counts[2] >= 1000
    assert counts[3] >= counts[2]
    assert Category.objects.filter(parent__isnull=False).count() >= 20
    assert not Product.objects.filter(min_price__isnull=True).exists()
    assert Product.objects.filter(in_stock=True).count() > Product.objects.filter(in_stock=False).count() > 0
    assert Product.objects.filter(status=ProductStatus.ACTIVE).count() > 900

    demo.seed(stdout=out)
    assert (
        Merchant.objects.count(),
        Category.objects.count(),
        Product.objects.count(),
        ProductVariant.objects.count(),
        ProductImage.objects.count(),
    ) == counts
    assert "0 new products" in out.getvalue()


def test_seed_demo_is_deterministic():
    demo.seed(stdout=StringIO())
    first = list(Product.objects.order_by("slug").values_list("slug", "min_price", "brand")[:50])
    Product.objects.all().delete()
    demo.seed(stdout=StringIO())
    assert list(Product.objects.order_by("slug").values_list("slug", "min_price", "brand")[:50]) == first
