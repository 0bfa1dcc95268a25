"""Records written only by services look read-only in the back office: no add button, no Save buttons, no
delete link, and no bulk actions except the notifications' "Re-send selected" (which calls the service).

The offers app's records (redemptions, clicks, daily counts) are covered in tests/offers/test_admin.py.
"""

import re

import pytest

from accounts.models import AuditEntry
from commerce.notifications.models import Notification
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

SAVE_BUTTONS = ('name="_save"', 'name="_continue"', 'name="_addanother"')


def offered_actions(page: str) -> list[str]:
    if 'name="action"' not in page:
        return []
    return re.findall(r'<option value="(\w+)"', page.split('name="action"', 1)[1].split("</select>", 1)[0])


@pytest.fixture
def superuser_client(admin_login):
    return admin_login(StaffFactory(is_superuser=True))


def test_the_audit_log_is_read_only(superuser_client):
    entry = AuditEntry.objects.create(actor_label="root@example.com", action="stock.adjusted")

    listing = superuser_client.get("/admin/accounts/auditentry/").content.decode()
    detail = superuser_client.get(f"/admin/accounts/auditentry/{entry.pk}/change/").content.decode()

    assert "stock.adjusted" in listing
    assert "/admin/accounts/auditentry/add/" not in listing
    assert 'aria-label="Select record"' not in listing
    assert offered_actions(listing) == []
    assert [button for button in SAVE_BUTTONS if button in detail] == []
    assert f"/admin/accounts/auditentry/{entry.pk}/delete/" not in detail


def test_notifications_are_read_only_and_offer_only_the_resend_action(superuser_client):
    notification = Notification.objects.create(
        channel="email", recipient="ana@example.com", template="welcome", body="Hello"
    )

    listing = superuser_client.get("/admin/notifications/notification/").content.decode()
    detail = superuser_client.get(f"/admin/notifications/notification/{notification.pk}/change/").content.decode()

    assert "ana@example.com" in listing
    assert "/admin/notifications/notification/add/" not in listing
    assert offered_actions(listing) == ["resend_selected"]
    assert [button for button in SAVE_BUTTONS if button in detail] == []
    assert f"/admin/notifications/notification/{notification.pk}/delete/" not in detail
