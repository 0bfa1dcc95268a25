"""Loyalty tasks: tiers."""
