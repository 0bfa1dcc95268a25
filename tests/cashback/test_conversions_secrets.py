"""Merchants' cashback terms and conversion secrets: get-or-create, rotation with a grace period, the audit row."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts.models import AuditEntry
from cashback.models import MerchantCashback
from cashback.services.conversions import conversion_signature
from cashback.services.merchant_terms import merchant_cashback_terms_get, merchant_conversion_secret_rotate
from tests.factories import StaffFactory

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def finance():
    return StaffFactory(email="finance@example.com")


def test_terms_are_created_once_and_empty(merchant):
    first = merchant_cashback_terms_get(merchant_id=merchant.pk)
    second = merchant_cashback_terms_get(merchant_id=merchant.pk)

    assert first.pk == second.pk
    assert MerchantCashback.objects.count() == 1
    assert (first.conversion_secret, first.previous_secret, first.max_cashback_per_order, first.flagged_risky) == (
        "",
        "",
        None,
        False,
    )


def test_the_first_secret_has_no_previous_one(merchant, finance):
    secret = merchant_conversion_secret_rotate(merchant_id=merchant.pk, actor=finance)

    terms = MerchantCashback.objects.get(merchant=merchant)
    assert len(secret) == 43  # token_urlsafe(32)
    assert (terms.conversion_secret, terms.previous_secret, terms.previous_secret_expires_at) == (secret, "", None)
    assert terms.secret_rotated_at == NOW


def test_rotation_keeps_the_old_secret_for_the_grace_period(merchant, finance, settings):
    settings.CASHBACK_SECRET_GRACE_HOURS = 24
    old = merchant_conversion_secret_rotate(merchant_id=merchant.pk, actor=finance)

    new = merchant_conversion_secret_rotate(merchant_id=merchant.pk, actor=finance)

    terms = MerchantCashback.objects.get(merchant=merchant)
    assert new != old
    assert (terms.conversion_secret, terms.previous_secret) == (new, old)
    assert terms.previous_secret_expires_at == NOW + timedelta(hours=24)


def test_rotation_is_audited_without_the_secret(merchant, finance):
    old = merchant_conversion_secret_rotate(merchant_id=merchant.pk, actor=finance)
    new = merchant_conversion_secret_rotate(merchant_id=merchant.pk, actor=finance)

    rows = list(AuditEntry.objects.filter(action="conversion.secret_rotated").order_by("id"))
    assert [(row.actor, row.target_type) for row in rows] == [(finance, "cashback.merchantcashback")] * 2
    assert rows[0].after == {"merchant_id": merchant.pk, "first_secret": True, "previous_valid_until": None}
    assert rows[1].after == {
        "merchant_id": merchant.pk,
        "first_secret": False,
        "previous_valid_until": (NOW + timedelta(hours=24)).isoformat(),
    }
    for row in rows:
        assert old not in str(row.before) + str(row.after)
        assert new not in str(row.before) + str(row.after)


def test_the_signature_is_hmac_sha256_over_the_timestamp_a_dot_and_the_body():
    # A fixed vector, so merchants' implementations can be checked against the documentation.
    assert conversion_signature(secret="s3cret", timestamp="1772445600", body=b'{"a":1}') == (
        "d93b70f5858f84c38e2b579c67cbcdcb7aefc25f5d798ec4639c22d92550b5de"
    )
