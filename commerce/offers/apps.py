from django.apps import AppConfig


class OffersConfig(AppConfig):
    name = "commerce.offers"
    label = "offers"
    verbose_name = "Offers"
