"""The commerce domain: one Django app per sub-domain (core, notifications, catalog, offers, orders)."""
