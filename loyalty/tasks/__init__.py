"""Celery tasks of the loyalty app, one module per area (Celery's autodiscovery imports this package):

* ``ledger``: points expiry (oldest first) and the reminders before it;
* ``earning``: order points made pending, confirmed after the return window, taken back on refunds; event points;
* ``tiers``: the nightly tier review, achievements and referrals;
* ``leaderboard``: leaderboard updates after earning events;
* ``followups``: tier, achievements and leaderboard after a qualifying points entry.
"""

from . import earning, followups, leaderboard, ledger, tiers

__all__ = ["earning", "followups", "leaderboard", "ledger", "tiers"]
