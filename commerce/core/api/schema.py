"""The OpenAPI schema tells the truth about errors and limits, so a contract tester can hold the server to it.

:class:`ErrorDocumentingAutoSchema` (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``) is drf-spectacular's
``AutoSchema`` plus, for every operation:

* the error responses it can really give, each with the shared ``Error`` component
  (``{"code", "detail", "fields"?}``), worked out from the view:

  ====  =======================================================================================================
  400   it takes a request body or query parameters
  401   it has authentication classes: no credentials where required, or a bad/expired Bearer token (DRF
        checks a token whenever one is sent, so this holds for public views that accept JWTs, too)
  403   its permissions are more than ``AllowAny``/``IsAuthenticated`` (roles, object permissions), or it
        requires authentication but has no authentication classes
  404   it has path parameters (an unknown id, or another user's object)
  413   it takes a request body (over ``API_MAX_BODY_BYTES``)
  415   it takes a request body (not ``application/json``, or not UTF-8)
  429   it has throttle classes (with ``Retry-After``)
  503   one of its throttles fails closed (refuses requests while its cache, Redis, is unreachable)
  ====  =======================================================================================================

  404 is not added to operations without path parameters: a path that matches no route is not an operation.
  405 is not listed: the methods an operation has are the ones the schema lists.
  A view declares what cannot be inferred (409 conflicts, 503 dependencies, 401 from token endpoints) with
  ``error_responses = {409: "insufficient_stock: ..."}`` (every method), ``error_responses = {"post": {409:
  "..."}}`` (one method) or ``extend_schema(responses={409: OpenApiResponse(description=...)})``; a declared
  error response without a body gets the ``Error`` body.
* its parameter limits: pagination parameters carry the paginator's bounds (``page`` >= 1, ``page_size`` 1 to
  100, ASCII digits) wherever the view pages, path parameters carry their URL converter's pattern, and optional
  query parameters are ``allowEmptyValue``: DRF reads ``?merchant=`` as no ``merchant`` at all, so an empty
  value is accepted, not refused (``page`` and ``page_size`` excepted: an empty page is a 400).
"""

import re
from typing import Any

from django.urls.converters import get_converters
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry, ResolvedComponent
from rest_framework.permissions import AllowAny, IsAuthenticated

from .pagination import StandardPagination

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error the API returns has this shape.",
    "properties": {
        "code": {"type": "string", "description": "Machine-readable: invalid, not_found, insufficient_stock, ..."},
        "detail": {"type": "string", "description": "A sentence for people."},
        "fields": {
            "type": "object",
            "additionalProperties": {},
            "description": "Validation errors only: messages per invalid field (nested for nested objects).",
        },
    },
    "required": ["code", "detail"],
}

DESCRIPTIONS = {
    400: "Invalid input: `fields` has the messages per parameter or field (`invalid`); a body that is not JSON, "
    "nested too deep or holding unencodable text is `parse_error` or `too_deep`.",
    401: "Not authenticated (`not_authenticated`), or the Bearer token is invalid or expired (`token_not_valid`).",
    403: "Authenticated but not allowed (`permission_denied`).",
    404: "Not found (`not_found`), also for another user's objects.",
    409: "The request conflicts with the current state.",
    413: "The body is larger than the server accepts (`request_too_large`).",
    415: "The body is not UTF-8 JSON (`unsupported_media_type`).",
    429: "Throttled (`throttled`); `Retry-After` says when to retry.",
    503: "A dependency (Redis, a provider) is unavailable (`service_unavailable`); retry later.",
}
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# A route's typed parameter, ``<slug:slug>``; spectacular passes the route, not a regex, for ``path()`` URLs.
_ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def declared_error_responses(view: Any, method: str) -> dict[int, str]:
    """A view's ``error_responses``: ``{409: "..."}`` for every method, ``{"post": {409: "..."}}`` for one."""
    declared = getattr(view, "error_responses", None) or {}
    out: dict[int, str] = {}
    for key, value in declared.items():
        if isinstance(key, int):
            out[key] = value
        elif key.lower() == method.lower():
            out.update({int(status): description for status, description in value.items()})
    return out


class ErrorDocumentingAutoSchema(AutoSchema):
    """See the module docstring."""

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: ComponentRegistry
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        self._document_parameter_limits(operation, path_regex)
        self._document_errors(operation)
        return operation

    # --- errors ---------------------------------------------------------------------------------------------

    def error_statuses(self, operation: dict[str, Any]) -> dict[int, str]:
        """The error statuses this operation can answer, with their descriptions."""
        view = self.view
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        authenticators = list(getattr(view, "authentication_classes", []))
        permissions = list(getattr(view, "permission_classes", []))
        needs_auth = any(p is not AllowAny for p in permissions)
        statuses: set[int] = set()
        if has_body or any(p["in"] == "query" for p in parameters):
            statuses.add(400)
        if authenticators:
            statuses.add(401)
        if any(p not in (AllowAny, IsAuthenticated) for p in permissions) or (needs_auth and not authenticators):
            statuses.add(403)
        if any(p["in"] == "path" for p in parameters):
            statuses.add(404)
        if has_body:
            statuses |= {413, 415}
        throttles = list(getattr(view, "throttle_classes", None) or [])
        if throttles:
            statuses.add(429)
        if any(getattr(throttle, "fail_closed", False) for throttle in throttles):
            statuses.add(503)  # a throttle that refuses requests while it cannot reach Redis
        out = {status: DESCRIPTIONS[status] for status in sorted(statuses)}
        out.update(declared_error_responses(view, self.method))
        return out

    def _error_component_ref(self) -> dict[str, str]:
        component = ResolvedComponent(  # type: ignore[no-untyped-call]
            name=ERROR_COMPONENT, type=ResolvedComponent.SCHEMA, object=ERROR_COMPONENT, schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _document_errors(self, operation: dict[str, Any]) -> None:
        responses = operation.setdefault("responses", {})
        content = {"application/json": {"schema": self._error_component_ref()}}
        for status, description in self.error_statuses(operation).items():
            responses.setdefault(str(status), {"description": description})
        for status, response in responses.items():
            if status[0] in "45" and "content" not in response:
                response["content"] = content
                if not response.get("description"):
                    response["description"] = DESCRIPTIONS.get(int(status), "")
        if "429" in responses:
            responses["429"].setdefault(
                "headers", {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
            )
        operation["responses"] = dict(sorted(responses.items()))

    # --- parameter limits -----------------------------------------------------------------------------------

    def _document_parameter_limits(self, operation: dict[str, Any], path_regex: str) -> None:
        parameters = operation.get("parameters", [])
        paging = self._paging_parameters()
        converters = {
            m["name"]: get_converters()[m["converter"] or "str"].regex
            for m in _ROUTE_PARAMETER.finditer(path_regex)
            if "(?P<" not in path_regex  # a re_path() regex documents itself
        }
        if "pk" in converters:  # spectacular names a pk path parameter "id" (SCHEMA_COERCE_PATH_PK)
            converters.setdefault("id", converters["pk"])
        for parameter in parameters:
            name, where = parameter["name"], parameter["in"]
            if where == "query" and name in paging:
                parameter["description"] = paging[name]["description"]
                parameter["schema"] = paging[name]["schema"]
            elif where == "query" and not parameter.get("required"):
                # DRF reads an empty optional query value as absent (``?merchant=`` filters nothing).
                parameter["allowEmptyValue"] = True
            elif where == "path" and name in converters:
                schema = parameter.setdefault("schema", {"type": "string"})
                if schema.get("type") == "integer":
                    schema.setdefault("minimum", 0)
                elif schema.get("type") == "string" and "pattern" not in schema:
                    schema["pattern"] = f"^{converters[name]}$"

    def _paging_parameters(self) -> dict[str, dict[str, Any]]:
        """The paginator's own documented parameters, by name, when the view pages with StandardPagination
        (also views that call the paginator themselves and list ``page``/``page_size`` by hand)."""
        pagination_class = getattr(self.view, "pagination_class", None)
        if not (isinstance(pagination_class, type) and issubclass(pagination_class, StandardPagination)):
            return {}
        paginator = pagination_class()
        return {p["name"]: p for p in paginator.get_schema_operation_parameters(self.view)}
