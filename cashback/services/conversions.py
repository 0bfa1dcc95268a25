"""Affiliate conversions: a merchant (or its affiliate network) reports a sale made after one of our clicks.

**Signing.** A report is ``POST cashback/conversions`` with the JSON body and three headers: ``X-Merchant`` (the
merchant's slug), ``X-Timestamp`` (Unix seconds) and ``X-Signature``: the hex HMAC-SHA256, keyed with the
merchant's conversion secret, of ``"<X-Timestamp>.<raw body>"`` (the timestamp's ASCII digits, a full stop, then
the body's exact bytes). The issue asks for a signature "over the raw body"; we sign the timestamp with it
because a signature over the body alone can be replayed for ever by anyone who saw one request: the timestamp
would then be an unsigned header an attacker rewrites. Signed together, a captured request is only good while
its timestamp is within ``CASHBACK_CONVERSION_MAX_AGE_SECONDS`` (300) of our clock, and within that window a
replay is harmless: a report sent again changes nothing (see below). This is the scheme Stripe uses.

The signature is checked over the raw bytes as received (never over re-serialised JSON), in constant time,
against the current secret and, until ``previous_secret_expires_at``, the previous one (after a rotation, see
:mod:`cashback.services.merchant_terms`). The API's safe JSON parser reads the body first, so a hostile body (bad
UTF-8, lone surrogates, huge numbers, deep nesting) gets the same 400 ``parse_error`` as at every endpoint, but no
field of it is looked at until the signature holds.

**Refusals**, all in the API's error shape and all logged at WARNING with their code (never a secret):

=====  ==============================  ==========================================================================
400    ``parse_error``                 the body is not JSON the API's parser accepts (checked first)
401    ``signature_invalid``           missing or bad signature or timestamp, unknown merchant, or a merchant
                                       without a secret: one answer, so merchants cannot be enumerated
401    ``timestamp_stale``             a valid signature whose timestamp is more than the max age away from our
                                       clock, in either direction
400    ``invalid``                     a field is missing or wrong (``fields`` says which)
404    ``unknown_click``               no click has this id (a click is written within seconds; retry later)
403    ``click_of_another_merchant``   the click was on another merchant's offer
409    ``click_not_attributable``      the click was anonymous: there is no shopper to give cashback to
409    ``conversion_conflict``         this reference was reported before with another click, amount or
                                       currency, or the status moves backwards (approved to pending, or
                                       cancelled to anything else)
=====  ==============================  ==========================================================================

**Status moves.** ``pending -> approved``, ``pending -> cancelled`` and ``approved -> cancelled`` (a sale
returned after approval); a report with the status the conversion already has is a re-send: it changes nothing
and is answered like the first (``changed`` false). Each created or changed conversion is handed, in the same
transaction, to the entries area's :func:`cashback.services.entries.cashback_sync_conversion`, which creates,
confirms, rejects or reverses the shopper's cashback entry.

**Records.** Every report, accepted, re-sent or refused, is stored raw in :class:`ConversionReport` (body,
headers, outcome, error code, keyed IP hash). A refused report's row is written after its transaction rolled
back, so the refusal never takes its own record with it.

**Locks.** The conversion row is locked (``SELECT ... FOR UPDATE``) before it is compared and changed; the unique
``(merchant, reference)`` constraint is the last guard when two first reports of one sale race (the loser waits,
then finds the winner's row and is treated as a re-send or a conflict). The entries service then locks the
cashback entry and the wallet, in the app's order: cause first, then the wallet.
"""

import hashlib
import hmac
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException

from commerce.core.api.parsers import SafeJSONParser
from commerce.core.errors import Conflict, DomainError, InvalidInput, NotFoundError, PermissionDeniedError
from commerce.core.money import MAX_AMOUNT, currency_places, validate_currency
from commerce.offers.models import OfferClick
from commerce.offers.services.events import hash_ip

from ..models import (
    CashbackEntry,
    Conversion,
    ConversionReport,
    ConversionStatus,
    MerchantCashback,
    ReportOutcome,
)
from .entries import cashback_sync_conversion

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE_SECONDS = 300
MAX_REFERENCE_LENGTH = 100
MAX_HEADER_LENGTH = 200
# Unix seconds as ASCII digits; 12 digits reach past the year 5000, so the int conversion stays cheap.
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_YEAR_10000 = 253402300800  # datetime's limit
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")
# Printable ASCII, no leading or trailing blank: merchants' order ids ("ORD-2024-000123").
_REFERENCE = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")
# Plain digits with at most two places: no exponent, sign, separators or non-ASCII digits.
_AMOUNT = re.compile(r"^[0-9]{1,10}(?:\.[0-9]{1,2})?$")

# The moves a merchant's reports may make; the same status again is a re-send, anything else a conflict.
CONVERSION_TRANSITIONS: dict[str, frozenset[str]] = {
    ConversionStatus.PENDING: frozenset({ConversionStatus.APPROVED, ConversionStatus.CANCELLED}),
    ConversionStatus.APPROVED: frozenset({ConversionStatus.CANCELLED}),
    ConversionStatus.CANCELLED: frozenset(),
}


class ReportUnauthenticated(DomainError):
    """401: the report's signature or timestamp does not prove it comes from the merchant it names."""

    status = 401
    default_code = "signature_invalid"


@dataclass(frozen=True)
class ConversionOutcome:
    """What a report did: the conversion, whether it was created by this report, whether this report changed it
    (created or moved its status; false for a re-send), and the shopper's cashback entry (if there is one)."""

    conversion: Conversion
    created: bool
    changed: bool
    entry: CashbackEntry | None


@dataclass(frozen=True)
class ConversionReportData:
    click_id: uuid.UUID
    reference: str
    amount: Decimal
    currency: str
    status: str


@dataclass
class _Trace:
    """What is known about a report so far, for its record should it be refused."""

    merchant_id: int | None = None
    conversion_id: int | None = None


def max_age() -> timedelta:
    return timedelta(seconds=getattr(settings, "CASHBACK_CONVERSION_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS))


def conversion_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 a report must carry: keyed with ``secret``, over ``b"<timestamp>." + body``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _valid_secrets(terms: MerchantCashback, now: datetime) -> list[str]:
    found = [terms.conversion_secret] if terms.conversion_secret else []
    expires = terms.previous_secret_expires_at
    if terms.previous_secret and expires is not None and expires > now:
        found.append(terms.previous_secret)
    return found


def _verify(*, merchant_slug: str, signature: str, timestamp: str, body: bytes, now: datetime, trace: _Trace) -> int:
    """The id of the merchant whose secret signed this report, or raise ``ReportUnauthenticated``."""
    refused = ReportUnauthenticated("The report's signature is missing or does not verify.")
    if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
        raise refused
    terms = (
        MerchantCashback.objects.filter(merchant__slug=merchant_slug)
        .only("merchant_id", "conversion_secret", "previous_secret", "previous_secret_expires_at")
        .first()
    )
    if terms is None:
        raise refused
    trace.merchant_id = terms.merchant_id
    given = signature.lower().encode()
    # Compare with every valid secret (no early exit), so the timing says nothing about which one matched.
    matches = [
        hmac.compare_digest(given, conversion_signature(secret=secret, timestamp=timestamp, body=body).encode())
        for secret in _valid_secrets(terms, now)
    ]
    if not any(matches):
        raise refused
    seconds = int(timestamp)
    if seconds >= _YEAR_10000 or abs(now - datetime.fromtimestamp(seconds, tz=UTC)) > max_age():
        raise ReportUnauthenticated(
            f"X-Timestamp is more than {int(max_age().total_seconds())} seconds from the server's clock; "
            "sign the report again with the current time.",
            code="timestamp_stale",
        )
    return terms.merchant_id


def _parse(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, parsed with the API's safe parser (depth, number and unicode limits)."""
    try:
        data = SafeJSONParser().parse(BytesIO(body), "application/json", {"encoding": "utf-8"})
    except APIException as exc:
        codes = exc.get_codes()
        raise InvalidInput(str(exc.detail), code=codes if isinstance(codes, str) else "parse_error") from None
    if not isinstance(data, dict):
        raise InvalidInput("The report must be a JSON object.", code="parse_error")
    return data


def _text(data: dict[str, Any], name: str, errors: dict[str, list[str]]) -> str | None:
    value = data.get(name)
    if value is None:
        errors[name] = ["This field is required."]
        return None
    if not isinstance(value, str):
        errors[name] = ["Must be a string."]
        return None
    return value


def conversion_report_validate(data: dict[str, Any]) -> ConversionReportData:
    """Check a parsed report's fields; raise ``InvalidInput`` with the messages per field. Unknown fields are
    ignored (networks add their own)."""
    errors: dict[str, list[str]] = {}
    click_text = _text(data, "click_id", errors)
    click_id = None
    if click_text is not None:
        click_id = _uuid(click_text)
        if click_id is None:
            errors["click_id"] = ["Must be the click id (a UUID) from the click's URL."]
    reference = _text(data, "reference", errors)
    if reference is not None and (len(reference) > MAX_REFERENCE_LENGTH or not _REFERENCE.match(reference)):
        errors["reference"] = [
            f"1 to {MAX_REFERENCE_LENGTH} printable ASCII characters, not starting or ending with a blank."
        ]
    amount = _amount(data, errors)
    currency = _text(data, "currency", errors)
    if currency is not None:
        try:
            if currency != currency.strip().upper():
                raise ValidationError("Not a currency code.")
            validate_currency(currency)
        except ValidationError as exc:
            errors["currency"] = [str(exc.messages[0])]
    if amount is not None and currency is not None and "currency" not in errors:
        places = currency_places(currency)
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            errors["amount"] = [f"{currency} amounts have {places} decimal places."]
    status = _text(data, "status", errors)
    if status is not None and status not in ConversionStatus.values:
        errors["status"] = [f"One of: {', '.join(ConversionStatus.values)}."]
    if errors:
        raise InvalidInput("The report has invalid fields.", fields=errors)
    assert click_id is not None and reference and amount is not None and currency and status
    return ConversionReportData(click_id=click_id, reference=reference, amount=amount, currency=currency, status=status)


def _uuid(text: str) -> uuid.UUID | None:
    if len(text) > 45:  # the longest spelling uuid.UUID takes ("urn:uuid:" plus 36)
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _amount(data: dict[str, Any], errors: dict[str, list[str]]) -> Decimal | None:
    if isinstance(data.get("amount"), int | float) and not isinstance(data.get("amount"), bool):
        errors["amount"] = ['Send the amount as a string, e.g. "1234.50".']
        return None
    text = _text(data, "amount", errors)
    if text is None:
        return None
    try:
        amount = Decimal(text) if _AMOUNT.match(text) else None
    except InvalidOperation:
        amount = None
    if amount is None or amount <= 0 or amount > MAX_AMOUNT:
        errors["amount"] = [f"A positive amount with at most 2 decimal places, up to {MAX_AMOUNT}, as a string."]
        return None
    return amount


def _click_for(report: ConversionReportData, merchant_id: int) -> tuple[OfferClick, int]:
    """The click the report names and the shopper who made it."""
    click = OfferClick.objects.select_related("offer").filter(click_id=report.click_id).first()
    if click is None:
        raise NotFoundError("No click has this click_id.", code="unknown_click")
    if click.offer.merchant_id != merchant_id:
        raise PermissionDeniedError("This click was on another merchant's offer.", code="click_of_another_merchant")
    user_id = click.user_id
    if user_id is None:
        raise Conflict(
            "This click was made by a shopper who was not signed in; no cashback can be given.",
            code="click_not_attributable",
        )
    return click, user_id


def _check_same_sale(conversion: Conversion, report: ConversionReportData, click: OfferClick) -> None:
    if conversion.click_id != click.pk:
        raise Conflict(f"Reference {report.reference} was reported with another click.", code="conversion_conflict")
    if conversion.sale_amount != report.amount or conversion.currency != report.currency:
        raise Conflict(
            f"Reference {report.reference} was reported with {conversion.sale_amount} {conversion.currency}; "
            "a sale's amount never changes (cancel it and report a new reference).",
            code="conversion_conflict",
        )
    if conversion.status != report.status and report.status not in CONVERSION_TRANSITIONS[conversion.status]:
        raise Conflict(
            f"Reference {report.reference} is {conversion.status}; it cannot become {report.status}.",
            code="conversion_conflict",
        )


def _create_or_lock(
    *, merchant_id: int, report: ConversionReportData, click: OfferClick, user_id: int, now: datetime
) -> tuple[Conversion, bool]:
    """The conversion of this (merchant, reference), locked, and whether this call created it."""
    lookup = Conversion.objects.select_for_update().filter(merchant_id=merchant_id, reference=report.reference)
    conversion = lookup.first()
    if conversion is not None:
        return conversion, False
    try:
        with transaction.atomic():
            created = Conversion.objects.create(
                merchant_id=merchant_id,
                offer_id=click.offer_id,
                click=click,
                user_id=user_id,
                reference=report.reference,
                sale_amount=report.amount,
                currency=report.currency,
                status=report.status,
                reported_at=now,
            )
        return created, True
    except IntegrityError:  # a concurrent first report of the same sale won; it is committed now
        return lookup.get(), False


def _apply(
    *,
    merchant_id: int,
    report: ConversionReportData,
    body_text: str,
    signature: str,
    timestamp: str,
    ip_hash: str,
    now: datetime,
    trace: _Trace,
) -> ConversionOutcome:
    click, user_id = _click_for(report, merchant_id)
    with transaction.atomic():
        conversion, created = _create_or_lock(
            merchant_id=merchant_id, report=report, click=click, user_id=user_id, now=now
        )
        trace.conversion_id = conversion.pk
        if not created:
            _check_same_sale(conversion, report, click)
        changed = created or conversion.status != report.status
        if changed and not created:
            conversion.status = report.status
            conversion.save(update_fields=["status", "updated_at"])
        entry = (
            cashback_sync_conversion(conversion_id=conversion.pk)
            if changed
            else CashbackEntry.objects.filter(conversion=conversion).first()
        )
        ConversionReport.objects.create(
            merchant_id=merchant_id,
            conversion=conversion,
            body=body_text,
            signature=signature,
            timestamp=timestamp,
            outcome=ReportOutcome.ACCEPTED if changed else ReportOutcome.UNCHANGED,
            ip_hash=ip_hash,
            received_at=now,
        )
    logger.info(
        "Conversion report %s: merchant %s reference %s status %s",
        "accepted" if changed else "unchanged (sent again)",
        merchant_id,
        report.reference,
        conversion.status,
    )
    return ConversionOutcome(conversion=conversion, created=created, changed=changed, entry=entry)


def _storable(text: str, limit: int) -> str:
    """Text as a database column can hold it: no NUL (PostgreSQL refuses it), at most ``limit`` characters."""
    return text.replace("\x00", "\ufffd")[:limit]


def conversion_report_receive(
    *,
    body: bytes,
    merchant_slug: str,
    signature: str,
    timestamp: str,
    ip: str | None,
    now: datetime | None = None,
) -> ConversionOutcome:
    """Verify, record and apply one conversion report (see the module docstring for the rules and answers).

    Raises the refusals listed there; each refused report is still stored, with its code, and logged.
    """
    now = now or timezone.now()
    merchant_slug = _storable(merchant_slug.strip(), MAX_HEADER_LENGTH)
    signature = _storable(signature.strip(), MAX_HEADER_LENGTH)
    timestamp = _storable(timestamp.strip(), 40)
    body_text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    ip_hash = hash_ip(ip)
    trace = _Trace()
    try:
        # Parsed first, so hostile bodies get the 400 every endpoint gives them, but nothing in it is read until
        # the signature over the raw bytes holds.
        data = _parse(body)
        merchant_id = _verify(
            merchant_slug=merchant_slug, signature=signature, timestamp=timestamp, body=body, now=now, trace=trace
        )
        report = conversion_report_validate(data)
        return _apply(
            merchant_id=merchant_id,
            report=report,
            body_text=body_text,
            signature=signature,
            timestamp=timestamp,
            ip_hash=ip_hash,
            now=now,
            trace=trace,
        )
    except DomainError as exc:
        _record_refusal(
            exc, trace=trace, body_text=body_text, signature=signature, timestamp=timestamp, ip_hash=ip_hash, now=now
        )
        logger.warning(
            "Conversion report refused: %s (merchant %r, ip hash %s): %s",
            exc.code,
            merchant_slug,
            ip_hash[:12],
            exc.detail,
        )
        raise


def _record_refusal(
    exc: DomainError, *, trace: _Trace, body_text: str, signature: str, timestamp: str, ip_hash: str, now: datetime
) -> None:
    """Store a refused report. Runs after the refused work rolled back; when called inside a caller's
    transaction it is written with it (the API runs without one, so there it always lands)."""
    conversion_id = trace.conversion_id
    if conversion_id is not None and not Conversion.objects.filter(pk=conversion_id).exists():
        conversion_id = None  # created by the transaction that just rolled back
    ConversionReport.objects.create(
        merchant_id=trace.merchant_id,
        conversion_id=conversion_id,
        body=body_text,
        signature=signature,
        timestamp=timestamp,
        outcome=ReportOutcome.REFUSED,
        error_code=exc.code[:60],
        ip_hash=ip_hash,
        received_at=now,
    )
