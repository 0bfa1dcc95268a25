from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The catalog connects no model signals: the services that write call the refresh and cache invalidation
    that must follow (see ``commerce/catalog/services/refresh.py``)."""

    name = "commerce.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from . import dashboard

        dashboard.register()
