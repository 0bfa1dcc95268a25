"""Cashback tasks: conversions."""
