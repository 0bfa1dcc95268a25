"""Catalog factories, shared with the tests of higher apps (offers, orders, ...).

``ProductFactory`` builds an *active* product of an *active* merchant, so it is public by default; pass
``status=ProductStatus.DRAFT`` (or a suspended merchant) to build a non-public one. ``ProductVariantFactory``
saves through the model, so the product's denormalised price and stock fields are refreshed by the catalog's
signal handlers exactly as for any other variant change (in the database: call ``product.refresh_from_db()`` to
see ``min_price``/``in_stock`` on a product object built before its variants).
"""

from decimal import Decimal

import factory

from commerce.catalog.models import (
    Category,
    Merchant,
    MerchantMembership,
    MerchantStatus,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
)
from tests.factories import UserFactory


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    status = MerchantStatus.ACTIVE
    website = factory.LazyAttribute(lambda o: f"https://{o.slug}.example.com")
    support_email = factory.LazyAttribute(lambda o: f"support@{o.slug}.example.com")
    default_cashback_rate = Decimal("5.00")
    commission_rate = Decimal("10.00")


class MerchantMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MerchantMembership

    merchant = factory.SubFactory(MerchantFactory)
    user = factory.SubFactory(UserFactory)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    parent = None
    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    position = 0


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    merchant = factory.SubFactory(MerchantFactory)
    category = factory.SubFactory(CategoryFactory)
    title = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    description = "A product used in tests."
    brand = "Acme"
    attributes = factory.LazyFunction(dict)
    status = ProductStatus.ACTIVE


class ProductVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVariant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    options = factory.LazyFunction(dict)
    price = Decimal("499.00")
    compare_at_price = None
    currency = "INR"
    stock_on_hand = 10
    stock_allocated = 0


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    url = factory.Sequence(lambda n: f"https://img.example.com/{n}.jpg")
    alt_text = factory.LazyAttribute(lambda o: f"Photo of {o.product.title}")
    position = 0
