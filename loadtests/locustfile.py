"""Locust scenarios.

``BrowseUser``: a shopper reading the catalog the way a sale-day home page does: product lists (plain, filtered,
sorted), product detail, search, autocomplete and trending offers. Every request is named by endpoint so the
report has one row per endpoint. Run it through ``loadtests/run.py``, which starts the server with seeded data.
"""

import random

from locust import FastHttpUser, constant, events, task

SEARCH_TERMS = ["shirt", "phone", "shoes", "watch", "headphones", "bag", "laptop", "dress", "jeans", "camera"]
PREFIXES = ["sh", "ph", "wat", "head", "lap", "cam", "dre"]
ORDERINGS = ["price", "-price", "newest", "popular"]


class CatalogSample:
    """Slugs read once from the API at test start, shared by all users."""

    product_slugs: list[str] = []
    category_slugs: list[str] = []
    merchant_slugs: list[str] = []


@events.test_start.add_listener
def load_sample(environment, **kwargs):
    import json
    import urllib.request

    host = environment.host.rstrip("/")

    def get(path: str):
        with urllib.request.urlopen(f"{host}{path}", timeout=30) as response:  # noqa: S310 (loopback only)
            return json.loads(response.read())

    for page in range(1, 6):
        CatalogSample.product_slugs += [
            p["slug"] for p in get(f"/api/v1/products?page={page}&page_size=100")["results"]
        ]

    def walk(nodes):
        for node in nodes:
            CatalogSample.category_slugs.append(node["slug"])
            walk(node.get("children", []))

    categories = get("/api/v1/categories")
    walk(categories if isinstance(categories, list) else categories.get("results", []))
    merchants = get("/api/v1/merchants")
    CatalogSample.merchant_slugs = [
        m["slug"] for m in (merchants["results"] if isinstance(merchants, dict) else merchants)
    ]
    if not CatalogSample.product_slugs:
        raise RuntimeError("No products: seed the database first (manage.py seed_demo).")


class BrowseUser(FastHttpUser):
    """Each simulated shopper has an address of its own (sent as X-Forwarded-For; the runner starts the server
    with NUM_PROXIES=1), so per-client throttling is exercised as with real traffic from many addresses."""

    wait_time = constant(0)
    _next_address = 0

    def on_start(self) -> None:
        BrowseUser._next_address += 1
        n = BrowseUser._next_address
        self.headers = {"X-Forwarded-For": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"}

    def _get(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, headers=self.headers, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")

    @task(6)
    def product_list(self):
        self._get(f"/api/v1/products?page={random.randint(1, 10)}", "GET products")

    @task(4)
    def product_list_filtered(self):
        category = random.choice(CatalogSample.category_slugs)
        ordering = random.choice(ORDERINGS)
        self._get(f"/api/v1/products?category={category}&ordering={ordering}&in_stock=true", "GET products?filters")

    @task(8)
    def product_detail(self):
        self._get(f"/api/v1/products/{random.choice(CatalogSample.product_slugs)}", "GET products/{slug}")

    @task(3)
    def search(self):
        self._get(f"/api/v1/search?q={random.choice(SEARCH_TERMS)}", "GET search")

    @task(3)
    def autocomplete(self):
        self._get(f"/api/v1/search/autocomplete?q={random.choice(PREFIXES)}", "GET search/autocomplete")

    @task(3)
    def trending(self):
        self._get("/api/v1/offers/trending", "GET offers/trending")

    @task(1)
    def categories(self):
        self._get("/api/v1/categories", "GET categories")
