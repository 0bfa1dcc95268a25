"""SMS backends, chosen by ``settings.SMS_BACKEND`` (a dotted path).

Every backend implements ``send(*, to, body) -> str``: it returns the provider's message id, or raises
:class:`~commerce.notifications.errors.TransientSendError` / :class:`~commerce.notifications.errors.PermanentSendError`.

* :class:`ConsoleSmsBackend`: the embedded default; logs the message and writes it to stdout.
* :class:`InMemorySmsBackend`: for tests; keeps sent messages in :data:`outbox` (like ``django.core.mail.outbox``)
  and raises the exceptions queued in :data:`failures` first, one per send, so tests can simulate outages.
* :class:`TwilioSmsBackend`: production, through the official ``twilio`` SDK and the
  ``TWILIO_ACCOUNT_SID`` / ``TWILIO_AUTH_TOKEN`` / ``TWILIO_FROM_NUMBER`` settings (a phone number in E.164, or a
  Messaging Service SID starting with ``MG``).
"""

import itertools
import logging
import sys
import uuid
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .errors import PermanentSendError, TransientSendError

logger = logging.getLogger(__name__)


class SmsBackend:
    """Interface of an SMS backend."""

    def send(self, *, to: str, body: str) -> str:
        """Send ``body`` to the E.164 number ``to``; return the provider's message id."""
        raise NotImplementedError


def get_sms_backend() -> SmsBackend:
    """An instance of the backend named by ``settings.SMS_BACKEND``."""
    return import_string(settings.SMS_BACKEND)()


class ConsoleSmsBackend(SmsBackend):
    """Writes messages to stdout (and the log): the embedded default, so OTP codes are visible in development."""

    def send(self, *, to: str, body: str) -> str:
        message_id = f"console-{uuid.uuid4().hex}"
        sys.stdout.write(f"SMS to {to} [{message_id}]\n{body}\n{'-' * 79}\n")
        sys.stdout.flush()
        logger.info("SMS written to console", extra={"to": to, "message_id": message_id})
        return message_id


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    message_id: str


# Messages "sent" by InMemorySmsBackend, oldest first. Tests clear it (and `failures`) between tests.
outbox: list[SmsMessage] = []
# Exceptions InMemorySmsBackend raises instead of sending, first one first; each is used once.
failures: list[Exception] = []
_ids = itertools.count(1)


def reset_outbox() -> None:
    """Empty :data:`outbox` and :data:`failures` (for test fixtures)."""
    outbox.clear()
    failures.clear()


class InMemorySmsBackend(SmsBackend):
    def send(self, *, to: str, body: str) -> str:
        if failures:
            raise failures.pop(0)
        message = SmsMessage(to=to, body=body, message_id=f"mem-{next(_ids)}")
        outbox.append(message)
        return message.message_id


# Seconds to wait for Twilio to answer; a hung request must not hold a worker until the task time limit.
TWILIO_TIMEOUT_SECONDS = 10


class TwilioSmsBackend(SmsBackend):
    """Sends through Twilio's Programmable Messaging API with the official SDK.

    Error mapping: HTTP 429 and 5xx answers and network failures are transient; other 4xx answers (invalid or
    unreachable number, unverified sender, bad credentials) are permanent. ``http_client`` replaces the SDK's
    transport (tests pass a fake one; production uses the SDK's own with a timeout).
    """

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        http_client: HttpClient | None = None,
    ) -> None:
        self.account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        self.from_number = from_number or settings.TWILIO_FROM_NUMBER
        if not (self.account_sid and self.auth_token and self.from_number):
            raise ImproperlyConfigured(
                "TwilioSmsBackend needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER."
            )
        self.client = Client(
            self.account_sid,
            self.auth_token,
            http_client=http_client or TwilioHttpClient(timeout=TWILIO_TIMEOUT_SECONDS),
        )

    def send(self, *, to: str, body: str) -> str:
        sender = (
            {"messaging_service_sid": self.from_number}
            if self.from_number.startswith("MG")
            else {"from_": self.from_number}
        )
        try:
            message = self.client.messages.create(to=to, body=body, **sender)
        except TwilioRestException as exc:
            detail = f"Twilio {exc.status} (code {exc.code}): {exc.msg}"
            if exc.status == 429 or exc.status >= 500:
                raise TransientSendError(detail) from exc
            raise PermanentSendError(detail) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientSendError(f"Twilio unreachable: {exc}") from exc
        except TwilioException as exc:
            # The SDK's own failures outside an HTTP answer (for example an unreadable response).
            raise TransientSendError(f"Twilio error: {exc}") from exc
        return message.sid
