"""Writes of offers themselves. Every caller (admin, API, tasks, shell, demo data) goes through these, so the
rules on an offer are the same everywhere:

- :func:`offer_save` validates the fields and constraints (``full_clean``: supported currency, code unique
  among active offers, dates, caps) and the targets (``validate_offer_targets``: products of the offer's own
  merchant, at least one product or category when the offer applies to them), then saves the offer and its
  targets in one transaction;
- ``is_active`` changes only through :func:`offer_set_active`, which locks the row and checks the code;
- ``times_used`` changes only through the coupon services (``coupon_redeem``, ``coupon_release``).
"""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from commerce.catalog.models import Category, Product
from commerce.core.errors import Conflict

from .. import cache
from ..models import CODE_TAKEN_MESSAGE, Offer, validate_offer_targets

CODE_INDEX = "offers_offer_code_ci_unique_active"
# Columns offer_save never writes on an existing offer: each has its own service.
_NOT_SAVED = {"id", "is_active", "times_used", "created_at"}


def _targets(offer: Offer, given: Iterable[Any] | None, field: str) -> list[Any]:
    if given is not None:
        return list(given)
    if offer.pk is None:
        return []
    return list(getattr(offer, field).all())


def offer_validate(
    *, offer: Offer, categories: Iterable[Category] | None = None, products: Iterable[Product] | None = None
) -> None:
    """Everything :func:`offer_save` checks, without saving; one ``ValidationError`` keyed by field.

    ``categories`` / ``products`` are the targets the offer will have; ``None`` keeps the ones it has.
    """
    errors: dict[str, Any] = {}
    try:
        offer.full_clean()
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    try:
        validate_offer_targets(
            merchant=offer.merchant if offer.merchant_id else None,
            applies_to=offer.applies_to,
            categories=_targets(offer, categories, "categories"),
            products=_targets(offer, products, "products"),
        )
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def offer_save(
    *, offer: Offer, categories: Iterable[Category] | None = None, products: Iterable[Product] | None = None
) -> Offer:
    """Validate and save an offer (new or changed) with its targets; cached public lists refresh on commit.

    ``categories`` / ``products`` replace the offer's targets; ``None`` keeps the current ones (and checks
    them again, e.g. after the offer moved to another merchant). Raises ``ValidationError`` keyed by field
    (``currency``, ``code``, ``products``, ``categories``, ...), which the API answers with a 400 and the admin
    shows on the form.

    An existing offer's row is locked while it is written, and ``times_used`` is never written from the
    (possibly stale) instance. A changed ``is_active`` on an existing offer is applied through
    :func:`offer_set_active`, so switching on still checks the code under its lock. A new offer starts with
    ``times_used = 0``.
    """
    categories = None if categories is None else list(categories)
    products = None if products is None else list(products)
    wanted_active = offer.is_active
    with transaction.atomic():
        stored = None
        if offer.pk is not None:
            stored = Offer.objects.select_for_update().only("is_active", "times_used").get(pk=offer.pk)
        # Validate with the locked count, so the usage limit is checked against what is really used.
        offer.times_used = stored.times_used if stored else 0
        offer_validate(offer=offer, categories=categories, products=products)
        if stored is None:
            _write(offer, force_insert=True)
        else:
            offer.is_active = stored.is_active
            _write(offer, update_fields=[f.name for f in Offer._meta.concrete_fields if f.name not in _NOT_SAVED])
        if categories is not None:
            offer.categories.set(categories)
        if products is not None:
            offer.products.set(products)
        if stored is not None and wanted_active != stored.is_active:
            offer_set_active(offer=offer, active=wanted_active)
        transaction.on_commit(cache.bump_generation)
    return offer


def _write(offer: Offer, **kwargs: Any) -> None:
    """Save; a code taken by a concurrent writer after validation is reported like the validation would."""
    try:
        with transaction.atomic():
            offer.save(**kwargs)
    except IntegrityError as exc:
        if CODE_INDEX in str(exc):
            raise ValidationError({"code": [CODE_TAKEN_MESSAGE]}) from exc
        raise


def offer_set_active(*, offer: Offer, active: bool) -> Offer:
    """Switch an offer on (publish, resume) or off (draft, pause).

    Raises ``Conflict(code="offer_code_taken")`` when switching on would give two active offers one code.
    """
    with transaction.atomic():
        locked = Offer.objects.select_for_update().get(pk=offer.pk)
        if locked.is_active == active:
            offer.is_active = active
            return locked
        if active and locked.code:
            taken = Offer.objects.filter(is_active=True, code__iexact=locked.code).exclude(pk=locked.pk).exists()
            if taken:
                raise Conflict(f"Another active offer already uses the code {locked.code}.", code="offer_code_taken")
        locked.is_active = active
        locked.save(update_fields=["is_active", "updated_at"])
        transaction.on_commit(cache.bump_generation)
    offer.is_active = active
    return locked
