"""Loyalty tasks: earning."""
