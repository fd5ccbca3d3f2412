#!/usr/bin/env python3
"""Capacity benchmark: sustained events/s with the Core Dashboard in use, on a reference database.

    .venv/bin/python bench/capacity.py [--rates 5000 10000 20000] [--paths redis-publish cpa-lpop ...]
                                       [--duration 300] [--quick] [--out DIR]
                                       [--service-cpus 0 --load-cpus 1]   (a one-core point)

The method follows the capacity report the most complete peer publishes
(Willxup/cpa-usage-keeper, internal/benchmark/REPORT.md, suite capacity-v1):

Dataset. 3,205,740 events over 90 days, 1,201,775 of them in the 30 days before the
dataset's anchor (its build time); 500 upstream identities (credentials), 50 models,
50 client API keys in three usage tiers (15 high, 25 medium, 10 low keys; per-key
weights 10:3:1, each key +-10%); 1% failed. Every record is a current-era (v7.2.140)
queue payload, decoded by the product's decode_payload and written by Store.write_batch,
so the rollups are the product's own. Built once into bench/.data/ (seeded: the same
seed and anchor give the same payloads, checked by a SHA-256 over them) and copied to
a fresh file for every point. Raw events are kept for the whole 90 days
(USAGE_RETENTION_DAYS=0), as the peer keeps them hot.

Point. One rate on one path: a fresh `python3 cpa_usage.py` process on a fresh copy,
the five Core Dashboard paths warmed once, then events published at the rate for
--duration seconds while the dashboard paths are requested at 1 request/s, round robin:

  realtime_overview_60m  /usage/overview?range=custom&start=<now-60m>&end=<now>
  overview_30d           /usage/overview?range=30d
  health_year            /usage/health  (the activity matrix: one cell per day, 365 days)
  analysis_30d           /usage/analysis?range=30d&group=model&page_size=100 (as the dashboard asks)
  events_30d             /usage/events?range=30d&page=1&page_size=50

Paths (how records reach the service):
  redis-publish  the machine's Redis on 127.0.0.1:6379, PUBLISH to the channel the service
                 subscribes to (a record nobody received is RPUSHed instead, as CPA queues it)
  redis-list     the same Redis, RPUSH to the list (CPA's queue is FIFO: RPUSH + LPOP is CPA's
                 order, LPUSH + LPOP would be a stack). Redis has SUBSCRIBE, so the service is
                 subscribed and pops this list with LPOP N on its backlog schedule (every 10 s).
  cpa-subscribe  the fake CPA (tests/fake_cpa.py) as v7.2.140: pushed to the subscriber, with
                 CPA's 256-message subscriber buffer (a subscriber that falls behind is dropped)
  cpa-lpop       the fake CPA as v7.0.3 (no SUBSCRIBE): the service's LPOP loop, with CPA's
                 60-second queue retention (records older than that are lost)

Pass (the peer's criteria, with our latency gate): >= 99.9% of offered events published,
>= 99% durable (committed rows counted after the catch-up window), no growing backlog,
caught up within 15 s after publishing stops, zero HTTP errors, aggregate p99 of the five
paths <= --p99-gate-ms (150). Reported per point: p50/p95/p99 per endpoint, the service's
CPU (cores, and share of the machine), peak RSS (VmHWM), durable/offered, catch-up time,
and the CPU everything else on the machine used meanwhile.

Results go to --out (default bench/.data/results/) as capacity-<stamp>.json (every sample
and every dashboard request) and .md (the tables). The program is cpa_usage.py copied once
per run (its SHA-256 is in the results): every point runs the same version. Each point
uses a Redis key/channel of its own, so a concurrent run (a test suite's --quick) cannot
mix its records in.

--quick: a 30,000-event dataset of the same shape, one low rate, 6-second points on all
four paths: well under a minute once built, for CI to keep this script working
(tests/test_capacity.py). Needs Redis on 127.0.0.1:6379 (password-protected for the run,
as tests/backends.py RealRedis does). Also: --build-only; --no-dashboard (diagnostic: the
drain alone); --open-bucket-probe (diagnostic: in-process latency as raw events fill the
open 5-minute bucket); --render JSON... (the tables of earlier runs together).
See bench/CAPACITY.md for a run and its findings.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import hashlib
import http.client
import json
import math
import multiprocessing
import os
import pathlib
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zoneinfo
from typing import Any, NamedTuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import cpa_usage  # noqa: E402

DATA = ROOT / "bench" / ".data"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# The key/channel on the machine's Redis is this prefix and the point's run id: not "usage" (the drain
# tests use it), and never one another run uses (a --quick run from a test suite may run meanwhile).
REDIS_CHANNEL = "cpa-usage-capacity"
TZ = "Asia/Shanghai"
BASE = "/usage/api/v1"
PATHS = ("redis-publish", "redis-list", "cpa-subscribe", "cpa-lpop")
DRAIN_PASS_S, DRAIN_WINDOW_S = 15.0, 30.0
# Nothing queued, nothing in the service's memory and no commit for this long: what is
# missing is lost. Records on their way through a socket are in none of those, and a
# service starved of its core (a busy machine) holds them there for seconds; the wait
# costs nothing when every record arrives (the count ends the catch-up first).
QUIET_S = 10.0
HOUR_MS, DAY_MS = 3_600_000, 86_400_000


class Spec(NamedTuple):
    """The shape of a dataset."""

    events: int
    recent_30d: int
    days: int
    identities: int
    models: int
    api_keys: int
    tiers: tuple  # (name, share of keys, per-key weight)
    failure_rate: float
    seed: int


TIERS = (("high", 0.30, 10.0), ("medium", 0.50, 3.0), ("low", 0.20, 1.0))
REFERENCE = Spec(3_205_740, 1_201_775, 90, 500, 50, 50, TIERS, 0.01, 20260810)
QUICK = Spec(30_000, 11_246, 90, 500, 50, 50, TIERS, 0.01, 20260810)  # same proportions, ~1% of the size

CORE_ENDPOINTS = ("realtime_overview_60m", "overview_30d", "health_year", "analysis_30d", "events_30d")


def endpoint_path(name: str) -> str:
    if name == "realtime_overview_60m":
        now = cpa_usage.now_ms()
        return f"{BASE}/usage/overview?range=custom&start={now - HOUR_MS}&end={now}"
    return BASE + {"overview_30d": "/usage/overview?range=30d",
                   "health_year": "/usage/health",
                   "analysis_30d": "/usage/analysis?range=30d&group=model&page_size=100",
                   "events_30d": "/usage/events?range=30d&page=1&page_size=50"}[name]


# -- the population: keys, credentials, models, and one record's body ---------------------


class Population:
    """Who calls what: client keys in usage tiers, credentials pooled per key, models
    clustered per credential. Records drawn from it are JSON payloads of CPA v7.2.140."""

    USER_AGENTS = ("codex_cli_rs/0.114.0 (Mac OS 14.2.0; arm64) vscode/1.111.0", "claude-cli/2.1.220 (external, cli)",
                   "OpenAI/Python 1.109.1", "google-genai-sdk/1.30.0 gl-python/3.12.3")
    ENDPOINTS = ("POST /v1/responses", "POST /v1/chat/completions", "POST /v1/messages")
    EFFORTS = ("low", "medium", "high", "xhigh")

    def __init__(self, spec: Spec):
        self.spec = spec
        rnd = random.Random(spec.seed)
        counts = [int(spec.api_keys * share) for _, share, _ in spec.tiers]
        for i in sorted(range(len(counts)), key=lambda i: -(spec.api_keys * spec.tiers[i][1] % 1))[
                :spec.api_keys - sum(counts)]:
            counts[i] += 1
        self.keys: list[tuple[str, str]] = []  # (api_key, tier)
        weights = []
        for (tier, _, weight), count in zip(spec.tiers, counts):
            for _ in range(count):
                self.keys.append((f"sk-bench-{tier}-{len(self.keys):02d}-{rnd.getrandbits(48):012x}", tier))
                weights.append(weight * rnd.uniform(0.9, 1.1))
        self.key_cumulative = [sum(weights[:i + 1]) for i in range(len(weights))]
        self.identities = []  # (source, auth_index, provider, executor, auth_type)
        for i in range(spec.identities):
            auth_index = hashlib.sha256(f"{spec.seed}:identity:{i}".encode()).hexdigest()[:16]
            if i % 4 == 3:  # every fourth credential is an upstream API key of an OpenAI-compatible provider
                self.identities.append((f"sk-upstream-{i:03d}-{auth_index[:8]}", auth_index,
                                        "openai-compatible-bench", "OpenAICompatExecutor", "apikey"))
            else:
                self.identities.append((f"user{i:03d}@bench.example", auth_index, "codex", "CodexExecutor", "oauth"))
        self.models = [f"bench-model-{i:03d}" for i in range(spec.models)]
        self.pool_size = max(1, spec.identities // spec.api_keys)

    def prices(self) -> list[tuple]:
        """Rows of Store.PRICE_COLUMNS: USD per 1M tokens, since always, of the standard tier,
        without a long-context tier."""
        return [(m, 0, 1 + i % 7 / 10, 4 + i % 11 / 10, 0.1, 1.25, None, *cpa_usage.Store.NO_LONG_CONTEXT, "")
                for i, m in enumerate(self.models)]

    def draw(self, rnd: random.Random, index: int | None = None) -> tuple[int, int, int]:
        """(key, identity, model) indexes. ``index`` < identities covers every identity,
        key and model once at the start, so all of them are referenced."""
        spec = self.spec
        if index is not None and index < max(spec.identities, spec.models, spec.api_keys):
            return index % spec.api_keys, index % spec.identities, index % spec.models
        key = bisect.bisect_left(self.key_cumulative, rnd.random() * self.key_cumulative[-1])
        pool = key if rnd.random() >= 0.2 else (key + 1) % spec.api_keys  # a fifth from the neighbour's pool
        rank = min(self.pool_size - 1, int(rnd.random() ** 3 * self.pool_size))  # a few credentials do most
        identity = (pool + rank * spec.api_keys) % spec.identities
        primary = (identity * 7 + identity // spec.api_keys) % spec.models
        roll = rnd.random()
        model = primary if roll < 0.85 else (primary + 1) % spec.models if roll < 0.99 else (primary + 3) % spec.models
        return min(key, spec.api_keys - 1), identity, model

    def body(self, rnd: random.Random, key: int, identity: int, model: int, failed: bool) -> str:
        """The JSON of one record between ``{"timestamp":"..."`` and ``,"request_id":"..."}``."""
        source, auth_index, provider, executor, auth_type = self.identities[identity]
        api_key = self.keys[key][0]
        latency = rnd.randrange(250, 45_250)
        ttft = rnd.randrange(50, 50 + min(latency, 8000))
        if failed:
            inp = read = out = reasoning = 0
            status, fail_body = rnd.choice((429, 500, 503)), "upstream error"
        else:
            inp = rnd.randrange(80, 4080)
            read = rnd.randrange(0, max(1, inp // 2))
            out = rnd.randrange(20, 1220)
            reasoning = rnd.randrange(0, out + 1)
            status, fail_body = 200, ""
        return (
            f'"latency_ms":{latency},"ttft_ms":{ttft},"source":"{source}","auth_index":"{auth_index}",'
            f'"client_ip":"10.0.{key}.{identity % 250}","x_forwarded_for":"",'
            f'"user_agent":"{self.USER_AGENTS[identity % 4]}",'
            f'"tokens":{{"input_tokens":{inp},"output_tokens":{out},"reasoning_tokens":{reasoning},'
            f'"cached_tokens":{read},"cache_read_tokens":{read},"cache_read_tokens_present":true,'
            f'"cache_creation_tokens":0,"total_tokens":{inp + out}}},'
            f'"failed":{"true" if failed else "false"},"generate":true,'
            f'"fail":{{"status_code":{status},"body":"{fail_body}"}},'
            f'"response_headers":{{"Content-Type":["text/event-stream"],"X-Request-Id":["req_{rnd.getrandbits(32):08x}"]}},'
            f'"accounting_version":2,"token_breakdown":{{"schema_version":2,"quality":"complete",'
            f'"total_tokens":{inp + out},"input":{{"total_tokens":{inp},"uncached_tokens":{inp - read},'
            f'"cache_read_tokens":{read},"cache_write_tokens":0}},"output":{{"total_tokens":{out},'
            f'"non_reasoning_tokens":{out - reasoning},"reasoning_tokens":{reasoning}}},"unclassified_tokens":0}},'
            f'"provider":"{provider}","executor_type":"{executor}","model":"{self.models[model]}",'
            f'"alias":"{self.models[model]}","endpoint":"{self.ENDPOINTS[model % 3]}","auth_type":"{auth_type}",'
            f'"api_key":"{api_key}","reasoning_effort":"{self.EFFORTS[model % 4]}","service_tier":"auto",'
            f'"response_service_tier":"{"priority" if model % 10 >= 8 else "default"}"')


def payload(timestamp: str, body: str, request_id: str) -> bytes:
    return f'{{"timestamp":"{timestamp}",{body},"request_id":"{request_id}"}}'.encode()


def diurnal(hour: int) -> float:
    """Relative traffic of a local hour: quiet at night, highest in the late afternoon."""
    return 0.3 + 0.95 * (1 - math.cos(2 * math.pi * ((hour - 4) % 24) / 24)) * (0.85 if hour < 12 else 1.0)


def hourly_counts(spec: Spec, anchor_ms: int) -> list[tuple[int, int]]:
    """(hour start, events) over the dataset's days: recent_30d events in the last 30
    days, the rest before; weighted by local hour, weekends at 78%, 1 hour in 97 a
    3.5x burst; whole counts by largest remainder."""
    rnd = random.Random(spec.seed ^ 0x5EED)
    zone = zoneinfo.ZoneInfo(TZ)
    start = anchor_ms - spec.days * DAY_MS
    recent_start = anchor_ms - 30 * DAY_MS
    hours = list(range(start, anchor_ms, HOUR_MS))
    weights = []
    for h in hours:
        local = dt.datetime.fromtimestamp(h / 1000, zone)
        weights.append(diurnal(local.hour) * (0.78 if local.weekday() >= 5 else 1.0)
                       * (3.5 if rnd.randrange(97) == 0 else 1.0))
    counts = [0] * len(hours)
    for lo, hi, total in ((start, recent_start, spec.events - spec.recent_30d), (recent_start, anchor_ms, spec.recent_30d)):
        members = [i for i, h in enumerate(hours) if lo <= h < hi]
        weight_sum = sum(weights[i] for i in members)
        exact = {i: total * weights[i] / weight_sum for i in members}
        for i in members:
            counts[i] = int(exact[i])
        left = total - sum(counts[i] for i in members)
        for i in sorted(members, key=lambda i: exact[i] - int(exact[i]), reverse=True)[:left]:
            counts[i] += 1
    return list(zip(hours, counts))


# -- building the reference database --------------------------------------------------------


def dataset_paths(spec: Spec) -> tuple[pathlib.Path, pathlib.Path]:
    name = f"capacity-{spec.events}-{spec.seed}"
    return DATA / f"{name}.db", DATA / f"{name}.json"


def build_dataset(spec: Spec, anchor_ms: int, path: pathlib.Path, info_path: pathlib.Path) -> dict:
    """Generate every record as a queue payload, decode it with the product's decoder and
    write it through Store.write_batch (events and rollups in one transaction, as ingest
    does), then record the checks of the result beside it."""
    began = time.monotonic()
    partial = path.with_suffix(".partial")
    for leftover in (partial, pathlib.Path(f"{partial}-wal"), pathlib.Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    population = Population(spec)
    store = cpa_usage.Store(str(partial))
    store.upsert_prices(population.prices())
    rnd = random.Random(spec.seed)
    digest = hashlib.sha256()
    batch: list = []
    index = 0
    print(f"building {spec.events:,} events over {spec.days} days into {path.name} ...", flush=True)
    for hour, count in hourly_counts(spec, anchor_ms):
        for j in range(count):
            ts_ms = hour + (2 * j + 1) * HOUR_MS // (2 * count)
            key, identity, model = population.draw(rnd, index)
            body = population.body(rnd, key, identity, model, rnd.random() < spec.failure_rate)
            # one record in 250 is a retry: it shares the request_id of the one before
            request_id = f"ds-{index - 1 if index % 250 == 249 else index:08d}"
            data = payload(cpa_usage.iso_ms(ts_ms), body, request_id)
            digest.update(data)
            batch.append(cpa_usage.decode_payload(data, ts_ms + rnd.randrange(50, 2000)))
            index += 1
            if len(batch) == 10_000:
                store.write_batch(batch, [], received=len(batch))
                batch = []
                if index % 500_000 == 0:
                    print(f"  {index:,} events, {time.monotonic() - began:.0f} s", flush=True)
    if batch:
        store.write_batch(batch, [], received=len(batch))
    # The daily sweep as of the anchor (USAGE_RETENTION_DAYS=0 keeps every event): it
    # analyzes the tables for the planner and is on record, so a start does not redo it.
    cpa_usage.Maintenance(store, zoneinfo.ZoneInfo(TZ), 0).sweep(anchor_ms)
    store.close()
    info = validate(spec, partial, anchor_ms)
    info.update(payload_sha256=digest.hexdigest(), build_seconds=round(time.monotonic() - began, 1),
                schema_version=len(cpa_usage.MIGRATIONS))
    os.replace(partial, path)
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    print(f"  built in {info['build_seconds']:.0f} s, {info['database_bytes'] / 2**20:.0f} MB", flush=True)
    return info


def validate(spec: Spec, path: pathlib.Path, anchor_ms: int) -> dict:
    """What the database holds, counted from it (the peer validates its dataset the same way)."""
    conn = sqlite3.connect(path)
    try:
        one = lambda sql, *args: conn.execute(sql, args).fetchone()[0]  # noqa: E731
        population = Population(spec)
        tier_of = dict(population.keys)
        by_key = dict(conn.execute("SELECT api_key, COUNT(*) FROM usage_events GROUP BY api_key").fetchall())
        tiers: dict[str, int] = {}
        for key, n in by_key.items():
            tiers[tier_of.get(key, "?")] = tiers.get(tier_of.get(key, "?"), 0) + n
        total = one("SELECT COUNT(*) FROM usage_events")
        info = {
            "spec": spec._asdict(), "anchor_ms": anchor_ms, "anchor": cpa_usage.iso_ms(anchor_ms),
            "events": total,
            "events_30d_at_anchor": one("SELECT COUNT(*) FROM usage_events WHERE ts_ms >= ?", anchor_ms - 30 * DAY_MS),
            "first_event": cpa_usage.iso_ms(one("SELECT MIN(ts_ms) FROM usage_events")),
            "last_event": cpa_usage.iso_ms(one("SELECT MAX(ts_ms) FROM usage_events")),
            "failed": one("SELECT COUNT(*) FROM usage_events WHERE failed = 1"),
            "identities": one("SELECT COUNT(DISTINCT auth_index) FROM usage_events"),
            "models": one("SELECT COUNT(DISTINCT model) FROM usage_events"),
            "api_keys": len(by_key),
            "tier_keys": {tier: sum(1 for _, t in population.keys if t == tier) for tier, _, _ in spec.tiers},
            "tier_events": tiers,
            "rollup_requests": one("SELECT SUM(requests) FROM usage_timeline_daily") if conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'usage_timeline_daily'").fetchone() else None,
            "quick_check": one("PRAGMA quick_check"),
            "database_bytes": path.stat().st_size,
        }
    finally:
        conn.close()
    return info


def ensure_dataset(spec: Spec, rebuild: bool, max_age_days: float) -> tuple[pathlib.Path, dict]:
    """The reference database: built when missing, stale (anchor older than max_age_days,
    as the peer refuses a dataset more than 7 days old) or asked for; brought to the
    product's current schema by opening it with Store (its migrations)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path, info_path = dataset_paths(spec)
    info = json.loads(info_path.read_text()) if path.exists() and info_path.exists() else None
    if info is not None and (cpa_usage.now_ms() - info["anchor_ms"]) > max_age_days * DAY_MS:
        print(f"{path.name} is older than {max_age_days:g} days: rebuilding", flush=True)
        info = None
    if info is None or rebuild:
        path.unlink(missing_ok=True)
        anchor = cpa_usage.now_ms() // 60_000 * 60_000
        info = build_dataset(spec, anchor, path, info_path)
    elif info.get("schema_version") != len(cpa_usage.MIGRATIONS):
        print(f"migrating {path.name} to schema version {len(cpa_usage.MIGRATIONS)} ...", flush=True)
        cpa_usage.Store(str(path)).close()
        info["schema_version"] = len(cpa_usage.MIGRATIONS)
        info["database_bytes_as_built"] = info.get("database_bytes_as_built", info["database_bytes"])
        info["database_bytes"] = path.stat().st_size
        info_path.write_text(json.dumps(info, indent=2) + "\n")
    return path, info


def fresh_copy(source: pathlib.Path, target: pathlib.Path) -> None:
    """A byte-for-byte copy, synced and dropped from the page cache, so that every point
    starts cold and no point inherits another's WAL or cache."""
    for leftover in (target, pathlib.Path(f"{target}-wal"), pathlib.Path(f"{target}-shm"),
                     pathlib.Path(f"{target}.spool")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(source, target)
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


# -- the load driver: a child process that publishes at a rate --------------------------------


class Redis:
    """A bare RESP client for the publisher: pipelined commands, integer replies."""

    def __init__(self, password: str):
        self.sock = socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.sock.sendall(self.command(b"AUTH", password.encode()))
        reply = self.replies(1, raw=True)[0]
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"Redis refused AUTH: {reply!r}")

    @staticmethod
    def command(*parts: bytes) -> bytes:
        return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)

    def replies(self, count: int, raw: bool = False) -> list:
        lines: list = []
        while len(lines) < count:
            end = self.buffer.find(b"\r\n")
            if end < 0:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("Redis closed the connection")
                self.buffer += chunk
                continue
            line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
            if raw:
                lines.append(line)
            elif line[:1] == b":":
                lines.append(int(line[1:]))
            else:
                raise RuntimeError(f"Redis error: {line!r}")
        return lines


def driver_process(path: str, spec: Spec, key: str, channel_name: str, commands, replies) -> None:
    """Child process: the fake CPA (for the cpa-* paths it carries the records; for the
    redis-* paths it only answers the service's management HTTP calls) and the
    publisher. Commands: ("publish", (rate, duration, run)), ("stats", None), ("stop", None);
    every reply is a dict with a "kind": hello, stats or done."""
    import queue

    from fake_cpa import FakeCPA

    cpa = FakeCPA(key=key, version="7.0.3" if path == "cpa-lpop" else "7.2.140", retention_seconds=60).start()
    publisher = Redis(key) if path.startswith("redis-") else None
    admin = Redis(key) if path == "redis-list" else None
    counters: dict[str, Any] = {"published": 0, "errors": 0, "error": None, "requeued": 0, "delivered": 0}

    def forget() -> None:
        """The fake keeps every record it hands out and every command it reads, for tests:
        at tens of thousands a second that is gigabytes, so count them and let go."""
        with cpa._lock:
            counters["delivered"] += len(cpa.delivered)
            cpa.delivered.clear()
            cpa.commands.clear()

    def stats(kind: str = "stats") -> dict:
        forget()
        if admin is not None:
            admin.sock.sendall(Redis.command(b"LLEN", channel_name.encode()))
            queued = admin.replies(1)[0]
        else:
            queued = cpa.queue_len()
        return {"kind": kind, **counters, "queue": queued, "lost": len(cpa.lost), "discarded": len(cpa.discarded),
                "dropped_subscribers": cpa.dropped_subscribers, "subscribers": cpa.subscriber_count()}

    def answer_pending() -> None:
        while True:
            try:
                verb, _ = commands.get_nowait()
            except queue.Empty:
                return
            if verb == "stats":
                replies.put(stats())

    def publish(rate: int, duration: float, run: str) -> dict:
        rnd = random.Random(spec.seed ^ rate)
        population = Population(spec)
        bodies = []
        for _ in range(4096):  # drawn like the dataset's records; only time and request_id change
            key_i, identity, model = population.draw(rnd)
            bodies.append(population.body(rnd, key_i, identity, model, rnd.random() < spec.failure_rate))
        channel = channel_name.encode()
        offered = int(rate * duration)
        started = next_tick = time.monotonic()
        sequence = 0
        lag = 0
        # Record i is due at started + i / rate, so all are due before the duration ends; what
        # is not out one second after it is the driver's shortfall (published < offered).
        while not counters["errors"] and sequence < offered:
            now = time.monotonic()
            if now - started >= duration + 1.0:
                break
            target = min(offered, 1 + int((now - started) * rate))
            lag = max(lag, target - sequence)
            stamp = cpa_usage.iso_ms(cpa_usage.now_ms())
            while sequence < target:
                n = min(target - sequence, 2000)
                records = [payload(stamp, bodies[rnd.getrandbits(12)], f"cap-{run}-{sequence + i:09d}")
                           for i in range(n)]
                try:
                    if publisher is None:
                        for record in records:
                            cpa.publish(record)
                    elif path == "redis-list":
                        publisher.sock.sendall(b"".join(Redis.command(b"RPUSH", channel, r) for r in records))
                        publisher.replies(n)
                    else:
                        publisher.sock.sendall(b"".join(Redis.command(b"PUBLISH", channel, r) for r in records))
                        unheard = [r for r, heard in zip(records, publisher.replies(n)) if not heard]
                        if unheard:  # nobody subscribed at that moment: CPA would have queued it
                            publisher.sock.sendall(b"".join(Redis.command(b"RPUSH", channel, r) for r in unheard))
                            publisher.replies(len(unheard))
                            counters["requeued"] += len(unheard)
                except (OSError, RuntimeError) as exc:
                    counters["errors"] += 1
                    counters["error"] = f"{type(exc).__name__}: {exc}"
                    break
                sequence += n
                counters["published"] = sequence
            answer_pending()
            if len(cpa.delivered) > 100_000:
                forget()
            next_tick += 0.005
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_tick = time.monotonic()
        return {**stats("done"), "offered": offered, "seconds": time.monotonic() - started, "max_due_unsent": lag}

    replies.put({"kind": "hello", "port": cpa.port})
    while True:
        verb, argument = commands.get()
        if verb == "stats":
            replies.put(stats())
        elif verb == "publish":
            replies.put(publish(*argument))
        elif verb == "stop":
            cpa.stop()
            replies.put({"kind": "stopped"})
            return


class Driver:
    """The bench's handle on the driver process."""

    def __init__(self, path: str, spec: Spec, key: str, channel: str):
        context = multiprocessing.get_context("spawn")
        self.commands, self.replies = context.Queue(), context.Queue()
        self.process = context.Process(target=driver_process, args=(path, spec, key, channel, self.commands, self.replies),
                                       daemon=True)
        self.process.start()
        self.pid = self.process.pid
        self.done: dict | None = None
        self.last: dict = {}
        self.cpa_port = self._next("hello", 60)["port"]

    def _next(self, kind: str, timeout: float) -> dict:
        while True:
            message = self.replies.get(timeout=timeout)
            if message["kind"] == "done":
                self.done = message
            if message["kind"] == kind:
                return message

    def publish(self, rate: int, duration: float, run: str) -> None:
        self.commands.put(("publish", (rate, duration, run)))

    def stats(self) -> dict:
        self.commands.put(("stats", None))
        self.last = self._next("stats", 30)
        return self.last

    def wait_done(self, timeout: float) -> dict:
        if self.done is None:
            self._next("done", timeout)
        return self.done

    def stop(self) -> None:
        try:
            if self.process.is_alive():
                self.commands.put(("stop", None))
                self._next("stopped", 15)
        except Exception:  # noqa: BLE001 - killed below
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


# -- measuring the service process ------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used; 0 when it is gone."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_memory(pid: int) -> dict:
    """VmRSS and VmHWM (peak resident set) in MiB (the results' *_mb fields)."""
    values = {}
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return values


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    fields = [int(v) for v in pathlib.Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(fields[:8])
    return (total - fields[3] - fields[4]) / CLOCK_TICKS, total / CLOCK_TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes, float]:
    """(status, body, milliseconds) of one GET on a new connection."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, body, (time.perf_counter() - started) * 1000
    finally:
        conn.close()


def percentiles(values: list[float]) -> dict:
    """Nearest-rank p50/p95/p99 and max, in ms (the peer's definition)."""
    if not values:
        return {"samples": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)
    rank = lambda p: ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]  # noqa: E731
    return {"samples": len(ordered), "p50": round(rank(0.50), 1), "p95": round(rank(0.95), 1),
            "p99": round(rank(0.99), 1), "max": round(ordered[-1], 1)}


class Dashboard:
    """The Core Dashboard replay: one request a second, round robin over the five paths,
    each in its own thread so that a slow answer does not delay the next request."""

    def __init__(self, port: int):
        self.port = port
        self.samples: list[tuple[str, float]] = []
        self.log: list[tuple[str, int, float]] = []  # (endpoint, sent at epoch ms, ms): for the timeline
        self.errors: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def one(self, name: str) -> None:
        at_ms = cpa_usage.now_ms()
        try:
            status, body, ms = http_get(self.port, endpoint_path(name))
            ok = status == 200 and body[:1] == b"{"
        except OSError as exc:
            status, ok, ms, body = 0, False, 0.0, str(exc).encode()
        with self._lock:
            if ok:
                self.samples.append((name, ms))
                self.log.append((name, at_ms, round(ms, 1)))
            else:
                self.errors.append((name, f"{status} {body[:200]!r}"))

    def run(self, seconds: float) -> None:
        started = time.monotonic()
        for i in range(int(seconds)):
            if self._stop.wait(max(0.0, started + i - time.monotonic())):
                break
            thread = threading.Thread(target=self.one, args=(CORE_ENDPOINTS[i % len(CORE_ENDPOINTS)],), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def summary(self) -> dict:
        by_name = {name: percentiles([ms for n, ms in self.samples if n == name]) for name in CORE_ENDPOINTS}
        for name in CORE_ENDPOINTS:
            by_name[name]["errors"] = sum(1 for n, _ in self.errors if n == name)
        return {"endpoints": by_name, "aggregate": {**percentiles([ms for _, ms in self.samples]),
                                                    "errors": len(self.errors)},
                "error_examples": self.errors[:5], "requests": self.log}


def snapshot_product(directory: pathlib.Path) -> tuple[pathlib.Path, str]:
    """cpa_usage.py as it is now, copied once for the whole run (the file is edited while
    benchmarks run: every point must run the same program, and not a half-written one),
    with static/ beside it; returns the copy and its SHA-256."""
    directory.mkdir(parents=True, exist_ok=True)
    for _ in range(10):
        source = (ROOT / "cpa_usage.py").read_bytes()
        try:
            compile(source, "cpa_usage.py", "exec")
            break
        except SyntaxError:
            time.sleep(1)
    else:
        raise RuntimeError("cpa_usage.py does not compile")
    target = directory / "cpa_usage.py"
    target.write_bytes(source)
    static = directory / "static"
    if not static.exists():
        static.symlink_to(ROOT / "static")
    return target, hashlib.sha256(source).hexdigest()


class Totals:
    """The service's running totals (meta totals.*), read from the database file: they are
    written in the same transaction as the events, so they are what is committed."""

    def __init__(self, db: pathlib.Path):
        self.conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)

    def read(self) -> dict[str, int]:
        rows = dict(self.conn.execute("SELECT key, value FROM meta WHERE key LIKE 'totals.%'").fetchall())
        return {name: int(rows.get(f"totals.{name}", 0)) for name in cpa_usage.TOTAL_COUNTERS}

    def close(self) -> None:
        self.conn.close()


class Service:
    """One `python3 cpa_usage.py` process on its own copy of the database."""

    program = ROOT / "cpa_usage.py"

    cpus: set[int] | None = None  # --service-cpus: the cores the process (and every thread of it) may run on

    def __init__(self, directory: pathlib.Path, db: pathlib.Path, path: str, cpa_port: int, key: str, channel: str):
        self.port = free_port()
        self.log_path = directory / "service.log"
        self.log = open(self.log_path, "wb")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ENV_FILE": "", "TZ": TZ,
               "CPA_BASE_URL": f"http://127.0.0.1:{cpa_port}", "CPA_MANAGEMENT_KEY": key,
               "APP_HOST": "127.0.0.1", "APP_PORT": str(self.port), "SQLITE_PATH": str(db),
               "LOG_FILE_ENABLED": "false", "LOG_DIR": str(directory / "logs"), "USAGE_RETENTION_DAYS": "0"}
        if path.startswith("redis-"):
            env.update(REDIS_QUEUE_ADDR=f"{REDIS_HOST}:{REDIS_PORT}", REDIS_QUEUE_KEY=channel)
        if path == "cpa-lpop":  # auto would take this CPA's HTTP usage queue: the LPOP loop is measured
            env.update(REDIS_QUEUE_TRANSPORT="lpop")
        cpus = self.cpus
        self.process = subprocess.Popen([sys.executable, str(self.program)], cwd=directory, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        self.pid = self.process.pid

    def get(self, path: str, timeout: float = 10.0) -> dict:
        status, body, _ = http_get(self.port, path, timeout)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        return json.loads(body)

    def status(self) -> dict:
        return self.get(f"{BASE}/status", 5.0)

    def alive(self) -> bool:
        return self.process.poll() is None

    def brief(self) -> dict:
        """What only /status knows (records in memory, mode, reconnects); {} when it does
        not answer within 5 s (an overloaded service: the samples say so)."""
        try:
            status = self.status()
        except (OSError, RuntimeError, ValueError):
            return {}
        return {"pending": status["pending"], "mode": status["mode"], "reconnects": status["reconnects"]}

    def wait_until(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"the service exited with {self.process.returncode} while waiting for {what}; "
                                   f"see {self.log_path}")
            try:
                if predicate():
                    return
            except (OSError, RuntimeError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}; see {self.log_path}")

    def stop(self) -> int | None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()
        return self.process.returncode


# -- one point --------------------------------------------------------------------------------


def protect_redis(key: str) -> None:
    """Make sure the machine's Redis asks for ``key``, as CPA asks for its management key
    (a concurrent test run's RealRedis.close() may have reset it since the last point)."""
    import redis as redis_py

    for password in (key, None):
        try:
            conn = redis_py.Redis(host=REDIS_HOST, port=REDIS_PORT, password=password, protocol=2, socket_timeout=5)
            try:
                conn.config_set("requirepass", key)
                return
            finally:
                conn.close()
        except (redis_py.AuthenticationError, redis_py.ResponseError):
            continue
    raise RuntimeError(f"cannot set the password of Redis on {REDIS_HOST}:{REDIS_PORT}")


def cpu_list(text: str) -> set[int]:
    """A list of cores as taskset writes it: 0, 0,1, 0-3."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    if not cpus <= set(range(os.cpu_count() or 1)):
        raise argparse.ArgumentTypeError(f"{text}: this machine has cores 0-{(os.cpu_count() or 1) - 1}")
    return cpus


def own_rows(conn: sqlite3.Connection, publish_began_ms: int, run: str) -> int:
    """The committed events a point published (their request ids carry the point's name)."""
    return conn.execute("SELECT COUNT(*) FROM usage_events WHERE ts_ms >= ? AND request_id LIKE ?",
                        (publish_began_ms - 60_000, f"cap-{run}-%")).fetchone()[0]


def run_point(path: str, rate: int, duration: float, dataset: pathlib.Path, spec: Spec, key: str,
              workdir: pathlib.Path, redis_admin, p99_gate_ms: float, redis_pid: int | None,
              dashboard_on: bool = True) -> dict:
    run = f"{path.replace('-', '')}{rate}x{int(time.time())}p{os.getpid()}"
    channel = f"{REDIS_CHANNEL}-{run}"
    directory = workdir / run
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "app.db"
    fresh_copy(dataset, db)
    if path.startswith("redis-"):
        protect_redis(key)
        redis_admin.admin.delete(channel)
    driver = service = None
    result: dict[str, Any] = {"path": path, "rate": rate, "duration_s": duration, "dashboard": dashboard_on}
    try:
        driver = Driver(path, spec, key, channel)
        service = Service(directory, db, path, driver.cpa_port, key, channel)
        mode = "lpop" if path == "cpa-lpop" else "subscribe"
        service.wait_until(lambda: service.status()["mode"] == mode, 120, f"the service in {mode} mode")
        # A start after a missed 03:00 sweeps first (compact, ANALYZE): wait for it, as
        # it is not what a point measures.
        due = cpa_usage.Maintenance(None, zoneinfo.ZoneInfo(TZ), 0).last_due_at(cpa_usage.now_ms())
        service.wait_until(lambda: (service.status()["maintenance"]["last_run_at"] or "") >= cpa_usage.iso_ms(due),
                           600, "the start's maintenance sweep")
        if path.startswith("redis-"):
            service.wait_until(lambda: dict(redis_admin.admin.pubsub_numsub(channel)).get(
                channel.encode(), 0) >= 1, 30, "the subscription on Redis")
        warm = {}
        for name in CORE_ENDPOINTS:  # each path once before the load, as the peer warms them; not counted
            status, _, ms = http_get(service.port, endpoint_path(name), 120)
            if status != 200:
                raise RuntimeError(f"warming {name}: HTTP {status}")
            warm[name] = round(ms, 1)
        result["warmup_ms"] = warm
        result["events_30d_at_start"] = service.get(f"{BASE}/usage/overview?range=30d", 120)["summary"]["requests"]
        result["rss_after_warmup_mb"] = round(process_memory(service.pid).get("VmRSS", 0), 1)
        result["service_cpus"] = sorted(os.sched_getaffinity(service.pid))  # as the kernel holds it
        totals = Totals(db)
        before = totals.read()

        dashboard = Dashboard(service.port)
        samples: list[dict] = []
        publish_began_ms = cpa_usage.now_ms()
        pids = {"service": service.pid, "driver": driver.pid, "bench": os.getpid(), "redis": redis_pid}
        cpu0 = {name: process_cpu(pid) if pid else 0.0 for name, pid in pids.items()}
        machine0, load_before = machine_cpu(), os.getloadavg()
        driver.publish(rate, duration, run)
        began = time.monotonic()
        if dashboard_on:
            threading.Thread(target=dashboard.run, args=(duration,), daemon=True).start()
        while driver.done is None and time.monotonic() - began < duration + 60:
            tick = time.monotonic()
            try:  # committed counts from the file: an overloaded HTTP side cannot hide them
                sample = {"t": round(tick - began, 2), "inserted": totals.read()["inserted"] - before["inserted"],
                          "published": driver.stats()["published"],
                          "rss_mb": round(process_memory(service.pid).get("VmRSS", 0), 1)}
                sample["queue"] = driver.last["queue"]
                sample.update(service.brief())
                samples.append(sample)
            except (OSError, RuntimeError, ValueError, sqlite3.Error) as exc:
                samples.append({"t": round(tick - began, 2), "error": f"{type(exc).__name__}: {exc}"})
                if not service.alive():
                    break
            time.sleep(max(0.0, min(tick + 1.0, began + duration + 0.02) - time.monotonic()))
            if time.monotonic() - began >= duration:
                break
        done = driver.wait_done(60) if service.alive() else (driver.done or {})
        publish_seconds = time.monotonic() - began
        cpu1 = {name: process_cpu(pid) if pid else 0.0 for name, pid in pids.items()}
        machine1, load_after = machine_cpu(), os.getloadavg()
        dashboard.stop()

        # Catch-up: until every published record is committed, or nothing is in flight
        # anywhere (CPA's or Redis's queue, the service's memory) and nothing moved for QUIET_S.
        # A record goes from the queue to the service's memory to the file, so they are read
        # in that order: read otherwise (memory, then queue), a pop between the two reads
        # shows nothing anywhere while the records wait in memory for their commit. The
        # running totals only say when to look; this point's own rows, counted, decide.
        published = done.get("published", 0)
        stopped = time.monotonic()
        catch_up, last_committed, last_change = None, -1, stopped
        while time.monotonic() - stopped < DRAIN_WINDOW_S and service.alive():
            in_flight = driver.stats()["queue"] != 0 or service.brief().get("pending") != 0
            committed = totals.read()["inserted"] - before["inserted"]
            if committed != last_committed:
                last_committed, last_change = committed, time.monotonic()
            if committed >= published and own_rows(totals.conn, publish_began_ms, run) >= published:
                catch_up = time.monotonic() - stopped
                break
            if not in_flight and time.monotonic() - last_change > QUIET_S:
                catch_up = last_change - stopped  # caught up; what is missing was lost
                break
            time.sleep(0.1)
        final_totals = totals.read()
        # durable: this point's own records committed by the end of the window, counted in the file
        durable = own_rows(totals.conn, publish_began_ms, run)
        inserted_total = final_totals["inserted"] - before["inserted"]
        final_brief = service.brief() if service.alive() else {}
        final_stats = driver.stats()
        memory = process_memory(service.pid)
        rollup_check = None
        if service.alive():  # the rollups (what every range reads) hold what the rows hold
            try:  # (a service still catching up commits meanwhile: the answer lies between two reads)
                low = totals.read()["inserted"] - before["inserted"]
                window = service.get(f"{BASE}/usage/overview?range=custom&start={publish_began_ms - 1000}"
                                     f"&end={cpa_usage.now_ms() + 1000}", 120)
                high = totals.read()["inserted"] - before["inserted"]
                answer = window["summary"]["requests"]
                rollup_check = {"overview_requests": answer, "inserted_before": low, "inserted_after": high,
                                "equal": low <= answer <= high}
            except (OSError, RuntimeError, ValueError) as exc:
                rollup_check = {"error": f"{type(exc).__name__}: {exc}", "equal": None}
        totals.close()
        exit_code = service.stop()
        conn = sqlite3.connect(db)
        try:  # committed rows, counted in the file after the service stopped
            stored = own_rows(conn, publish_began_ms, run)
            dead_letters = conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
        finally:
            conn.close()

        publishing = [s for s in samples if "inserted" in s]
        backlog = [(s["t"], s["published"] - s["inserted"]) for s in publishing]
        third = publish_seconds / 3
        middle = [b for t, b in backlog if third <= t < 2 * third]
        last = [b for t, b in backlog if t >= 2 * third]
        growth = max(last) - max(middle) if middle and last else 0
        growing = growth > 2 * rate  # more than 2 s of events added between the middle and the last third
        busy, total = machine1[0] - machine0[0], machine1[1] - machine0[1]
        used = {name: cpu1[name] - cpu0[name] for name in cpu1}
        offered = done.get("offered", int(rate * duration))
        http_summary = dashboard.summary()
        result.update({
            "offered": offered, "published": published, "publisher_errors": done.get("errors", 0),
            "publisher_error": done.get("error"), "requeued_unheard": done.get("requeued", 0),
            "publisher_seconds": round(done.get("seconds", 0), 2), "publisher_max_due_unsent": done.get("max_due_unsent"),
            "durable": durable, "stored_in_db": stored, "inserted_total": inserted_total,
            "published_ratio": round(published / offered, 5) if offered else None,
            "durable_ratio": round(durable / offered, 5) if offered else None,
            "duplicates": final_totals["duplicates"] - before["duplicates"],
            "dead_letters": dead_letters, "lost_by_cpa": final_stats["lost"],
            "dropped_subscribers": final_stats["dropped_subscribers"],
            "catch_up_s": None if catch_up is None else round(catch_up, 2),
            "backlog": {"max": max((b for _, b in backlog), default=0), "growth_last_vs_middle_third": growth,
                        "growing": growing,
                        "max_pending_in_service": max((s.get("pending") or 0 for s in publishing), default=0),
                        "max_queue": max((s["queue"] for s in publishing), default=0)},
            "http": http_summary,
            "cpu": {"publish_seconds": round(publish_seconds, 1),
                    "service_cores": round(used["service"] / publish_seconds, 3),
                    "service_share_of_machine": round(used["service"] / total, 3) if total else None,
                    "machine_busy_share": round(busy / total, 3) if total else None,
                    "redis_cores": round(used["redis"] / publish_seconds, 3),
                    "driver_cores": round(used["driver"] / publish_seconds, 3),
                    "bench_cores": round(used["bench"] / publish_seconds, 3),
                    "other_cores": round(max(0.0, busy - sum(used.values())) / publish_seconds, 3),
                    "machine_cores": os.cpu_count(),
                    "loadavg_before": [round(v, 2) for v in load_before],
                    "loadavg_after": [round(v, 2) for v in load_after]},
            # the kernel raises VmHWM lazily (at unmaps, not at every fault): a sampled VmRSS can
            # be higher, and then it is the peak
            "rss": {"peak_mb": max(round(memory.get("VmHWM", 0), 1), result["rss_after_warmup_mb"],
                                   max((s["rss_mb"] for s in publishing), default=0)),
                    "vmhwm_mb": round(memory.get("VmHWM", 0), 1),
                    "max_sampled_mb": max((s["rss_mb"] for s in publishing), default=0)},
            "reconnects": final_brief.get("reconnects"), "service_exit_code": exit_code,
            "rollup_check": rollup_check, "timeline": samples,
        })
        reasons = []
        if not offered or published / offered < 0.999:
            reasons.append("driver_lag")
        if done.get("errors"):
            reasons.append("publisher_errors")
        if not offered or durable / offered < 0.99:
            reasons.append("durable_throughput")
        if growing:
            reasons.append("backlog_growth")
        if catch_up is None or catch_up > DRAIN_PASS_S:
            reasons.append("drain_lag")
        if exit_code != 0:
            reasons.append("service_failure")
        if rollup_check is not None and rollup_check["equal"] is False:
            reasons.append("rollup_mismatch")
        if http_summary["aggregate"]["errors"]:
            reasons.append("http_errors")
        p99 = http_summary["aggregate"]["p99"]
        if dashboard_on and (p99 is None or p99 > p99_gate_ms):
            reasons.append("http_p99")
        result["pass"] = not reasons
        result["reasons"] = reasons
        # the same point judged by the peer's gate (aggregate p99 <= 3 s)
        result["pass_at_3000ms_gate"] = not [r for r in reasons if r != "http_p99"] and p99 is not None and p99 <= 3000
        return result
    finally:
        if service is not None and service.alive():
            service.stop()
        if driver is not None:
            driver.stop()
        if redis_admin is not None:
            try:
                redis_admin.admin.delete(channel)
            except Exception:  # noqa: BLE001 - a password reset by a concurrent test run
                pass
        for leftover in (db, pathlib.Path(f"{db}-wal"), pathlib.Path(f"{db}-shm")):
            leftover.unlink(missing_ok=True)


# -- the report ---------------------------------------------------------------------------------


def machine_description(key: str) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) for line in pathlib.Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    import redis as redis_py

    redis_version = None
    for password in (key, None):
        try:
            redis_version = redis_py.Redis(host=REDIS_HOST, port=REDIS_PORT, password=password, protocol=2,
                                           socket_timeout=5).info("server")["redis_version"]
            break
        except Exception:  # noqa: BLE001 - only for the record
            pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "memory_gib": round(memory / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "redis": redis_version}


def fmt(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(report: dict) -> str:
    lines = [f"# capacity run {report['started']}", ""]
    m = report["machine"]
    lines += [f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['memory_gib']} GiB, Linux {m['kernel']}, "
              f"Python {m['python']}, SQLite {m['sqlite']}, Redis {m['redis']}.",
              f"Duration per point: {report['duration_s']:g} s; latency gate: aggregate p99 <= "
              f"{report['p99_gate_ms']:g} ms.",
              f"Service pinned to cores: {', '.join(map(str, report.get('service_cpus') or [])) or 'no (all)'}; "
              f"load generator: {', '.join(map(str, report.get('load_cpus') or [])) or 'no (all)'}.", ""]
    d = report["dataset"]
    lines += ["| Dataset | Value |", "| --- | ---: |",
              f"| events | {fmt(d['events'])} |", f"| in the 30 days before the anchor | {fmt(d['events_30d_at_anchor'])} |",
              f"| span | {d['first_event']} .. {d['last_event']} |", f"| failed | {fmt(d['failed'])} "
              f"({d['failed'] / d['events']:.2%}) |",
              f"| identities / models / API keys | {d['identities']} / {d['models']} / {d['api_keys']} |",
              "| API keys per tier (high/medium/low) | " + " / ".join(str(d['tier_keys'].get(t, 0)) for t in
                                                                     ("high", "medium", "low")) + " |",
              "| events per tier (high/medium/low) | " + " / ".join(
                  f"{d['tier_events'].get(t, 0) / d['events']:.1%}" for t in ("high", "medium", "low")) + " |",
              f"| database | {d['database_bytes'] / 2**20:,.0f} MB |", f"| payload SHA-256 | `{d['payload_sha256'][:16]}…` |", ""]
    lines += ["| Path | Rate/s | Seconds | Pass | Reasons | Durable / offered | Published | Catch-up s | Max backlog "
              "| Core p50 / p95 / p99 ms | Service CPU (cores) | Peak RSS MiB | Other load (cores) |",
              "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for p in report["points"]:
        if "error" in p:
            lines.append(f"| {p['path']} | {fmt(p['rate'])} | | error | {p['error'][:80]} | | | | | | | | |")
            continue
        agg = p["http"]["aggregate"]
        lines.append(
            f"| {p['path']} | {fmt(p['rate'])} | {p['duration_s']:g} | {'yes' if p['pass'] else 'no'} "
            f"| {', '.join(p['reasons']) or '—'} "
            f"| {fmt(p['durable'])} / {fmt(p['offered'])} | {fmt(p['published'])} | {fmt(p['catch_up_s'], 1)} "
            f"| {fmt(p['backlog']['max'])} | {fmt(agg['p50'], 1)} / {fmt(agg['p95'], 1)} / {fmt(agg['p99'], 1)} "
            f"| {p['cpu']['service_cores']:.2f} ({p['cpu']['service_share_of_machine']:.0%}) | {fmt(p['rss']['peak_mb'], 1)} "
            f"| {p['cpu']['other_cores']:.2f} |")
    lines += ["", "Per endpoint, p50 / p95 / p99 ms (samples):", "",
              "| Path | Rate/s | " + " | ".join(CORE_ENDPOINTS) + " |", "| --- | ---: |" + " ---: |" * len(CORE_ENDPOINTS)]
    for p in report["points"]:
        if "error" in p:
            continue
        cells = []
        for name in CORE_ENDPOINTS:
            e = p["http"]["endpoints"][name]
            cells.append(f"{fmt(e['p50'], 1)} / {fmt(e['p95'], 1)} / {fmt(e['p99'], 1)} ({e['samples']})")
        lines.append(f"| {p['path']} | {fmt(p['rate'])} | " + " | ".join(cells) + " |")
    measured = [p for p in report["points"] if "error" not in p]
    for seconds in sorted({p["duration_s"] for p in measured}, reverse=True):
        points = [p for p in measured if p["duration_s"] == seconds]
        lines += ["", f"Highest pass / lowest fail above it (events/s), {seconds:g}-second points, by the gate "
                      "applied:", "",
                  f"| Path | Aggregate p99 <= {report['p99_gate_ms']:g} ms | Aggregate p99 <= 3000 ms (the peer's "
                  "gate) | Ingestion alone (no latency gate) |", "| --- | ---: | ---: | ---: |"]
        judged = {name: boundaries(points, verdict) for name, verdict in VERDICTS.items()}
        for path in judged["gate_150ms"]:
            lines.append(f"| {path} | " + " | ".join(f"{fmt(judged[name][path][0])} / {fmt(judged[name][path][1])}"
                                                    for name in VERDICTS) + " |")
    return "\n".join(lines) + "\n"


def open_bucket_probe(dataset: pathlib.Path, spec: Spec, counts=(0, 10_000, 50_000, 150_000, 300_000)) -> list[dict]:
    """Diagnostic, in this process on a copy: the five paths' latency (median of 3, nothing
    else running) as raw events pile up in the open 5-minute bucket, i.e. the bucket "now"
    is in (ranges ending now once read it from raw events; they read its rollup row since).
    At R events/s the bucket holds up to 300 R events."""
    from conftest import wsgi_call

    copy = DATA / "points" / "open-bucket-probe.db"
    fresh_copy(dataset, copy)
    env = {"CPA_BASE_URL": "http://127.0.0.1:1", "CPA_MANAGEMENT_KEY": "x", "ENV_FILE": "", "SQLITE_PATH": str(copy),
           "LOG_FILE_ENABLED": "false", "TZ": TZ, "USAGE_RETENTION_DAYS": "0"}
    service = cpa_usage.Service(cpa_usage.load_config(env))
    try:
        bucket = cpa_usage.now_ms() // 300_000 * 300_000 + 600_000  # a bucket of its own, 10 minutes ahead
        now = bucket + 290_000
        service.analytics.clock = lambda: now
        population, rnd = Population(spec), random.Random(spec.seed)
        bodies = [population.body(rnd, *population.draw(rnd), False) for _ in range(1000)]

        def latency(name: str) -> float:
            path = endpoint_path(name)
            if name == "realtime_overview_60m":
                path = f"{BASE}/usage/overview?range=custom&start={now - HOUR_MS}&end={now}"
            times = []
            for _ in range(3):
                began = time.perf_counter()
                assert wsgi_call(service.app, "GET", path).status == 200
                times.append((time.perf_counter() - began) * 1000)
            return round(sorted(times)[1], 1)

        rows, written = [], 0
        for target in counts:
            while written < target:
                n = min(10_000, target - written)
                events = []
                for i in range(n):
                    ts = bucket + (written + i) * 290_000 // max(counts)
                    events.append(cpa_usage.decode_payload(payload(cpa_usage.iso_ms(ts), bodies[i % 1000],
                                                                   f"probe-{written + i}"), ts))
                service.store.write_batch(events, [], received=n)
                written += n
            rows.append({"raw_events_in_open_bucket": written, **{name: latency(name) for name in CORE_ENDPOINTS}})
            print(f"{written:>8,} raw events in the open 5-minute bucket: "
                  + "  ".join(f"{k} {v:,.0f} ms" for k, v in rows[-1].items() if k in CORE_ENDPOINTS), flush=True)
        return rows
    finally:
        service.store.close()
        for leftover in (copy, pathlib.Path(f"{copy}-wal"), pathlib.Path(f"{copy}-shm")):
            leftover.unlink(missing_ok=True)


INGEST_REASONS = frozenset({"driver_lag", "publisher_errors", "durable_throughput", "backlog_growth", "drain_lag",
                            "service_failure", "rollup_mismatch"})
VERDICTS = {  # how a point is judged: our gate, the peer's gate, and ingestion alone
    "gate_150ms": lambda p: p.get("pass", False),
    "gate_3000ms": lambda p: p.get("pass_at_3000ms_gate", False),
    "ingest_only": lambda p: "error" not in p and not INGEST_REASONS & set(p["reasons"]),
}


def boundaries(points: list[dict], verdict=VERDICTS["gate_150ms"]) -> dict[str, tuple[int | None, int | None]]:
    """Per path: the highest passing rate, and the lowest failing rate above it (points
    that could not be measured, "error", count as neither)."""
    found = {}
    for path in dict.fromkeys(p["path"] for p in points):
        measured = [p for p in points if p["path"] == path and "error" not in p]
        best = max((p["rate"] for p in measured if verdict(p)), default=None)
        failed = [p["rate"] for p in measured if not verdict(p) and (best is None or p["rate"] > best)]
        found[path] = (best, min(failed, default=None))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=int, nargs="+", help="events/s, one point each (default 5000 10000 15000 "
                        "20000 25000; --quick: 200)")
    parser.add_argument("--paths", nargs="+", choices=PATHS, help="default: all four")
    parser.add_argument("--duration", type=float, help="seconds of publishing per point (default 300; --quick: 6)")
    parser.add_argument("--quick", action="store_true", help="a small dataset, one low rate, short points (CI)")
    parser.add_argument("--events", type=int, help="dataset size instead of the reference 3,205,740 (same shape)")
    parser.add_argument("--rebuild", action="store_true", help="build the dataset again")
    parser.add_argument("--build-only", action="store_true", help="build (or check) the dataset and exit")
    parser.add_argument("--max-dataset-age-days", type=float, default=7.0)
    parser.add_argument("--p99-gate-ms", type=float, default=150.0)
    parser.add_argument("--service-cpus", type=cpu_list, help="pin the service to these cores (taskset's list: 0 or "
                        "0,1); a one-core point: --service-cpus 0 --load-cpus 1")
    parser.add_argument("--load-cpus", type=cpu_list, help="pin this program (the load it makes, the fake CPA, the "
                        "dashboard requests) to these cores")
    parser.add_argument("--out", type=pathlib.Path, default=DATA / "results")
    parser.add_argument("--no-dashboard", action="store_true",
                        help="diagnostics only: no dashboard requests during the points (ingest alone)")
    parser.add_argument("--stop-after-fail", action="store_true",
                        help="per path, skip rates above the first failing one")
    parser.add_argument("--open-bucket-probe", action="store_true",
                        help="diagnostic: the paths' latency in this process as raw events fill the open 5-minute "
                             "bucket (0 to 300,000 events), on a copy of the dataset")
    parser.add_argument("--render", type=pathlib.Path, nargs="+", metavar="JSON",
                        help="print the tables of earlier runs' results (their points together) and exit")
    args = parser.parse_args()
    Service.cpus = args.service_cpus
    if args.load_cpus:
        os.sched_setaffinity(0, args.load_cpus)
    if args.render:
        runs = [json.loads(path.read_text()) for path in args.render]
        points = [p for run in runs for p in run["points"]]
        measured = {(p["path"], p["rate"]) for p in points if "error" not in p}
        points = [p for p in points if "error" not in p or (p["path"], p["rate"]) not in measured]  # re-run since
        points.sort(key=lambda p: (PATHS.index(p["path"]), p["rate"], p.get("duration_s", 0)))
        merged = {**runs[0], "points": points,
                  "started": " + ".join(run["started"] for run in runs),
                  "duration_s": max(run["duration_s"] for run in runs)}
        print(markdown(merged))
        return 0
    spec = QUICK if args.quick else REFERENCE
    if args.events:
        spec = spec._replace(events=args.events, recent_30d=round(args.events * REFERENCE.recent_30d / REFERENCE.events))
    rates = args.rates or ([200] if args.quick else [5000, 10000, 15000, 20000, 25000])
    duration = args.duration or (6.0 if args.quick else 300.0)
    paths = args.paths or list(PATHS)

    from backends import REDIS_TEST_KEY, RealRedis

    key = REDIS_TEST_KEY  # the key the tests give the machine's Redis: a concurrent test run keeps working
    dataset, info = ensure_dataset(spec, args.rebuild, args.max_dataset_age_days)
    if args.build_only:
        print(json.dumps(info, indent=1))
        return 0
    if args.open_bucket_probe:
        rows = open_bucket_probe(dataset, spec)
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / f"open-bucket-probe-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
        target.write_text(json.dumps({"machine": machine_description(key), "dataset": info, "rows": rows,
                                      "product_sha256": hashlib.sha256((ROOT / "cpa_usage.py").read_bytes()).hexdigest()},
                                     indent=1))
        print(target)
        return 0
    redis_admin = RealRedis(queue_key=f"{REDIS_CHANNEL}-unused") if any(p.startswith("redis-") for p in paths) else None
    redis_pid = int(redis_admin.admin.info("server")["process_id"]) if redis_admin else None
    if redis_pid and not pathlib.Path(f"/proc/{redis_pid}").exists():
        redis_pid = None  # Redis runs elsewhere (a container): its CPU is not seen here
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    report = {"started": stamp, "quick": args.quick, "duration_s": duration, "p99_gate_ms": args.p99_gate_ms,
              "dashboard": not args.no_dashboard,
              "service_cpus": sorted(args.service_cpus) if args.service_cpus else None,
              "load_cpus": sorted(args.load_cpus) if args.load_cpus else None,
              "rates": rates, "paths": paths, "machine": machine_description(key), "dataset": info,
              "loadavg_at_start": [round(v, 2) for v in os.getloadavg()], "points": []}
    out_json, out_md = args.out / f"capacity-{stamp}.json", args.out / f"capacity-{stamp}.md"
    workdir = DATA / "points"
    Service.program, report["product_sha256"] = snapshot_product(workdir / f"product-{stamp}")
    report["product_git_head"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                                text=True).stdout.strip() or None
    print(f"{'path':<14} {'rate':>6} {'pass':>5} {'durable/offered':>19} {'catch-up':>8} {'p50':>7} {'p95':>7} "
          f"{'p99':>7} {'cpu':>5} {'rss MiB':>7} {'other':>5}  reasons", flush=True)
    try:
        for path in paths:
            for rate in sorted(rates):
                if args.stop_after_fail and any(p["path"] == path and not p.get("pass") for p in report["points"]):
                    continue
                try:
                    point = run_point(path, rate, duration, dataset, spec, key, workdir, redis_admin,
                                      args.p99_gate_ms, redis_pid, not args.no_dashboard)
                except Exception as exc:  # noqa: BLE001 - recorded, and the run goes on
                    point = {"path": path, "rate": rate, "pass": False, "error": f"{type(exc).__name__}: {exc}"}
                report["points"].append(point)
                if "error" in point:
                    print(f"{path:<14} {rate:>6} error: {point['error']}", flush=True)
                else:
                    agg = point["http"]["aggregate"]
                    print(f"{path:<14} {rate:>6} {'yes' if point['pass'] else 'no':>5} "
                          f"{point['durable']:>9,}/{point['offered']:<9,} {fmt(point['catch_up_s'], 1):>8} "
                          f"{fmt(agg['p50'], 1):>7} {fmt(agg['p95'], 1):>7} {fmt(agg['p99'], 1):>7} "
                          f"{point['cpu']['service_cores']:>5.2f} {point['rss']['peak_mb']:>7.1f} "
                          f"{point['cpu']['other_cores']:>5.2f}  {', '.join(point['reasons'])}", flush=True)
                out_json.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        if redis_admin is not None:
            redis_admin.close()
    report["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    report["boundaries"] = {path: {"highest_pass": b[0], "lowest_fail": b[1]}
                            for path, b in boundaries(report["points"]).items()}
    report["boundaries_by_gate"] = {name: {path: {"highest_pass": b[0], "lowest_fail": b[1]}
                                           for path, b in boundaries(report["points"], verdict).items()}
                                    for name, verdict in VERDICTS.items()}
    out_json.write_text(json.dumps(report, indent=1) + "\n")
    out_md.write_text(markdown(report))
    print(f"\n{out_json}\n{out_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
