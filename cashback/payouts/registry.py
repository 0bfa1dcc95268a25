"""Which payout provider pays approved withdrawals.

RazorpayX when ``RAZORPAYX_KEY_ID``, ``RAZORPAYX_KEY_SECRET`` and ``RAZORPAYX_ACCOUNT_NUMBER`` are all set;
otherwise the manual provider (staff pay by hand and record the reference). A provider is built afresh on every
call, reading the settings then, so ``override_settings`` in tests and a changed environment apply at once.

The provider chosen at approval is recorded on the withdrawal (``Withdrawal.provider``) and later steps use
that one (:func:`payout_provider_named`), so switching providers never sends a manual withdrawal to RazorpayX.
"""

from django.conf import settings

from .base import PayoutProvider, PayoutUnavailable
from .manual import ManualProvider
from .razorpayx import RazorpayXProvider

MANUAL = ManualProvider.name
RAZORPAYX = RazorpayXProvider.name
RAZORPAYX_SETTINGS = ("RAZORPAYX_KEY_ID", "RAZORPAYX_KEY_SECRET", "RAZORPAYX_ACCOUNT_NUMBER")


def razorpayx_configured() -> bool:
    return all(bool(getattr(settings, name, "")) for name in RAZORPAYX_SETTINGS)


def payout_provider() -> PayoutProvider:
    """The provider new approvals use: RazorpayX when configured, else manual."""
    if razorpayx_configured():
        return RazorpayXProvider()
    return ManualProvider()


def payout_provider_named(name: str) -> PayoutProvider:
    """The provider a withdrawal was approved with. A RazorpayX withdrawal while RazorpayX is no longer
    configured is :class:`PayoutUnavailable` (it waits; staff may still record it by hand)."""
    if name == RAZORPAYX:
        if not razorpayx_configured():
            raise PayoutUnavailable("RazorpayX is not configured; the payout waits until it is.")
        return RazorpayXProvider()
    return ManualProvider()
