"""Payment gateways (Stripe, Razorpay, demo), payments, refunds and the webhook inbox."""
