"""The cashback demo data (``cashback/demo.py``) through ``manage.py seed_demo``: the demo shopper has cashback in
every state, a wallet that adds up and two withdrawals; other shoppers wait in the review queue; a second run
adds nothing."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command

from accounts.models import AuditEntry, User
from cashback.models import CashbackEntry, MerchantCashback, Wallet, WalletEntry, Withdrawal
from cashback.services.ledger_audit import wallets_audit_run

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 14, 30, tzinfo=UTC)


def seed(settings) -> str:
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-123!"
    settings.DEMO_SHOPPER_PASSWORD = "shopper-pass-123!"
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(settings) -> str:
    return seed(settings)


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_the_demo_shopper_has_cashback_in_every_state(seeded):
    shopper = User.objects.get(email="shopper@example.com")
    entries = list(
        CashbackEntry.objects.filter(user=shopper)
        .order_by("id")
        .values_list("source", "order__status", "merchant__slug", "status", "risk_level", "reversed_amount")
    )

    assert [entry[:4] for entry in entries] == [
        ("order", "delivered", "urban-threads", "reversed"),
        ("order", "fulfilled", "urban-threads", "pending"),
        ("order", "paid", "urban-threads", "pending"),
        ("conversion", None, "urban-threads", "credited"),
        ("conversion", None, "urban-threads", "pending"),
        ("conversion", None, "urban-threads", "rejected"),
        ("conversion", None, "techhaven", "confirmed"),
    ]
    reversed_ = CashbackEntry.objects.get(user=shopper, status="reversed")
    assert reversed_.reversed_amount == reversed_.amount > 0
    assert reversed_.order.refunded_amount == reversed_.order.total
    review = CashbackEntry.objects.get(user=shopper, status="confirmed")
    assert (review.risk_level, review.risk_score >= 50) == ("high", True)
    assert {rule["code"] for rule in review.risk_assessments.get().rules} >= {"risky_merchant", "large_amount"}
    assert CashbackEntry.objects.get(user=shopper, status="credited").amount == Decimal("400.00")


def test_the_demo_wallet_adds_up_with_one_withdrawal_requested_and_one_paid(seeded):
    shopper = User.objects.get(email="shopper@example.com")
    wallet = Wallet.objects.get(user=shopper)
    pending = sum(
        entry.net_amount for entry in CashbackEntry.objects.filter(user=shopper, status__in=["pending", "confirmed"])
    )

    assert list(Withdrawal.objects.filter(user=shopper).order_by("id").values_list("method", "amount", "status")) == [
        ("bank", Decimal("150.00"), "paid"),
        ("upi", Decimal("100.00"), "requested"),
    ]
    assert Withdrawal.objects.get(user=shopper, status="paid").provider_reference == "HDFCN52026120812345"
    # 400.00 credited, 250.00 withdrawn (100.00 of it still held); the refunded order's cashback came and went.
    assert (wallet.available, wallet.held, wallet.pending, wallet.lifetime_earned) == (
        Decimal("150.00"),
        Decimal("100.00"),
        pending,
        Decimal("400.00"),
    )
    assert wallet.entries.count() == 6  # credit and reversal, credit, hold and paid, hold
    result = wallets_audit_run()
    assert (result.checked, result.mismatches) == (Wallet.objects.count(), [])


def test_other_shoppers_wait_in_the_review_queue_riskiest_first(seeded):
    queue = list(
        CashbackEntry.objects.filter(status="confirmed", risk_level="high")
        .order_by("-risk_score", "id")
        .values_list("user__email", "merchant__slug")
    )

    assert sorted(queue) == sorted(
        [
            ("shopper@example.com", "techhaven"),
            ("demo.rahul@example.com", "techhaven"),
            ("demo.meera@example.com", "techhaven"),
        ]
    )


def test_two_merchants_have_a_secret_printed_once_and_the_risky_one_is_flagged(seeded):
    terms = {
        t.merchant.slug: t for t in MerchantCashback.objects.select_related("merchant").exclude(conversion_secret="")
    }

    assert sorted(terms) == ["techhaven", "urban-threads"]
    assert terms["techhaven"].flagged_risky is True
    assert terms["urban-threads"].flagged_risky is False
    for slug, name in (("urban-threads", "Urban Threads"), ("techhaven", "TechHaven")):
        line = f"Cashback: {name} signs conversion reports with the secret {terms[slug].conversion_secret}"
        assert line in seeded.splitlines()
    assert AuditEntry.objects.filter(action="conversion.secret_rotated").count() == 2


def test_every_money_step_of_staff_is_audited(seeded):
    actions = set(AuditEntry.objects.values_list("action", flat=True))

    assert {"cashback.approved", "withdrawal.approved", "withdrawal.paid"} <= actions


def test_a_second_seed_adds_nothing(seeded, settings):
    before = row_counts()
    ledger = list(WalletEntry.objects.order_by("id").values_list("key", "amount"))

    out = seed(settings)

    assert row_counts() == before
    assert list(WalletEntry.objects.order_by("id").values_list("key", "amount")) == ledger
    assert "Cashback: demo cashback exists." in out.splitlines()
    assert "signs conversion reports with the secret" not in out
