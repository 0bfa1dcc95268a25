"""Loyalty tasks: ledger."""
