import csv
import io
import re
from decimal import Decimal

import pytest

from accounts.models import AuditEntry
from commerce.catalog.models import Product, ProductImage, ProductStatus, ProductVariant
from tests.catalog.factories import (
    CategoryFactory,
    MerchantFactory,
    ProductFactory,
    ProductImageFactory,
    ProductVariantFactory,
)
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shops(make_product):
    mine = MerchantFactory(name="My Shop", slug="my-shop")
    theirs = MerchantFactory(name="Their Shop", slug="their-shop")
    return {
        "mine": mine,
        "theirs": theirs,
        "my_product": make_product(title="My Kettle", slug="my-kettle", merchant=mine),
        "their_product": make_product(title="Their Teapot", slug="their-teapot", merchant=theirs),
    }


@pytest.fixture
def staff_client(admin_login, merchant_staff_user, shops):
    user = merchant_staff_user(shops["mine"])
    return admin_login(user)


def product_form_data(product, **overrides):
    data = {
        "merchant": product.merchant_id,
        "category": product.category_id,
        "title": product.title,
        "slug": product.slug,
        "brand": product.brand,
        "description": product.description,
        "attributes": "{}",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def autocomplete(client, model_name, field_name, term=""):
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "catalog", "model_name": model_name, "field_name": field_name, "term": term},
    )
    assert response.status_code == 200
    return sorted(result["text"] for result in response.json()["results"])


def test_merchant_staff_changelist_shows_only_their_products(staff_client, shops):
    response = staff_client.get("/admin/catalog/product/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "My Kettle" in content
    assert "Their Teapot" not in content
    # The merchant list filter offers only their own merchant.
    assert "Their Shop" not in content


def test_merchant_staff_cannot_open_another_merchants_product(staff_client, shops):
    their_id = shops["their_product"].pk
    assert staff_client.get(f"/admin/catalog/product/{their_id}/change/").status_code == 404
    assert staff_client.get(f"/admin/catalog/product/{their_id}/delete/").status_code == 404
    assert staff_client.get(f"/admin/catalog/product/{their_id}/history/").status_code == 404
    assert (
        staff_client.post(
            f"/admin/catalog/product/{their_id}/change/", product_form_data(shops["their_product"], title="Hacked")
        ).status_code
        == 404
    )
    assert Product.objects.get(pk=their_id).title == "Their Teapot"


def test_merchant_staff_can_edit_their_product(staff_client, shops):
    product = shops["my_product"]
    assert staff_client.get(f"/admin/catalog/product/{product.pk}/change/").status_code == 200

    response = staff_client.post(
        f"/admin/catalog/product/{product.pk}/change/", product_form_data(product, title="My Better Kettle")
    )

    assert response.status_code == 302
    assert Product.objects.get(pk=product.pk).title == "My Better Kettle"


def test_merchant_staff_cannot_move_a_product_to_another_merchant(staff_client, shops):
    product = shops["my_product"]

    response = staff_client.post(
        f"/admin/catalog/product/{product.pk}/change/", product_form_data(product, merchant=shops["theirs"].pk)
    )

    assert response.status_code == 200  # the form is shown again with an error
    assert "Select a valid choice" in response.content.decode()
    assert Product.objects.get(pk=product.pk).merchant_id == shops["mine"].pk


def test_merchant_staff_cannot_add_a_product_for_another_merchant(staff_client, shops):
    category = CategoryFactory()
    base = Product(merchant=shops["theirs"], category=category, title="Sneaky", slug="sneaky")
    response = staff_client.post("/admin/catalog/product/add/", product_form_data(base))
    assert response.status_code == 200
    assert not Product.objects.filter(slug="sneaky").exists()

    own = Product(merchant=shops["mine"], category=category, title="Fine", slug="fine")
    assert staff_client.post("/admin/catalog/product/add/", product_form_data(own)).status_code == 302
    created = Product.objects.get(slug="fine")
    assert created.merchant_id == shops["mine"].pk
    assert created.status == ProductStatus.DRAFT


def test_merchant_pickers_offer_only_their_merchants_and_products(staff_client, shops):
    assert autocomplete(staff_client, "product", "merchant") == ["My Shop"]
    assert autocomplete(staff_client, "productvariant", "product") == ["My Kettle"]
    assert autocomplete(staff_client, "product", "category", "") != []


def test_merchant_staff_see_only_their_merchants(staff_client, shops):
    content = staff_client.get("/admin/catalog/merchant/").content.decode()
    assert "My Shop" in content
    assert "Their Shop" not in content
    assert staff_client.get(f"/admin/catalog/merchant/{shops['theirs'].pk}/change/").status_code == 404
    # They may look at their own merchant but not change it.
    own = staff_client.get(f"/admin/catalog/merchant/{shops['mine'].pk}/change/")
    assert own.status_code == 200
    assert 'name="name"' not in own.content.decode()


def test_merchant_staff_variant_admin_is_scoped(staff_client, shops):
    mine = ProductVariantFactory(product=shops["my_product"], sku="MINE-1")
    theirs = ProductVariantFactory(product=shops["their_product"], sku="THEIRS-1")
    content = staff_client.get("/admin/catalog/productvariant/").content.decode()
    assert "MINE-1" in content
    assert "THEIRS-1" not in content
    assert staff_client.get(f"/admin/catalog/productvariant/{theirs.pk}/change/").status_code == 404
    assert staff_client.get(f"/admin/catalog/productvariant/{mine.pk}/change/").status_code == 200


def test_merchant_staff_bulk_action_cannot_touch_other_merchants(staff_client, shops):
    ids = [shops["my_product"].pk, shops["their_product"].pk]
    response = staff_client.post("/admin/catalog/product/", {"action": "archive_products", "_selected_action": ids})
    assert response.status_code == 302
    assert Product.objects.get(pk=ids[0]).status == ProductStatus.ARCHIVED
    assert Product.objects.get(pk=ids[1]).status == ProductStatus.ACTIVE


def test_merchant_staff_without_membership_see_nothing(admin_login, merchant_staff_user, shops):
    user = merchant_staff_user(MerchantFactory(slug="lonely"))
    client = admin_login(user)
    content = client.get("/admin/catalog/product/").content.decode()
    assert "My Kettle" not in content
    assert "Their Teapot" not in content


def test_catalog_manager_sees_everything(admin_login, catalog_manager_user, shops):
    client = admin_login(catalog_manager_user)
    content = client.get("/admin/catalog/product/").content.decode()
    assert "My Kettle" in content
    assert "Their Teapot" in content
    assert client.get(f"/admin/catalog/product/{shops['their_product'].pk}/change/").status_code == 200
    assert autocomplete(client, "product", "merchant") == ["My Shop", "Their Shop"]


def test_staff_without_a_catalog_role_are_refused(admin_login, shops):
    client = admin_login(StaffFactory())
    assert client.get("/admin/catalog/product/").status_code == 403


def test_bulk_activate_and_archive(admin_login, catalog_manager_user):
    drafts = [ProductFactory(status=ProductStatus.DRAFT) for _ in range(3)]
    client = admin_login(catalog_manager_user)

    client.post(
        "/admin/catalog/product/", {"action": "activate_products", "_selected_action": [p.pk for p in drafts[:2]]}
    )
    assert [Product.objects.get(pk=p.pk).status for p in drafts] == ["active", "active", "draft"]

    client.post("/admin/catalog/product/", {"action": "archive_products", "_selected_action": [drafts[0].pk]})
    assert Product.objects.get(pk=drafts[0].pk).status == ProductStatus.ARCHIVED


def test_bulk_archive_hides_products_from_the_api(admin_login, catalog_manager_user, api_client, make_product):
    product = make_product(slug="gone-soon")
    assert api_client.get("/api/v1/products/gone-soon").status_code == 200
    admin_login(catalog_manager_user).post(
        "/admin/catalog/product/", {"action": "archive_products", "_selected_action": [product.pk]}
    )
    assert api_client.get("/api/v1/products/gone-soon").status_code == 404


def test_csv_export(admin_login, catalog_manager_user, make_product):
    product = make_product(title="=HYPERLINK(evil)", slug="csv-one", prices=("10.00", "20.00"), stock=5)
    client = admin_login(catalog_manager_user)

    response = client.post("/admin/catalog/product/", {"action": "export_csv", "_selected_action": [product.pk]})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="products-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "slug", "title", "merchant"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["slug"] == "csv-one"
    assert row["title"] == "'=HYPERLINK(evil)"  # neutralised formula
    assert row["min_price"] == "10.00"
    assert row["variants"] == "2"
    assert row["stock_available"] == "10"
    assert row["in_stock"] == "yes"


def test_merchant_staff_csv_export_is_scoped(staff_client, shops):
    ids = [shops["my_product"].pk, shops["their_product"].pk]
    response = staff_client.post("/admin/catalog/product/", {"action": "export_csv", "_selected_action": ids})
    body = b"".join(response.streaming_content).decode()
    assert "my-kettle" in body
    assert "their-teapot" not in body


def test_admin_product_changelist_query_count_does_not_grow(
    admin_login, catalog_manager_user, make_product, django_assert_max_num_queries
):
    client = admin_login(catalog_manager_user)
    for _ in range(30):
        make_product()
    with django_assert_max_num_queries(20):
        assert client.get("/admin/catalog/product/").status_code == 200


def test_admin_pages_render(admin_login, shops):
    superuser = StaffFactory(is_superuser=True)
    client = admin_login(superuser)
    for url in [
        "/admin/catalog/merchant/",
        "/admin/catalog/merchant/add/",
        f"/admin/catalog/merchant/{shops['mine'].pk}/change/",
        "/admin/catalog/merchantmembership/",
        "/admin/catalog/category/",
        "/admin/catalog/category/add/",
        "/admin/catalog/product/add/",
        f"/admin/catalog/product/{shops['my_product'].pk}/change/",
        "/admin/catalog/productvariant/",
        "/admin/catalog/savedsearch/",
    ]:
        assert client.get(url).status_code == 200, url


# Stock in the admin: read-only figures, changes only through the audited service.


def variant_form_data(variant, **overrides):
    data = {
        "product": variant.product_id,
        "sku": variant.sku,
        "options": "{}",
        "price": str(variant.price),
        "compare_at_price": "",
        "currency": variant.currency,
    }
    data.update(overrides)
    return data


def inline_variant_data(index, variant=None, **fields):
    prefix = f"variants-{index}-"
    data = {f"{prefix}{name}": value for name, value in fields.items()}
    if variant is not None:
        data.update(
            {
                f"{prefix}id": variant.pk,
                f"{prefix}product": variant.product_id,
                f"{prefix}sku": variant.sku,
                f"{prefix}options": "{}",
                f"{prefix}price": str(variant.price),
                f"{prefix}compare_at_price": "",
                f"{prefix}currency": variant.currency,
                **{f"{prefix}{name}": value for name, value in fields.items()},
            }
        )
    return data


def stock_of(variant):
    return ProductVariant.objects.values_list("stock_on_hand", "stock_allocated").get(pk=variant.pk)


def test_stock_figures_are_read_only_on_the_variant_and_product_pages(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle")
    variant = product.variants.get()
    client = admin_login(catalog_manager_user)

    variant_page = client.get(f"/admin/catalog/productvariant/{variant.pk}/change/").content.decode()
    assert 'name="stock_allocated"' not in variant_page
    assert 'name="stock_on_hand"' not in variant_page
    assert 'name="set_stock_on_hand"' in variant_page
    product_page = client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()
    assert 'name="variants-0-stock_allocated"' not in product_page
    assert 'name="variants-0-stock_on_hand"' not in product_page
    assert 'name="variants-0-price"' in product_page


def test_posted_stock_figures_are_ignored_and_price_changes_refresh_the_product(
    admin_login, catalog_manager_user, make_product
):
    product = make_product(slug="kettle", stock=5, allocated=2)
    variant = product.variants.get()
    client = admin_login(catalog_manager_user)

    response = client.post(
        f"/admin/catalog/productvariant/{variant.pk}/change/",
        variant_form_data(variant, price="199.00", stock_allocated="0", stock_on_hand="100"),
    )

    assert response.status_code == 302
    assert stock_of(variant) == (5, 2)
    assert Product.objects.values_list("min_price", flat=True).get(pk=product.pk) == Decimal("199.00")
    assert AuditEntry.objects.filter(action="stock.adjusted").count() == 0


def test_setting_stock_on_hand_in_the_admin_calls_the_audited_service(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle", stock=5, allocated=2)
    variant = product.variants.get()
    client = admin_login(catalog_manager_user)

    response = client.post(
        f"/admin/catalog/productvariant/{variant.pk}/change/",
        variant_form_data(variant, set_stock_on_hand="9", stock_reason="delivery"),
    )

    assert response.status_code == 302
    assert stock_of(variant) == (9, 2)
    entry = AuditEntry.objects.get(action="stock.adjusted")
    assert (entry.actor_id, entry.target_id, entry.ip_address) == (
        catalog_manager_user.pk,
        str(variant.pk),
        "127.0.0.1",
    )
    assert (entry.before, entry.after) == (
        {"stock_on_hand": 5, "stock_allocated": 2},
        {"stock_on_hand": 9, "stock_allocated": 2, "reason": "delivery"},
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"set_stock_on_hand": "1", "stock_reason": "recount"}, "set_stock_on_hand", "2 units are allocated"),
        ({"set_stock_on_hand": "9", "stock_reason": ""}, "stock_reason", "Give a reason for the stock change."),
        ({"set_stock_on_hand": "-1", "stock_reason": "recount"}, "set_stock_on_hand", "greater than or equal to 0"),
    ],
    ids=["below-allocated", "no-reason", "negative"],
)
def test_bad_stock_changes_are_form_errors(admin_login, catalog_manager_user, make_product, fields, field, message):
    product = make_product(slug="kettle", stock=5, allocated=2)
    variant = product.variants.get()
    client = admin_login(catalog_manager_user)

    response = client.post(f"/admin/catalog/productvariant/{variant.pk}/change/", variant_form_data(variant, **fields))

    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert stock_of(variant) == (5, 2)
    assert AuditEntry.objects.filter(action="stock.adjusted").count() == 0


def test_a_new_variant_gets_its_initial_stock_through_the_service(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle", prices=("499.00",), stock=0)
    client = admin_login(catalog_manager_user)
    new = ProductVariant(product=product, sku="KETTLE-XL", price=Decimal("299.00"), currency="INR")

    response = client.post("/admin/catalog/productvariant/add/", variant_form_data(new, initial_stock="4"))

    assert response.status_code == 302
    created = ProductVariant.objects.get(sku="KETTLE-XL")
    assert stock_of(created) == (4, 0)
    entry = AuditEntry.objects.get(action="stock.adjusted")
    assert (entry.actor_id, entry.after) == (
        catalog_manager_user.pk,
        {"stock_on_hand": 4, "stock_allocated": 0, "reason": "initial stock"},
    )
    assert Product.objects.values_list("min_price", "in_stock").get(pk=product.pk) == (Decimal("299.00"), True)


@pytest.mark.parametrize("currency", ["KWD", "BHD"])
def test_the_admin_refuses_currencies_the_price_column_cannot_hold(admin_login, catalog_manager_user, currency):
    product = ProductFactory()
    client = admin_login(catalog_manager_user)
    new = ProductVariant(product=product, sku="GULF-1", price=Decimal("1.25"), currency=currency)

    response = client.post("/admin/catalog/productvariant/add/", variant_form_data(new, initial_stock="1"))

    assert response.status_code == 200
    assert "currency" in response.context["adminform"].form.errors
    assert not ProductVariant.objects.filter(sku="GULF-1").exists()


def test_product_inline_saves_variants_through_the_services(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle", prices=("499.00",), stock=5, allocated=1, image=False)
    existing = product.variants.get()
    client = admin_login(catalog_manager_user)
    data = product_form_data(product, **{"variants-TOTAL_FORMS": "2", "variants-INITIAL_FORMS": "1"})
    data.update(inline_variant_data(0, existing, price="450.00", stock_on_hand="50", stock_allocated="0"))
    data.update(
        inline_variant_data(
            1, sku="KETTLE-MINI", options="{}", price="350.00", compare_at_price="", currency="INR", initial_stock="3"
        )
    )

    response = client.post(f"/admin/catalog/product/{product.pk}/change/", data)

    assert response.status_code == 302
    assert ProductVariant.objects.values_list("price", flat=True).get(pk=existing.pk) == Decimal("450.00")
    assert stock_of(existing) == (5, 1)
    assert stock_of(ProductVariant.objects.get(sku="KETTLE-MINI")) == (3, 0)
    assert list(AuditEntry.objects.filter(action="stock.adjusted").values_list("target_label", flat=True)) == [
        "KETTLE-MINI"
    ]
    assert Product.objects.values_list("min_price", "in_stock").get(pk=product.pk) == (Decimal("350.00"), True)


def test_deleting_a_variant_in_the_admin_refreshes_the_product(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle", prices=("100.00", "200.00"))
    cheap = product.variants.get(price=Decimal("100.00"))
    client = admin_login(StaffFactory(is_superuser=True))

    response = client.post(f"/admin/catalog/productvariant/{cheap.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert Product.objects.values_list("min_price", flat=True).get(pk=product.pk) == Decimal("200.00")


def test_merchant_staff_change_their_variant_price_and_stock_through_the_services(staff_client, shops):
    variant = ProductVariantFactory(product=shops["my_product"], sku="MINE-2", price=Decimal("80.00"), stock_on_hand=2)

    response = staff_client.post(
        f"/admin/catalog/productvariant/{variant.pk}/change/",
        variant_form_data(variant, price="75.00", set_stock_on_hand="6", stock_reason="recount"),
    )

    assert response.status_code == 302
    assert ProductVariant.objects.values_list("price", "stock_on_hand").get(pk=variant.pk) == (Decimal("75.00"), 6)
    assert AuditEntry.objects.get(action="stock.adjusted").after["stock_on_hand"] == 6


# Editing: key/value rows for options and attributes, thumbnails, money with its currency.


def option_rows(prefix, *pairs):
    data = {}
    for index, (key, value) in enumerate(pairs):
        data[f"{prefix}_key_{index}"] = key
        data[f"{prefix}_value_{index}"] = value
    return data


def test_variant_options_are_edited_as_key_value_rows(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle")
    variant = product.variants.get()
    client = admin_login(catalog_manager_user)
    data = variant_form_data(variant, **option_rows("options", ("size", "M"), ("colour", " red "), ("", "")))

    response = client.post(f"/admin/catalog/productvariant/{variant.pk}/change/", data)

    assert response.status_code == 302
    assert ProductVariant.objects.values_list("options", flat=True).get(pk=variant.pk) == {"size": "M", "colour": "red"}
    page = client.get(f"/admin/catalog/productvariant/{variant.pk}/change/").content.decode()
    assert 'name="options_key_0" id="id_options_key_0" value="size"' in page
    assert 'name="options_value_1" id="id_options_value_1" value="red"' in page
    assert 'name="options_key_2" id="id_options_key_2" value=""' in page
    assert '<select name="currency"' in page


def test_a_bad_option_row_is_a_form_error_not_a_500(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle")
    variant = product.variants.get()
    ProductVariant.objects.filter(pk=variant.pk).update(options={"size": "S"})
    client = admin_login(catalog_manager_user)
    data = variant_form_data(variant, **option_rows("options", ("size", "M"), ("size", "L"), ("", "orphan")))

    response = client.post(f"/admin/catalog/productvariant/{variant.pk}/change/", data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["options"] == [
        "The key “size” is used more than once.",
        "Row 3 has a value but no key.",
    ]
    assert ProductVariant.objects.values_list("options", flat=True).get(pk=variant.pk) == {"size": "S"}


def test_product_attributes_are_edited_as_key_value_rows(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle", attributes={"material": "steel"})
    client = admin_login(catalog_manager_user)

    page = client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()
    assert 'name="attributes_key_0" id="id_attributes_key_0" value="material"' in page
    assert 'name="attributes_value_0" id="id_attributes_value_0" value="steel"' in page

    data = product_form_data(product, **option_rows("attributes", ("material", "glass"), ("capacity", "1.7 l")))
    response = client.post(f"/admin/catalog/product/{product.pk}/change/", data)

    assert response.status_code == 302
    assert Product.objects.values_list("attributes", flat=True).get(pk=product.pk) == {
        "material": "glass",
        "capacity": "1.7 l",
    }


def test_an_over_long_attribute_value_is_a_form_error(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle", attributes={"material": "steel"})
    client = admin_login(catalog_manager_user)
    data = product_form_data(product, **option_rows("attributes", ("material", "x" * 201)))

    response = client.post(f"/admin/catalog/product/{product.pk}/change/", data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["attributes"] == [
        "Row 1: the value has 201 characters; at most 200 are allowed."
    ]
    assert Product.objects.values_list("attributes", flat=True).get(pk=product.pk) == {"material": "steel"}


def test_the_variant_inline_edits_options_as_rows_and_offers_a_currency_select(
    admin_login, catalog_manager_user, make_product
):
    product = make_product(slug="kettle", prices=("499.00",), image=False)
    existing = product.variants.get()
    client = admin_login(catalog_manager_user)

    page = client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()
    assert '<select name="variants-0-currency"' in page
    assert '<option value="INR" selected>' in page
    assert 'name="variants-0-options_key_0"' in page

    data = product_form_data(product, **{"variants-TOTAL_FORMS": "2", "variants-INITIAL_FORMS": "1"})
    data.update(inline_variant_data(0, existing, **option_rows("options", ("size", "L"))))
    data.update(
        inline_variant_data(
            1,
            sku="KETTLE-MINI",
            price="350.00",
            compare_at_price="",
            currency="USD",
            initial_stock="2",
            **option_rows("options", ("size", "S"), ("colour", "blue")),
        )
    )
    response = client.post(f"/admin/catalog/product/{product.pk}/change/", data)

    assert response.status_code == 302
    assert ProductVariant.objects.values_list("options", flat=True).get(pk=existing.pk) == {"size": "L"}
    mini = ProductVariant.objects.get(sku="KETTLE-MINI")
    assert (mini.options, mini.currency, stock_of(mini)) == ({"size": "S", "colour": "blue"}, "USD", (2, 0))


def test_a_blank_extra_variant_row_is_not_saved(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle", prices=("499.00",), image=False)
    client = admin_login(catalog_manager_user)
    data = product_form_data(product, **{"variants-TOTAL_FORMS": "1", "variants-INITIAL_FORMS": "0"})
    data.update(
        inline_variant_data(
            0,
            sku="",
            price="",
            compare_at_price="",
            currency="INR",
            initial_stock="0",
            **option_rows("options", ("", "")),
        )
    )

    response = client.post(f"/admin/catalog/product/{product.pk}/change/", data)

    assert response.status_code == 302
    assert product.variants.count() == 1


def test_product_changelist_shows_thumbnails_and_prices_with_their_currency(admin_login, make_product):
    linked = make_product(title="Linked Kettle", slug="linked-kettle", prices=("499.00", "650.00"), image=False)
    ProductImageFactory(product=linked, url="https://img.example.com/second.jpg", alt_text="Second", position=1)
    ProductImageFactory(product=linked, url="https://img.example.com/first.jpg", alt_text="Kettle, front", position=0)
    uploaded = make_product(title="Uploaded Teapot", slug="uploaded-teapot", prices=("80.50",), image=False)
    ProductImage.objects.create(product=uploaded, image="products/teapot.jpg", alt_text="")
    make_product(title="Bare Mug", slug="bare-mug", image=False)
    client = admin_login(StaffFactory(is_superuser=True))

    page = client.get("/admin/catalog/product/").content.decode()

    assert '<img src="https://img.example.com/first.jpg" alt="Kettle, front" width="40" height="40"' in page
    assert "second.jpg" not in page
    assert '<img src="/media/products/teapot.jpg" alt="Uploaded Teapot" width="40" height="40"' in page
    assert page.count("<img src=") == 2
    assert '<span class="block text-right whitespace-nowrap">499.00 INR</span>' in page
    assert '<span class="block text-right whitespace-nowrap">80.50 INR</span>' in page


def test_long_product_titles_are_shortened_in_the_list_with_the_full_title_on_hover(admin_login, make_product):
    title = "An Extremely Long Stainless Steel Electric Kettle With Temperature Control"
    make_product(title=title, slug="long-kettle")
    client = admin_login(StaffFactory(is_superuser=True))

    page = client.get("/admin/catalog/product/").content.decode()

    assert f'<span title="{title}">An Extremely Long Stainless Steel Electric Kett…</span>' in page


def test_the_image_inline_previews_each_image(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle", image=False)
    ProductImageFactory(product=product, url="https://img.example.com/kettle.jpg", alt_text="Kettle, side")
    client = admin_login(catalog_manager_user)

    page = client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()

    assert '<img src="https://img.example.com/kettle.jpg" alt="Kettle, side" width="40" height="40"' in page


def test_variant_changelist_shows_prices_with_their_currency(admin_login, make_product):
    product = make_product(slug="kettle", prices=("1299.00",))
    ProductVariantFactory(product=product, sku="KETTLE-US", price=Decimal("15.5"), currency="USD")
    client = admin_login(StaffFactory(is_superuser=True))

    page = client.get("/admin/catalog/productvariant/").content.decode()

    assert '<span class="block text-right whitespace-nowrap">1299.00 INR</span>' in page
    assert '<span class="block text-right whitespace-nowrap">15.50 USD</span>' in page


def test_the_variant_table_offers_one_blank_option_row_per_variant(admin_login, catalog_manager_user, make_product):
    product = make_product(slug="kettle", image=False)
    ProductVariant.objects.filter(product=product).update(options={"size": "M"})
    client = admin_login(catalog_manager_user)

    page = client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()

    assert 'name="variants-0-options_key_0" id="id_variants-0-options_key_0" value="size"' in page
    assert 'name="variants-0-options_key_1" id="id_variants-0-options_key_1" value=""' in page
    assert 'name="variants-0-options_key_2"' not in page


def test_a_product_with_sixty_variants_stays_within_the_posted_field_limit(
    admin_login, catalog_manager_user, make_product, settings
):
    product = make_product(slug="kettle", prices=(), image=False)
    for _ in range(60):
        ProductVariantFactory(product=product, options={"size": "M", "colour": "red"})
    client = admin_login(catalog_manager_user)

    page = client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()

    form = page.split('id="product_form"', 1)[1].split("</form>", 1)[0]
    posted = set(re.findall(r'<(?:input|select|textarea)[^>]*\sname="([^"]+)"', form))
    assert 840 <= len(posted) < settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
