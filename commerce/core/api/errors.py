"""Django-level error views: JSON in the API's error shape under ``/api/``, Django's usual HTML pages elsewhere
(admin, static).

* ``handler404``/``handler500`` (:func:`not_found_view`, :func:`server_error_view`) are what Django calls for an
  unresolved path or an unhandled exception **when DEBUG is off**.
* :func:`api_not_found` is routed as the last pattern under ``/api/`` (see ``config/urls.py``), so an unknown
  API path answers the JSON 404 **also when DEBUG is on**, where Django would otherwise render its technical
  404 page.

Trailing slashes: API endpoints (``/api/v1/...``) have none, the documentation pages (``/api/schema/``,
``/api/docs/``, ``/api/redoc/``) have one. A path that differs from a real one only by its trailing slash is a
404 like any unknown path (never a redirect: a CORS preflight cannot follow one, and a redirected POST can lose
its body), and the ``detail`` names the right path so the mistake is obvious.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

# The URL name of the catch-all route, so the trailing-slash hint never points at the catch-all itself.
API_NOT_FOUND_URL_NAME = "api-not-found"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _not_found_json(detail: str = "Not found.") -> JsonResponse:
    return JsonResponse({"code": "not_found", "detail": detail}, status=404)


def canonical_api_path(path_info: str, urlconf: str | None = None) -> str | None:
    """``path_info`` with its trailing slash added or removed, if that is a real route (else None)."""
    if path_info in ("", "/"):
        return None
    other = path_info[:-1] if path_info.endswith("/") else path_info + "/"
    try:
        match = resolve(other, urlconf=urlconf)
    except Resolver404:
        return None
    return None if match.url_name == API_NOT_FOUND_URL_NAME else other


@csrf_exempt  # an unknown path is a 404 for every method; a CSRF 403 page would hide that
def api_not_found(request: HttpRequest) -> HttpResponse:
    """The JSON 404 for any path under ``/api/`` that no route matches, whatever DEBUG says."""
    canonical = canonical_api_path(request.path_info, getattr(request, "urlconf", None))
    if canonical is not None:
        return _not_found_json(f"Not found. Did you mean {request.META.get('SCRIPT_NAME', '')}{canonical}?")
    return _not_found_json()


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _not_found_json()
    return defaults.page_not_found(request, exception)


def server_error_view(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"code": "server_error", "detail": "An unexpected error occurred. It has been logged."}, status=500
        )
    return defaults.server_error(request)
