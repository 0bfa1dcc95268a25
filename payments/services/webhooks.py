"""The webhook inbox: every provider event is verified, stored, then applied exactly once in effect.

How an event travels:

1. :func:`webhook_receive` (the ``POST webhooks/<provider>`` view, and the demo gateway's complete endpoint)
   verifies the signature over the raw body through the provider's adapter (``parse_webhook``). A bad, missing
   or stale signature raises :class:`~payments.gateways.base.SignatureInvalid` (400 ``signature_invalid``),
   is counted (``payments_webhooks_received_total{outcome="invalid"}``) and stores nothing. A verified event is
   inserted into :class:`~payments.models.WebhookEvent` once per ``(provider, event_id)``; the task
   ``payments.tasks.process_webhook`` (queue ``webhooks``) is published when that insert commits. The caller
   answers 200 at once: nothing here calls the provider or waits for a worker (in the embedded default Celery
   is eager and the event is applied right after the commit, still after it is stored).
2. A duplicate delivery (the provider retries, or sends the event twice) answers 200 and stores nothing new. It
   is published again only when its row is still ``received`` and stale (:data:`STALE_RECEIVED_AFTER` past its
   receipt or its scheduled retry): its task was most likely lost, and processing is idempotent.
3. :func:`webhook_process` locks the row (``select_for_update``) for the whole attempt, so two deliveries of
   the task for one row run one after the other and the second finds it done. It re-verifies the stored body
   with the stored headers (without the freshness check: a retry may run hours later), applies the events with
   :func:`payments.services.apply.payment_events_apply` inside a savepoint, and marks the row ``processed``
   (``ignored`` when every event is one we do not act on) in the same transaction as the effects. A worker
   killed mid-way rolls all of it back and the message (``acks_late``) is delivered again.
4. :class:`~payments.services.apply.EventNotReady` (a refund seen before its capture) or any other error rolls
   back the savepoint, counts the attempt, stores ``last_error`` and schedules a retry after
   :func:`retry_countdown` seconds (exponential, jittered). After :data:`MAX_ATTEMPTS` attempts the row is
   ``failed``: listed in the admin and reprocessed with :func:`webhooks_replay` (``manage.py replay_webhooks``).
   A stored body whose signature no longer verifies (the webhook secret was rotated) fails at once.
5. :func:`webhooks_requeue_stale` (run with reconciliation by the beat entry ``payments-reconcile``) publishes
   again ``received`` rows whose task was lost: the broker was down at commit time, or a worker died.
"""

import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from commerce.core.errors import InvalidInput

from .. import metrics
from ..gateways import registry
from ..gateways.base import EventKind, NormalizedEvent, SignatureInvalid
from ..models import WebhookEvent, WebhookStatus

logger = logging.getLogger(__name__)

#: Processing attempts before a row is ``failed`` (a replay starts a new set).
MAX_ATTEMPTS = 8
# Backoff before attempt n+1: RETRY_BASE_SECONDS * 2**(n-1) plus up to half of that again as jitter, capped at
# RETRY_MAX_SECONDS. With the defaults: ~15 s, 30 s, 1 min, 2 min, 4 min, 8 min, 16 min, then ``failed`` (about
# half an hour after the first attempt, time enough for the capture a refund event waits for).
RETRY_BASE_SECONDS = 15.0
RETRY_MAX_SECONDS = 3600.0
#: A ``received`` row untouched this long past its receipt or its scheduled retry has lost its task.
STALE_RECEIVED_AFTER = timedelta(minutes=5)
SWEEP_BATCH_SIZE = 500
MAX_ERROR_LENGTH = 2000
MAX_HEADER_LENGTH = 2000
#: Headers never stored with an event (credentials a proxy might forward); the rest are kept so the stored body
#: can be verified again exactly as it was received.
UNSTORED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class ReplayResult:
    matched: int
    reprocessed: int
    statuses: dict[str, int]


def retry_countdown(*, attempts: int, rng: Callable[[], float] | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempts`` (1-based): exponential, jittered, capped."""
    delay = RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    jitter = (rng or random.random)() * delay / 2
    return round(float(min(RETRY_MAX_SECONDS, delay + jitter)), 3)


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(name, str) and isinstance(value, str) and name.lower() not in UNSTORED_HEADERS:
            kept[name] = value[:MAX_HEADER_LENGTH]
    return kept


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


def _enqueue_on_commit(webhook_id: int) -> None:
    def enqueue() -> None:
        from ..tasks import process_webhook  # tasks import this module

        try:
            process_webhook.apply_async(args=[webhook_id])
        except Exception:
            # The row is committed and stays received: webhooks_requeue_stale publishes it again later.
            logger.exception("Could not publish webhook %s; it stays received for the sweep", webhook_id)

    transaction.on_commit(enqueue)


def _stale(event: WebhookEvent, now: datetime) -> bool:
    clock = event.next_attempt_at or event.received_at
    return event.status == WebhookStatus.RECEIVED and clock < now - STALE_RECEIVED_AFTER


# --- Receiving ------------------------------------------------------------------------------------------


def webhook_receive(*, provider: str, body: bytes, headers: Mapping[str, str]) -> tuple[WebhookEvent, bool]:
    """Verify and store one delivery; ``(row, True)`` when it is new. Processing is published after commit.

    Raises 400 ``provider_unavailable`` for an unknown or unconfigured provider, 400 ``signature_invalid``
    (counted, nothing stored) for a bad, missing or stale signature, 400 ``invalid_webhook`` for a verified body
    that is not UTF-8 or names no event."""
    gateway = registry.gateway_for(provider)
    kept = _headers(headers)
    try:
        event_id, event_type, _events = gateway.parse_webhook(body=bytes(body), headers=kept)
    except SignatureInvalid:
        metrics.webhook_received(provider=provider, outcome="invalid")
        raise
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The webhook body is not UTF-8.", code="invalid_webhook") from None
    if "\x00" in text or not event_id:
        raise InvalidInput("The webhook names no event or holds a NUL character.", code="invalid_webhook")
    event_id = event_id[: WebhookEvent._meta.get_field("event_id").max_length]
    event_type = event_type[: WebhookEvent._meta.get_field("type").max_length]
    now = timezone.now()
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            provider=provider,
            event_id=event_id,
            defaults={"type": event_type, "body": text, "headers": kept, "received_at": now},
        )
        if created or _stale(event, now):
            _enqueue_on_commit(event.pk)
    metrics.webhook_received(provider=provider, outcome="accepted" if created else "duplicate")
    if not created:
        logger.info("Duplicate %s webhook %s (%s)", provider, event_id, event.status)
    return event, created


# --- Processing -----------------------------------------------------------------------------------------


def _reverify(event: WebhookEvent) -> tuple[str, str, list[NormalizedEvent]]:
    """Verify the stored body with the stored headers again, without the freshness check (see the module)."""
    gateway = registry.gateway_for(event.provider)
    body, headers = event.body.encode("utf-8"), dict(event.headers or {})
    return gateway.parse_webhook(body=body, headers=headers, check_age=False)


def webhook_process(*, webhook_id: int) -> str:
    """One processing attempt of an inbox row; safe to call any number of times. Returns the row's status after
    it (``received`` means a retry is scheduled at ``next_attempt_at``), or ``missing``."""
    from .apply import EventNotReady, payment_events_apply  # apply (a sibling service) may import this module

    now = timezone.now()
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=webhook_id).first()
        if event is None:
            logger.warning("Webhook %s does not exist; nothing to process", webhook_id)
            return "missing"
        if event.status != WebhookStatus.RECEIVED:
            return event.status
        event.attempts += 1
        error: BaseException | None = None
        permanent = False
        kinds: list[str] = []
        try:
            _id, _type, events = _reverify(event)
            kinds = [e.kind for e in events]
            with transaction.atomic():
                payment_events_apply(provider=event.provider, events=events)
        except SignatureInvalid as exc:
            error, permanent = exc, True
        except EventNotReady as exc:
            error = exc
        except Exception as exc:
            logger.exception("Processing %s webhook %s failed", event.provider, event.event_id)
            error = exc

        fields = ["status", "attempts", "last_error", "processed_at", "next_attempt_at"]
        if error is None:
            ignored = bool(kinds) and all(kind == EventKind.IGNORED for kind in kinds)
            event.status = WebhookStatus.IGNORED if ignored else WebhookStatus.PROCESSED
            event.processed_at = now
            event.next_attempt_at = None
            event.last_error = ""
        else:
            event.last_error = _error_text(error)
            if permanent or event.attempts >= MAX_ATTEMPTS:
                event.status = WebhookStatus.FAILED
                event.next_attempt_at = None
                if not permanent:
                    event.last_error = f"Gave up after {event.attempts} attempts. {event.last_error}"[:MAX_ERROR_LENGTH]
            else:
                event.next_attempt_at = now + timedelta(seconds=retry_countdown(attempts=event.attempts))
        event.save(update_fields=fields)
        status = event.status
        provider, received_at = event.provider, event.received_at
        transaction.on_commit(
            lambda: metrics.webhook_processed(
                provider=provider,
                status=status if status != WebhookStatus.RECEIVED else "retry",
                lag_seconds=(now - received_at).total_seconds() if status != WebhookStatus.RECEIVED else None,
            )
        )
    if status == WebhookStatus.FAILED:
        logger.warning("Webhook %s failed: %s", webhook_id, event.last_error)
    return status


def webhook_retry_in(*, webhook_id: int, now: datetime | None = None) -> float | None:
    """Seconds until the scheduled retry of a ``received`` row (``None`` when none is scheduled)."""
    row = WebhookEvent.objects.filter(pk=webhook_id, status=WebhookStatus.RECEIVED).values("next_attempt_at").first()
    if row is None or row["next_attempt_at"] is None:
        return None
    return max(0.0, (row["next_attempt_at"] - (now or timezone.now())).total_seconds())


# --- Operations -----------------------------------------------------------------------------------------


def webhooks_matching(
    *,
    provider: str | None = None,
    statuses: Iterable[str] = (WebhookStatus.FAILED,),
    since: datetime | None = None,
    until: datetime | None = None,
    ids: Iterable[int] | None = None,
) -> "QuerySet[WebhookEvent]":
    """Inbox rows by provider, status, receipt time (``since`` inclusive, ``until`` exclusive) and, when given,
    primary keys (the admin's selection), oldest first."""
    statuses = list(statuses)
    unknown = sorted(set(statuses) - set(WebhookStatus.values))
    if unknown or not statuses:
        raise InvalidInput(
            f"Unknown webhook status: {', '.join(unknown) or '(none)'}.",
            code="invalid",
            fields={"status": [f"Choose from: {', '.join(WebhookStatus.values)}."]},
        )
    rows = WebhookEvent.objects.filter(status__in=statuses)
    if provider:
        rows = rows.filter(provider=provider)
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    if until is not None:
        rows = rows.filter(received_at__lt=until)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.order_by("received_at", "pk")


def webhooks_replay(
    *,
    provider: str | None = None,
    statuses: Iterable[str] = (WebhookStatus.FAILED,),
    since: datetime | None = None,
    until: datetime | None = None,
    inline: bool = True,
    dry_run: bool = False,
    limit: int | None = None,
    ids: Iterable[int] | None = None,
) -> ReplayResult:
    """Reprocess matching rows. ``failed`` ones go back to ``received`` with a fresh set of attempts (so do
    ``processed``/``ignored`` ones when asked for: applying is idempotent, a replay of them changes nothing that
    was already applied). ``inline`` processes each row here, one transaction per row (the operator sees the
    outcome; a row locked by a worker waits for it); otherwise the tasks are published after the reset commits.
    ``dry_run`` only counts; ``ids`` restricts the replay to those rows (the admin's "Reprocess")."""
    rows = webhooks_matching(provider=provider, statuses=statuses, since=since, until=until, ids=ids)
    row_ids = list(rows.values_list("pk", flat=True)[:limit] if limit else rows.values_list("pk", flat=True))
    if dry_run:
        return ReplayResult(matched=len(row_ids), reprocessed=0, statuses={})
    outcome: dict[str, int] = {}
    for pk in row_ids:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().get(pk=pk)
            if event.status != WebhookStatus.RECEIVED:
                event.status = WebhookStatus.RECEIVED
                event.attempts = 0
                event.processed_at = None
            event.next_attempt_at = None
            event.save(update_fields=["status", "attempts", "processed_at", "next_attempt_at"])
            if not inline:
                _enqueue_on_commit(pk)
        if inline:
            status = webhook_process(webhook_id=pk)
            outcome[status] = outcome.get(status, 0) + 1
    if not inline:
        outcome = {"queued": len(row_ids)} if row_ids else {}
    logger.warning("Webhook replay: %s rows (%s)", len(row_ids), json.dumps(outcome, sort_keys=True))
    return ReplayResult(matched=len(row_ids), reprocessed=len(row_ids), statuses=outcome)


def webhooks_requeue_stale(*, now: datetime | None = None) -> int:
    """Publish again ``received`` rows whose task was lost (stale past receipt or scheduled retry); how many.

    Safe to run any time: processing is idempotent and a row being processed is locked. At most
    :data:`SWEEP_BATCH_SIZE` rows per run, oldest first."""
    now = now or timezone.now()
    cutoff = now - STALE_RECEIVED_AFTER
    stale = list(
        WebhookEvent.objects.filter(status=WebhookStatus.RECEIVED)
        .filter(Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, received_at__lt=cutoff))
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH_SIZE]
    )
    with transaction.atomic():
        for pk in stale:
            _enqueue_on_commit(pk)
    if stale:
        logger.warning("Webhook sweep: %s received rows published again", len(stale))
    return len(stale)
