import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from commerce.offers.errors import (
    CouponError,
    CouponExpired,
    CouponMinimumNotMet,
    CouponNotApplicable,
    CouponNotStarted,
    CouponPerUserLimit,
    CouponUnknown,
    CouponUsedUp,
)
from commerce.offers.models import AppendOnlyError, AppliesTo, DiscountType, Offer, OfferRedemption, RedemptionStatus
from commerce.offers.selectors import offer_times_used_recount
from commerce.offers.services import CartLine, coupon_redeem, coupon_release, coupon_validate
from tests.catalog.factories import CategoryFactory, MerchantFactory, ProductFactory
from tests.factories import UserFactory

from .factories import OfferFactory

pytestmark = pytest.mark.django_db


def line(amount: str, product_id: int = 1, category_id: int = 1) -> CartLine:
    return CartLine(product_id=product_id, category_id=category_id, amount=Decimal(amount))


def validate(offer_or_code, merchant, lines, user=None, currency="INR"):
    code = offer_or_code if isinstance(offer_or_code, str) else offer_or_code.code
    return coupon_validate(code=code, user=user, merchant=merchant, lines=lines, currency=currency)


def test_percentage_coupon_quotes_the_discount_on_the_whole_cart():
    offer = OfferFactory(code="SAVE10", discount_value=Decimal("10.00"))
    quote = validate("SAVE10", offer.merchant, [line("1000.00"), line("234.55")])
    assert quote.offer == offer
    assert quote.discount == Decimal("123.46")  # 123.455 rounded half up
    assert quote.eligible_amount == Decimal("1234.55")
    assert quote.currency == "INR"


def test_code_matches_case_insensitively_and_ignores_surrounding_blanks():
    offer = OfferFactory(code="Save10")
    assert validate("  sAVE10 ", offer.merchant, [line("100.00")]).offer == offer


def test_percentage_discount_is_capped_by_max_discount():
    offer = OfferFactory(code="BIG50", discount_value=Decimal("50.00"), max_discount=Decimal("200.00"))
    assert validate(offer, offer.merchant, [line("1000.00")]).discount == Decimal("200.00")


def test_fixed_discount_never_exceeds_the_eligible_amount():
    product = ProductFactory()
    offer = OfferFactory(
        merchant=product.merchant,
        code="FLAT500",
        discount_type=DiscountType.FIXED,
        discount_value=Decimal("500.00"),
        applies_to=AppliesTo.PRODUCTS,
        products=[product],
    )
    lines = [line("300.00", product_id=product.pk), line("900.00", product_id=product.pk + 1000)]
    quote = validate(offer, offer.merchant, lines)
    assert quote.discount == Decimal("300.00")
    assert quote.eligible_amount == Decimal("300.00")


def test_fixed_discount_below_the_eligible_amount_is_given_in_full():
    offer = OfferFactory(code="FLAT100", discount_type=DiscountType.FIXED, discount_value=Decimal("100.00"))
    assert validate(offer, offer.merchant, [line("999.00")]).discount == Decimal("100.00")


def test_category_coupon_applies_to_lines_in_the_category_and_its_subcategories_only():
    fashion = CategoryFactory(slug="fashion")
    shoes = CategoryFactory(slug="shoes", parent=fashion)
    sneakers = CategoryFactory(slug="sneakers", parent=shoes)
    books = CategoryFactory(slug="books")
    offer = OfferFactory(code="FASHION20", discount_value=Decimal("20.00"), applies_to=AppliesTo.CATEGORIES)
    offer.categories.set([fashion])
    lines = [
        line("100.00", category_id=fashion.pk),
        line("200.00", category_id=sneakers.pk),
        line("1000.00", category_id=books.pk),
    ]
    quote = validate(offer, offer.merchant, lines)
    assert quote.eligible_amount == Decimal("300.00")
    assert quote.discount == Decimal("60.00")


def test_unknown_code_raises_coupon_unknown():
    merchant = MerchantFactory()
    with pytest.raises(CouponUnknown) as exc:
        validate("NOPE", merchant, [line("100.00")])
    assert exc.value.code == "coupon_unknown"
    assert exc.value.status == 400
    assert exc.value.detail == f"There is no coupon NOPE for {merchant.name}."


def test_blank_code_raises_coupon_unknown():
    with pytest.raises(CouponUnknown):
        validate("   ", MerchantFactory(), [line("100.00")])


def test_code_of_another_merchant_is_unknown():
    offer = OfferFactory(code="ACME10")
    with pytest.raises(CouponUnknown):
        validate("ACME10", MerchantFactory(), [line("100.00")])
    # The same code is a valid coupon of its own merchant: only the merchant made it unknown.
    assert validate("ACME10", offer.merchant, [line("100.00")]).offer == offer


def test_switched_off_offer_is_unknown():
    offer = OfferFactory(code="PAUSED", is_active=False)
    with pytest.raises(CouponUnknown):
        validate("PAUSED", offer.merchant, [line("100.00")])


def test_coupon_of_a_suspended_merchant_is_unknown():
    offer = OfferFactory(code="SUSP", merchant=MerchantFactory(status="suspended"))
    with pytest.raises(CouponUnknown):
        validate("SUSP", offer.merchant, [line("100.00")])


def test_coupon_before_its_start_raises_not_started():
    offer = OfferFactory(code="SOON", starts_at=timezone.now() + timedelta(days=2))
    with pytest.raises(CouponNotStarted) as exc:
        validate(offer, offer.merchant, [line("100.00")])
    assert exc.value.code == "coupon_not_started"
    assert exc.value.status == 400


def test_coupon_after_its_end_raises_expired():
    offer = OfferFactory(
        code="OLD", starts_at=timezone.now() - timedelta(days=10), ends_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(CouponExpired) as exc:
        validate(offer, offer.merchant, [line("100.00")])
    assert exc.value.code == "coupon_expired"
    assert exc.value.status == 400


def test_coupon_at_its_usage_limit_raises_used_up():
    offer = OfferFactory(code="ONCE", usage_limit=1)
    coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-1", amount=Decimal("10.00"))
    with pytest.raises(CouponUsedUp) as exc:
        validate(offer, offer.merchant, [line("100.00")])
    assert exc.value.code == "coupon_used_up"
    assert exc.value.status == 409


def test_coupon_used_by_the_user_as_often_as_allowed_raises_per_user_limit():
    offer = OfferFactory(code="TWICE", per_user_limit=2)
    user = UserFactory()
    coupon_redeem(offer=offer, user=user, order_reference="ORD-1", amount=Decimal("10.00"))
    assert validate(offer, offer.merchant, [line("100.00")], user=user).discount == Decimal("10.00")
    coupon_redeem(offer=offer, user=user, order_reference="ORD-2", amount=Decimal("10.00"))
    with pytest.raises(CouponPerUserLimit) as exc:
        validate(offer, offer.merchant, [line("100.00")], user=user)
    assert exc.value.code == "coupon_per_user_limit"
    assert exc.value.status == 409
    assert exc.value.detail == "You have already used this coupon 2 times."
    # Another shopper still may.
    assert validate(offer, offer.merchant, [line("100.00")], user=UserFactory()).discount == Decimal("10.00")


def test_cart_below_the_minimum_raises_minimum_not_met():
    offer = OfferFactory(code="MIN999", min_order_amount=Decimal("999.00"))
    with pytest.raises(CouponMinimumNotMet) as exc:
        validate(offer, offer.merchant, [line("500.00"), line("498.99")])
    assert exc.value.code == "coupon_minimum_not_met"
    assert exc.value.status == 400
    assert exc.value.detail == "This coupon needs an order of at least 999.00 INR."
    assert validate(offer, offer.merchant, [line("500.00"), line("499.00")]).discount == Decimal("99.90")


def test_cart_without_eligible_items_raises_not_applicable():
    product = ProductFactory()
    offer = OfferFactory(merchant=product.merchant, code="ONLYTHIS", applies_to=AppliesTo.PRODUCTS)
    offer.products.set([product])
    with pytest.raises(CouponNotApplicable) as exc:
        validate(offer, offer.merchant, [line("100.00", product_id=product.pk + 1)])
    assert exc.value.code == "coupon_not_applicable"
    assert exc.value.status == 400


def test_empty_cart_is_not_applicable():
    offer = OfferFactory(code="EMPTY")
    with pytest.raises(CouponNotApplicable):
        validate(offer, offer.merchant, [])


def test_cart_in_another_currency_is_not_applicable():
    offer = OfferFactory(code="INRONLY", currency="INR")
    with pytest.raises(CouponNotApplicable) as exc:
        validate(offer, offer.merchant, [line("100.00")], currency="usd")
    assert exc.value.detail == "This coupon is for orders in INR."


def test_every_coupon_error_is_a_coupon_error():
    for error in (
        CouponUnknown,
        CouponNotStarted,
        CouponExpired,
        CouponUsedUp,
        CouponPerUserLimit,
        CouponMinimumNotMet,
        CouponNotApplicable,
    ):
        assert issubclass(error, CouponError)


def test_redeem_counts_the_use_and_records_the_redemption():
    offer = OfferFactory(code="USE", usage_limit=5)
    user = UserFactory()
    redemption = coupon_redeem(offer=offer, user=user, order_reference="ORD-7", amount=Decimal("12.345"))
    offer.refresh_from_db()
    assert offer.times_used == 1
    assert (redemption.offer, redemption.user, redemption.order_reference) == (offer, user, "ORD-7")
    assert redemption.amount == Decimal("12.35")
    assert redemption.currency == "INR"


def test_redeem_is_idempotent_per_order():
    offer = OfferFactory(code="IDEM")
    user = UserFactory()
    first = coupon_redeem(offer=offer, user=user, order_reference="ORD-1", amount=Decimal("10.00"))
    again = coupon_redeem(offer=offer, user=user, order_reference="ORD-1", amount=Decimal("10.00"))
    offer.refresh_from_db()
    assert again.pk == first.pk
    assert offer.times_used == 1
    assert OfferRedemption.objects.count() == 1


def test_redeem_rechecks_the_limits():
    offer = OfferFactory(code="LAST", usage_limit=1)
    coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-1", amount=Decimal("1.00"))
    with pytest.raises(CouponUsedUp):
        coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-2", amount=Decimal("1.00"))
    offer.refresh_from_db()
    assert offer.times_used == 1


def test_redeem_refuses_an_expired_coupon():
    offer = OfferFactory(
        code="GONE", starts_at=timezone.now() - timedelta(days=3), ends_at=timezone.now() - timedelta(days=1)
    )
    with pytest.raises(CouponExpired):
        coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-1", amount=Decimal("1.00"))


def test_release_gives_the_use_back_and_keeps_the_row_marked_released():
    offer = OfferFactory(code="BACK", usage_limit=1)
    user = UserFactory()
    redemption = coupon_redeem(offer=offer, user=user, order_reference="ORD-1", amount=Decimal("1.00"))
    with time_machine.travel(datetime(2026, 5, 4, 10, 0, tzinfo=UTC), tick=False):
        assert coupon_release(offer=offer, order_reference="ORD-1") is True
    assert coupon_release(offer=offer, order_reference="ORD-1") is False
    offer.refresh_from_db()
    redemption.refresh_from_db()
    assert offer.times_used == 0
    assert (redemption.status, redemption.released_at) == (
        RedemptionStatus.RELEASED,
        datetime(2026, 5, 4, 10, 0, tzinfo=UTC),
    )
    assert OfferRedemption.objects.count() == 1
    assert validate(offer, offer.merchant, [line("100.00")], user=user).discount == Decimal("10.00")


def test_release_of_an_order_without_a_use_changes_nothing():
    offer = OfferFactory(code="NONE")
    coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-1", amount=Decimal("1.00"))
    assert coupon_release(offer=offer, order_reference="ORD-2") is False
    offer.refresh_from_db()
    assert offer.times_used == 1
    assert list(OfferRedemption.objects.values_list("status", flat=True)) == [RedemptionStatus.REDEEMED]


def test_a_re_placed_order_redeems_again_after_its_release_and_times_used_matches_the_rows():
    offer = OfferFactory(code="AGAIN", usage_limit=2)
    user = UserFactory()
    first = coupon_redeem(offer=offer, user=user, order_reference="ORD-1", amount=Decimal("1.00"))
    coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-2", amount=Decimal("1.00"))
    coupon_release(offer=offer, order_reference="ORD-1")
    second = coupon_redeem(offer=offer, user=user, order_reference="ORD-1", amount=Decimal("2.00"))

    offer.refresh_from_db()
    assert second.pk != first.pk
    assert offer.times_used == 2
    assert offer_times_used_recount(offer=offer) == 2
    assert list(
        OfferRedemption.objects.filter(order_reference="ORD-1").order_by("id").values_list("status", "amount")
    ) == [(RedemptionStatus.RELEASED, Decimal("1.00")), (RedemptionStatus.REDEEMED, Decimal("2.00"))]
    # Redeeming the re-placed order once more is idempotent: it returns its unreleased use.
    assert coupon_redeem(offer=offer, user=user, order_reference="ORD-1", amount=Decimal("2.00")).pk == second.pk


def test_times_used_always_equals_the_unreleased_rows():
    offer = OfferFactory(code="COUNT")
    users = [UserFactory() for _ in range(3)]
    steps = [
        ("redeem", 0, "A"),
        ("redeem", 1, "B"),
        ("release", None, "A"),
        ("redeem", 2, "C"),
        ("redeem", 0, "A"),
        ("release", None, "B"),
        ("release", None, "B"),
        ("release", None, "Z"),
    ]
    for action, user_index, order in steps:
        if action == "redeem":
            coupon_redeem(offer=offer, user=users[user_index], order_reference=order, amount=Decimal("1.00"))
        else:
            coupon_release(offer=offer, order_reference=order)
        offer.refresh_from_db()
        assert offer.times_used == offer_times_used_recount(offer=offer)
    assert offer.times_used == 2
    assert OfferRedemption.objects.count() == 4


def test_per_user_limit_counts_unreleased_uses_only():
    offer = OfferFactory(code="ONCEEACH", per_user_limit=1)
    user = UserFactory()
    coupon_redeem(offer=offer, user=user, order_reference="ORD-1", amount=Decimal("1.00"))
    with pytest.raises(CouponPerUserLimit):
        coupon_redeem(offer=offer, user=user, order_reference="ORD-2", amount=Decimal("1.00"))
    coupon_release(offer=offer, order_reference="ORD-1")
    assert coupon_redeem(offer=offer, user=user, order_reference="ORD-2", amount=Decimal("1.00")).order_reference == (
        "ORD-2"
    )


def test_redemptions_are_never_deleted():
    offer = OfferFactory(code="KEEP")
    redemption = coupon_redeem(offer=offer, user=UserFactory(), order_reference="ORD-1", amount=Decimal("1.00"))
    with pytest.raises(AppendOnlyError):
        redemption.delete()
    with pytest.raises(AppendOnlyError):
        OfferRedemption.objects.filter(pk=redemption.pk).delete()
    assert OfferRedemption.objects.count() == 1


def test_one_order_holds_at_most_one_unreleased_use_of_an_offer():
    offer = OfferFactory(code="ONEPERORDER")
    user = UserFactory()
    coupon_redeem(offer=offer, user=user, order_reference="ORD-1", amount=Decimal("1.00"))
    row = {"offer": offer, "user": user, "order_reference": "ORD-1", "amount": Decimal("1.00"), "currency": "INR"}
    duplicate = r"offers_redemption_once_per_order_unreleased|UNIQUE constraint failed: offers_offerredemption"
    with pytest.raises(IntegrityError, match=duplicate), transaction.atomic():
        OfferRedemption.objects.create(**row)
    released = {**row, "status": RedemptionStatus.RELEASED, "released_at": timezone.now()}
    OfferRedemption.objects.create(**released)
    OfferRedemption.objects.create(**released)
    assert OfferRedemption.objects.filter(order_reference="ORD-1").count() == 3


def test_a_released_row_needs_its_release_time():
    offer = OfferFactory(code="TIMED")
    row = {"offer": offer, "user": UserFactory(), "order_reference": "ORD-1", "amount": Decimal("1.00")}
    with pytest.raises(IntegrityError, match="offers_redemption_released_has_time"), transaction.atomic():
        OfferRedemption.objects.create(**row, currency="INR", status=RedemptionStatus.RELEASED)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_redemptions_of_the_last_use_let_exactly_one_through():
    offer = OfferFactory(code="RACE", usage_limit=1)
    users = [UserFactory(), UserFactory()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def redeem(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            coupon_redeem(offer=offer, user=users[index], order_reference=f"ORD-{index}", amount=Decimal("5.00"))
            outcomes.append("redeemed")
        except CouponUsedUp:
            outcomes.append("used_up")
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["redeemed", "used_up"]
    assert Offer.objects.get(pk=offer.pk).times_used == 1
    assert OfferRedemption.objects.filter(offer=offer).count() == 1
    assert offer_times_used_recount(offer=offer) == 1
