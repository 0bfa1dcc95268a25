"""Cashback rules and entries, risk assessment, the wallet ledger and withdrawals."""
