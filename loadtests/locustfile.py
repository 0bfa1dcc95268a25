"""Locust scenarios.

``BrowseUser``: a shopper reading the catalog the way a sale-day home page does: product lists (plain, filtered,
sorted), product detail, search, autocomplete and trending offers. Every request is named by endpoint so the
report has one row per endpoint. Run it through ``loadtests/run.py``, which starts the server with seeded data.

``CheckoutUser``: a signed-in shopper buying, flat out: add a SKU to the cart (the answer is the cart the shopper
sees), check out with a fresh ``Idempotency-Key`` echoing that cart's total as ``expected_total``; round after
round. ``BENCH_READ_CART=1`` (``run.py --read-cart``) adds a ``GET cart`` between the two, as a client that shows
the cart page before paying.

``FlashSaleUser``: many shoppers, one variant with little stock: each shopper tries once (add, check out) and
stops. A 409 ``insufficient_stock`` (sold out, at the add or at the checkout) is an expected answer, counted
under its own name, not an error; ``run.py`` then checks in the database that units sold equal stock taken.

``WebhookUser``: Stripe delivering webhooks, flat out: ``POST webhooks/stripe`` with a ``payment_intent.succeeded``
event for one of the prepared payments, shaped like Stripe's documented event, with an event id unique to the
delivery and a ``Stripe-Signature`` made with Stripe's scheme (``t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">``) and the
server's webhook secret. The first event of a payment captures it; later ones find it captured (applied, nothing
changes). Anything but a 200 is a failure. The accepted count is written to ``BENCH_OUTCOMES``.

``WalletUser``: a signed-in shopper in the wallet screens, flat out: ``GET wallet``, ``GET wallet/transactions``
(a 40-row ledger, first page), ``GET cashback``, ``GET wallet/withdrawals``, and ``POST wallet/withdrawals`` of
100.00 to UPI with a fresh ``Idempotency-Key``, sent a second time with the same key one time in five (the answer
must be the same 201, marked ``Idempotent-Replayed``). Withdrawals created are counted to ``BENCH_OUTCOMES``;
``run.py`` then checks the ledger with ``bench_data.py verify-wallet``.

``LeaderboardUser``: a signed-in shopper reading ``GET loyalty/leaderboard`` flat out, mixed periods (``week`` 3,
``month`` 2, ``all`` 1), one row per period in the report. Meanwhile ``run.py`` runs ``bench_data.py lb-writer``,
which posts qualifying earning entries through the ledger service at a steady rate (``--lb-writes``), so the
boards move during the run; afterwards ``bench_data.py verify-leaderboard`` checks Redis against the ledger.

The buying, wallet and leaderboard scenarios read their shoppers (emails and JWT access tokens, minted by
``bench_data.py prepare`` so the run does not spend its CPU hashing passwords) and SKUs from the JSON file named by
``BENCH_DATA``.
"""

import hashlib
import hmac
import itertools
import json
import os
import random
import time
import uuid
from collections import Counter

from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

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


# --- buying ---------------------------------------------------------------------------------------------------

SHIPPING_ADDRESS = {
    "name": "Bench Shopper",
    "line1": "14 Residency Road",
    "line2": "",
    "city": "Bengaluru",
    "state": "Karnataka",
    "postal_code": "560025",
    "country": "IN",
    "phone": "+919812345678",
}


READ_CART = os.environ.get("BENCH_READ_CART") == "1"


class BenchData:
    """The prepared shoppers and SKUs (``BENCH_DATA``), handed out one shopper per simulated user."""

    data: dict | None = None
    next_shopper = 0

    @classmethod
    def load(cls) -> dict:
        if cls.data is None:
            with open(os.environ["BENCH_DATA"]) as handle:
                cls.data = json.load(handle)
        return cls.data

    @classmethod
    def shopper(cls) -> dict:
        shoppers = cls.load()["shoppers"]
        if cls.next_shopper >= len(shoppers):
            raise RuntimeError("More simulated users than prepared shoppers: raise --shoppers.")
        cls.next_shopper += 1
        return shoppers[cls.next_shopper - 1]


class _Shopper(FastHttpUser):
    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        shopper = BenchData.shopper()
        n = BenchData.next_shopper
        self.headers = {
            "Authorization": f"Bearer {shopper['access']}",
            "X-Forwarded-For": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}",
        }

    def _send(self, method: str, path: str, name: str, expected: int, *, sold_out_ok: bool = False, **kwargs):
        """One request; ``expected`` is success. With ``sold_out_ok`` a 409 ``insufficient_stock`` is a success
        too (the sale is over for this shopper). Returns ``("ok" | "sold_out" | None, body)``; None: a failure."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        with self.client.request(method, path, name=name, headers=headers, catch_response=True, **kwargs) as response:
            if response.status_code == expected:
                return "ok", _json(response)
            if sold_out_ok and response.status_code == 409 and _code(response) == "insufficient_stock":
                response.success()
                return "sold_out", None
            response.failure(f"{response.status_code} {_code(response)}")
            return None, None

    def buy(self, sku: str, *, sold_out_ok: bool = False) -> str:
        """Add one unit of ``sku`` and check out: ``"ordered"``, ``"sold_out"`` or ``"failed"``.

        The add answers with the whole cart, which is what the shopper sees; checkout echoes its total as
        ``expected_total`` (the price the shopper agreed to). With ``BENCH_READ_CART=1`` the shopper reads the
        cart with ``GET cart`` in between instead, and checkout relies on that quote having been seen.
        """
        added, cart = self._send(
            "POST",
            "/api/v1/cart/lines",
            "POST cart/lines",
            201,
            sold_out_ok=sold_out_ok,
            json={"sku": sku, "quantity": 1},
        )
        if added != "ok":
            return added or "failed"
        body: dict = {"shipping_address": SHIPPING_ADDRESS}
        if READ_CART:
            if self._send("GET", "/api/v1/cart", "GET cart", 200)[0] != "ok":
                return "failed"
        else:
            body["expected_total"] = cart["total"]
        placed, _ = self._send(
            "POST",
            "/api/v1/checkout",
            "POST checkout",
            201,
            sold_out_ok=sold_out_ok,
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        return {"ok": "ordered", "sold_out": "sold_out"}.get(placed or "", "failed")


def _json(response):
    try:
        return response.json()
    except Exception:  # not JSON: the status says enough
        return None


def _code(response) -> str:
    try:
        return str(response.json().get("code", ""))
    except Exception:  # not JSON: the status says enough
        return ""


class CheckoutUser(_Shopper):
    @task
    def checkout(self):
        self.buy(random.choice(BenchData.load()["skus"]))


class FlashSaleUser(_Shopper):
    """One attempt per shopper. The outcomes are counted and written to ``BENCH_OUTCOMES`` at the end, so the
    runner can compare the orders locust saw placed with the orders in the database."""

    outcomes: Counter = Counter()

    @task
    def grab(self):
        FlashSaleUser.outcomes[self.buy(BenchData.load()["flash_sku"], sold_out_ok=True)] += 1
        raise StopUser()


# --- webhooks -------------------------------------------------------------------------------------------------


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    """Stripe's ``Stripe-Signature``: ``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>" under the endpoint secret>``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def succeeded_event(event_id: str, payment: dict) -> bytes:
    """A ``payment_intent.succeeded`` event as Stripe documents it (the fields the adapter reads, and more)."""
    intent = payment["intent"]
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": intent,
                "object": "payment_intent",
                "amount": payment["amount"],
                "amount_capturable": 0,
                "amount_received": payment["amount"],
                "capture_method": "automatic",
                "client_secret": f"{intent}_secret_bench",
                "currency": payment["currency"],
                "latest_charge": f"ch_{intent[3:]}",
                "livemode": False,
                "payment_method": f"pm_{intent[3:]}",
                "payment_method_types": ["card"],
                "status": "succeeded",
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "payment_intent.succeeded",
    }
    return json.dumps(event, indent=2).encode()


class WebhookUser(FastHttpUser):
    """Stripe's webhook sender (see the module docstring). Event ids: ``evt_bench_<run>_<locust pid>_<n>``."""

    wait_time = constant(0)
    accepted = 0
    _sequence = itertools.count(1)

    @task
    def deliver(self):
        data = BenchData.load()
        event_id = f"evt_bench_{data['run_id']}_{os.getpid()}_{next(WebhookUser._sequence)}"
        body = succeeded_event(event_id, random.choice(data["payments"]))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe_signature(body, data["webhook_secret"], int(time.time())),
        }
        with self.client.post(
            "/api/v1/webhooks/stripe", data=body, headers=headers, name="POST webhooks/stripe", catch_response=True
        ) as response:
            if response.status_code == 200:
                WebhookUser.accepted += 1
            else:
                response.failure(f"{response.status_code} {_code(response)}")


class WalletUser(_Shopper):
    """See the module docstring."""

    created = 0

    def _read(self, path: str) -> None:
        self._send("GET", f"/api/v1/{path}", f"GET {path}", 200)

    @task(5)
    def wallet(self):
        self._read("wallet")

    @task(3)
    def transactions(self):
        self._read("wallet/transactions")

    @task(3)
    def cashback(self):
        self._read("cashback")

    @task(2)
    def withdrawals(self):
        self._read("wallet/withdrawals")

    @task(1)
    def withdraw(self):
        body = {"amount": "100.00", "method": "upi", "vpa": "bench.shopper@okaxis"}
        key = {"Idempotency-Key": str(uuid.uuid4())}
        outcome, first = self._send(
            "POST", "/api/v1/wallet/withdrawals", "POST wallet/withdrawals", 201, json=body, headers=key
        )
        if outcome != "ok":
            return
        WalletUser.created += 1
        if random.random() < 0.2:
            _, again = self._send(
                "POST", "/api/v1/wallet/withdrawals", "POST wallet/withdrawals (replay)", 201, json=body, headers=key
            )
            if again is not None and again != first:
                raise AssertionError("a replayed withdrawal answered differently")


class LeaderboardUser(_Shopper):
    """See the module docstring."""

    def _board(self, period: str) -> None:
        self._send("GET", f"/api/v1/loyalty/leaderboard?period={period}", f"GET loyalty/leaderboard {period}", 200)

    @task(3)
    def week(self):
        self._board("week")

    @task(2)
    def month(self):
        self._board("month")

    @task(1)
    def all_time(self):
        self._board("all")


@events.test_stop.add_listener
def write_outcomes(environment, **kwargs):
    path = os.environ.get("BENCH_OUTCOMES")
    if path:
        outcomes = dict(FlashSaleUser.outcomes)
        if WebhookUser.accepted:
            outcomes["accepted"] = WebhookUser.accepted
        if WalletUser.created:
            outcomes["withdrawals"] = WalletUser.created
        with open(path, "w") as handle:
            json.dump(outcomes, handle)
