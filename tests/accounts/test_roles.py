"""Roles (groups from the data migration), the permission module, and owner scoping."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.http import Http404
from django.test import RequestFactory
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.permissions import Can, HasRole, can, get_owned_or_404, has_role, owned_by
from accounts.roles import ADMIN, ALL_ROLES, CATALOG_MANAGER, FINANCE, MERCHANT_STAFF, SUPPORT
from tests.factories import StaffFactory, UserFactory

from .helpers import client_for

pytestmark = pytest.mark.django_db


def perms(role: str, app_label: str | None = None) -> set[str]:
    group = Group.objects.get(name=role)
    qs = group.permissions.select_related("content_type")
    if app_label:
        qs = qs.filter(content_type__app_label=app_label)
    return {f"{p.content_type.app_label}.{p.codename}" for p in qs}


def test_every_role_exists_as_a_group():
    assert set(ALL_ROLES) <= set(Group.objects.values_list("name", flat=True))
    assert ALL_ROLES == ("admin", "support", "finance", "catalog_manager", "merchant_staff")


def test_accounts_permissions_of_each_role_are_as_documented():
    assert perms(ADMIN, "accounts") == {
        "accounts.add_user",
        "accounts.change_user",
        "accounts.delete_user",
        "accounts.view_user",
        "accounts.view_auditentry",
        "accounts.view_smsdevice",
        "accounts.delete_smsdevice",
    }
    assert perms(SUPPORT, "accounts") == {"accounts.view_user"}
    assert perms(FINANCE, "accounts") == {"accounts.view_user", "accounts.view_auditentry"}
    assert perms(CATALOG_MANAGER, "accounts") == set()
    assert perms(MERCHANT_STAFF, "accounts") == set()


def test_support_and_admin_see_and_resend_notifications_others_do_not():
    expected = {"notifications.view_notification", "notifications.change_notification"}
    assert perms(SUPPORT, "notifications") == expected
    assert perms(ADMIN, "notifications") == expected
    assert perms(FINANCE, "notifications") == set()
    assert perms(CATALOG_MANAGER, "notifications") == set()
    assert perms(MERCHANT_STAFF, "notifications") == set()


def test_admin_manages_roles_2fa_resets_and_lockouts():
    assert {
        "auth.add_group",
        "auth.change_group",
        "auth.delete_group",
        "auth.view_group",
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
        "otp_static.delete_staticdevice",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
    } <= perms(ADMIN)
    assert "otp_totp.add_totpdevice" not in perms(ADMIN)  # nobody plants a device for someone else
    assert perms(SUPPORT, "axes") == {"axes.view_accessattempt"}
    for role in (SUPPORT, FINANCE, CATALOG_MANAGER, MERCHANT_STAFF):
        assert not perms(role, "auth")
        assert not perms(role, "otp_totp")


def test_nobody_can_change_or_delete_audit_entries():
    from django.contrib.auth.models import Permission

    assert set(
        Permission.objects.filter(content_type__app_label="accounts", content_type__model="auditentry").values_list(
            "codename", flat=True
        )
    ) == {"view_auditentry"}


def test_has_role_and_can():
    support = StaffFactory()
    support.groups.add(Group.objects.get(name=SUPPORT))
    root = UserFactory(is_superuser=True)
    inactive = UserFactory(is_active=False, is_superuser=True)

    assert has_role(support, SUPPORT) and not has_role(support, FINANCE)
    assert can(support, "accounts.view_user") and not can(support, "accounts.change_user")
    assert has_role(root, FINANCE) and can(root, "accounts.delete_user")
    assert not has_role(inactive, FINANCE) and not can(inactive, "accounts.view_user")
    assert not has_role(AnonymousUser(), SUPPORT) and not can(AnonymousUser(), "accounts.view_user")
    with pytest.raises(ValueError):
        has_role(support, "janitor")
    with pytest.raises(ValueError):
        can(support, "view_user")


def test_drf_permission_classes_use_the_same_checks():
    finance = StaffFactory()
    finance.groups.add(Group.objects.get(name=FINANCE))
    shopper = UserFactory()
    request = RequestFactory().get("/")
    for user, expected in ((finance, True), (shopper, False)):
        request.user = user
        assert HasRole(FINANCE, ADMIN)().has_permission(request, None) is expected
        assert Can("accounts.view_auditentry")().has_permission(request, None) is expected


def test_owned_objects_of_someone_else_are_a_404():
    ann, bob = UserFactory(), UserFactory()
    client_for(ann), client_for(bob)
    ann_token = OutstandingToken.objects.get(user=ann)
    bob_token = OutstandingToken.objects.get(user=bob)
    assert list(owned_by(OutstandingToken.objects.all(), ann)) == [ann_token]
    assert list(owned_by(OutstandingToken.objects.all(), AnonymousUser())) == []
    assert get_owned_or_404(OutstandingToken.objects.all(), ann, pk=ann_token.pk) == ann_token
    with pytest.raises(Http404):
        get_owned_or_404(OutstandingToken.objects.all(), ann, pk=bob_token.pk)


def _verified_admin_client(client, user):
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def test_support_reads_users_in_the_admin_but_cannot_change_them(client):
    support = StaffFactory(email="support@example.com")
    support.groups.add(Group.objects.get(name=SUPPORT))
    shopper = UserFactory(email="shopper@example.com")
    _verified_admin_client(client, support)

    assert client.get("/admin/accounts/user/").status_code == 200
    page = client.get(f"/admin/accounts/user/{shopper.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(f"/admin/accounts/user/{shopper.pk}/change/", {"email": "x@example.com"}).status_code == 403
    assert client.get("/admin/accounts/auditentry/").status_code == 403
    assert client.get("/admin/auth/group/").status_code == 403


def test_finance_reads_the_audit_log(client):
    finance = StaffFactory(email="finance@example.com")
    finance.groups.add(Group.objects.get(name=FINANCE))
    _verified_admin_client(client, finance)
    assert client.get("/admin/accounts/auditentry/").status_code == 200
    assert client.get("/admin/accounts/user/add/").status_code == 403


def test_an_admin_who_is_not_superuser_cannot_grant_superuser(client):
    admin = StaffFactory(email="admin@example.com")
    admin.groups.add(Group.objects.get(name=ADMIN))
    target = UserFactory(email="target@example.com")
    _verified_admin_client(client, admin)
    page = client.get(f"/admin/accounts/user/{target.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert "is_superuser" not in form.fields
    assert "user_permissions" not in form.fields
    assert "groups" in form.fields


def test_an_admin_who_is_not_superuser_cannot_change_a_superuser(client):
    admin = StaffFactory(email="admin@example.com")
    admin.groups.add(Group.objects.get(name=ADMIN))
    root = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    _verified_admin_client(client, admin)
    page = client.get(f"/admin/accounts/user/{root.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(f"/admin/accounts/user/{root.pk}/change/", {"is_active": ""}).status_code == 403
    assert client.post(f"/admin/accounts/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    root.refresh_from_db()
    assert root.is_active is True
