"""Redis down degrades, never breaks: against a real redis-server that the tests stop, restart or replace by a
server that accepts connections and never answers.

Each test runs its own ``redis-server`` (on a free port, append-only persistence in a temporary directory) and
points both cache aliases, ``REDIS_URL`` and so the offer event buffer at it; the shared Redis of the test run
is never stopped. Those tests need ``redis-server`` on ``PATH`` and are marked ``redis``, like every test that
needs Redis. The unit tests of the breaker, the guarded pool and the error mapping at the end need no server.
"""

import logging
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import kombu.exceptions
import pytest
import redis
from django.core.cache import caches
from django_redis.exceptions import ConnectionInterrupted
from django_redis.pool import ConnectionFactory
from prometheus_client import REGISTRY

from commerce.core import redis_guard
from commerce.core.api.exceptions import api_exception_handler
from commerce.offers.models import OfferClick, OfferDailyStats
from commerce.offers.services import FlushResult, offer_events_flush
from tests.accounts.helpers import PHONE
from tests.catalog.factories import CategoryFactory, ProductFactory, ProductVariantFactory
from tests.offers.factories import DealFactory

pytestmark = pytest.mark.django_db

# Generous bounds: a request that waited on Redis without the guard would take seconds, not tenths.
FAST = 1.0
SOCKET_TIMEOUT = 0.3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server with AOF persistence, stopped and started by the test."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "save": "",
            "appendonly": "yes",
            "appendfsync": "everysec",
            "dir": str(self.directory),
        }
        self.process = subprocess.Popen(
            ["redis-server", *[arg for name, value in options.items() for arg in (f"--{name}", value)]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while self._cli("ping") != "PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        """A clean shutdown: Redis writes its append-only file, then exits."""
        self._cli("shutdown")
        assert self.process is not None
        self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def _cli(self, *args: str) -> str:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=5, check=False
        )
        return result.stdout.strip()


class HangingServer:
    """Accepts TCP connections and never answers: a Redis that hangs. Counts the connections it accepted."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
        self.listener.close()


def point_caches_at(settings, url: str) -> None:
    """Both cache aliases and the event buffer on ``url``, configured as in production."""
    options = {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        "CONNECTION_POOL_CLASS": "commerce.core.redis_guard.GuardedConnectionPool",
        "SOCKET_CONNECT_TIMEOUT": SOCKET_TIMEOUT,
        "SOCKET_TIMEOUT": SOCKET_TIMEOUT,
    }
    common = {"LOCATION": url, "KEY_PREFIX": "outage", "OPTIONS": options}
    settings.CACHES = {
        "default": {"BACKEND": "commerce.core.redis_guard.DegradingRedisCache", **common},
        "strict": {"BACKEND": "django_prometheus.cache.backends.redis.RedisCache", **common},
    }
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url


@pytest.fixture(autouse=True)
def _fresh_guard():
    redis_guard.reset_state()
    yield
    redis_guard.reset_state()


@pytest.fixture
def redis_server(tmp_path, settings):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not on PATH")
    server = RedisServer(tmp_path)
    server.start()
    point_caches_at(settings, server.url)
    yield server
    ConnectionFactory._pools.pop(server.url, None)
    server.kill()


@pytest.fixture
def hanging_redis(settings):
    server = HangingServer()
    point_caches_at(settings, server.url)
    yield server
    ConnectionFactory._pools.pop(server.url, None)
    server.close()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.fixture
def catalog():
    category = CategoryFactory(name="Books")
    product = ProductFactory(category=category, title="Dune")
    ProductVariantFactory(product=product)
    offer = DealFactory()
    return product, offer


def public_reads(product, offer) -> list[str]:
    return [
        "/api/v1/categories",
        "/api/v1/products",
        f"/api/v1/products/{product.slug}",
        "/api/v1/offers",
        "/api/v1/offers/trending",
        f"/api/v1/offers/{offer.pk}",
    ]


# --- Redis stopped ----------------------------------------------------------------------------------------


@pytest.mark.redis
def test_reads_keep_serving_from_the_database_while_redis_is_down(api_client, redis_server, catalog):
    product, offer = catalog
    paths = public_reads(product, offer)
    before = {path: api_client.get(path).json() for path in paths}  # served and cached while Redis is up
    degraded_before = sample("commerce_throttle_degraded_total", scope="anon")

    redis_server.stop()

    for path in paths:
        response, seconds = timed(lambda path=path: api_client.get(path))
        assert (path, response.status_code) == (path, 200)
        assert response.json() == before[path]
        assert seconds < FAST
    # The anonymous throttle let every request through and counted it.
    assert sample("commerce_throttle_degraded_total", scope="anon") - degraded_before == len(paths)
    address = f"127.0.0.1:{redis_server.port}"
    assert redis_guard.breaker_for(address).is_open
    assert sample("commerce_redis_circuit_opened_total", address=address) == 1.0
    assert sample("commerce_redis_calls_skipped_total", address=address) > 0

    metrics = api_client.get("/metrics").content.decode()
    assert 'commerce_throttle_degraded_total{scope="anon"}' in metrics
    assert f'commerce_redis_circuit_opened_total{{address="{address}"}} 1.0' in metrics


@pytest.mark.redis
def test_health_reports_the_cache_down_at_once(api_client, redis_server):
    redis_server.stop()
    response, seconds = timed(lambda: api_client.get("/api/v1/health"))
    assert response.status_code == 503
    assert (response.json()["cache"], response.json()["database"]) == ("unhealthy", "healthy")
    assert api_client.get("/api/v1/health/redis").json() == {"status": "unhealthy", "redis": "unhealthy"}
    assert seconds < FAST


@pytest.mark.redis
def test_otp_request_fails_closed_while_redis_is_down_and_works_again_after(api_client, redis_server, settings):
    settings.REDIS_CIRCUIT_SECONDS = 0.2
    redis_server.stop()

    response, seconds = timed(lambda: api_client.post("/api/v1/auth/otp/request", {"phone": PHONE}, format="json"))
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"] == "1"
    assert seconds < FAST

    redis_server.start()
    time.sleep(0.25)  # the breaker lets a probe through after REDIS_CIRCUIT_SECONDS
    response = api_client.post("/api/v1/auth/otp/request", {"phone": PHONE}, format="json")
    assert response.status_code == 202


@pytest.mark.redis
def test_a_click_and_a_view_while_redis_is_down_are_written_to_the_database(api_client, redis_server, catalog):
    _, offer = catalog
    redis_server.stop()

    assert api_client.get(f"/api/v1/offers/{offer.pk}").status_code == 200
    response = api_client.post(f"/api/v1/offers/{offer.pk}/click")

    assert response.status_code == 201
    assert str(OfferClick.objects.get().click_id) == response.json()["click_id"]
    assert OfferDailyStats.objects.filter(offer=offer).values_list("views", "clicks").get() == (1, 1)


@pytest.mark.redis
def test_buffered_events_survive_a_redis_restart_and_are_flushed_after_it(api_client, redis_server, catalog):
    _, offer = catalog
    api_client.get(f"/api/v1/offers/{offer.pk}")
    click_id = api_client.post(f"/api/v1/offers/{offer.pk}/click").json()["click_id"]
    assert not OfferClick.objects.exists()  # buffered in Redis only

    redis_server.stop()
    assert offer_events_flush() == FlushResult()  # nothing applied, nothing raised: the events wait
    assert not OfferDailyStats.objects.exists()

    redis_server.start()  # reloads the append-only file
    redis_guard.reset_state()  # rather than wait out the breaker
    assert offer_events_flush() == FlushResult(batches=1, views=1, clicks=1)
    assert str(OfferClick.objects.get().click_id) == click_id
    assert OfferDailyStats.objects.filter(offer=offer).values_list("views", "clicks").get() == (1, 1)


# --- Redis hanging ----------------------------------------------------------------------------------------


@pytest.mark.redis
def test_a_hanging_redis_costs_one_timeout_per_circuit_period(api_client, hanging_redis, catalog, settings):
    settings.REDIS_CIRCUIT_SECONDS = 5
    product, offer = catalog
    paths = public_reads(product, offer) * 2

    statuses = [api_client.get(path).status_code for path in paths]

    assert statuses == [200] * len(paths)
    # One connection timed out; every later call in every request skipped Redis instead of waiting.
    assert len(hanging_redis.accepted) == 1
    response, seconds = timed(lambda: api_client.get("/api/v1/categories"))
    assert response.status_code == 200
    assert seconds < FAST
    assert len(hanging_redis.accepted) == 1


@pytest.mark.redis
def test_after_the_circuit_period_one_probe_tries_the_hanging_redis_again(api_client, hanging_redis, settings):
    settings.REDIS_CIRCUIT_SECONDS = 1.0
    assert api_client.get("/api/v1/categories").status_code == 200
    assert len(hanging_redis.accepted) == 1
    time.sleep(1.05)
    statuses = [api_client.get("/api/v1/categories").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert len(hanging_redis.accepted) == 2


@pytest.mark.redis
def test_otp_request_answers_503_quickly_against_a_hanging_redis(api_client, hanging_redis):
    responses = [api_client.post("/api/v1/auth/otp/request", {"phone": PHONE}, format="json") for _ in range(5)]
    assert [r.status_code for r in responses] == [503] * 5
    assert {r.json()["code"] for r in responses} == {"service_unavailable"}
    assert len(hanging_redis.accepted) == 1


@pytest.mark.redis
def test_the_default_cache_is_a_miss_and_the_strict_cache_raises(hanging_redis):
    assert caches["default"].get("anything") is None
    assert caches["default"].set("anything", 1) is None
    assert caches["default"].incr("counter") is None
    with pytest.raises(redis_guard.CircuitOpenError):
        caches["strict"].get("anything")


# --- units: breaker, guarded pool, degrading cache, error mapping (no server needed) -----------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_skips_redis_for_the_circuit_period_then_lets_one_probe_through(settings, caplog):
    settings.REDIS_CIRCUIT_SECONDS = 5
    clock = FakeClock()
    breaker = redis_guard.CircuitBreaker("unit:1", clock=clock)
    assert breaker.allow() is True

    breaker.failure(ConnectionError("refused"))
    assert [breaker.allow() for _ in range(3)] == [False, False, False]
    clock.now += 4.9
    assert breaker.allow() is False
    clock.now += 0.2
    assert [breaker.allow() for _ in range(3)] == [True, False, False]  # one probe, the others keep skipping

    breaker.failure(ConnectionError("still refused"))  # the probe failed: another period
    clock.now += 4.9
    assert breaker.allow() is False
    clock.now += 0.2
    assert breaker.allow() is True
    breaker.success()
    assert [breaker.allow() for _ in range(3)] == [True, True, True]

    assert sample("commerce_redis_circuit_opened_total", address="unit:1") == 1.0
    assert sample("commerce_redis_calls_skipped_total", address="unit:1") == 7.0
    opened = [r.getMessage() for r in caplog.records if r.name == "commerce.core.redis_guard"]
    assert opened == ["Redis at unit:1 is unreachable (ConnectionError: refused); not calling it for 5 s"]


def test_rate_limited_log_reports_once_per_interval_with_the_count_in_between(caplog):
    clock = FakeClock()
    log = redis_guard.RateLimitedLog(logging.getLogger("tests.ratelimited"), interval=60, clock=clock)
    assert [log.warning("k", "down: %s", n) for n in range(4)] == [True, False, False, False]
    assert log.warning("other", "other key") is True
    clock.now += 60
    assert log.warning("k", "down: %s", "again") is True
    lines = [r.getMessage() for r in caplog.records if r.name == "tests.ratelimited"]
    assert lines == ["down: 0", "other key", "down: again (3 more like this since the last report)"]


def test_the_guarded_pool_pays_for_a_refused_connection_once(settings):
    settings.REDIS_CIRCUIT_SECONDS = 5
    port = free_port()  # nothing listens there
    client = redis.Redis(connection_pool=redis_guard.GuardedConnectionPool.from_url(f"redis://127.0.0.1:{port}/0"))
    with pytest.raises(redis.ConnectionError) as first:
        client.get("key")
    assert not isinstance(first.value, redis_guard.CircuitOpenError)
    with pytest.raises(redis_guard.CircuitOpenError):
        client.get("key")
    assert redis_guard.breaker_for(f"127.0.0.1:{port}").is_open


def test_the_default_cache_degrades_and_counts_while_the_strict_alias_raises(settings):
    point_caches_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    before = sample("commerce_cache_errors_ignored_total")
    assert caches["default"].get_many(["a", "b"]) == {}
    assert caches["default"].add("a", 1) is None
    assert caches["default"].delete("a") is None
    assert sample("commerce_cache_errors_ignored_total") - before == 3
    with pytest.raises(redis.ConnectionError):
        caches["strict"].get("a")


@pytest.mark.parametrize(
    "exc",
    [
        redis.ConnectionError("refused"),
        redis.TimeoutError("Timeout reading from socket"),
        redis_guard.CircuitOpenError("skipped"),
        redis.exceptions.BusyLoadingError("LOADING"),
        redis.exceptions.ReadOnlyError("READONLY"),
        redis.exceptions.OutOfMemoryError("OOM"),
        kombu.exceptions.OperationalError("Error 111 connecting to redis:6379"),  # the Celery broker
    ],
)
def test_redis_outages_reaching_the_api_are_503_never_500(exc):
    response = api_exception_handler(exc, {"view": None})
    assert response.status_code == 503
    assert response.data == {
        "code": "service_unavailable",
        "detail": "This service is briefly unavailable. Try again in a few seconds.",
    }
    assert response["Retry-After"] == "5"


def test_a_redis_error_that_is_a_bug_stays_a_500():
    wrapped = ConnectionInterrupted(connection=None)
    wrapped.__cause__ = redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert redis_guard.is_redis_unavailable(wrapped) is False
    assert api_exception_handler(wrapped, {"view": None}).status_code == 500
    outage = ConnectionInterrupted(connection=None)
    outage.__cause__ = redis.ConnectionError("refused")
    assert api_exception_handler(outage, {"view": None}).status_code == 503
