"""Admin pieces for rows only services write (ledgers, events, assessments, reports): shown in the back office,
never added, changed or deleted through a form. Actions that call services still run on them."""

from typing import Any

from django.http import HttpRequest
from unfold.admin import TabularInline


class ReadOnlyAdminMixin:
    """Rows the services wrote: shown, never added, changed or deleted through a form. Listed before
    ``ModelAdmin`` so it wins."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, TabularInline):  # type: ignore[misc]  # unfold ships no types
    """An inline of service-written rows on their parent's page: no empty forms, no delete boxes, no links."""

    extra = 0
    can_delete = False
    show_change_link = False
