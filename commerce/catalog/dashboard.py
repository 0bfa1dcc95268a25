"""The catalog's dashboard cards, and the merchant scope every card is limited by.

The catalog owns merchant scoping (``permissions.merchant_ids_for_user``), so it registers the dashboard's scope
resolver: a merchant-scoped staff member's cards count only their merchants' rows.
"""

from django.db.models import Count, Q

from commerce.core.dashboard import CardContext, CardData, Figure, register_card, register_scope_resolver

from .models import MerchantStatus, Product, ProductStatus
from .permissions import merchant_ids_for_user


def products_card(ctx: CardContext) -> CardData:
    """Live products (active, of an active merchant: what shoppers can see) and how many of those are out of
    stock. One aggregate query on the ``(status, merchant)`` index."""
    live = Q(status=ProductStatus.ACTIVE, merchant__status=MerchantStatus.ACTIVE)
    products = Product.objects.all()
    if ctx.scope is not None:
        products = products.filter(merchant_id__in=ctx.scope)
    counts = products.aggregate(
        live=Count("pk", filter=live),
        out_of_stock=Count("pk", filter=live & Q(in_stock=False)),
    )
    return CardData(
        figures=(
            Figure(label="Live", value=counts["live"]),
            Figure(label="Out of stock", value=counts["out_of_stock"]),
        )
    )


def register() -> None:
    register_scope_resolver(merchant_ids_for_user)
    register_card(
        key="catalog.products",
        title="Products",
        order=100,
        builder=products_card,
        permission="catalog.view_product",
        link="admin:catalog_product_changelist",
    )
