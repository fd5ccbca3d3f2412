#!/usr/bin/env python3
"""Query benchmark: p50/p95 per endpoint and range at 1M and 10M synthetic events.

    .venv/bin/python bench/queries.py [--sizes 1000000 10000000] [--repeat 20]
                                      [--driver sqlite|postgres] [--postgres-url URL]
                                      [--price-changes N]

Events are spread evenly over the 30 days before "now" (so range=30d holds all of
them), with a skewed, realistic mix: 12 client API keys, 25 credentials of three
provider families with 3-4 models each, 4% failures; one prompt in 16 a long one (100k
to 400k tokens: every long-context band but the last), and of the Codex requests 5%
served at the priority tier and 2% at flex (what the rollups with the model split by).
Databases are built once into bench/.data/ (through Store.write_batch, so rollups are
built as in production) and reused. Endpoints are called in-process through the WSGI
app, JSON encoding included, twice over: cold (the rollup cache emptied before every
call: a first look, or new filters) and warm (the same question again: auto-refresh,
coming back to a page).
With --price-changes N, every model gets N dated prices of the owner's inside the 30
days (at UTC midnights, the last at 12:35 of a day: inside a 15-minute bucket), so
that priced reads cut their plans there (PRICE_JOIN_ON); they are removed at the end.
Targets: overview, analysis and credentials for 30d at 10M events p95 <= 150 ms; any
events page p95 <= 30 ms; at 1M events everything <= 50 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import pathlib
import random
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import cpa_usage  # noqa: E402
from conftest import wsgi_call  # noqa: E402
from databases import DEFAULT_POSTGRES_URL, built, schema_url, size_mb  # noqa: E402

NOW = 1_796_000_000_000  # 2026-11-29T17:33:20Z, fixed so that runs compare
SPAN = 30 * 86_400_000
FAMILIES = {"codex": ["gpt-5.4", "gpt-5.4-mini", "gpt-image-1", "gpt-5.3-codex"],
            "claude": ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5"],
            "gemini": ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview"]}


def synthetic_events(count: int, seed: int = 7, end_ms: int = NOW, span_ms: int = SPAN):
    """``count`` events of a team (25 credentials, 12 keys, 10 models) spread evenly over
    the ``span_ms`` before ``end_ms``."""
    rnd = random.Random(seed)
    credentials = [(f"user{i}@example.com", f"{i:016x}", list(FAMILIES)[i % 3]) for i in range(25)]
    keys = [f"sk-team-{i:02d}-{rnd.getrandbits(32):08x}" for i in range(12)]
    key_weights = [1 / (i + 1) for i in range(12)]
    credential_weights = [1 / (i + 1) ** 0.7 for i in range(25)]
    for i in range(count):
        ts = end_ms - span_ms + i * span_ms // count
        source, auth_index, provider = rnd.choices(credentials, credential_weights)[0]
        model = rnd.choice(FAMILIES[provider])
        failed = rnd.random() < 0.04
        long_prompt, tier_draw = rnd.random() < 1 / 16, rnd.random()
        inp = 0 if failed else rnd.randrange(100_000, 400_000) if long_prompt else rnd.randrange(100, 50_000)
        read = inp * rnd.randrange(0, 90) // 100
        out = 0 if failed else rnd.randrange(10, 4000)
        responded = ("priority" if tier_draw < 0.05 else "flex" if tier_draw < 0.07 else "default"
                     ) if provider == "codex" else None
        yield cpa_usage.UsageEvent(
            event_key=f"{i:032x}", ts_ms=ts, ts_raw="", ts_estimated=0, received_ms=ts, request_id=f"{i:08x}",
            model=model, alias=model, provider=provider, executor_type="", endpoint="POST /v1/responses",
            auth_type="oauth", source=source, auth_index=auth_index, api_key=rnd.choices(keys, key_weights)[0],
            failed=int(failed), status_code=429 if failed else 200, fail_body=None,
            latency_ms=rnd.randrange(200, 30_000), ttft_ms=rnd.randrange(100, 3000), input_tokens=inp - read,
            cache_read_tokens=read, cache_write_tokens=0, output_tokens=out, reasoning_tokens=out // 3,
            unclassified_tokens=0, total_tokens=inp + out, token_family="openai", token_quality="complete",
            raw_input_tokens=inp, raw_output_tokens=out, raw_reasoning_tokens=out // 3, raw_cached_tokens=read,
            raw_cache_read_tokens=read, raw_cache_creation_tokens=0, raw_total_tokens=inp + out, token_breakdown=None,
            generate=1, reasoning_effort="high", service_tier="auto", response_service_tier=responded,
            client_ip="127.0.0.1", x_forwarded_for="", user_agent="codex_cli_rs/0.114.0", access_token_sha256=None,
            accounting_version=2, response_headers=None, extra=None, instance="bench",
            prompt_band=cpa_usage.prompt_band(inp), served_tier=cpa_usage.served_tier("auto", responded))


def write_in_batches(store: cpa_usage.Store, events, size: int = 10_000) -> None:
    """Write ``events`` through Store.write_batch (the writer's path), ``size`` at a time."""
    batch = []
    for event in events:
        batch.append(event)
        if len(batch) == size:
            store.write_batch(batch, [], received=len(batch))
            batch = []
    if batch:
        store.write_batch(batch, [], received=len(batch))


def build(target: str, count: int) -> None:
    """Write the synthetic events into ``target`` once (a SQLite path, built aside and
    renamed when whole; or a PostgreSQL schema URL, marked when whole)."""
    postgres = cpa_usage.is_postgres_url(target)
    if (postgres and built(target)) or (not postgres and pathlib.Path(target).exists()):
        return
    print(f"building {count:,} events into {target} ...", flush=True)
    started = time.monotonic()
    partial = target if postgres else target + ".partial"
    store = cpa_usage.Store(partial)
    write_in_batches(store, synthetic_events(count))
    store.compact()
    store.set_meta("bench.built", str(count))
    store.close()
    if not postgres:
        os.replace(partial, target)
    print(f"  built in {time.monotonic() - started:.0f} s, {size_mb(target):.0f} MB", flush=True)


def service_for(target: str) -> cpa_usage.Service:
    storage = ({"STORAGE_DRIVER": "postgres", "DATABASE_URL": target} if cpa_usage.is_postgres_url(target)
               else {"SQLITE_PATH": target})
    env = {"CPA_BASE_URL": "http://127.0.0.1:1", "CPA_MANAGEMENT_KEY": "x", "ENV_FILE": "", **storage,
           "LOG_FILE_ENABLED": "false", "TZ": "Asia/Shanghai"}
    service = cpa_usage.Service(cpa_usage.load_config(env))
    service.analytics.clock = lambda: NOW
    return service


def measure(service, path: str, repeat: int, cold: bool) -> tuple[float, float]:
    """p50 and p95 ms of ``repeat`` calls; ``cold``: the rollup cache emptied before each.
    One call before them is not timed: it reads the pages of the file it needs from disk
    when the machine has dropped them from its page cache (this one's memory reclaim does
    within minutes, with most of its memory free), which is the operating system's
    doing, not what the rollup cache keeps or not."""
    if cold and service.store.cache is not None:
        service.store.cache.clear()
    wsgi_call(service.app, "GET", path)
    times = []
    for _ in range(repeat):
        if cold and service.store.cache is not None:  # PostgreSQL keeps nothing: every call is cold
            service.store.cache.clear()
        started = time.perf_counter()
        response = wsgi_call(service.app, "GET", path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, (path, response.body[:300])
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def cpu_check() -> float:
    """ms that a fixed pure-Python loop takes (the best of three). This machine's speed
    drifts by up to twice over minutes (other guests on its host): printed with every
    table, so that figures from a slow phase can be told apart."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(1_000_000):
            total += i
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--driver", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="a database to make schemas in")
    parser.add_argument("--price-changes", type=int, default=0, help="dated prices per model inside the range")
    args = parser.parse_args()
    gc.set_threshold(*cpa_usage.GC_THRESHOLDS)  # as `serve` runs
    data = ROOT / "bench" / ".data"
    data.mkdir(exist_ok=True)
    base = "/usage/api/v1/usage"
    for size in args.sizes:
        target = str(data / f"events-{size}.db")
        if args.driver == "postgres":
            target = schema_url(args.postgres_url, f"bench_events_{size}", fresh=False)
            if not built(target):  # an interrupted build: start over
                target = schema_url(args.postgres_url, f"bench_events_{size}", fresh=True)
        build(target, size)
        service = service_for(target)
        models = [model for family in FAMILIES.values() for model in family]
        if args.price_changes:
            service.store.upsert_prices(dated_prices(models, args.price_changes))
            service.pricing.reload()
        key_id = service.analytics.named("api_key", service.store.distinct_values("api_key")[0])["api_key_id"]
        total = service.store.load_totals()["inserted"]
        last_page = (total + 49) // 50
        paths = []
        for name in ("24h", "7d", "30d", "today", "all"):
            paths += [f"{base}/overview?range={name}", f"{base}/analysis?range={name}&group=both",
                      f"{base}/credentials?range={name}"]
        paths += [f"{base}/overview?range=30d&model=gpt-5.4", f"{base}/overview?range=30d&api_key={key_id}",
                  f"{base}/analysis?range=30d&group=api&result=failed",
                  f"{base}/health", f"{base}/health?day=2026-11-20", f"{base}/events/filters?range=30d",
                  f"{base}/events?page=1", f"{base}/events?page=2", f"{base}/events?page={last_page // 2}",
                  f"{base}/events?page={last_page}", f"{base}/events?range=30d&model=gpt-5.4&page=1",
                  f"{base}/events?range=30d&api_key={key_id}&page=200"]
        print(f"\n{size:,} events, {args.driver} ({size_mb(target):.0f} MB), {args.repeat} calls each; "
              f"CPU check {cpu_check():.0f} ms (lower is faster)")
        print(f"{'':<60} {'cold (nothing kept)':>19} {'warm (asked before)':>19}")
        print(f"{'endpoint':<60} {'p50 ms':>9} {'p95 ms':>9} {'p50 ms':>9} {'p95 ms':>9}")
        for endpoint in paths:
            cold = measure(service, endpoint, args.repeat, cold=True)
            warm = measure(service, endpoint, args.repeat, cold=False)
            print(f"{endpoint[len(base):]:<60} {cold[0]:9.1f} {cold[1]:9.1f} {warm[0]:9.1f} {warm[1]:9.1f}",
                  flush=True)
        print(f"CPU check after the table: {cpu_check():.0f} ms")
        if args.price_changes:
            service.store.delete_prices(models)
        service.store.close()


def dated_prices(models: list[str], changes: int) -> list[tuple]:
    """``changes`` prices per model (rows of Store.PRICE_COLUMNS: the standard tier's,
    without a long-context tier) inside the 30 days before NOW, the last at 12:35 of its day."""
    day = 86_400_000
    first_day = NOW - NOW % day - SPAN + day
    rows = []
    for index, model in enumerate(models):
        for change in range(changes):
            at = first_day + change * (SPAN // changes) // day * day
            if change == changes - 1:
                at += 12 * 3_600_000 + 35 * 60_000
            rows.append((model, at, 1.0 + index + change, 4.0 + change, 0.1, 1.25, None,
                         *cpa_usage.Store.NO_LONG_CONTEXT, ""))
    return rows


if __name__ == "__main__":
    main()
