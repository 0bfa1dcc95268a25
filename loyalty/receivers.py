"""Receivers of the orders' and accounts' domain events; connected in :meth:`loyalty.apps.LoyaltyConfig.ready`."""


def connect() -> None:
    """Connect the receivers (filled in by the earning work)."""
