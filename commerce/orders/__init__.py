"""Cart, checkout, orders, order events and invoices."""
