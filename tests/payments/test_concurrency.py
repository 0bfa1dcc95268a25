"""Payments under real parallel transactions (PostgreSQL): one payment per order and provider, one customer per
shopper and provider, a webhook delivered twice at once applied once, refunds racing never past the capture.

Workers are threads with their own database connections, started together on a barrier by
:func:`tests.orders.test_concurrency.run_together` (which also sets a ``lock_timeout``, so a lock wait that never
ends or a deadlock fails the test instead of hanging it). Rows are committed for real (``transaction=True``).
The providers are the demo gateway (no network) unless a test says otherwise.
"""

from decimal import Decimal

import pytest

from commerce.orders.models import OrderStatus
from payments.models import Payment, PaymentStatus, ProviderCustomer
from payments.services.methods import provider_customer_for
from payments.services.payments import payment_start
from tests.catalog.factories import ProductVariantFactory
from tests.factories import UserFactory
from tests.orders.factories import order_build
from tests.orders.test_concurrency import error_codes, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def pending_order(shopper, *, price="499.00"):
    variant = ProductVariantFactory(price=Decimal(price), stock_on_hand=10)
    return order_build(user=shopper, lines=[(variant, 1)], status=OrderStatus.PENDING_PAYMENT)


def test_eight_concurrent_starts_of_one_order_with_one_provider_make_one_payment(db):
    shopper = UserFactory()
    order = pending_order(shopper)

    results = run_together([lambda: payment_start(user=shopper, order_number=order.number, provider="demo")] * 8)

    assert error_codes(results) == {"ok": 8}
    payment = Payment.objects.get(order=order)
    assert {result["value"].pk for result in results} == {payment.pk}
    assert payment.status == PaymentStatus.CREATED
    assert payment.provider_order_id == f"demo_{payment.idempotency_key}"
    assert payment.amount == order.total


def test_concurrent_first_saves_make_one_customer_per_shopper_and_provider(db):
    shopper = UserFactory()

    results = run_together([lambda: provider_customer_for(user=shopper, provider="demo")] * 6)

    assert error_codes(results) == {"ok": 6}
    customer = ProviderCustomer.objects.get(user=shopper, provider="demo")
    assert {result["value"] for result in results} == {customer.customer_id}
