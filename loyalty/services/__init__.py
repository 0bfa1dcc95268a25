"""Every write of the loyalty app: the points ledger (``ledger``), earning (``earning``), checkout redemption and
rewards (``redemption``, ``rewards``), tiers (``tiers``), achievements and referrals (``achievements``,
``referrals``) and leaderboards (``leaderboard``)."""
