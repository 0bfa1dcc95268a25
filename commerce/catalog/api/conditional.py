"""ETag and Cache-Control for public catalog responses, and conditional GET (``If-None-Match`` gives 304).

The ETag is a hash of the response data, so it changes exactly when the body would. Work is still done to
build the data (cheap for the cached tree and product details); the saving is the transfer and the client's
parsing.
"""

import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.http import parse_etags
from rest_framework.request import Request
from rest_framework.response import Response

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


class PublicCacheMixin:
    """For public, anonymous GET views: adds ``ETag`` and ``Cache-Control: public`` to 200 responses and
    answers 304 Not Modified when the client's ``If-None-Match`` matches."""

    cache_max_age = PUBLIC_MAX_AGE

    def finalize_response(self, request: Request, response: Response, *args, **kwargs):
        if request.method in ("GET", "HEAD") and isinstance(response, Response) and response.status_code == 200:
            etag = etag_for(response.data)
            if _matches(request.headers.get("If-None-Match"), etag):
                response = Response(status=304)
            response["ETag"] = etag
            response["Cache-Control"] = f"public, max-age={self.cache_max_age}"
        return super().finalize_response(request, response, *args, **kwargs)
