from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "commerce.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from . import dashboard

        dashboard.register()
