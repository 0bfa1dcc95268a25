"""The back office sidebar: models grouped by job (Catalog, Offers, Customers, System...), not by Python app.

``settings.ADMIN_NAVIGATION`` declares the groups, each a title and its items as ``(label, icon, model)``
triples, e.g. ``("Products", "inventory_2", "catalog.Product")`` (icons are Material Symbols names, shipped
with the theme). ``UNFOLD["SIDEBAR"]["navigation"]`` names :func:`sidebar_navigation`, which unfold calls
with the request on every admin page.

Who sees what is derived from the model, never written twice: an item is shown only when the model is
registered in the admin and its ModelAdmin lets the user view (or change) it, exactly the check the
changelist itself makes, so roles, merchant scoping and superusers behave as on the pages themselves. A group
with no item left is left out, so a group may be declared before it has items (``("Sales", [])``) and
adding an item is a one-line change. The dashboard link comes first for everyone who may use the admin.

The header and tab title come from :func:`admin_site_name` (``settings.ADMIN_SITE_NAME``).

This module knows no app's models: the items name them as strings, and the admin registry answers.
"""

from collections.abc import Sequence
from functools import partial
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse, reverse_lazy

NavItemSpec = tuple[str, str, str]
NavGroupSpec = tuple[str, Sequence[NavItemSpec]]


def can_open(request: HttpRequest, *, model: str) -> bool:
    """May the request's user open the admin list of ``model`` (``"app_label.ModelName"``)?"""
    try:
        model_class = apps.get_model(model)
    except LookupError:  # an app that is not installed here
        return False
    if not admin.site.is_registered(model_class):
        return False
    return bool(admin.site.get_model_admin(model_class).has_view_or_change_permission(request))


def nav_item(label: str, icon: str, model: str) -> dict[str, Any]:
    """One sidebar entry in unfold's format, linking to ``model``'s list and checking its permission."""
    app_label, model_name = model.lower().split(".")
    return {
        "title": label,
        "icon": icon,
        "link": reverse_lazy(f"admin:{app_label}_{model_name}_changelist"),
        "permission": partial(can_open, model=model),
    }


def nav_groups(request: HttpRequest, spec: Sequence[NavGroupSpec]) -> list[dict[str, Any]]:
    """The groups of ``spec`` with only the items ``request.user`` may open; empty groups left out."""
    groups = []
    for title, item_specs in spec:
        items = [nav_item(*item_spec) for item_spec in item_specs]
        visible = [item for item in items if item["permission"](request)]
        if visible:
            groups.append({"title": title, "separator": True, "collapsible": False, "items": visible})
    return groups


def sidebar_navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """unfold's ``SIDEBAR.navigation`` for this request: the dashboard, then ``settings.ADMIN_NAVIGATION``."""
    dashboard = {
        "title": "",
        "items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}],
    }
    return [dashboard, *nav_groups(request, settings.ADMIN_NAVIGATION)]


def admin_site_name(request: HttpRequest) -> str:
    """unfold's ``SITE_HEADER``/``SITE_TITLE``: ``settings.ADMIN_SITE_NAME``, read per request."""
    return str(settings.ADMIN_SITE_NAME)
