"""Reconciliation: ask the providers about payments left pending too long and apply what they say.

A webhook can be lost for good (misconfigured endpoint, an outage longer than the provider's retries). The beat
entry ``payments-reconcile`` runs :func:`payments_reconcile` every five minutes: payments still ``created`` or
``authorized`` and untouched for ``older_than_minutes`` are fetched from their gateway (``gateway.fetch``, no row
lock held while the provider answers) and the events it returns go through the same idempotent
:func:`payments.services.apply.payment_events_apply` as webhooks, which locks and re-checks the payment.

Each checked payment's ``updated_at`` is touched, so the next run starts with the ones checked longest ago and a
pile of abandoned payments never starves the others; payments older than :data:`RECONCILE_MAX_AGE` are left
alone (a shopper who left days ago is not coming back, and their order has long expired).
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from commerce.core.errors import DomainError

from ..gateways import registry
from ..gateways.base import ProviderUnavailable
from ..models import OPEN_PAYMENT_STATUSES, Payment

logger = logging.getLogger(__name__)

RECONCILE_MAX_AGE = timedelta(days=3)


@dataclass(frozen=True)
class ReconcileResult:
    checked: int = 0
    changed: int = 0
    unchanged: int = 0
    not_ready: int = 0
    unavailable: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def payments_reconcile(
    *, older_than_minutes: int = 15, limit: int = 100, now: datetime | None = None
) -> ReconcileResult:
    """Fetch up to ``limit`` open payments untouched for ``older_than_minutes`` from their providers and apply
    the events; a provider that is down or unconfigured is counted and skipped (tried again next run)."""
    from .apply import EventNotReady, payment_events_apply  # apply (a sibling service) may import this module

    now = now or timezone.now()
    candidates = list(
        Payment.objects.filter(
            status__in=OPEN_PAYMENT_STATUSES,
            updated_at__lt=now - timedelta(minutes=older_than_minutes),
            created_at__gte=now - RECONCILE_MAX_AGE,
        )
        .filter(~Q(provider_order_id=""))
        .order_by("updated_at", "pk")[: max(limit, 0)]
    )
    counts = {"checked": 0, "changed": 0, "unchanged": 0, "not_ready": 0, "unavailable": 0, "errors": 0}
    for payment in candidates:
        counts["checked"] += 1
        before = (payment.status, payment.captured_amount, payment.refunded_amount)
        try:
            gateway = registry.gateway_for(payment.provider)
            events = gateway.fetch(payment=payment)  # no transaction, no lock: the provider may be slow
            if events:
                payment_events_apply(provider=payment.provider, events=events)
        except ProviderUnavailable as exc:
            counts["unavailable"] += 1
            logger.warning("Reconciling payment %s: %s unavailable (%s)", payment.pk, payment.provider, exc)
        except EventNotReady as exc:
            counts["not_ready"] += 1
            logger.info("Reconciling payment %s: not ready (%s)", payment.pk, exc)
        except DomainError as exc:
            counts["errors"] += 1
            logger.warning("Reconciling payment %s refused: %s %s", payment.pk, exc.code, exc.detail)
        except Exception:
            counts["errors"] += 1
            logger.exception("Reconciling payment %s failed", payment.pk)
        current = (
            Payment.objects.filter(pk=payment.pk).values_list("status", "captured_amount", "refunded_amount").first()
        )
        if current is not None and current != before:
            counts["changed"] += 1
        else:
            counts["unchanged"] += 1
            # Checked: to the back of the line (a changed payment was saved by its service already).
            Payment.objects.filter(pk=payment.pk, updated_at=payment.updated_at).update(updated_at=now)
    result = ReconcileResult(**counts)
    if result.checked:
        logger.info("Payments reconciled: %s", result.as_dict())
    return result
