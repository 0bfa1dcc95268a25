"""Notifications: one row per email or SMS, from the moment it is requested until it is sent or given up.

Life of a row (``Notification.Status``)::

    queued --claim--> sending --provider accepted--> sent
      ^                  |
      |                  +--transient error, attempts left--> queued  (retried later, with backoff)
      |                  +--permanent error / attempts used up / outcome unknown--> failed
      +------------------------------------------- re-send (admin) ---------------+

``failed`` *is* the dead-letter state: every failed row was given up on by the worker, is listed in the admin
under "Failed (dead letter)", is counted as ``dead_letter`` by ``GET /api/v1/health/redis`` and can be re-sent
from the admin, which starts a fresh set of attempts. ``sending`` is held only while one worker talks to the
provider; it is what guarantees that a duplicated or retried task never sends a message twice.

Statuses change only in :mod:`commerce.notifications.services`, following :data:`ALLOWED_TRANSITIONS`.
"""

from django.db import models
from django.db.models import Q

from commerce.core.models import TimeStampedModel


class Notification(TimeStampedModel):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (dead letter)"

    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=254, help_text="Email address or E.164 phone number.")
    # A plain integer, not a foreign key: notifications sit below accounts in the layers (docs/architecture.md).
    user_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    template = models.CharField(max_length=100, help_text="emails/<template>/ or sms/<template>.txt")
    # The message is rendered once, when it is requested, so that retries and re-sends send the same text.
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField()
    html_body = models.TextField(blank=True)

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts in the current set (reset on re-send).")
    resend_count = models.PositiveSmallIntegerField(default=0, help_text="Times re-sent from the admin.")
    last_error = models.TextField(blank=True, help_text="The most recent delivery error, if any.")
    provider_message_id = models.CharField(max_length=255, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When the current send attempt began.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="notif_status_updated_idx"),
            models.Index(fields=["recipient"], name="notif_recipient_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms"]),
                name="notif_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "sending", "sent", "failed"]),
                name="notif_status_valid",
            ),
            models.CheckConstraint(
                condition=(Q(status="sent") & Q(sent_at__isnull=False)) | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="notif_sent_at_iff_sent",
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(claimed_at__isnull=False),
                name="notif_sending_is_claimed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.template} to {self.recipient} ({self.status})"

    @property
    def is_dead_letter(self) -> bool:
        return self.status == self.Status.FAILED

    @property
    def is_sensitive(self) -> bool:
        """One-time codes: masked in the admin and erased from the row once delivered."""
        return self.template.startswith(SENSITIVE_TEMPLATE_PREFIXES)


# Templates whose text is a secret (one-time codes). Naming convention: templates/sms/otp_*.txt.
SENSITIVE_TEMPLATE_PREFIXES = ("otp_",)

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Notification.Status.QUEUED: frozenset({Notification.Status.SENDING}),
    Notification.Status.SENDING: frozenset(
        {Notification.Status.SENT, Notification.Status.QUEUED, Notification.Status.FAILED}
    ),
    Notification.Status.SENT: frozenset(),
    Notification.Status.FAILED: frozenset({Notification.Status.QUEUED}),
}
