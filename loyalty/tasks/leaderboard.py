"""Loyalty tasks: leaderboard rebuilds (nightly, and when a read finds the boards missing from Redis). Recording
an entry runs in the follow-ups task (:mod:`loyalty.tasks.followups`)."""

from celery import shared_task

from ..services.leaderboard import leaderboards_rebuild


@shared_task(name="loyalty.tasks.leaderboard.rebuild_leaderboards")
def rebuild_leaderboards() -> int:
    return leaderboards_rebuild()
