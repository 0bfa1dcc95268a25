"""Loyalty tasks: the follow-ups of a qualifying points entry (tier, achievements, leaderboard)."""

from celery import shared_task

from ..services.hooks import points_earned_followups_run


@shared_task(name="loyalty.tasks.followups.points_earned_followups")
def points_earned_followups(user_id: int, entry_id: int) -> None:
    points_earned_followups_run(user_id=user_id, entry_id=entry_id)
