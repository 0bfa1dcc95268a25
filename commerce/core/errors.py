"""Typed domain errors that services raise and the API turns into the documented error shape.

A service raises, for example, ``Conflict(code="insufficient_stock", detail="Only 2 left of SKU TSHIRT-M.")``;
the API answers 409 with ``{"code": "insufficient_stock", "detail": "Only 2 left of SKU TSHIRT-M."}``.
"""

from typing import Any


class DomainError(Exception):
    """Base for errors a caller can act on. ``status`` is the HTTP status the API maps it to."""

    status: int = 400
    default_code: str = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.fields = fields
        # Documented extra members of the body beside code/detail/fields (e.g. the new cart of ``cart_changed``).
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.fields:
            body["fields"] = self.fields
        if self.extra:
            body.update({key: value for key, value in self.extra.items() if key not in body})
        return body


class InvalidInput(DomainError):
    status = 400
    default_code = "invalid"


class PermissionDeniedError(DomainError):
    status = 403
    default_code = "permission_denied"


class NotFoundError(DomainError):
    status = 404
    default_code = "not_found"


class Conflict(DomainError):
    """The request is valid but the current state forbids it: out of stock, wrong status, used up."""

    status = 409
    default_code = "conflict"


class DependencyUnavailable(DomainError):
    status = 503
    default_code = "service_unavailable"
