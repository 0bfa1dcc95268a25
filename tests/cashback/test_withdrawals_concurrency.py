"""Withdrawals under real parallel transactions (PostgreSQL): 20 withdrawals of 60.00 from 100.00 at once let
exactly one through; ten requests with one ``Idempotency-Key`` at once make one withdrawal and all answer it;
staff steps racing each other move the money once.

Each worker is a thread with its own connection (``tests/concurrency.py``), all released together; rows are
committed for real, so the wallet's row lock, the ledger's unique keys and the idempotency record's unique index
are the ones production relies on.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.test import APIClient

from cashback.models import Wallet, WalletEntry, WalletEntryKind, Withdrawal, WithdrawalStatus
from cashback.services.withdrawals import (
    withdrawal_approve,
    withdrawal_mark_paid,
    withdrawal_reject,
    withdrawal_request,
)
from commerce.orders.models import IdempotencyRecord
from tests.cashback.conftest import wallet_fund
from tests.concurrency import error_codes, run_together
from tests.factories import StaffFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/wallet/withdrawals"
BODY = {"amount": "60.00", "method": "upi", "vpa": "priya@okaxis"}


def balances(user) -> tuple[Decimal, Decimal]:
    wallet = Wallet.objects.get(user=user)
    return wallet.available, wallet.held


def ledger_sums(user) -> tuple[Decimal, Decimal]:
    rows = WalletEntry.objects.filter(wallet__user=user)
    return sum((row.amount for row in rows), Decimal("0")), sum((row.held_amount for row in rows), Decimal("0"))


def test_twenty_withdrawals_of_60_from_100_let_exactly_one_through(settings):
    settings.WITHDRAWAL_MINIMUM = "50.00"
    shopper = UserFactory()
    wallet_fund(user=shopper, amount="100.00")

    results = run_together(
        [
            lambda: withdrawal_request(user_id=shopper.pk, amount="60.00", method="upi", vpa="priya@okaxis")
            for _ in range(20)
        ]
    )

    assert error_codes(results) == {"ok": 1, "insufficient_balance": 19}
    assert Withdrawal.objects.count() == 1
    assert balances(shopper) == (Decimal("40.00"), Decimal("60.00"))
    assert ledger_sums(shopper) == (Decimal("40.00"), Decimal("60.00"))
    assert WalletEntry.objects.filter(kind=WalletEntryKind.WITHDRAWAL_HOLD).count() == 1


def test_ten_requests_with_one_key_at_once_make_one_withdrawal(settings):
    settings.WITHDRAWAL_MINIMUM = "50.00"
    shopper = UserFactory()
    wallet_fund(user=shopper, amount="1000.00")

    def request() -> tuple[int, dict]:
        client = APIClient()
        client.force_authenticate(shopper)
        response = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
        return response.status_code, response.json()

    results = run_together([request for _ in range(10)])

    assert error_codes(results) == {"ok": 10}
    withdrawal = Withdrawal.objects.get()
    answers = [result["value"] for result in results]
    assert [status for status, _ in answers] == [201] * 10
    assert {body["id"] for _, body in answers} == {withdrawal.pk}
    assert balances(shopper) == (Decimal("940.00"), Decimal("60.00"))
    assert IdempotencyRecord.objects.filter(scope="withdrawal").count() == 1


def test_approve_and_reject_racing_move_the_money_once():
    group, _ = Group.objects.get_or_create(name="finance-race")
    group.permissions.add(Permission.objects.get(content_type__app_label="cashback", codename="review_withdrawal"))
    staff = [StaffFactory() for _ in range(2)]
    for member in staff:
        member.groups.add(group)
    shopper = UserFactory()
    wallet_fund(user=shopper, amount="500.00")
    withdrawal = withdrawal_request(user_id=shopper.pk, amount="200.00", method="upi", vpa="priya@okaxis")

    results = run_together(
        [
            lambda: withdrawal_reject(withdrawal_id=withdrawal.pk, actor=staff[0], reason="Mismatch."),
            lambda: withdrawal_reject(withdrawal_id=withdrawal.pk, actor=staff[1], reason="Mismatch."),
            lambda: withdrawal_approve(withdrawal_id=withdrawal.pk, actor=staff[0]),
        ]
    )

    # Whatever the order, one rejection wins (an approval first may be followed by it); the other steps are 409.
    assert error_codes(results) in ({"ok": 1, "invalid_transition": 2}, {"ok": 2, "invalid_transition": 1})
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.REJECTED
    assert WalletEntry.objects.filter(kind=WalletEntryKind.WITHDRAWAL_RELEASE).count() == 1
    assert balances(shopper) == ledger_sums(shopper) == (Decimal("500.00"), Decimal("0.00"))


def test_two_staff_recording_the_payout_at_once_consume_the_hold_once():
    group, _ = Group.objects.get_or_create(name="finance-race")
    group.permissions.add(Permission.objects.get(content_type__app_label="cashback", codename="review_withdrawal"))
    staff = StaffFactory()
    staff.groups.add(group)
    shopper = UserFactory()
    wallet_fund(user=shopper, amount="500.00")
    withdrawal = withdrawal_request(user_id=shopper.pk, amount="200.00", method="upi", vpa="priya@okaxis")
    withdrawal_approve(withdrawal_id=withdrawal.pk, actor=staff)

    results = run_together(
        [lambda: withdrawal_mark_paid(withdrawal_id=withdrawal.pk, reference="UTR1", actor=staff) for _ in range(5)]
    )

    assert error_codes(results) == {"ok": 5}  # the same reference again is no change
    assert WalletEntry.objects.filter(kind=WalletEntryKind.WITHDRAWAL_PAID).count() == 1
    assert balances(shopper) == (Decimal("300.00"), Decimal("0.00"))
    assert ledger_sums(shopper) == balances(shopper)
