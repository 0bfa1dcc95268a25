"""What follows a qualifying points entry (points earned or taken back): the member's tier is recomputed, their
achievements evaluated, and the leaderboards updated. :func:`points_earned_schedule` is called by the ledger
service inside the transaction that wrote the entry; the follow-ups run after it commits, in a task
(``loyalty.tasks.followups.points_earned_followups``), so a request never waits for them and a rollback never runs
them. A lost task is made good by the nightly tier review and the leaderboard rebuild."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def points_earned_schedule(*, user_id: int, entry_id: int) -> None:
    """Queue the follow-ups of ``entry_id`` for after the current transaction commits."""
    from ..tasks.followups import points_earned_followups

    transaction.on_commit(lambda: points_earned_followups.delay(user_id, entry_id), robust=True)


def points_earned_followups_run(*, user_id: int, entry_id: int) -> None:
    """Tier, achievements, leaderboard for one entry. Each step is independent: one failing is logged and does
    not stop the others (each is idempotent and re-run by its periodic sweep)."""
    from .achievements import achievements_evaluate
    from .leaderboard import leaderboard_record
    from .tiers import tier_recompute

    for name, step in (
        ("leaderboard", lambda: leaderboard_record(entry_id=entry_id)),
        ("tier", lambda: tier_recompute(user_id=user_id)),
        ("achievements", lambda: achievements_evaluate(user_id=user_id)),
    ):
        try:
            step()
        except Exception:  # one follow-up failing must not stop the others; each has its own sweep
            logger.exception("Loyalty follow-up %s failed for entry %s of user %s", name, entry_id, user_id)
