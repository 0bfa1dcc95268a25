from django.apps import AppConfig


class OffersConfig(AppConfig):
    name = "commerce.offers"
    label = "offers"
    verbose_name = "Offers"

    def ready(self) -> None:
        from . import dashboard

        dashboard.register()
