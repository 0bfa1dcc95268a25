"""Contract test: schemathesis fuzzes every operation of the live OpenAPI schema through the WSGI app, anonymous
and signed in as a shopper, and the server must agree with its schema.

Every operation is called anonymously; every operation that accepts a bearer token is called again signed in
(the others ignore tokens, so that run would only repeat the anonymous one).

Checks: ``not_a_server_error`` (no 5xx, whatever the input), ``status_code_conformance`` (every status is
documented for the operation), ``response_schema_conformance`` (every body matches its documented schema,
errors included) and ``negative_data_rejection`` (input the schema calls invalid is refused with a 4xx).

Bounded so CI stays fast and runs are reproducible: Hypothesis ``max_examples=20`` per operation, no deadline,
``derandomize=True`` (the same cases every run), Hypothesis phases explicit + generate (no shrinking: a failure
is reported with the case as generated); schemathesis phases examples, coverage (boundary values of each
documented limit) and fuzzing; positive and negative data.

A little data is seeded for every operation (a merchant, a category, products with variants, a live offer, the
shopper's saved search, a cart line, a saved address, a paid order of the shopper, and an order awaiting payment
with an open demo payment, and a saved payment method of the shopper), and positive cases of
operations with a path parameter use a real id, slug or order number, so details, changes and deletes are
exercised, not only 404s. The order is paid, so the first positive cancel succeeds and the invoice exists; the
cart line and the address may be gone after the first positive delete (later cases then get the documented 404).
Time is frozen (offers' live windows, tokens). The cache is cleared before every call: the sign-in and OTP
throttles (10/min, 3 codes per 10 min) would otherwise answer 429 after a few cases. (``override_settings``
cannot raise those rates: DRF throttles read their rates when the class is defined.)

Marked ``postgres`` and ``redis``: the full CI run holds the schema to PostgreSQL and Redis. To run it on the
embedded default while working on it: ``CONTRACT_ANY_DB=1 pytest tests/test_schemathesis.py``.
"""

import os
from datetime import datetime
from decimal import Decimal

import pytest
import schemathesis
import time_machine
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services.tokens import token_pair_issue
from commerce.catalog.models import SavedSearch
from commerce.orders.models import Cart, CartLine, OrderStatus
from config.wsgi import application
from payments.models import SavedPaymentMethod
from payments.services.payments import payment_start
from tests.catalog.factories import CategoryFactory, MerchantFactory, ProductFactory, ProductVariantFactory
from tests.factories import UserFactory
from tests.offers.factories import OfferFactory
from tests.orders.factories import AddressFactory, order_build

pytestmark = [pytest.mark.django_db]
if os.environ.get("CONTRACT_ANY_DB") != "1":
    pytestmark += [pytest.mark.postgres, pytest.mark.redis]

NOW = datetime.fromisoformat("2026-03-02T10:00:00+00:00")
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, negative_data_rejection]
BOUNDS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calls go through the WSGI handler, whose request signals close "old" database connections; inside a test
    transaction that would close the test's own connection (PostgreSQL), so detach them as Django's test client
    does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(frozen):
    """Seeded rows and the shopper's credentials: ``{"ids": {path parameter: value}, "token": access}``."""
    merchant = MerchantFactory(slug="acme", name="Acme")
    category = CategoryFactory(slug="kitchen", name="Kitchen")
    product = ProductFactory(merchant=merchant, category=category, slug="kettle", title="Steel kettle")
    kettle = ProductVariantFactory(product=product, price=Decimal("499.00"), stock_on_hand=5)
    mug = ProductVariantFactory(product=ProductFactory(merchant=merchant, category=category), price=Decimal("99.50"))
    offer = OfferFactory(merchant=merchant, code="SAVE10")
    shopper = UserFactory(email="shopper@example.com", phone="+919812345678")
    tokens = token_pair_issue(user=shopper)
    saved = SavedSearch.objects.create(user=shopper, name="Kettles", params={"q": "kettle"})
    session = OutstandingToken.objects.filter(user=shopper).latest("id")
    # The shopper's cart (a line to change or remove), a saved address and a paid order (cancellable, invoiced).
    cart = Cart.objects.create(user=shopper, merchant=merchant)
    line = CartLine.objects.create(cart=cart, variant=mug, quantity=1)
    address = AddressFactory(user=shopper, is_default=True)
    order = order_build(user=shopper, lines=[(kettle, 1), (mug, 2)], status=OrderStatus.PAID, number="ORD-7K3M9Q")
    # Payments: an order awaiting payment with an open demo payment (to start again or complete), and a saved
    # card of the shopper (kept by no provider customer, so listing serves it as stored and deleting forgets it).
    unpaid = order_build(user=shopper, lines=[(mug, 1)], number="ORD-4P8N2W")
    payment = payment_start(user=shopper, order_number=unpaid.number, provider="demo")
    method = SavedPaymentMethod.objects.create(
        user=shopper, provider="demo", provider_method_id="demo_pm_1", method="card", brand="visa", last4="4242"
    )
    return {
        "ids": {
            "slug": {
                "/api/v1/merchants/{slug}": merchant.slug,
                "/api/v1/products/{slug}": product.slug,
                "/api/v1/products/{slug}/recommendations": product.slug,
            },
            "id": {
                "/api/v1/offers/{id}": offer.pk,
                "/api/v1/me/saved-searches/{id}": saved.pk,
                "/api/v1/cart/lines/{id}": line.pk,
                "/api/v1/me/addresses/{id}": address.pk,
                "/api/v1/me/payment-methods/{id}": method.pk,
            },
            "pk": {"/api/v1/payments/demo/{pk}/complete": payment.pk},
            "session_id": {"/api/v1/me/sessions/{session_id}": session.pk},
            "number": {
                "/api/v1/orders/{number}": order.number,
                "/api/v1/orders/{number}/cancel": order.number,
                "/api/v1/orders/{number}/invoice": order.number,
                "/api/v1/orders/{number}/payments": unpaid.number,
            },
        },
        "token": tokens.access,
    }


def _use_real_ids(case, ids) -> None:
    """Point positive cases at seeded rows; negative cases keep their invalid values."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    for name in list(case.path_parameters or {}):
        real = ids.get(name, {}).get(case.path)
        if real is not None:
            case.path_parameters = {**case.path_parameters, name: real}


def _call(case, world, *, signed_in: bool) -> None:
    _use_real_ids(case, world["ids"])
    headers = None
    # A case that deliberately sends bad credentials (negative testing of the security scheme) keeps them.
    if signed_in and not case.operation.schema.is_security_param_negated(case):
        headers = {"Authorization": f"Bearer {world['token']}"}
    cache.clear()
    case.call_and_validate(checks=CHECKS, headers=headers)


@schema.parametrize()
@BOUNDS
def test_contract_anonymous(case, world):
    _call(case, world, signed_in=False)


def _accepts_tokens(ctx) -> bool:
    """Operations whose security lists the bearer scheme. The others have no authentication classes: a token
    sent to them is ignored (tested in tests/core/test_error_shape.py), so signed in they would repeat the
    anonymous run case for case."""
    return any("jwtAuth" in requirement for requirement in ctx.operation.definition.raw.get("security", []))


@schema.include(_accepts_tokens).parametrize()
@BOUNDS
def test_contract_signed_in_shopper(case, world):
    _call(case, world, signed_in=True)
