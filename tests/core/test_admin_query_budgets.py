"""Query budgets of the back office's large changelists.

Each list is loaded once to warm the per-process caches (content types, the site's permissions), then counted
with 1 row and again with 30 rows: the counts must be equal (no query per row) and within the stated budget.
Rows point at distinct related rows (merchants, categories, users), so a missing ``select_related`` shows.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEntry
from accounts.roles import MERCHANT_STAFF
from commerce.catalog.models import ProductImage
from commerce.notifications.models import Notification
from commerce.offers.models import OfferClick
from tests.catalog.conftest import build_product
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory, ProductVariantFactory
from tests.factories import StaffFactory, UserFactory
from tests.offers.factories import OfferFactory

pytestmark = pytest.mark.django_db

ROWS = 30

# Budgets: the queries of one changelist page whatever its length (session, user, OTP device, permissions, the
# count, the page, the filters' choices; merchant staff add their memberships). Measured on this release and
# kept two above, so that a new query per page is a deliberate change of the budget, and a query per row fails.
BUDGET = {
    "product": 10,
    "product, merchant staff": 14,
    "productvariant": 9,
    "productvariant, merchant staff": 13,
    "offer": 11,
    "offer, merchant staff": 15,
    "offerclick": 8,
    "auditentry": 11,
    "notification": 11,
    "order": 8,
    "order, merchant staff": 12,
    "payment": 7,
    "refund": 7,
    "webhookevent": 8,
}

URLS = {
    "product": "/admin/catalog/product/",
    "productvariant": "/admin/catalog/productvariant/",
    "offer": "/admin/offers/offer/",
    "offerclick": "/admin/offers/offerclick/",
    "auditentry": "/admin/accounts/auditentry/",
    "notification": "/admin/notifications/notification/",
    "order": "/admin/orders/order/",
    "payment": "/admin/payments/payment/",
    "refund": "/admin/payments/refund/",
    "webhookevent": "/admin/payments/webhookevent/",
}


@pytest.fixture(autouse=True)
def _frozen_clock():
    # One day for every row, so date hierarchies and date filters have the same shape at 1 and 30 rows.
    with time_machine.travel(datetime(2026, 5, 4, 10, 0, tzinfo=UTC), tick=False):
        yield


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def counts_at_1_and_30(client, url: str, add_rows) -> tuple[int, int]:
    add_rows(1)
    client.get(url)  # warm the per-process caches
    one = count_queries(client, url)
    add_rows(ROWS - 1)
    return one, count_queries(client, url)


def superuser_client(admin_login):
    return admin_login(StaffFactory(is_superuser=True))


def merchant_staff_client(admin_login, merchant):
    user = StaffFactory()
    user.groups.add(Group.objects.get(name=MERCHANT_STAFF))
    MerchantMembershipFactory(merchant=merchant, user=user)
    return admin_login(user)


def add_products(merchant=None):
    """Products with two variants and two images each (one uploaded, one by URL), each with its own category
    and, unless given, its own merchant."""

    def add(count: int) -> None:
        for _ in range(count):
            extra = {"merchant": merchant} if merchant is not None else {}
            product = build_product(prices=("499.00", "650.00"), image=True, **extra)
            ProductImage.objects.create(product=product, image="products/side.jpg", alt_text="Side", position=1)

    return add


def add_offers(merchant=None):
    def add(count: int) -> None:
        for index in range(count):
            extra = {"merchant": merchant} if merchant is not None else {}
            fixed = {"discount_type": "fixed", "discount_value": Decimal("50")} if index % 2 else {}
            OfferFactory(usage_limit=100, **fixed, **extra)

    return add


def test_product_changelist_for_a_superuser(admin_login):
    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["product"], add_products())

    assert one == thirty
    assert thirty <= BUDGET["product"]


def test_product_changelist_for_merchant_staff(admin_login):
    shop = MerchantFactory()
    client = merchant_staff_client(admin_login, shop)
    add_products()(3)  # other merchants' products: not listed

    one, thirty = counts_at_1_and_30(client, URLS["product"], add_products(shop))

    assert one == thirty
    assert thirty <= BUDGET["product, merchant staff"]


def add_variants(product=None):
    """Variants each of its own product (and merchant), unless ``product`` is given."""

    def add(count: int) -> None:
        for _ in range(count):
            ProductVariantFactory(product=product or build_product(prices=()))

    return add


def test_variant_changelist_for_a_superuser(admin_login):
    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["productvariant"], add_variants())

    assert one == thirty
    assert thirty <= BUDGET["productvariant"]


def test_variant_changelist_for_merchant_staff(admin_login):
    shop = MerchantFactory()
    client = merchant_staff_client(admin_login, shop)
    add_variants()(3)
    mine = build_product(merchant=shop, prices=())

    one, thirty = counts_at_1_and_30(client, URLS["productvariant"], add_variants(mine))

    assert one == thirty
    assert thirty <= BUDGET["productvariant, merchant staff"]


def test_offer_changelist_for_a_superuser(admin_login):
    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["offer"], add_offers())

    assert one == thirty
    assert thirty <= BUDGET["offer"]


def test_offer_changelist_for_merchant_staff(admin_login):
    shop = MerchantFactory()
    client = merchant_staff_client(admin_login, shop)
    add_offers()(3)

    one, thirty = counts_at_1_and_30(client, URLS["offer"], add_offers(shop))

    assert one == thirty
    assert thirty <= BUDGET["offer, merchant staff"]


def test_offer_click_changelist(admin_login):
    def add(count: int) -> None:
        for _ in range(count):
            OfferClick.objects.create(offer=OfferFactory(), user=UserFactory())

    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["offerclick"], add)

    assert one == thirty
    assert thirty <= BUDGET["offerclick"]


def test_audit_log_changelist(admin_login):
    def add(count: int) -> None:
        for _ in range(count):
            actor = StaffFactory()
            AuditEntry.objects.create(
                actor=actor, actor_label=actor.email, action="stock.adjusted", target_type="catalog.productvariant"
            )

    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["auditentry"], add)

    assert one == thirty
    assert thirty <= BUDGET["auditentry"]


def test_notification_changelist(admin_login):
    def add(count: int) -> None:
        for _ in range(count):
            user = UserFactory()
            Notification.objects.create(
                channel="email", recipient=user.email, user_id=user.pk, template="welcome", body="Hello"
            )

    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["notification"], add)

    assert one == thirty
    assert thirty <= BUDGET["notification"]


def add_orders(merchant=None):
    """Orders of two lines each, each order of its own shopper and, unless given, its own merchant."""
    from tests.catalog.factories import ProductFactory
    from tests.orders.factories import order_build

    def add(count: int) -> None:
        for index in range(count):
            extra = {"merchant": merchant} if merchant is not None else {}
            product = ProductFactory(**extra)
            lines = [(ProductVariantFactory(product=product, stock_on_hand=10), 1 + n) for n in range(2)]
            order_build(lines=lines, status="paid" if index % 2 else "pending_payment")

    return add


def test_order_changelist_for_a_superuser(admin_login):
    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["order"], add_orders())

    assert one == thirty
    assert thirty <= BUDGET["order"]


def test_order_changelist_for_merchant_staff(admin_login):
    shop = MerchantFactory()
    client = merchant_staff_client(admin_login, shop)
    add_orders()(3)  # other merchants' orders: not listed

    one, thirty = counts_at_1_and_30(client, URLS["order"], add_orders(shop))

    assert one == thirty
    assert thirty <= BUDGET["order, merchant staff"]


def add_payments(count: int) -> None:
    """Captured payments, each of its own order (and shopper and merchant), with one succeeded refund each."""
    import uuid

    from payments.models import Payment, Refund

    for order in _orders(count):
        payment = Payment.objects.create(
            order=order,
            user=order.user,
            provider="demo",
            status="captured",
            amount=order.total,
            currency=order.currency,
            captured_amount=order.total,
            refunded_amount=Decimal("1.00"),
            provider_order_id=f"demo_{uuid.uuid4().hex}",
            idempotency_key=uuid.uuid4().hex,
        )
        Refund.objects.create(
            payment=payment,
            amount=Decimal("1.00"),
            currency=order.currency,
            reason="Budget",
            status="succeeded",
            provider="demo",
            idempotency_key=uuid.uuid4().hex,
            requested_by=StaffFactory(),
        )


def _orders(count: int):
    from tests.catalog.factories import ProductFactory
    from tests.orders.factories import order_build

    for _ in range(count):
        variant = ProductVariantFactory(product=ProductFactory(), stock_on_hand=10)
        yield order_build(lines=[(variant, 1)], status="paid")


def test_payment_changelist(admin_login):
    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["payment"], add_payments)

    assert one == thirty
    assert thirty <= BUDGET["payment"]


def test_refund_changelist(admin_login):
    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["refund"], add_payments)

    assert one == thirty
    assert thirty <= BUDGET["refund"]


def test_webhook_event_changelist(admin_login):
    from payments.models import WebhookEvent

    def add(count: int) -> None:
        for index in range(count):
            WebhookEvent.objects.create(
                provider=("demo", "stripe", "razorpay")[index % 3],
                event_id=f"evt_{WebhookEvent.objects.count()}",
                type=("payment.succeeded", "charge.refunded")[index % 2],
                body='{"id": "evt"}' * 200,
                headers={"X-Demo-Signature": "0" * 64},
            )

    one, thirty = counts_at_1_and_30(superuser_client(admin_login), URLS["webhookevent"], add)

    assert one == thirty
    assert thirty <= BUDGET["webhookevent"]
