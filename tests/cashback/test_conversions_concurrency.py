"""Conversion reports racing on PostgreSQL: real parallel transactions (tests/concurrency.py)."""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from cashback.models import CashbackEntry, CashbackStatus, Conversion, ConversionReport, MerchantCashback
from cashback.services.conversions import conversion_report_receive
from commerce.core.errors import DomainError
from commerce.offers.models import OfferClick, OfferKind
from tests.concurrency import error_codes, run_together
from tests.offers.factories import OfferFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SECRET = "threads-secret-0123456789abcdefghijklmnopqrstuv"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def click(merchant, shopper):
    MerchantCashback.objects.create(merchant=merchant, conversion_secret=SECRET)
    offer = OfferFactory(
        merchant=merchant, kind=OfferKind.CASHBACK, code=None, destination_url="https://threads.example.com/sale"
    )
    return OfferClick.objects.create(offer=offer, user=shopper)


def receiver(click: OfferClick, status: str):
    body = json.dumps(
        {"click_id": str(click.click_id), "reference": "R-1", "amount": "1000.00", "currency": "INR", "status": status}
    ).encode()
    timestamp = str(int(NOW.timestamp()))
    signature = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return lambda: conversion_report_receive(
        body=body, merchant_slug="threads", signature=signature, timestamp=timestamp, ip="203.0.113.7"
    )


def test_ten_identical_first_reports_at_once_make_one_conversion_and_one_entry(click):
    results = run_together([receiver(click, "pending") for _ in range(10)])

    assert error_codes(results) == {"ok": 10}
    assert sorted(r["value"].created for r in results) == [False] * 9 + [True]
    assert Conversion.objects.count() == 1
    entry = CashbackEntry.objects.get()
    assert (entry.status, entry.amount) == (CashbackStatus.PENDING, Decimal("50.00"))
    assert sorted(ConversionReport.objects.values_list("outcome", flat=True)) == ["accepted"] + ["unchanged"] * 9


def test_approval_racing_cancellation_ends_cancelled_with_the_cashback_rejected(click):
    receiver(click, "pending")()

    results = run_together([receiver(click, "approved"), receiver(click, "cancelled")])

    # Approved first then cancelled: both succeed. Cancelled first: the approval is a backwards move.
    assert error_codes(results) in ({"ok": 2}, {"ok": 1, "conversion_conflict": 1})
    assert Conversion.objects.get().status == "cancelled"
    assert CashbackEntry.objects.get().status == CashbackStatus.REJECTED
    assert ConversionReport.objects.count() == 3


def test_a_refused_report_is_kept_although_its_transaction_rolled_back(click):
    receiver(click, "pending")()
    with pytest.raises(DomainError) as refused:
        conversion_report_receive(
            body=b"{}", merchant_slug="threads", signature="0" * 64, timestamp=str(int(NOW.timestamp())), ip=None
        )
    assert refused.value.code == "signature_invalid"
    conflicting = json.dumps(
        {"click_id": str(click.click_id), "reference": "R-1", "amount": "1.00", "currency": "INR", "status": "pending"}
    ).encode()
    timestamp = str(int(NOW.timestamp()))
    signature = hmac.new(SECRET.encode(), timestamp.encode() + b"." + conflicting, hashlib.sha256).hexdigest()
    with pytest.raises(DomainError) as conflict:
        conversion_report_receive(
            body=conflicting, merchant_slug="threads", signature=signature, timestamp=timestamp, ip=None
        )
    assert conflict.value.code == "conversion_conflict"

    assert list(ConversionReport.objects.order_by("id").values_list("outcome", "error_code", "conversion_id")) == [
        ("accepted", "", Conversion.objects.get().pk),
        ("refused", "signature_invalid", None),
        ("refused", "conversion_conflict", Conversion.objects.get().pk),
    ]
