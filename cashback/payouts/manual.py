"""The manual payout provider: nothing automatic. Finance staff pay an approved withdrawal from the bank's own
portal and record the bank (UTR) reference in the admin ("Record payout" calls ``withdrawal_mark_paid``), or
record a failure ("Mark failed" calls ``withdrawal_mark_failed``)."""

from typing import TYPE_CHECKING

from .base import PayoutResult, PayoutStatus

if TYPE_CHECKING:
    from ..models import Withdrawal


class ManualProvider:
    name = "manual"
    automatic = False

    def send(self, withdrawal: "Withdrawal") -> PayoutResult:
        return PayoutResult(status=PayoutStatus.NOT_SENT)

    def fetch(self, reference: str) -> PayoutResult:
        return PayoutResult(status=PayoutStatus.NOT_SENT, reference=reference)
