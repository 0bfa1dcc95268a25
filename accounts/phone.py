"""Phone numbers: validated with ``phonenumbers`` and stored in E.164 (``+919812345678``)."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError


def default_region() -> str:
    return getattr(settings, "PHONE_DEFAULT_REGION", "IN")


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    """Parse ``raw`` (national or international form) and return it in E.164, or raise ``ValidationError``."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 32:
        raise ValidationError("Enter a valid phone number.", code="invalid_phone")
    try:
        parsed = phonenumbers.parse(raw.strip(), region or default_region())
    except phonenumbers.NumberParseException:
        raise ValidationError("Enter a valid phone number.", code="invalid_phone") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("Enter a valid phone number.", code="invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    """Model validator: the stored value must already be in E.164."""
    if value and normalize_phone(value) != value:
        raise ValidationError("Phone numbers are stored in E.164, e.g. +919812345678.", code="invalid_phone")
