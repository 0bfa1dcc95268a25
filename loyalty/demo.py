"""Demo loyalty data for ``manage.py seed_demo`` (runs after the orders', payments' and cashback demo data: apps
seed in ``INSTALLED_APPS`` order), so ``GET loyalty``, the leaderboards and the member pages in the admin are not
empty on a fresh install. Everything goes through the services:

- **The demo shopper** (``DEMO_SHOPPER_EMAIL``): the paid demo orders earn *pending* points (the earning
  service, as the order-paid receiver would); points earned over the past year make them **Gold**
  (``tier_recompute``), some of them expiring within the month (``GET loyalty``'s ``expiring_soon``); achievements
  their orders completed (``achievements_evaluate``: the first order at least); their referral code comes with
  the account, and two of the other shoppers signed up with it (pending referrals).
- **A dozen other shoppers** (``demo.loyalty.<n>@example.com``, no password) spread over the tiers: three each of
  Bronze, Silver, Gold and Platinum, from points earned over the past year.
- **A week of leaderboard activity**: each member earns points on several of the last 7 days, so the week, month
  and all-time boards differ; the boards are rebuilt from the ledger after the transaction commits (with Redis;
  without it the leaderboard reads the database).

The points not tied to an order are ``earn`` entries with the rule code ``demo`` and a reason that says so (the
ledger needs a cause; the demo has no reviews or campaigns to credit them to). Entries are dated in the past with
the ledger's ``now`` so tiers, expiry and the boards see a year of history.

Idempotent: every demo entry has a fixed key (``demo:<user>:<n>``), posted only when missing; shoppers are made
only when their email is new; the earning, tier, achievement and referral services are idempotent themselves.
Amounts come from a seeded random generator, so every install gets the same figures. Nothing happens without the
demo shopper.
"""

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from commerce.orders.models import Order

from .models import PointsEntry, PointsEntryKind
from .services.achievements import achievements_evaluate
from .services.earning import points_earn_for_order
from .services.leaderboard import leaderboards_rebuild
from .services.ledger import add_months, points_account_get_or_create, points_account_lock, points_post
from .services.referrals import referral_register
from .services.tiers import tier_recompute

logger = logging.getLogger(__name__)

DEMO_RULE = "demo"
# Qualifying points earned over the past year: (tier reached, low, high) of the total per member.
# The week adds at most 24 % more (4 % a day on at most 6 days), and order and achievement points a few hundred:
# the ranges leave room for that below the next tier (1,000, 5,000, 15,000 by default).
TIER_POINTS = {
    "bronze": (200, 800),
    "silver": (1_300, 4_000),
    "gold": (5_600, 11_000),
    "platinum": (16_000, 24_000),
}
SHOPPER_TIER = "gold"
SHOPPER_EXPIRING = 180  # points of the demo shopper's oldest lot, which expires within the month
OTHER_SHOPPERS = [
    ("Aarav Mehta", "bronze"),
    ("Diya Kapoor", "bronze"),
    ("Kabir Singh", "bronze"),
    ("Ananya Iyer", "silver"),
    ("Vihaan Reddy", "silver"),
    ("Isha Nair", "silver"),
    ("Rohan Gupta", "gold"),
    ("Saanvi Joshi", "gold"),
    ("Arjun Malhotra", "gold"),
    ("Meera Pillai", "platinum"),
    ("Aditya Rao", "platinum"),
    ("Kavya Menon", "platinum"),
]
REFERRED = 2  # the first other shoppers signed up with the demo shopper's code
HISTORY_PARTS = 4  # earnings spread over the past year (before the last week)
WEEK_DAYS = 7


def seed(*, stdout) -> None:
    shopper = User.objects.filter(
        email=User.objects.normalize_email(settings.DEMO_SHOPPER_EMAIL or "shopper@example.com")
    ).first()
    if shopper is None:
        stdout.write("Loyalty: no demo shopper, no demo points.")
        return
    now = timezone.now()
    rng = random.Random(12)  # noqa: S311 - demo figures, the same on every install
    made = _shopper_orders(shopper)
    shopper_total = _total(rng, SHOPPER_TIER)
    made += _history(shopper, total=shopper_total, now=now, expiring=SHOPPER_EXPIRING)
    members = [(shopper, shopper_total)]
    for number, (name, tier) in enumerate(OTHER_SHOPPERS, start=1):
        member, created = _member(number, name)
        if created and number <= REFERRED:
            referral_register(
                referee_id=member.pk, code=points_account_get_or_create(user_id=shopper.pk).referral_code, ip=None,
                device_id=None,
            )  # fmt: skip
        total = _total(rng, tier)
        made += _history(member, total=total, now=now)
        members.append((member, total))
    for member, total in members:
        made += _week(member, total=total, rng=rng, now=now)
        tier_recompute(user_id=member.pk, now=now)
        achievements_evaluate(user_id=member.pk, now=now)
    transaction.on_commit(_rebuild_boards, robust=True)
    stdout.write(f"Loyalty: {made} demo points entries made." if made else "Loyalty: demo points exist.")


def _total(rng: random.Random, tier: str) -> int:
    low, high = TIER_POINTS[tier]
    return rng.randint(low, high) // 10 * 10


def _shopper_orders(shopper: User) -> int:
    """Pending points on the demo shopper's paid orders (idempotent: the existing entry afterwards)."""
    made = 0
    for order in Order.objects.filter(user=shopper, paid_at__isnull=False).order_by("id"):
        key = f"order-earn:{order.pk}"
        if PointsEntry.objects.filter(key=key).exists():
            continue
        made += points_earn_for_order(order_id=order.pk) is not None
    return made


def _member(number: int, name: str) -> tuple[User, bool]:
    email = f"demo.loyalty.{number}@example.com"
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user, False
    return User.objects.create_user(email=email, password=None, full_name=name), True


def _earn(user: User, *, n: int, points: int, at: datetime, reason: str) -> int:
    """One qualifying demo ``earn`` entry dated ``at`` (key ``demo:<user>:<n>``), unless it exists."""
    key = f"demo:{user.pk}:{n}"
    if points <= 0 or PointsEntry.objects.filter(key=key).exists():
        return 0
    with transaction.atomic():
        points_post(
            account=points_account_lock(user_id=user.pk),
            kind=PointsEntryKind.EARN,
            points=points,
            key=key,
            qualifying=True,
            rule_code=DEMO_RULE,
            reason=f"Demo: {reason}",
            now=at,
        )
    return 1


def _history(user: User, *, total: int, now: datetime, expiring: int = 0) -> int:
    """``total`` points earned in ``HISTORY_PARTS`` parts over the past year, oldest first. ``expiring``: the
    oldest part has that many points and was earned just under ``expiry_months`` ago, so it expires this month."""
    year_ago = add_months(now, -12)
    parts = [total // HISTORY_PARTS] * HISTORY_PARTS
    parts[-1] += total - sum(parts)
    made = 0
    if expiring:
        made += _earn(user, n=0, points=expiring, at=year_ago + timedelta(days=9), reason="points from last year")
    for index, points in enumerate(parts, start=1):
        at = year_ago + timedelta(days=30 + index * 70)  # 100 to 310 days after a year ago: before the last week
        made += _earn(user, n=index, points=points, at=at, reason="points earned earlier this year")
    return made


def _week(user: User, *, total: int, rng: random.Random, now: datetime) -> int:
    """Points earned on 3 to 6 of the last 7 days (the week's leaderboard), 1 to 4 % of ``total`` a day."""
    days = sorted(rng.sample(range(WEEK_DAYS), rng.randint(3, 6)))
    made = 0
    for day in days:
        at = now - timedelta(days=day, hours=rng.randint(1, 20), minutes=rng.randint(0, 59))
        points = max(10, total * rng.randint(1, 4) // 1000 * 10)
        made += _earn(user, n=100 + day, points=points, at=at, reason="points earned this week")
    return made


def _rebuild_boards() -> None:
    """The leaderboards rebuilt from the committed ledger (a no-op without Redis; Redis down is logged, and the
    leaderboard reads the database until the nightly rebuild)."""
    try:
        leaderboards_rebuild()
    except Exception:  # the demo data is committed; the boards are a cache the nightly task rebuilds
        logger.exception("Loyalty demo: the leaderboards could not be rebuilt")
