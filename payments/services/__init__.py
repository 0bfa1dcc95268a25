"""The payments app's services: starting payments, applying provider events, webhooks, refunds, saved methods."""
