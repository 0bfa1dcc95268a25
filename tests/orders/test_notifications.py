"""The shopper's order messages: which channel, when (after commit only), and what they say."""

from decimal import Decimal

import pytest
from django.db import transaction

from commerce.notifications import sms
from commerce.notifications.models import Notification
from commerce.orders.models import Order, OrderStatus
from commerce.orders.services.notify import KINDS, format_money, order_notify, order_notify_now
from commerce.orders.services.transitions import order_cancel, order_fulfil, order_mark_paid
from tests.factories import StaffFactory, UserFactory
from tests.orders.factories import order_build

pytestmark = pytest.mark.usefixtures("eager_celery", "no_achievements")


@pytest.fixture
def no_achievements(db):
    """These tests watch the order's own messages. A paid order also earns loyalty points and may unlock an
    achievement, whose message is tested in ``tests/loyalty``: switched off here so the outboxes stay exact."""
    from loyalty.models import Achievement

    Achievement.objects.update(is_active=False)


@pytest.fixture
def phone_only(db):
    return UserFactory(email=None, phone="+919800000001")


def _order(user, variant, quantity=2, status=OrderStatus.PENDING_PAYMENT):
    return order_build(user=user, lines=[(variant, quantity)], status=status)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("0", "INR", "₹0.00"),
        ("998", "INR", "₹998.00"),
        ("1299.5", "INR", "₹1,299.50"),
        ("123456.78", "INR", "₹1,23,456.78"),
        ("9999999999.99", "INR", "₹9,99,99,99,999.99"),
        ("-1500", "INR", "-₹1,500.00"),
        ("1234567.891", "USD", "$1,234,567.89"),
        ("12", "AED", "AED 12.00"),
        ("1500", "JPY", "¥1,500"),
    ],
)
def test_format_money(amount, currency, text):
    assert format_money(Decimal(amount), currency) == text


def test_the_placed_message_names_the_number_lines_total_and_payment_window(
    shopper, tshirt, django_capture_on_commit_callbacks, mailoutbox
):
    order = _order(shopper, tshirt)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        order_notify(order_id=order.pk, kind="placed")

    [message] = mailoutbox
    assert message.to == ["shopper@example.com"]
    assert message.subject == f"Order {order.number} placed: ₹998.00 to pay"
    assert message.body == (
        "Hi Asha Rao,\n\n"
        f"Thank you for your order {order.number}.\n\n"
        "  2 x Cotton T-shirt (TSHIRT-M)  ₹998.00\n\n"
        "Total: ₹998.00\n\n"
        "Please complete the payment within 30 minutes. Until then we hold the items for you;\n"
        "after that the order expires and they are released.\n\n"
        "The Commerce team\n"
    )
    notification = Notification.objects.get()
    assert (notification.template, notification.user_id, notification.channel) == (
        "orders/placed",
        shopper.pk,
        "email",
    )
    assert sms.outbox == []


def test_paying_sends_the_paid_message_only_after_commit(
    shopper, tshirt, django_capture_on_commit_callbacks, mailoutbox
):
    order = _order(shopper, tshirt)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order_mark_paid(order_id=order.pk, reference="pay_1")
        assert Notification.objects.count() == 0  # nothing rendered or stored while the order was locked
    with django_capture_on_commit_callbacks(execute=True):  # the commit: the message, then its delivery
        for callback in callbacks:
            callback()

    assert [message.subject for message in mailoutbox] == [f"Payment received for order {order.number}"]
    assert f"We have received your payment of ₹998.00 for order {order.number}." in mailoutbox[0].body


def test_the_shipped_message_names_carrier_and_tracking_number(
    shopper, tshirt, django_capture_on_commit_callbacks, mailoutbox
):
    order = _order(shopper, tshirt, status=OrderStatus.PAID)

    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk, carrier="Delhivery", tracking_number="DL123456")

    [message] = mailoutbox
    assert message.subject == f"Order {order.number} has shipped: Delhivery DL123456"
    assert message.body == (
        "Hi Asha Rao,\n\n"
        f"Your order {order.number} (₹998.00) is on its way.\n\n"
        "Carrier: Delhivery\n"
        "Tracking number: DL123456\n\n"
        "The Commerce team\n"
    )


def test_cancelling_an_unpaid_order_says_nothing_was_charged(
    shopper, tshirt, django_capture_on_commit_callbacks, mailoutbox
):
    order = _order(shopper, tshirt)

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk, actor=shopper, by_shopper=True)

    [message] = mailoutbox
    assert message.subject == f"Order {order.number} cancelled"
    assert message.body == (
        "Hi Asha Rao,\n\n"
        f"Your order {order.number} (₹998.00) has been cancelled at your request.\n\n"
        "You have not been charged.\n\n"
        "The Commerce team\n"
    )


def test_cancelling_a_paid_order_promises_the_refund_and_gives_the_shops_reason(
    shopper, tshirt, django_capture_on_commit_callbacks, mailoutbox
):
    order = _order(shopper, tshirt, status=OrderStatus.PAID)

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk, actor=StaffFactory(), reason="Out of stock at the warehouse.")
    staff_cancelled_without_reason = _order(shopper, tshirt, quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=staff_cancelled_without_reason.pk, actor=StaffFactory())

    body = mailoutbox[0].body
    assert f"Your order {order.number} (₹998.00) has been cancelled by the shop. We are sorry" in body
    assert "could not be completed.\nReason: Out of stock at the warehouse.\n" in body
    assert "Reason" not in mailoutbox[1].body
    assert "You have not been charged." in mailoutbox[1].body
    assert "Your payment of ₹998.00 will be refunded to the way you paid." in body
    assert "You have not been charged." not in body


def test_a_shopper_with_only_a_phone_gets_an_sms_instead(
    phone_only, tshirt, django_capture_on_commit_callbacks, mailoutbox
):
    order = _order(phone_only, tshirt)
    assert (order.email, order.phone) == ("", "+919800000001")

    with django_capture_on_commit_callbacks(execute=True):
        order_mark_paid(order_id=order.pk)
        order_fulfil(order_id=order.pk, carrier="BlueDart", tracking_number="BD-77")

    assert mailoutbox == []
    assert [(message.to, message.body) for message in sms.outbox] == [
        ("+919800000001", f"Commerce: payment of ₹998.00 received for order {order.number}. Thank you!"),
        (
            "+919800000001",
            f"Commerce: order {order.number} (₹998.00) has shipped with BlueDart, tracking number BD-77.",
        ),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_every_message_renders_for_both_channels(
    kind, shopper, phone_only, tshirt, mailoutbox, django_capture_on_commit_callbacks
):
    by_email = _order(shopper, tshirt, quantity=1)
    by_sms = _order(phone_only, tshirt, quantity=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert order_notify_now(order_id=by_email.pk, kind=kind).channel == "email"
        assert order_notify_now(order_id=by_sms.pk, kind=kind).channel == "sms"

    assert by_email.number in mailoutbox[0].subject
    assert "₹499.00" in mailoutbox[0].body
    assert by_sms.number in sms.outbox[0].body
    assert "₹499.00" in sms.outbox[0].body
    assert len(sms.outbox[0].body) <= 160


def test_the_order_email_is_used_over_the_accounts_current_one(
    shopper, tshirt, mailoutbox, django_capture_on_commit_callbacks
):
    order = _order(shopper, tshirt)
    shopper.email = "new-address@example.com"
    shopper.save(update_fields=["email"])

    with django_capture_on_commit_callbacks(execute=True):
        order_notify_now(order_id=order.pk, kind="paid")

    assert mailoutbox[0].to == ["shopper@example.com"]


def test_a_refused_address_or_number_is_logged_and_the_transition_still_happens(
    tshirt, phone_only, django_capture_on_commit_callbacks, mailoutbox, caplog
):
    bad_email = order_build(user=UserFactory(), lines=[(tshirt, 1)])
    Order.objects.filter(pk=bad_email.pk).update(email="not an email")
    bad_phone = order_build(user=phone_only, lines=[(tshirt, 1)])
    Order.objects.filter(pk=bad_phone.pk).update(phone="12345")

    with django_capture_on_commit_callbacks(execute=True):
        order_mark_paid(order_id=bad_email.pk)
        order_mark_paid(order_id=bad_phone.pk)

    assert list(Order.objects.filter(pk__in=[bad_email.pk, bad_phone.pk]).values_list("status", flat=True)) == [
        "paid",
        "paid",
    ]
    assert mailoutbox == []
    assert sms.outbox == []
    assert f"order {bad_email.number}: paid message not sent: 'not an email' is not a valid email address." in (
        caplog.text
    )
    assert f"order {bad_phone.number}: paid message not sent: '12345' is not a phone number in E.164 form." in (
        caplog.text
    )


def test_a_rolled_back_change_sends_nothing(shopper, tshirt, django_capture_on_commit_callbacks, mailoutbox):
    order = _order(shopper, tshirt)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        order_notify(order_id=order.pk, kind="placed")
        raise RuntimeError("checkout failed after the message was scheduled")

    assert mailoutbox == []
    assert Notification.objects.count() == 0


def test_an_unknown_message_kind_is_a_programming_error(db):
    with pytest.raises(ValueError, match="Unknown order message 'delivered'"):
        order_notify(order_id=1, kind="delivered")


def test_a_vanished_order_sends_nothing(db, mailoutbox):
    assert order_notify_now(order_id=999, kind="paid") is None
    assert mailoutbox == []
