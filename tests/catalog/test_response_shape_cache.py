"""Cached API bodies carry the response-shape version in their keys: a body cached by a release that rendered
another shape is never served after a deploy (no cache flush needed)."""

import pytest
from django.core.cache import cache

from commerce.catalog import cache as catalog_cache
from commerce.core.api import shape
from commerce.offers import cache as offers_cache

pytestmark = pytest.mark.django_db


def _key_under_version(monkeypatch, version: int, build):
    with monkeypatch.context() as patched:
        patched.setattr(shape, "RESPONSE_SHAPE_VERSION", version)
        return build()


def test_a_product_detail_cached_under_an_older_shape_is_not_served(api_client, make_product, monkeypatch):
    product = make_product(slug="kettle", prices=("499.00",))
    old_key = _key_under_version(monkeypatch, 1, lambda: catalog_cache.product_detail_key("kettle"))
    cache.set(old_key, {"data": {"slug": "kettle", "min_price": "499.00"}, "etag": '"old"'}, timeout=600)

    response = api_client.get(f"/api/v1/products/{product.slug}")

    assert response.status_code == 200
    assert response.json()["min_price"] == {"amount": "499.00", "currency": "INR"}
    assert response["ETag"] != '"old"'


def test_listing_and_offer_keys_change_with_the_shape_version(monkeypatch):
    old = _key_under_version(
        monkeypatch, 1, lambda: (catalog_cache.listing_key("products"), offers_cache.key("list", {"page": "1"}))
    )
    new = (catalog_cache.listing_key("products"), offers_cache.key("list", {"page": "1"}))

    assert old[0] != new[0]
    assert old[1] != new[1]
    assert new[0].startswith(f"catalog:s{shape.RESPONSE_SHAPE_VERSION}:")
    assert new[1].startswith(f"offers:s{shape.RESPONSE_SHAPE_VERSION}:")
