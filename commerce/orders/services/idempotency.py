"""``Idempotency-Key``: a request sent again (a retry after a timeout, a double tap) answers what the first one
answered instead of doing the work twice.

How it works (:func:`idempotent_execute`):

1. **Replay.** A stored :class:`~commerce.orders.models.IdempotencyRecord` for the same user, scope and key
   answers at once: the same body as before gets the first response (status and body as stored, even if the
   order has moved on since); another body gets 409 ``idempotency_key_reused``.
2. **Claim.** Otherwise the record is inserted *first*, inside the transaction that will do the work, with an
   empty response. A concurrent request with the same key blocks on the unique index ``(user, scope, key)``
   until this transaction ends: if it commits, the waiting insert fails and that request replays the stored
   response (step 1); if it rolls back, the waiting request goes on and does the work itself. So ten requests
   with one key at once make one order, and nine of them answer with its response.
3. **Work and store.** The work runs in the same transaction; its response is written to the record before the
   commit, so a record exists exactly when its order does.

Decisions where the issue is silent:

* **Only successful responses are stored.** An error (400, 409 ``insufficient_stock``, ``cart_changed``, ...)
  rolls the claim back with everything else, so the shopper can fix the cart and retry with the *same* key.
  Replaying an error would make a key useless after a transient conflict.
* **The body is compared as JSON**, canonically (keys sorted, no blanks): the same object written with other
  spacing or key order is the same request; ``{"address_id": 1}`` and ``{"address_id": "1"}`` are not.
* **Keys** are 1 to 255 printable ASCII characters (``Idempotency-Key: 6f1c...``, a UUID is typical), per user
  and per scope (``checkout``): two shoppers may use the same key.
* Records are kept ``IDEMPOTENCY_KEY_TTL_HOURS`` (24 h) and then purged by the ``purge_idempotency_records``
  task (:func:`idempotency_records_purge`); after that the key is free again.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from commerce.core.errors import Conflict, DomainError, InvalidInput

from ..models import IdempotencyRecord, Order

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
PURGE_BATCH_SIZE = 5000


@dataclass(frozen=True)
class IdempotentResponse:
    """What an idempotent request answered: its HTTP status and JSON body, and the order it made (if any).
    ``replayed`` is true when the response comes from an earlier request with the same key."""

    status_code: int
    body: dict[str, Any]
    order: Order | None = None  # None on a replay: the stored body says all
    replayed: bool = False


class _KeyClaimed(Exception):
    """Another transaction committed a record for this key while we waited on the unique index."""


def idempotency_key_clean(*, value: str | None) -> str:
    """The header's value, or 400 ``invalid`` with ``fields.Idempotency-Key`` when missing or malformed."""
    if value is None or value == "":
        problem = f"The {HEADER} header is required: send a unique value (e.g. a UUID) per checkout."
    elif len(value) > MAX_KEY_LENGTH:
        problem = f"The {HEADER} header must be at most {MAX_KEY_LENGTH} characters."
    elif not all(" " <= char <= "~" for char in value) or not value.strip():
        problem = f"The {HEADER} header must be printable ASCII characters."
    else:
        return value
    raise InvalidInput(problem, fields={HEADER: [problem]})


def idempotency_request_hash(*, body: Any) -> str:
    """A digest of a JSON request body, the same for the same JSON value however it was written."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyRecord, request_hash: str) -> IdempotentResponse:
    if record.request_hash != request_hash:
        raise Conflict(
            f"This {HEADER} was already used for a different request; use a new key for a new request.",
            code="idempotency_key_reused",
        )
    return IdempotentResponse(status_code=record.status_code, body=record.response_body, replayed=True)


def _stored(*, user_id: int, scope: str, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(user_id=user_id, scope=scope, key=key).first()


def _run_after_rollback(exc: BaseException) -> None:
    """Let an error do what must survive the rollback it caused (see ``checkout.CartChanged``)."""
    hook = getattr(exc, "after_rollback", None)
    if callable(hook):
        hook()


def idempotent_execute(
    *, user_id: int, scope: str, key: str, request_hash: str, work: Callable[[], IdempotentResponse]
) -> IdempotentResponse:
    """Answer a request with ``key`` once: replay a stored response, or run ``work`` and store its response.

    ``work`` runs inside this function's transaction, after the claim; it returns the response to give (and to
    store when its status is 2xx). A :class:`~commerce.core.errors.DomainError` from ``work`` rolls everything
    back, the claim too, and propagates (errors are not stored). See the module docstring.
    """
    for _ in range(2):
        stored = _stored(user_id=user_id, scope=scope, key=key)
        if stored is not None:
            return _replay(stored, request_hash)
        try:
            return _claim_and_run(user_id=user_id, scope=scope, key=key, request_hash=request_hash, work=work)
        except _KeyClaimed:
            continue  # the winner committed: replay its response
    # The winner's record vanished between its commit and our read (purged at that very moment): say so.
    raise Conflict(f"A request with this {HEADER} is in progress; retry it.", code="idempotency_key_in_use")


def _claim_and_run(
    *, user_id: int, scope: str, key: str, request_hash: str, work: Callable[[], IdempotentResponse]
) -> IdempotentResponse:
    try:
        with transaction.atomic():
            try:
                # On PostgreSQL this insert waits while another transaction holds the same key uncommitted.
                record = IdempotencyRecord.objects.create(
                    user_id=user_id,
                    scope=scope,
                    key=key,
                    request_hash=request_hash,
                    status_code=0,
                    response_body={},
                    created_at=timezone.now(),
                )
            except IntegrityError:
                raise _KeyClaimed from None  # leaving the block rolls the (failed) transaction back
            response = work()
            if not 200 <= response.status_code < 300:
                # Not a success: keep the answer but not the claim (no error is ever replayed).
                transaction.set_rollback(True)
                return response
            record.status_code = response.status_code
            record.response_body = response.body
            record.order = response.order
            record.save(update_fields=["status_code", "response_body", "order"])
            return response
    except DomainError as exc:
        _run_after_rollback(exc)
        raise


def idempotency_records_purge(*, now: datetime | None = None) -> int:
    """Delete records older than ``IDEMPOTENCY_KEY_TTL_HOURS``, in batches; returns how many went.

    Safe to run twice or concurrently (a batch deletes by primary key; rows already gone count nothing).
    """
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted = 0
    while True:
        batch = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", flat=True)[:PURGE_BATCH_SIZE]
        )
        if not batch:
            return deleted
        count, _ = IdempotencyRecord.objects.filter(pk__in=batch).delete()
        deleted += count
        if len(batch) < PURGE_BATCH_SIZE:
            return deleted
