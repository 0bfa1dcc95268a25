"""Cashback tasks: withdrawals."""
