#!/usr/bin/env python3
"""What the latency histograms (schema 16) cost in a SQLite database: rows and bytes per
event, and the time the upgrade takes to bin the raw events kept.

    .venv/bin/python bench/histograms.py [--events 1000000] [--days 30]

The events are bench/queries.py's synthetic team (25 credentials, 12 client keys, 10
models, latency 0.2-30 s and TTFT 0.1-3 s uniform: many bins in use), spread over
``--days``. One database is written through Store.write_batch (as ingest writes); the
same events are stored raw at schema 15 in another, which is then upgraded. Printed:
rows and bytes (SQLite's dbstat) of each histogram table and of all of them per event,
beside the raw events' and the rollups', and the seconds of the upgrade.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import cpa_usage  # noqa: E402
from queries import NOW, synthetic_events, write_in_batches  # noqa: E402
from test_instances import store_at_schema  # noqa: E402


def table_sizes(store: cpa_usage.Store) -> dict[str, tuple[int, int]]:
    """{table: (rows, bytes)}, the bytes of its pages and its indexes'."""
    pages = dict(store.reader.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
    indexes = store.reader.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'").fetchall()
    sizes = {}
    for (table,) in store.reader.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        size = pages.get(table, 0) + sum(pages.get(index, 0) for index, owner in indexes if owner == table)
        sizes[table] = (store.reader.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0], size)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    span = args.days * 86_400_000
    with tempfile.TemporaryDirectory() as directory:
        store = cpa_usage.Store(str(pathlib.Path(directory) / "ingested.db"))
        write_in_batches(store, synthetic_events(args.events, end_ms=NOW, span_ms=span))
        sizes = table_sizes(store)
        store.close()
        histograms = [h.table for h in cpa_usage.HISTOGRAMS]
        rollups = [r.table for r in cpa_usage.ROLLUPS]
        print(f"{args.events} events over {args.days} days")
        for table in histograms:
            rows, size = sizes[table]
            print(f"  {table:36} {rows:>10} rows {size / 2**20:8.1f} MB")
        for name, tables in (("histograms", histograms), ("rollups", rollups), ("raw events", ["usage_events"])):
            rows, size = sum(sizes[t][0] for t in tables), sum(sizes[t][1] for t in tables)
            print(f"  {name:36} {rows / args.events:10.3f} rows/event {size / args.events:8.1f} bytes/event")

        old = store_at_schema(str(pathlib.Path(directory) / "upgraded.db"), len(cpa_usage.MIGRATIONS) - 1)
        events = list(synthetic_events(args.events, end_ms=NOW, span_ms=span))
        with old.write_lock:
            for chunk in cpa_usage._chunks(events, 10_000):
                with old.transaction() as conn:
                    for rows in cpa_usage.fixed_chunks(chunk):
                        conn.execute(cpa_usage._insert_events_sql(len(rows)), [v for ev in rows for v in ev])
        old.close()
        began = time.monotonic()
        cpa_usage.Store(str(pathlib.Path(directory) / "upgraded.db")).close()
        print(f"  upgrade to schema 16 (binning the raw events): {time.monotonic() - began:.1f} s")


if __name__ == "__main__":
    main()
