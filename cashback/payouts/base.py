"""The payout interface: what the withdrawal services ask of a payout provider, and what they get back.

A provider pays an approved withdrawal out to the shopper's UPI address or bank account. Providers never touch
the database and are called **outside** any row lock: ``withdrawal_payout_send`` claims the withdrawal, commits,
calls :meth:`PayoutProvider.send`, then locks the row again and records what the provider said.

Every provider must make sending the same withdrawal twice pay it once (RazorpayX: the ``X-Payout-Idempotency``
header carries a key derived from the withdrawal), because a timeout leaves us not knowing whether the first call
reached the provider, and the retry sends it again.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from commerce.core.errors import DependencyUnavailable

if TYPE_CHECKING:
    from ..models import Withdrawal


class PayoutUnavailable(DependencyUnavailable):
    """The provider could not be reached, timed out or answered 5xx: nothing is known, retry later with the same
    idempotency key. The withdrawal stays as it was (approved or processing)."""

    default_code = "payout_unavailable"


class PayoutStatus(StrEnum):
    #: Nothing automatic happened: staff pay it and record the reference (the manual provider).
    NOT_SENT = "not_sent"
    #: Accepted by the provider and on its way (queued, pending, processing at RazorpayX).
    PROCESSING = "processing"
    #: The money reached the shopper's account.
    PAID = "paid"
    #: Refused or failed (or reversed by the bank): the money did not leave, the hold is released.
    FAILED = "failed"


@dataclass(frozen=True)
class PayoutResult:
    """What a provider says about one payout. ``reference`` is the provider's payout id (``pout_...``), kept as
    the withdrawal's ``provider_reference``; ``utr`` the bank's transfer reference when the provider knows it;
    ``failure_reason`` a sentence for the shopper when ``status`` is failed."""

    status: PayoutStatus
    reference: str = ""
    failure_reason: str = ""
    utr: str = ""


class PayoutProvider(Protocol):
    #: ``manual`` or ``razorpayx``: recorded on the withdrawal when it is approved.
    name: str
    #: True when approving a withdrawal sends its payout by itself (on commit, in a task).
    automatic: bool

    def send(self, withdrawal: "Withdrawal") -> PayoutResult:
        """Ask the provider to pay ``withdrawal`` out (idempotent per withdrawal). Raises
        :class:`PayoutUnavailable` when the outcome is unknown."""
        ...

    def fetch(self, reference: str) -> PayoutResult:
        """The current state of the payout ``reference``. Raises :class:`PayoutUnavailable` when unknown."""
        ...
