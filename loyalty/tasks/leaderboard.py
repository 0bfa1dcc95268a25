"""Loyalty tasks: leaderboard."""
