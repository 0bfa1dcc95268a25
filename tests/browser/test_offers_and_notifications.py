"""Admin actions in the browser: switching an offer off, re-sending a dead-lettered notification."""

import re

import pytest
from django.core import mail

from commerce.notifications.models import Notification
from commerce.offers.models import Offer
from tests.offers.factories import OfferFactory

from .conftest import changelist_checkbox, run_action

pytestmark = [pytest.mark.browser]


def test_switching_an_offer_off_with_the_changelist_action(page, make_staff, signed_in):
    paused = OfferFactory(title="Monsoon Sale 20% off", code="MONSOON20")
    OfferFactory(title="Welcome 10% off", code="WELCOME10")
    user, _ = make_staff("offers@example.com", superuser=True)
    signed_in(user)

    page.goto("/admin/offers/offer/")
    changelist_checkbox(page, paused.pk).check()
    run_action(page, "Switch off (pause)")

    assert page.get_by_text("1 offer(s) switched off.").is_visible()
    assert dict(Offer.objects.values_list("code", "is_active")) == {"MONSOON20": False, "WELCOME10": True}


def test_resending_a_dead_letter_from_the_notifications_admin(page, make_staff, signed_in, eager_celery):
    dead = Notification.objects.create(
        channel=Notification.Channel.EMAIL,
        recipient="asha@example.com",
        template="welcome",
        subject="Welcome to Commerce",
        body="Hello Asha, your account is ready.",
        status=Notification.Status.FAILED,
        attempts=5,
        last_error="SMTPRecipientsRefused: 450 mailbox unavailable",
    )
    user, _ = make_staff("support@example.com", superuser=True)
    signed_in(user)

    page.goto("/admin/notifications/notification/?status__exact=failed")
    changelist_checkbox(page, dead.pk).check()
    run_action(page, "Re-send selected")

    assert page.get_by_text("1 notification queued for re-sending.").is_visible()
    dead.refresh_from_db()
    # Celery runs eagerly here, so the re-queued message went out at once, with a fresh set of attempts.
    assert (dead.status, dead.attempts, dead.resend_count) == (Notification.Status.SENT, 1, 1)
    assert [(m.to, m.subject) for m in mail.outbox] == [(["asha@example.com"], "Welcome to Commerce")]
    assert page.get_by_text(re.compile("skipped")).count() == 0
