"""Every write of the cashback app: the wallet ledger (``wallet``), cashback entries (``entries``), risk
assessment (``risk``), affiliate conversions (``conversions``) and withdrawals (``withdrawals``)."""
