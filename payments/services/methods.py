"""The shopper's saved payment methods (``me/payment-methods``) and customer records at the providers.

A saved method lives at the provider (a Stripe PaymentMethod attached to the shopper's Stripe customer, a
Razorpay saved-card token of the shopper's Razorpay customer); :class:`~payments.models.SavedPaymentMethod` keeps
only its id and what a shopper needs to recognise it (brand, last four, expiry, UPI handle), never card data.
Decisions:

* **Customers** (:func:`provider_customer_for`): one :class:`~payments.models.ProviderCustomer` per shopper and
  provider, made through ``gateway.customer_create`` the first time a shopper saves a method (``payment_start``
  with ``save_method``). The provider is called outside any transaction; two first payments racing both create a
  customer at the provider, the unique constraint keeps one row and the loser answers the winner's id (the other
  customer stays empty at the provider, harmless).
* **Reading** (:func:`payment_methods_list`) serves the stored rows and refreshes them from the providers at most
  once per :data:`REFRESH_SECONDS` per shopper and provider (the time of the last refresh is kept in the cache and a
  refresh claimed with ``cache.add``, so parallel reads refresh once), not on every ``GET``: listing is on the
  checkout page and must not cost a provider round trip each time. A payment of the shopper at that provider
  authorised or captured since the last refresh (the moment a method is saved) makes the next read refresh at once,
  so a card saved while paying shows up. A refresh adds the methods the provider has (saved during a payment),
  updates what changed (a new expiry) and removes what the provider no longer has (expired or removed elsewhere). A
  provider that is down, refuses or is slow only logs: the stored rows are served, so a read never fails because of
  a provider. :func:`payment_methods_refresh` forces a refresh (after a payment that saved a method).
* **Which providers**: only the enabled ones (``enabled_providers()``). Rows of a provider whose keys were removed
  are kept (they come back with the keys) but neither listed nor deletable (404), as they cannot be used.
* **Deleting** (:func:`payment_method_delete`): another user's or an unknown method is 404. The method is
  detached at the provider first, outside any lock (a provider down is 503 and the row stays, so the shopper
  can retry; a refusal is 400 ``provider_refused`` unless the provider no longer lists it, which counts as
  detached), then the row is re-locked and deleted. A saved method is not a ledger: the row is deleted, not
  marked. Like the address book, these changes leave no audit row: they are the shopper's own data and move
  no money.
* **Locks**: a refresh locks the shopper's user row (the per-user lock, held even before a first row) then the
  shopper's rows of that provider in primary-key order, re-reads them and writes; a row another shopper holds
  for the same provider id (impossible with one customer per shopper, but not trusted) is left alone.
"""

import logging
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from commerce.core.errors import DomainError, NotFoundError

from ..gateways.base import Gateway, MethodInfo, ProviderRefused
from ..gateways.registry import enabled_providers, gateway_for
from ..models import Payment, PaymentMethodType, PaymentStatus, ProviderCustomer, SavedPaymentMethod

logger = logging.getLogger(__name__)

#: How long stored methods are served before a read refreshes them from the provider (seconds).
REFRESH_SECONDS = int(getattr(settings, "PAYMENT_METHODS_REFRESH_SECONDS", 300))
#: How long the cache keeps the time of a shopper's last refresh (past it, the next read refreshes).
MARKER_SECONDS = 24 * 3600
_FIELDS = ("method", "brand", "last4", "exp_month", "exp_year", "vpa_handle")
_METHOD_TYPES = frozenset(PaymentMethodType.values)


def _refresh_key(user_id: int, provider: str) -> str:
    return f"payments:methods:refreshed:{provider}:{user_id}"


def _refresh_due(user: User, provider: str) -> bool:
    """Whether a read should refresh ``user``'s methods at ``provider`` now, claiming the refresh if so: the last
    refresh is older than :data:`REFRESH_SECONDS` (or unknown), or a payment at that provider was authorised or
    captured since. The cache holds the time of the last refresh (compared with the clock, not left to the cache's
    expiry); ``cache.add`` claims a refresh, so of parallel reads one refreshes."""
    key, now = _refresh_key(user.pk, provider), timezone.now()
    refreshed_at = cache.get(key)
    if not isinstance(refreshed_at, float):
        return bool(cache.add(key, now.timestamp(), MARKER_SECONDS))
    due = now.timestamp() - refreshed_at >= REFRESH_SECONDS or (
        Payment.objects.filter(
            user=user,
            provider=provider,
            status__in=(PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED),
            updated_at__gt=datetime.fromtimestamp(refreshed_at, tz=UTC),
        ).exists()
    )
    if not due or not cache.add(f"{key}:{refreshed_at}", 1, MARKER_SECONDS):
        return False
    cache.set(key, now.timestamp(), MARKER_SECONDS)
    return True


def _not_found() -> NotFoundError:
    return NotFoundError("No such payment method.")


def provider_customer_for(*, user: User, provider: str) -> str:
    """The id of ``user``'s customer at ``provider``, created there the first time (400 ``provider_unavailable``
    for an unknown or unconfigured provider, 503 when it is down). Safe under races: one row survives."""
    existing = ProviderCustomer.objects.filter(user=user, provider=provider).values_list("customer_id", flat=True)
    found = existing.first()
    if found is not None:
        return found
    gateway = gateway_for(provider)
    customer_id = gateway.customer_create(email=user.email or "", phone=user.phone or "", name=user.full_name)
    try:
        with transaction.atomic():
            ProviderCustomer.objects.create(user=user, provider=provider, customer_id=customer_id)
    except IntegrityError:
        # Another request made the shopper's customer first: its row wins.
        winner = ProviderCustomer.objects.filter(user=user, provider=provider).values_list("customer_id", flat=True)
        won = winner.first()
        if won is None:
            raise
        logger.info("Payments: %s customer %s left unused (a parallel request made %s)", provider, customer_id, won)
        return won
    return customer_id


def _customers(user: User) -> dict[str, str]:
    """``{provider: customer id}`` of ``user`` for the enabled providers."""
    providers = enabled_providers()
    rows = ProviderCustomer.objects.filter(user=user, provider__in=providers).values_list("provider", "customer_id")
    return dict(rows)


def _method_values(info: MethodInfo) -> dict[str, Any]:
    """What a row keeps of ``info``, fitted to the columns (the provider's strings are not trusted blindly)."""
    method = info.method if info.method in _METHOD_TYPES else PaymentMethodType.OTHER
    last4 = info.last4 if len(info.last4) == 4 and info.last4.isdigit() else ""
    month = info.exp_month if info.exp_month is not None and 1 <= info.exp_month <= 12 else None
    year = info.exp_year if info.exp_year is not None and 2000 <= info.exp_year <= 9999 else None
    return {
        "method": method,
        "brand": info.brand[:30],
        "last4": last4,
        "exp_month": month,
        "exp_year": year,
        "vpa_handle": info.vpa_handle[:64],
    }


def _store(*, user: User, provider: str, methods: list[MethodInfo]) -> None:
    """Make ``user``'s stored rows of ``provider`` equal ``methods`` (see the module docstring for the locks)."""
    wanted = {info.provider_method_id: _method_values(info) for info in methods if info.provider_method_id}
    with transaction.atomic():
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        rows = list(SavedPaymentMethod.objects.select_for_update().filter(user=user, provider=provider).order_by("pk"))
        held = {row.provider_method_id: row for row in rows}
        gone = [row.pk for row in rows if row.provider_method_id not in wanted]
        if gone:
            SavedPaymentMethod.objects.filter(pk__in=gone).delete()
        for row in rows:
            values = wanted.get(row.provider_method_id)
            if values is not None and any(getattr(row, name) != values[name] for name in _FIELDS):
                for name in _FIELDS:
                    setattr(row, name, values[name])
                row.save(update_fields=[*_FIELDS, "updated_at"])
        new = [key for key in wanted if key not in held]
        taken = set(
            SavedPaymentMethod.objects.filter(provider=provider, provider_method_id__in=new).values_list(
                "provider_method_id", flat=True
            )
        )
        SavedPaymentMethod.objects.bulk_create(
            SavedPaymentMethod(user=user, provider=provider, provider_method_id=key, **wanted[key])
            for key in new
            if key not in taken
        )
        if taken:
            logger.warning("Payments: %s methods %s belong to another shopper; not stored", provider, sorted(taken))


def _refresh(*, user: User, provider: str, customer_id: str, gateway: Gateway | None = None) -> bool:
    """Refresh ``user``'s rows of ``provider``; False (and a log line) when the provider failed."""
    try:
        methods = (gateway or gateway_for(provider)).methods_list(customer_id=customer_id)
    except DomainError as exc:
        logger.warning("Payments: %s methods of customer %s not refreshed: %s", provider, customer_id, exc.detail)
        return False
    _store(user=user, provider=provider, methods=methods)
    return True


def payment_methods_refresh(*, user: User, provider: str) -> bool:
    """Refresh ``user``'s methods at ``provider`` now (after a payment that saved one). False when the shopper
    has no customer there or the provider failed; the stored rows are then unchanged."""
    customer_id = _customers(user).get(provider)
    if customer_id is None:
        return False
    refreshed = _refresh(user=user, provider=provider, customer_id=customer_id)
    if refreshed:
        cache.set(_refresh_key(user.pk, provider), timezone.now().timestamp(), MARKER_SECONDS)
    return refreshed


def payment_methods_list(*, user: User) -> QuerySet[SavedPaymentMethod]:
    """``user``'s saved methods at the enabled providers, newest first, refreshed from a provider when the last
    refresh is older than :data:`REFRESH_SECONDS` (a provider failure serves the stored rows)."""
    customers = _customers(user)
    for provider, customer_id in sorted(customers.items()):
        if _refresh_due(user, provider):
            _refresh(user=user, provider=provider, customer_id=customer_id)
    return SavedPaymentMethod.objects.filter(user=user, provider__in=enabled_providers()).order_by("-created_at", "-id")


def payment_method_delete(*, user: User, method_id: int) -> None:
    """Detach one of ``user``'s saved methods at its provider, then delete the row. 404 for another user's or an
    unknown method (or one of a disabled provider); 503 when the provider is down (the row stays); 400
    ``provider_refused`` when the provider refuses and still lists the method."""
    row = SavedPaymentMethod.objects.filter(pk=method_id, user=user, provider__in=enabled_providers()).first()
    if row is None:
        raise _not_found()
    customer_id = _customers(user).get(row.provider, "")
    gateway = gateway_for(row.provider)
    if customer_id:
        try:
            gateway.method_detach(customer_id=customer_id, provider_method_id=row.provider_method_id)
        except ProviderRefused:
            listed = {info.provider_method_id for info in gateway.methods_list(customer_id=customer_id)}
            if row.provider_method_id in listed:
                raise
            logger.info("Payments: %s method %s was already gone at the provider", row.provider, row.pk)
    with transaction.atomic():
        locked = SavedPaymentMethod.objects.select_for_update().filter(pk=row.pk, user=user).first()
        if locked is None:  # deleted meanwhile by a parallel request: the shopper's wish is done
            return
        locked.delete()
    logger.info("Payments: %s method %s of user %s detached and deleted", row.provider, row.pk, user.pk)
