"""The catalog in the back office, in the browser: merchant scoping and editing a variant's options."""

import re

import pytest

from accounts.roles import MERCHANT_STAFF
from commerce.catalog.models import ProductVariant
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory, ProductFactory, ProductVariantFactory

from .conftest import submit

pytestmark = [pytest.mark.browser]


def change_links(page, model_path):
    """The changelist's links to change pages, ``{path: visible text}`` (the rows, whatever the theme)."""
    links = page.locator(f"a[href^='/admin/{model_path}/'][href$='/change/']")
    return {link.get_attribute("href"): link.inner_text().strip() for link in links.all()}


@pytest.fixture
def shops(browser_db):
    mine = MerchantFactory(name="Kettle Corner", slug="kettle-corner")
    theirs = MerchantFactory(name="Teapot Palace", slug="teapot-palace")
    return {
        "mine": mine,
        "my_products": [
            ProductFactory(merchant=mine, title="Copper Whistling Kettle", slug="copper-whistling-kettle"),
            ProductFactory(merchant=mine, title="Glass Electric Kettle", slug="glass-electric-kettle"),
        ],
        "their_product": ProductFactory(merchant=theirs, title="Porcelain Teapot", slug="porcelain-teapot"),
    }


def test_merchant_staff_see_only_their_products_and_a_404_for_another_merchants(
    page, make_staff, signed_in, shops, live_server
):
    user, _ = make_staff("staff@kettle-corner.example.com", roles=(MERCHANT_STAFF,))
    MerchantMembershipFactory(merchant=shops["mine"], user=user)
    signed_in(user)

    page.goto("/admin/catalog/product/")
    assert change_links(page, "catalog/product") == {
        f"/admin/catalog/product/{product.pk}/change/": product.title for product in shops["my_products"]
    }
    assert page.get_by_text("Porcelain Teapot").count() == 0

    response = page.goto(f"/admin/catalog/product/{shops['their_product'].pk}/change/")
    assert response.status == 404
    assert page.get_by_role("heading", name=re.compile("not found", re.I)).is_visible()
    assert page.get_by_text("Porcelain Teapot").count() == 0


def test_editing_a_variants_options_saves_them(page, make_staff, signed_in, browser_db):
    variant = ProductVariantFactory(sku="KETTLE-1L", options={"size": "1 L"})
    user, _ = make_staff("catalog@example.com", superuser=True)
    signed_in(user)

    page.goto(f"/admin/catalog/productvariant/{variant.pk}/change/")
    # The options are key/value rows: the first holds the current option, the next ones are empty.
    assert page.get_by_label("Key 1", exact=True).input_value() == "size"
    page.get_by_label("Value 1", exact=True).fill("1.5 L")
    page.get_by_label("Key 2", exact=True).fill("colour")
    page.get_by_label("Value 2", exact=True).fill("Copper")
    submit(page, page.get_by_role("button", name="Save", exact=True))

    assert page.get_by_text(re.compile(r"KETTLE-1L.{0,3} was changed successfully")).is_visible()
    variant.refresh_from_db()
    assert variant.options == {"size": "1.5 L", "colour": "Copper"}
    assert ProductVariant.objects.get(pk=variant.pk).stock_on_hand == 10
