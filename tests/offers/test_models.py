from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from commerce.offers.models import DiscountType, Offer, OfferKind
from tests.catalog.factories import MerchantFactory

from .factories import DealFactory, OfferFactory

pytestmark = pytest.mark.django_db


def test_code_is_unique_case_insensitively_among_active_offers():
    OfferFactory(code="SAVE10")
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory(code="save10", merchant=MerchantFactory())


def test_switched_off_offers_may_share_a_code():
    OfferFactory(code="SAVE10")
    OfferFactory(code="save10", is_active=False)
    OfferFactory(code="Save10", is_active=False)
    assert Offer.objects.filter(code__iexact="save10").count() == 3


def test_code_clash_is_a_validation_error_on_the_code_field():
    OfferFactory(code="SAVE10")
    offer = OfferFactory.build(code="Save10", merchant=MerchantFactory())
    with pytest.raises(ValidationError) as exc:
        offer.full_clean()
    assert exc.value.message_dict == {"code": ["Another active offer already uses this code."]}


def test_other_constraint_errors_stay_general():
    now = timezone.now()
    offer = OfferFactory.build(merchant=MerchantFactory(), starts_at=now, ends_at=now)
    with pytest.raises(ValidationError) as exc:
        offer.full_clean()
    assert exc.value.message_dict == {"__all__": ["The offer must end after it starts."]}


@pytest.mark.parametrize("currency", ["INR", "USD", "EUR", "JPY"])
def test_supported_currencies_are_accepted(currency):
    OfferFactory.build(merchant=MerchantFactory(), currency=currency).full_clean()


@pytest.mark.parametrize("currency", ["KWD", "BHD", "OMR"])
def test_three_place_currencies_are_refused(currency):
    offer = OfferFactory.build(merchant=MerchantFactory(), currency=currency)
    with pytest.raises(ValidationError) as exc:
        offer.full_clean()
    assert list(exc.value.message_dict) == ["currency"]


def test_blank_code_is_stored_as_null_so_deals_never_clash():
    first = DealFactory(code="  ")
    second = DealFactory(code="")
    assert (first.code, second.code) == (None, None)


def test_code_is_stored_as_entered_but_stripped():
    assert OfferFactory(code="  Summer24 ").code == "Summer24"


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"discount_value": Decimal("-1.00")}, "offers_offer_discount_non_negative"),
        ({"discount_value": Decimal("100.01")}, "offers_offer_percentage_at_most_100"),
        ({"min_order_amount": Decimal("-0.01")}, "offers_offer_min_order_non_negative"),
        ({"max_discount": Decimal("-5.00")}, "offers_offer_max_discount_non_negative"),
        ({"cashback_rate": Decimal("100.50")}, "offers_offer_cashback_rate_percent"),
        ({"kind": OfferKind.COUPON, "code": None}, "offers_offer_coupon_has_code"),
        ({"kind": OfferKind.DEAL, "code": None, "destination_url": ""}, "offers_offer_deal_has_destination"),
        ({"usage_limit": 1, "times_used": 2}, "offers_offer_used_within_limit"),
    ],
)
def test_check_constraints(fields, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        OfferFactory(**fields)


def test_offer_must_end_after_it_starts():
    now = timezone.now()
    with pytest.raises(IntegrityError, match="offers_offer_ends_after_start"), transaction.atomic():
        OfferFactory(starts_at=now, ends_at=now)
    with pytest.raises(IntegrityError, match="offers_offer_ends_after_start"), transaction.atomic():
        OfferFactory(starts_at=now, ends_at=now - timedelta(hours=1))


def test_fixed_discount_above_100_is_allowed():
    offer = OfferFactory(discount_type=DiscountType.FIXED, discount_value=Decimal("500.00"))
    assert offer.discount_value == Decimal("500.00")


def test_a_cap_on_a_fixed_discount_is_refused_by_validation():
    offer = OfferFactory.build(
        merchant=MerchantFactory(), discount_type=DiscountType.FIXED, max_discount=Decimal("10.00")
    )
    with pytest.raises(ValidationError) as exc:
        offer.full_clean()
    assert exc.value.message_dict == {"max_discount": ["A cap only applies to percentage discounts."]}


def test_live_queryset_and_is_live_agree():
    now = timezone.now()
    live = OfferFactory()
    scheduled = OfferFactory(starts_at=now + timedelta(hours=1))
    ended = OfferFactory(starts_at=now - timedelta(days=2), ends_at=now - timedelta(seconds=1))
    off = OfferFactory(is_active=False)
    suspended = OfferFactory(merchant=MerchantFactory(status="suspended"))
    assert list(Offer.objects.live()) == [live]
    assert [o.is_live() for o in (live, scheduled, ended, off, suspended)] == [True, False, False, False, False]
