from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        # Receivers of the orders' domain events (they only enqueue tasks).
        from . import receivers

        receivers.connect()
