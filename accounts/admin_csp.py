"""The Content-Security-Policy of the admin (the back office), which differs from the rest of the site's.

The admin's theme (django-unfold) is driven by Alpine.js, and unfold ships Alpine's standard build, which
evaluates its ``x-data``/``x-on`` attribute expressions with the ``Function`` constructor: without
``'unsafe-eval'`` no admin page would even show (the page is ``x-cloak``-ed until Alpine starts). unfold's
templates also carry inline ``<style>`` elements and ``style`` attributes (the theme colours, progress bars)
that cannot take our nonce without copying those templates. So, for admin responses only:

* ``script-src 'self' 'unsafe-eval'`` (plus the nonce when a page has a nonced inline script): scripts still
  come only from our own static files; an inline ``<script>`` without the nonce is still refused.
* ``style-src 'self' 'unsafe-inline'``: inline styles are allowed (no nonce there, since browsers ignore
  ``'unsafe-inline'`` as soon as a nonce is present).
* ``img-src 'self' data: https:``: product images may be external ``https`` URLs (``ProductImage.url``), and
  the catalog screens show them as thumbnails. Images cannot run code; plain ``http`` stays refused.

Every other directive (``default-src 'self'``, no objects, no framing, forms post only to us) is unchanged.
The public pages and the API keep the strict policy of ``settings.CONTENT_SECURITY_POLICY``.
"""

from typing import Any, TypeVar

from csp.constants import NONCE, SELF, UNSAFE_EVAL, UNSAFE_INLINE
from django.http import HttpResponseBase

ADMIN_CSP_REPLACE: dict[str, Any] = {
    "script-src": [SELF, NONCE, UNSAFE_EVAL],
    "style-src": [SELF, UNSAFE_INLINE],
    "img-src": [SELF, "data:", "https:"],
}

R = TypeVar("R", bound=HttpResponseBase)


def with_admin_policy(response: R) -> R:
    """Mark ``response`` for the admin policy (django-csp's ``CSPMiddleware`` reads ``_csp_replace``)."""
    response._csp_replace = ADMIN_CSP_REPLACE  # type: ignore[attr-defined]  # django-csp's per-response hook
    return response
