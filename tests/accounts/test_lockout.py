"""django-axes on the API sign-in: lockout per account and per IP, 429 ``locked_out`` with ``Retry-After``."""

import pytest
from django.utils import timezone

from accounts.models import AuditEntry
from tests.factories import TEST_PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
LOCKED = {"code": "locked_out", "detail": "Too many failed sign-in attempts. Try again later."}


@pytest.fixture
def axes(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    return settings


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def attempt(client, email, password, ip="10.0.0.1"):
    return client.post(TOKEN, {"email": email, "password": password}, REMOTE_ADDR=ip)


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
