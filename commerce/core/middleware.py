"""Request-level middleware: request ids, and the API's body-size limit."""

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .request_id import REQUEST_ID_HEADER, reset_request_id, sanitize_request_id, set_request_id


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` from the caller if sane, else generates one; exposes it as ``request.request_id``,
    in every log line of the request, and in the response header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sanitize_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]  # read by views and the error handler
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ApiBodyLimitMiddleware:
    """Refuses API request bodies over ``API_MAX_BODY_BYTES`` with 413 before anything reads them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse(
                    {"code": "invalid_content_length", "detail": "Content-Length is not a number."}, status=400
                )
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return JsonResponse(
                    {"code": "request_too_large", "detail": f"Request body exceeds {limit} bytes."}, status=413
                )
        return self.get_response(request)


class MetricsAccessMiddleware:
    """Serves ``/metrics`` only to clients in ``METRICS_ALLOWED_CIDRS`` (empty: everyone); others get a 404.

    The scraper connects to the app directly, so ``REMOTE_ADDR`` is its own address, not a proxy's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.networks = [ipaddress.ip_network(cidr, strict=False) for cidr in settings.METRICS_ALLOWED_CIDRS]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.networks and request.path == "/metrics":
            try:
                address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
            except ValueError:
                address = None
            if address is None or not any(address in network for network in self.networks):
                return HttpResponse(status=404)
        return self.get_response(request)
