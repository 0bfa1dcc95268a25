"""Benchmark runner: gunicorn on PostgreSQL + Redis with seeded data, locust headless, one report.

    .venv/bin/python loadtests/run.py                     # browse: 60 s, 30 users, 3 gunicorn workers
    .venv/bin/python loadtests/run.py --duration 30 --users 20 --workers 2
    .venv/bin/python loadtests/run.py --scenario checkout --duration 60 --users 30
    .venv/bin/python loadtests/run.py --scenario flash-sale --users 300 --flash-stock 50 --duration 30
    .venv/bin/python loadtests/run.py --scenario webhooks --users 20 --duration 30 --celery-workers 2
    .venv/bin/python loadtests/run.py --scenario wallet --users 20 --duration 30
    .venv/bin/python loadtests/run.py --scenario loyalty-leaderboard --users 20 --duration 30 --lb-writes 20

It creates (if missing) the database named in ``--database-url``, migrates it, runs ``seed_demo``, starts
gunicorn on ``--port``, waits for ``/api/v1/health``, runs the scenario for a fixed time and prints requests/s,
p50/p95/p99 latency and the error rate per endpoint. Results are also written as CSV under
``loadtests/results/``. Throttling stays on but is raised for the run: each simulated shopper requests flat out.
Only loopback addresses are used.

Scenarios: ``browse`` (``BrowseUser``, the default), ``checkout`` (``CheckoutUser``) and ``flash-sale``
(``FlashSaleUser``). The buying scenarios run on their own database and Redis db by default
(``commerce_bench_orders``, db 9), so the orders they pile up never skew the browse figures; before the run
``bench_data.py prepare`` makes their shoppers and SKUs, and after a flash sale ``bench_data.py verify`` checks
that units sold equal stock taken (and that locust's placed orders are the database's), failing the run if not.

``webhooks`` (``WebhookUser``: Stripe-signed ``payment_intent.succeeded`` deliveries, unique event ids) runs on its
own database and Redis db (``commerce_bench_webhooks``, db 10), with fake Stripe keys (the server never calls Stripe
to accept a webhook; ``bench_data.py prepare`` opens the payments through the real adapter with its HTTP answered
in-process). ``--celery-workers`` worker processes (``celery worker -Q webhooks --concurrency 1`` each) process the
inbox during the load, or only after it with ``--workers-after`` (the whole backlog then waits for them); the runner
reports deliveries accepted per second and p99, the backlog when the load stopped and how long the workers took to
drain it, then ``bench_data.py verify-webhooks`` checks every delivery was stored once and applied.

``wallet`` (``WalletUser``: wallet reads and withdrawals with idempotency keys) runs on ``commerce_bench_wallet``,
Redis db 11; ``bench_data.py verify-wallet`` then checks the ledger (every wallet equal to its ledger, each
withdrawal held once, as many withdrawals as locust saw created).

``loyalty-leaderboard`` (``LeaderboardUser``: ``GET loyalty/leaderboard`` flat out, mixed periods) runs on
``commerce_bench_lboard``, Redis db 14. ``bench_data.py prepare`` gives 2,000 members points over six weeks and
rebuilds the boards; during the load a writer process (``bench_data.py lb-writer``) posts ``--lb-writes`` qualifying
earning entries per second through the ledger service, each followed by its follow-ups (the leaderboard update
included); after it ``bench_data.py verify-leaderboard`` checks that Redis ranks equal the ledger's.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "loadtests" / "results"


def ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"Server did not become healthy at {url}")


def report(prefix: Path) -> list[dict]:
    rows = []
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            count = int(row["Request Count"])
            failures = int(row["Failure Count"])
            rows.append(
                {
                    "name": row["Name"],
                    "requests": count,
                    "rps": float(row["Requests/s"]),
                    "p50": row["50%"],
                    "p95": row["95%"],
                    "p99": row["99%"],
                    "errors": f"{(failures / count * 100) if count else 0:.2f}%",
                }
            )
    return rows


SCENARIOS = {
    "browse": "BrowseUser",
    "checkout": "CheckoutUser",
    "flash-sale": "FlashSaleUser",
    "webhooks": "WebhookUser",
    "wallet": "WalletUser",
    "loyalty-leaderboard": "LeaderboardUser",
}
DEFAULT_DATABASES = {
    "browse": ("postgres://postgres@127.0.0.1:5432/commerce_bench", "redis://127.0.0.1:6379/8"),
    "checkout": ("postgres://postgres@127.0.0.1:5432/commerce_bench_orders", "redis://127.0.0.1:6379/9"),
    "flash-sale": ("postgres://postgres@127.0.0.1:5432/commerce_bench_orders", "redis://127.0.0.1:6379/9"),
    "webhooks": ("postgres://postgres@127.0.0.1:5432/commerce_bench_webhooks", "redis://127.0.0.1:6379/10"),
    "wallet": ("postgres://postgres@127.0.0.1:5432/commerce_bench_wallet", "redis://127.0.0.1:6379/11"),
    "loyalty-leaderboard": ("postgres://postgres@127.0.0.1:5432/commerce_bench_lboard", "redis://127.0.0.1:6379/14"),
}
# The webhook scenario's fake Stripe keys; STRIPE_API_BASE points at the discard port: nothing can reach Stripe.
BENCH_STRIPE = {
    "STRIPE_SECRET_KEY": "sk_test_bench",
    "STRIPE_WEBHOOK_SECRET": "whsec_bench_secret",
    "STRIPE_API_BASE": "http://127.0.0.1:9",
}


def backlog(bench_data: list[str], data_file: Path, env: dict[str, str]) -> tuple[int, int, int]:
    """``(received, processed or ignored, failed)`` of the run's deliveries."""
    out = subprocess.run(
        [*bench_data, "webhook-backlog", "--data", str(data_file)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    received, done, failed = (int(x) for x in out[-3:])
    return received, done, failed


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    command = [str(BIN / "celery"), "-A", "config", "worker", "-Q", "webhooks", "--concurrency", "1"]
    return [
        subprocess.Popen(
            [*command, "--loglevel", "WARNING", "--hostname", f"bench-webhooks-{n}@%h", "--without-gossip"],
            cwd=ROOT,
            env=env,
        )
        for n in range(count)
    ]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="browse")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"))
    parser.add_argument("--shoppers", type=int, default=None, help="buying scenarios: shoppers to prepare")
    parser.add_argument("--flash-stock", type=int, default=50, help="flash-sale: units of the sale's variant")
    parser.add_argument("--read-cart", action="store_true", help="buying scenarios: GET cart before checkout")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--users", type=int, default=30, help="concurrent simulated shoppers")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--payments", type=int, default=200, help="webhooks: pending Stripe payments to prepare")
    parser.add_argument("--celery-workers", type=int, default=2, help="webhooks: worker processes on the queue")
    parser.add_argument("--workers-after", action="store_true", help="webhooks: start the workers after the load")
    parser.add_argument("--drain-timeout", type=int, default=600, help="webhooks: seconds to wait for the backlog")
    parser.add_argument("--lb-writes", type=float, default=20.0, help="loyalty-leaderboard: earning entries/s")
    args = parser.parse_args()
    default_database, default_redis = DEFAULT_DATABASES[args.scenario]
    args.database_url = args.database_url or default_database
    args.redis_url = args.redis_url or default_redis

    host = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        # Throttling stays on, per simulated shopper (each sends its own X-Forwarded-For), with a rate no shopper
        # reaches: the load generator runs every shopper flat out, far beyond a person's pace.
        "NUM_PROXIES": "1",
        "THROTTLE_ANON": "1000000/min",
        "THROTTLE_USER": "1000000/min",
        "DEMO_ADMIN_PASSWORD": os.environ.get("DEMO_ADMIN_PASSWORD", "bench-admin-password"),
    }
    if args.scenario == "webhooks":
        env.update(BENCH_STRIPE)
    ensure_database(args.database_url)
    manage = [str(BIN / "python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    if not args.skip_seed:
        subprocess.run([*manage, "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    prefix = RESULTS / args.scenario
    data_file, outcomes_file = Path(f"{prefix}_data.json"), Path(f"{prefix}_outcomes.json")
    bench_data = [str(BIN / "python"), str(ROOT / "loadtests" / "bench_data.py")]
    if args.scenario != "browse":
        shoppers = args.shoppers or args.users
        prepare = ["prepare", "--scenario", args.scenario, "--shoppers", str(shoppers), "--out", str(data_file)]
        prepare += ["--flash-stock", str(args.flash_stock), "--payments", str(args.payments)]
        subprocess.run([*bench_data, *prepare], cwd=ROOT, env=env, check=True)
        env["BENCH_DATA"] = str(data_file)
        env["BENCH_READ_CART"] = "1" if args.read_cart else "0"
        env["BENCH_OUTCOMES"] = str(outcomes_file)
        outcomes_file.unlink(missing_ok=True)

    gunicorn = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    workers: list[subprocess.Popen] = []
    lb_writer: subprocess.Popen | None = None
    if args.scenario == "webhooks" and not args.workers_after:
        workers = start_workers(args.celery_workers, env)
    if args.scenario == "loyalty-leaderboard" and args.lb_writes > 0:
        writer = ["lb-writer", "--data", str(data_file), "--rate", str(args.lb_writes)]
        writer += ["--duration", str(args.duration)]
        # The writer runs each entry's follow-ups at once (no Celery worker in this benchmark).
        lb_writer = subprocess.Popen([*bench_data, *writer], cwd=ROOT, env={**env, "CELERY_TASK_ALWAYS_EAGER": "true"})
    drain: dict[str, float] = {}
    try:
        wait_for(f"{host}/api/v1/health")
        subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                str(ROOT / "loadtests" / "locustfile.py"),
                SCENARIOS[args.scenario],
                "--headless",
                "--host",
                host,
                "--users",
                str(args.users),
                "--spawn-rate",
                str(args.users),
                "--run-time",
                f"{args.duration}s",
                "--stop-timeout",
                "5",
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            check=False,
        )
        if args.scenario == "webhooks":
            left, done, _ = backlog(bench_data, data_file, env)
            drain.update(backlog=left, done_during_load=done)
            if args.workers_after:
                workers = start_workers(args.celery_workers, env)
            started = time.monotonic()
            while left and time.monotonic() - started < args.drain_timeout:
                time.sleep(0.5)
                left, _, _ = backlog(bench_data, data_file, env)
            drain.update(seconds=time.monotonic() - started, left=left)
        if lb_writer is not None:
            lb_writer.wait(timeout=args.duration + 60)  # it stops by itself after --duration
    finally:
        if lb_writer is not None and lb_writer.poll() is None:
            lb_writer.terminate()
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        stop(workers)

    rows = report(prefix)
    print(
        f"\n{args.scenario.capitalize()} benchmark: {args.duration}s, {args.users} users, "
        f"gunicorn {args.workers}x{args.threads}, {os.cpu_count()} cores"
    )
    print(f"{'endpoint':32} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7}")
    for row in rows:
        print(
            f"{row['name']:32} {row['requests']:>9} {row['rps']:>8.1f} "
            f"{row['p50']:>7} {row['p95']:>7} {row['p99']:>7} {row['errors']:>7}"
        )
    total = next((row for row in rows if row["name"] == "Aggregated"), None)
    failed = total is None or total["errors"] != "0.00%"
    checkouts = next((row for row in rows if row["name"] == "POST checkout"), None)
    if checkouts is not None:
        print(
            f"Checkouts: {checkouts['requests']} in {args.duration}s "
            f"({checkouts['rps']:.1f}/s), p95 {checkouts['p95']} ms"
        )
    if args.scenario == "webhooks":
        outcomes = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else {}
        accepted = outcomes.get("accepted", 0)
        hooks = next((row for row in rows if row["name"] == "POST webhooks/stripe"), None)
        if hooks is not None:
            print(f"Webhooks accepted: {accepted} in {args.duration}s ({hooks['rps']:.1f}/s), p99 {hooks['p99']} ms")
        total_done = accepted - drain.get("left", 0)
        print(
            f"Backlog when the load stopped: {drain.get('backlog')} (processed during the load: "
            f"{drain.get('done_during_load')}); {args.celery_workers} worker process(es) "
            f"{'started after the load' if args.workers_after else 'running throughout'} left "
            f"{drain.get('left')} after {drain.get('seconds', 0):.1f} s of draining ({total_done} processed in all)"
        )
        verify = ["verify-webhooks", "--data", str(data_file), "--expect", str(accepted)]
        checked = subprocess.run([*bench_data, *verify], cwd=ROOT, env=env, check=False)
        failed = failed or checked.returncode != 0 or bool(drain.get("left"))
    if args.scenario == "wallet":
        outcomes = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else {}
        created = outcomes.get("withdrawals", 0)
        print(f"Withdrawals created: {created} in {args.duration}s")
        verify = ["verify-wallet", "--data", str(data_file), "--expect", str(created)]
        checked = subprocess.run([*bench_data, *verify], cwd=ROOT, env=env, check=False)
        failed = failed or checked.returncode != 0
    if args.scenario == "loyalty-leaderboard":
        reads = next((row for row in rows if row["name"] == "Aggregated"), None)
        if reads is not None:
            print(f"Leaderboard reads: {reads['rps']:.1f}/s, p95 {reads['p95']} ms, p99 {reads['p99']} ms")
        checked = subprocess.run([*bench_data, "verify-leaderboard", "--data", str(data_file)], cwd=ROOT, env=env)
        failed = failed or checked.returncode != 0
    if args.scenario == "flash-sale":
        outcomes = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else {}
        print(
            f"Shoppers: {sum(outcomes.values())} tried; " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        )
        verify = ["verify", "--data", str(data_file), "--expect-orders", str(outcomes.get("ordered", 0))]
        checked = subprocess.run([*bench_data, *verify], cwd=ROOT, env=env, check=False)
        failed = failed or checked.returncode != 0 or bool(outcomes.get("failed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
