"""Every write to the catalog. Import from here: ``from commerce.catalog import services``.

* ``editing``: create, change and delete merchants, categories, products, variants and images, with the refresh
  and cache invalidation that must follow (there are no model signals: whoever writes calls these);
* ``stock``: allocation, release, fulfilment, and audited changes of the stock on hand;
* ``refresh``: the denormalised product columns, search vectors and cache invalidation, once per transaction;
* ``status``: product and merchant status transitions, popularity;
* ``saved_searches``: shoppers' saved searches.
"""

from .editing import (
    INITIAL_STOCK_REASON,
    categories_delete,
    category_save,
    merchant_save,
    merchants_delete,
    product_delete,
    product_image_delete,
    product_image_save,
    product_images_delete,
    product_save,
    products_delete,
    variant_create,
    variant_delete,
    variant_save,
    variants_delete,
)
from .refresh import (
    SEARCH_CONFIG,
    catalog_invalidate_all,
    category_refresh_search_vectors,
    denormalization_batch,
    product_refresh_denormalized,
    products_invalidate_cache,
    products_refresh_denormalized,
    products_refresh_search_vectors,
    touch_products,
)
from .saved_searches import MAX_SAVED_SEARCHES_PER_USER, saved_search_create, saved_search_delete
from .status import merchant_set_status, product_add_popularity, product_set_status, products_set_status
from .stock import (
    MAX_STOCK,
    STOCK_ADJUSTED,
    variant_stock_adjust,
    variant_stock_allocate,
    variant_stock_fulfil,
    variant_stock_release,
    variant_stock_set_on_hand,
    variants_stock_allocate,
    variants_stock_fulfil,
    variants_stock_release,
)

__all__ = [
    "INITIAL_STOCK_REASON",
    "MAX_SAVED_SEARCHES_PER_USER",
    "MAX_STOCK",
    "SEARCH_CONFIG",
    "STOCK_ADJUSTED",
    "catalog_invalidate_all",
    "categories_delete",
    "category_refresh_search_vectors",
    "category_save",
    "denormalization_batch",
    "merchant_save",
    "merchant_set_status",
    "merchants_delete",
    "product_add_popularity",
    "product_delete",
    "product_image_delete",
    "product_image_save",
    "product_images_delete",
    "product_refresh_denormalized",
    "product_save",
    "product_set_status",
    "products_delete",
    "products_invalidate_cache",
    "products_refresh_denormalized",
    "products_refresh_search_vectors",
    "products_set_status",
    "saved_search_create",
    "saved_search_delete",
    "touch_products",
    "variant_create",
    "variant_delete",
    "variant_save",
    "variant_stock_adjust",
    "variant_stock_allocate",
    "variant_stock_fulfil",
    "variant_stock_release",
    "variant_stock_set_on_hand",
    "variants_delete",
    "variants_stock_allocate",
    "variants_stock_fulfil",
    "variants_stock_release",
]
