"""Offer currencies limited to the supported ones; redemptions are released (status, time), never deleted, and
an order holds at most one unreleased use of an offer."""

from django.conf import settings
from django.db import migrations, models

import commerce.core.money


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0002_role_permissions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="offerredemption",
            name="offers_redemption_once_per_order",
        ),
        migrations.AddField(
            model_name="offerredemption",
            name="released_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="offerredemption",
            name="status",
            field=models.CharField(
                choices=[("redeemed", "Redeemed"), ("released", "Released (use given back)")],
                default="redeemed",
                editable=False,
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="offer",
            name="currency",
            field=models.CharField(
                choices=[
                    ("AED", "AED"),
                    ("EUR", "EUR"),
                    ("GBP", "GBP"),
                    ("INR", "INR"),
                    ("JPY", "JPY"),
                    ("KRW", "KRW"),
                    ("SGD", "SGD"),
                    ("USD", "USD"),
                ],
                default=commerce.core.money.default_currency,
                max_length=3,
                validators=[commerce.core.money.validate_currency],
            ),
        ),
        migrations.AddConstraint(
            model_name="offerredemption",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "redeemed")),
                fields=("offer", "order_reference"),
                name="offers_redemption_once_per_order_unreleased",
                violation_error_message="This order already uses this offer.",
            ),
        ),
        migrations.AddConstraint(
            model_name="offerredemption",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "redeemed"), ("released_at__isnull", True)),
                    models.Q(("status", "released"), ("released_at__isnull", False)),
                    _connector="OR",
                ),
                name="offers_redemption_released_has_time",
                violation_error_message="A released use has a release time, an unreleased one none.",
            ),
        ),
    ]
