"""Page-number pagination whose bad input is a 400 with ``fields`` (not DRF's 404 for a page out of range).

``page`` (1 to 999,999,999) and ``page_size`` (1 to 100) are ASCII digits only (see :mod:`.query`), and the
schema documents exactly those limits.
"""

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from .query import ASCII_DIGITS, QUERY_INT_MAX

MAX_PAGE = QUERY_INT_MAX


class StandardPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not ASCII_DIGITS.fullmatch(raw):
            raise ValidationError({self.page_size_query_param: ["Must be a whole number."]})
        if len(raw) > 9 or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"Must be between 1 and {self.max_page_size}."]})
        return int(raw)

    def paginate_queryset(self, queryset: Any, request: Request, view: APIView | None = None) -> list[Any] | None:
        raw = request.query_params.get(self.page_query_param, "1")
        if not ASCII_DIGITS.fullmatch(raw) or not raw.lstrip("0"):
            raise ValidationError({self.page_query_param: ["Must be a positive whole number."]})
        # No list has a billion pages, and int() of thousands of digits is slow (and refused past 4,300).
        if len(raw.lstrip("0")) > 9:
            raise ValidationError({self.page_query_param: ["This page is out of range."]})
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:  # DRF's answer to an InvalidPage
            raise ValidationError({self.page_query_param: ["This page is out of range."]}) from exc

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        """The documented limits are the enforced ones, so a contract test can hold the server to them."""
        parameters = super().get_schema_operation_parameters(view)
        limits = {
            self.page_query_param: ("Page number, from 1.", {"minimum": 1, "maximum": MAX_PAGE}),
            self.page_size_query_param: (
                f"Results per page, 1 to {self.max_page_size} (default {self.page_size}).",
                {"minimum": 1, "maximum": self.max_page_size},
            ),
        }
        for parameter in parameters:
            if parameter["name"] in limits:
                description, bounds = limits[parameter["name"]]
                parameter["description"] = description
                parameter["schema"] = {"type": "integer", **bounds}
        return parameters
