"""Data of the checkout benchmarks, prepared before a run and checked after it (run by ``run.py``).

    python loadtests/bench_data.py prepare --scenario checkout --shoppers 100 --out loadtests/results/checkout.json
    python loadtests/bench_data.py verify --data loadtests/results/flash-sale.json

``prepare`` (Django settings from the environment, as ``manage.py``):

- a "Bench Store" merchant with 20 public products of one variant each, topped up to a million units available
  (through the stock service, audited), so the checkout scenario measures checkout, not selling out;
- for ``flash-sale``, one new product with a variant of ``--flash-stock`` units and a SKU unique to the run;
- ``--shoppers`` new shoppers, unique to the run (no cart left over from an earlier run), all with the same
  password (hashed once) and a fresh JWT access token each (``token_pair_issue``), so locust does not spend the
  run hashing passwords; it writes their emails and tokens, the SKUs and the run id to ``--out``.

For ``webhooks`` (``--payments``, default 200): that many pending orders (one unit of a bench SKU each, placed
through the cart and checkout services by as many new shoppers), and a Stripe payment for each opened through
``payment_start`` with the real Stripe adapter, its HTTP answered in-process by :class:`BenchStripeHTTP` (a
``stripe.HTTPClient`` installed with the adapter's ``HTTP_CLIENT`` hook: nothing leaves the machine). It writes the
payments' PaymentIntent ids, amounts (minor units) and currency, and the webhook secret, to ``--out``.

For ``wallet``: ``--shoppers`` new shoppers whose wallets hold ``WALLET_FUNDS`` each, reached through
``WALLET_HISTORY`` ledger rows (staff-adjustment movements through the wallet service), so
``GET wallet/transactions`` pages through a real ledger. ``verify-wallet`` then checks, from the database, that the
run's withdrawals equal what locust saw created (``--expect``), that each shopper's held balance is the sum of their
withdrawals, and that ``wallets_audit`` finds every wallet equal to its ledger.

For ``loyalty-leaderboard``: ``--shoppers`` new shoppers (the readers, with tokens) and ``LB_MEMBERS`` more members,
each with ``LB_ENTRIES`` qualifying ``earn`` entries spread over the past six weeks, written through the ledger
service (``points_post``; the follow-up tasks are not queued here), then ``leaderboards_rebuild`` fills Redis.
``lb-writer`` is the earning load during the run: it posts qualifying ``earn`` entries through the ledger service
for random members at ``--rate`` per second for ``--duration`` seconds, each followed by its follow-ups run at once
(``CELERY_TASK_ALWAYS_EAGER``: tier, achievements and the leaderboard's ``leaderboard_record``, as the task does
after commit), and prints how many it wrote. ``verify-leaderboard`` then checks that every board read from Redis
(the top 100 and each member's own place for a sample) equals the ledger's database ranking.

``verify-webhooks`` checks what the webhook run left, from the database: every delivery of the run stored once
(the inbox count equals what locust saw accepted, with ``--expect``), none ``failed``, none still ``received``
(the backlog drained), every payment that received an event captured exactly once (captured amount equal to its
amount, its order paid with one ``paid`` event), and nothing flagged for staff.

``verify`` (flash sale) counts what the run sold and what the stock says, from the database:
``ordered`` (units in the run's orders that are not cancelled or expired) must equal ``allocated + deducted``
(units still reserved by unpaid orders plus units that left the stock on hand), and never exceed the stock the
sale started with. It checks once as the sale left it, then pays every second order through
``order_mark_paid`` (allocation becomes deduction, as when payments arrive) and checks again. It prints the
figures and exits non-zero on a mismatch, an oversell, or when locust's count of placed orders differs.
"""

import argparse
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_MERCHANT = "bench-store"
BENCH_PRODUCTS = 20
BENCH_AVAILABLE = 1_000_000
BENCH_PASSWORD = "bench-shopper-password-1"  # noqa: S105 (a local benchmark database only)


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()


def _bench_catalog(flash_stock: int | None, run_id: str) -> tuple[list[str], str | None]:
    from commerce.catalog.models import Category, Merchant, Product, ProductStatus, ProductVariant
    from commerce.catalog.services import (
        category_save,
        merchant_save,
        product_save,
        product_set_status,
        variant_create,
        variant_stock_set_on_hand,
    )

    merchant = Merchant.objects.filter(slug=BENCH_MERCHANT).first() or merchant_save(
        merchant=Merchant(name="Bench Store", slug=BENCH_MERCHANT, website="https://bench.example.com")
    )
    category = Category.objects.filter(slug="bench-goods").first() or category_save(
        category=Category(name="Bench goods", slug="bench-goods")
    )

    def product(slug: str, title: str) -> Product:
        existing = Product.objects.filter(slug=slug).first()
        if existing is not None:
            return existing
        built = product_save(product=Product(merchant=merchant, category=category, slug=slug, title=title))
        return product_set_status(product=built, status=ProductStatus.ACTIVE)

    skus = []
    for n in range(1, BENCH_PRODUCTS + 1):
        sku = f"BENCH-{n:02d}"
        variant = ProductVariant.objects.filter(sku=sku).first()
        if variant is None:
            item = product(f"bench-item-{n:02d}", f"Bench item {n:02d}")
            variant = variant_create(product=item, sku=sku, price=Decimal("249.00") + n)
        if variant.stock_available < BENCH_AVAILABLE:
            variant_stock_set_on_hand(
                variant_id=variant.pk, on_hand=variant.stock_allocated + BENCH_AVAILABLE, reason="benchmark top-up"
            )
        skus.append(sku)
    flash_sku = None
    if flash_stock is not None:
        flash_sku = f"FLASH-{run_id}"
        item = product(f"flash-{run_id.lower()}", f"Flash sale item {run_id}")
        variant_create(product=item, sku=flash_sku, price=Decimal("999.00"), stock_on_hand=flash_stock)
    return skus, flash_sku


def _bench_shoppers(count: int, run_id: str) -> list[dict[str, str]]:
    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from accounts.services.tokens import token_pair_issue

    password = make_password(BENCH_PASSWORD)
    emails = [f"bench-{run_id.lower()}-{n}@example.com" for n in range(count)]
    User.objects.bulk_create(
        [User(email=email, full_name=f"Bench shopper {n}", password=password) for n, email in enumerate(emails)]
    )
    users = User.objects.filter(email__in=emails).order_by("id")
    return [{"email": str(user.email), "access": token_pair_issue(user=user, login=False).access} for user in users]


class _BenchStripe:
    """Stripe's ``POST /v1/payment_intents`` answered in-process (see the module docstring)."""

    @staticmethod
    def client():
        import stripe

        class BenchStripeHTTP(stripe.HTTPClient):
            name = "bench"

            def request(self, method, url, headers, post_data=None, *, _usage=None):
                from urllib.parse import parse_qs, urlsplit

                if method.lower() != "post" or urlsplit(url).path != "/v1/payment_intents":
                    return json.dumps({"error": {"message": "not faked", "type": "api_error"}}), 500, {}
                form = parse_qs(post_data or "")
                key = (headers or {}).get("Idempotency-Key", "")
                intent_id = f"pi_bench_{key.replace('-', '')[:24]}"
                intent = {
                    "id": intent_id,
                    "object": "payment_intent",
                    "amount": int(form["amount"][0]),
                    "currency": form["currency"][0],
                    "status": "requires_payment_method",
                    "client_secret": f"{intent_id}_secret_bench",
                    "metadata": {"order_number": form.get("metadata[order_number]", [""])[0]},
                }
                return json.dumps(intent), 200, {"Request-Id": "req_bench"}

            def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
                raise NotImplementedError

            def close(self):
                return None

        return BenchStripeHTTP()


def _bench_payments(count: int, run_id: str, skus: list[str]) -> list[dict[str, object]]:
    from accounts.models import User
    from commerce.core.money import to_minor_units
    from commerce.orders.services.cart import cart_line_add, cart_read
    from commerce.orders.services.checkout import order_place
    from payments.gateways import stripe as stripe_adapter
    from payments.services.payments import payment_start

    stripe_adapter.HTTP_CLIENT = _BenchStripe.client()
    emails = [s["email"] for s in _bench_shoppers(count, f"{run_id}W")]
    address = {
        "name": "Bench Shopper",
        "line1": "14 Residency Road",
        "city": "Bengaluru",
        "state": "Karnataka",
        "postal_code": "560025",
        "country": "IN",
        "phone": "+919812345678",
    }
    payments = []
    for n, user in enumerate(User.objects.filter(email__in=emails).order_by("id")):
        cart_line_add(user=user, sku=skus[n % len(skus)], quantity=1)
        cart_read(user=user)
        order = order_place(user=user, shipping_address=dict(address))
        payment = payment_start(user=user, order_number=order.number, provider="stripe")
        payments.append(
            {
                "intent": payment.provider_order_id,
                "amount": to_minor_units(payment.amount, payment.currency),
                "currency": payment.currency.lower(),
            }
        )
    return payments


WALLET_FUNDS = Decimal("100000.00")
WALLET_HISTORY = 40


def _bench_wallets(shoppers: list[dict[str, str]], run_id: str) -> None:
    """Fund each shopper's wallet with ``WALLET_HISTORY`` adjustments adding up to ``WALLET_FUNDS``."""
    from django.db import transaction

    from accounts.models import User
    from cashback.models import WalletEntryKind
    from cashback.services.wallet import wallet_lock, wallet_post

    step = WALLET_FUNDS / WALLET_HISTORY
    for user in User.objects.filter(email__in=[s["email"] for s in shoppers]).order_by("id"):
        with transaction.atomic():
            wallet = wallet_lock(user_id=user.pk)
            for n in range(WALLET_HISTORY):
                wallet_post(
                    wallet=wallet,
                    kind=WalletEntryKind.ADJUSTMENT,
                    amount=step,
                    key=f"bench:{run_id}:{user.pk}:{n}",
                    reason="Benchmark funds",
                )


LB_MEMBERS = 2000
LB_ENTRIES = 3
LB_WEEKS = 6


def _lb_post(user_id: int, points: int, key: str, at: object) -> None:
    from django.db import transaction

    from loyalty.models import PointsEntryKind
    from loyalty.services.ledger import points_account_lock, points_post

    with transaction.atomic():
        account = points_account_lock(user_id=user_id)
        points_post(
            account=account,
            kind=PointsEntryKind.EARN,
            points=points,
            key=key,
            qualifying=True,
            rule_code="bench",
            reason="leaderboard benchmark",
            now=at,  # type: ignore[arg-type]
        )


def _bench_leaderboard(shoppers: list[dict[str, str]], run_id: str) -> list[int]:
    """Members with qualifying points over the past weeks (see the module docstring); their user ids."""
    import random
    from datetime import timedelta
    from unittest import mock

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import User
    from loyalty.services.leaderboard import leaderboards_rebuild

    password = make_password(BENCH_PASSWORD)
    emails = [f"bench-lb-{run_id.lower()}-{n}@example.com" for n in range(LB_MEMBERS)]
    first = ["Priya", "Ravi", "Asha", "Vikram", "Neha", "Arjun", "Kavya", "Rohan", "", "Meera"]
    last = ["Sharma", "Kumar", "Iyer", "Singh", "Das", "Nair", "", "Patel"]
    User.objects.bulk_create(
        [
            User(email=email, full_name=f"{first[n % 10]} {last[n % 8]}".strip(), password=password)
            for n, email in enumerate(emails)
        ]
    )
    member_ids = list(User.objects.filter(email__in=emails).values_list("pk", flat=True))
    member_ids += list(User.objects.filter(email__in=[s["email"] for s in shoppers]).values_list("pk", flat=True))
    now = timezone.now()
    rng = random.Random(run_id)
    # Each entry's follow-ups would go to a broker nobody reads during the preparation: the rebuild below does
    # the leaderboard's part at once.
    with mock.patch("loyalty.services.hooks.points_earned_schedule"):
        for user_id in member_ids:
            for n in range(LB_ENTRIES):
                at = now - timedelta(seconds=rng.randrange(LB_WEEKS * 7 * 86400))
                _lb_post(user_id, rng.randrange(10, 500), f"bench-lb:{run_id}:{user_id}:{n}", at)
    leaderboards_rebuild()
    return member_ids


def lb_writer(args: argparse.Namespace) -> int:
    """See the module docstring (``lb-writer``)."""
    _django()
    import random

    from django.utils import timezone

    data = json.loads(Path(args.data).read_text())
    members: list[int] = data["members"]
    rng = random.Random()
    started = time.monotonic()
    written = 0
    while time.monotonic() - started < args.duration:
        due = started + written / args.rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        user_id = rng.choice(members)
        _lb_post(user_id, rng.randrange(10, 500), f"bench-lb:{data['run_id']}:w:{os.getpid()}:{written}", None)
        written += 1
    elapsed = time.monotonic() - started
    print(f"lb-writer: {written} earning entries in {elapsed:.1f} s ({written / elapsed:.1f}/s) at {timezone.now()}")
    return 0


def verify_leaderboard(args: argparse.Namespace) -> int:
    """See the module docstring (``verify-leaderboard``)."""
    _django()
    import random
    from unittest import mock

    from loyalty.services import leaderboard as lb

    data = json.loads(Path(args.data).read_text())
    sample = random.Random(0).sample(data["members"], min(50, len(data["members"])))
    mismatches = 0
    for period in ("week", "month", "all"):
        for user_id in [None, *sample]:
            from_redis = lb.leaderboard_read(period=period, user_id=user_id, size=100)
            with mock.patch.object(lb, "enabled", lambda: False):
                from_database = lb.leaderboard_read(period=period, user_id=user_id, size=100)
            if from_redis != from_database:
                mismatches += 1
                if mismatches <= 3:
                    print(f"MISMATCH {period} user {user_id}:\n redis    {from_redis}\n database {from_database}")
    print(f"Leaderboards: {3 * (len(sample) + 1)} reads compared, {mismatches} differ from the ledger")
    print("OK: Redis ranks equal the ledger's" if not mismatches else "MISMATCH")
    return 1 if mismatches else 0


def prepare(args: argparse.Namespace) -> int:
    _django()
    from django.conf import settings
    from django.db import transaction

    run_id = time.strftime("%Y%m%d%H%M%S")
    if args.scenario == "webhooks":
        with transaction.atomic():
            skus, _ = _bench_catalog(None, run_id)
        payments = _bench_payments(args.payments, run_id, skus)
        data = {
            "run_id": run_id,
            "scenario": args.scenario,
            "webhook_secret": settings.STRIPE_WEBHOOK_SECRET,
            "payments": payments,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(data))
        return 0
    if args.scenario == "loyalty-leaderboard":
        shoppers = _bench_shoppers(args.shoppers, run_id)
        members = _bench_leaderboard(shoppers, run_id)
        data = {"run_id": run_id, "scenario": args.scenario, "shoppers": shoppers, "members": members}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(data))
        return 0
    if args.scenario == "wallet":
        shoppers = _bench_shoppers(args.shoppers, run_id)
        _bench_wallets(shoppers, run_id)
        data = {"run_id": run_id, "scenario": args.scenario, "shoppers": shoppers}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(data))
        return 0
    flash_stock = args.flash_stock if args.scenario == "flash-sale" else None
    with transaction.atomic():
        skus, flash_sku = _bench_catalog(flash_stock, run_id)
    shoppers = _bench_shoppers(args.shoppers, run_id)
    data = {
        "run_id": run_id,
        "scenario": args.scenario,
        "skus": skus,
        "flash_sku": flash_sku,
        "flash_stock": flash_stock,
        "password": BENCH_PASSWORD,
        "shoppers": shoppers,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(data))
    return 0


def _flash_figures(sku: str, started: int) -> dict[str, int]:
    from django.db.models import Sum

    from commerce.catalog.models import ProductVariant
    from commerce.orders.models import Order, OrderLine, OrderStatus

    variant = ProductVariant.objects.get(sku=sku)
    live = OrderLine.objects.filter(variant=variant).exclude(
        order__status__in=[OrderStatus.CANCELLED, OrderStatus.EXPIRED]
    )
    return {
        "orders": Order.objects.filter(lines__variant=variant).distinct().count(),
        "ordered": live.aggregate(total=Sum("quantity"))["total"] or 0,
        "allocated": variant.stock_allocated,
        "deducted": started - variant.stock_on_hand,
        "on_hand": variant.stock_on_hand,
    }


def _check(label: str, figures: dict[str, int], started: int) -> bool:
    taken = figures["allocated"] + figures["deducted"]
    oversold = max(figures["ordered"] - started, 0)
    print(
        f"{label}: stock {started}, orders {figures['orders']}, units ordered {figures['ordered']}, "
        f"allocated {figures['allocated']} + deducted {figures['deducted']} = {taken}, oversold {oversold}"
    )
    return figures["ordered"] == taken and not oversold and figures["allocated"] <= figures["on_hand"]


def verify(args: argparse.Namespace) -> int:
    """Check the flash sale's stock; then pay every second order through the transitions service (as a payment
    would) and check again, so the figures are proven with both allocated and deducted units."""
    _django()
    from commerce.orders.models import Order, OrderStatus
    from commerce.orders.services.transitions import order_mark_paid

    data = json.loads(Path(args.data).read_text())
    sku, started = data["flash_sku"], data["flash_stock"]
    figures = _flash_figures(sku, started)
    ok = _check(f"Flash sale {sku}", figures, started)
    if args.expect_orders is not None and args.expect_orders != figures["orders"]:
        print(f"MISMATCH: locust counted {args.expect_orders} placed orders, the database holds {figures['orders']}")
        ok = False
    pending = Order.objects.filter(lines__variant__sku=sku, status=OrderStatus.PENDING_PAYMENT).order_by("id")
    for order_id in list(pending.values_list("id", flat=True))[::2]:
        order_mark_paid(order_id=order_id, reference=f"bench-{order_id}")
    ok = _check("After paying every second order", _flash_figures(sku, started), started) and ok
    print("OK: units sold equal stock taken; zero oversell" if ok else "MISMATCH: units sold do not equal stock taken")
    return 0 if ok else 1


def verify_webhooks(args: argparse.Namespace) -> int:
    """See the module docstring (``verify-webhooks``)."""
    _django()
    from django.db.models import Count, F

    from commerce.orders.models import OrderEvent, OrderEventType, OrderStatus
    from payments.models import Payment, PaymentStatus, WebhookEvent

    data = json.loads(Path(args.data).read_text())
    prefix = f"evt_bench_{data['run_id']}_"
    inbox = WebhookEvent.objects.filter(provider="stripe", event_id__startswith=prefix)
    statuses = dict(inbox.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    intents = [p["intent"] for p in data["payments"]]
    touched = {json.loads(body)["data"]["object"]["id"] for body in inbox.values_list("body", flat=True)}
    payments = Payment.objects.filter(provider="stripe", provider_order_id__in=touched)
    captured = payments.filter(status=PaymentStatus.CAPTURED, captured_amount=F("amount")).count()
    paid_events = OrderEvent.objects.filter(order__payments__in=payments, type=OrderEventType.PAID).count()
    paid_orders = payments.filter(order__status=OrderStatus.PAID).count()
    flagged = OrderEvent.objects.filter(order__payments__provider_order_id__in=intents, type="flagged").count()
    stored = sum(statuses.values())
    print(
        f"Inbox: {stored} deliveries stored ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}); "
        f"{len(touched)} payments received events: {captured} captured, {paid_orders} orders paid, "
        f"{paid_events} paid events, {flagged} flagged"
    )
    ok = not statuses.get("failed") and not statuses.get("received")
    ok = ok and captured == len(touched) == paid_orders == paid_events and flagged == 0
    if args.expect is not None and args.expect != stored:
        print(f"MISMATCH: locust saw {args.expect} deliveries accepted, the inbox holds {stored}")
        ok = False
    print("OK: every delivery stored once and applied; each payment captured once" if ok else "MISMATCH")
    return 0 if ok else 1


def verify_wallet(args: argparse.Namespace) -> int:
    """See the module docstring (``verify-wallet``)."""
    _django()
    from django.db.models import Sum

    from cashback.models import OPEN_WITHDRAWAL_STATUSES, Wallet, Withdrawal
    from cashback.services.ledger_audit import wallets_audit

    data = json.loads(Path(args.data).read_text())
    wallets = Wallet.objects.filter(user__email__in=[s["email"] for s in data["shoppers"]])
    wallet_ids = list(wallets.values_list("id", flat=True))
    withdrawals = Withdrawal.objects.filter(wallet_id__in=wallet_ids)
    held = withdrawals.filter(status__in=OPEN_WITHDRAWAL_STATUSES).aggregate(total=Sum("amount"))["total"] or 0
    recorded = wallets.aggregate(total=Sum("held"))["total"] or 0
    mismatches = wallets_audit(wallet_ids=wallet_ids)
    count = withdrawals.count()
    print(
        f"Wallets: {len(wallet_ids)} checked, {len(mismatches)} mismatches; {count} withdrawals holding {held} "
        f"(wallets record {recorded} held)"
    )
    ok = not mismatches and held == recorded
    if args.expect is not None and args.expect != count:
        print(f"MISMATCH: locust saw {args.expect} withdrawals created, the database holds {count}")
        ok = False
    print("OK: every wallet equals its ledger; each withdrawal held once" if ok else "MISMATCH")
    return 0 if ok else 1


def webhook_backlog(args: argparse.Namespace) -> int:
    """Print ``<received> <processed or ignored> <failed>`` of the run's deliveries (for the runner's drain clock)."""
    _django()
    from django.db.models import Count

    from payments.models import WebhookEvent

    data = json.loads(Path(args.data).read_text())
    inbox = WebhookEvent.objects.filter(provider="stripe", event_id__startswith=f"evt_bench_{data['run_id']}_")
    counts = dict(inbox.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    done = counts.get("processed", 0) + counts.get("ignored", 0)
    print(counts.get("received", 0), done, counts.get("failed", 0))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare")
    prep.add_argument(
        "--scenario", choices=["checkout", "flash-sale", "webhooks", "wallet", "loyalty-leaderboard"], required=True
    )
    prep.add_argument("--payments", type=int, default=200, help="webhooks: pending Stripe payments to prepare")
    prep.add_argument("--shoppers", type=int, default=100)
    prep.add_argument("--flash-stock", type=int, default=50)
    prep.add_argument("--out", required=True)
    check = commands.add_parser("verify")
    check.add_argument("--data", required=True)
    check.add_argument("--expect-orders", type=int, default=None)
    hooks = commands.add_parser("verify-webhooks")
    hooks.add_argument("--data", required=True)
    hooks.add_argument("--expect", type=int, default=None)
    wallet = commands.add_parser("verify-wallet")
    wallet.add_argument("--data", required=True)
    wallet.add_argument("--expect", type=int, default=None)
    writer = commands.add_parser("lb-writer")
    writer.add_argument("--data", required=True)
    writer.add_argument("--rate", type=float, default=20.0, help="earning entries per second")
    writer.add_argument("--duration", type=float, default=30.0)
    lboard = commands.add_parser("verify-leaderboard")
    lboard.add_argument("--data", required=True)
    backlog = commands.add_parser("webhook-backlog")
    backlog.add_argument("--data", required=True)
    args = parser.parse_args()
    handlers = {
        "prepare": prepare,
        "verify": verify,
        "verify-webhooks": verify_webhooks,
        "verify-wallet": verify_wallet,
        "lb-writer": lb_writer,
        "verify-leaderboard": verify_leaderboard,
        "webhook-backlog": webhook_backlog,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
