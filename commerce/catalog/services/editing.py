"""Creating, changing and deleting catalog rows (the admin, data imports, tests call these, never ``save()``).

Each function validates, writes, and then does what must follow, explicitly: refresh the denormalised product
columns and search vectors, drop cached payloads. Saving an existing row writes only the fields a form may
change: statuses change through the status services, stock through the stock services, and the denormalised
columns and ``popularity`` only here; so a stale object cannot overwrite them.
"""

from typing import Any

from django.db import transaction

from ..cache import product_cache_invalidate
from ..models import Category, Merchant, Product, ProductImage, ProductVariant
from .refresh import (
    catalog_invalidate_all,
    category_refresh_search_vectors,
    denormalization_batch,
    now_and_on_commit,
    touch_products,
)
from .stock import _set_on_hand, _whole_number

MERCHANT_EDITABLE_FIELDS = [
    "name",
    "slug",
    "website",
    "support_email",
    "default_cashback_rate",
    "commission_rate",
    "logo",
    "updated_at",
]
CATEGORY_EDITABLE_FIELDS = ["parent", "name", "slug", "position", "updated_at"]
PRODUCT_EDITABLE_FIELDS = [
    "merchant",
    "category",
    "title",
    "slug",
    "description",
    "brand",
    "attributes",
    "updated_at",
]
VARIANT_EDITABLE_FIELDS = ["product", "sku", "options", "price", "compare_at_price", "currency", "updated_at"]
INITIAL_STOCK_REASON = "initial stock"


def merchant_save(*, merchant: Merchant) -> Merchant:
    """Create a merchant or save its details (not its status: ``merchant_set_status``); new catalog generation."""
    merchant.full_clean()
    with transaction.atomic():
        if merchant._state.adding:
            merchant.save(force_insert=True)
        else:
            merchant.save(update_fields=MERCHANT_EDITABLE_FIELDS)
        # Its name and products show in many cached payloads (listings, details, the merchant map).
        catalog_invalidate_all()
    return merchant


def merchants_delete(*, merchant_ids: list[int]) -> int:
    """Delete merchants (their products are protected: delete or move those first)."""
    with transaction.atomic():
        deleted, _ = Merchant.objects.filter(pk__in=merchant_ids).delete()
        catalog_invalidate_all()
    return deleted


def category_save(*, category: Category) -> Category:
    """Create or change a category; new catalog generation, and on a rename or move (PostgreSQL) fresh search
    vectors for the products in it and below it."""
    category.full_clean()
    with transaction.atomic():
        if category._state.adding:
            category.save(force_insert=True)
        else:
            before = Category.objects.filter(pk=category.pk).values("name", "parent_id").get()
            category.save(update_fields=CATEGORY_EDITABLE_FIELDS)
            if before != {"name": category.name, "parent_id": category.parent_id}:
                category_refresh_search_vectors(category=category)
        catalog_invalidate_all()
    return category


def categories_delete(*, category_ids: list[int]) -> int:
    """Delete categories (protected while they have products or children)."""
    with transaction.atomic():
        deleted, _ = Category.objects.filter(pk__in=category_ids).delete()
        catalog_invalidate_all()
    return deleted


def product_save(*, product: Product) -> Product:
    """Create a product or save its details; refreshes its denormalised columns and search vector and drops its
    cached detail (under the old slug too when the slug changed).

    A new product keeps the status it was built with (``draft`` by default); an existing product's status
    changes only through ``product_set_status``.
    """
    product.full_clean()
    with denormalization_batch():
        if product._state.adding:
            product.save(force_insert=True)
        else:
            old_slug = Product.objects.filter(pk=product.pk).values_list("slug", flat=True).get()
            product.save(update_fields=PRODUCT_EDITABLE_FIELDS)
            if old_slug != product.slug:
                now_and_on_commit(lambda: product_cache_invalidate(slugs=[old_slug]))
        touch_products([product.pk], recompute=True, search_vector=True)
    return product


def products_delete(*, product_ids: list[int]) -> int:
    """Delete products with their variants and images; their cached details and every listing go at once."""
    with transaction.atomic():
        products = Product.objects.filter(pk__in=product_ids)
        slugs = list(products.values_list("slug", flat=True))
        products.delete()
        now_and_on_commit(lambda: product_cache_invalidate(slugs=slugs))
    return len(slugs)


def product_delete(*, product: Product) -> None:
    products_delete(product_ids=[product.pk])


def variant_save(*, variant: ProductVariant, initial_stock: int = 0, actor: Any = None) -> ProductVariant:
    """Create a variant, or save changes to its SKU, options, prices, currency or product: never its stock.

    ``full_clean`` runs first, so an unsupported currency (KWD, BHD, OMR) is refused, not rounded. A new
    variant starts with no stock; ``initial_stock`` units on hand are then set through the stock service
    (audited as ``stock.adjusted`` with the reason ``initial stock``). For an existing variant the stock columns
    are reloaded from the locked row and left alone, so a form opened before a sale cannot undo it.
    """
    with denormalization_batch():
        if variant._state.adding:
            initial_stock = _whole_number(initial_stock, name="initial_stock", minimum=0)
            variant.stock_on_hand = variant.stock_allocated = 0
            variant.full_clean()
            variant.save(force_insert=True)
            if initial_stock:
                _set_on_hand(variant, on_hand=initial_stock, reason=INITIAL_STOCK_REASON, actor=actor)
            touch_products([variant.product_id], recompute=True)
            return variant
        current = (
            ProductVariant.objects.select_for_update()
            .filter(pk=variant.pk)
            .values("product_id", "stock_on_hand", "stock_allocated")
        )
        row = current.get()
        variant.stock_on_hand, variant.stock_allocated = row["stock_on_hand"], row["stock_allocated"]
        variant.full_clean()
        variant.save(update_fields=VARIANT_EDITABLE_FIELDS)
        touch_products({row["product_id"], variant.product_id}, recompute=True)
    return variant


def variant_create(
    *,
    product: Product,
    sku: str,
    price: Any,
    currency: str = "INR",
    compare_at_price: Any = None,
    options: dict[str, Any] | None = None,
    stock_on_hand: int = 0,
    actor: Any = None,
) -> ProductVariant:
    """Create a variant with ``stock_on_hand`` initial units (audited); see :func:`variant_save`."""
    variant = ProductVariant(
        product=product,
        sku=sku,
        price=price,
        currency=currency,
        compare_at_price=compare_at_price,
        options=options or {},
    )
    return variant_save(variant=variant, initial_stock=stock_on_hand, actor=actor)


def variants_delete(*, variant_ids: list[int]) -> int:
    """Delete variants; their products' prices and stock flags are refreshed."""
    with denormalization_batch():
        variants = ProductVariant.objects.filter(pk__in=variant_ids)
        product_ids = set(variants.values_list("product_id", flat=True))
        deleted, _ = variants.delete()
        touch_products(product_ids, recompute=True)
    return deleted


def variant_delete(*, variant: ProductVariant) -> None:
    variants_delete(variant_ids=[variant.pk])


def product_image_save(*, image: ProductImage) -> ProductImage:
    """Add or change a product image; the product's cached detail goes."""
    image.full_clean()
    with denormalization_batch():
        previous = (
            None
            if image._state.adding
            else ProductImage.objects.filter(pk=image.pk).values_list("product_id", flat=True).first()
        )
        image.save()
        touch_products({previous, image.product_id})
    return image


def product_images_delete(*, image_ids: list[int]) -> int:
    """Delete product images; their products' cached details go."""
    with denormalization_batch():
        images = ProductImage.objects.filter(pk__in=image_ids)
        product_ids = set(images.values_list("product_id", flat=True))
        deleted, _ = images.delete()
        touch_products(product_ids)
    return deleted


def product_image_delete(*, image: ProductImage) -> None:
    product_images_delete(image_ids=[image.pk])
