"""Demo cashback for ``manage.py seed_demo`` (runs after the orders' and the payments' demo data: apps seed in
``INSTALLED_APPS`` order), so the wallet, the review queue and the withdrawals queue are not empty on a fresh
install. Everything goes through the services, as a real shopper's cashback would:

- **Merchant terms**: Urban Threads and TechHaven get a conversion secret (printed once, when it is created, so
  a developer can sign a ``POST cashback/conversions`` report); TechHaven is flagged as risky.
- **The demo shopper's orders** (``DEMO_SHOPPER_EMAIL``): the paid and the fulfilled orders earn *pending*
  cashback; the delivered one is confirmed early by the demo admin (the return window has not passed), credited,
  then the order is refunded in full, so its cashback is *reversed*.
- **The demo shopper's conversions** at Urban Threads, each a click on a live offer then a report signed with the
  merchant's secret: one *approved* (credited; from the review queue if its score is high), one *pending*, one
  reported then *cancelled* by the merchant (rejected). One large approved sale at the risky TechHaven stays
  *confirmed* with a high risk score, in the staff review queue.
- **Withdrawals** from that money: one to UPI left *requested*, one to a bank account approved and *paid* with a
  bank reference (the manual payout provider).
- **Two other shoppers** (``demo.rahul@example.com``, ``demo.meera@example.com``, no password) with large
  TechHaven sales in the review queue.

Idempotent: each part is made only when missing (secrets when a merchant has none, the shopper's conversions and
withdrawals when there are none, the other shoppers by email); the order cashback services are idempotent
themselves. Nothing happens without the demo admin, the demo shopper or the two merchants.
"""

import time
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from commerce.catalog.models import Merchant, MerchantStatus
from commerce.core.money import quantize
from commerce.offers.models import Offer
from commerce.offers.services.events import offer_click_record, offer_events_flush
from commerce.orders.models import Order, OrderStatus
from commerce.orders.services.transitions import order_record_refund

from .models import CashbackEntry, CashbackStatus, Conversion, RiskLevel, Withdrawal
from .services.calculation import cashback_rate_for
from .services.conversions import conversion_report_receive, conversion_signature
from .services.entries import (
    cashback_approve,
    cashback_assess,
    cashback_confirm,
    cashback_create_for_order,
    cashback_order_delivered,
    cashback_order_refunded,
)
from .services.merchant_terms import merchant_cashback_terms_get, merchant_conversion_secret_rotate
from .services.withdrawals import withdrawal_approve, withdrawal_mark_paid, withdrawal_request

MERCHANT_SLUG = "urban-threads"
RISKY_SLUG = "techhaven"
RISK_NOTE = "Demo: many orders returned after cashback was paid."
PAID_STATES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.DELIVERED)
# Cashback wanted from each conversion (the sale amount is worked out from the offer's rate).
CREDITED_CASHBACK = Decimal("400.00")
PENDING_CASHBACK = Decimal("64.00")
REJECTED_CASHBACK = Decimal("36.00")
REVIEW_CASHBACK = Decimal("2400.00")  # over CASHBACK_RISK_LARGE_AMOUNT: with the risky merchant, a high score
OTHER_SHOPPERS = [
    ("demo.rahul@example.com", "Rahul Verma", "2650.00"),
    ("demo.meera@example.com", "Meera Iyer", "3100.00"),
]
UPI_WITHDRAWAL = {"amount": "100.00", "method": "upi", "vpa": "asha.rao@okicici"}
BANK_WITHDRAWAL = {
    "amount": "150.00",
    "method": "bank",
    "account_number": "50100123456789",
    "ifsc": "HDFC0001234",
    "account_name": "Asha Rao",
}
BANK_REFERENCE = "HDFCN52026120812345"


def seed(*, stdout) -> None:
    admin = User.objects.filter(email=User.objects.normalize_email(settings.DEMO_ADMIN_EMAIL)).first()
    shopper = User.objects.filter(
        email=User.objects.normalize_email(settings.DEMO_SHOPPER_EMAIL or "shopper@example.com")
    ).first()
    merchants = {
        m.slug: m for m in Merchant.objects.filter(slug__in=[MERCHANT_SLUG, RISKY_SLUG], status=MerchantStatus.ACTIVE)
    }
    if admin is None or shopper is None or len(merchants) < 2:
        stdout.write("Cashback: no demo admin, demo shopper or demo merchants, no demo cashback.")
        return
    merchant, risky = merchants[MERCHANT_SLUG], merchants[RISKY_SLUG]
    secrets = {m.slug: _terms(merchant=m, admin=admin, stdout=stdout) for m in (merchant, risky)}
    if not merchant_cashback_terms_get(merchant_id=risky.pk).flagged_risky:
        terms = merchant_cashback_terms_get(merchant_id=risky.pk)
        terms.flagged_risky, terms.risk_note = True, RISK_NOTE
        terms.save(update_fields=["flagged_risky", "risk_note", "updated_at"])
    made = _order_cashback(shopper=shopper, admin=admin)
    if not Conversion.objects.filter(user=shopper).exists():
        made += _shopper_conversions(shopper=shopper, admin=admin, merchant=merchant, risky=risky, secrets=secrets)
    if not Withdrawal.objects.filter(user=shopper).exists():
        made += _withdrawals(shopper=shopper, admin=admin)
    made += _other_shoppers(risky=risky, secret=secrets[RISKY_SLUG])
    stdout.write(f"Cashback: {made} demo step(s) done." if made else "Cashback: demo cashback exists.")


def _terms(*, merchant: Merchant, admin: User, stdout) -> str:
    """The merchant's conversion secret, made (and printed once) when it has none."""
    terms = merchant_cashback_terms_get(merchant_id=merchant.pk)
    if terms.conversion_secret:
        return terms.conversion_secret
    secret = merchant_conversion_secret_rotate(merchant_id=merchant.pk, actor=admin)
    stdout.write(f"Cashback: {merchant.name} signs conversion reports with the secret {secret}")
    return secret


def _credit(entry_id: int, *, admin: User) -> None:
    """Risk-score a confirmed entry; a high score is approved by the demo admin, as staff would from the queue."""
    entry = cashback_assess(entry_id=entry_id)
    if entry.status == CashbackStatus.CONFIRMED and entry.risk_level == RiskLevel.HIGH:
        cashback_approve(entry_id=entry_id, actor=admin, note="Demo: checked with the merchant")


def _order_cashback(*, shopper: User, admin: User) -> int:
    """Pending cashback on the paid and fulfilled orders; the delivered order's credited, then reversed by a full
    refund. Each service is idempotent; the steps run only while their entry is in the state before them."""
    steps = 0
    for order in Order.objects.filter(user=shopper, status__in=PAID_STATES, paid_at__isnull=False).order_by("id"):
        if not CashbackEntry.objects.filter(order=order).exists():
            steps += cashback_create_for_order(order_id=order.pk) is not None
        if order.status != OrderStatus.DELIVERED:
            continue
        entry = cashback_order_delivered(order_id=order.pk)
        if entry is None or entry.status not in (CashbackStatus.PENDING, CashbackStatus.CONFIRMED):
            continue
        cashback_confirm(entry_id=entry.pk, actor=admin, note="Demo: confirmed before the return window")
        _credit(entry.pk, admin=admin)
        if order.refunded_amount < order.total:
            order_record_refund(
                order_id=order.pk, amount=order.total - order.refunded_amount, actor=admin, reference="demo-return"
            )
        cashback_order_refunded(order_id=order.pk)
        steps += 1
    return steps


def _live_offer(merchant: Merchant) -> Offer | None:
    return Offer.objects.live().filter(merchant=merchant).order_by("id").first()


def _report(*, user: User, merchant: Merchant, secret: str, cashback: Decimal, statuses: list[str], ref: str) -> None:
    """A click by ``user`` on the merchant's first live offer, then the merchant's signed reports of the sale, one
    per status in turn; the sale amount is what earns ``cashback`` at the offer's rate."""
    offer = _live_offer(merchant)
    if offer is None:
        return
    rate = cashback_rate_for(merchant=merchant, offer=offer)
    if rate <= 0:
        return
    click = offer_click_record(offer=offer, user_id=user.pk)
    offer_events_flush()  # the click must be in the database before the merchant reports on it
    sale = quantize(cashback * 100 / rate, settings.DEFAULT_CURRENCY)
    for status in statuses:
        now = timezone.now()
        timestamp = str(int(time.time()))
        body = (
            f'{{"click_id": "{click.click_id}", "reference": "{ref}", "amount": "{sale}", '
            f'"currency": "{settings.DEFAULT_CURRENCY}", "status": "{status}"}}'
        ).encode()
        conversion_report_receive(
            body=body,
            merchant_slug=merchant.slug,
            signature=conversion_signature(secret=secret, timestamp=timestamp, body=body),
            timestamp=timestamp,
            ip=None,
            now=now,
        )


def _shopper_conversions(*, shopper: User, admin: User, merchant: Merchant, risky: Merchant, secrets: dict) -> int:
    tag = f"DEMO-{shopper.pk}"  # references are unique per merchant; the shopper's conversions are made once
    secret = secrets[MERCHANT_SLUG]
    _report(user=shopper, merchant=merchant, secret=secret, cashback=CREDITED_CASHBACK, statuses=["approved"],
            ref=f"{tag}-1")  # fmt: skip
    _report(user=shopper, merchant=merchant, secret=secret, cashback=PENDING_CASHBACK, statuses=["pending"],
            ref=f"{tag}-2")  # fmt: skip
    _report(user=shopper, merchant=merchant, secret=secret, cashback=REJECTED_CASHBACK,
            statuses=["pending", "cancelled"], ref=f"{tag}-3")  # fmt: skip
    _report(user=shopper, merchant=risky, secret=secrets[RISKY_SLUG], cashback=REVIEW_CASHBACK,
            statuses=["approved"], ref=f"{tag}-4")  # fmt: skip
    # The approved Urban Threads sale is confirmed by its report; score it (and approve it if scored high).
    approved = CashbackEntry.objects.filter(
        user=shopper, merchant=merchant, conversion__isnull=False, status=CashbackStatus.CONFIRMED
    ).first()
    if approved is not None:
        _credit(approved.pk, admin=admin)
    for entry in CashbackEntry.objects.filter(user=shopper, merchant=risky, status=CashbackStatus.CONFIRMED):
        cashback_assess(entry_id=entry.pk)  # high: it stays confirmed, in the review queue
    return 4


def _withdrawals(*, shopper: User, admin: User) -> int:
    wallet = getattr(shopper, "wallet", None)
    needed = Decimal(UPI_WITHDRAWAL["amount"]) + Decimal(BANK_WITHDRAWAL["amount"])
    if wallet is None or wallet.available < needed:
        return 0
    paid = withdrawal_request(user_id=shopper.pk, **BANK_WITHDRAWAL)
    withdrawal_approve(withdrawal_id=paid.pk, actor=admin)
    withdrawal_mark_paid(withdrawal_id=paid.pk, reference=BANK_REFERENCE, actor=admin)
    withdrawal_request(user_id=shopper.pk, **UPI_WITHDRAWAL)
    return 2


def _other_shoppers(*, risky: Merchant, secret: str) -> int:
    """Two more shoppers (new accounts) with a large sale each at the risky merchant, waiting in the review
    queue."""
    made = 0
    for n, (email, name, cashback) in enumerate(OTHER_SHOPPERS, start=1):
        if User.objects.filter(email=email).exists():
            continue
        user = User.objects.create_user(email=email, password=None, full_name=name)
        _report(user=user, merchant=risky, secret=secret, cashback=Decimal(cashback), statuses=["approved"],
                ref=f"DEMO-{user.pk}-{n}")  # fmt: skip
        for entry in CashbackEntry.objects.filter(user=user, status=CashbackStatus.CONFIRMED):
            cashback_assess(entry_id=entry.pk)
        made += 1
    return made
