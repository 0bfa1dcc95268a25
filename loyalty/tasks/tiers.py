"""Loyalty tasks: tiers (the nightly review; beat entry ``loyalty.tasks.tiers.review_tiers``)."""

from celery import shared_task

from ..services.tiers import tiers_review


@shared_task(name="loyalty.tasks.tiers.review_tiers")
def review_tiers() -> int:
    """Downgrade members past their grace period, start or clear grace periods; returns the tier changes made."""
    return tiers_review()
