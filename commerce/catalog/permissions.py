"""Merchant scoping: which merchants' rows a staff user may see and change, for the admin and any other app.

A user is *merchant-scoped* when they are in the ``merchant_staff`` role and in neither ``catalog_manager`` nor
``admin``, and are not a superuser. A scoped user sees only the rows of the merchants they have a
:class:`~commerce.catalog.models.MerchantMembership` for; everyone else with the model permission sees all rows.

Higher apps reuse this for their own merchant-owned models::

    from commerce.catalog.permissions import MerchantScopedAdminMixin, register_merchant_scoped_model

    register_merchant_scoped_model(Offer, "merchant")   # so FK/M2M pickers pointing at Offer are scoped too

    @admin.register(Offer)
    class OfferAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
        merchant_scope_lookup = "merchant"
"""

from typing import TYPE_CHECKING, Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import Http404

from accounts.roles import ADMIN, CATALOG_MANAGER, MERCHANT_STAFF

from .models import Merchant, MerchantMembership, Product, ProductImage, ProductVariant

if TYPE_CHECKING:  # the mixin is only ever combined with ModelAdmin
    from django.contrib.admin import ModelAdmin

    _AdminBase = ModelAdmin[Any]
else:
    _AdminBase = object

_SCOPE_CACHE_ATTR = "_catalog_merchant_scope"

# How to reach the owning merchant from each merchant-owned model ("pk" for Merchant itself).
SCOPED_MODEL_LOOKUPS: dict[type[models.Model], str] = {
    Merchant: "pk",
    Product: "merchant",
    ProductVariant: "product__merchant",
    ProductImage: "product__merchant",
}


def register_merchant_scoped_model(model: type[models.Model], lookup: str) -> None:
    """Declare how ``model`` reaches its merchant, so admin pickers that point at it are scoped too."""
    SCOPED_MODEL_LOOKUPS[model] = lookup


def _scope(user: Any) -> frozenset[int] | None:
    """``None`` when the user is not scoped; else the ids of the merchants they belong to (maybe none).

    Memoised on the user object, which Django keeps for the whole request.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return None
    if hasattr(user, _SCOPE_CACHE_ATTR):
        return getattr(user, _SCOPE_CACHE_ATTR)
    roles = set(user.groups.values_list("name", flat=True))
    scope: frozenset[int] | None
    if MERCHANT_STAFF in roles and not roles & {CATALOG_MANAGER, ADMIN}:
        scope = frozenset(MerchantMembership.objects.filter(user=user).values_list("merchant_id", flat=True))
    else:
        scope = None
    setattr(user, _SCOPE_CACHE_ATTR, scope)
    return scope


def user_is_merchant_scoped(user: Any) -> bool:
    """True when ``user`` may only see the rows of their own merchants."""
    return _scope(user) is not None


def merchant_ids_for_user(user: Any) -> frozenset[int] | None:
    """The merchant ids a scoped user is limited to, or ``None`` when the user is not merchant-scoped.

    Anonymous and inactive users are scoped to no merchant at all (an empty set).
    """
    return _scope(user)


def scope_queryset(queryset: QuerySet, *, user: Any, lookup: str | None = None) -> QuerySet:
    """``queryset`` limited to the user's merchants when the user is merchant-scoped, unchanged otherwise.

    ``lookup`` is the path from the queryset's model to its merchant (``"merchant"``, ``"product__merchant"``,
    ``"pk"`` for merchants); by default it comes from :data:`SCOPED_MODEL_LOOKUPS`.
    """
    ids = _scope(user)
    if ids is None:
        return queryset
    lookup = lookup or SCOPED_MODEL_LOOKUPS[queryset.model]
    return queryset.filter(**{f"{lookup}__in": ids})


def merchant_id_of(obj: models.Model, lookup: str) -> int | None:
    """Follow ``lookup`` (``"product__merchant"``) from ``obj`` to the owning merchant's id."""
    if lookup == "pk":
        return obj.pk
    *path, last = lookup.split("__")
    target: Any = obj
    for part in path:
        target = getattr(target, part, None)
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


class MerchantScopedAdminMixin(_AdminBase):
    """ModelAdmin mixin: merchant-scoped users see, pick and save only their own merchants' rows.

    * ``get_queryset`` is filtered, so changelists, autocompletes and actions see only the user's rows;
    * the change, delete and history pages of any other row are a 404 (their existence is not revealed);
    * foreign-key and many-to-many pickers that point at merchant-owned models offer only the user's rows;
    * ``save_model`` refuses (403) an object that would belong to another merchant.

    Set ``merchant_scope_lookup`` to the path from the admin's model to its merchant.
    """

    merchant_scope_lookup = "merchant"

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), user=request.user, lookup=self.merchant_scope_lookup)

    def _scoped_related_queryset(self, model: type[models.Model], request) -> QuerySet | None:
        if model not in SCOPED_MODEL_LOOKUPS or not user_is_merchant_scoped(request.user):
            return None
        return scope_queryset(model._default_manager.all(), user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        queryset = self._scoped_related_queryset(db_field.remote_field.model, request)
        if queryset is not None:
            kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        queryset = self._scoped_related_queryset(db_field.remote_field.model, request)
        if queryset is not None:
            kwargs["queryset"] = queryset
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def object_in_scope(self, request, obj) -> bool:
        ids = merchant_ids_for_user(request.user)
        return ids is None or merchant_id_of(obj, self.merchant_scope_lookup) in ids

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        return allowed and (obj is None or self.object_in_scope(request, obj))

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self.object_in_scope(request, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or self.object_in_scope(request, obj))

    def _require_visible(self, request, object_id: str | None) -> None:
        if object_id is None or not user_is_merchant_scoped(request.user):
            return
        try:
            visible = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValueError, TypeError):
            visible = False
        if not visible:
            raise Http404("No such object.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._require_visible(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def save_model(self, request, obj, form, change):
        if not self.object_in_scope(request, obj):
            raise PermissionDenied("You cannot save rows of a merchant you do not belong to.")
        super().save_model(request, obj, form, change)
