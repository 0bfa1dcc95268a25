from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from accounts.models import AppendOnlyError, AuditEntry
from accounts.roles import FINANCE, SUPPORT
from accounts.services.audit import audit_context, audit_record
from tests.factories import TEST_PASSWORD, StaffFactory

from .helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(user):
    return audit_record(action="test.action", target=user, before={"a": 1}, after={"a": 2}, actor=user)


def test_audit_record_takes_actor_ip_and_user_agent_from_the_request(user):
    admin = StaffFactory(email="boss@example.com")
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140")
    request.user = admin
    with time_machine.travel(datetime(2026, 3, 1, 9, 30, tzinfo=UTC), tick=False):
        row = audit_record(action="user.flags_changed", target=user, before={"is_staff": False}, request=request)
    row.refresh_from_db()
    assert (row.actor, row.actor_label, row.action) == (admin, "boss@example.com", "user.flags_changed")
    assert (row.target_type, row.target_id, row.target_label) == ("accounts.user", str(user.pk), "ann@example.com")
    assert (row.before, row.after) == ({"is_staff": False}, {})
    assert (row.ip_address, row.user_agent) == ("203.0.113.7", "Firefox/140")
    assert row.created_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_audit_context_supplies_the_actor(user):
    admin = StaffFactory(email="boss@example.com")
    with audit_context(actor=admin):
        row = audit_record(action="x", target=user)
    assert row.actor == admin
    assert audit_record(action="y").actor is None


def test_entries_cannot_be_saved_again(entry):
    entry.action = "tampered"
    with pytest.raises(AppendOnlyError):
        entry.save()
    entry.refresh_from_db()
    assert entry.action == "test.action"


def test_entries_cannot_be_deleted(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_entries_cannot_be_changed_in_bulk(entry):
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="tampered")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.bulk_update([entry], ["action"])
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.update_or_create(pk=entry.pk, defaults={"action": "tampered"})
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.action"


def test_the_database_refuses_updates(entry):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_auditentry SET action = 'tampered' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.action"


@pytest.mark.postgres
def test_postgres_refuses_deletes(entry):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_auditentry WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_audit_entries_survive_the_deletion_of_their_actor(user, entry):
    actor_pk = user.pk
    user.delete()
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor_id == actor_pk
    assert entry.actor_label == "ann@example.com"


def test_group_changes_are_audited_from_both_sides(user):
    admin = StaffFactory(email="boss@example.com")
    support, finance = Group.objects.get(name=SUPPORT), Group.objects.get(name=FINANCE)
    with audit_context(actor=admin):
        user.groups.add(support)
        finance.user_set.add(user)
        user.groups.remove(support)
        finance.user_set.clear()
        user.groups.add(support)
        user.groups.add(support)  # no change, no row
    rows = list(AuditEntry.objects.filter(action="user.groups_changed").order_by("id"))
    assert [(r.before["groups"], r.after["groups"]) for r in rows] == [
        ([], ["support"]),
        (["support"], ["finance", "support"]),
        (["finance", "support"], ["finance"]),
        (["finance"], []),
        ([], ["support"]),
    ]
    assert {(r.actor_id, r.target_id) for r in rows} == {(admin.pk, str(user.pk))}


def test_permission_changes_of_users_and_roles_are_audited(user):
    permission = Permission.objects.get(content_type__app_label="accounts", codename="view_user")
    user.user_permissions.add(permission)
    group = Group.objects.create(name="temp")
    group.permissions.add(permission)
    user_row = AuditEntry.objects.get(action="user.permissions_changed")
    assert (user_row.before, user_row.after) == ({"user_permissions": []}, {"user_permissions": ["accounts.view_user"]})
    group_row = AuditEntry.objects.get(action="group.permissions_changed")
    assert (group_row.target_type, group_row.target_id) == ("auth.group", str(group.pk))
    assert group_row.after == {"permissions": ["accounts.view_user"]}


def test_staff_api_sign_ins_are_audited_and_shopper_ones_are_not(api_client, user):
    StaffFactory(email="staff@example.com")
    assert (
        api_client.post("/api/v1/auth/token", {"email": "staff@example.com", "password": TEST_PASSWORD}).status_code
        == 200
    )
    assert api_client.post("/api/v1/auth/token", {"email": "staff@example.com", "password": "x"}).status_code == 401
    api_client.post("/api/v1/auth/token", {"email": "ann@example.com", "password": TEST_PASSWORD})
    api_client.post("/api/v1/auth/token", {"email": "ann@example.com", "password": "x"})
    assert list(AuditEntry.objects.order_by("id").values_list("action", "actor_label", "after")) == [
        ("staff.login", "staff@example.com", {"channel": "api"}),
        ("staff.login_failed", "staff@example.com", {"channel": "api", "reason": "bad_credentials"}),
    ]


def test_role_changes_in_the_admin_are_audited_with_the_admin_as_actor(client, staff_with_totp, user):
    from django_otp import DEVICE_ID_SESSION_KEY

    admin, device = staff_with_totp
    client.force_login(admin)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    support = Group.objects.get(name=SUPPORT)
    page = client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in ("email", "full_name", "date_joined_0", "date_joined_1")}
    data.update(
        email=user.email,
        full_name=user.full_name,
        is_active="on",
        is_staff="on",
        groups=[support.pk],
        date_joined_0=user.date_joined.strftime("%Y-%m-%d"),
        date_joined_1=user.date_joined.strftime("%H:%M:%S"),
        password="",
    )
    data = {k: v for k, v in data.items() if v is not None}
    response = client.post(f"/admin/accounts/user/{user.pk}/change/", data, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    groups = AuditEntry.objects.get(action="user.groups_changed")
    assert (groups.actor, groups.ip_address, groups.after) == (admin, "198.51.100.4", {"groups": ["support"]})
    flags = AuditEntry.objects.get(action="user.flags_changed")
    assert (flags.before, flags.after) == ({"is_staff": False}, {"is_staff": True})


def test_the_audit_admin_is_read_only(client, staff_with_totp, entry):
    from django_otp import DEVICE_ID_SESSION_KEY

    admin, device = staff_with_totp
    client.force_login(admin)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    listing = client.get("/admin/accounts/auditentry/", {"q": "test.action"})
    assert listing.status_code == 200
    assert "test.action" in listing.content.decode()
    assert 'name="action"' not in listing.content.decode()  # no bulk actions (delete_selected)
    assert client.get("/admin/accounts/auditentry/add/").status_code == 403
    detail = client.get(f"/admin/accounts/auditentry/{entry.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert client.post(f"/admin/accounts/auditentry/{entry.pk}/change/", {"action": "x"}).status_code == 403
    assert client.post(f"/admin/accounts/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.action"


def test_api_actions_are_audited_with_ip_and_user_agent(user):
    client = client_for(user)
    client.post("/api/v1/me/2fa/totp", HTTP_USER_AGENT="ShopApp/2.1", REMOTE_ADDR="192.0.2.55")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user).update(confirmed=True)
    TOTPDevice.objects.get(user=user).delete()
    # Outside a request there is no IP: the removal row still names what was removed.
    row = AuditEntry.objects.get(action="2fa.device_removed")
    assert row.before["type"] == "otp_totp.totpdevice"
    assert row.ip_address is None
