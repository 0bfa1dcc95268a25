"""The payments back office: read-only payments, refunds and webhook events; the Refund action for finance and
admin through the refund service (support and merchant staff cannot); Reprocess for the webhook inbox."""

import re
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from accounts.models import AuditEntry
from accounts.roles import ADMIN, CATALOG_MANAGER, FINANCE, MERCHANT_STAFF, SUPPORT
from commerce.orders.models import PaymentStatus as OrderPaymentStatus
from payments.gateways.demo import SIGNATURE_HEADER, demo_event_body, demo_sign
from payments.models import Payment, PaymentStatus, Refund, RefundStatus, WebhookEvent, WebhookStatus
from tests.catalog.factories import MerchantMembershipFactory
from tests.factories import StaffFactory

from .test_refunds import captured_payment, paid_order

pytestmark = pytest.mark.django_db

PAYMENTS = "/admin/payments/payment/"
REFUNDS = "/admin/payments/refund/"
WEBHOOKS = "/admin/payments/webhookevent/"
SAVE_BUTTONS = ('name="_save"', 'name="_continue"', 'name="_addanother"')


def staff(*roles, **fields):
    user = StaffFactory(**fields)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


def offered_actions(page: str) -> list[str]:
    if 'name="action"' not in page:
        return []
    return re.findall(r'<option value="(\w+)"', page.split('name="action"', 1)[1].split("</select>", 1)[0])


def run_action(client, url: str, action: str, ids, **data):
    payload = {"action": action, "_selected_action": list(ids), **data}
    if "apply" not in data:
        payload["index"] = "0"
    return client.post(url, payload, follow=True)


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def payment():
    return captured_payment(paid_order())


# --- who sees what --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "payments", "refunds", "webhooks", "actions"),
    [
        (ADMIN, 200, 200, 200, ["refund_payment"]),
        (FINANCE, 200, 200, 200, ["refund_payment"]),
        (SUPPORT, 200, 200, 403, []),
        (CATALOG_MANAGER, 403, 403, 403, None),
        (MERCHANT_STAFF, 403, 403, 403, None),
    ],
)
def test_each_role_sees_the_payments_desk_it_may_use(
    client, admin_login, payment, role, payments, refunds, webhooks, actions
):
    user = staff(role)
    if role == MERCHANT_STAFF:
        MerchantMembershipFactory(merchant=payment.order.merchant, user=user)  # even their own merchant's payments
    admin_login(user)

    listed = client.get(PAYMENTS)

    assert listed.status_code == payments
    assert client.get(REFUNDS).status_code == refunds
    assert client.get(WEBHOOKS).status_code == webhooks
    if actions is not None:
        assert offered_actions(listed.content.decode()) == actions


def test_nothing_about_money_is_editable(client, admin_login, payment):
    admin_login(staff(ADMIN))
    refund = Refund.objects.create(
        payment=payment, amount=Decimal("5.00"), currency="INR", reason="Test", provider="demo", idempotency_key="k1"
    )
    event = WebhookEvent.objects.create(provider="demo", event_id="evt_1", type="payment.succeeded", body="{}")

    for url in (f"{PAYMENTS}{payment.pk}/change/", f"{REFUNDS}{refund.pk}/change/", f"{WEBHOOKS}{event.pk}/change/"):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert not any(button in html for button in SAVE_BUTTONS), url
        assert 'name="amount"' not in html and 'name="status"' not in html
    for url in (f"{PAYMENTS}add/", f"{REFUNDS}add/", f"{WEBHOOKS}add/"):
        assert client.get(url).status_code == 403, url
    for url in (f"{PAYMENTS}{payment.pk}/delete/", f"{REFUNDS}{refund.pk}/delete/", f"{WEBHOOKS}{event.pk}/delete/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"{PAYMENTS}{payment.pk}/change/", {"amount": "1.00"}).status_code == 403
    payment.refresh_from_db()
    assert payment.amount == Decimal("998.00")


def test_the_payment_page_shows_its_figures_and_refunds(client, admin_login, payment):
    admin_login(staff(FINANCE))
    Refund.objects.create(
        payment=payment,
        amount=Decimal("100.00"),
        currency="INR",
        reason="Pending one",
        provider="demo",
        idempotency_key="k-pending",
    )

    html = client.get(f"{PAYMENTS}{payment.pk}/change/").content.decode()

    assert payment.order.number in html
    assert "998.00 INR" in html
    assert "898.00 INR" in html  # left to refund, less the pending refund
    assert "Pending one" in html


@pytest.mark.parametrize(
    ("term", "found"),
    [("order", True), ("intent", True), ("charge", True), ("nothing-like-it", False), ("\u202e%_", False)],
)
def test_search_by_order_number_or_the_providers_ids(client, admin_login, payment, term, found):
    Payment.objects.filter(pk=payment.pk).update(provider_order_id="pi_ABC123", provider_payment_id="ch_XYZ789")
    other = captured_payment(paid_order())
    admin_login(staff(FINANCE))
    query = {"order": payment.order.number, "intent": "pi_ABC123", "charge": "ch_XYZ789"}.get(term, term)

    listed = client.get(PAYMENTS, {"q": query})

    assert listed.status_code == 200
    ids = [row.pk for row in listed.context["cl"].result_list]
    assert ids == ([payment.pk] if found else [])
    assert other.pk not in ids


def test_filters_by_provider_status_and_method(client, admin_login, payment):
    Payment.objects.filter(pk=payment.pk).update(method="upi")
    failed = captured_payment(paid_order())
    Payment.objects.filter(pk=failed.pk).update(status=PaymentStatus.FAILED, captured_amount=0, method="card")
    admin_login(staff(FINANCE))

    def ids(**query):
        return [row.pk for row in client.get(PAYMENTS, query).context["cl"].result_list]

    assert ids(status__exact="captured") == [payment.pk]
    assert ids(method__exact="card") == [failed.pk]
    assert sorted(ids(provider__exact="demo")) == sorted([payment.pk, failed.pk])
    assert ids(provider__exact="stripe") == []


# --- the refund action ----------------------------------------------------------------------------------------


def test_finance_refunds_a_payment_with_an_amount_and_a_reason(client, admin_login, payment):
    user = staff(FINANCE, email="finance@example.com")
    admin_login(user)

    form = run_action(client, PAYMENTS, "refund_payment", [payment.pk])

    html = form.content.decode()
    assert form.status_code == 200
    assert 'data-payment-action="refund_payment"' in html
    assert 'name="amount"' in html and 'name="reason"' in html
    assert "998.00 INR" in html

    done = run_action(
        client, PAYMENTS, "refund_payment", [payment.pk], apply="yes", amount="250.00", reason="Parcel lost in transit"
    )

    assert page_messages(done) == [f"Refunded 250.00 INR of payment {payment.pk}."]
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.reason, refund.requested_by) == (
        Decimal("250.00"),
        RefundStatus.SUCCEEDED,
        "Parcel lost in transit",
        user,
    )
    entry = AuditEntry.objects.get(action="payment.refund_requested")
    assert (entry.actor, entry.after["amount"], entry.after["reason"]) == (user, "250.00", "Parcel lost in transit")
    payment.order.refresh_from_db()
    assert payment.order.payment_status == OrderPaymentStatus.PARTIALLY_REFUNDED


def test_a_refund_above_what_is_left_is_the_services_message(client, admin_login, payment):
    admin_login(staff(ADMIN))

    done = run_action(client, PAYMENTS, "refund_payment", [payment.pk], apply="yes", amount="998.01", reason="Too much")

    assert page_messages(done) == [
        f"Payment {payment.pk}: At most 998.00 INR of payment {payment.pk} can still be refunded."
    ]
    assert Refund.objects.count() == 0


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("", "Reason"),
        ("0", "Reason"),
        ("-1", "Reason"),
        ("1.005", "Reason"),
        ("abc", "Reason"),
        ("5", "  "),
        ("5", "a\u202eb"),
    ],
)
def test_a_bad_amount_or_reason_shows_the_form_again(client, admin_login, payment, amount, reason):
    admin_login(staff(FINANCE))

    page = run_action(client, PAYMENTS, "refund_payment", [payment.pk], apply="yes", amount=amount, reason=reason)

    assert page.status_code == 200
    assert 'data-payment-action="refund_payment"' in page.content.decode()
    assert page.context["form"].errors
    assert Refund.objects.count() == 0


def test_refunds_are_made_one_payment_at_a_time(client, admin_login, payment):
    other = captured_payment(paid_order())
    admin_login(staff(FINANCE))

    done = run_action(
        client, PAYMENTS, "refund_payment", [payment.pk, other.pk], apply="yes", amount="1.00", reason="Both"
    )

    assert page_messages(done) == ["Refund one payment at a time: each has its own amount."]
    assert Refund.objects.count() == 0


def test_support_cannot_refund_even_by_posting_the_action(client, admin_login, payment):
    admin_login(staff(SUPPORT))

    done = run_action(client, PAYMENTS, "refund_payment", [payment.pk], apply="yes", amount="10.00", reason="Please")

    assert done.status_code == 200
    assert Refund.objects.count() == 0
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("0.00")


# --- the webhook inbox ----------------------------------------------------------------------------------------


def demo_webhook(payment: Payment, *, status: str) -> WebhookEvent:
    body = demo_event_body(
        type="payment.succeeded", provider_order_id=payment.provider_order_id, amount=payment.amount, currency="INR"
    )
    return WebhookEvent.objects.create(
        provider="demo",
        event_id=f"demo_evt_{uuid.uuid4().hex}",
        type="payment.succeeded",
        body=body.decode(),
        headers={SIGNATURE_HEADER: demo_sign(body)},
        status=status,
        attempts=5 if status == WebhookStatus.FAILED else 0,
        last_error="OperationalError: database was down" if status == WebhookStatus.FAILED else "",
    )


def test_webhook_events_are_filtered_and_searched(client, admin_login):
    first = WebhookEvent.objects.create(provider="demo", event_id="evt_a", type="payment.succeeded", body="{}")
    WebhookEvent.objects.create(provider="stripe", event_id="evt_b", type="charge.refunded", body="{}")
    admin_login(staff(FINANCE))

    def ids(**query):
        return [row.pk for row in client.get(WEBHOOKS, query).context["cl"].result_list]

    assert ids(provider__exact="demo") == [first.pk]
    assert ids(type="payment.succeeded") == [first.pk]
    assert ids(q="evt_a") == [first.pk]
    assert len(ids(status__exact="received")) == 2


def test_finance_reprocesses_a_failed_webhook_event_and_it_is_applied_once(client, admin_login):
    order = paid_order(status="pending_payment")
    payment = Payment.objects.create(
        order=order,
        user=order.user,
        provider="demo",
        amount=order.total,
        currency="INR",
        provider_order_id="demo_reprocess",
        idempotency_key=uuid.uuid4().hex,
    )
    failed = demo_webhook(payment, status=WebhookStatus.FAILED)
    admin_login(staff(FINANCE))

    done = run_action(client, WEBHOOKS, "reprocess", [failed.pk])

    assert page_messages(done) == [f"Reprocessed {failed.event_id}: processed."]
    failed.refresh_from_db()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert failed.status == WebhookStatus.PROCESSED
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, order.total)
    assert order.payment_status == OrderPaymentStatus.PAID

    again = run_action(client, WEBHOOKS, "reprocess", [failed.pk])  # applying twice changes nothing

    assert page_messages(again) == [f"Reprocessed {failed.event_id}: processed."]
    payment.refresh_from_db()
    assert payment.captured_amount == order.total


def test_support_cannot_reprocess(client, admin_login, payment):
    event = demo_webhook(payment, status=WebhookStatus.FAILED)
    admin_login(staff(SUPPORT))

    run_action(client, WEBHOOKS, "reprocess", [event.pk])

    event.refresh_from_db()
    assert event.status == WebhookStatus.FAILED


# --- the payment page's "Refund…" button -------------------------------------------------------------------------


def test_the_payment_page_has_a_refund_button_for_finance_only(client, admin_login, payment):
    page = f"{PAYMENTS}{payment.pk}/change/"
    button = f"{PAYMENTS}{payment.pk}/refund/"
    admin_login(staff(FINANCE))
    assert button in client.get(page).content.decode()

    admin_login(staff(SUPPORT))
    assert button not in client.get(page).content.decode()
    assert client.get(button).status_code == 403
    assert client.post(button, {"apply": "yes", "amount": "5.00", "reason": "Support tries"}).status_code == 403
    assert Refund.objects.count() == 0


def test_finance_refunds_from_the_payment_page_and_returns_to_it(client, admin_login, payment):
    user = staff(FINANCE)
    admin_login(user)
    button = f"{PAYMENTS}{payment.pk}/refund/"

    form = client.get(button)
    assert form.status_code == 200
    html = form.content.decode()
    assert 'name="amount"' in html and 'name="_selected_action"' not in html
    assert f'href="{PAYMENTS}{payment.pk}/change/"' in html

    done = client.post(button, {"apply": "yes", "amount": "998.00", "reason": "Never delivered"}, follow=True)

    assert done.redirect_chain == [(f"{PAYMENTS}{payment.pk}/change/", 302)]
    assert page_messages(done) == [f"Refunded 998.00 INR of payment {payment.pk}."]
    refund = Refund.objects.get()
    assert (refund.amount, refund.requested_by, refund.status) == (Decimal("998.00"), user, RefundStatus.SUCCEEDED)
    payment.order.refresh_from_db()
    assert payment.order.payment_status == OrderPaymentStatus.REFUNDED

    again = client.post(button, {"apply": "yes", "amount": "1.00", "reason": "Once more"}, follow=True)
    assert page_messages(again) == [
        f"Payment {payment.pk}: At most 0.00 INR of payment {payment.pk} can still be refunded."
    ]


def test_the_refund_button_of_an_unknown_payment_is_404(client, admin_login):
    admin_login(staff(FINANCE))

    assert client.get(f"{PAYMENTS}999999/refund/").status_code == 404


def test_reprocessing_a_received_event_processes_it_once_more(client, admin_login):
    order = paid_order(status="pending_payment")
    payment = Payment.objects.create(
        order=order,
        user=order.user,
        provider="demo",
        amount=order.total,
        currency="INR",
        provider_order_id="demo_received",
        idempotency_key=uuid.uuid4().hex,
    )
    waiting = demo_webhook(payment, status=WebhookStatus.RECEIVED)
    admin_login(staff(ADMIN))

    done = run_action(client, WEBHOOKS, "reprocess", [waiting.pk])

    assert page_messages(done) == [f"Reprocessed {waiting.event_id}: processed."]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (WebhookStatus.PROCESSED, 1)
    order.refresh_from_db()
    assert order.payment_status == OrderPaymentStatus.PAID
