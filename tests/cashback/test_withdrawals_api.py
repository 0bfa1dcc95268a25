"""``GET/POST wallet/withdrawals``: validation, the minimum, the balance checks, the hold with its ledger row,
masking and ownership in the list with a fixed query count, and the ``Idempotency-Key``."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings

from cashback.models import Wallet, WalletEntry, WalletEntryKind, Withdrawal
from cashback.services.wallet import wallet_lock, wallet_post
from commerce.orders.models import IdempotencyRecord
from tests.cashback.conftest import wallet_fund
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/wallet/withdrawals"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
UPI = {"amount": "250.00", "method": "upi", "vpa": "priya@okaxis"}
BANK = {
    "amount": "250.00",
    "method": "bank",
    "account_number": "50100012341234",
    "ifsc": "hdfc0001234",
    "name": "Priya Sharma",
}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def post(client, body, key="wd-1"):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def balances(user):
    wallet = Wallet.objects.get(user=user)
    return wallet.available, wallet.held


# --- validation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "upi", "vpa": "priya@okaxis"}, "amount"),
        ({**UPI, "amount": "abc"}, "amount"),
        ({**UPI, "amount": "-250.00"}, "amount"),
        ({**UPI, "amount": "0"}, "amount"),
        ({**UPI, "amount": "250.001"}, "amount"),
        ({**UPI, "amount": 250.001}, "amount"),
        ({**UPI, "amount": "1e3"}, "amount"),
        ({**UPI, "amount": "NaN"}, "amount"),
        ({**UPI, "amount": " 250"}, "amount"),
        ({**UPI, "amount": "२५०"}, "amount"),
        ({**UPI, "amount": True}, "amount"),
        ({**UPI, "amount": None}, "amount"),
        ({**UPI, "amount": {"amount": "250.00"}}, "amount"),
        ({**UPI, "amount": "99999999999.00"}, "amount"),
        ({**UPI, "amount": 10**18}, "amount"),
        ({**UPI, "amount": "99.99"}, "amount"),
        ({"amount": "250.00", "vpa": "priya@okaxis"}, "method"),
        ({**UPI, "method": "cash"}, "method"),
        ({"amount": "250.00", "method": "upi"}, "vpa"),
        ({**UPI, "vpa": "priya"}, "vpa"),
        ({**UPI, "vpa": "p@okaxis"}, "vpa"),
        ({**UPI, "vpa": "priya@9axis"}, "vpa"),
        ({**UPI, "vpa": "priya@ok axis"}, "vpa"),
        ({**UPI, "vpa": "priya@okaxis\n"}, "vpa"),
        ({**UPI, "vpa": "prïya@okaxis"}, "vpa"),
        ({**UPI, "vpa": "a" * 95 + "@okaxis"}, "vpa"),
        ({**UPI, "vpa": 12345}, "vpa"),
        ({**UPI, "account_number": "50100012341234"}, "account_number"),
        ({**UPI, "name": "Priya"}, "name"),
        ({**BANK, "vpa": "priya@okaxis"}, "vpa"),
        ({key: value for key, value in BANK.items() if key != "account_number"}, "account_number"),
        ({**BANK, "account_number": "12345678"}, "account_number"),
        ({**BANK, "account_number": "1" * 19}, "account_number"),
        ({**BANK, "account_number": "5010001234123X"}, "account_number"),
        ({**BANK, "account_number": "٥٠١٠٠٠١٢٣٤١٢٣٤"}, "account_number"),
        ({key: value for key, value in BANK.items() if key != "ifsc"}, "ifsc"),
        ({**BANK, "ifsc": "HDFC1001234"}, "ifsc"),
        ({**BANK, "ifsc": "HDF00001234"}, "ifsc"),
        ({**BANK, "ifsc": "HDFC000123"}, "ifsc"),
        ({key: value for key, value in BANK.items() if key != "name"}, "name"),
        ({**BANK, "name": "   "}, "name"),
        ({**BANK, "name": "x" * 121}, "name"),
        ({**BANK, "name": "Priya\x00Sharma"}, "name"),
    ],
)
def test_bad_input_is_a_400_on_its_field_and_holds_nothing(shopper, shopper_client, body, field):
    wallet_fund(user=shopper, amount="1000.00")

    response = post(shopper_client, body)

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [field]
    assert Withdrawal.objects.count() == 0
    assert balances(shopper) == (Decimal("1000.00"), Decimal("0.00"))
    assert IdempotencyRecord.objects.count() == 0


def test_a_missing_idempotency_key_is_a_400(shopper, shopper_client):
    wallet_fund(user=shopper, amount="1000.00")

    response = shopper_client.post(URL, UPI, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["Idempotency-Key"]
    assert Withdrawal.objects.count() == 0


def test_the_minimum_is_withdrawal_minimum(shopper, shopper_client):
    wallet_fund(user=shopper, amount="1000.00")

    with override_settings(WITHDRAWAL_MINIMUM="500.00"):
        below = post(shopper_client, {**UPI, "amount": "499.99"}, key="a")
        at = post(shopper_client, {**UPI, "amount": "500"}, key="b")

    assert below.status_code == 400
    assert below.json()["fields"] == {"amount": ["The smallest withdrawal is 500.00 INR."]}
    assert at.status_code == 201
    assert at.json()["amount"] == {"amount": "500.00", "currency": "INR"}


def test_numbers_are_accepted_with_at_most_two_places(shopper, shopper_client):
    wallet_fund(user=shopper, amount="1000.00")

    whole = post(shopper_client, {**UPI, "amount": 150}, key="a")
    fraction = post(shopper_client, {**UPI, "amount": 150.5}, key="b")

    assert whole.json()["amount"] == {"amount": "150.00", "currency": "INR"}
    assert fraction.json()["amount"] == {"amount": "150.50", "currency": "INR"}
    assert balances(shopper) == (Decimal("699.50"), Decimal("300.50"))


# --- balance ---------------------------------------------------------------------------------------------------


def test_more_than_available_is_a_409_and_holds_nothing(shopper, shopper_client):
    wallet_fund(user=shopper, amount="200.00")

    response = post(shopper_client, {**UPI, "amount": "200.01"})

    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_balance",
        "detail": "Only 200.00 INR is available to withdraw.",
        "available": {"amount": "200.00", "currency": "INR"},
    }
    assert Withdrawal.objects.count() == 0
    assert balances(shopper) == (Decimal("200.00"), Decimal("0.00"))
    assert IdempotencyRecord.objects.count() == 0


def test_an_empty_wallet_is_a_409(shopper, shopper_client):
    response = post(shopper_client, UPI)

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_balance"
    assert response.json()["available"] == {"amount": "0.00", "currency": "INR"}


def test_a_negative_balance_refuses_every_withdrawal(shopper, shopper_client):
    wallet_fund(user=shopper, amount="1000.00")

    with transaction.atomic():
        wallet = wallet_lock(user_id=shopper.pk)
        wallet_post(wallet=wallet, kind=WalletEntryKind.ADJUSTMENT, amount=Decimal("-1050.00"), key="clawback")

    response = post(shopper_client, {**UPI, "amount": "100.00"})

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_balance"
    assert response.json()["detail"] == (
        "Your wallet balance is negative (-50.00 INR); withdrawals wait until it is positive."
    )
    assert Withdrawal.objects.count() == 0


def test_after_a_409_the_same_key_may_be_used_again(shopper, shopper_client):
    refused = post(shopper_client, UPI)
    wallet_fund(user=shopper, amount="300.00")

    accepted = post(shopper_client, UPI)

    assert (refused.status_code, accepted.status_code) == (409, 201)


# --- the hold ---------------------------------------------------------------------------------------------------


def test_a_upi_withdrawal_is_held_at_once_with_its_ledger_row(shopper, shopper_client):
    wallet_fund(user=shopper, amount="1000.00")

    response = post(shopper_client, UPI)

    assert response.status_code == 201
    withdrawal = Withdrawal.objects.get()
    assert response.json() == {
        "id": withdrawal.pk,
        "amount": {"amount": "250.00", "currency": "INR"},
        "method": "upi",
        "destination": "pr***@okaxis",
        "status": "requested",
        "created_at": "2026-03-02T10:00:00Z",
        "paid_at": None,
        "reference": "",
        "utr": "",
        "failure_reason": "",
    }
    assert (withdrawal.user, withdrawal.amount, withdrawal.currency, withdrawal.vpa) == (
        shopper,
        Decimal("250.00"),
        "INR",
        "priya@okaxis",
    )
    assert balances(shopper) == (Decimal("750.00"), Decimal("250.00"))
    hold = WalletEntry.objects.get(kind=WalletEntryKind.WITHDRAWAL_HOLD)
    assert (hold.amount, hold.held_amount, hold.balance_after, hold.held_after, hold.key, hold.withdrawal) == (
        Decimal("-250.00"),
        Decimal("250.00"),
        Decimal("750.00"),
        Decimal("250.00"),
        f"withdrawal-hold:{withdrawal.pk}",
        withdrawal,
    )


def test_a_bank_withdrawal_keeps_the_ifsc_upper_case_and_shows_the_number_masked(shopper, shopper_client):
    wallet_fund(user=shopper, amount="1000.00")

    response = post(shopper_client, BANK)

    assert response.status_code == 201
    assert response.json()["destination"] == "XXXXXX1234 (HDFC0001234)"
    assert "50100012341234" not in response.content.decode()
    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.method, withdrawal.account_number, withdrawal.ifsc, withdrawal.account_name) == (
        "bank",
        "50100012341234",
        "HDFC0001234",
        "Priya Sharma",
    )


def test_the_whole_available_balance_may_be_withdrawn(shopper, shopper_client):
    wallet_fund(user=shopper, amount="250.00")

    response = post(shopper_client, UPI)

    assert response.status_code == 201
    assert balances(shopper) == (Decimal("0.00"), Decimal("250.00"))


def test_anonymous_requests_are_refused(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, UPI, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 401


# --- idempotency -------------------------------------------------------------------------------------------------


def test_the_same_key_and_body_replay_the_201_with_one_withdrawal(shopper, shopper_client, frozen):
    wallet_fund(user=shopper, amount="1000.00")
    first = post(shopper_client, UPI)
    frozen.shift(timedelta(minutes=1))

    again = post(shopper_client, {"vpa": "priya@okaxis", "method": "upi", "amount": "250.00"})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Withdrawal.objects.count() == 1
    assert balances(shopper) == (Decimal("750.00"), Decimal("250.00"))
    record = IdempotencyRecord.objects.get()
    assert (record.user, record.scope, record.key, record.status_code) == (shopper, "withdrawal", "wd-1", 201)


def test_the_same_key_with_another_body_is_a_409(shopper, shopper_client):
    wallet_fund(user=shopper, amount="1000.00")
    post(shopper_client, UPI)

    response = post(shopper_client, {**UPI, "amount": "300.00"})

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert Withdrawal.objects.count() == 1


def test_keys_are_per_shopper_and_another_key_is_another_withdrawal(shopper, shopper_client, api_client):
    other = UserFactory()
    wallet_fund(user=shopper, amount="1000.00")
    wallet_fund(user=other, amount="1000.00")
    api_client.force_authenticate(other)

    mine = post(shopper_client, UPI)
    theirs = post(api_client, UPI)
    second = post(shopper_client, UPI, key="wd-2")

    assert mine.status_code == theirs.status_code == second.status_code == 201
    assert len({mine.json()["id"], theirs.json()["id"], second.json()["id"]}) == 3
    assert balances(shopper) == (Decimal("500.00"), Decimal("500.00"))


# --- the list ----------------------------------------------------------------------------------------------------


def test_the_list_is_the_shoppers_own_newest_first_masked(shopper, shopper_client, api_client, frozen):
    other = UserFactory()
    wallet_fund(user=shopper, amount="1000.00")
    wallet_fund(user=other, amount="1000.00")
    api_client.force_authenticate(other)
    post(api_client, UPI)
    post(shopper_client, UPI, key="a")
    frozen.shift(timedelta(hours=1))
    post(shopper_client, BANK, key="b")

    response = shopper_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["destination"] for row in body["results"]] == ["XXXXXX1234 (HDFC0001234)", "pr***@okaxis"]
    assert [row["created_at"] for row in body["results"]] == ["2026-03-02T11:00:00Z", "2026-03-02T10:00:00Z"]
    assert "50100012341234" not in response.content.decode()


@pytest.mark.parametrize("rows", [1, 6])
def test_the_list_costs_two_queries_whatever_its_length(shopper, shopper_client, django_assert_num_queries, rows):
    wallet_fund(user=shopper, amount="10000.00")
    for index in range(rows):
        post(shopper_client, UPI, key=f"k{index}")

    with django_assert_num_queries(2):  # the count, the page
        response = shopper_client.get(URL)

    assert len(response.json()["results"]) == rows


def test_bad_pages_are_400(shopper_client):
    assert shopper_client.get(URL, {"page": "0"}).status_code == 400
    assert shopper_client.get(URL, {"page_size": "101"}).status_code == 400
