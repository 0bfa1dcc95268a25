"""Celery tasks of the cashback app, one module per area (Celery's autodiscovery imports this package):

* ``entries``: order cashback created, confirmed after the return window, risk-scored and credited;
* ``conversions``: the affiliate link check;
* ``withdrawals``: payouts sent and their status refreshed;
* ``audit``: the nightly wallet audit.
"""

from . import audit, conversions, entries, withdrawals

__all__ = ["audit", "conversions", "entries", "withdrawals"]
