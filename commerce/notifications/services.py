"""Every write to notifications: request a message, deliver it, re-send a dead letter, sweep stale rows.

How a message travels:

1. :func:`notification_send_email` / :func:`notification_send_sms` render the template, validate the recipient
   and create a ``queued`` :class:`~commerce.notifications.models.Notification` in the caller's transaction.
   The Celery task ``commerce.notifications.tasks.send_notification`` (queue ``notifications``) is published
   when that transaction commits, so a rolled-back caller sends nothing and a worker never sees a row that does
   not exist yet. In the embedded default Celery is eager and the message goes out right after the commit.
2. The task calls :func:`notification_deliver`. It *claims* the row in a short transaction (``queued`` ->
   ``sending``, ``attempts + 1``), talks to the provider outside any lock, then records the outcome in a second
   short transaction. A task that finds the row ``sent`` or ``failed`` does nothing, and one that finds it
   ``sending`` leaves it alone, so duplicated and retried tasks never send a message twice.
3. Outcomes: accepted -> ``sent`` (with the provider's message id). Transient error -> back to ``queued`` and the
   task retries after :func:`retry_countdown` seconds (exponential backoff with jitter), up to
   :data:`MAX_ATTEMPTS` attempts. Permanent error or attempts used up -> ``failed``, the dead-letter state.
4. :func:`notification_resend` (the admin action) puts a dead letter back to ``queued`` for a fresh set of
   attempts. :func:`notification_requeue_stale` (a periodic task) re-publishes ``queued`` rows whose task was
   lost (broker down at commit time) and dead-letters ``sending`` rows whose worker died mid-send: whether
   such a message reached the provider is unknown, so a person decides about re-sending it, not a timer.
"""

import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from commerce.core.errors import Conflict, DomainError, InvalidInput

from .email import send_email
from .errors import PermanentSendError, TransientSendError
from .models import ALLOWED_TRANSITIONS, Notification
from .rendering import render_email, render_sms
from .sms import get_sms_backend

logger = logging.getLogger(__name__)

Status = Notification.Status

# Attempts per set (a re-send from the admin starts a new set).
MAX_ATTEMPTS = 5
# Backoff before attempt n+1: RETRY_BASE_SECONDS * 2**(n-1), plus up to half of that again as random jitter,
# never more than RETRY_MAX_SECONDS. With the defaults: ~30s, ~60s, ~120s, ~240s, then a dead letter.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
# A queued row untouched for this long (past its retry time) has lost its task and is published again.
STALE_QUEUED_AFTER = timedelta(minutes=10)
SWEEP_BATCH_SIZE = 500
# Twilio accepts at most 1600 characters per message.
SMS_MAX_LENGTH = 1600
MAX_ERROR_LENGTH = 2000
REDACTED_BODY = "[one-time code removed after delivery]"

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class Delivery:
    """What one run of the send task did. ``retry_in`` (seconds) is set when the task must run again."""

    outcome: str  # sent | retry | dead_letter | skipped | in_progress | missing | lost_claim
    status: str | None = None
    retry_in: float | None = None


@dataclass(frozen=True)
class Sweep:
    requeued: int
    dead_lettered: int


def claim_lease() -> timedelta:
    """How long a ``sending`` claim is honoured: longer than a task may run (Celery's hard time limit)."""
    return timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", None) or 300) + timedelta(minutes=1)


def retry_countdown(*, attempts: int, rng: Callable[[], float] | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempts`` (1-based): exponential, jittered, capped.

    The jitter (up to half the delay, from ``rng``, default ``random.random``) spreads out the retries of
    messages that failed together, so a recovering provider is not hit by all of them at once."""
    delay = RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    jitter = (rng or random.random)() * delay / 2
    return round(float(min(RETRY_MAX_SECONDS, delay + jitter)), 3)


# --- Requesting messages --------------------------------------------------------------------------------


def notification_send_email(
    *, to: str, template: str, context: dict[str, Any], user_id: int | None = None
) -> Notification:
    """Queue the email ``templates/emails/<template>/`` for ``to``; it is sent after the current transaction commits."""
    to = to.strip()
    try:
        validate_email(to)
    except ValidationError as exc:
        raise InvalidInput(
            f"{to!r} is not a valid email address.", code="invalid_recipient", fields={"to": list(exc.messages)}
        ) from exc
    rendered = render_email(template=template, context=context)
    return _notification_create(
        channel=Notification.Channel.EMAIL,
        recipient=to,
        template=template,
        subject=rendered.subject,
        body=rendered.text,
        html_body=rendered.html,
        user_id=user_id,
    )


def notification_send_sms(
    *, to: str, template: str, context: dict[str, Any], user_id: int | None = None
) -> Notification:
    """Queue the SMS ``templates/sms/<template>.txt`` for the E.164 number ``to``; sent after commit."""
    to = to.strip()
    if not _E164.match(to):
        raise InvalidInput(
            f"{to!r} is not a phone number in E.164 form.",
            code="invalid_recipient",
            fields={"to": ["Enter the number in E.164 form, e.g. +919812345678."]},
        )
    body = render_sms(template=template, context=context)
    if not body or len(body) > SMS_MAX_LENGTH:
        raise InvalidInput(
            f"SMS template {template!r} rendered {len(body)} characters; 1 to {SMS_MAX_LENGTH} are allowed.",
            code="invalid_message",
        )
    return _notification_create(
        channel=Notification.Channel.SMS, recipient=to, template=template, body=body, user_id=user_id
    )


def notification_send_to_reachable(
    *, email: str, phone: str, template: str, context: dict[str, Any], user_id: int | None, label: str, kind: str
) -> Notification | None:
    """Queue ``template`` to whoever can be reached: by email when there is an address, else by SMS when there is
    a number. A refused address or number, or neither, is logged at WARNING (``"<label>: <kind> message not sent:
    ..."``) and answers None: a message never breaks what triggered it. ``label`` names the cause in the log
    (``"order ORD-ABC123"``, ``"member 42"``)."""
    try:
        if email:
            return notification_send_email(to=email, template=template, context=context, user_id=user_id)
        if phone:
            return notification_send_sms(to=phone, template=template, context=context, user_id=user_id)
    except DomainError as exc:
        logger.warning("%s: %s message not sent: %s", label, kind, exc.detail)
        return None
    logger.warning("%s: no email or phone to send the %s message to", label, kind)
    return None


def _notification_create(**fields: Any) -> Notification:
    with transaction.atomic():
        notification = Notification.objects.create(status=Status.QUEUED, **fields)
        _enqueue_on_commit(notification.pk)
    return notification


def _enqueue_on_commit(notification_id: int) -> None:
    def enqueue() -> None:
        from .tasks import send_notification  # tasks import this module

        try:
            send_notification.apply_async(args=[notification_id])
        except Exception:
            # The row is committed and stays queued: notification_requeue_stale publishes it again later.
            logger.exception("Could not publish notification %s; it stays queued for the sweeper", notification_id)

    transaction.on_commit(enqueue)


# --- Delivering -----------------------------------------------------------------------------------------


def _set_status(notification: Notification, status: str) -> None:
    if status not in ALLOWED_TRANSITIONS[notification.status]:
        raise Conflict(
            f"A {notification.get_status_display().lower()} notification cannot become {status}.",
            code="invalid_state_transition",
        )
    notification.status = status


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


def _dispatch(notification: Notification) -> str:
    """Hand the message to its channel's backend; return the provider message id."""
    if notification.channel == Notification.Channel.EMAIL:
        return send_email(
            to=notification.recipient,
            subject=notification.subject,
            text=notification.body,
            html=notification.html_body,
        )
    return get_sms_backend().send(to=notification.recipient, body=notification.body)


def notification_deliver(*, notification_id: int) -> Delivery:
    """Make one delivery attempt for a notification; safe to call any number of times for the same row."""
    now = timezone.now()
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None:
            logger.warning("Notification %s does not exist; nothing to send", notification_id)
            return Delivery(outcome="missing")
        if notification.status in (Status.SENT, Status.FAILED):
            return Delivery(outcome="skipped", status=notification.status)
        if notification.status == Status.SENDING:
            if notification.claimed_at is not None and notification.claimed_at + claim_lease() > now:
                # Another worker is talking to the provider right now; it records the outcome.
                return Delivery(outcome="in_progress", status=notification.status)
            _dead_letter_unknown_outcome(notification)
            return Delivery(outcome="dead_letter", status=notification.status)
        _set_status(notification, Status.SENDING)
        notification.attempts += 1
        notification.claimed_at = now
        notification.next_attempt_at = None
        notification.save(update_fields=["status", "attempts", "claimed_at", "next_attempt_at", "updated_at"])

    # No lock is held while the provider is called: the `sending` claim keeps other workers away.
    provider_message_id = ""
    error: Exception | None = None
    permanent = False
    try:
        provider_message_id = _dispatch(notification)
    except PermanentSendError as exc:
        error, permanent = exc, True
    except TransientSendError as exc:
        error = exc
    except Exception as exc:
        # A backend failure nobody classified: retried like a transient one, and logged in full.
        logger.exception("Unexpected error sending notification %s", notification_id)
        error = exc
    return _record_outcome(notification, provider_message_id=provider_message_id, error=error, permanent=permanent)


def _record_outcome(
    claimed: Notification, *, provider_message_id: str, error: Exception | None, permanent: bool
) -> Delivery:
    now = timezone.now()
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=claimed.pk)
        if notification.status != Status.SENDING or notification.claimed_at != claimed.claimed_at:
            logger.error(
                "Notification %s changed to %s while being sent; outcome %s not recorded",
                notification.pk,
                notification.status,
                "sent" if error is None else _error_text(error),
            )
            return Delivery(outcome="lost_claim", status=notification.status)
        fields = ["status", "updated_at"]
        if error is None:
            _set_status(notification, Status.SENT)
            notification.provider_message_id = provider_message_id[:255]
            notification.sent_at = now
            fields += ["provider_message_id", "sent_at"]
            if notification.is_sensitive:
                notification.body = REDACTED_BODY
                fields.append("body")
            delivery = Delivery(outcome="sent", status=Status.SENT)
        else:
            notification.last_error = _error_text(error)
            fields.append("last_error")
            if not permanent and notification.attempts < MAX_ATTEMPTS:
                countdown = retry_countdown(attempts=notification.attempts)
                _set_status(notification, Status.QUEUED)
                notification.next_attempt_at = now + timedelta(seconds=countdown)
                fields.append("next_attempt_at")
                delivery = Delivery(outcome="retry", status=Status.QUEUED, retry_in=countdown)
            else:
                if not permanent:
                    notification.last_error = (
                        f"Gave up after {notification.attempts} attempts. {notification.last_error}"
                    )[:MAX_ERROR_LENGTH]
                _set_status(notification, Status.FAILED)
                delivery = Delivery(outcome="dead_letter", status=Status.FAILED)
        notification.save(update_fields=fields)
    if delivery.outcome == "dead_letter":
        logger.warning("Notification %s dead-lettered: %s", notification.pk, notification.last_error)
    return delivery


def _dead_letter_unknown_outcome(notification: Notification) -> None:
    """A claim outlived the lease: the worker died mid-send and nobody knows whether the provider got it."""
    _set_status(notification, Status.FAILED)
    started = notification.claimed_at.isoformat() if notification.claimed_at else "an unknown time"
    notification.last_error = (
        f"Delivery outcome unknown: the send attempt started at {started} never "
        "finished (the worker stopped). Check the provider before re-sending."
    )
    notification.save(update_fields=["status", "last_error", "updated_at"])
    logger.warning("Notification %s dead-lettered: %s", notification.pk, notification.last_error)


# --- Operations -----------------------------------------------------------------------------------------


def notification_resend(*, notification: Notification) -> Notification:
    """Put a dead letter (``failed``) back in the queue for a fresh set of attempts; sent after commit.

    Raises :class:`~commerce.core.errors.Conflict` for any other status: a sent message is never sent again,
    and a queued or sending one is already on its way."""
    with transaction.atomic():
        locked = Notification.objects.select_for_update().get(pk=notification.pk)
        _set_status(locked, Status.QUEUED)
        locked.attempts = 0
        locked.resend_count += 1
        locked.claimed_at = None
        locked.next_attempt_at = None
        locked.save(update_fields=["status", "attempts", "resend_count", "claimed_at", "next_attempt_at", "updated_at"])
        _enqueue_on_commit(locked.pk)
    return locked


def notification_requeue_stale(*, now: datetime | None = None) -> Sweep:
    """Recover rows whose task was lost: re-publish stale ``queued`` rows, dead-letter expired ``sending`` claims.

    Run periodically (task ``commerce.notifications.tasks.requeue_stale``). Re-publishing is safe because
    delivery is idempotent; at most :data:`SWEEP_BATCH_SIZE` rows of each kind are handled per run."""
    now = now or timezone.now()
    expired_claims = list(
        Notification.objects.filter(status=Status.SENDING, claimed_at__lt=now - claim_lease())
        .order_by("claimed_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH_SIZE]
    )
    dead_lettered = 0
    for pk in expired_claims:
        with transaction.atomic():
            notification = Notification.objects.select_for_update().get(pk=pk)
            claimed_at = notification.claimed_at
            if notification.status == Status.SENDING and claimed_at is not None and claimed_at < now - claim_lease():
                _dead_letter_unknown_outcome(notification)
                dead_lettered += 1

    cutoff = now - STALE_QUEUED_AFTER
    stale_queued = list(
        Notification.objects.filter(status=Status.QUEUED)
        .filter(Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, updated_at__lt=cutoff))
        .order_by("updated_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH_SIZE]
    )
    with transaction.atomic():
        for pk in stale_queued:
            _enqueue_on_commit(pk)
    if dead_lettered or stale_queued:
        logger.warning("Notification sweep: %s re-published, %s dead-lettered", len(stale_queued), dead_lettered)
    return Sweep(requeued=len(stale_queued), dead_lettered=dead_lettered)
