from django.apps import AppConfig


class CashbackConfig(AppConfig):
    name = "cashback"
    label = "cashback"
    verbose_name = "Cashback"
