"""Withdrawal services: the staff steps (approve, reject, paid, failed) move the balances exactly along the
transitions, need finance staff, and are audited and notified after commit."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission

from accounts.models import AuditEntry
from cashback.models import Wallet, WalletEntry, WalletEntryKind, Withdrawal, WithdrawalStatus
from cashback.services.notify_withdrawals import withdrawal_notify_now
from cashback.services.withdrawals import (
    withdrawal_approve,
    withdrawal_mark_failed,
    withdrawal_mark_paid,
    withdrawal_payout_send,
    withdrawal_reject,
    withdrawal_request,
    withdrawals_refresh_payouts,
)
from commerce.core.errors import Conflict, InvalidInput, NotFoundError, PermissionDeniedError
from commerce.notifications.models import Notification
from tests.cashback.conftest import wallet_fund
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def finance(db):
    """Finance staff: a staff user with ``cashback.review_withdrawal`` (through a group, as the roles give it)."""
    group, _ = Group.objects.get_or_create(name="finance-test")
    group.permissions.add(Permission.objects.get(content_type__app_label="cashback", codename="review_withdrawal"))
    user = StaffFactory(email="finance@example.com")
    user.groups.add(group)
    return user


@pytest.fixture
def requested(shopper):
    """A requested UPI withdrawal of 250.00 from a wallet of 1000.00 (750.00 available, 250.00 held)."""
    wallet_fund(user=shopper, amount="1000.00")
    return withdrawal_request(user_id=shopper.pk, amount="250.00", method="upi", vpa="priya@okaxis")


def balances(user):
    wallet = Wallet.objects.get(user=user)
    return wallet.available, wallet.held


def ledger(withdrawal):
    return list(
        WalletEntry.objects.filter(withdrawal=withdrawal)
        .order_by("id")
        .values_list("kind", "amount", "held_amount", "balance_after", "held_after", "key")
    )


def audits(action):
    return list(AuditEntry.objects.filter(action=action).values_list("actor_id", "actor_label", "before", "after"))


# --- approve ---------------------------------------------------------------------------------------------------


def test_approve_records_the_reviewer_and_the_manual_provider_and_holds_on(
    shopper, finance, requested, django_capture_on_commit_callbacks, frozen
):
    frozen.shift(timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        approved = withdrawal_approve(withdrawal_id=requested.pk, actor=finance)

    approved.refresh_from_db()
    assert (approved.status, approved.provider, approved.reviewed_by, approved.reviewed_at) == (
        WithdrawalStatus.APPROVED,
        "manual",
        finance,
        NOW + timedelta(minutes=5),
    )
    assert balances(shopper) == (Decimal("750.00"), Decimal("250.00"))
    assert audits("withdrawal.approved") == [
        (
            finance.pk,
            "finance@example.com",
            {"status": "requested"},
            {"status": "approved", "amount": "250.00", "provider": "manual"},
        )
    ]
    notification = Notification.objects.get(template="withdrawals/approved")
    assert (notification.channel, notification.recipient, notification.subject) == (
        "email",
        "shopper@example.com",
        "Withdrawal of ₹250.00 approved",
    )
    assert "pr***@okaxis" in notification.body and "priya@okaxis" not in notification.body


def test_approving_twice_is_a_409(finance, requested):
    withdrawal_approve(withdrawal_id=requested.pk, actor=finance)

    with pytest.raises(Conflict) as error:
        withdrawal_approve(withdrawal_id=requested.pk, actor=finance)

    assert error.value.code == "invalid_transition"
    assert AuditEntry.objects.filter(action="withdrawal.approved").count() == 1


@pytest.mark.parametrize("who", ["shopper", "staff_without_permission", "inactive_finance", "nobody"])
def test_only_finance_staff_may_act(shopper, finance, requested, who):
    actor = {
        "shopper": shopper,
        "staff_without_permission": StaffFactory(),
        "inactive_finance": finance,
        "nobody": None,
    }[who]
    if who == "inactive_finance":
        finance.is_active = False
        finance.save()

    for step in (
        lambda: withdrawal_approve(withdrawal_id=requested.pk, actor=actor),
        lambda: withdrawal_reject(withdrawal_id=requested.pk, actor=actor, reason="No."),
    ):
        with pytest.raises(PermissionDeniedError):
            step()
    if actor is not None:
        with pytest.raises(PermissionDeniedError):
            withdrawal_mark_paid(withdrawal_id=requested.pk, reference="UTR1", actor=actor)
    requested.refresh_from_db()
    assert requested.status == WithdrawalStatus.REQUESTED
    assert AuditEntry.objects.filter(action__startswith="withdrawal.").count() == 0


def test_a_superuser_may_act(requested):
    admin = UserFactory(is_staff=True, is_superuser=True)

    assert withdrawal_approve(withdrawal_id=requested.pk, actor=admin).status == WithdrawalStatus.APPROVED


@pytest.mark.parametrize("withdrawal_id", [987654, "1", None, True])
def test_an_unknown_withdrawal_is_a_404(finance, withdrawal_id):
    with pytest.raises(NotFoundError):
        withdrawal_approve(withdrawal_id=withdrawal_id, actor=finance)


# --- reject ------------------------------------------------------------------------------------------------------


def test_reject_needs_a_reason_and_releases_the_hold(shopper, finance, requested, django_capture_on_commit_callbacks):
    for blank in ("", "   ", None):
        with pytest.raises(InvalidInput) as error:
            withdrawal_reject(withdrawal_id=requested.pk, actor=finance, reason=blank)
        assert list(error.value.fields) == ["reason"]

    with django_capture_on_commit_callbacks(execute=True):
        rejected = withdrawal_reject(withdrawal_id=requested.pk, actor=finance, reason="  Name does not match.  ")

    rejected.refresh_from_db()
    assert (rejected.status, rejected.failure_reason, rejected.reviewed_by) == (
        WithdrawalStatus.REJECTED,
        "Name does not match.",
        finance,
    )
    assert balances(shopper) == (Decimal("1000.00"), Decimal("0.00"))
    assert ledger(rejected) == [
        (
            "withdrawal_hold",
            Decimal("-250.00"),
            Decimal("250.00"),
            Decimal("750.00"),
            Decimal("250.00"),
            f"withdrawal-hold:{rejected.pk}",
        ),
        (
            "withdrawal_release",
            Decimal("250.00"),
            Decimal("-250.00"),
            Decimal("1000.00"),
            Decimal("0.00"),
            f"withdrawal-release:{rejected.pk}",
        ),
    ]
    release = WalletEntry.objects.get(kind=WalletEntryKind.WITHDRAWAL_RELEASE)
    assert (release.actor, release.reason) == (finance, "Name does not match.")
    assert audits("withdrawal.rejected") == [
        (
            finance.pk,
            "finance@example.com",
            {"status": "requested"},
            {"status": "rejected", "amount": "250.00", "reason": "Name does not match."},
        )
    ]
    notification = Notification.objects.get(template="withdrawals/rejected")
    assert "Reason: Name does not match." in notification.body


def test_an_approved_withdrawal_may_still_be_rejected_but_not_twice(shopper, finance, requested):
    withdrawal_approve(withdrawal_id=requested.pk, actor=finance)
    withdrawal_reject(withdrawal_id=requested.pk, actor=finance, reason="Duplicate account.")

    with pytest.raises(Conflict) as error:
        withdrawal_reject(withdrawal_id=requested.pk, actor=finance, reason="Again.")

    assert error.value.code == "invalid_transition"
    assert balances(shopper) == (Decimal("1000.00"), Decimal("0.00"))


# --- paid and failed ------------------------------------------------------------------------------------------------


def test_mark_paid_consumes_the_hold(shopper, finance, requested, django_capture_on_commit_callbacks, frozen):
    withdrawal_approve(withdrawal_id=requested.pk, actor=finance)
    frozen.shift(timedelta(hours=2))

    with django_capture_on_commit_callbacks(execute=True):
        paid = withdrawal_mark_paid(withdrawal_id=requested.pk, reference=" UTR123456789 ", actor=finance)

    paid.refresh_from_db()
    assert (paid.status, paid.provider_reference, paid.utr, paid.paid_at) == (
        WithdrawalStatus.PAID,
        "UTR123456789",
        "UTR123456789",  # a manual payout's reference is the bank's transfer reference
        NOW + timedelta(hours=2),
    )
    assert balances(shopper) == (Decimal("750.00"), Decimal("0.00"))
    assert ledger(paid)[-1] == (
        "withdrawal_paid",
        Decimal("0.00"),
        Decimal("-250.00"),
        Decimal("750.00"),
        Decimal("0.00"),
        f"withdrawal-paid:{paid.pk}",
    )
    assert audits("withdrawal.paid") == [
        (
            finance.pk,
            "finance@example.com",
            {"status": "approved"},
            {"status": "paid", "amount": "250.00", "reference": "UTR123456789"},
        )
    ]
    notification = Notification.objects.get(template="withdrawals/paid")
    assert notification.subject == "Withdrawal of ₹250.00 paid"
    assert "Reference: UTR123456789" in notification.body


def test_mark_paid_again_with_the_same_reference_changes_nothing_another_is_a_409(shopper, finance, requested):
    withdrawal_approve(withdrawal_id=requested.pk, actor=finance)
    withdrawal_mark_paid(withdrawal_id=requested.pk, reference="UTR1", actor=finance)

    again = withdrawal_mark_paid(withdrawal_id=requested.pk, reference="UTR1", actor=finance)
    with pytest.raises(Conflict):
        withdrawal_mark_paid(withdrawal_id=requested.pk, reference="UTR2", actor=finance)

    assert again.provider_reference == "UTR1"
    assert WalletEntry.objects.filter(kind=WalletEntryKind.WITHDRAWAL_PAID).count() == 1
    assert AuditEntry.objects.filter(action="withdrawal.paid").count() == 1
    assert balances(shopper) == (Decimal("750.00"), Decimal("0.00"))


def test_a_requested_withdrawal_cannot_be_paid_or_failed(finance, requested):
    for step in (
        lambda: withdrawal_mark_paid(withdrawal_id=requested.pk, reference="UTR1", actor=finance),
        lambda: withdrawal_mark_failed(withdrawal_id=requested.pk, reason="Bounced.", actor=finance),
    ):
        with pytest.raises(Conflict) as error:
            step()
        assert error.value.code == "invalid_transition"


def test_a_paid_withdrawal_cannot_be_rejected_or_failed(shopper, finance, requested):
    withdrawal_approve(withdrawal_id=requested.pk, actor=finance)
    withdrawal_mark_paid(withdrawal_id=requested.pk, reference="UTR1", actor=finance)

    with pytest.raises(Conflict):
        withdrawal_reject(withdrawal_id=requested.pk, actor=finance, reason="Late.")
    with pytest.raises(Conflict):
        withdrawal_mark_failed(withdrawal_id=requested.pk, reason="Late.", actor=finance)

    assert balances(shopper) == (Decimal("750.00"), Decimal("0.00"))


def test_a_reference_is_required_and_bounded(finance, requested):
    withdrawal_approve(withdrawal_id=requested.pk, actor=finance)

    for bad in ("", "  ", "x" * 101, "UTR\x001", 12345):
        with pytest.raises(InvalidInput) as error:
            withdrawal_mark_paid(withdrawal_id=requested.pk, reference=bad, actor=finance)
        assert list(error.value.fields) == ["reference"]


def test_mark_failed_releases_the_hold_once(shopper, finance, requested, django_capture_on_commit_callbacks):
    withdrawal_approve(withdrawal_id=requested.pk, actor=finance)

    with django_capture_on_commit_callbacks(execute=True):
        failed = withdrawal_mark_failed(withdrawal_id=requested.pk, reason="Account closed.", actor=finance)
    again = withdrawal_mark_failed(withdrawal_id=requested.pk, reason="Account closed.", actor=finance)

    assert (failed.status, failed.failure_reason, again.status) == ("failed", "Account closed.", "failed")
    assert balances(shopper) == (Decimal("1000.00"), Decimal("0.00"))
    assert [row[0] for row in ledger(failed)] == ["withdrawal_hold", "withdrawal_release"]
    assert audits("withdrawal.failed") == [
        (
            finance.pk,
            "finance@example.com",
            {"status": "approved"},
            {"status": "failed", "amount": "250.00", "reason": "Account closed."},
        )
    ]
    assert Notification.objects.filter(template="withdrawals/failed").count() == 1


def test_a_step_by_the_provider_is_audited_under_its_name(finance, requested):
    withdrawal_approve(withdrawal_id=requested.pk, actor=finance)

    withdrawal_mark_failed(withdrawal_id=requested.pk, reason="Invalid VPA.")

    assert audits("withdrawal.failed")[0][:2] == (None, "payout provider manual")


def test_the_manual_provider_sends_nothing_and_the_sweep_leaves_it_alone(shopper, finance, requested, frozen):
    withdrawal_approve(withdrawal_id=requested.pk, actor=finance)
    frozen.shift(timedelta(days=1))

    sent = withdrawal_payout_send(withdrawal_id=requested.pk)
    settled = withdrawals_refresh_payouts()

    assert (sent.status, settled) == (WithdrawalStatus.APPROVED, 0)
    assert balances(shopper) == (Decimal("750.00"), Decimal("250.00"))
    assert Withdrawal.objects.get().status == WithdrawalStatus.APPROVED


# --- messages ------------------------------------------------------------------------------------------------------


def test_each_step_sends_one_message_after_commit(shopper, finance, django_capture_on_commit_callbacks):
    wallet_fund(user=shopper, amount="1000.00")
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal = withdrawal_request(user_id=shopper.pk, amount="300", method="upi", vpa="priya@okaxis")
        assert Notification.objects.count() == 0  # nothing while the transaction was open
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal_approve(withdrawal_id=withdrawal.pk, actor=finance)
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal_mark_paid(withdrawal_id=withdrawal.pk, reference="UTR9", actor=finance)

    assert list(Notification.objects.order_by("id").values_list("template", "recipient")) == [
        ("withdrawals/requested", "shopper@example.com"),
        ("withdrawals/approved", "shopper@example.com"),
        ("withdrawals/paid", "shopper@example.com"),
    ]
    requested = Notification.objects.get(template="withdrawals/requested")
    assert requested.subject == "Withdrawal of ₹300.00 requested"
    assert "to pr***@okaxis (UPI)" in requested.body


def test_a_shopper_with_only_a_phone_gets_an_sms(finance):
    shopper = UserFactory(email=None, phone="+919800000001")
    wallet_fund(user=shopper, amount="500.00")
    withdrawal = withdrawal_request(
        user_id=shopper.pk,
        amount="120.00",
        method="bank",
        account_number="123456789012",
        ifsc="SBIN0004321",
        account_name="Ravi Kumar",
    )
    withdrawal_approve(withdrawal_id=withdrawal.pk, actor=finance)
    withdrawal_mark_paid(withdrawal_id=withdrawal.pk, reference="UTR77", actor=finance)

    notification = withdrawal_notify_now(withdrawal_id=withdrawal.pk, kind="paid")

    assert (notification.channel, notification.recipient) == ("sms", "+919800000001")
    assert notification.body == "Commerce: ₹120.00 paid to XXXXXX9012 (SBIN0004321), ref UTR77."
