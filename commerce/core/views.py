"""Pages for people rather than API clients: the home page and the API documentation (Swagger UI, Redoc).

Everything they load comes from our own static files (drf-spectacular-sidecar for the documentation UIs), so
they work without internet access and under the Content-Security-Policy of ``config/settings/base.py``: their
only inline ``<script>``/``<style>`` elements carry the request's CSP nonce (``request.csp_nonce``).
"""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """``/``: what this server is, and links to the admin, the API documentation and the health check."""
    links = {
        "admin": reverse("admin:index"),
        "docs": reverse("api-docs"),
        "redoc": reverse("api-redoc"),
        "schema": reverse("api-schema"),
        "health": reverse("v1:health"),
    }
    return render(request, "core/home.html", {"links": links})


class SwaggerDocsView(SpectacularSwaggerView):
    """Swagger UI at ``/api/docs/``; the template adds the CSP nonce to its inline init script and style."""

    template_name = "core/swagger_ui.html"


# Redoc's bundle inserts a <style> element (its scrollbar CSS) while it loads, before it can be given the
# nonce, so on this page styles may be inline ('unsafe-inline' only counts when the directive has no nonce);
# scripts stay nonce-only. Its search index runs in a Web Worker started from a ``blob:`` URL. Its footer
# logo points at cdn.redoc.ly: the policy blocks it and Redoc hides the image.
@method_decorator(csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]}), name="get")
class RedocDocsView(SpectacularRedocView):
    """Redoc at ``/api/redoc/``; the template drops drf-spectacular's Google Fonts links (offline, system fonts)
    and puts the nonce on its init script."""

    template_name = "core/redoc.html"
