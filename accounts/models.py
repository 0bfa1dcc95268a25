"""Accounts data: the user, phone one-time codes, the SMS second-factor device and the staff audit log.

* :class:`User`: email is the password login (case-insensitive unique); an optional phone is unique, in E.164.
  An account made by phone OTP login has a phone and no email, so email is nullable; every account has at
  least one of the two (a CHECK constraint).
* :class:`PhoneOTP`: the one live code per (phone, purpose), stored as a keyed hash. Rules live in
  :mod:`accounts.services.otp`.
* :class:`SmsDevice`: a django-otp device that sends its codes through :class:`PhoneOTP`, so SMS second factor
  follows exactly the rules of OTP login.
* :class:`AuditEntry`: append-only. ``save`` refuses updates, ``delete`` and queryset ``update``/``delete``
  raise, and the database itself refuses ``UPDATE`` (and ``DELETE`` on PostgreSQL) with a trigger.
"""

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django_otp.models import Device

from commerce.core.models import AppendOnlyError as AppendOnlyError  # re-exported: raised by AuditEntry
from commerce.core.models import AppendOnlyModel

from .phone import validate_e164


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # The whole address is lower-cased: mailbox names are case-insensitive in practice, and one person
        # must not be able to hold two accounts as Ann@x.com and ann@x.com.
        return (email or "").strip().lower()

    def get_by_natural_key(self, username: str | None) -> "User":
        email = self.normalize_email(username)
        if not email:
            # Phone-only accounts have no email; an empty login must never match them.
            raise self.model.DoesNotExist
        return self.get(email=email)

    def _create_user(self, email: str, password: str | None, **extra) -> "User":
        email = self.normalize_email(email)
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):  # type: ignore[django-manager-missing]  # django-otp devices are untyped
    email = models.EmailField("email address", max_length=254, unique=True, null=True, blank=True)
    phone = models.CharField(
        max_length=16,
        unique=True,
        null=True,
        blank=True,
        validators=[validate_e164],
        help_text="E.164, e.g. +919812345678",
    )
    phone_verified = models.BooleanField(default=False)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["id"]
        # The dashboard's new-shoppers card counts sign-ups per day over a date range.
        indexes = [models.Index(fields=["date_joined"], name="accounts_user_joined_idx")]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(phone__isnull=False), name="accounts_user_email_or_phone"
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.phone or f"user {self.pk}"

    def clean(self) -> None:
        super().clean()
        self.email = UserManager.normalize_email(self.email) or None
        if self.phone == "":
            self.phone = None
        if self.email is None and self.phone is None:
            raise ValidationError({"email": "An account needs an email address or a phone number."})

    def save(self, *args, **kwargs) -> None:
        self.email = UserManager.normalize_email(self.email) or None
        if self.phone == "":
            self.phone = None
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or str(self)

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else str(self)


class PhoneOTP(models.Model):
    """The live one-time code for one phone and purpose. A new request overwrites the row (replacing the old
    code); the code itself is never stored, only ``HMAC-SHA256(SECRET_KEY, purpose:phone:code)``."""

    class Purpose(models.TextChoices):
        LOGIN = "login", "Login"
        SECOND_FACTOR = "second_factor", "Second factor"
        VERIFY_PHONE = "verify_phone", "Verify phone"

    phone = models.CharField(max_length=16, validators=[validate_e164])
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Wrong codes entered for this code.")
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "phone one-time code"
        constraints = [
            models.UniqueConstraint(fields=["phone", "purpose"], name="accounts_phoneotp_one_per_phone_purpose"),
            models.CheckConstraint(
                condition=Q(purpose__in=["login", "second_factor", "verify_phone"]), name="accounts_phoneotp_purpose"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} code for {self.phone}"


class SmsDevice(Device):
    """Second factor by SMS for users without an authenticator app. The phone is copied from the user's
    *verified* phone at enrolment, so a later phone change does not move the second factor."""

    phone = models.CharField(max_length=16, validators=[validate_e164])

    class Meta(Device.Meta):
        verbose_name = "SMS device"
        constraints = [models.UniqueConstraint(fields=["user"], name="accounts_smsdevice_one_per_user")]

    def generate_challenge(self) -> str:
        """Send a fresh code (django-otp's interactive-device hook)."""
        from .services.otp import phone_otp_request

        phone_otp_request(phone=self.phone, purpose=PhoneOTP.Purpose.SECOND_FACTOR, user_id=self.user_id)
        return "A code was sent by SMS."

    def verify_token(self, token: str) -> bool:
        from .services.otp import phone_otp_check

        return phone_otp_check(phone=self.phone, purpose=PhoneOTP.Purpose.SECOND_FACTOR, code=token).ok


class AuditEntry(AppendOnlyModel):
    """Who did what to which object, when and from where. Written only by
    :func:`accounts.services.audit.audit_record`; never changed or deleted.

    ``actor`` keeps the id even after the user is deleted (no database constraint, no cascade), and
    ``actor_label`` keeps the email or phone as it was, so history survives account deletion.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=254, blank=True, help_text="Email/phone of the actor at the time.")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=100, blank=True, help_text='"app_label.model"')
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"], name="accounts_audit_target_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label or 'system'} {self.action}"


class FingerprintKind(models.TextChoices):
    IP = "ip", "IP address"
    DEVICE = "device", "Device"
    PHONE = "phone", "Phone number"


class AccountFingerprint(models.Model):
    """A keyed hash of something an account was seen with: the IP address or device id it signed in or signed up
    from, a phone number it gave (at checkout, say). Never the value itself. Fraud checks (cashback risk, loyalty's
    self-referral refusal) ask which *other* accounts share a hash with this one
    (:func:`accounts.selectors.accounts_sharing_fingerprints`). Written only by
    :func:`accounts.services.fingerprints.account_fingerprint_record`; one row per account, kind and value, with
    the first and last time it was seen."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fingerprints")
    kind = models.CharField(max_length=8, choices=FingerprintKind.choices)
    value_hash = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "value_hash"], name="accounts_fingerprint_unique"),
        ]
        indexes = [models.Index(fields=["kind", "value_hash"], name="accounts_fingerprint_value_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.value_hash[:8]} of {self.user_id}"
