from django.apps import AppConfig
from django.conf import settings


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
        # The default admin site (``admin.site``, already holding every registration) becomes OTP-protected and
        # themed (unfold is installed with its BasicAppConfig, which leaves ``admin.site`` alone).
        admin.site.__class__ = AccountsAdminSite
        admin.site.site_header = admin.site.site_title = settings.ADMIN_SITE_NAME
        admin.site.index_title = "Dashboard"  # the index is the dashboard of KPI cards
