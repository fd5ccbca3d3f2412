#!/usr/bin/env python3
"""Rebanding benchmark: how long the owner's new long-context threshold holds the write lock.

    taskset -c 0 .venv/bin/python bench/rebanding.py [--events 200000] [--days 6]

Writes ``--events`` of bench/queries.py's team spread over ``--days`` into a fresh SQLite
database (through Store.write_batch), gives every model an owner's price with a
long-context tier above 100k prompt tokens (a threshold none of the built-in prices has,
so every model's rollups are banded again), and works the job off step by step as the
Rebanding worker does (Store.reband_step). Prints the build time, each step's median
and longest time (the write lock is held that long: ingest waits at most that), the
total and events/s, with bench/queries.py's CPU check before and after.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import cpa_usage  # noqa: E402
from queries import FAMILIES, cpu_check, synthetic_events, write_in_batches  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=6)
    args = parser.parse_args()
    print(f"CPU check {cpu_check():.0f} ms (lower is faster)")
    with tempfile.TemporaryDirectory() as folder:
        store = cpa_usage.Store(str(pathlib.Path(folder) / "rebanding.db"))
        started = time.perf_counter()
        write_in_batches(store, synthetic_events(args.events, span_ms=args.days * cpa_usage.DAY_MS), size=5_000)
        print(f"{args.events:,} events over {args.days} days written in {time.perf_counter() - started:.1f} s")
        models = [model for family in FAMILIES.values() for model in family]
        store.upsert_prices([(model, 0, 1.0, 2.0, 0.1, 1.0, None, 100_000, 2.0, 4.0, 0.2, 2.0, None, "")
                             for model in models])
        steps = []
        while True:
            started = time.perf_counter()
            if store.reband_step() is None:
                break
            steps.append((time.perf_counter() - started) * 1000)
        store.close()
    total = sum(steps) / 1000
    print(f"{len(steps)} steps (an hour of events each): median {statistics.median(steps):.0f} ms, "
          f"longest {max(steps):.0f} ms; {total:.1f} s in all, {args.events / total:,.0f} events/s")
    print(f"CPU check {cpu_check():.0f} ms")


if __name__ == "__main__":
    main()
