"""Status changes of products and merchants (along the transition tables beside the models), and popularity."""

import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from commerce.core.errors import Conflict, InvalidInput

from ..cache import catalog_cache_bump, product_cache_invalidate
from ..models import MERCHANT_TRANSITIONS, PRODUCT_TRANSITIONS, Merchant, MerchantStatus, Product, ProductStatus
from .refresh import now_and_on_commit

logger = logging.getLogger(__name__)


def product_set_status(*, product: Product, status: str) -> Product:
    """Move one product to ``status`` along ``PRODUCT_TRANSITIONS``; 409 ``invalid_transition`` otherwise."""
    status = ProductStatus(status)
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if status not in PRODUCT_TRANSITIONS[locked.status]:
            raise Conflict(
                f"A {locked.get_status_display().lower()} product cannot become {status.label.lower()}.",
                code="invalid_transition",
            )
        Product.objects.filter(pk=locked.pk).update(status=status, updated_at=timezone.now())
        now_and_on_commit(lambda: product_cache_invalidate(slugs=[locked.slug]))
    logger.info("product %s status %s -> %s", locked.pk, locked.status, status)
    product.status = status
    return product


def products_set_status(*, product_ids: Iterable[int], status: str) -> int:
    """Bulk status change (admin actions): moves every product for which the transition is allowed.

    Products already in ``status`` are left alone. Returns the number of products changed.
    """
    status = ProductStatus(status)
    allowed_from = [source for source, targets in PRODUCT_TRANSITIONS.items() if status in targets]
    with transaction.atomic():
        rows = list(
            Product.objects.select_for_update()
            .filter(pk__in=list(product_ids), status__in=allowed_from)
            .values_list("pk", "slug")
        )
        changed = Product.objects.filter(pk__in=[pk for pk, _ in rows]).update(status=status, updated_at=timezone.now())
        slugs = [slug for _, slug in rows]
        now_and_on_commit(lambda: product_cache_invalidate(slugs=slugs))
    logger.info("%s products moved to %s", changed, status)
    return changed


def merchant_set_status(*, merchant: Merchant, status: str) -> Merchant:
    """Activate or suspend a merchant. Suspension hides all its products from the public API at once."""
    status = MerchantStatus(status)
    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if status not in MERCHANT_TRANSITIONS[locked.status]:
            raise Conflict(f"The merchant is already {locked.get_status_display().lower()}.", code="invalid_transition")
        Merchant.objects.filter(pk=locked.pk).update(status=status, updated_at=timezone.now())
        now_and_on_commit(catalog_cache_bump)
    logger.info("merchant %s status %s -> %s", locked.pk, locked.status, status)
    merchant.status = status
    return merchant


def product_add_popularity(*, product_id: int, amount: int = 1) -> None:
    """Raise a product's popularity score (units sold, offer clicks); drives the ``popular`` ordering.

    An atomic ``UPDATE ... SET popularity = popularity + n``: safe under concurrency, no lock held.
    """
    if amount < 1:
        raise InvalidInput("Popularity only goes up.", fields={"amount": ["Must be a positive whole number."]})
    Product.objects.filter(pk=product_id).update(popularity=F("popularity") + amount)
