"""Second factors: TOTP (authenticator app), SMS to a verified phone, and one-time backup codes.

* TOTP setup is two steps: :func:`totp_setup_start` creates an unconfirmed django-otp ``TOTPDevice`` and returns
  its secret, ``otpauth://`` URI and QR code; :func:`totp_setup_confirm` checks a code from the app, confirms
  the device and issues backup codes.
* :func:`sms_device_enroll` turns the user's verified phone into a second factor (the phone was proven when it
  was verified) and issues backup codes.
* Backup codes (a django-otp ``StaticDevice``): :data:`BACKUP_CODE_COUNT` codes, each usable once. Every
  activation issues a fresh set; removing the last factor removes them.
* :func:`two_factor_verify` checks a code against the user's devices: 6 digits are tried as TOTP, then as the
  SMS code; anything else as a backup code. django-otp's throttling (exponential back-off after failures) and
  replay protection (a TOTP code works once) apply.

2FA is *enabled* when the user has a confirmed TOTP or SMS device.
"""

import re
from base64 import b32encode, b64encode
from dataclasses import dataclass
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.errors import AuthenticationError
from accounts.models import PhoneOTP, SmsDevice, User
from commerce.core.errors import Conflict, InvalidInput

from .audit import acting_as, audit_record
from .otp import phone_otp_request

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
SMS_DEVICE_NAME = "SMS"
BACKUP_DEVICE_NAME = "Backup codes"

TOTP = "totp"
SMS = "sms"
BACKUP = "backup"
ALL_METHODS = (TOTP, SMS, BACKUP)


@dataclass(frozen=True)
class TotpSetup:
    device: TOTPDevice
    secret: str
    provisioning_uri: str
    qr_code: str


@dataclass(frozen=True)
class Activation:
    device: Device
    backup_codes: list[str]


def _qr_data_uri(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + b64encode(buffer.getvalue()).decode("ascii")


def totp_secret(device: TOTPDevice) -> str:
    """The base32 secret an authenticator app expects when typed in by hand."""
    return b32encode(device.bin_key).decode("ascii")


def totp_setup_details(device: TOTPDevice) -> TotpSetup:
    uri = device.config_url
    return TotpSetup(device=device, secret=totp_secret(device), provisioning_uri=uri, qr_code=_qr_data_uri(uri))


def has_confirmed_totp(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def two_factor_enabled(user: User) -> bool:
    return has_confirmed_totp(user) or SmsDevice.objects.filter(user=user, confirmed=True).exists()


def totp_setup_start(*, user: User, restart: bool = True) -> TotpSetup:
    """Start TOTP setup: a new unconfirmed device (``restart``, the API) or the pending one if any (the admin
    page, so that reloading it keeps the QR code the user may already have scanned)."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        if has_confirmed_totp(user):
            raise Conflict("An authenticator app is already set up. Remove it first.", code="totp_already_enabled")
        pending = TOTPDevice.objects.filter(user=user, confirmed=False)
        device = None if restart else pending.order_by("-id").first()
        if device is None:
            pending.delete()
            device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return totp_setup_details(device)


def totp_setup_confirm(*, user: User, code: str) -> Activation:
    """Confirm the pending TOTP device with a code from the app; issue backup codes. A wrong code is a 400
    ``otp_invalid`` (and counts towards django-otp's back-off)."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-id").first()
        if device is None:
            if has_confirmed_totp(user):
                raise Conflict("An authenticator app is already set up.", code="totp_already_enabled")
            raise Conflict("Start the setup first (POST me/2fa/totp).", code="totp_setup_not_started")
        token = _normalize(code)
        # django-otp calls int() on the token, which reads "١٢٣٤٥٦" (Arabic-Indic) as 123456: ASCII digits only.
        verified = is_six_digits(token) and device.verify_token(token)
    if not verified:
        raise InvalidInput("The code is wrong. Check the time on your phone.", code="otp_invalid", fields=_code_error())
    with transaction.atomic(), acting_as(user):
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        audit_record(action="2fa.totp_enabled", target=device, after={"device": device.name})
        codes = backup_codes_generate(user=user)
    return Activation(device=device, backup_codes=codes)


def sms_device_enroll(*, user: User) -> Activation:
    """Enrol the user's verified phone as SMS second factor; issue backup codes."""
    with transaction.atomic(), acting_as(user):
        user = User.objects.select_for_update().get(pk=user.pk)
        if not (user.phone and user.phone_verified):
            raise Conflict("Verify a phone number first.", code="phone_not_verified")
        if SmsDevice.objects.filter(user=user).exists():
            raise Conflict("SMS codes are already set up.", code="sms_already_enabled")
        device = SmsDevice.objects.create(user=user, name=SMS_DEVICE_NAME, phone=user.phone, confirmed=True)
        audit_record(action="2fa.sms_enabled", target=device, after={"phone": mask_phone(user.phone)})
        codes = backup_codes_generate(user=user)
    return Activation(device=device, backup_codes=codes)


def backup_codes_generate(*, user: User) -> list[str]:
    """Replace the user's backup codes with :data:`BACKUP_CODE_COUNT` new ones; returns them (shown once)."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
        with acting_as(user):
            audit_record(action="2fa.backup_codes_generated", target=device, after={"count": len(codes)})
    return codes


def backup_codes_regenerate(*, user: User, otp: str | None) -> list[str]:
    """A new set of backup codes for a user with 2FA enabled, who proves it with a current code."""
    if not two_factor_enabled(user):
        raise Conflict("Two-factor authentication is not enabled.", code="two_factor_not_enabled")
    _require_code(user=user, otp=otp)
    with acting_as(user):
        return backup_codes_generate(user=user)


def two_factor_remove(*, user: User, method: str, otp: str | None) -> None:
    """Remove the user's TOTP or SMS factor, proven with a current code (any method, or a backup code).
    Removing the last factor also removes the backup codes. Removal is audited by the device delete signal."""
    model = {TOTP: TOTPDevice, SMS: SmsDevice}[method]
    if not model.objects.filter(user=user, confirmed=True).exists():
        raise Conflict(f"{method.upper()} is not set up.", code="two_factor_not_enabled")
    _require_code(user=user, otp=otp)
    with transaction.atomic(), acting_as(user):
        for device in model.objects.filter(user=user):
            device.delete()
        if not two_factor_enabled(user):
            StaticDevice.objects.filter(user=user).delete()


def two_factor_sms_challenge(*, user: User) -> SmsDevice | None:
    """Send a second-factor code to the user's SMS device, if they have one; return the device."""
    device: SmsDevice | None = SmsDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        phone_otp_request(phone=device.phone, purpose=PhoneOTP.Purpose.SECOND_FACTOR, user_id=user.pk)
    return device


def sms_device_for(user: User) -> SmsDevice | None:
    device: SmsDevice | None = SmsDevice.objects.filter(user=user, confirmed=True).first()
    return device


def two_factor_verify(*, user: User, otp: str | None, methods: tuple[str, ...] = ALL_METHODS) -> Device | None:
    """The device that accepts ``otp``, or ``None``. Failed tries are recorded (throttling, SMS attempts), so
    callers must not roll this back: it runs in its own transaction and never raises."""
    token = _normalize(otp)
    if not token:
        return None
    with transaction.atomic():
        if is_six_digits(token):
            if TOTP in methods:
                for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                    if device.verify_token(token):
                        return device
            if SMS in methods:
                sms = SmsDevice.objects.filter(user=user, confirmed=True).first()
                if sms is not None and sms.verify_token(token):
                    return sms
        elif BACKUP in methods:
            for device in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(token):
                    return device
    return None


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}{'*' * max(len(phone) - 5, 0)}{phone[-2:]}" if phone else ""


def _require_code(*, user: User, otp: str | None) -> None:
    if not _normalize(otp):
        raise InvalidInput(
            "Enter a code from your authenticator app, an SMS code or a backup code.",
            code="otp_required",
            fields={"otp": ["This field is required."]},
        )
    if two_factor_verify(user=user, otp=otp) is None:
        raise InvalidInput("The code is wrong or no longer valid.", code="otp_invalid", fields=_code_error("otp"))


def require_second_factor(*, user: User, otp: str | None, methods: tuple[str, ...] = ALL_METHODS) -> Device:
    """For sign-in: the device that accepts ``otp``, else a 401 ``otp_required`` / ``otp_invalid``."""
    if not _normalize(otp):
        raise AuthenticationError(
            "This account uses two-factor authentication: send the code as `otp`.", code="otp_required"
        )
    device = two_factor_verify(user=user, otp=otp, methods=methods)
    if device is None:
        raise AuthenticationError("The two-factor code is wrong or no longer valid.", code="otp_invalid")
    return device


def is_six_digits(token: str) -> bool:
    """A TOTP/SMS-shaped code: six ASCII digits (``str.isdigit`` would also take "①②③④⑤⑥")."""
    return re.fullmatch(r"[0-9]{6}", token) is not None


def _normalize(otp: str | None) -> str:
    return "".join(ch for ch in (otp or "") if ch not in " -\t").lower()


def _code_error(field: str = "code") -> dict[str, list[str]]:
    return {field: ["The code is wrong or no longer valid."]}
