"""The version of the JSON shapes the API renders, part of every cached response's key.

Catalog and offer responses are cached whole (see ``commerce/catalog/cache.py`` and ``commerce/offers/cache.py``).
When a release changes what a response looks like (the money objects did), bump this number: the new code then
reads and writes fresh keys and never serves a body cached by the old code, with no cache flush at deploy.
"""

RESPONSE_SHAPE_VERSION = 2


def shape_prefix() -> str:
    return f"s{RESPONSE_SHAPE_VERSION}"
