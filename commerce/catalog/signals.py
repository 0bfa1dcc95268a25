"""Keep derived data in step with plain model saves (admin forms, factories, shell).

* product or variant saved/deleted: refresh the product's denormalised columns and drop its cached detail;
* image saved/deleted: drop the product's cached detail;
* category saved/deleted: new catalog generation (tree, breadcrumbs) and fresh search vectors below it;
* merchant saved/deleted: new catalog generation (its products may have become public or hidden).

Writes with ``QuerySet.update()`` or ``bulk_create()`` bypass these; the services that use them invalidate
themselves, and other code must call ``services.products_refresh_denormalized`` or
``services.products_invalidate_cache``.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import services
from .cache import product_cache_invalidate
from .models import Category, Merchant, Product, ProductImage, ProductVariant


@receiver(post_save, sender=Product, dispatch_uid="catalog_product_saved")
def product_saved(sender, instance: Product, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    services.product_refresh_denormalized(product=instance)


@receiver(post_delete, sender=Product, dispatch_uid="catalog_product_deleted")
def product_deleted(sender, instance: Product, **kwargs) -> None:
    product_cache_invalidate(slugs=[instance.slug, getattr(instance, "_loaded_slug", None) or ""])


@receiver(post_save, sender=ProductVariant, dispatch_uid="catalog_variant_saved")
@receiver(post_delete, sender=ProductVariant, dispatch_uid="catalog_variant_deleted")
def variant_changed(sender, instance: ProductVariant, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    services.products_refresh_denormalized(product_ids=[instance.product_id], include_search_vector=False)


@receiver(post_save, sender=ProductImage, dispatch_uid="catalog_image_saved")
@receiver(post_delete, sender=ProductImage, dispatch_uid="catalog_image_deleted")
def image_changed(sender, instance: ProductImage, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    services.products_invalidate_cache(product_ids=[instance.product_id])


@receiver(post_save, sender=Category, dispatch_uid="catalog_category_saved")
@receiver(post_delete, sender=Category, dispatch_uid="catalog_category_deleted")
def category_changed(sender, instance: Category, raw: bool = False, created: bool = False, **kwargs) -> None:
    if raw:
        return
    services.catalog_invalidate_all()
    if kwargs.get("signal") is post_save and not created:
        services.category_refresh_search_vectors(category=instance)


@receiver(post_save, sender=Merchant, dispatch_uid="catalog_merchant_saved")
@receiver(post_delete, sender=Merchant, dispatch_uid="catalog_merchant_deleted")
def merchant_changed(sender, instance: Merchant, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    services.catalog_invalidate_all()
