"""Points, tiers, redemption, rewards, achievements, referrals and leaderboards."""

from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    label = "loyalty"
    verbose_name = "Loyalty"

    def ready(self) -> None:
        # Receivers of the orders' and accounts' domain events (they only enqueue tasks after commit), and the
        # checkout adjustment that spends points.
        from commerce.orders.adjustments import register_adjustment_provider

        from . import dashboard, receivers
        from .services.redemption import PointsRedemption

        receivers.connect()
        register_adjustment_provider(PointsRedemption())
        dashboard.register()  # the back office's cards (members by tier, points issued and spent, rewards)
