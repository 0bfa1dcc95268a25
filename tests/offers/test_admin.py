from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.roles import ADMIN, CATALOG_MANAGER, MERCHANT_STAFF, SUPPORT
from commerce.offers.models import Offer, OfferClick, OfferDailyStats
from commerce.offers.services import coupon_redeem, coupon_release
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.factories import StaffFactory, UserFactory

from .factories import OfferFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/offers/offer/"


def change_url(offer: Offer) -> str:
    return f"/admin/offers/offer/{offer.pk}/change/"


def form_data(offer: Offer | None = None, **overrides) -> dict:
    starts = timezone.localtime(timezone.now() - timedelta(days=1))
    data = {
        "merchant": offer.merchant_id if offer else "",
        "title": offer.title if offer else "New offer",
        "description": "",
        "kind": "coupon",
        "code": offer.code if offer else "NEWCODE",
        "is_active": "on",
        "discount_type": "percentage",
        "discount_value": "10.00",
        "max_discount": "",
        "min_order_amount": "0.00",
        "currency": "INR",
        "applies_to": "merchant",
        "cashback_rate": "",
        "destination_url": "",
        "starts_at_0": starts.strftime("%Y-%m-%d"),
        "starts_at_1": starts.strftime("%H:%M:%S"),
        "ends_at_0": "",
        "ends_at_1": "",
        "usage_limit": "",
        "per_user_limit": "",
    }
    data.update(overrides)
    return data


def test_merchant_staff_see_only_their_merchants_offers(client, admin_login, merchant_staff, merchant, other_merchant):
    own = OfferFactory(merchant=merchant, title="Acme sale")
    OfferFactory(merchant=other_merchant, title="Globex sale")
    admin_login(client, merchant_staff)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [own]
    assert b"Globex sale" not in response.content


def test_merchant_staff_get_404_for_another_merchants_offer(client, admin_login, merchant_staff, other_merchant):
    foreign = OfferFactory(merchant=other_merchant)
    admin_login(client, merchant_staff)
    assert client.get(change_url(foreign)).status_code == 404
    assert client.post(change_url(foreign), form_data(foreign, title="Mine now")).status_code == 404
    foreign.refresh_from_db()
    assert foreign.title != "Mine now"


def test_merchant_staff_change_their_offer_but_cannot_move_it(
    client, admin_login, merchant_staff, merchant, other_merchant
):
    offer = OfferFactory(merchant=merchant, title="Old title")
    admin_login(client, merchant_staff)

    response = client.post(change_url(offer), form_data(offer, title="New title", merchant=other_merchant.pk))

    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.title == "New title"
    assert offer.merchant == merchant


def test_merchant_staff_cannot_add_an_offer_for_another_merchant(
    client, admin_login, merchant_staff, merchant, other_merchant
):
    admin_login(client, merchant_staff)

    refused = client.post("/admin/offers/offer/add/", form_data(merchant=other_merchant.pk, code="SNEAKY"))
    assert refused.status_code == 200
    assert "merchant" in refused.context["adminform"].form.errors
    assert not Offer.objects.exists()

    created = client.post("/admin/offers/offer/add/", form_data(merchant=merchant.pk, code="ACME5"))
    assert created.status_code == 302
    assert Offer.objects.get().merchant == merchant


def test_merchant_staff_cannot_attach_another_merchants_products(
    client, admin_login, merchant_staff, merchant, other_merchant
):
    own_product = ProductFactory(merchant=merchant)
    foreign_product = ProductFactory(merchant=other_merchant)
    offer = OfferFactory(merchant=merchant)
    admin_login(client, merchant_staff)

    refused = client.post(
        change_url(offer), form_data(offer, applies_to="products", products=[own_product.pk, foreign_product.pk])
    )
    assert refused.status_code == 200
    assert "products" in refused.context["adminform"].form.errors
    assert list(offer.products.all()) == []

    accepted = client.post(change_url(offer), form_data(offer, applies_to="products", products=[own_product.pk]))
    assert accepted.status_code == 302
    assert list(offer.products.all()) == [own_product]


def test_product_offer_needs_products(client, admin_login, catalog_manager, merchant):
    offer = OfferFactory(merchant=merchant)
    admin_login(client, catalog_manager)
    response = client.post(change_url(offer), form_data(offer, applies_to="products"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["products"] == ["Choose the products this offer applies to."]


def test_catalog_managers_see_and_change_every_offer(client, admin_login, catalog_manager, merchant, other_merchant):
    acme = OfferFactory(merchant=merchant)
    globex = OfferFactory(merchant=other_merchant)
    admin_login(client, catalog_manager)

    response = client.get(CHANGELIST)
    assert {o.pk for o in response.context["cl"].result_list} == {acme.pk, globex.pk}

    assert client.post(change_url(globex), form_data(globex, merchant=merchant.pk)).status_code == 302
    globex.refresh_from_db()
    assert globex.merchant == merchant


def test_changelist_search_and_filters(client, admin_login, catalog_manager, merchant):
    summer = OfferFactory(merchant=merchant, title="Summer sale", code="SUMMER")
    paused = OfferFactory(merchant=merchant, title="Winter sale", code="WINTER", is_active=False)
    admin_login(client, catalog_manager)

    assert list(client.get(CHANGELIST, {"q": "summer"}).context["cl"].result_list) == [summer]
    assert list(client.get(CHANGELIST, {"is_active__exact": "0"}).context["cl"].result_list) == [paused]
    assert list(client.get(CHANGELIST, {"schedule": "live"}).context["cl"].result_list) == [summer]
    assert list(client.get(CHANGELIST, {"schedule": "off"}).context["cl"].result_list) == [paused]


def test_relations_use_autocomplete_widgets_not_full_select_boxes(client, admin_login, catalog_manager, merchant):
    offer = OfferFactory(merchant=merchant)
    ProductFactory(merchant=merchant, title="Product that must not be preloaded")
    admin_login(client, catalog_manager)

    response = client.get(change_url(offer))

    form = response.context["adminform"].form
    assert isinstance(form.fields["merchant"].widget.widget, AutocompleteSelect)
    assert isinstance(form.fields["products"].widget.widget, AutocompleteSelectMultiple)
    assert isinstance(form.fields["categories"].widget.widget, AutocompleteSelectMultiple)
    assert b"Product that must not be preloaded" not in response.content


def test_product_autocomplete_for_merchant_staff_offers_only_their_products(
    client, admin_login, merchant_staff, merchant, other_merchant
):
    own = ProductFactory(merchant=merchant, title="Acme shoe")
    ProductFactory(merchant=other_merchant, title="Globex shoe")
    admin_login(client, merchant_staff)

    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "offers", "model_name": "offer", "field_name": "products", "term": "shoe"},
    )

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(own.pk)]


def test_switch_off_action_goes_through_the_service(client, admin_login, catalog_manager, merchant):
    offer = OfferFactory(merchant=merchant)
    admin_login(client, catalog_manager)
    response = client.post(CHANGELIST, {"action": "switch_off", "_selected_action": [offer.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["1 offer(s) switched off."]
    offer.refresh_from_db()
    assert offer.is_active is False


def test_switch_on_refuses_a_code_already_live_elsewhere(client, admin_login, catalog_manager, merchant):
    OfferFactory(merchant=merchant, code="SAME")
    paused = OfferFactory(merchant=merchant, code="same", is_active=False)
    admin_login(client, catalog_manager)
    response = client.post(CHANGELIST, {"action": "switch_on", "_selected_action": [paused.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        f"{paused}: Another active offer already uses the code same."
    ]
    paused.refresh_from_db()
    assert paused.is_active is False


def test_merchant_staff_cannot_see_clicks_or_stats(client, admin_login, merchant_staff):
    admin_login(client, merchant_staff)
    assert client.get("/admin/offers/offerclick/").status_code == 403
    assert client.get("/admin/offers/offerdailystats/").status_code == 403


def test_click_search_by_click_id(client, admin_login, catalog_manager, merchant, settings):
    from commerce.offers.models import OfferClick

    offer = OfferFactory(merchant=merchant)
    click = OfferClick.objects.create(offer=offer)
    OfferClick.objects.create(offer=offer)
    admin_login(client, catalog_manager)
    response = client.get("/admin/offers/offerclick/", {"q": str(click.click_id)})
    assert list(response.context["cl"].result_list) == [click]
    assert client.get("/admin/offers/offerclick/", {"q": "not-a-uuid"}).status_code == 200


def test_admin_shows_the_services_errors_on_their_fields(client, admin_login, catalog_manager, merchant):
    CategoryFactory(slug="shoes")
    OfferFactory(merchant=merchant, code="TAKEN")
    offer = OfferFactory(merchant=merchant, code="MINE")
    admin_login(client, catalog_manager)

    response = client.post(change_url(offer), form_data(offer, applies_to="categories", currency="KWD", code="taken"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["categories"] == ["Choose the categories this offer applies to."]
    assert errors["currency"] == ["Select a valid choice. KWD is not one of the available choices."]
    assert errors["code"] == ["Another active offer already uses this code."]
    offer.refresh_from_db()
    assert (offer.code, offer.currency, offer.applies_to) == ("MINE", "INR", "merchant")


def test_is_active_of_an_existing_offer_changes_only_through_the_actions(
    client, admin_login, catalog_manager, merchant
):
    offer = OfferFactory(merchant=merchant, code="LIVE")
    admin_login(client, catalog_manager)

    page = client.get(change_url(offer))
    assert "is_active" not in page.context["adminform"].form.fields
    data = form_data(offer, title="Renamed")
    del data["is_active"]  # an unticked box is simply absent from the post
    assert client.post(change_url(offer), data).status_code == 302

    offer.refresh_from_db()
    assert (offer.title, offer.is_active) == ("Renamed", True)


def test_a_new_offer_may_be_added_switched_off(client, admin_login, catalog_manager, merchant):
    admin_login(client, catalog_manager)
    data = form_data(merchant=merchant.pk, code="DRAFT")
    del data["is_active"]
    assert client.post("/admin/offers/offer/add/", data).status_code == 302
    assert Offer.objects.get().is_active is False


def test_admin_sets_the_targets_through_the_service(client, admin_login, catalog_manager, merchant):
    shoes = CategoryFactory(slug="shoes")
    offer = OfferFactory(merchant=merchant)
    admin_login(client, catalog_manager)
    response = client.post(change_url(offer), form_data(offer, applies_to="categories", categories=[shoes.pk]))
    assert response.status_code == 302
    assert list(offer.categories.all()) == [shoes]


def _service_record(model: str, offer):
    """One row of a record the offer services write (a redemption, a click, a day's counts)."""
    if model == "offerredemption":
        return coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-1", amount=Decimal("1.00"))
    if model == "offerclick":
        return OfferClick.objects.create(offer=offer)
    return OfferDailyStats.objects.create(offer=offer, date=date(2026, 5, 4), views=3)


@pytest.mark.parametrize("model", ["offerredemption", "offerclick", "offerdailystats"])
def test_service_records_cannot_be_deleted_in_the_admin_even_by_a_superuser(client, admin_login, merchant, model):
    offer = OfferFactory(merchant=merchant)
    record = _service_record(model, offer)
    superuser = StaffFactory(email="root@example.com", is_superuser=True)
    admin_login(client, superuser)

    listing = client.get(f"/admin/offers/{model}/")
    assert listing.status_code == 200
    assert 'name="action"' not in listing.content.decode()  # no bulk actions, so no "Delete selected"
    assert "delete_selected" not in listing.content.decode()
    detail = client.get(f"/admin/offers/{model}/{record.pk}/change/")
    assert detail.status_code == 200
    assert f"/admin/offers/{model}/{record.pk}/delete/" not in detail.content.decode()
    assert client.post(f"/admin/offers/{model}/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert type(record).objects.filter(pk=record.pk).exists()


def test_redemption_admin_shows_released_uses(client, admin_login, catalog_manager, merchant):
    offer = OfferFactory(merchant=merchant)
    coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-1", amount=Decimal("1.00"))
    coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-2", amount=Decimal("1.00"))
    coupon_release(offer=offer, order_reference="ORD-1")
    admin_login(client, catalog_manager)

    response = client.get("/admin/offers/offerredemption/", {"status__exact": "released"})

    assert [r.order_reference for r in response.context["cl"].result_list] == ["ORD-1"]


def test_no_role_may_delete_redemptions_clicks_or_daily_stats():
    revoked = ["delete_offerredemption", "delete_offerclick", "delete_offerdailystats"]
    assert list(Group.objects.filter(permissions__codename__in=revoked).values_list("name", flat=True)) == []
    for role in (ADMIN, CATALOG_MANAGER, SUPPORT):
        assert Group.objects.get(name=role).permissions.filter(codename="view_offerredemption").exists()
    assert not Group.objects.get(name=MERCHANT_STAFF).permissions.filter(codename__endswith="offerredemption")


def test_the_revoking_migration_takes_the_delete_permissions_from_existing_groups():
    from importlib import import_module

    from django.apps import apps as django_apps
    from django.contrib.auth.models import Permission

    migration = import_module("commerce.offers.migrations.0004_no_role_deletes_service_records")
    legacy = Group.objects.create(name="legacy role")
    kept = Permission.objects.get(codename="view_offerredemption")
    legacy.permissions.add(kept, *Permission.objects.filter(codename__in=migration.REVOKED))

    migration.revoke(django_apps, None)

    assert list(legacy.permissions.all()) == [kept]


# Lists show money with its currency; read-only records look read-only.


def test_offer_list_shows_fixed_discounts_as_money_and_percentages_as_rates(
    client, admin_login, catalog_manager, merchant
):
    OfferFactory(
        merchant=merchant, title="Flat off", discount_type="fixed", discount_value=Decimal("150"), currency="USD"
    )
    OfferFactory(merchant=merchant, title="Tenth off", discount_value=Decimal("12.50"), usage_limit=100, times_used=3)
    admin_login(client, catalog_manager)

    page = client.get(CHANGELIST).content.decode()

    assert '<span class="block text-right whitespace-nowrap">150.00 USD</span>' in page
    assert '<span class="block text-right whitespace-nowrap">12.5 %</span>' in page
    assert ">3 / 100<" in page
    assert 'aria-label="Select record"' in page  # the offers list has actions: the read-only lists below do not


def test_the_offer_currency_is_a_select_of_supported_currencies(client, admin_login, catalog_manager, merchant):
    admin_login(client, catalog_manager)

    page = client.get("/admin/offers/offer/add/").content.decode()

    select = page.split('<select name="currency"', 1)[1].split("</select>", 1)[0]
    assert '<option value="INR" selected>' in select
    assert '<option value="USD">' in select
    assert 'value="KWD"' not in select


def test_redemption_list_shows_the_amount_with_its_currency(client, admin_login, catalog_manager, merchant):
    offer = OfferFactory(merchant=merchant)
    coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-1", amount=Decimal("42.5"))
    admin_login(client, catalog_manager)

    page = client.get("/admin/offers/offerredemption/").content.decode()

    assert '<span class="block text-right whitespace-nowrap">42.50 INR</span>' in page


@pytest.mark.parametrize("model", ["offerredemption", "offerclick", "offerdailystats"])
def test_service_records_show_no_save_buttons_no_add_button_and_no_checkboxes(client, admin_login, merchant, model):
    offer = OfferFactory(merchant=merchant)
    record = _service_record(model, offer)
    admin_login(client, StaffFactory(email="root@example.com", is_superuser=True))

    listing = client.get(f"/admin/offers/{model}/").content.decode()
    detail = client.get(f"/admin/offers/{model}/{record.pk}/change/").content.decode()

    assert f"/admin/offers/{model}/add/" not in listing
    assert 'aria-label="Select record"' not in listing
    assert 'name="_selected_action"' not in listing
    assert f"/admin/offers/{model}/{record.pk}/change/" in listing
    for button in ('name="_save"', 'name="_continue"', 'name="_addanother"'):
        assert button not in detail
    assert f"/admin/offers/{model}/{record.pk}/delete/" not in detail
