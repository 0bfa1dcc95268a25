"""The response django-axes gives a locked-out client (``AXES_LOCKOUT_CALLABLE``).

Lockout policy (settings ``AXES_*``): after ``AXES_FAILURE_LIMIT`` (5) failed password sign-ins for one
account *or* from one IP, further attempts are refused for ``AXES_COOLOFF_HOURS`` (15 minutes), even with the
right password; a successful sign-in resets the count. The answer is 429 with ``Retry-After``: in the API's
error shape (``code: "locked_out"``) under ``/api/``, an HTML page for the admin.

API sign-in (``POST auth/token``) builds the same answer itself (see :mod:`accounts.services.tokens`), because
axes marks the DRF request rather than the Django request this middleware hook looks at.
"""

from typing import Any

from axes.helpers import get_cool_off
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from .admin_csp import with_admin_policy

LOCKED_OUT_DETAIL = "Too many failed sign-in attempts. Try again later."


def retry_after_seconds(request: HttpRequest | None = None) -> int | None:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else None


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    wait = retry_after_seconds(request)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"code": "locked_out", "detail": LOCKED_OUT_DETAIL}, status=429)
    else:
        minutes = (wait or 0) // 60
        # The admin site's context draws the page in the back office's theme (name, colours).
        context = {**admin.site.each_context(request), "title": "Sign-in locked"}
        response = TemplateResponse(
            request,
            "admin/accounts/locked_out.html",
            {**context, "minutes": minutes, "detail": LOCKED_OUT_DETAIL},
            status=429,
        )
        response.render()
        with_admin_policy(response)  # the page is drawn by the admin's theme
    if wait:
        response["Retry-After"] = str(wait)
    return response
