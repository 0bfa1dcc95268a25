"""django-axes on the API sign-in: lockout per account and per IP, 429 ``locked_out`` with ``Retry-After``; behind
a proxy, per forwarded client (the same address the throttles and the audit log use)."""

from datetime import UTC, datetime

import pytest
from axes.models import AccessAttempt

from accounts.models import AuditEntry
from tests.factories import TEST_PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
LOCKED = {"code": "locked_out", "detail": "Too many failed sign-in attempts. Try again later."}
PROXY = "10.0.0.1"
CLIENT_A = "203.0.113.7"
CLIENT_B = "198.51.100.20"


@pytest.fixture
def axes(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    return settings


@pytest.fixture(autouse=True)
def frozen(time_machine):
    """Lockouts last 15 minutes: every test runs at a fixed instant and moves the clock itself."""
    time_machine.move_to(datetime(2026, 3, 14, 12, 0, tzinfo=UTC), tick=False)
    return time_machine


@pytest.fixture
def behind_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def attempt(client, email, password, ip="10.0.0.1"):
    return client.post(TOKEN, {"email": email, "password": password}, REMOTE_ADDR=ip)


def via_proxy(client, email, password, forwarded_for):
    return client.post(
        TOKEN, {"email": email, "password": password}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for
    )


def test_an_account_is_locked_after_repeated_failures(api_client, axes, frozen):
    UserFactory(email="ann@example.com")
    assert [attempt(api_client, "ann@example.com", "wrong", ip=f"10.0.0.{n}").status_code for n in range(2)] == [
        401,
        401,
    ]
    locked = attempt(api_client, "Ann@Example.com", "wrong", ip="10.0.0.3")
    assert locked.status_code == 429
    assert locked.json() == LOCKED
    assert locked["Retry-After"] == "900"

    right = attempt(api_client, "ann@example.com", TEST_PASSWORD, ip="10.0.0.4")
    assert right.status_code == 429
    assert right.json() == LOCKED

    frozen.shift(15 * 60 + 1)
    assert attempt(api_client, "ann@example.com", TEST_PASSWORD, ip="10.0.0.5").status_code == 200


def test_an_ip_is_locked_after_repeated_failures_across_accounts(api_client, axes):
    UserFactory(email="ann@example.com")
    for n in range(3):
        attempt(api_client, f"guess{n}@example.com", "wrong")
    blocked = attempt(api_client, "ann@example.com", TEST_PASSWORD)
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "locked_out"
    assert attempt(api_client, "ann@example.com", TEST_PASSWORD, ip="10.0.0.2").status_code == 200


def test_a_successful_sign_in_resets_the_count(api_client, axes):
    UserFactory(email="ann@example.com")
    attempt(api_client, "ann@example.com", "wrong")
    attempt(api_client, "ann@example.com", "wrong")
    assert attempt(api_client, "ann@example.com", TEST_PASSWORD).status_code == 200
    assert attempt(api_client, "ann@example.com", "wrong").status_code == 401
    assert attempt(api_client, "ann@example.com", "wrong").status_code == 401


def test_failed_staff_sign_ins_are_audited_with_the_lockout(api_client, axes):
    staff = StaffFactory(email="staff@example.com")
    for _ in range(3):
        attempt(api_client, "staff@example.com", "wrong")
    reasons = list(
        AuditEntry.objects.filter(action="staff.login_failed").order_by("id").values_list("after__reason", flat=True)
    )
    assert reasons == ["bad_credentials", "bad_credentials", "locked_out"]
    assert set(AuditEntry.objects.values_list("target_id", flat=True)) == {str(staff.pk)}


# --- behind a proxy ---------------------------------------------------------------------------------------


def test_behind_a_proxy_one_clients_failures_lock_out_that_client_only(api_client, axes, behind_proxy):
    UserFactory(email="ann@example.com")
    UserFactory(email="bob@example.com")
    failures = [via_proxy(api_client, f"guess{n}@example.com", "wrong", CLIENT_A).status_code for n in range(3)]
    assert failures == [401, 401, 429]

    locked = via_proxy(api_client, "ann@example.com", TEST_PASSWORD, CLIENT_A)
    assert (locked.status_code, locked.json()) == (429, LOCKED)
    # Another client behind the same proxy signs in fine.
    assert via_proxy(api_client, "bob@example.com", TEST_PASSWORD, CLIENT_B).status_code == 200
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {CLIENT_A}


def test_behind_a_proxy_the_client_is_the_entry_the_proxy_added(api_client, axes, behind_proxy):
    UserFactory(email="bob@example.com")
    # Client A writes a left part of its own; only the proxy's entry (the rightmost) counts.
    for n in range(3):
        via_proxy(api_client, f"guess{n}@example.com", "wrong", f"192.0.2.{n}, {CLIENT_A}")
    assert via_proxy(api_client, "bob@example.com", TEST_PASSWORD, f"192.0.2.9, {CLIENT_A}").status_code == 429
    assert via_proxy(api_client, "bob@example.com", TEST_PASSWORD, CLIENT_B).status_code == 200


def test_behind_a_proxy_audit_rows_record_the_clients_address(api_client, axes, behind_proxy):
    StaffFactory(email="staff@example.com")
    via_proxy(api_client, "staff@example.com", "wrong", CLIENT_A)
    assert list(AuditEntry.objects.values_list("action", "ip_address")) == [("staff.login_failed", CLIENT_A)]


def test_without_proxies_a_spoofed_forwarded_header_is_ignored(api_client, axes, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    UserFactory(email="ann@example.com")
    for n in range(3):
        api_client.post(
            TOKEN,
            {"email": f"guess{n}@example.com", "password": "wrong"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    spoofed = api_client.post(
        TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT_B
    )
    assert (spoofed.status_code, spoofed.json()) == (429, LOCKED)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {PROXY}
