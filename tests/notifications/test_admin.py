"""The notifications admin: dead letters are visible, filterable and re-sent through the admin action."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from commerce.notifications import sms
from commerce.notifications.errors import PermanentSendError
from commerce.notifications.models import Notification
from commerce.notifications.services import notification_send_sms
from tests.conftest import login_verified
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:notifications_notification_changelist")


@pytest.fixture
def send_otp(django_capture_on_commit_callbacks):
    """Send an OTP SMS (after commit, eagerly); ``fail=True`` makes the provider refuse it permanently."""

    def send(phone: str, *, fail: bool) -> Notification:
        if fail:
            sms.failures.append(
                PermanentSendError("Twilio 400 (code 21610): Attempt to send to unsubscribed recipient")
            )
        with django_capture_on_commit_callbacks(execute=True):
            notification = notification_send_sms(
                to=phone, template="otp_login", context={"code": "482913", "minutes": 5}
            )
        notification.refresh_from_db()
        return notification

    return send


def test_permanent_failure_is_dead_lettered_then_resent_from_the_admin(
    otp_admin_client, send_otp, django_capture_on_commit_callbacks
):
    dead = send_otp("+919812345678", fail=True)
    assert dead.status == Notification.Status.FAILED
    assert sms.outbox == []

    listing = otp_admin_client.get(CHANGELIST, {"status__exact": "failed"})
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [dead]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = otp_admin_client.post(
            CHANGELIST, {"action": "resend_selected", "_selected_action": [dead.pk]}, follow=True
        )
    assert response.status_code == 200
    assert len(callbacks) == 1
    assert [str(m) for m in response.context["messages"]] == ["1 notification queued for re-sending."]

    dead.refresh_from_db()
    assert dead.status == Notification.Status.SENT
    assert dead.attempts == 1
    assert dead.resend_count == 1
    assert dead.last_error == "PermanentSendError: Twilio 400 (code 21610): Attempt to send to unsubscribed recipient"
    assert [(m.to, m.body) for m in sms.outbox] == [
        ("+919812345678", "482913 is your login code. It expires in 5 minutes. Never share it with anyone.")
    ]


def test_resend_action_skips_rows_that_are_not_dead_letters(
    otp_admin_client, send_otp, django_capture_on_commit_callbacks
):
    sent = send_otp("+919812345678", fail=False)
    dead = send_otp("+919800000001", fail=True)
    assert len(sms.outbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = otp_admin_client.post(
            CHANGELIST, {"action": "resend_selected", "_selected_action": [sent.pk, dead.pk]}, follow=True
        )

    assert [str(m) for m in response.context["messages"]] == [
        "1 notification queued for re-sending.",
        "1 skipped: only failed (dead-letter) notifications can be re-sent.",
    ]
    sent.refresh_from_db()
    dead.refresh_from_db()
    assert sent.resend_count == 0
    assert dead.status == Notification.Status.SENT
    assert [m.to for m in sms.outbox] == ["+919812345678", "+919800000001"]


def test_changelist_filters_and_searches(otp_admin_client, send_otp):
    first = send_otp("+919812345678", fail=False)
    second = send_otp("+919800000001", fail=True)

    by_channel = otp_admin_client.get(CHANGELIST, {"channel__exact": "sms"})
    by_search = otp_admin_client.get(CHANGELIST, {"q": "+919800000001"})
    by_email = otp_admin_client.get(CHANGELIST, {"channel__exact": "email"})

    assert set(by_channel.context["cl"].result_list) == {first, second}
    assert list(by_search.context["cl"].result_list) == [second]
    assert list(by_email.context["cl"].result_list) == []
    assert "Failed (dead letter)" in by_channel.content.decode()


def test_detail_page_is_read_only_and_masks_one_time_codes(otp_admin_client, send_otp):
    dead = send_otp("+919812345678", fail=True)

    response = otp_admin_client.get(reverse("admin:notifications_notification_change", args=[dead.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "482913" not in page
    assert "\u2022" * 6 + " is your login code" in page
    assert 'name="_save"' not in page
    assert otp_admin_client.get(reverse("admin:notifications_notification_add")).status_code == 403
    assert otp_admin_client.get(reverse("admin:notifications_notification_delete", args=[dead.pk])).status_code == 403


def test_staff_who_may_only_view_notifications_cannot_resend(client, send_otp):
    dead = send_otp("+919812345678", fail=True)
    viewer = StaffFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_notification"))
    login_verified(client, viewer)

    listing = client.get(CHANGELIST)
    response = client.post(CHANGELIST, {"action": "resend_selected", "_selected_action": [dead.pk]}, follow=True)

    assert listing.status_code == 200
    assert "resend_selected" not in listing.content.decode()
    assert response.status_code == 200
    assert list(response.context["messages"]) == []
    dead.refresh_from_db()
    assert dead.status == Notification.Status.FAILED
    assert sms.outbox == []


def test_staff_without_notification_permissions_are_refused(client):
    login_verified(client, StaffFactory())
    assert client.get(CHANGELIST).status_code == 403
