"""The web surface: JSON 404s under /api/ (DEBUG on or off) and trailing slashes, the home page, the
Content-Security-Policy on HTML pages, and CORS for configured storefront origins."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver

from config.urls import api_v1_patterns

pytestmark = pytest.mark.django_db

STOREFRONT = "https://shop.example.com"
ROOT = Path(__file__).resolve().parent.parent.parent

# --- JSON 404 under /api/ -----------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/api/v1/no-such-endpoint", "/api/nothing", "/api/v2/products", "/api/"])
def test_unknown_api_paths_answer_the_json_404_with_debug_on_and_off(client, settings, debug, path):
    settings.DEBUG = debug
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_unknown_api_path_is_a_json_404_for_a_post_without_csrf_token(settings):
    # A plain Django view would be refused by the CSRF middleware first (an HTML 403).
    settings.DEBUG = True
    response = Client(enforce_csrf_checks=True).post("/api/v1/nope", {"a": 1}, content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_unknown_non_api_path_is_not_json_with_debug_on(client, settings):
    settings.DEBUG = True
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def _sample_path(route: str) -> str:
    """A concrete path for a route such as ``products/<slug:slug>``."""
    samples = {"int": "1", "slug": "some-slug", "str": "some-value", "uuid": "3f1c2b9e-7e4b-4d7c-9a55-2f2d6a1b8c01"}
    return re.sub(r"<(?:(\w+):)?\w+>", lambda match: samples[match.group(1) or "str"], route)


def _v1_routes(patterns, prefix: str = "") -> list[str]:
    routes = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            routes += _v1_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            routes.append(prefix + str(pattern.pattern))
    return routes


def test_every_api_path_with_a_trailing_slash_is_a_json_404_naming_the_real_path(client, settings):
    settings.DEBUG = True
    routes = _v1_routes(api_v1_patterns)
    assert "health" in routes and "products/<slug:slug>" in routes
    for route in routes:
        path = "/api/v1/" + _sample_path(route)
        assert not path.endswith("/"), route
        for method in (client.get, client.post, client.delete):
            response = method(path + "/")
            assert response.status_code == 404, (route, method)
            assert response.json() == {"code": "not_found", "detail": f"Not found. Did you mean {path}?"}, route


@pytest.mark.parametrize(
    ("path", "canonical"),
    [("/api/docs", "/api/docs/"), ("/api/redoc", "/api/redoc/"), ("/api/schema", "/api/schema/")],
)
def test_docs_paths_without_their_trailing_slash_are_json_404s_too(client, path, canonical):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": f"Not found. Did you mean {canonical}?"}


def test_outside_the_api_django_still_appends_the_slash(client):
    response = client.get("/admin")
    assert response.status_code == 301
    assert response["Location"] == "/admin/"


# --- Home page ----------------------------------------------------------------------------------------------


def test_home_page_names_the_platform_and_links_to_admin_docs_schema_and_health(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "<h1>Commerce</h1>" in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs == ["data:,", "/admin/", "/api/docs/", "/api/redoc/", "/api/schema/", "/api/v1/health"]
    assert "Signing in to the admin" in html
    assert "<code>make run</code>" in html
    assert "TOTP secret" in html
    # Nothing from another host: no scripts, styles, fonts or images from the internet.
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html


def test_home_page_refuses_writes(client):
    assert client.post("/").status_code == 405


def test_admin_view_site_link_goes_to_the_home_page(client, admin_login):
    from tests.factories import StaffFactory

    admin_login(StaffFactory(is_superuser=True))
    html = client.get("/admin/").content.decode()
    assert re.search(r'<a href="/"[^>]*>\s*View site\s*</a>', html)


# --- Content-Security-Policy --------------------------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _nonce(policy: dict[str, list[str]]) -> str | None:
    """The nonce of script-src (the value inside ``'nonce-...'``), None when the page used none."""
    nonces = [value for value in policy["script-src"] if value.startswith("'nonce-")]
    assert len(nonces) <= 1
    return nonces[0].removeprefix("'nonce-").removesuffix("'") if nonces else None


def _assert_inline_code_is_nonced(response, *, inline_styles_allowed: bool = False) -> None:
    """Every inline <script> and <style> carries the response's nonce (none may exist without one).

    ``inline_styles_allowed``: the admin's policy allows inline styles (accounts/admin_csp.py), so only its
    inline scripts are checked."""
    nonce = _nonce(_policy(response))
    html = response.content.decode()
    for attributes in re.findall(r"<script\b([^>]*)>", html):
        if "src=" not in attributes:
            assert nonce is not None and f'nonce="{nonce}"' in attributes, attributes
    for attributes in re.findall(r"<style\b([^>]*)>", html):
        assert inline_styles_allowed or (nonce is not None and f'nonce="{nonce}"' in attributes), attributes
    # Inline event handlers cannot carry a nonce: there must be none.
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html)


BASE_POLICY = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


@pytest.mark.parametrize("path", ["/", "/api/docs/"])
def test_html_pages_have_a_strict_policy_and_only_nonced_inline_code(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    nonce = f"'nonce-{_nonce(policy)}'"
    assert policy == {**BASE_POLICY, "script-src": ["'self'", nonce], "style-src": ["'self'", nonce]}
    _assert_inline_code_is_nonced(response)


# The admin's theme (unfold) runs Alpine.js, which evaluates its attributes (``'unsafe-eval'``), and has inline
# styles; scripts still come only from our files (accounts/admin_csp.py).
ADMIN_SCRIPT_SRC = ["'self'", "'unsafe-eval'"]
ADMIN_STYLE_SRC = ["'self'", "'unsafe-inline'"]
ADMIN_POLICY = {**BASE_POLICY, "script-src": ADMIN_SCRIPT_SRC, "style-src": ADMIN_STYLE_SRC}
# Product images may be external https URLs, shown as thumbnails in the catalog screens.
ADMIN_POLICY["img-src"] = ["'self'", "data:", "https:"]


def test_pages_without_inline_code_get_no_nonce_at_all(client):
    # The admin has no inline scripts, so its policy allows only our script files (and no nonce).
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert _policy(response) == ADMIN_POLICY
    _assert_inline_code_is_nonced(response, inline_styles_allowed=True)


def test_each_response_gets_a_new_nonce(client):
    first = _policy(client.get("/"))["script-src"]
    second = _policy(client.get("/"))["script-src"]
    assert first != second


def test_redoc_page_policy_keeps_scripts_nonced_and_allows_its_worker_and_styles(client):
    response = client.get("/api/redoc/")
    assert response.status_code == 200
    policy = _policy(response)
    nonce = _nonce(policy)
    assert policy == {
        **BASE_POLICY,
        "script-src": ["'self'", f"'nonce-{nonce}'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "worker-src": ["'self'", "blob:"],
    }
    _assert_inline_code_is_nonced(response)
    assert f'redocSettings.nonce = "{nonce}";' in response.content.decode()


def test_admin_pages_signed_in_have_the_policy(client, admin_login):
    from tests.factories import StaffFactory

    admin_login(StaffFactory(is_superuser=True))
    for path in ("/admin/", "/admin/accounts/user/", "/admin/accounts/user/add/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _policy(response) == ADMIN_POLICY, path
        _assert_inline_code_is_nonced(response, inline_styles_allowed=True)


# --- CORS ---------------------------------------------------------------------------------------------------


@pytest.fixture
def storefront(settings):
    settings.CORS_ALLOWED_ORIGINS = [STOREFRONT]


def _preflight(client, origin: str, path: str = "/api/v1/checkout"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,idempotency-key,x-device-id,x-request-id",
    )


def test_allowed_origin_gets_the_preflight_headers(client, storefront):
    response = _preflight(client, STOREFRONT)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == STOREFRONT
    assert response["Access-Control-Allow-Headers"] == (
        "authorization, content-type, idempotency-key, x-device-id, x-request-id"
    )
    assert response["Access-Control-Allow-Methods"] == "DELETE, GET, OPTIONS, PATCH, POST, PUT"
    assert "Access-Control-Allow-Credentials" not in response


def test_allowed_origin_can_read_the_response_and_its_request_id(client, storefront):
    response = client.get("/api/v1/health", HTTP_ORIGIN=STOREFRONT)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == STOREFRONT
    assert response["Access-Control-Expose-Headers"] == "X-Request-ID, Retry-After"


def test_allowed_origin_gets_cors_headers_on_errors_too(client, storefront):
    response = client.get("/api/v1/no-such-endpoint", HTTP_ORIGIN=STOREFRONT)
    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == STOREFRONT


@pytest.mark.parametrize("origin", ["https://evil.example.com", "http://shop.example.com", "null"])
def test_other_origins_get_no_cors_headers(client, storefront, origin):
    for response in (_preflight(client, origin), client.get("/api/v1/health", HTTP_ORIGIN=origin)):
        assert not [header for header in response.headers if header.lower().startswith("access-control-")]


def test_no_cross_origin_access_by_default(client):
    response = _preflight(client, STOREFRONT)
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/health", HTTP_ORIGIN=STOREFRONT)


def test_cors_covers_only_the_api(client, storefront):
    assert "Access-Control-Allow-Origin" not in client.get("/", HTTP_ORIGIN=STOREFRONT)
    assert "Access-Control-Allow-Origin" not in _preflight(client, STOREFRONT, path="/admin/login/")


def test_cors_origins_come_from_the_environment():
    probe = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.CORS_ALLOWED_ORIGINS))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "CORS_ALLOWED_ORIGINS": "https://shop.example.com,https://m.shop.example.com",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "https://shop.example.com",
        "https://m.shop.example.com",
    ]
