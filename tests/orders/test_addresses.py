"""The address book (``me/addresses``): validation, one default per user, the cap, scoping, query budgets; and
``checkout_address``, the snapshot checkout keeps."""

import pytest
from rest_framework.test import APIClient

from commerce.core.errors import InvalidInput, NotFoundError
from commerce.orders.models import Address
from commerce.orders.services.addresses import (
    MAX_ADDRESSES_PER_USER,
    address_clean,
    address_create,
    checkout_address,
)
from tests.concurrency import run_together
from tests.factories import UserFactory
from tests.orders.factories import SHIPPING_ADDRESS, AddressFactory

URL = "/api/v1/me/addresses"
REQUIRED = "This field is required."
PIN = "Enter a 6-digit PIN code that does not start with 0."
BODY = {
    "name": "Asha Rao",
    "line1": "14 Residency Road",
    "line2": "Flat 3B",
    "city": "Bengaluru",
    "state": "Karnataka",
    "postal_code": "560025",
    "country": "IN",
    "phone": "+919812345678",
}


def _detail(address) -> str:
    return f"{URL}/{address.pk}"


def _defaults(user) -> list[int]:
    return list(Address.objects.filter(user=user, is_default=True).values_list("pk", flat=True))


# --- address_clean ------------------------------------------------------------------------------------------


def test_clean_trims_normalises_and_stores_e164():
    data = {
        **BODY,
        "name": "  Asha Rao ",
        "postal_code": "560 025",
        "phone": "098123 45678",
        "country": "in",
    }
    data.pop("line2")

    assert address_clean(data=data) == {**BODY, "line2": "", "phone": "+919812345678"}


def test_clean_defaults_the_country_to_india_and_reads_national_numbers_there():
    data = {k: v for k, v in BODY.items() if k != "country"}
    data["phone"] = "98123 45678"

    cleaned = address_clean(data=data)

    assert cleaned["country"] == "IN"
    assert cleaned["phone"] == "+919812345678"


def test_clean_accepts_devanagari_with_joiners_and_normalises_to_nfc():
    decomposed = "Cafe\u0301"  # e + combining acute: NFC makes it one code point
    cleaned = address_clean(data={**BODY, "name": "आशा राव", "line2": "क्\u200dष", "city": decomposed})

    assert cleaned["name"] == "आशा राव"
    assert cleaned["line2"] == "क्\u200dष"
    assert cleaned["city"] == "Caf\u00e9"


def test_clean_reads_the_phone_in_the_address_country():
    cleaned = address_clean(data={**BODY, "country": "GB", "postal_code": "sw1a 1aa", "phone": "020 7946 0018"})

    assert cleaned["phone"] == "+442079460018"
    assert cleaned["postal_code"] == "SW1A 1AA"


def test_clean_reports_every_missing_required_field():
    with pytest.raises(InvalidInput) as exc:
        address_clean(data={})

    assert exc.value.code == "invalid"
    assert exc.value.fields == {
        name: ["This field is required."] for name in ("name", "line1", "city", "state", "postal_code", "phone")
    }


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"postal_code": "060025"}, "postal_code", PIN),
        ({"postal_code": "56002"}, "postal_code", PIN),
        ({"postal_code": "5600251"}, "postal_code", PIN),
        ({"postal_code": "56OO25"}, "postal_code", PIN),
        ({"postal_code": "\uff15\uff16\uff10\uff10\uff12\uff15"}, "postal_code", PIN),
        ({"phone": "12345"}, "phone", "Enter a valid phone number, e.g. +919812345678."),
        ({"phone": "not a phone"}, "phone", "Enter a valid phone number, e.g. +919812345678."),
        ({"phone": "+91 11111"}, "phone", "Enter a valid phone number, e.g. +919812345678."),
        ({"country": "ZZ"}, "country", "Enter a two-letter ISO 3166-1 country code, e.g. IN."),
        ({"country": "IND"}, "country", "Enter a two-letter ISO 3166-1 country code, e.g. IN."),
        ({"country": "XK"}, "country", "Enter a two-letter ISO 3166-1 country code, e.g. IN."),
        ({"country": ""}, "country", "Enter a two-letter ISO 3166-1 country code, e.g. IN."),
        ({"name": "   "}, "name", "This field may not be blank."),
        ({"name": None}, "name", "This field may not be null."),
        ({"name": 42}, "name", "Not a valid string."),
        ({"city": ["Bengaluru"]}, "city", "Not a valid string."),
        ({"line2": None}, "line2", "This field may not be null."),
        ({"name": "Asha\x00Rao"}, "name", "Must not contain control or invisible formatting characters."),
        ({"line1": "14 Road\nEvil"}, "line1", "Must not contain control or invisible formatting characters."),
        ({"name": "Asha\u202eoaR"}, "name", "Must not contain control or invisible formatting characters."),
        ({"name": "Asha\u200b"}, "name", "Must not contain control or invisible formatting characters."),
        ({"state": "\ue000"}, "state", "Must not contain control or invisible formatting characters."),
        ({"name": "x" * 121}, "name", "Ensure this field has no more than 120 characters."),
        ({"line1": "x" * 201}, "line1", "Ensure this field has no more than 200 characters."),
        ({"city": "x" * 101}, "city", "Ensure this field has no more than 100 characters."),
    ],
)
def test_clean_refuses_bad_fields_with_a_message_for_the_field(change, field, message):
    with pytest.raises(InvalidInput) as exc:
        address_clean(data={**BODY, **change})

    assert exc.value.fields == {field: [message]}
    assert exc.value.detail == message


def test_clean_accepts_the_longest_values_the_columns_hold():
    cleaned = address_clean(data={**BODY, "name": "n" * 120, "line1": "l" * 200, "city": "c" * 100})

    assert (len(cleaned["name"]), len(cleaned["line1"]), len(cleaned["city"])) == (120, 200, 100)


def test_clean_postal_codes_outside_india_follow_the_generic_rule():
    base = {**BODY, "country": "US", "phone": "+12025550143"}

    assert address_clean(data={**base, "postal_code": "20500-0003"})["postal_code"] == "20500-0003"
    with pytest.raises(InvalidInput) as exc:
        address_clean(data={**base, "postal_code": "2"})
    assert exc.value.fields == {"postal_code": ["Enter a postal code of 2 to 10 letters, digits, spaces or hyphens."]}


def test_clean_refuses_a_body_that_is_not_an_object():
    with pytest.raises(InvalidInput) as exc:
        address_clean(data=["Asha"])  # type: ignore[arg-type]

    assert exc.value.fields == {"non_field_errors": ["Expected an object."]}


# --- checkout_address ---------------------------------------------------------------------------------------


def test_checkout_address_answers_a_saved_address_snapshot(shopper):
    address = AddressFactory(user=shopper, is_default=True)

    assert checkout_address(user=shopper, address_id=address.pk, shipping_address=None) == SHIPPING_ADDRESS


def test_checkout_address_cleans_a_typed_in_address_without_saving_it(shopper):
    snapshot = checkout_address(user=shopper, address_id=None, shipping_address={**BODY, "phone": "9812345678"})

    assert snapshot == BODY
    assert Address.objects.count() == 0


def test_checkout_address_of_another_user_or_unknown_is_not_found(shopper):
    other = AddressFactory(user=UserFactory())

    for address_id in (other.pk, other.pk + 1000):
        with pytest.raises(NotFoundError) as exc:
            checkout_address(user=shopper, address_id=address_id, shipping_address=None)
        assert exc.value.code == "not_found"


def test_checkout_address_wants_exactly_one_of_id_and_address(shopper):
    with pytest.raises(InvalidInput) as neither:
        checkout_address(user=shopper, address_id=None, shipping_address=None)
    with pytest.raises(InvalidInput) as both:
        checkout_address(user=shopper, address_id=1, shipping_address=BODY)

    assert neither.value.fields == {
        "address_id": ["Give either address_id or shipping_address."],
        "shipping_address": ["Give either address_id or shipping_address."],
    }
    only_one = ["Give only one of them."]
    assert both.value.fields == {"address_id": only_one, "shipping_address": only_one}


def test_checkout_address_field_errors_name_the_address_fields(shopper):
    with pytest.raises(InvalidInput) as exc:
        checkout_address(user=shopper, address_id=None, shipping_address={**BODY, "postal_code": "000000"})

    assert exc.value.fields == {"postal_code": [PIN]}


# --- the API ------------------------------------------------------------------------------------------------


def test_first_address_becomes_the_default_whatever_the_body_says(shopper, shopper_client):
    response = shopper_client.post(URL, {**BODY, "is_default": False}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in BODY} == BODY
    assert body["is_default"] is True
    assert set(body) == {*BODY, "id", "is_default", "created_at", "updated_at"}
    assert _defaults(shopper) == [body["id"]]


def test_a_second_address_is_not_the_default_unless_asked(shopper, shopper_client):
    first = shopper_client.post(URL, BODY, format="json").json()
    second = shopper_client.post(URL, {**BODY, "name": "Office"}, format="json").json()
    third = shopper_client.post(URL, {**BODY, "name": "Home", "is_default": True}, format="json").json()

    assert (first["is_default"], second["is_default"], third["is_default"]) == (True, False, True)
    assert _defaults(shopper) == [third["id"]]


def test_list_shows_the_default_first_then_newest_and_only_the_shoppers(shopper, shopper_client, time_machine):
    time_machine.move_to("2026-11-01 10:00:00Z", tick=False)
    old_default = AddressFactory(user=shopper, name="Home", is_default=True)
    time_machine.move_to("2026-11-02 10:00:00Z", tick=False)
    older = AddressFactory(user=shopper, name="Office")
    time_machine.move_to("2026-11-03 10:00:00Z", tick=False)
    newer = AddressFactory(user=shopper, name="Parents")
    AddressFactory(user=UserFactory(), name="Someone else", is_default=True)

    response = shopper_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [old_default.pk, newer.pk, older.pk]


def test_setting_the_default_on_one_clears_it_on_the_other(shopper, shopper_client):
    home = AddressFactory(user=shopper, is_default=True)
    office = AddressFactory(user=shopper, name="Office")

    response = shopper_client.patch(_detail(office), {"is_default": True}, format="json")

    assert response.status_code == 200
    assert response.json()["is_default"] is True
    assert _defaults(shopper) == [office.pk]
    home.refresh_from_db()
    assert home.is_default is False


def test_turning_the_default_off_is_refused(shopper, shopper_client):
    home = AddressFactory(user=shopper, is_default=True)

    response = shopper_client.patch(_detail(home), {"is_default": False}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "Make another address your default instead.",
        "fields": {"is_default": ["Make another address your default instead."]},
    }
    assert _defaults(shopper) == [home.pk]


def test_patch_changes_only_the_given_fields_and_validates_the_whole(shopper, shopper_client):
    home = AddressFactory(user=shopper, is_default=True)

    response = shopper_client.patch(_detail(home), {"city": " Mysuru ", "postal_code": "570001"}, format="json")

    assert response.status_code == 200
    home.refresh_from_db()
    assert home.as_snapshot() == {**SHIPPING_ADDRESS, "city": "Mysuru", "postal_code": "570001"}


def test_patch_to_another_country_rechecks_postal_code_and_phone(shopper, shopper_client):
    home = AddressFactory(user=shopper, is_default=True)

    response = shopper_client.patch(_detail(home), {"country": "US"}, format="json")

    # 560025 is a fine US-style code; the Indian phone stays valid in E.164 wherever the address is.
    assert response.status_code == 200
    assert response.json()["country"] == "US"
    bad = shopper_client.patch(_detail(home), {"country": "IN", "postal_code": "ABC12"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"postal_code": [PIN]}


def test_bad_patch_changes_nothing(shopper, shopper_client):
    home = AddressFactory(user=shopper, is_default=True)

    response = shopper_client.patch(_detail(home), {"city": "Mysuru", "phone": "12"}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"phone": ["Enter a valid phone number, e.g. +919812345678."]}
    home.refresh_from_db()
    assert home.city == "Bengaluru"


def test_deleting_the_default_promotes_the_newest_remaining(shopper, shopper_client, time_machine):
    time_machine.move_to("2026-11-01 10:00:00Z", tick=False)
    home = AddressFactory(user=shopper, is_default=True)
    time_machine.move_to("2026-11-02 10:00:00Z", tick=False)
    older = AddressFactory(user=shopper, name="Office")
    time_machine.move_to("2026-11-03 10:00:00Z", tick=False)
    newest = AddressFactory(user=shopper, name="Parents")

    response = shopper_client.delete(_detail(home))

    assert response.status_code == 204
    assert _defaults(shopper) == [newest.pk]
    assert list(Address.objects.filter(user=shopper).order_by("pk").values_list("pk", flat=True)) == [
        older.pk,
        newest.pk,
    ]


def test_deleting_another_address_keeps_the_default(shopper, shopper_client):
    home = AddressFactory(user=shopper, is_default=True)
    office = AddressFactory(user=shopper, name="Office")

    assert shopper_client.delete(_detail(office)).status_code == 204
    assert _defaults(shopper) == [home.pk]


def test_deleting_the_last_address_leaves_an_empty_book(shopper, shopper_client):
    home = AddressFactory(user=shopper, is_default=True)

    assert shopper_client.delete(_detail(home)).status_code == 204
    assert Address.objects.filter(user=shopper).count() == 0


def test_another_users_address_is_not_found_and_untouched(shopper_client):
    other = AddressFactory(user=UserFactory(), is_default=True)

    for response in (
        shopper_client.patch(_detail(other), {"city": "Mysuru"}, format="json"),
        shopper_client.patch(_detail(other), {"is_default": True}, format="json"),
        shopper_client.delete(_detail(other)),
        shopper_client.delete(f"{URL}/999999"),
        shopper_client.patch(f"{URL}/{10**30}", {"city": "Mysuru"}, format="json"),
        shopper_client.delete(f"{URL}/{10**30}"),
    ):
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "detail": "No such address."}
    other.refresh_from_db()
    assert (other.city, other.is_default) == ("Bengaluru", True)


def test_the_cap_is_a_conflict(shopper, shopper_client):
    AddressFactory.create_batch(MAX_ADDRESSES_PER_USER - 1, user=shopper)
    assert shopper_client.post(URL, BODY, format="json").status_code == 201

    response = shopper_client.post(URL, BODY, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "address_limit",
        "detail": f"You can keep at most {MAX_ADDRESSES_PER_USER} addresses; delete one first.",
    }
    assert Address.objects.filter(user=shopper).count() == MAX_ADDRESSES_PER_USER


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**BODY, "postal_code": "012345"}, {"postal_code": [PIN]}),
        ({**BODY, "is_default": "true"}, {"is_default": ["Must be true or false."]}),
        ({**BODY, "name": "x" * 10_000}, {"name": ["Ensure this field has no more than 120 characters."]}),
        ({**BODY, "phone": 919812345678}, {"phone": ["Not a valid string."]}),
        ({"name": "Asha"}, {n: [REQUIRED] for n in ("line1", "city", "state", "postal_code", "phone")}),
    ],
)
def test_bad_bodies_are_400_with_fields_and_save_nothing(shopper_client, body, fields):
    response = shopper_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"] == fields
    assert Address.objects.count() == 0


@pytest.mark.parametrize("body", ['["Asha"]', '"Asha"', "42", "null"])
def test_a_body_that_is_not_an_object_is_400(shopper, shopper_client, body):
    address = AddressFactory(user=shopper, is_default=True)

    created = shopper_client.post(URL, body, content_type="application/json")
    patched = shopper_client.patch(_detail(address), body, content_type="application/json")

    assert (created.status_code, patched.status_code) == (400, 400)
    assert created.json()["code"] == patched.json()["code"] == "invalid"


def test_unknown_keys_are_ignored(shopper_client):
    response = shopper_client.post(URL, {**BODY, "user": 999, "id": 5, "landmark": "Temple"}, format="json")

    assert response.status_code == 201
    assert "landmark" not in response.json()


def test_every_endpoint_needs_authentication(shopper):
    address = AddressFactory(user=shopper, is_default=True)
    client = APIClient()

    for response in (
        client.get(URL),
        client.post(URL, BODY, format="json"),
        client.patch(_detail(address), {"city": "Mysuru"}, format="json"),
        client.delete(_detail(address)),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_query_budgets_do_not_grow_with_the_book(shopper, shopper_client, django_assert_num_queries):
    home = AddressFactory(user=shopper, is_default=True)
    with django_assert_num_queries(2):  # count, page
        assert shopper_client.get(URL).status_code == 200
    # savepoint, lock user, lock addresses, clear old default, insert, release
    with django_assert_num_queries(6):
        assert shopper_client.post(URL, {**BODY, "is_default": True}, format="json").status_code == 201
    AddressFactory.create_batch(10, user=shopper)
    with django_assert_num_queries(2):
        assert shopper_client.get(URL).status_code == 200
    with django_assert_num_queries(6):
        assert shopper_client.patch(_detail(home), {"is_default": True}, format="json").status_code == 200
    with django_assert_num_queries(6):  # savepoint, lock user, lock addresses, delete, promote, release
        assert shopper_client.delete(_detail(home)).status_code == 204


# --- concurrency (PostgreSQL) -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_addresses_make_exactly_one_default():
    user = UserFactory()

    def create(name):
        return lambda: address_create(user=user, data={**BODY, "name": name}).pk

    results = run_together([create(f"Address {i}") for i in range(4)])

    assert [sorted(result) for result in results] == [["value"]] * 4
    assert Address.objects.filter(user=user).count() == 4
    assert len(_defaults(user)) == 1


def test_the_input_serializer_validates_with_the_same_rules():
    from commerce.orders.api.address_serializers import AddressInputSerializer

    good = AddressInputSerializer(data={**BODY, "phone": "98123 45678"})
    bad = AddressInputSerializer(data={**BODY, "postal_code": "012345", "phone": 1})

    assert good.is_valid() is True
    assert good.validated_data == BODY
    assert bad.is_valid() is False
    assert bad.errors == {"postal_code": [PIN], "phone": ["Not a valid string."]}
