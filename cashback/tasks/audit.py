"""Cashback tasks: audit."""
