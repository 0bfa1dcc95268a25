import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_served(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi: 3" in response.content
    assert b"/api/v1/health" in response.content


def test_swagger_ui_is_served(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html)


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        (
            "/api/docs/",
            [
                "drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png",
                "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
                "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
                "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
            ],
        ),
        ("/api/redoc/", ["drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"]),
    ],
)
def test_docs_pages_load_only_our_own_static_files(client, path, assets):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    urls = _asset_urls(html)
    assert urls == [settings.STATIC_URL + asset for asset in assets]
    for asset in assets:
        assert finders.find(asset) is not None, asset
    # No CDN, no web fonts, no validator badge: the pages work without internet access.
    assert "http://" not in html and "https://" not in html
    assert "//cdn" not in html and "fonts.googleapis" not in html
    # Both UIs read the schema from this server.
    assert '"/api/schema/"' in html


def test_swagger_ui_has_no_validator_badge(client):
    html = client.get("/api/docs/").content.decode()
    assert '"validatorUrl": null' in html


def test_prometheus_metrics_are_exported(client):
    client.get("/api/v1/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "django_http_requests_total_by_method_total" in text
    assert "django_db_execute_total" in text
    assert "django_cache_get_total" in text


def test_metrics_are_refused_outside_the_allowed_networks(settings, client):
    settings.METRICS_ALLOWED_CIDRS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
