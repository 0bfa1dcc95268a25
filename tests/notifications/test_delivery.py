"""Requesting, delivering, retrying and dead-lettering notifications (Celery eager, as in the embedded default)."""

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.exceptions import Retry
from django.core import mail
from django.db import transaction
from django.utils import timezone

from commerce.core.errors import Conflict, InvalidInput
from commerce.notifications import services, sms
from commerce.notifications.email import classify_smtp_error
from commerce.notifications.errors import PermanentSendError, TransientSendError
from commerce.notifications.models import Notification
from commerce.notifications.selectors import notification_dead_letter_count
from commerce.notifications.services import (
    notification_requeue_stale,
    notification_resend,
    notification_send_email,
    notification_send_sms,
    retry_countdown,
)
from commerce.notifications.tasks import send_notification
from tests.notifications import backends

pytestmark = pytest.mark.django_db

PHONE = "+919812345678"
OTP_TEXT = "482913 is your login code. It expires in 5 minutes. Never share it with anyone."


def _send_otp(**kwargs) -> Notification:
    return notification_send_sms(
        to=PHONE, template="otp_login", context={"code": "482913", "minutes": 5}, user_id=3, **kwargs
    )


def test_email_is_queued_until_commit_then_sent_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        notification = notification_send_email(
            to="asha@example.com", template="welcome", context={"user_name": "Asha"}, user_id=7
        )
        notification.refresh_from_db()
        assert notification.status == Notification.Status.QUEUED
        assert notification.attempts == 0
        assert mail.outbox == []
    assert len(callbacks) == 1

    with time_machine.travel(datetime(2026, 3, 1, 9, 30, tzinfo=UTC), tick=False):
        callbacks[0]()

    notification.refresh_from_db()
    assert notification.channel == "email"
    assert notification.recipient == "asha@example.com"
    assert notification.user_id == 7
    assert notification.template == "welcome"
    assert notification.subject == "Welcome to Commerce, Asha"
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 1
    assert notification.last_error == ""
    assert notification.sent_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["asha@example.com"]
    assert message.from_email == "Commerce <no-reply@localhost>"
    assert message.subject == "Welcome to Commerce, Asha"
    assert message.body.startswith("Hi Asha,\n")
    assert message.alternatives[0][1] == "text/html"
    assert "<p>Hi Asha,</p>" in message.alternatives[0][0]
    assert notification.provider_message_id == message.extra_headers["Message-ID"]

    # A duplicated task finds the row sent and sends nothing.
    assert send_notification.apply(args=[notification.pk]).get() == "skipped"
    assert len(mail.outbox) == 1


def test_nothing_is_created_or_sent_when_the_caller_rolls_back(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notification_send_email(to="asha@example.com", template="welcome", context={"user_name": "Asha"})
        raise RuntimeError("checkout failed")
    assert callbacks == []
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_invalid_recipients_are_refused():
    with pytest.raises(InvalidInput) as email_error:
        notification_send_email(to="not-an-address", template="welcome", context={"user_name": "Asha"})
    with pytest.raises(InvalidInput) as sms_error:
        notification_send_sms(to="98123 45678", template="otp_login", context={"code": "1", "minutes": 5})
    assert email_error.value.code == "invalid_recipient"
    assert sms_error.value.code == "invalid_recipient"
    assert sms_error.value.fields == {"to": ["Enter the number in E.164 form, e.g. +919812345678."]}
    assert Notification.objects.count() == 0


def test_sms_transient_error_is_retried_then_sent_once(django_capture_on_commit_callbacks):
    sms.failures.append(TransientSendError("Twilio 503 (code 20500): Service Unavailable"))
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send_otp()

    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 2
    assert notification.last_error == "TransientSendError: Twilio 503 (code 20500): Service Unavailable"
    assert [(m.to, m.body) for m in sms.outbox] == [(PHONE, OTP_TEXT)]
    assert notification.provider_message_id == sms.outbox[0].message_id

    assert send_notification.apply(args=[notification.pk]).get() == "skipped"
    assert len(sms.outbox) == 1


def test_task_called_twice_after_a_transient_error_sends_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():  # not executed: the test drives the task itself
        notification = _send_otp()
    sms.failures.append(TransientSendError("connection reset"))
    before = timezone.now()

    with pytest.raises(Retry):
        send_notification(notification.pk)

    notification.refresh_from_db()
    assert notification.status == Notification.Status.QUEUED
    assert notification.attempts == 1
    assert notification.last_error == "TransientSendError: connection reset"
    # First retry: 30 s plus up to 15 s of jitter.
    assert before + timedelta(seconds=30) <= notification.next_attempt_at
    assert notification.next_attempt_at <= timezone.now() + timedelta(seconds=45)
    assert sms.outbox == []

    assert send_notification(notification.pk) == "sent"
    assert send_notification(notification.pk) == "skipped"

    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 2
    assert notification.next_attempt_at is None
    assert [m.body for m in sms.outbox] == [OTP_TEXT]


def test_one_time_code_is_erased_from_the_row_once_delivered(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send_otp()
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.body == "[one-time code removed after delivery]"


def test_permanent_failure_is_dead_lettered_at_once(django_capture_on_commit_callbacks):
    sms.failures.append(PermanentSendError("Twilio 400 (code 21211): Invalid 'To' Phone Number"))
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send_otp()

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.is_dead_letter is True
    assert notification.attempts == 1
    assert notification.last_error == "PermanentSendError: Twilio 400 (code 21211): Invalid 'To' Phone Number"
    assert notification.sent_at is None
    assert notification.body == OTP_TEXT  # kept for a re-send
    assert sms.outbox == []
    assert notification_dead_letter_count() == 1

    # A late duplicate of the task does not send a dead letter either.
    assert send_notification.apply(args=[notification.pk]).get() == "skipped"
    assert sms.outbox == []


def test_exhausted_retries_are_dead_lettered(django_capture_on_commit_callbacks):
    sms.failures.extend(TransientSendError(f"timeout {n}") for n in range(1, 6))
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send_otp()

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == services.MAX_ATTEMPTS == 5
    assert notification.last_error == "Gave up after 5 attempts. TransientSendError: timeout 5"
    assert sms.failures == []
    assert sms.outbox == []
    assert notification_dead_letter_count() == 1


def test_unclassified_backend_errors_are_retried(django_capture_on_commit_callbacks):
    sms.failures.append(RuntimeError("provider SDK bug"))
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send_otp()
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 2
    assert notification.last_error == "RuntimeError: provider SDK bug"
    assert len(sms.outbox) == 1


def test_smtp_recipient_refused_is_dead_lettered(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.notifications.backends.FailingEmailBackend"
    backends.failures.append(smtplib.SMTPRecipientsRefused({"gone@example.com": (550, b"5.1.1 No such user")}))
    with django_capture_on_commit_callbacks(execute=True):
        notification = notification_send_email(to="gone@example.com", template="welcome", context={"user_name": "G"})
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == 1
    assert notification.last_error == (
        "PermanentSendError: Recipient refused: {'gone@example.com': (550, b'5.1.1 No such user')}"
    )
    assert mail.outbox == []


def test_smtp_disconnect_is_retried_then_sent_once(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.notifications.backends.FailingEmailBackend"
    backends.failures.append(smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))
    with django_capture_on_commit_callbacks(execute=True):
        notification = notification_send_email(to="asha@example.com", template="welcome", context={"user_name": "A"})
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 2
    assert notification.last_error == ("TransientSendError: SMTP connection failed: Connection unexpectedly closed")
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}), PermanentSendError),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (452, b"mailbox full, try later")}), TransientSendError),
        (smtplib.SMTPSenderRefused(553, b"sender not allowed", "no-reply@localhost"), PermanentSendError),
        (smtplib.SMTPDataError(451, b"try again later"), TransientSendError),
        (smtplib.SMTPDataError(554, b"rejected as spam"), PermanentSendError),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), PermanentSendError),
        (smtplib.SMTPServerDisconnected("closed"), TransientSendError),
        (smtplib.SMTPConnectError(421, b"too busy"), TransientSendError),
        (ConnectionRefusedError(111, "Connection refused"), TransientSendError),
        (TimeoutError("timed out"), TransientSendError),
    ],
)
def test_smtp_errors_are_classified(exc, kind):
    assert type(classify_smtp_error(exc)) is kind


def test_retry_countdown_is_exponential_jittered_and_capped():
    assert retry_countdown(attempts=1, rng=lambda: 0.0) == 30
    assert retry_countdown(attempts=2, rng=lambda: 0.0) == 60
    assert retry_countdown(attempts=3, rng=lambda: 0.5) == 150
    assert retry_countdown(attempts=4, rng=lambda: 1.0) == 360
    assert retry_countdown(attempts=12, rng=lambda: 0.0) == 3600
    assert 30 <= retry_countdown(attempts=1) <= 45


def test_only_dead_letters_can_be_resent(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sent = _send_otp()
    with django_capture_on_commit_callbacks():
        queued = _send_otp()
    for notification in (sent, queued):
        with pytest.raises(Conflict) as error:
            notification_resend(notification=notification)
        assert error.value.code == "invalid_state_transition"
    assert len(sms.outbox) == 1


def test_resend_starts_a_fresh_set_of_attempts(django_capture_on_commit_callbacks):
    sms.failures.extend(TransientSendError("timeout") for _ in range(5))
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send_otp()
    notification.refresh_from_db()
    assert notification.attempts == 5

    with django_capture_on_commit_callbacks(execute=True):
        resent = notification_resend(notification=notification)
    assert resent.resend_count == 1

    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 1
    assert notification.resend_count == 1
    assert len(sms.outbox) == 1


def test_a_task_leaves_a_row_being_sent_by_another_worker_alone(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        notification = _send_otp()
    # Simulates another worker's claim, as notification_deliver makes it.
    Notification.objects.filter(pk=notification.pk).update(status="sending", attempts=1, claimed_at=timezone.now())

    assert send_notification.apply(args=[notification.pk]).get() == "in_progress"

    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENDING
    assert sms.outbox == []


def test_sweeper_dead_letters_abandoned_claims_and_republishes_lost_tasks(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():  # their tasks are "lost": never run
        abandoned = _send_otp()
        lost = notification_send_email(to="asha@example.com", template="welcome", context={"user_name": "Asha"})
    claimed_at = timezone.now() - timedelta(minutes=2)
    Notification.objects.filter(pk=abandoned.pk).update(status="sending", attempts=1, claimed_at=claimed_at)

    # Right away, nothing is stale yet.
    with django_capture_on_commit_callbacks(execute=True):
        assert notification_requeue_stale() == services.Sweep(requeued=0, dead_lettered=0)
    lost.refresh_from_db()
    assert lost.status == Notification.Status.QUEUED

    with django_capture_on_commit_callbacks(execute=True):
        sweep = notification_requeue_stale(now=timezone.now() + timedelta(minutes=11))
    assert sweep == services.Sweep(requeued=1, dead_lettered=1)

    abandoned.refresh_from_db()
    assert abandoned.status == Notification.Status.FAILED
    assert abandoned.last_error.startswith("Delivery outcome unknown: the send attempt started at ")
    assert sms.outbox == []
    lost.refresh_from_db()
    assert lost.status == Notification.Status.SENT
    assert len(mail.outbox) == 1


def test_task_for_a_missing_row_does_nothing():
    assert send_notification.apply(args=[987654]).get() == "missing"
