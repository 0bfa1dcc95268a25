"""One error shape for the whole API.

Every error body is ``{"code": str, "detail": str}`` plus ``"fields": {name: [messages]}`` for validation
errors. This handler covers DRF's exceptions, Django's ``Http404``/``PermissionDenied``/``RequestDataTooBig``/
``ValidationError`` (a model's ``full_clean`` inside a service: 400 with ``fields``, never a 500),
the project's :class:`~commerce.core.errors.DomainError`, Redis (cache or Celery broker) being unreachable (503
``service_unavailable`` with ``Retry-After``: a last guard for code that needs Redis and let the error through,
see :mod:`commerce.core.redis_guard`) and, last, anything unexpected (500, ``code: "server_error"``, logged
with the request id and reported to Sentry; nothing internal in the body).
"""

import logging
from typing import Any

import sentry_sdk
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from kombu.exceptions import OperationalError as BrokerUnavailable
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from commerce.core.errors import DomainError
from commerce.core.redis_guard import RateLimitedLog, RedisUnavailable, is_redis_unavailable

logger = logging.getLogger("commerce.api")
_dependency_log = RateLimitedLog(logger)


def _flatten_messages(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{key}: {msg}" for key, sub in value.items() for msg in _flatten_messages(sub)]
    if isinstance(value, list | tuple):
        return [msg for item in value for msg in _flatten_messages(item)]
    return [str(value)]


def _leaf_messages(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [msg for sub in value.values() for msg in _leaf_messages(sub)]
    if isinstance(value, list | tuple):
        return [msg for item in value for msg in _leaf_messages(item)]
    return [str(value)]


def _field_errors(detail: Any) -> dict[str, Any]:
    """Validation detail as ``{field: [messages]}``; list-level errors go under ``non_field_errors``."""
    if isinstance(detail, dict):
        out: dict[str, Any] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                out[str(key)] = _field_errors(value)
            else:
                out[str(key)] = _flatten_messages(value)
        return out
    return {"non_field_errors": _flatten_messages(detail)}


def _first_code(codes: Any, default: str) -> str:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value, default)
    if isinstance(codes, list | tuple) and codes:
        return _first_code(codes[0], default)
    return default


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields is not None:
        body["fields"] = fields
    return body


def _validation_response(exc: exceptions.ValidationError) -> Response:
    fields = _field_errors(exc.detail)
    messages = _leaf_messages(exc.detail)
    detail = messages[0] if len(messages) == 1 else "Invalid input."
    return Response(error_body("invalid", detail, fields), status=status.HTTP_400_BAD_REQUEST)


def _from_django_validation(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A model or service ``ValidationError`` as DRF's: per-field messages, ``__all__`` as ``non_field_errors``."""
    if hasattr(exc, "error_dict"):
        detail = {
            ("non_field_errors" if name == NON_FIELD_ERRORS else name): messages
            for name, messages in exc.message_dict.items()
        }
        return exceptions.ValidationError(detail)
    return exceptions.ValidationError({"non_field_errors": exc.messages})


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DjangoValidationError):
        exc = _from_django_validation(exc)
    if is_redis_unavailable(exc) or isinstance(exc, BrokerUnavailable):
        _dependency_log.warning("redis", "Redis unavailable in %s: %s", type(context.get("view")).__name__, exc)
        exc = RedisUnavailable()
    if isinstance(exc, DomainError):
        set_rollback()
        retry_after = getattr(exc, "retry_after", None)
        return Response(
            exc.as_dict(), status=exc.status, headers={"Retry-After": str(retry_after)} if retry_after else None
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(error_body("request_too_large", "Request body is too large."), status=413)

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return _validation_response(exc)

    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = str(auth_header)
        wait = getattr(exc, "wait", None)
        if wait:
            headers["Retry-After"] = str(int(wait))
        code = _first_code(exc.get_codes(), exc.default_code)
        detail: Any = exc.detail
        if isinstance(detail, dict):
            # simplejwt's token errors carry {"detail", "code", "messages"}.
            code = str(detail.get("code", code))
            detail = detail.get("detail", exc.default_detail)
        elif isinstance(detail, list):
            detail = " ".join(_flatten_messages(detail))
        set_rollback()
        return Response(error_body(code, str(detail)), status=exc.status_code, headers=headers)

    # Anything else is a bug: log it with the request id, report it, and answer without internals.
    set_rollback()
    logger.error("Unhandled API exception", exc_info=exc)
    sentry_sdk.capture_exception(exc)
    return Response(
        error_body("server_error", "An unexpected error occurred. It has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
