"""Cashback tasks: entries."""
