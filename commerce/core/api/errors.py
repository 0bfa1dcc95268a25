"""Django-level error views (``handler404``/``handler500``): JSON in the API's error shape under ``/api/``,
Django's usual HTML pages elsewhere (admin, static)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error_view(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"code": "server_error", "detail": "An unexpected error occurred. It has been logged."}, status=500
        )
    return defaults.server_error(request)
