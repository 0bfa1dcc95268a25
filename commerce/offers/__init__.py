"""Offers and coupons, clicks and views, trending and expiring."""
