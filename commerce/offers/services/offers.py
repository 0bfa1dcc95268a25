"""Writes of offers themselves (the admin calls these)."""

from django.db import transaction

from commerce.core.errors import Conflict

from .. import cache
from ..models import Offer


def offer_save(*, offer: Offer) -> Offer:
    """Validate and save an offer (new or changed); cached public lists are refreshed once it commits.

    Many-to-many fields (categories, products) are set by the caller after this returns, inside the same
    transaction when they change together (the admin does that).
    """
    offer.full_clean()
    with transaction.atomic():
        offer.save()
        transaction.on_commit(cache.bump_generation)
    return offer


def offer_set_active(*, offer: Offer, active: bool) -> Offer:
    """Switch an offer on (publish, resume) or off (draft, pause).

    Raises ``Conflict(code="offer_code_taken")`` when switching on would give two active offers one code.
    """
    with transaction.atomic():
        locked = Offer.objects.select_for_update().get(pk=offer.pk)
        if locked.is_active == active:
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
