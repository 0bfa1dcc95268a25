"""Merchants, categories, products, variants, stock and search."""
