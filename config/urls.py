"""Root URLs: the versioned REST API, its schema and docs, the admin and Prometheus metrics.

Each app contributes its endpoints through its own ``api/urls.py``; the public paths are listed in DESIGN.md.
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1_patterns = [
    path("", include("commerce.core.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("commerce.catalog.api.urls")),
    path("", include("commerce.offers.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1_patterns, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("django_prometheus.urls")),
]

handler404 = "commerce.core.api.errors.not_found_view"
handler500 = "commerce.core.api.errors.server_error_view"
