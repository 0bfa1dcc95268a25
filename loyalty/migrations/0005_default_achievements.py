"""The default achievements, editable in the admin afterwards: a first order (50 points), five orders (150),
10,000.00 spent (500), four weeks in a row with an order (200), five categories explored (150) and three friends
referred (300)."""

from decimal import Decimal

from django.db import migrations

ACHIEVEMENTS = [
    {
        "code": "first-order",
        "name": "First order",
        "description": "Place and pay for your first order.",
        "criterion": "orders",
        "target": Decimal("1"),
        "points": 50,
    },
    {
        "code": "five-orders",
        "name": "Regular",
        "description": "Five paid orders.",
        "criterion": "orders",
        "target": Decimal("5"),
        "points": 150,
    },
    {
        "code": "big-spender",
        "name": "Big spender",
        "description": "Spend 10,000.00 in all (refunds deducted).",
        "criterion": "spend",
        "target": Decimal("10000.00"),
        "points": 500,
    },
    {
        "code": "weekly-streak-4",
        "name": "Four-week streak",
        "description": "An order in each of four weeks in a row.",
        "criterion": "weekly_streak",
        "target": Decimal("4"),
        "points": 200,
    },
    {
        "code": "explorer-5",
        "name": "Explorer",
        "description": "Buy from five different categories.",
        "criterion": "categories",
        "target": Decimal("5"),
        "points": 150,
    },
    {
        "code": "referrer-3",
        "name": "Ambassador",
        "description": "Three friends referred who ordered.",
        "criterion": "referrals",
        "target": Decimal("3"),
        "points": 300,
    },
]


def create(apps, schema_editor):
    Achievement = apps.get_model("loyalty", "Achievement")
    for achievement in ACHIEVEMENTS:
        Achievement.objects.get_or_create(code=achievement["code"], defaults=achievement)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0004_entry_kind_return")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
