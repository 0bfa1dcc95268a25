from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib import admin

        from . import dashboard, signals
        from .admin_site import AccountsAdminSite

        signals.connect()
        dashboard.register()
        # The default admin site (``admin.site``, already holding every registration) becomes OTP-protected.
        admin.site.__class__ = AccountsAdminSite
