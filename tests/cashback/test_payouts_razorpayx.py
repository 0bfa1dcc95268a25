"""RazorpayX payouts through a fake transport: the request (body, paise, idempotency header, auth), the answers
(processing, processed, refused, reversed), and the failures (timeout, lost answer, 5xx) that leave the withdrawal
to be sent again with the same key and never paid twice."""

import base64
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission

from accounts.models import AuditEntry
from cashback.models import Wallet, WalletEntry, WalletEntryKind, Withdrawal, WithdrawalStatus
from cashback.payouts.base import PayoutUnavailable
from cashback.payouts.manual import ManualProvider
from cashback.payouts.razorpayx import RazorpayXProvider, payout_idempotency_key
from cashback.payouts.registry import payout_provider, payout_provider_named
from cashback.services.withdrawals import (
    withdrawal_approve,
    withdrawal_payout_send,
    withdrawal_reject,
    withdrawal_request,
    withdrawals_refresh_payouts,
)
from cashback.tasks.withdrawals import refresh_payouts, send_payout
from commerce.core.errors import Conflict
from tests.cashback.conftest import wallet_fund
from tests.cashback.razorpayx_fakes import ACCOUNT_NUMBER, KEY_ID, KEY_SECRET, install_fake_razorpayx
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def fake(monkeypatch, settings):
    return install_fake_razorpayx(monkeypatch, settings)


@pytest.fixture
def finance(db):
    group, _ = Group.objects.get_or_create(name="finance-test")
    group.permissions.add(Permission.objects.get(content_type__app_label="cashback", codename="review_withdrawal"))
    user = StaffFactory(email="finance@example.com")
    user.groups.add(group)
    return user


@pytest.fixture
def upi(shopper):
    wallet_fund(user=shopper, amount="1000.00")
    return withdrawal_request(user_id=shopper.pk, amount="250.50", method="upi", vpa="priya@okaxis")


def approve(withdrawal, finance, capture):
    """Approve as finance staff and run what is scheduled on commit (the send_payout task, eagerly)."""
    with capture(execute=True):
        withdrawal_approve(withdrawal_id=withdrawal.pk, actor=finance)
    withdrawal.refresh_from_db()
    return withdrawal


def balances(user):
    wallet = Wallet.objects.get(user=user)
    return wallet.available, wallet.held


# --- the registry --------------------------------------------------------------------------------------------


def test_razorpayx_is_used_only_when_all_three_settings_are_set(settings):
    settings.RAZORPAYX_KEY_ID, settings.RAZORPAYX_KEY_SECRET, settings.RAZORPAYX_ACCOUNT_NUMBER = "k", "s", ""
    assert isinstance(payout_provider(), ManualProvider)
    settings.RAZORPAYX_ACCOUNT_NUMBER = "2323230000000000"
    assert isinstance(payout_provider(), RazorpayXProvider)


def test_a_razorpayx_withdrawal_waits_while_razorpayx_is_not_configured(settings):
    settings.RAZORPAYX_KEY_ID = ""
    with pytest.raises(PayoutUnavailable):
        payout_provider_named("razorpayx")
    assert isinstance(payout_provider_named("manual"), ManualProvider)


# --- sending -------------------------------------------------------------------------------------------------


def test_approval_sends_the_upi_payout_on_commit(
    shopper, finance, upi, fake, eager_celery, django_capture_on_commit_callbacks
):
    withdrawal = approve(upi, finance, django_capture_on_commit_callbacks)

    assert [(call.method, call.path) for call in fake.calls] == [("GET", "/v1/payouts"), ("POST", "/v1/payouts")]
    lookup, create = fake.calls
    assert lookup.params == {"account_number": ACCOUNT_NUMBER, "reference_id": f"withdrawal-{withdrawal.pk}"}
    assert create.json == {
        "account_number": ACCOUNT_NUMBER,
        "amount": 25050,
        "currency": "INR",
        "mode": "UPI",
        "purpose": "cashback",
        "fund_account": {
            "account_type": "vpa",
            "vpa": {"address": "priya@okaxis"},
            "contact": {"name": f"Shopper {shopper.pk}", "type": "customer", "reference_id": f"user-{shopper.pk}"},
        },
        "queue_if_low_balance": True,
        "reference_id": f"withdrawal-{withdrawal.pk}",
        "narration": "Cashback withdrawal",
        "notes": {"withdrawal_id": str(withdrawal.pk)},
    }
    assert create.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
    key = create.headers["X-Payout-Idempotency"]
    assert key == payout_idempotency_key(withdrawal)
    assert re.fullmatch(r"[A-Za-z0-9_\- ]{4,36}", key)
    assert (withdrawal.status, withdrawal.provider, withdrawal.provider_reference) == (
        WithdrawalStatus.PROCESSING,
        "razorpayx",
        "pout_00000000000001",
    )
    assert balances(shopper) == (Decimal("749.50"), Decimal("250.50"))


def test_a_bank_payout_is_imps_to_the_bank_account(shopper, finance, fake):
    wallet_fund(user=shopper, amount="1000.00")
    withdrawal = withdrawal_request(
        user_id=shopper.pk,
        amount="100",
        method="bank",
        account_number="50100012341234",
        ifsc="HDFC0001234",
        account_name="Priya Sharma",
    )
    withdrawal_approve(withdrawal_id=withdrawal.pk, actor=finance)

    withdrawal_payout_send(withdrawal_id=withdrawal.pk)

    body = fake.created()[0].json
    assert (body["mode"], body["amount"]) == ("IMPS", 10000)
    assert body["fund_account"] == {
        "account_type": "bank_account",
        "bank_account": {"name": "Priya Sharma", "ifsc": "HDFC0001234", "account_number": "50100012341234"},
        "contact": {"name": "Priya Sharma", "type": "customer", "reference_id": f"user-{shopper.pk}"},
    }


def test_idempotency_keys_differ_between_withdrawals_and_hold_for_one(shopper, upi):
    other = withdrawal_request(user_id=shopper.pk, amount="100", method="upi", vpa="priya@okaxis")

    assert payout_idempotency_key(upi) == payout_idempotency_key(Withdrawal.objects.get(pk=upi.pk))
    assert payout_idempotency_key(upi) != payout_idempotency_key(other)


def test_a_payout_processed_at_once_is_paid(shopper, finance, upi, fake):
    fake.create_status = "processed"
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)

    withdrawal = withdrawal_payout_send(withdrawal_id=upi.pk)

    assert (withdrawal.status, withdrawal.provider_reference, withdrawal.paid_at) == (
        "paid",
        "pout_00000000000001",
        NOW,
    )
    assert withdrawal.utr == ""  # the fake's payout has no UTR yet; never the payout id in its place
    assert balances(shopper) == (Decimal("749.50"), Decimal("0.00"))


def test_processed_later_is_recorded_by_the_refresh_with_the_utr(shopper, finance, upi, fake):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)
    withdrawal_payout_send(withdrawal_id=upi.pk)
    assert withdrawals_refresh_payouts() == 0  # still processing at RazorpayX
    fake.settle("pout_00000000000001", "processed", utr="HDFCN52026030212345")

    assert refresh_payouts() == 1

    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.status, withdrawal.provider_reference) == ("paid", "pout_00000000000001")
    assert withdrawal.utr == "HDFCN52026030212345"
    assert balances(shopper) == (Decimal("749.50"), Decimal("0.00"))
    paid = AuditEntry.objects.get(action="withdrawal.paid")
    assert (paid.actor, paid.actor_label) == (None, "payout provider razorpayx")
    assert paid.after == {
        "status": "paid",
        "amount": "250.50",
        "reference": "pout_00000000000001",
        "utr": "HDFCN52026030212345",
    }
    assert [call.path for call in fake.calls].count("/v1/payouts/pout_00000000000001") == 2
    assert withdrawals_refresh_payouts() == 0  # nothing left in flight


def test_a_refused_payout_fails_and_releases_the_hold(shopper, finance, upi, fake):
    fake.refuse_next("Invalid VPA. Please enter a valid Virtual Payment Address")
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)

    withdrawal = withdrawal_payout_send(withdrawal_id=upi.pk)

    assert (withdrawal.status, withdrawal.failure_reason) == (
        "failed",
        "Invalid VPA. Please enter a valid Virtual Payment Address",
    )
    assert balances(shopper) == (Decimal("1000.00"), Decimal("0.00"))
    assert AuditEntry.objects.get(action="withdrawal.failed").after["reason"] == withdrawal.failure_reason


def test_a_reversed_payout_fails_with_the_banks_reason(shopper, finance, upi, fake):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)
    withdrawal_payout_send(withdrawal_id=upi.pk)
    fake.settle("pout_00000000000001", "reversed", description="Beneficiary account is closed.")

    assert withdrawals_refresh_payouts() == 1

    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.status, withdrawal.failure_reason) == ("failed", "Beneficiary account is closed.")
    assert balances(shopper) == (Decimal("1000.00"), Decimal("0.00"))
    assert list(WalletEntry.objects.filter(withdrawal=withdrawal).order_by("id").values_list("kind", flat=True)) == [
        WalletEntryKind.WITHDRAWAL_HOLD,
        WalletEntryKind.WITHDRAWAL_RELEASE,
    ]


# --- failures: never paid twice ----------------------------------------------------------------------------------


def test_a_timeout_leaves_it_processing_and_the_retry_uses_the_same_key(shopper, finance, upi, fake, frozen):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)
    fake.fail_next(method="POST", timeout=True)  # the create times out before reaching RazorpayX

    first = withdrawal_payout_send(withdrawal_id=upi.pk)
    assert (first.status, first.provider_reference) == ("processing", "")
    assert withdrawals_refresh_payouts() == 0 and len(fake.created()) == 1  # not stale yet: not sent again
    frozen.shift(timedelta(minutes=6))

    withdrawals_refresh_payouts()

    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.status, withdrawal.provider_reference) == ("processing", "pout_00000000000001")
    keys = [call.headers["X-Payout-Idempotency"] for call in fake.created()]
    assert keys == [payout_idempotency_key(withdrawal)] * 2
    assert len(fake.payouts) == 1
    assert balances(shopper) == (Decimal("749.50"), Decimal("250.50"))


def test_a_lost_answer_is_found_by_reference_and_not_created_again(shopper, finance, upi, fake, frozen):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)
    fake.fail_next(method="POST", after_create=True)  # created at RazorpayX, the answer lost on the way back
    withdrawal_payout_send(withdrawal_id=upi.pk)
    assert len(fake.payouts) == 1 and Withdrawal.objects.get().provider_reference == ""
    fake.settle("pout_00000000000001", "processed", utr="UTR1")
    frozen.shift(timedelta(minutes=6))

    assert withdrawals_refresh_payouts() == 1

    assert len(fake.created()) == 1  # found by its reference_id, never posted twice
    assert Withdrawal.objects.get().status == "paid"
    assert balances(shopper) == (Decimal("749.50"), Decimal("0.00"))


@pytest.mark.parametrize("status", [500, 502, 503, 429, 401])
def test_an_unavailable_razorpayx_leaves_it_processing(shopper, finance, upi, fake, status):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)
    fake.fail_next(method="POST", status=status)

    withdrawal = withdrawal_payout_send(withdrawal_id=upi.pk)

    assert (withdrawal.status, withdrawal.provider_reference) == ("processing", "")
    assert balances(shopper) == (Decimal("749.50"), Decimal("250.50"))
    assert AuditEntry.objects.filter(action__in=["withdrawal.paid", "withdrawal.failed"]).count() == 0


def test_a_fetch_that_fails_changes_nothing(shopper, finance, upi, fake):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)
    withdrawal_payout_send(withdrawal_id=upi.pk)
    fake.fail_next(timeout=True)

    assert withdrawals_refresh_payouts() == 0
    assert Withdrawal.objects.get().status == "processing"


def test_sending_twice_posts_once(finance, upi, fake):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)

    withdrawal_payout_send(withdrawal_id=upi.pk)
    withdrawal_payout_send(withdrawal_id=upi.pk)

    assert len(fake.created()) == 1


def test_a_withdrawal_being_paid_out_cannot_be_rejected(shopper, finance, upi, fake):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)
    withdrawal_payout_send(withdrawal_id=upi.pk)

    with pytest.raises(Conflict) as error:
        withdrawal_reject(withdrawal_id=upi.pk, actor=finance, reason="Too late.")

    assert error.value.code == "invalid_transition"
    assert balances(shopper) == (Decimal("749.50"), Decimal("250.50"))


def test_a_rejected_withdrawal_is_never_sent(finance, upi, fake):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)
    withdrawal_reject(withdrawal_id=upi.pk, actor=finance, reason="Changed my mind.")

    withdrawal = withdrawal_payout_send(withdrawal_id=upi.pk)

    assert (withdrawal.status, fake.calls) == ("rejected", [])


def test_an_approval_whose_task_was_lost_is_sent_by_the_sweep(finance, upi, fake, frozen):
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)  # the on-commit task never runs here
    assert withdrawals_refresh_payouts() == 0 and fake.calls == []
    frozen.shift(timedelta(minutes=6))

    withdrawals_refresh_payouts()

    assert len(fake.created()) == 1
    assert Withdrawal.objects.get().provider_reference == "pout_00000000000001"


def test_the_sweep_takes_at_most_limit_withdrawals(shopper, finance, upi, fake, frozen):
    second = withdrawal_request(user_id=shopper.pk, amount="100", method="upi", vpa="priya@okaxis")
    withdrawal_approve(withdrawal_id=upi.pk, actor=finance)
    withdrawal_approve(withdrawal_id=second.pk, actor=finance)
    frozen.shift(timedelta(minutes=6))

    withdrawals_refresh_payouts(limit=0)
    assert fake.calls == []
    withdrawals_refresh_payouts(limit=1)

    assert [call.json["reference_id"] for call in fake.created()] == [f"withdrawal-{upi.pk}"]


def test_the_send_task_skips_a_withdrawal_that_does_not_exist(fake):
    assert send_payout(987654) == "missing"
    assert fake.calls == []
