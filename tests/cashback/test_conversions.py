"""``POST cashback/conversions``: signed affiliate sale reports, their refusals, status moves and the cashback
entry they make, and the raw report kept for every one of them."""

import hashlib
import hmac
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from cashback.models import (
    CashbackEntry,
    CashbackStatus,
    Conversion,
    ConversionReport,
    MerchantCashback,
    ReportOutcome,
)
from commerce.offers.models import OfferClick, OfferKind
from tests.catalog.factories import MerchantFactory
from tests.factories import UserFactory
from tests.offers.factories import OfferFactory

URL = "/api/v1/cashback/conversions"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SECRET = "threads-secret-0123456789abcdefghijklmnopqrstuv"
OTHER_SECRET = "globex-secret-0123456789abcdefghijklmnopqrstuvw"
CLICK_ID = uuid.UUID("6f1c0a52-8a8e-4f6e-9a47-1b2c3d4e5f60")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def terms(merchant):
    return MerchantCashback.objects.create(merchant=merchant, conversion_secret=SECRET)


@pytest.fixture
def offer(merchant):
    return OfferFactory(
        merchant=merchant,
        kind=OfferKind.CASHBACK,
        code=None,
        cashback_rate=Decimal("8.00"),
        destination_url="https://threads.example.com/sale",
    )


@pytest.fixture
def click(offer, shopper):
    return OfferClick.objects.create(click_id=CLICK_ID, offer=offer, user=shopper, created_at=NOW)


@pytest.fixture
def globex(db):
    merchant = MerchantFactory(name="Globex", slug="globex")
    MerchantCashback.objects.create(merchant=merchant, conversion_secret=OTHER_SECRET)
    return merchant


def report(**overrides) -> dict:
    body = {
        "click_id": str(CLICK_ID),
        "reference": "ORD-2026-0001",
        "amount": "1000.00",
        "currency": "INR",
        "status": "pending",
    }
    body.update(overrides)
    return body


def encode(body: dict | bytes) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()


def sign(raw: bytes, *, secret: str = SECRET, timestamp: str | None = None) -> tuple[str, str]:
    timestamp = timestamp if timestamp is not None else str(int(datetime.now(UTC).timestamp()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return timestamp, digest


def post(
    body: dict | bytes,
    *,
    secret: str = SECRET,
    merchant: str = "threads",
    timestamp: str | None = None,
    signature: str | None = None,
    sign_body: bytes | None = None,
    sign_timestamp: str | None = None,
):
    """POST a report signed with ``secret`` (or with ``signature`` as given). ``sign_body``/``sign_timestamp``:
    sign these instead of what is sent (a tampered request)."""
    raw = encode(body)
    timestamp, digest = sign(sign_body if sign_body is not None else raw, secret=secret, timestamp=timestamp)
    if sign_timestamp is not None:
        _, digest = sign(sign_body if sign_body is not None else raw, secret=secret, timestamp=sign_timestamp)
    headers = {"HTTP_X_MERCHANT": merchant, "HTTP_X_TIMESTAMP": timestamp, "HTTP_X_SIGNATURE": signature or digest}
    return APIClient().post(URL, raw, content_type="application/json", **headers)


def last_report() -> ConversionReport:
    return ConversionReport.objects.order_by("-id").first()


# --- accepted reports ------------------------------------------------------------------------------------------


def test_a_signed_pending_report_creates_the_conversion_and_pending_cashback(terms, click, shopper):
    response = post(report())

    assert response.status_code == 201
    conversion = Conversion.objects.get()
    assert response.json() == {
        "id": conversion.pk,
        "reference": "ORD-2026-0001",
        "status": "pending",
        "cashback": {"amount": {"amount": "80.00", "currency": "INR"}, "status": "pending"},
    }
    assert (conversion.user, conversion.click, conversion.offer_id, conversion.merchant_id) == (
        shopper,
        click,
        click.offer_id,
        terms.merchant_id,
    )
    assert (conversion.sale_amount, conversion.currency, conversion.reported_at) == (Decimal("1000.00"), "INR", NOW)
    entry = CashbackEntry.objects.get()
    assert (entry.user, entry.conversion, entry.status, entry.amount) == (
        shopper,
        conversion,
        CashbackStatus.PENDING,
        Decimal("80.00"),
    )


def test_the_raw_report_is_stored_exactly_as_received(terms, click):
    raw = (
        b'{"status": "pending", "click_id": "6f1c0a52-8a8e-4f6e-9a47-1b2c3d4e5f60", "reference": "ORD-2026-0001",'
        b'\n "amount": "1000.00", "currency": "INR", "network": "x"}'
    )
    timestamp, digest = sign(raw)

    response = post(raw)

    assert response.status_code == 201
    stored = last_report()
    assert (stored.body, stored.signature, stored.timestamp) == (raw.decode(), digest, timestamp)
    assert (stored.outcome, stored.error_code, stored.conversion_id, stored.merchant_id) == (
        ReportOutcome.ACCEPTED,
        "",
        Conversion.objects.get().pk,
        terms.merchant_id,
    )
    assert stored.received_at == NOW
    assert len(stored.ip_hash) == 64


def test_a_replayed_report_changes_nothing_and_answers_200(terms, click):
    first = post(report())
    events_before = list(CashbackEntry.objects.get().events.values_list("id", flat=True))

    again = post(report())

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Conversion.objects.count() == 1
    assert CashbackEntry.objects.count() == 1
    assert list(CashbackEntry.objects.get().events.values_list("id", flat=True)) == events_before
    assert list(ConversionReport.objects.order_by("id").values_list("outcome", flat=True)) == [
        ReportOutcome.ACCEPTED,
        ReportOutcome.UNCHANGED,
    ]


def test_approval_confirms_the_cashback(terms, click):
    post(report())

    response = post(report(status="approved"))

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert response.json()["cashback"] == {"amount": {"amount": "80.00", "currency": "INR"}, "status": "confirmed"}
    assert Conversion.objects.get().status == "approved"
    assert CashbackEntry.objects.get().status == CashbackStatus.CONFIRMED


def test_a_first_report_already_approved_creates_confirmed_cashback(terms, click):
    response = post(report(status="approved"))

    assert response.status_code == 201
    assert response.json()["cashback"]["status"] == "confirmed"


def test_cancellation_rejects_the_cashback(terms, click):
    post(report())
    post(report(status="approved"))

    response = post(report(status="cancelled"))

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["cashback"]["status"] == "rejected"
    assert CashbackEntry.objects.get().status == CashbackStatus.REJECTED


@pytest.mark.parametrize(
    ("before", "after"),
    [("approved", "pending"), ("cancelled", "pending"), ("cancelled", "approved")],
)
def test_a_status_never_moves_backwards(terms, click, before, after):
    post(report(status=before))

    response = post(report(status=after))

    assert response.status_code == 409
    assert response.json()["code"] == "conversion_conflict"
    assert Conversion.objects.get().status == before
    assert (last_report().outcome, last_report().error_code) == (ReportOutcome.REFUSED, "conversion_conflict")
    assert last_report().conversion_id == Conversion.objects.get().pk


@pytest.mark.parametrize("change", [{"amount": "999.99"}, {"currency": "USD"}])
def test_the_same_reference_with_another_amount_or_currency_is_a_conflict(terms, click, change):
    post(report())

    response = post(report(**change))

    assert response.status_code == 409
    assert response.json()["code"] == "conversion_conflict"
    assert Conversion.objects.get().sale_amount == Decimal("1000.00")


def test_the_same_reference_with_another_click_is_a_conflict(terms, click, offer, shopper):
    other = OfferClick.objects.create(offer=offer, user=shopper)
    post(report())

    response = post(report(click_id=str(other.click_id)))

    assert response.status_code == 409
    assert response.json()["code"] == "conversion_conflict"


def test_another_reference_on_the_same_click_is_another_sale(terms, click):
    post(report())

    response = post(report(reference="ORD-2026-0002", amount="250.00"))

    assert response.status_code == 201
    assert Conversion.objects.count() == 2
    assert sorted(CashbackEntry.objects.values_list("amount", flat=True)) == [Decimal("20.00"), Decimal("80.00")]


# --- signatures ------------------------------------------------------------------------------------------------


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert Conversion.objects.count() == 0
    stored = last_report()
    assert (stored.outcome, stored.error_code) == (ReportOutcome.REFUSED, code)


def test_a_tampered_body_is_refused(terms, click):
    response = post(report(amount="100000.00"), sign_body=encode(report()))
    assert_refused(response, 401, "signature_invalid")
    assert response.json() == {
        "code": "signature_invalid",
        "detail": "The report's signature is missing or does not verify.",
    }


def test_a_tampered_timestamp_is_refused(terms, click):
    # The signature of a report sent 10 minutes ago, with a fresh timestamp put in front of it.
    stale = str(int((NOW - timedelta(minutes=10)).timestamp()))
    response = post(report(), sign_timestamp=stale)
    assert_refused(response, 401, "signature_invalid")


def test_a_wrong_secret_is_refused(terms, click):
    assert_refused(post(report(), secret="not-the-secret"), 401, "signature_invalid")


def test_another_merchants_secret_is_refused(terms, click, globex):
    assert_refused(post(report(), secret=OTHER_SECRET, merchant="threads"), 401, "signature_invalid")


def test_an_unknown_merchant_gets_the_same_answer_as_a_bad_signature(terms, click):
    unknown = post(report(), merchant="no-such-merchant")
    bad = post(report(), secret="wrong")
    assert_refused(unknown, 401, "signature_invalid")
    assert unknown.json() == bad.json()
    assert ConversionReport.objects.order_by("id").first().merchant_id is None


def test_a_merchant_without_a_secret_is_refused(click, merchant):
    MerchantCashback.objects.create(merchant=merchant)
    assert_refused(post(report(), secret=""), 401, "signature_invalid")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_MERCHANT": "threads"},
        {"HTTP_X_MERCHANT": "threads", "HTTP_X_TIMESTAMP": "1772445600"},
        {"HTTP_X_MERCHANT": "threads", "HTTP_X_TIMESTAMP": "soon", "HTTP_X_SIGNATURE": "a" * 64},
        {"HTTP_X_MERCHANT": "threads", "HTTP_X_TIMESTAMP": "1772445600", "HTTP_X_SIGNATURE": "zz" * 32},
        {"HTTP_X_MERCHANT": "threads", "HTTP_X_TIMESTAMP": "9" * 12, "HTTP_X_SIGNATURE": "a" * 64},
    ],
)
def test_missing_or_malformed_signature_headers_are_refused(terms, click, headers):
    response = APIClient().post(URL, encode(report()), content_type="application/json", **headers)
    assert_refused(response, 401, "signature_invalid")


def test_another_merchants_click_is_refused(terms, click, globex):
    response = post(report(), secret=OTHER_SECRET, merchant="globex")
    assert_refused(response, 403, "click_of_another_merchant")
    assert last_report().merchant_id == globex.pk


@pytest.mark.parametrize("age", [timedelta(seconds=301), timedelta(seconds=-301), timedelta(days=400)])
def test_stale_and_future_timestamps_are_refused(terms, click, age):
    timestamp = str(int((NOW - age).timestamp()))
    response = post(report(), timestamp=timestamp)
    assert_refused(response, 401, "timestamp_stale")


@pytest.mark.parametrize("age", [timedelta(seconds=300), timedelta(seconds=-300)])
def test_timestamps_within_five_minutes_are_accepted(terms, click, age):
    timestamp = str(int((NOW - age).timestamp()))
    assert post(report(), timestamp=timestamp).status_code == 201


def test_a_captured_report_replayed_after_the_window_is_refused(terms, click, frozen):
    raw = encode(report())
    timestamp, digest = sign(raw)
    headers = {"HTTP_X_MERCHANT": "threads", "HTTP_X_TIMESTAMP": timestamp, "HTTP_X_SIGNATURE": digest}
    assert APIClient().post(URL, raw, content_type="application/json", **headers).status_code == 201

    frozen.shift(timedelta(minutes=6))
    response = APIClient().post(URL, raw, content_type="application/json", **headers)

    assert response.status_code == 401
    assert response.json()["code"] == "timestamp_stale"


def test_the_previous_secret_works_during_the_grace_period_only(terms, click, frozen, settings):
    settings.CASHBACK_SECRET_GRACE_HOURS = 24
    terms.previous_secret = "the-old-secret-0123456789abcdefghijklmnopqrstu"
    terms.previous_secret_expires_at = NOW + timedelta(hours=24)
    terms.save()

    assert post(report(), secret=terms.previous_secret).status_code == 201
    frozen.shift(timedelta(hours=24))
    response = post(report(reference="ORD-2026-0002"), secret=terms.previous_secret)
    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"
    assert post(report(reference="ORD-2026-0002"), secret=SECRET).status_code == 201


def test_the_signature_is_accepted_in_upper_case_hex(terms, click):
    raw = encode(report())
    timestamp, digest = sign(raw)
    assert post(report(), timestamp=timestamp, signature=digest.upper()).status_code == 201


# --- clicks ----------------------------------------------------------------------------------------------------


def test_an_unknown_click_is_refused(terms, click):
    assert_refused(post(report(click_id=str(uuid.uuid4()))), 404, "unknown_click")


def test_an_anonymous_click_is_not_attributable(terms, offer):
    anonymous = OfferClick.objects.create(offer=offer, user=None)
    assert_refused(post(report(click_id=str(anonymous.click_id))), 409, "click_not_attributable")


# --- validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (report(click_id=None), "click_id"),
        ({k: v for k, v in report().items() if k != "reference"}, "reference"),
        ({k: v for k, v in report().items() if k != "amount"}, "amount"),
        ({k: v for k, v in report().items() if k != "currency"}, "currency"),
        ({k: v for k, v in report().items() if k != "status"}, "status"),
        (report(click_id="not-a-uuid"), "click_id"),
        (report(click_id=12345), "click_id"),
        (report(click_id="6f1c0a52" * 10), "click_id"),
        (report(reference=""), "reference"),
        (report(reference=" ORD-1"), "reference"),
        (report(reference="R" * 101), "reference"),
        (report(reference="ORD\u202e1"), "reference"),
        (report(reference="ORD\x001"), "reference"),
        (report(reference="заказ-1"), "reference"),
        (report(reference=["ORD-1"]), "reference"),
        (report(amount=1000), "amount"),
        (report(amount=1000.5), "amount"),
        (report(amount="-5.00"), "amount"),
        (report(amount="0"), "amount"),
        (report(amount="0.00"), "amount"),
        (report(amount="10.005"), "amount"),
        (report(amount="1e3"), "amount"),
        (report(amount="NaN"), "amount"),
        (report(amount="99999999999.00"), "amount"),
        (report(amount="\u0661\u0660\u0660"), "amount"),  # Arabic-Indic digits
        (report(amount=" 100.00"), "amount"),
        (report(currency="inr"), "currency"),
        (report(currency="XYZ"), "currency"),
        (report(currency="JPY", amount="1000.50"), "amount"),
        (report(currency=356), "currency"),
        (report(status="paid"), "status"),
        (report(status=True), "status"),
    ],
)
def test_invalid_fields_are_refused_with_their_messages(terms, click, body, field):
    response = post(body)
    assert_refused(response, 400, "invalid")
    assert list(response.json()["fields"]) == [field]


def test_every_invalid_field_is_listed_at_once(terms, click):
    response = post({"click_id": "x", "reference": "", "amount": "-1", "currency": "??", "status": "?"})
    assert response.status_code == 400
    assert sorted(response.json()["fields"]) == ["amount", "click_id", "currency", "reference", "status"]


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2, 3]",
        b'"a string"',
        b"\xff\xfe{}",
        b'{"reference": "\\ud800"}',
        b"[" * 100 + b"]" * 100,
        b'{"amount": 1' + b"0" * 400 + b"}",
        b"",
    ],
)
def test_bodies_that_are_not_a_json_object_are_refused(terms, click, raw):
    response = post(raw)
    assert response.status_code == 400
    assert response.json()["code"] in {"parse_error", "too_deep"}
    assert last_report().outcome == ReportOutcome.REFUSED


def test_the_largest_amount_is_accepted(terms, click):
    response = post(report(amount="9999999999.99"))
    assert response.status_code == 201
    assert Conversion.objects.get().sale_amount == Decimal("9999999999.99")


# --- records and logs ------------------------------------------------------------------------------------------


def test_refusals_are_logged_with_their_code_and_never_the_secret(terms, click, caplog):
    with caplog.at_level(logging.WARNING, logger="cashback.services.conversions"):
        post(report(), secret="wrong")
        post(report(click_id=str(uuid.uuid4())))

    messages = [r.getMessage() for r in caplog.records if r.name == "cashback.services.conversions"]
    assert len(messages) == 2
    assert "signature_invalid" in messages[0]
    assert "unknown_click" in messages[1]
    assert all(SECRET not in message for message in messages)
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "cashback.services.conversions")


def test_every_report_is_kept_accepted_and_refused(terms, click):
    post(report())
    post(report())
    post(report(), secret="wrong")
    post(report(status="approved"))

    assert list(ConversionReport.objects.order_by("id").values_list("outcome", "error_code")) == [
        (ReportOutcome.ACCEPTED, ""),
        (ReportOutcome.UNCHANGED, ""),
        (ReportOutcome.REFUSED, "signature_invalid"),
        (ReportOutcome.ACCEPTED, ""),
    ]


def test_the_endpoint_needs_no_jwt_and_ignores_one(terms, click):
    user = UserFactory()
    raw = encode(report())
    timestamp, digest = sign(raw)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(
        URL,
        raw,
        content_type="application/json",
        HTTP_X_MERCHANT="threads",
        HTTP_X_TIMESTAMP=timestamp,
        HTTP_X_SIGNATURE=digest,
    )
    assert response.status_code == 201
    assert Conversion.objects.get().user != user


def test_the_endpoint_is_throttled_per_ip_in_its_own_scope(terms, click, monkeypatch):
    from cashback.api.conversions import ConversionThrottle

    assert ConversionThrottle.THROTTLE_RATES["conversions"] == "600/min"  # THROTTLE_CONVERSIONS' default
    monkeypatch.setitem(ConversionThrottle.THROTTLE_RATES, "conversions", "2/min")
    statuses = [post(report(), secret="wrong").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_a_refused_report_costs_two_queries(terms, click, django_assert_num_queries):
    with django_assert_num_queries(2):  # the merchant's secrets; the report's record
        assert post(report(), secret="wrong").status_code == 401


def test_a_resent_report_costs_a_fixed_number_of_queries(terms, click, django_assert_num_queries):
    post(report())
    # Secrets, click, savepoint, conversion locked, its entry, the report's record, savepoint released.
    with django_assert_num_queries(7):
        assert post(report()).status_code == 200


def test_a_hostile_body_is_a_parse_error_before_the_signature_is_checked(terms, click):
    raw = b'{"reference": "ab\\udc00cd"}'
    response = APIClient().post(URL, raw, content_type="application/json")  # no signature at all
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    stored = last_report()
    assert (stored.outcome, stored.error_code, stored.merchant_id, stored.body) == (
        ReportOutcome.REFUSED,
        "parse_error",
        None,
        raw.decode(),
    )
