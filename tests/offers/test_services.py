"""``offer_save`` and ``offer_set_active`` called directly (no admin, no API): the offer rules hold for every
caller."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from commerce.core.errors import Conflict
from commerce.offers.models import AppliesTo, Offer
from commerce.offers.services import coupon_redeem, offer_save, offer_set_active
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.factories import UserFactory

from .factories import OfferFactory

pytestmark = pytest.mark.django_db


def new_offer(merchant, **fields) -> Offer:
    return OfferFactory.build(merchant=merchant, **fields)


def test_offer_save_refuses_products_of_another_merchant(acme, globex):
    own = ProductFactory(merchant=acme, title="Acme shoe")
    foreign = ProductFactory(merchant=globex, title="Globex shoe")

    with pytest.raises(ValidationError) as exc:
        offer_save(offer=new_offer(acme, applies_to=AppliesTo.PRODUCTS), products=[own, foreign])

    assert exc.value.message_dict == {"products": ["Not products of Acme: Globex shoe."]}
    assert Offer.objects.count() == 0


def test_offer_save_refuses_a_product_offer_without_products(acme):
    with pytest.raises(ValidationError) as exc:
        offer_save(offer=new_offer(acme, applies_to=AppliesTo.PRODUCTS), products=[])
    assert exc.value.message_dict == {"products": ["Choose the products this offer applies to."]}
    assert Offer.objects.count() == 0


def test_offer_save_refuses_a_category_offer_without_categories(acme):
    with pytest.raises(ValidationError) as exc:
        offer_save(offer=new_offer(acme, applies_to=AppliesTo.CATEGORIES))
    assert exc.value.message_dict == {"categories": ["Choose the categories this offer applies to."]}
    assert Offer.objects.count() == 0


@pytest.mark.parametrize("currency", ["KWD", "BHD", "OMR", "XYZ", "inr"])
def test_offer_save_refuses_an_unsupported_currency(acme, currency):
    with pytest.raises(ValidationError) as exc:
        offer_save(offer=new_offer(acme, currency=currency))
    assert exc.value.message_dict == {"currency": [f"Value '{currency}' is not a valid choice."]}
    assert Offer.objects.count() == 0


def test_offer_save_reports_every_problem_at_once_keyed_by_field(acme, globex):
    foreign = ProductFactory(merchant=globex, title="Globex hat")
    with pytest.raises(ValidationError) as exc:
        offer_save(offer=new_offer(acme, currency="KWD", applies_to=AppliesTo.PRODUCTS), products=[foreign])
    assert set(exc.value.message_dict) == {"currency", "products"}


def test_offer_save_sets_the_targets_with_the_offer(acme):
    shoe = ProductFactory(merchant=acme)
    shoes = CategoryFactory(slug="shoes")

    offer = offer_save(offer=new_offer(acme, applies_to=AppliesTo.PRODUCTS), products=[shoe], categories=[shoes])

    assert list(offer.products.all()) == [shoe]
    assert list(offer.categories.all()) == [shoes]


def test_offer_save_without_targets_keeps_and_rechecks_the_current_ones(acme, globex):
    shoe = ProductFactory(merchant=acme, title="Acme boot")
    offer = offer_save(offer=new_offer(acme, applies_to=AppliesTo.PRODUCTS), products=[shoe])

    offer.title = "Renamed"
    offer_save(offer=offer)
    assert list(Offer.objects.get(pk=offer.pk).products.all()) == [shoe]

    offer.merchant = globex  # moving the offer would leave it discounting Acme's boot
    with pytest.raises(ValidationError) as exc:
        offer_save(offer=offer)
    assert exc.value.message_dict == {"products": ["Not products of Globex: Acme boot."]}
    assert Offer.objects.get(pk=offer.pk).merchant == acme


def test_offer_save_reports_a_code_clash_on_the_code_field(acme, globex):
    OfferFactory(merchant=globex, code="SAVE10")
    with pytest.raises(ValidationError) as exc:
        offer_save(offer=new_offer(acme, code="save10"))
    assert exc.value.message_dict == {"code": ["Another active offer already uses this code."]}


def test_offer_save_never_writes_times_used_from_a_stale_instance(acme):
    offer = OfferFactory(merchant=acme, code="STALE")
    stale = Offer.objects.get(pk=offer.pk)
    coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-1", amount=Decimal("5.00"))

    stale.title = "Edited meanwhile"
    offer_save(offer=stale)

    offer.refresh_from_db()
    assert (offer.title, offer.times_used) == ("Edited meanwhile", 1)


def test_a_new_offer_starts_unused(acme):
    offer = offer_save(offer=new_offer(acme, times_used=7, usage_limit=10))
    assert Offer.objects.get(pk=offer.pk).times_used == 0


def test_offer_save_switches_an_existing_offer_through_offer_set_active(acme, globex):
    OfferFactory(merchant=globex, code="TAKEN")
    paused = OfferFactory(merchant=acme, code="FREE", is_active=False)

    paused.is_active = True
    offer_save(offer=paused)
    assert Offer.objects.get(pk=paused.pk).is_active is True

    # A code taken meanwhile by another active offer: full_clean sees the clash on the code field.
    other = OfferFactory(merchant=acme, code="taken", is_active=False)
    other.is_active = True
    with pytest.raises(ValidationError) as exc:
        offer_save(offer=other)
    assert exc.value.message_dict == {"code": ["Another active offer already uses this code."]}
    assert Offer.objects.get(pk=other.pk).is_active is False


def test_offer_set_active_refuses_a_code_live_elsewhere(acme, globex):
    OfferFactory(merchant=globex, code="SAME")
    paused = OfferFactory(merchant=acme, code="same", is_active=False)
    with pytest.raises(Conflict) as exc:
        offer_set_active(offer=paused, active=True)
    assert exc.value.code == "offer_code_taken"
    assert Offer.objects.get(pk=paused.pk).is_active is False
