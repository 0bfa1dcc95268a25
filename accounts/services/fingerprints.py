"""Account fingerprints: keyed hashes of the IP addresses, device ids and phone numbers an account was seen with.

Fraud checks (cashback risk, :mod:`cashback.services.risk`) ask how many *other* accounts share one of these with
an account (:func:`accounts.selectors.accounts_sharing_fingerprints`). Raw values are never stored: only
``HMAC-SHA256(key, "<kind>:<normalised value>")`` in hex, keyed with ``SECRET_KEY`` (through Django's
``salted_hmac`` with a salt of its own, so the key is not shared with any other use of ``SECRET_KEY``). Without the
key a hash cannot be tested against guessed values (an IPv4 address or a phone number is easy to enumerate). A
consequence: rotating ``SECRET_KEY`` starts every hash afresh (old rows no longer match new sightings).

Normalisation, so that one value always gives one hash:

* ``ip``: parsed with :mod:`ipaddress`; IPv6 in its compressed form, an IPv4-mapped IPv6 address as the IPv4
  address (as :mod:`commerce.core.client_ip` does);
* ``phone``: E.164 (:func:`accounts.phone.normalize_phone`, national forms in ``PHONE_DEFAULT_REGION``);
* ``device``: the client's stable random id (the ``X-Device-Id`` header) with surrounding blanks stripped;
  1 to 200 printable characters, compared exactly.

A value that does not normalise raises :class:`ValueError` from :func:`fingerprint_hash`; the recorder skips it.
"""

import ipaddress
import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import AccountFingerprint, FingerprintKind
from accounts.phone import normalize_phone

logger = logging.getLogger(__name__)

KEY_SALT = "accounts.fingerprint"
DEVICE_ID_MAX_LENGTH = 200
# A sighting refreshes ``last_seen_at`` at most this often, so a busy account costs one read per sign-in.
REFRESH_AFTER = timedelta(days=1)


def fingerprint_normalise(*, kind: str, value: str) -> str:
    """``value`` in the one form hashed for ``kind`` (see the module docstring); ``ValueError`` when it has none."""
    if not isinstance(value, str):
        raise ValueError("A fingerprint value is a string.")
    if kind == FingerprintKind.IP:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            raise ValueError("Not an IP address.") from None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return str(address)
    if kind == FingerprintKind.PHONE:
        try:
            return normalize_phone(value)
        except ValidationError:
            raise ValueError("Not a phone number.") from None
    if kind == FingerprintKind.DEVICE:
        device = value.strip()
        if not device or len(device) > DEVICE_ID_MAX_LENGTH or not device.isprintable():
            raise ValueError(f"A device id is 1 to {DEVICE_ID_MAX_LENGTH} printable characters.")
        return device
    raise ValueError(f"Unknown fingerprint kind {kind!r}.")


def fingerprint_hash(*, kind: str, value: str) -> str:
    """The keyed hash (64 hex characters) stored for ``value`` of ``kind``; ``ValueError`` for a bad value."""
    kind = str(kind)  # a FingerprintKind member hashes as its value
    normalised = fingerprint_normalise(kind=kind, value=value)
    return salted_hmac(KEY_SALT, f"{kind}:{normalised}", algorithm="sha256").hexdigest()


def _hashes(*, ip: str | None, device_id: str | None, phone: str | None) -> dict[tuple[str, str], None]:
    """The (kind, hash) pairs of the values given that normalise, in a stable order without duplicates."""
    pairs: dict[tuple[str, str], None] = {}
    for kind, value in ((FingerprintKind.IP, ip), (FingerprintKind.DEVICE, device_id), (FingerprintKind.PHONE, phone)):
        if value is None or value == "":
            continue
        try:
            pairs[(str(kind), fingerprint_hash(kind=kind, value=value))] = None
        except ValueError:
            logger.info("Fingerprint of kind %s skipped: the value does not normalise.", kind)
    return pairs


def account_fingerprint_record(
    *, user_id: int, ip: str | None = None, device_id: str | None = None, phone: str | None = None
) -> None:
    """Record that ``user_id`` was seen with these values (each optional; values that do not normalise, such as
    the ``"unknown"`` of :func:`commerce.core.client_ip.client_ip`, are skipped).

    One row per account, kind and hash: a new value inserts a row, a known one refreshes ``last_seen_at`` when it
    is older than :data:`REFRESH_AFTER` (so the usual sign-in costs one read and no write). Two sign-ins at once
    cannot make two rows: the unique constraint is the guard and the insert ignores the conflict. Runs in a
    savepoint of its own, so a database error here leaves the caller's transaction usable.
    """
    pairs = _hashes(ip=ip, device_id=device_id, phone=phone)
    if not pairs:
        return
    now = timezone.now()
    match = Q()
    for kind, value_hash in pairs:
        match |= Q(kind=kind, value_hash=value_hash)
    with transaction.atomic():
        seen = {
            (kind, value_hash): (pk, last_seen_at)
            for pk, kind, value_hash, last_seen_at in AccountFingerprint.objects.filter(match, user_id=user_id)
            .order_by()
            .values_list("pk", "kind", "value_hash", "last_seen_at")
        }
        new = [
            AccountFingerprint(user_id=user_id, kind=kind, value_hash=value_hash, first_seen_at=now, last_seen_at=now)
            for kind, value_hash in pairs
            if (kind, value_hash) not in seen
        ]
        if new:
            AccountFingerprint.objects.bulk_create(new, ignore_conflicts=True)
        stale = sorted(pk for pk, last_seen_at in seen.values() if last_seen_at <= now - REFRESH_AFTER)
        if stale:
            AccountFingerprint.objects.filter(pk__in=stale).update(last_seen_at=now)
