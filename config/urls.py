"""Root URLs: the home page, the versioned REST API, its schema and docs, the admin and Prometheus metrics.

Each app contributes its endpoints through its own ``api/urls.py``; the public paths are listed in the README and
documented by the OpenAPI schema.
The last ``/api/`` pattern is a catch-all answering the JSON 404 (``commerce.core.api.errors.api_not_found``),
so unknown API paths get the error shape with DEBUG on too: keep every API route above it.
"""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from commerce.core.api.errors import API_NOT_FOUND_URL_NAME, api_not_found
from commerce.core.views import RedocDocsView, SwaggerDocsView, home
from config.metrics import export_metrics

api_v1_patterns = [
    path("", include("commerce.core.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("commerce.catalog.api.urls")),
    path("", include("commerce.offers.api.urls")),
    path("", include("commerce.orders.api.urls")),
    path("", include("payments.api.urls")),
    path("", include("cashback.api.urls")),
    path("", include("loyalty.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1_patterns, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SwaggerDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", RedocDocsView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^api/", api_not_found, name=API_NOT_FOUND_URL_NAME),
    path("", home, name="home"),
    # django-prometheus' exporter plus the payments and cashback gauges read at scrape time (multiprocess-safe).
    path("metrics", export_metrics, name="prometheus-django-metrics"),
]

handler404 = "commerce.core.api.errors.not_found_view"
handler500 = "commerce.core.api.errors.server_error_view"
