"""The payments app's REST API: starting payments, Razorpay's confirmation, the demo gateway, webhooks."""
