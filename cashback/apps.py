"""Cashback rules and entries, risk assessment, the wallet ledger and withdrawals."""

from django.apps import AppConfig


class CashbackConfig(AppConfig):
    name = "cashback"
    label = "cashback"
    verbose_name = "Cashback and wallet"

    def ready(self) -> None:
        # Receivers of the orders' domain events (they only enqueue tasks after commit).
        from . import dashboard, receivers

        receivers.connect()
        dashboard.register()  # the back office's cards (cashback to review, withdrawals to approve, credited)
