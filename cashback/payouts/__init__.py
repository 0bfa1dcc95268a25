"""Payout providers for withdrawals: the interface (``base``), the manual provider, the RazorpayX Payouts adapter,
and the registry that chooses one from the settings."""
