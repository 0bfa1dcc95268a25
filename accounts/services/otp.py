"""Phone one-time codes: request, check, consume. The rules, for every purpose (login, second factor, phone
verification):

* a code has 6 digits, is sent by SMS through notifications and lives :data:`CODE_TTL` (5 minutes);
* only ``HMAC-SHA256(SECRET_KEY, purpose:phone:code)`` is stored, compared in constant time;
* a new request replaces the previous code for the same phone and purpose (one row per pair);
* a code works once; after :data:`MAX_ATTEMPTS` (5) wrong tries it is dead, even for the right code.

Requests are throttled per phone and per IP in the API (``accounts.api.throttles``); a phone can receive at
most 5 x (codes per throttle window) guesses, so verification needs no per-phone throttle of its own.

:func:`phone_otp_request` does the same work whether or not an account uses the phone (no enumeration, also
in timing): it never branches on the account, and always stores a code and queues an SMS.

:func:`phone_otp_check` records a wrong attempt in its own transaction and *returns* the outcome instead of
raising, so that callers can raise afterwards without rolling the attempt back. Callers must not wrap it in a
transaction they roll back on failure.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import PhoneOTP, User
from commerce.notifications.services import notification_send_sms

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
CODE_DIGITS = 6

Purpose = PhoneOTP.Purpose

# The SMS template per purpose (templates/sms/<name>.txt, owned by notifications).
SMS_TEMPLATES = {
    Purpose.LOGIN: "otp_login",
    Purpose.SECOND_FACTOR: "otp_second_factor",
    Purpose.VERIFY_PHONE: "otp_login",
}

# ASCII digits only: str.isdigit() also accepts "①" or "٣", which are no code anyone was sent.
_CODE_SHAPE = re.compile(f"[0-9]{{{CODE_DIGITS}}}")

# Compared against when there is no live code, so a check costs the same with or without one.
_NO_CODE = "0" * 64


def _code_hash(*, phone: str, purpose: str, code: str) -> str:
    return salted_hmac("accounts.PhoneOTP", f"{purpose}:{phone}:{code}", algorithm="sha256").hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def normalize_code(code: str | None) -> str:
    """Digits only: users paste codes as "123 456" or "123-456"."""
    return "".join(ch for ch in (code or "") if ch not in " -\t")


def phone_otp_request(*, phone: str, purpose: str, user_id: int | None = None) -> PhoneOTP:
    """Create (or replace) the code for ``phone`` (E.164) and ``purpose`` and queue the SMS with it.

    The SMS leaves when the caller's transaction commits (notifications publishes its task on commit).
    """
    code = _new_code()
    now = timezone.now()
    with transaction.atomic():
        otp, _ = PhoneOTP.objects.update_or_create(
            phone=phone,
            purpose=purpose,
            defaults={
                "code_hash": _code_hash(phone=phone, purpose=purpose, code=code),
                "created_at": now,
                "expires_at": now + CODE_TTL,
                "attempts": 0,
                "used_at": None,
            },
        )
        notification_send_sms(
            to=phone,
            template=SMS_TEMPLATES[PhoneOTP.Purpose(purpose)],
            context={"code": code, "minutes": int(CODE_TTL.total_seconds() // 60)},
            user_id=user_id,
        )
    return otp


@dataclass(frozen=True)
class OtpCheck:
    """Outcome of :func:`phone_otp_check`. ``reason`` is ``ok``, ``invalid`` (wrong, used, or never sent),
    ``expired`` or ``attempts_exceeded``; ``otp_id``/``issued_at`` name the code when it was right."""

    ok: bool
    reason: str
    otp_id: int | None = None
    issued_at: datetime | None = None

    @property
    def error_code(self) -> str:
        return {"expired": "otp_expired", "attempts_exceeded": "otp_attempts_exceeded"}.get(self.reason, "otp_invalid")

    @property
    def message(self) -> str:
        return {
            "expired": "The code has expired. Request a new one.",
            "attempts_exceeded": "Too many wrong codes. Request a new one.",
        }.get(self.reason, "The code is wrong or no longer valid.")


def phone_otp_check(*, phone: str, purpose: str, code: str, consume: bool = True) -> OtpCheck:
    """Check ``code`` for ``phone``/``purpose``. A right code is marked used unless ``consume`` is false
    (then :func:`phone_otp_consume` must follow once the caller has finished its own checks)."""
    code = normalize_code(code)
    given = _code_hash(phone=phone, purpose=purpose, code=code)
    now = timezone.now()
    with transaction.atomic():
        otp = PhoneOTP.objects.select_for_update().filter(phone=phone, purpose=purpose).first()
        if otp is None or otp.used_at is not None:
            constant_time_compare(given, _NO_CODE)
            return OtpCheck(ok=False, reason="invalid")
        if otp.attempts >= MAX_ATTEMPTS:
            return OtpCheck(ok=False, reason="attempts_exceeded")
        if otp.expires_at <= now:
            return OtpCheck(ok=False, reason="expired")
        if not (_CODE_SHAPE.fullmatch(code) and constant_time_compare(otp.code_hash, given)):
            attempts = _count_failure(otp.pk)
            return OtpCheck(ok=False, reason="attempts_exceeded" if attempts >= MAX_ATTEMPTS else "invalid")
        check = OtpCheck(ok=True, reason="ok", otp_id=otp.pk, issued_at=otp.created_at)
        if consume and not phone_otp_consume(check=check):
            return OtpCheck(ok=False, reason="invalid")
        return check


def _count_failure(otp_id: int) -> int:
    PhoneOTP.objects.filter(pk=otp_id).update(attempts=F("attempts") + 1)
    return PhoneOTP.objects.filter(pk=otp_id).values_list("attempts", flat=True).get()


def phone_otp_consume(*, check: OtpCheck) -> bool:
    """Mark the code of a passed ``check`` used; false if it was used, replaced or killed in the meantime."""
    if check.otp_id is None or check.issued_at is None:
        return False
    return bool(
        PhoneOTP.objects.filter(
            pk=check.otp_id, created_at=check.issued_at, used_at__isnull=True, attempts__lt=MAX_ATTEMPTS
        ).update(used_at=timezone.now())
    )


def phone_otp_count_failure(*, check: OtpCheck) -> None:
    """Count a failed attempt against the code of a passed ``check`` whose login then failed a later step
    (a wrong authenticator code on top of the right SMS code)."""
    if check.otp_id is None or check.issued_at is None:
        return
    PhoneOTP.objects.filter(pk=check.otp_id, created_at=check.issued_at).update(attempts=F("attempts") + 1)


def phone_user_id(phone: str) -> int | None:
    """The id of the account using ``phone``, if any (one indexed query, run for known and unknown phones)."""
    return User.objects.filter(phone=phone).values_list("pk", flat=True).first()
