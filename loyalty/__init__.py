"""Loyalty points, tiers, redemption, achievements and leaderboards."""
