"""Catalog factories, shared with the tests of higher apps (offers, orders, ...).

``ProductFactory`` builds an *active* product of an *active* merchant, so it is public by default; pass
``status=ProductStatus.DRAFT`` (or a suspended merchant) to build a non-public one.

Merchants, categories, products and images are created through the catalog services (``merchant_save``,
``category_save``, ``product_save``, ``product_image_save``), so caches and search vectors follow exactly as for
the admin. ``ProductVariantFactory`` writes the row directly, so that tests can start from any stock figures
(``stock_allocated`` included) without audit rows, and then calls ``services.products_refresh_denormalized``
for its product (in the database: call ``product.refresh_from_db()`` to see ``min_price``/``in_stock`` on a
product object built before its variants).
"""

from decimal import Decimal

import factory

from commerce.catalog import services
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


def _existing_or(model_class, kwargs, save):
    """The row with this slug if there is one (get-or-create by slug), else ``save`` of a new one."""
    existing = model_class.objects.filter(slug=kwargs["slug"]).first()
    return existing or save(model_class(**kwargs))


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    status = MerchantStatus.ACTIVE
    website = factory.LazyAttribute(lambda o: f"https://{o.slug}.example.com")
    support_email = factory.LazyAttribute(lambda o: f"support@{o.slug}.example.com")
    default_cashback_rate = Decimal("5.00")
    commission_rate = Decimal("10.00")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return _existing_or(model_class, kwargs, lambda merchant: services.merchant_save(merchant=merchant))


class MerchantMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MerchantMembership

    merchant = factory.SubFactory(MerchantFactory)
    user = factory.SubFactory(UserFactory)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    parent = None
    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    position = 0

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return _existing_or(model_class, kwargs, lambda category: services.category_save(category=category))


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

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.product_save(product=model_class(*args, **kwargs))


class ProductVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVariant
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    options = factory.LazyFunction(dict)
    price = Decimal("499.00")
    compare_at_price = None
    currency = "INR"
    stock_on_hand = 10
    stock_allocated = 0

    @factory.post_generation
    def refresh_product(obj, create, extracted, **kwargs):
        if create:
            services.products_refresh_denormalized(product_ids=[obj.product_id], include_search_vector=False)


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    url = factory.Sequence(lambda n: f"https://img.example.com/{n}.jpg")
    alt_text = factory.LazyAttribute(lambda o: f"Photo of {o.product.title}")
    position = 0

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.product_image_save(image=model_class(*args, **kwargs))
