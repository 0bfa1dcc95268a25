"""ETag and Cache-Control for public catalog responses, conditional GET (``If-None-Match`` gives 304), and
server-side caching of listing responses.

The ETag is a hash of the response data, so it changes exactly when the body would. Listing responses (lists,
search, autocomplete) are cached whole with their ETag (see ``cache.py`` for when they are invalidated), so a
repeated listing costs one cache read and no queries.
"""

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.http import parse_etags
from rest_framework.request import Request
from rest_framework.response import Response

from commerce.catalog.cache import LISTING_TTL, listing_key

if TYPE_CHECKING:  # the mixins are only ever combined with APIView
    from rest_framework.views import APIView as _ViewBase
else:
    _ViewBase = object

PUBLIC_MAX_AGE = 60


def etag_for(data: Any) -> str:
    body = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # Weak comparison, as RFC 9110 asks for If-None-Match.
    wanted = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == wanted for tag in parse_etags(header))


class PublicCacheMixin(_ViewBase):
    """For public, anonymous GET views: adds ``ETag`` and ``Cache-Control: public`` to 200 responses and
    answers 304 Not Modified when the client's ``If-None-Match`` matches."""

    cache_max_age = PUBLIC_MAX_AGE

    def finalize_response(self, request: Request, response: Response, *args, **kwargs):
        if request.method in ("GET", "HEAD") and isinstance(response, Response) and response.status_code == 200:
            etag = getattr(response, "precomputed_etag", None) or etag_for(response.data)
            if _matches(request.headers.get("If-None-Match"), etag):
                response = Response(status=304)
            response["ETag"] = etag
            response["Cache-Control"] = f"public, max-age={self.cache_max_age}"
        return super().finalize_response(request, response, *args, **kwargs)


def cached_response(key: str, build: Callable[[], Any], *, timeout: int) -> Response:
    """A response with the data cached under ``key`` (built by ``build()`` on a miss) and its ETag, which is
    stored beside the data so a hit costs no serialisation. Errors raised by ``build`` are never cached."""
    entry = cache.get(key)
    if entry is None:
        data = build()
        entry = {"data": data, "etag": etag_for(data)}
        cache.set(key, entry, timeout=timeout)
    response = Response(entry["data"])
    response.precomputed_etag = entry["etag"]  # type: ignore[attr-defined]  # read by finalize_response
    return response


class CachedListingMixin(_ViewBase):
    """``cached_listing(request, build)``: the response data built by ``build()`` for this host, path and query,
    from the cache when present. Invalid input raises inside ``build`` and is never cached."""

    def cached_listing(self, request: Request, build: Callable[[], Any]) -> Response:
        query = urlencode(sorted(request.query_params.lists()), doseq=True)
        fingerprint = hashlib.sha256(f"{request.get_host()}{request.path}?{query}".encode()).hexdigest()
        return cached_response(listing_key(fingerprint), build, timeout=LISTING_TTL)
