"""Every write of the orders app, one module per area:

* ``addresses``: the shopper's address book;
* ``cart``: cart lines and the cart's coupon;
* ``checkout``: placing an order from the cart (with ``idempotency`` for the ``Idempotency-Key`` header and
  ``numbers`` for order numbers);
* ``transitions``: every change of an order's status or payment status, with its event;
* ``expiry``: expiring unpaid orders in batches;
* ``invoices``: gap-free invoice numbers and the stored PDF;
* ``recommendations``: co-purchase counts.

Import from the module: ``from commerce.orders.services.checkout import order_place``.
"""
