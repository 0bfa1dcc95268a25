"""GET cashback, GET wallet, GET wallet/transactions: exact shapes (money and source objects), pagination, the
status filter, ownership and query budgets flat in the number of rows."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from cashback.models import CashbackStatus, Wallet
from tests.factories import UserFactory

from .test_selectors import conversion_entry, ledger_credit, order_entry, withdrawal_held

pytestmark = pytest.mark.django_db

CASHBACK = "/api/v1/cashback"
WALLET = "/api/v1/wallet"
TRANSACTIONS = "/api/v1/wallet/transactions"
NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def inr(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "INR"}


# --- GET cashback ---------------------------------------------------------------------------------------------


def test_cashback_rows_have_the_exact_shape(shopper_client, shopper, paid_order, merchant):
    with time_machine.travel(NOW, tick=False):
        order = paid_order()
        from_order = order_entry(order, amount="49.90", reversed_amount=Decimal("10.00"), expected_on=date(2026, 6, 3))
        ledger_credit(from_order)
        conversion_entry(
            user=shopper,
            merchant=merchant,
            reference="AMZ-77",
            amount="100.00",
            status=CashbackStatus.REJECTED,
            reason="The merchant cancelled the sale.",
        )

    response = shopper_client.get(CASHBACK)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    conversion, ordered = body["results"]
    assert ordered == {
        "id": from_order.pk,
        "source": {"type": "order", "number": order.number},
        "merchant": {"slug": "threads", "name": "Threads"},
        "amount": inr("39.90"),
        "original_amount": inr("49.90"),
        "status": "credited",
        "expected_on": "2026-06-03",
        "reason": "",
        "created_at": "2026-05-04T09:30:00Z",
        "credited_at": "2026-05-04T09:30:00Z",
    }
    assert conversion["source"] == {"type": "conversion", "merchant": "threads", "reference": "AMZ-77"}
    assert (conversion["status"], conversion["reason"]) == ("rejected", "The merchant cancelled the sale.")
    assert (conversion["expected_on"], conversion["credited_at"]) == (None, None)


def test_cashback_is_only_the_shoppers_own(shopper_client, shopper, paid_order):
    mine = order_entry(paid_order())
    order_entry(paid_order(user=UserFactory()))

    ids = [row["id"] for row in shopper_client.get(CASHBACK).json()["results"]]

    assert ids == [mine.pk]


def test_cashback_filters_by_status(shopper_client, paid_order):
    order_entry(paid_order())
    credited = order_entry(paid_order(), status=CashbackStatus.CREDITED)

    filtered = shopper_client.get(CASHBACK, {"status": "credited"}).json()
    blank = shopper_client.get(CASHBACK, {"status": ""}).json()

    assert [row["id"] for row in filtered["results"]] == [credited.pk]
    assert blank["count"] == 2


@pytest.mark.parametrize("status", ["paid", "CREDITED", "credited\x00", "ß" * 300])
def test_an_unknown_status_is_a_400(shopper_client, status):
    response = shopper_client.get(CASHBACK, {"status": status})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["status"]


def test_cashback_is_paginated(shopper_client, paid_order):
    entries = [order_entry(paid_order()) for _ in range(3)]

    first = shopper_client.get(CASHBACK, {"page_size": 2}).json()
    second = shopper_client.get(CASHBACK, {"page_size": 2, "page": 2}).json()

    assert first["count"] == 3
    assert [row["id"] for row in first["results"] + second["results"]] == [e.pk for e in reversed(entries)]
    assert shopper_client.get(CASHBACK, {"page": 3, "page_size": 2}).status_code == 400


@pytest.mark.parametrize("rows", [1, 6])
def test_the_cashback_list_costs_two_queries_whatever_the_rows(
    shopper_client, shopper, paid_order, merchant, django_assert_num_queries, rows
):
    for number in range(rows):
        order_entry(paid_order())
        conversion_entry(user=shopper, merchant=merchant, reference=f"SALE-{number}")

    with django_assert_num_queries(2):
        response = shopper_client.get(CASHBACK)

    assert response.json()["count"] == rows * 2


@pytest.mark.parametrize("url", [CASHBACK, WALLET, TRANSACTIONS])
def test_anonymous_is_a_401(api_client, url):
    response = api_client.get(url)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- GET wallet -----------------------------------------------------------------------------------------------


def test_a_shopper_without_a_wallet_gets_zeros_and_no_wallet(shopper_client, settings, django_assert_num_queries):
    settings.WITHDRAWAL_MINIMUM = "100.00"

    with django_assert_num_queries(1):
        response = shopper_client.get(WALLET)

    assert response.status_code == 200
    assert response.json() == {
        "available": inr("0.00"),
        "pending": inr("0.00"),
        "held": inr("0.00"),
        "lifetime_earned": inr("0.00"),
        "withdrawable": inr("0.00"),
        "minimum_withdrawal": inr("100.00"),
    }
    assert not Wallet.objects.exists()


def test_the_wallet_shows_its_balances(shopper_client, shopper, paid_order):
    ledger_credit(order_entry(paid_order(), amount="300.00"))
    withdrawal_held(user=shopper, amount="120.00")
    Wallet.objects.filter(user=shopper).update(pending=Decimal("12.50"))

    body = shopper_client.get(WALLET).json()

    assert body["available"] == inr("180.00")
    assert body["held"] == inr("120.00")
    assert body["pending"] == inr("12.50")
    assert body["lifetime_earned"] == inr("300.00")
    assert body["withdrawable"] == inr("180.00")


def test_a_negative_wallet_has_nothing_withdrawable(shopper_client, funded_wallet):
    funded_wallet("-15.00")

    body = shopper_client.get(WALLET).json()

    assert body["available"] == inr("-15.00")
    assert body["withdrawable"] == inr("0.00")


def test_the_wallet_is_the_shoppers_own(shopper_client, funded_wallet):
    funded_wallet("75.00", user=UserFactory())

    assert shopper_client.get(WALLET).json()["available"] == inr("0.00")


# --- GET wallet/transactions ------------------------------------------------------------------------------------


def test_transactions_have_the_exact_shape_newest_first(shopper_client, shopper, paid_order):
    with time_machine.travel(NOW, tick=False):
        order = paid_order()
        entry = order_entry(order, amount="300.00")
        ledger_credit(entry)
        withdrawal = withdrawal_held(user=shopper, amount="120.00")

    response = shopper_client.get(TRANSACTIONS)

    assert response.status_code == 200
    hold, credit = response.json()["results"]
    ledger = {row.kind: row.pk for row in Wallet.objects.get(user=shopper).entries.all()}
    assert hold == {
        "id": ledger["withdrawal_hold"],
        "kind": "withdrawal_hold",
        "amount": inr("-120.00"),
        "held_amount": inr("120.00"),
        "balance_after": inr("180.00"),
        "description": "Withdrawal to UPI pr***@okaxis",
        "created_at": "2026-05-04T09:30:00Z",
    }
    assert credit == {
        "id": ledger["cashback_credit"],
        "kind": "cashback_credit",
        "amount": inr("300.00"),
        "held_amount": inr("0.00"),
        "balance_after": inr("300.00"),
        "description": f"Cashback for order {order.number}",
        "created_at": "2026-05-04T09:30:00Z",
    }
    assert withdrawal.pk


def test_transactions_are_only_the_shoppers_own_and_paginated(shopper_client, shopper, funded_wallet):
    funded_wallet("10.00", user=UserFactory())
    for _ in range(3):
        funded_wallet("5.00")

    first = shopper_client.get(TRANSACTIONS, {"page_size": 2}).json()
    second = shopper_client.get(TRANSACTIONS, {"page_size": 2, "page": 2}).json()

    assert first["count"] == 3
    assert [row["balance_after"]["amount"] for row in first["results"] + second["results"]] == [
        "15.00",
        "10.00",
        "5.00",
    ]


@pytest.mark.parametrize("rows", [1, 5])
def test_transactions_cost_two_queries_whatever_the_rows(
    shopper_client, shopper, paid_order, merchant, funded_wallet, django_assert_num_queries, rows
):
    funded_wallet("1000.00")
    for number in range(rows):
        ledger_credit(order_entry(paid_order()))
        ledger_credit(conversion_entry(user=shopper, merchant=merchant, reference=f"S-{number}"))
        withdrawal_held(user=shopper, amount="100.00", method="bank" if number % 2 else "upi")

    with django_assert_num_queries(2):
        response = shopper_client.get(TRANSACTIONS)

    assert response.json()["count"] == 1 + rows * 3
