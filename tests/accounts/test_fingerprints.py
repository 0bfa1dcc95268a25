"""Account fingerprints: keyed hashes of IPs, device ids and phones; recorded on sign-up and sign-in."""

import hashlib
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountFingerprint
from accounts.selectors import accounts_sharing_fingerprints
from accounts.services.fingerprints import account_fingerprint_record, fingerprint_hash
from tests.concurrency import run_together
from tests.factories import TEST_PASSWORD, UserFactory

from .helpers import PHONE, last_code

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
OTP_REQUEST = "/api/v1/auth/otp/request"
OTP_VERIFY = "/api/v1/auth/otp/verify"
DEVICE = "6f1c2a8e-4b7d-4e0a-9c55-0d2f3b9a7e11"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _rows(user) -> set[tuple[str, str]]:
    return set(AccountFingerprint.objects.filter(user=user).values_list("kind", "value_hash"))


# --- the hash ---------------------------------------------------------------------------------------------------


def test_hash_is_hex_sha256_sized_stable_and_not_a_plain_digest():
    first = fingerprint_hash(kind="device", value=DEVICE)
    assert first == fingerprint_hash(kind="device", value=DEVICE)
    assert len(first) == 64 and int(first, 16) >= 0
    assert first != hashlib.sha256(f"device:{DEVICE}".encode()).hexdigest()
    assert first != hashlib.sha256(DEVICE.encode()).hexdigest()


def test_hash_is_keyed_with_the_secret_key(settings):
    before = fingerprint_hash(kind="ip", value="203.0.113.7")
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert fingerprint_hash(kind="ip", value="203.0.113.7") != before


def test_the_kind_is_part_of_the_hash():
    assert fingerprint_hash(kind="device", value="203.0.113.7") != fingerprint_hash(kind="ip", value="203.0.113.7")


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("ip", "203.0.113.7", " 203.0.113.7 "),
        ("ip", "::ffff:203.0.113.7", "203.0.113.7"),
        ("ip", "2001:DB8:0:0::1", "2001:db8::1"),
        ("phone", "98123 45678", PHONE),
        ("phone", "+91 98123-45678", PHONE),
        ("device", f"  {DEVICE}\t", DEVICE),
    ],
)
def test_equal_values_in_other_forms_hash_alike(kind, a, b):
    assert fingerprint_hash(kind=kind, value=a) == fingerprint_hash(kind=kind, value=b)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("ip", "unknown"),
        ("ip", "203.0.113.7:443"),
        ("ip", ""),
        ("phone", "12"),
        ("phone", "x" * 40),
        ("device", ""),
        ("device", "   "),
        ("device", "d" * 201),
        ("device", "bad\x00id"),
        ("email", "ann@example.com"),
    ],
)
def test_values_that_do_not_normalise_are_refused(kind, value):
    with pytest.raises(ValueError):
        fingerprint_hash(kind=kind, value=value)


def test_a_device_id_of_200_characters_is_accepted():
    assert len(fingerprint_hash(kind="device", value="d" * 200)) == 64


# --- recording --------------------------------------------------------------------------------------------------


def test_record_stores_one_hashed_row_per_kind_and_no_raw_value(time_machine):
    time_machine.move_to(T0, tick=False)
    user = UserFactory()
    account_fingerprint_record(user_id=user.pk, ip="203.0.113.7", device_id=DEVICE, phone="98123 45678")

    assert _rows(user) == {
        ("ip", fingerprint_hash(kind="ip", value="203.0.113.7")),
        ("device", fingerprint_hash(kind="device", value=DEVICE)),
        ("phone", fingerprint_hash(kind="phone", value=PHONE)),
    }
    assert set(AccountFingerprint.objects.values_list("first_seen_at", "last_seen_at")) == {(T0, T0)}
    stored = " ".join(str(value) for row in AccountFingerprint.objects.values_list() for value in row)
    for raw in ("203.0.113.7", DEVICE, PHONE, "9812345678"):
        assert raw not in stored


def test_record_skips_values_that_do_not_normalise():
    user = UserFactory()
    account_fingerprint_record(user_id=user.pk, ip="unknown", device_id="d" * 201, phone="")
    account_fingerprint_record(user_id=user.pk, ip=None, device_id=None, phone=None)
    assert not AccountFingerprint.objects.exists()
    account_fingerprint_record(user_id=user.pk, ip="unknown", device_id=DEVICE)
    assert _rows(user) == {("device", fingerprint_hash(kind="device", value=DEVICE))}


def test_a_known_value_refreshes_last_seen_at_at_most_once_a_day(time_machine):
    time_machine.move_to(T0, tick=False)
    user = UserFactory()
    account_fingerprint_record(user_id=user.pk, ip="203.0.113.7")

    time_machine.move_to(T0 + timedelta(hours=23, minutes=59), tick=False)
    with CaptureQueriesContext(connection) as queries:
        account_fingerprint_record(user_id=user.pk, ip="203.0.113.7")
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE")]
    assert writes == []
    assert AccountFingerprint.objects.get().last_seen_at == T0

    time_machine.move_to(T0 + timedelta(days=1), tick=False)
    account_fingerprint_record(user_id=user.pk, ip="203.0.113.7")
    row = AccountFingerprint.objects.get()
    assert (row.first_seen_at, row.last_seen_at) == (T0, T0 + timedelta(days=1))


def test_a_new_value_adds_a_row_beside_the_known_ones(time_machine):
    time_machine.move_to(T0, tick=False)
    user = UserFactory()
    account_fingerprint_record(user_id=user.pk, ip="203.0.113.7")
    time_machine.move_to(T0 + timedelta(hours=1), tick=False)
    account_fingerprint_record(user_id=user.pk, ip="203.0.113.8", device_id=DEVICE)
    assert sorted(AccountFingerprint.objects.values_list("kind", "first_seen_at")) == [
        ("device", T0 + timedelta(hours=1)),
        ("ip", T0),
        ("ip", T0 + timedelta(hours=1)),
    ]


def test_a_row_inserted_meanwhile_by_another_sign_in_is_not_an_error(monkeypatch):
    """The read found nothing, then a concurrent sign-in inserted the row: the insert ignores the conflict."""
    user = UserFactory()
    value_hash = fingerprint_hash(kind="device", value=DEVICE)
    real_filter = AccountFingerprint.objects.filter

    def filter_then_race(*args, **kwargs):
        result = list(real_filter(*args, **kwargs))
        AccountFingerprint.objects.create(user=user, kind="device", value_hash=value_hash)
        return real_filter(pk__in=[row.pk for row in result])

    monkeypatch.setattr(AccountFingerprint.objects, "filter", filter_then_race)
    account_fingerprint_record(user_id=user.pk, device_id=DEVICE)
    monkeypatch.undo()
    assert _rows(user) == {("device", value_hash)}


def test_the_unique_constraint_keeps_one_row_per_account_kind_and_hash():
    user = UserFactory()
    AccountFingerprint.objects.create(user=user, kind="ip", value_hash="a" * 64)
    with pytest.raises(IntegrityError):
        AccountFingerprint.objects.create(user=user, kind="ip", value_hash="a" * 64)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sign_ins_of_one_account_store_each_value_once():
    user = UserFactory()
    results = run_together(
        [lambda: account_fingerprint_record(user_id=user.pk, ip="203.0.113.7", device_id=DEVICE)] * 10
    )
    assert [result for result in results if "error" in result] == []
    assert AccountFingerprint.objects.filter(user=user).count() == 2


# --- sharing ------------------------------------------------------------------------------------------------------


def test_sharing_counts_other_accounts_per_kind_in_one_query(django_assert_num_queries):
    ann, bob, cat, dan = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    account_fingerprint_record(user_id=ann.pk, ip="203.0.113.7", device_id=DEVICE, phone=PHONE)
    account_fingerprint_record(user_id=ann.pk, ip="203.0.113.8")
    # bob shares both IPs and the device: still one account per kind.
    account_fingerprint_record(user_id=bob.pk, ip="203.0.113.7", device_id=DEVICE)
    account_fingerprint_record(user_id=bob.pk, ip="203.0.113.8")
    account_fingerprint_record(user_id=cat.pk, ip="203.0.113.8", device_id="another-device")
    account_fingerprint_record(user_id=dan.pk, ip="198.51.100.1", phone="+919812345679")

    with django_assert_num_queries(1):
        shared = accounts_sharing_fingerprints(user_id=ann.pk)
    assert shared == {"ip": 2, "device": 1, "phone": 0}
    assert accounts_sharing_fingerprints(user_id=dan.pk) == {"ip": 0, "device": 0, "phone": 0}
    assert accounts_sharing_fingerprints(user_id=cat.pk) == {"ip": 2, "device": 0, "phone": 0}


def test_an_account_without_fingerprints_shares_nothing():
    assert accounts_sharing_fingerprints(user_id=UserFactory().pk) == {"ip": 0, "device": 0, "phone": 0}


# --- recorded by the sign-in endpoints ------------------------------------------------------------------------


def test_register_records_the_ip_and_the_device(api_client):
    response = api_client.post(
        REGISTER,
        {"email": "new@example.com", "password": "a-long-unusual-pass-77"},
        format="json",
        HTTP_X_DEVICE_ID=DEVICE,
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 201
    assert _rows(response.json()["user"]["id"]) == {
        ("ip", fingerprint_hash(kind="ip", value="203.0.113.7")),
        ("device", fingerprint_hash(kind="device", value=DEVICE)),
    }


def test_password_sign_in_records_the_ip_the_device_and_the_phone(api_client):
    user = UserFactory(email="ann@example.com", phone=PHONE)
    response = api_client.post(
        TOKEN,
        {"email": "ann@example.com", "password": TEST_PASSWORD},
        format="json",
        HTTP_X_DEVICE_ID=DEVICE,
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 200
    assert _rows(user) == {
        ("ip", fingerprint_hash(kind="ip", value="203.0.113.7")),
        ("device", fingerprint_hash(kind="device", value=DEVICE)),
        ("phone", fingerprint_hash(kind="phone", value=PHONE)),
    }


def test_a_failed_sign_in_records_nothing(api_client):
    UserFactory(email="ann@example.com")
    response = api_client.post(
        TOKEN, {"email": "ann@example.com", "password": "wrong-password-1"}, format="json", HTTP_X_DEVICE_ID=DEVICE
    )
    assert response.status_code == 401
    assert not AccountFingerprint.objects.exists()


def test_otp_sign_in_records_the_ip_the_device_and_the_phone(api_client, post):
    post(api_client, OTP_REQUEST, {"phone": PHONE})
    response = post(
        api_client,
        OTP_VERIFY,
        {"phone": PHONE, "code": last_code(PHONE)},
        HTTP_X_DEVICE_ID=DEVICE,
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200
    assert _rows(response.json()["user"]["id"]) == {
        ("ip", fingerprint_hash(kind="ip", value="203.0.113.9")),
        ("device", fingerprint_hash(kind="device", value=DEVICE)),
        ("phone", fingerprint_hash(kind="phone", value=PHONE)),
    }


def test_two_accounts_signing_in_from_one_device_share_it(api_client):
    ann, bob = UserFactory(email="ann@example.com"), UserFactory(email="bob@example.com")
    for user in (ann, bob):
        response = api_client.post(
            TOKEN, {"email": user.email, "password": TEST_PASSWORD}, format="json", HTTP_X_DEVICE_ID=DEVICE
        )
        assert response.status_code == 200
    assert accounts_sharing_fingerprints(user_id=ann.pk) == {"ip": 1, "device": 1, "phone": 0}


def test_sign_in_without_or_with_a_garbage_device_id_records_only_the_ip(api_client):
    user = UserFactory(email="ann@example.com")
    for extra in ({}, {"HTTP_X_DEVICE_ID": "d" * 500}):
        response = api_client.post(
            TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}, format="json", **extra
        )
        assert response.status_code == 200
    assert _rows(user) == {("ip", fingerprint_hash(kind="ip", value="127.0.0.1"))}


def test_a_broken_recorder_does_not_break_sign_in(api_client, monkeypatch, caplog):
    def broken(**kwargs):
        raise IntegrityError("the fingerprint table is gone")

    monkeypatch.setattr("accounts.api.views.account_fingerprint_record", broken)
    UserFactory(email="ann@example.com")
    with caplog.at_level(logging.ERROR, logger="accounts.api.views"):
        token = api_client.post(
            TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}, format="json", HTTP_X_DEVICE_ID=DEVICE
        )
        register = api_client.post(
            REGISTER, {"email": "new@example.com", "password": "a-long-unusual-pass-77"}, format="json"
        )
    assert (token.status_code, register.status_code) == (200, 201)
    assert set(token.json()) == {"access", "refresh"}
    assert [r.getMessage() for r in caplog.records] == [
        "Recording the fingerprints of a sign-in failed; the sign-in goes on."
    ] * 2
    assert not AccountFingerprint.objects.exists()


def test_a_database_error_while_recording_leaves_the_sign_in_working(api_client, monkeypatch):
    """The recorder runs in a savepoint: a failed insert rolls back only its own work."""

    def failing_bulk_create(*args, **kwargs):
        raise IntegrityError("simulated")

    monkeypatch.setattr(AccountFingerprint.objects, "bulk_create", failing_bulk_create)
    UserFactory(email="ann@example.com")
    response = api_client.post(
        TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}, format="json", HTTP_X_DEVICE_ID=DEVICE
    )
    assert response.status_code == 200
    assert not AccountFingerprint.objects.exists()


def test_the_schema_documents_the_optional_device_header(api_client):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in ("/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/otp/verify"):
        headers = [p for p in paths[path]["post"].get("parameters", []) if p["in"] == "header"]
        assert [(p["name"], p.get("required", False), p["schema"]["type"]) for p in headers] == [
            ("X-Device-Id", False, "string")
        ]
    refresh = paths["/api/v1/auth/token/refresh"]["post"].get("parameters", [])
    assert [p["name"] for p in refresh] == []
