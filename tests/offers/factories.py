"""Offer factories. ``OfferFactory`` builds a live percentage coupon of an active merchant by default."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from commerce.offers.models import AppliesTo, DiscountType, Offer, OfferDailyStats, OfferKind
from tests.catalog.factories import MerchantFactory


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer
        skip_postgeneration_save = True

    merchant = factory.SubFactory(MerchantFactory)
    title = factory.Sequence(lambda n: f"Offer {n}")
    description = "An offer used in tests."
    kind = OfferKind.COUPON
    code = factory.Sequence(lambda n: f"CODE{n}")
    discount_type = DiscountType.PERCENTAGE
    discount_value = Decimal("10.00")
    max_discount = None
    min_order_amount = Decimal("0.00")
    currency = "INR"
    applies_to = AppliesTo.MERCHANT
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    destination_url = ""
    is_active = True

    @factory.post_generation
    def categories(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.categories.set(extracted)

    @factory.post_generation
    def products(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.products.set(extracted)


class DealFactory(OfferFactory):
    kind = OfferKind.DEAL
    code = None
    destination_url = factory.Sequence(lambda n: f"https://shop.example.com/deals/{n}")


class OfferDailyStatsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OfferDailyStats

    offer = factory.SubFactory(OfferFactory)
    date = factory.LazyFunction(timezone.localdate)
    views = 0
    clicks = 0
