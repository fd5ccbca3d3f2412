#!/usr/bin/env python3
"""Ingest benchmark: records/s from a fake CPA through the drainer into the store.

    .venv/bin/python bench/ingest.py [--sizes 100000 1000000] [--modes lpop http subscribe paced]
                                     [--driver sqlite|postgres] [--postgres-url URL]

The fake CPA (tests/fake_cpa.py) runs in a child process, as CPA is a process of its
own; the cpa-usage Service runs in this one, so the figures are the service's.

  lpop       the fake is filled with N records first (an LPOP-era CPA, v7.0.3); the
             figure is N / time until all N are committed.
  http       the same through CPA's HTTP usage queue (v7.2.140, REDIS_QUEUE_TRANSPORT=http),
             over one kept-alive connection: the way through an HTTP-only reverse proxy.
  subscribe  a current CPA (v7.2.140) publishes N records as fast as it can to the
             subscriber, with CPA's rule that a subscriber whose 256-message buffer is
             full is dropped; the figure is N / time, with drops and losses reported.
  paced      the same at a steady 3,000 records/s: the subscriber must never be dropped.

Printed per run: records, seconds, records/s, peak RSS of this process in MB,
database size, dropped subscribers and lost records. Targets: >= 20,000 records/s
sustained; no drop at 3,000 records/s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import cpa_usage  # noqa: E402
from databases import DEFAULT_POSTGRES_URL, drop_schema, schema_url, size_mb  # noqa: E402

TEMPLATE = json.loads((ROOT / "tests" / "fixtures" / "payloads" / "v7.2.jsonl").read_text().splitlines()[0])


def make_record(i: int) -> bytes:
    """A realistic current-era record (~1.6 KB), distinct per i."""
    record = dict(TEMPLATE, request_id=f"{i:08x}", latency_ms=1000 + i % 5000,
                  timestamp=cpa_usage.iso_ms(1_790_000_000_000 + i * 10))
    return json.dumps(record).encode()


def fake_cpa_process(version: str, commands, replies) -> None:
    """Child process: one FakeCPA, driven by (verb, argument) commands."""
    from fake_cpa import FakeCPA

    cpa = FakeCPA(version=version, retention_seconds=3600).start()
    replies.put(cpa.port)
    while True:
        verb, argument = commands.get()
        if verb == "fill":
            for i in range(argument):
                cpa.publish(make_record(i))
            replies.put(cpa.queue_len())
        elif verb == "publish":
            count, rate = argument
            started = time.monotonic()
            for i in range(count):
                cpa.publish(make_record(i))
                if rate:
                    delay = started + (i + 1) / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            replies.put(time.monotonic() - started)
        elif verb == "subscribers":
            replies.put(cpa.subscriber_count())
        elif verb == "stats":
            replies.put({"dropped": cpa.dropped_subscribers, "lost": len(cpa.lost), "queued": cpa.queue_len()})
        elif verb == "stop":
            cpa.stop()
            replies.put(None)
            return


def peak_rss_mb() -> float:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stored(service: cpa_usage.Service) -> int:
    return service.store.load_totals()["inserted"]


def run(mode: str, size: int, batch: int, postgres_url: str | None) -> dict:
    context = multiprocessing.get_context("spawn")
    commands, replies = context.Queue(), context.Queue()
    version = "7.0.3" if mode == "lpop" else "7.2.140"
    filled = mode in ("lpop", "http")  # the queue is filled first, then drained by polling
    child = context.Process(target=fake_cpa_process, args=(version, commands, replies), daemon=True)
    child.start()
    port = replies.get(timeout=60)
    with tempfile.TemporaryDirectory() as tmp:
        target = schema_url(postgres_url, "bench_ingest", fresh=True) if postgres_url else f"{tmp}/bench.db"
        env = {"CPA_BASE_URL": f"http://127.0.0.1:{port}", "CPA_MANAGEMENT_KEY": "test-mgmt-key", "ENV_FILE": "",
               "SQLITE_PATH": f"{tmp}/bench.db", "LOG_FILE_ENABLED": "false", "REDIS_QUEUE_BATCH_SIZE": str(batch),
               "REDIS_QUEUE_IDLE_INTERVAL": "100ms", "REDIS_QUEUE_TRANSPORT": "subscribe" if not filled else mode,
               **({"STORAGE_DRIVER": "postgres", "DATABASE_URL": target} if postgres_url else {})}
        service = cpa_usage.Service(cpa_usage.load_config(env))
        if filled:
            commands.put(("fill", size))
            replies.get(timeout=3600)
            started = time.monotonic()
            service.start()
        else:
            service.start()
            while True:
                commands.put(("subscribers", None))
                if replies.get(timeout=60):
                    break
                time.sleep(0.05)
            started = time.monotonic()
            commands.put(("publish", (size, 3000 if mode == "paced" else 0)))
        deadline = time.monotonic() + 3600
        last, last_change = -1, time.monotonic()
        while stored(service) < size and time.monotonic() < deadline:
            time.sleep(0.05)
            now_stored = stored(service)
            if now_stored != last:
                last, last_change = now_stored, time.monotonic()
            elif time.monotonic() - last_change > 20:
                break  # nothing moves any more: records were lost
        elapsed = time.monotonic() - started
        if not filled:
            replies.get(timeout=3600)  # the publisher's own time; the figure is end to end
        commands.put(("stats", None))
        stats = replies.get(timeout=60)
        result = {"mode": mode, "records": size, "stored": stored(service), "seconds": round(elapsed, 2),
                  "records_per_s": round(stored(service) / elapsed), "peak_rss_mb": round(peak_rss_mb(), 1),
                  "db_mb": round(size_mb(target), 1), **stats}
        service.stop()
        if postgres_url:
            drop_schema(postgres_url, "bench_ingest")
    commands.put(("stop", None))
    replies.get(timeout=60)
    child.join(10)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--modes", nargs="+", default=["lpop", "http", "subscribe", "paced"],
                        choices=["lpop", "http", "subscribe", "paced"])
    parser.add_argument("--batch", type=int, default=1000, help="REDIS_QUEUE_BATCH_SIZE")
    parser.add_argument("--driver", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="a database to make a schema in")
    parser.add_argument("--one", nargs=2, metavar=("MODE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    postgres_url = args.postgres_url if args.driver == "postgres" else None
    if args.one:  # one run in a fresh process, so that its peak RSS is its own
        print(json.dumps(run(args.one[0], int(args.one[1]), args.batch, postgres_url)))
        return
    print(f"{'mode':<10} {'records':>9} {'stored':>9} {'seconds':>8} {'records/s':>10} {'peak RSS MB':>12} "
          f"{'db MB':>7} {'dropped':>8} {'lost':>6}")
    for mode in args.modes:
        for size in args.sizes:
            if mode == "paced" and size > 300_000:
                continue  # 3,000/s for a million records is 5.5 minutes of waiting
            output = subprocess.run([sys.executable, __file__, "--one", mode, str(size), "--batch", str(args.batch),
                                     "--driver", args.driver, "--postgres-url", args.postgres_url],
                                    check=True, capture_output=True, text=True).stdout
            r = json.loads(output.strip().splitlines()[-1])
            print(f"{r['mode']:<10} {r['records']:>9} {r['stored']:>9} {r['seconds']:>8} {r['records_per_s']:>10} "
                  f"{r['peak_rss_mb']:>12} {r['db_mb']:>7} {r['dropped']:>8} {r['lost']:>6}", flush=True)


if __name__ == "__main__":
    main()
