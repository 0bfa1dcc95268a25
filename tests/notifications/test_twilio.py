"""The Twilio backend through the real SDK, with HTTP faked at the SDK's transport boundary (no network)."""

import json

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from twilio.http import HttpClient
from twilio.http.response import Response

from commerce.notifications.errors import PermanentSendError, TransientSendError
from commerce.notifications.sms import TwilioSmsBackend, get_sms_backend

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"
FROM_NUMBER = "+15005550006"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


class FakeTwilioHttp(HttpClient):
    """Records each request the SDK makes and answers with a canned status and JSON body."""

    def __init__(self, status: int, body: dict | None = None, raises: Exception | None = None) -> None:
        super().__init__(logger=None, is_async=False)
        self.status, self.body, self.raises = status, body or {}, raises
        self.requests: list[dict] = []

    def request(
        self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ):
        self.requests.append({"method": method, "url": url, "data": data, "auth": auth})
        if self.raises is not None:
            raise self.raises
        return Response(self.status, json.dumps(self.body))


def _message_resource(sid: str) -> dict:
    return {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "to": "+919812345678",
        "from": FROM_NUMBER,
        "body": "482913 is your login code.",
        "status": "queued",
        "num_segments": "1",
        "direction": "outbound-api",
    }


def _error(status: int, code: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _backend(http: FakeTwilioHttp, from_number: str = FROM_NUMBER) -> TwilioSmsBackend:
    return TwilioSmsBackend(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=from_number, http_client=http)


def test_send_posts_the_message_and_returns_its_sid():
    http = FakeTwilioHttp(201, _message_resource("SM" + "a" * 32))

    message_id = _backend(http).send(to="+919812345678", body="482913 is your login code.")

    assert message_id == "SM" + "a" * 32
    assert len(http.requests) == 1
    request = http.requests[0]
    assert request["method"] == "POST"
    assert request["url"] == MESSAGES_URL
    assert request["auth"] == (ACCOUNT_SID, AUTH_TOKEN)
    assert request["data"] == {"To": "+919812345678", "From": FROM_NUMBER, "Body": "482913 is your login code."}


def test_a_messaging_service_sid_is_sent_as_such():
    http = FakeTwilioHttp(201, _message_resource("SM" + "b" * 32))
    service_sid = "MG" + "1" * 32
    _backend(http, from_number=service_sid).send(to="+919812345678", body="hello")
    assert http.requests[0]["data"] == {"To": "+919812345678", "MessagingServiceSid": service_sid, "Body": "hello"}


def test_a_400_answer_is_a_permanent_error():
    http = FakeTwilioHttp(400, _error(400, 21211, "The 'To' number +91981 is not a valid phone number."))
    with pytest.raises(PermanentSendError) as error:
        _backend(http).send(to="+91981", body="hello")
    assert (
        str(error.value)
        == "Twilio 400 (code 21211): Unable to create record: The 'To' number +91981 is not a valid phone number."
    )


def test_a_503_answer_is_a_transient_error():
    http = FakeTwilioHttp(503, _error(503, 20503, "Service unavailable"))
    with pytest.raises(TransientSendError) as error:
        _backend(http).send(to="+919812345678", body="hello")
    assert str(error.value) == "Twilio 503 (code 20503): Unable to create record: Service unavailable"


def test_a_429_answer_is_a_transient_error():
    http = FakeTwilioHttp(429, _error(429, 20429, "Too Many Requests"))
    with pytest.raises(TransientSendError):
        _backend(http).send(to="+919812345678", body="hello")


def test_network_failures_are_transient_errors():
    for failure in (requests.ConnectionError("connection refused"), requests.Timeout("read timed out")):
        http = FakeTwilioHttp(0, raises=failure)
        with pytest.raises(TransientSendError):
            _backend(http).send(to="+919812345678", body="hello")


def test_twilio_backend_is_chosen_by_settings_and_needs_credentials(settings):
    settings.SMS_BACKEND = "commerce.notifications.sms.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    backend = get_sms_backend()
    assert isinstance(backend, TwilioSmsBackend)
    assert backend.from_number == FROM_NUMBER

    settings.TWILIO_AUTH_TOKEN = ""
    with pytest.raises(ImproperlyConfigured):
        get_sms_backend()
