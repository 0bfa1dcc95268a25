"""The default tiers (bronze, silver, gold, platinum) and earning rules, editable in the admin afterwards.

Tiers by qualifying points earned in the rolling window: bronze from 0, silver from 1,000 (x1.25 points), gold from
5,000 (x1.5, free shipping from 299.00), platinum from 15,000 (x2, free shipping always, early access to offers).
Rules: 1 point per 10.00 spent, and one-off points for the first order (100), a completed profile (50) and a
verified phone (50).
"""

from decimal import Decimal

from django.db import migrations

TIERS = [
    {"code": "bronze", "name": "Bronze", "rank": 0, "threshold": 0, "earn_multiplier": Decimal("1.00")},
    {"code": "silver", "name": "Silver", "rank": 1, "threshold": 1000, "earn_multiplier": Decimal("1.25")},
    {
        "code": "gold",
        "name": "Gold",
        "rank": 2,
        "threshold": 5000,
        "earn_multiplier": Decimal("1.50"),
        "free_shipping_threshold": Decimal("299.00"),
    },
    {
        "code": "platinum",
        "name": "Platinum",
        "rank": 3,
        "threshold": 15000,
        "earn_multiplier": Decimal("2.00"),
        "free_shipping_threshold": Decimal("0.00"),
        "early_access": True,
    },
]
RULES = [
    {
        "code": "spend",
        "name": "1 point per 10.00 spent",
        "kind": "spend",
        "points_per_unit": Decimal("1.00"),
        "unit_amount": Decimal("10.00"),
    },
    {"code": "first-order", "name": "First order", "kind": "event", "event": "first_order", "fixed_points": 100},
    {
        "code": "profile-completed",
        "name": "Profile completed",
        "kind": "event",
        "event": "profile_completed",
        "fixed_points": 50,
    },
    {
        "code": "phone-verified",
        "name": "Phone verified",
        "kind": "event",
        "event": "phone_verified",
        "fixed_points": 50,
    },
]


def create(apps, schema_editor):
    Tier = apps.get_model("loyalty", "Tier")
    EarningRule = apps.get_model("loyalty", "EarningRule")
    for tier in TIERS:
        Tier.objects.get_or_create(code=tier["code"], defaults=tier)
    for rule in RULES:
        EarningRule.objects.get_or_create(code=rule["code"], defaults=rule)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0002_append_only_triggers")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
