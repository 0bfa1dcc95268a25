"""Receivers of the orders app's domain events; connected in :meth:`cashback.apps.CashbackConfig.ready`."""


def connect() -> None:
    """Connect the receivers (filled in by the cashback entries work)."""
