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


def prepare(args: argparse.Namespace) -> int:
    _django()
    from django.db import transaction

    run_id = time.strftime("%Y%m%d%H%M%S")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare")
    prep.add_argument("--scenario", choices=["checkout", "flash-sale"], required=True)
    prep.add_argument("--shoppers", type=int, default=100)
    prep.add_argument("--flash-stock", type=int, default=50)
    prep.add_argument("--out", required=True)
    check = commands.add_parser("verify")
    check.add_argument("--data", required=True)
    check.add_argument("--expect-orders", type=int, default=None)
    args = parser.parse_args()
    return prepare(args) if args.command == "prepare" else verify(args)


if __name__ == "__main__":
    sys.exit(main())
