"""Risk assessment of cashback: crafted histories, each rule with its reason and weight, the cap, the level
threshold, settings overrides and a fixed query budget."""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.services.fingerprints import account_fingerprint_record
from cashback.models import CashbackEntry, CashbackStatus, Conversion, MerchantCashback, RiskAssessment
from cashback.services import risk
from cashback.services.risk import DEFAULT_WEIGHTS, RuleHit, risk_assess, risk_weights
from commerce.offers.models import OfferClick
from commerce.orders.models import Order, OrderStatus, PaymentStatus
from tests.factories import UserFactory
from tests.offers.factories import OfferFactory
from tests.orders.factories import order_build

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)  # assessment time
EARNED = NOW - timedelta(days=35)  # the entry's order was paid (and the cashback earned) then
PHONE = "+919812345678"
OTHER_PHONE = "+919812345679"
DEVICE = "b1d0c7e2-2f4e-4a51-8f0e-3c1f7d9a6b20"


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(risk, "_warned", set())


@pytest.fixture
def veteran(db):
    """A shopper who joined long before the cashback was earned."""
    return UserFactory(email="veteran@example.com", phone=PHONE, date_joined=EARNED - timedelta(days=400))


def _order(user, variant, *, paid_at, refunded="0.00"):
    order = order_build(user=user, lines=[(variant, 1)], status=OrderStatus.DELIVERED, placed_at=paid_at)
    if Decimal(refunded):
        status = PaymentStatus.REFUNDED if Decimal(refunded) == order.total else PaymentStatus.PARTIALLY_REFUNDED
        Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal(refunded), payment_status=status)
    return order


def _entry(user, variant, *, amount="24.95", reversed_amount="0.00", earned_at=EARNED):
    """A confirmed cashback entry of a delivered order paid at ``earned_at``."""
    order = _order(user, variant, paid_at=earned_at - timedelta(minutes=1))
    return CashbackEntry.objects.create(
        user=user,
        merchant=order.merchant,
        source="order",
        order=order,
        currency="INR",
        base_amount=max(Decimal(amount) * 20, Decimal("499.00")),
        rate=Decimal("5.00"),
        amount=Decimal(amount),
        reversed_amount=Decimal(reversed_amount),
        status=CashbackStatus.CONFIRMED,
        created_at=earned_at,
    )


def _conversion(user, merchant, *, reported_at, reference):
    offer = OfferFactory(merchant=merchant)
    click = OfferClick.objects.create(offer=offer, user=user, created_at=reported_at - timedelta(minutes=5))
    return Conversion.objects.create(
        merchant=merchant,
        offer=offer,
        click=click,
        user=user,
        reference=reference,
        sale_amount=Decimal("1000.00"),
        currency="INR",
        reported_at=reported_at,
    )


def _hits(assessment: RiskAssessment) -> list[RuleHit]:
    return [RuleHit(**rule) for rule in assessment.rules]


# --- a clean account ---------------------------------------------------------------------------------------------


def test_a_clean_account_scores_zero_and_is_low(veteran, tshirt):
    entry = _entry(veteran, tshirt)
    assessment = risk_assess(entry=entry)
    assert (assessment.score, assessment.level, assessment.rules) == (0, "low", [])
    assert (assessment.entry_id, assessment.created_at) == (entry.pk, NOW)
    assert RiskAssessment.objects.get().pk == assessment.pk


def test_every_assessment_is_kept(veteran, tshirt):
    entry = _entry(veteran, tshirt)
    first = risk_assess(entry=entry)
    second = risk_assess(entry=entry, now=NOW + timedelta(hours=1))
    assert list(entry.risk_assessments.values_list("pk", "created_at")) == [
        (second.pk, NOW + timedelta(hours=1)),
        (first.pk, NOW),
    ]


# --- each rule alone ---------------------------------------------------------------------------------------------


def test_new_account_fires_for_an_account_younger_than_seven_days_when_earned(tshirt):
    user = UserFactory(date_joined=EARNED - timedelta(days=2, hours=3))
    assessment = risk_assess(entry=_entry(user, tshirt))
    assert _hits(assessment) == [
        RuleHit("new_account", 20, "Account created 2 days before this cashback was earned (under 7).")
    ]
    assert (assessment.score, assessment.level) == (20, "low")


def test_new_account_counts_less_than_a_day(tshirt):
    user = UserFactory(date_joined=EARNED - timedelta(hours=5))
    assert _hits(risk_assess(entry=_entry(user, tshirt))) == [
        RuleHit("new_account", 20, "Account created less than a day before this cashback was earned (under 7).")
    ]


@pytest.mark.parametrize(
    ("age", "fires"),
    [(timedelta(days=7), False), (timedelta(days=7) - timedelta(seconds=1), True), (timedelta(days=30), False)],
)
def test_new_account_boundary(tshirt, age, fires):
    user = UserFactory(date_joined=EARNED - age)
    assert [hit.code for hit in _hits(risk_assess(entry=_entry(user, tshirt)))] == (["new_account"] if fires else [])


def test_new_account_days_come_from_settings(tshirt, settings):
    settings.CASHBACK_RISK_NEW_ACCOUNT_DAYS = 30
    user = UserFactory(date_joined=EARNED - timedelta(days=10))
    assert _hits(risk_assess(entry=_entry(user, tshirt))) == [
        RuleHit("new_account", 20, "Account created 10 days before this cashback was earned (under 30).")
    ]


def test_velocity_fires_above_five_orders_and_conversions_in_the_24_hours_up_to_the_cashback(veteran, tshirt, merchant):
    for hours in (2, 9, 20):
        _order(veteran, tshirt, paid_at=EARNED - timedelta(hours=hours))
    _conversion(veteran, merchant, reported_at=EARNED - timedelta(hours=3), reference="S-1")
    # Outside the window: before it, and after the cashback was earned.
    _order(veteran, tshirt, paid_at=EARNED - timedelta(hours=24))
    _order(veteran, tshirt, paid_at=EARNED + timedelta(hours=1))
    _conversion(veteran, merchant, reported_at=EARNED - timedelta(hours=25), reference="S-2")
    assert [hit.code for hit in _hits(risk_assess(entry=_entry(veteran, tshirt)))] == []  # 5 with its own order

    _conversion(veteran, merchant, reported_at=EARNED - timedelta(hours=23, minutes=59), reference="S-3")
    assessment = risk_assess(entry=CashbackEntry.objects.get())
    assert _hits(assessment) == [
        RuleHit(
            "velocity",
            25,
            "6 paid orders and conversions in the 24 hours up to this cashback (4 orders, 2 conversions; more than 5).",
        )
    ]
    assert (assessment.score, assessment.level) == (25, "low")


def test_unpaid_orders_do_not_count_towards_velocity(veteran, tshirt, settings):
    settings.CASHBACK_RISK_VELOCITY_24H = 1
    order_build(user=veteran, lines=[(tshirt, 1)], status=OrderStatus.CANCELLED, placed_at=EARNED - timedelta(hours=1))
    assert _hits(risk_assess(entry=_entry(veteran, tshirt))) == []
    _order(veteran, tshirt, paid_at=EARNED - timedelta(hours=1))
    assert _hits(risk_assess(entry=CashbackEntry.objects.get())) == [
        RuleHit(
            "velocity",
            25,
            "2 paid orders and conversions in the 24 hours up to this cashback (2 orders, 0 conversions; more than 1).",
        )
    ]


def test_refund_ratio_fires_above_30_percent_of_at_least_three_paid_orders(veteran, tshirt):
    _order(veteran, tshirt, paid_at=EARNED - timedelta(days=60), refunded="499.00")
    _order(veteran, tshirt, paid_at=EARNED - timedelta(days=50))
    entry = _entry(veteran, tshirt)
    # A partial refund, after the cashback was earned, counts too.
    Order.objects.filter(pk=entry.order_id).update(refunded_amount=Decimal("100.00"))
    assessment = risk_assess(entry=entry)
    assert _hits(assessment) == [RuleHit("refund_ratio", 30, "2 of 3 paid orders refunded (67 %, over 30 %).")]
    assert (assessment.score, assessment.level) == (30, "low")


def test_refund_ratio_needs_three_paid_orders(veteran, tshirt):
    _order(veteran, tshirt, paid_at=EARNED - timedelta(days=60), refunded="499.00")
    entry = _entry(veteran, tshirt)
    Order.objects.filter(pk=entry.order_id).update(refunded_amount=Decimal("499.00"))
    assert _hits(risk_assess(entry=entry)) == []  # 2 of 2, but only 2 orders


def test_refund_ratio_of_exactly_the_threshold_does_not_fire(veteran, tshirt):
    for days in range(9):
        _order(veteran, tshirt, paid_at=EARNED - timedelta(days=40 + days), refunded="10.00" if days < 3 else "0.00")
    entry = _entry(veteran, tshirt)
    assert _hits(risk_assess(entry=entry)) == []  # 3 of 10
    _order(veteran, tshirt, paid_at=EARNED - timedelta(days=90), refunded="10.00")
    assert _hits(risk_assess(entry=entry)) == [
        RuleHit("refund_ratio", 30, "4 of 11 paid orders refunded (36 %, over 30 %).")
    ]


def test_refund_ratio_and_its_minimum_come_from_settings(veteran, tshirt, settings):
    settings.CASHBACK_RISK_REFUND_RATIO = "0.10"
    settings.CASHBACK_RISK_REFUND_MIN_ORDERS = 2
    _order(veteran, tshirt, paid_at=EARNED - timedelta(days=60), refunded="1.00")
    assert _hits(risk_assess(entry=_entry(veteran, tshirt))) == [
        RuleHit("refund_ratio", 30, "1 of 2 paid orders refunded (50 %, over 10 %).")
    ]


def test_shared_phone_another_account_ordered_with_this_phone(veteran, tshirt):
    other = UserFactory(phone=OTHER_PHONE)
    order = _order(other, tshirt, paid_at=EARNED - timedelta(days=3))
    Order.objects.filter(pk=order.pk).update(phone=PHONE)
    assessment = risk_assess(entry=_entry(veteran, tshirt))
    assert _hits(assessment) == [
        RuleHit(
            "shared_phone",
            25,
            "1 other account shares a phone number with this account (own phone, on an order or at sign-in).",
        )
    ]


def test_shared_phone_another_account_owns_a_phone_this_account_ordered_with(tshirt):
    user = UserFactory(phone=None, date_joined=EARNED - timedelta(days=400))
    entry = _entry(user, tshirt)
    Order.objects.filter(pk=entry.order_id).update(phone=OTHER_PHONE)
    UserFactory(phone=OTHER_PHONE)
    UserFactory(phone="+919812345670")  # unrelated
    assert [(hit.code, hit.weight) for hit in _hits(risk_assess(entry=entry))] == [("shared_phone", 25)]


def test_shared_phone_counts_each_other_account_once_whatever_the_ways(veteran, tshirt):
    ann, bob = UserFactory(phone=OTHER_PHONE), UserFactory()
    for user in (ann, bob):
        order = _order(user, tshirt, paid_at=EARNED - timedelta(days=3))
        Order.objects.filter(pk=order.pk).update(phone=PHONE)
    account_fingerprint_record(user_id=ann.pk, phone=PHONE)
    account_fingerprint_record(user_id=bob.pk, phone="98123 45678")
    entry = _entry(veteran, tshirt)
    Order.objects.filter(pk=entry.order_id).update(phone=OTHER_PHONE)  # ann's own phone, too
    assert _hits(risk_assess(entry=entry)) == [
        RuleHit(
            "shared_phone",
            25,
            "2 other accounts share a phone number with this account (own phone, on an order or at sign-in).",
        )
    ]


def test_shared_phone_through_a_sign_in_fingerprint_of_an_old_phone(veteran, tshirt):
    account_fingerprint_record(user_id=veteran.pk, phone="+919812345670")  # a phone it had before
    other = UserFactory()
    account_fingerprint_record(user_id=other.pk, phone="+919812345670")
    assert [hit.code for hit in _hits(risk_assess(entry=_entry(veteran, tshirt)))] == ["shared_phone"]


def test_the_accounts_own_orders_with_its_own_phone_share_nothing(veteran, tshirt):
    _order(veteran, tshirt, paid_at=EARNED - timedelta(days=90))
    account_fingerprint_record(user_id=veteran.pk, phone=PHONE, ip="203.0.113.7", device_id=DEVICE)
    assert _hits(risk_assess(entry=_entry(veteran, tshirt))) == []


def test_shared_device(veteran, tshirt):
    account_fingerprint_record(user_id=veteran.pk, device_id=DEVICE, ip="203.0.113.7")
    for _ in range(2):
        account_fingerprint_record(user_id=UserFactory().pk, device_id=DEVICE, ip="198.51.100.4")
    assessment = risk_assess(entry=_entry(veteran, tshirt))
    assert _hits(assessment) == [
        RuleHit("shared_device", 30, "2 other accounts share a device with this account (signed in or up from it).")
    ]
    assert (assessment.score, assessment.level) == (30, "low")


def test_shared_ip(veteran, tshirt):
    account_fingerprint_record(user_id=veteran.pk, device_id=DEVICE, ip="203.0.113.7")
    account_fingerprint_record(user_id=UserFactory().pk, device_id="another", ip="203.0.113.7")
    assert _hits(risk_assess(entry=_entry(veteran, tshirt))) == [
        RuleHit("shared_ip", 15, "1 other account shares an IP address with this account (signed in or up from it).")
    ]


@pytest.mark.parametrize(
    ("amount", "reversed_amount", "fires"),
    [("2000.01", "0.00", True), ("2000.00", "0.00", False), ("2500.00", "600.00", False)],
)
def test_large_amount_fires_above_the_threshold_on_what_is_left(veteran, tshirt, amount, reversed_amount, fires):
    entry = _entry(veteran, tshirt, amount=amount, reversed_amount=reversed_amount)
    expected = [RuleHit("large_amount", 20, f"Cashback of {amount} INR is over 2000.00.")] if fires else []
    assert _hits(risk_assess(entry=entry)) == expected


def test_large_amount_threshold_comes_from_settings(veteran, tshirt, settings):
    settings.CASHBACK_RISK_LARGE_AMOUNT = "20.00"
    assert _hits(risk_assess(entry=_entry(veteran, tshirt, amount="24.95"))) == [
        RuleHit("large_amount", 20, "Cashback of 24.95 INR is over 20.00.")
    ]


def test_risky_merchant(veteran, tshirt, merchant):
    entry = _entry(veteran, tshirt)
    MerchantCashback.objects.create(merchant=merchant, flagged_risky=False)
    assert _hits(risk_assess(entry=entry)) == []
    MerchantCashback.objects.filter(merchant=merchant).update(flagged_risky=True, risk_note="Chargebacks reported.")
    assert _hits(risk_assess(entry=entry)) == [
        RuleHit("risky_merchant", 30, "Merchant Threads is flagged as risky: Chargebacks reported.")
    ]
    MerchantCashback.objects.filter(merchant=merchant).update(risk_note="")
    assert _hits(risk_assess(entry=entry))[0].reason == "Merchant Threads is flagged as risky."


# --- combined, cap, threshold ---------------------------------------------------------------------------------


def test_combined_rules_reach_high(tshirt, merchant):
    user = UserFactory(date_joined=EARNED - timedelta(days=1, hours=2))
    account_fingerprint_record(user_id=user.pk, device_id=DEVICE)
    account_fingerprint_record(user_id=UserFactory().pk, device_id=DEVICE)
    assessment = risk_assess(entry=_entry(user, tshirt))
    assert [(hit.code, hit.weight) for hit in _hits(assessment)] == [("new_account", 20), ("shared_device", 30)]
    assert (assessment.score, assessment.level) == (50, "high")


def test_just_under_the_review_threshold_is_low(veteran, tshirt):
    account_fingerprint_record(user_id=veteran.pk, device_id=DEVICE, ip="203.0.113.7")
    account_fingerprint_record(user_id=UserFactory().pk, device_id=DEVICE, ip="203.0.113.7")
    assessment = risk_assess(entry=_entry(veteran, tshirt))
    assert (assessment.score, assessment.level) == (45, "low")


def test_review_threshold_comes_from_settings(veteran, tshirt, settings):
    settings.CASHBACK_RISK_REVIEW_THRESHOLD = 45
    account_fingerprint_record(user_id=veteran.pk, device_id=DEVICE, ip="203.0.113.7")
    account_fingerprint_record(user_id=UserFactory().pk, device_id=DEVICE, ip="203.0.113.7")
    assert risk_assess(entry=_entry(veteran, tshirt)).level == "high"


def _everything_fires(tshirt, merchant):
    """A history where all eight rules fire (weights 20+25+30+25+30+15+20+30 = 195)."""
    user = UserFactory(phone=PHONE, date_joined=EARNED - timedelta(days=1))
    for hours in range(1, 7):
        _order(user, tshirt, paid_at=EARNED - timedelta(hours=hours), refunded="499.00")
    other = UserFactory(phone=OTHER_PHONE)
    Order.objects.filter(pk=_order(other, tshirt, paid_at=EARNED).pk).update(phone=PHONE)
    account_fingerprint_record(user_id=user.pk, device_id=DEVICE, ip="203.0.113.7")
    account_fingerprint_record(user_id=other.pk, device_id=DEVICE, ip="203.0.113.7")
    MerchantCashback.objects.create(merchant=merchant, flagged_risky=True)
    _conversion(user, merchant, reported_at=EARNED - timedelta(hours=2), reference="S-9")
    return _entry(user, tshirt, amount="2400.00")


def test_the_score_is_capped_at_100(tshirt, merchant):
    assessment = risk_assess(entry=_everything_fires(tshirt, merchant))
    assert [hit.code for hit in _hits(assessment)] == list(DEFAULT_WEIGHTS)
    assert sum(hit.weight for hit in _hits(assessment)) == 195
    assert (assessment.score, assessment.level) == (100, "high")
    assert all(rule["reason"].endswith(".") for rule in assessment.rules)


# --- weights from settings ----------------------------------------------------------------------------------


def test_weights_are_overridden_from_settings(tshirt, settings):
    settings.CASHBACK_RISK_WEIGHTS = {"new_account": 60}
    user = UserFactory(date_joined=EARNED - timedelta(days=2))
    assessment = risk_assess(entry=_entry(user, tshirt))
    assert [(hit.code, hit.weight) for hit in _hits(assessment)] == [("new_account", 60)]
    assert (assessment.score, assessment.level) == (60, "high")


def test_a_weight_of_zero_turns_a_rule_off(tshirt, merchant, settings):
    settings.CASHBACK_RISK_WEIGHTS = {"new_account": 0, "risky_merchant": 0}
    assessment = risk_assess(entry=_everything_fires(tshirt, merchant))
    assert [hit.code for hit in _hits(assessment)] == [
        "velocity",
        "refund_ratio",
        "shared_phone",
        "shared_device",
        "shared_ip",
        "large_amount",
    ]


def test_unknown_rules_and_bad_weights_are_ignored_with_one_warning_each(settings, caplog):
    settings.CASHBACK_RISK_WEIGHTS = {"new_acount": 50, "velocity": 150, "shared_ip": -5, "large_amount": 40}
    with caplog.at_level(logging.WARNING, logger="cashback.services.risk"):
        weights = risk_weights()
        assert risk_weights() == weights
    assert weights == {**DEFAULT_WEIGHTS, "large_amount": 40}
    assert [record.getMessage() for record in caplog.records] == [
        "CASHBACK_RISK_WEIGHTS names an unknown risk rule 'new_acount'; ignored (rules: new_account, velocity, "
        "refund_ratio, shared_phone, shared_device, shared_ip, large_amount, risky_merchant).",
        "CASHBACK_RISK_WEIGHTS gives 'velocity' the weight 150, not a whole number from 0 to 100; the default 25 "
        "is used.",
        "CASHBACK_RISK_WEIGHTS gives 'shared_ip' the weight -5, not a whole number from 0 to 100; the default 15 "
        "is used.",
    ]


def test_a_malformed_threshold_setting_is_a_configuration_error(veteran, tshirt, settings):
    settings.CASHBACK_RISK_LARGE_AMOUNT = "lots"
    with pytest.raises(ImproperlyConfigured, match="CASHBACK_RISK_LARGE_AMOUNT must be a decimal number"):
        risk_assess(entry=_entry(veteran, tshirt))
    assert not RiskAssessment.objects.exists()


# --- cost -------------------------------------------------------------------------------------------------------


def test_the_assessment_costs_six_queries_whatever_the_history(tshirt, merchant, django_assert_num_queries):
    clean = _entry(UserFactory(date_joined=EARNED - timedelta(days=400)), tshirt)
    with django_assert_num_queries(6):
        risk_assess(entry=clean)
    busy = _everything_fires(tshirt, merchant)
    for days in range(20):
        _order(busy.user, tshirt, paid_at=EARNED - timedelta(days=days + 2), refunded="1.00")
        account_fingerprint_record(user_id=busy.user_id, ip=f"203.0.113.{days + 10}")
        account_fingerprint_record(user_id=UserFactory().pk, ip=f"203.0.113.{days + 10}")
    with django_assert_num_queries(6):
        assessment = risk_assess(entry=busy)
    assert assessment.score == 100
