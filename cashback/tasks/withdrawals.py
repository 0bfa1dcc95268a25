"""Cashback tasks: withdrawals' payouts sent and their status refreshed. Thin: each loads by id and calls a service;
both are safe to run twice (the services re-check under the withdrawal's row lock, and the provider is called with
the withdrawal's own idempotency key)."""

import logging

from celery import shared_task

from commerce.core.errors import NotFoundError

from ..services.withdrawals import withdrawal_payout_send, withdrawals_refresh_payouts


@shared_task(name="cashback.tasks.withdrawals.send_payout", ignore_result=True)
def send_payout(withdrawal_id: int) -> str:
    """Send the payout of an approved withdrawal (queued on commit by ``withdrawal_approve`` when the payout
    provider is automatic); returns the withdrawal's status afterwards. A provider that is down leaves it for
    :func:`refresh_payouts`. A withdrawal that no longer exists is logged and skipped."""
    try:
        return str(withdrawal_payout_send(withdrawal_id=withdrawal_id).status)
    except NotFoundError:
        logging.getLogger(__name__).warning("send_payout: no withdrawal %s", withdrawal_id)
        return "missing"


@shared_task(name="cashback.tasks.withdrawals.refresh_payouts", ignore_result=True)
def refresh_payouts() -> int:
    """Periodic (beat entry ``withdrawals-refresh-payouts``, every 10 minutes): fetch the status of payouts in
    flight and send again those whose first attempt never got an answer; returns how many became paid or
    failed."""
    return withdrawals_refresh_payouts()
