"""Helpers of the accounts tests (fixtures are in conftest.py)."""

import re

import pyotp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services.tokens import token_pair_issue
from accounts.services.two_factor import totp_secret
from commerce.notifications import sms

PHONE = "+919812345678"
OTHER_PHONE = "+919812345679"


def codes_sent_to(phone: str) -> list[str]:
    """The 6-digit codes in the SMS messages sent to ``phone``, oldest first."""
    return [re.search(r"\b(\d{6})\b", message.body).group(1) for message in sms.outbox if message.to == phone]


def last_code(phone: str) -> str:
    codes = codes_sent_to(phone)
    assert codes, f"no SMS was sent to {phone}"
    return codes[-1]


def wrong(code: str) -> str:
    """A 6-digit code that is not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_issue(user=user).access}")
    return client


def totp_code(device: TOTPDevice) -> str:
    return pyotp.TOTP(totp_secret(device)).now()
