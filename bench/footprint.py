#!/usr/bin/env python3
"""Footprint benchmark: what cpa-usage costs a host while idle and under a steady load,
and what its database grows by per day.

    .venv/bin/python bench/footprint.py [--idle-seconds 600] [--load-rates 10 100]
                                        [--load-seconds 60] [--disk-rates 1 10 100] [--cores 0]

  idle   the service (``python3 cpa_usage.py``, pinned with taskset to --cores) subscribed
         to a current fake CPA (v7.2.140: usage and errors channels) that sends nothing,
         for --idle-seconds after it settled: CPU as a share of one core, wake-ups per
         second (context switches of all its threads: each is a thread woken or
         preempted), RSS.
  load   the same process while the fake publishes realistic records (~1.6 KB) at each
         of --load-rates per second for --load-seconds: CPU share, RSS, peak RSS.
  disk   one day of a team's events at each of --disk-rates per second, written through
         Store.write_batch (the writer's path) into a fresh SQLite file: bytes on disk
         after the day (raw events, rollups, indexes; checkpointed), bytes per event, and
         what 30 days of raw events (USAGE_RETENTION_DAYS's default) would hold.

Goals (issue 25): idle at most 0.5% of a core; RSS at most 150 MB everywhere; at most 400
bytes on disk per raw event within the retention window, rollups included.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import cpa_usage  # noqa: E402
from capacity import free_port, http_get, process_cpu, process_memory  # noqa: E402
from ingest import fake_cpa_process  # noqa: E402
from queries import NOW, synthetic_events, write_in_batches  # noqa: E402

DAY_MS = 86_400_000


def context_switches(pid: int) -> int:
    """Voluntary and involuntary context switches of every thread of ``pid`` so far."""
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
        except OSError:
            pass  # a thread that ended meanwhile
    return total


class ServiceProcess:
    """``python3 cpa_usage.py`` against the fake CPA on ``port``, pinned to ``cores``."""

    def __init__(self, directory: pathlib.Path, cpa_port: int, cores: str):
        self.port = free_port()
        self.log = open(directory / "service.log", "wb")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ENV_FILE": "",
               "CPA_BASE_URL": f"http://127.0.0.1:{cpa_port}", "CPA_MANAGEMENT_KEY": "test-mgmt-key",
               "APP_HOST": "127.0.0.1", "APP_PORT": str(self.port), "SQLITE_PATH": str(directory / "app.db"),
               "LOG_FILE_ENABLED": "false"}
        command = [sys.executable, str(ROOT / "cpa_usage.py")]
        if cores:
            command = ["taskset", "-c", cores, *command]
        self.process = subprocess.Popen(command, cwd=directory, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def status(self) -> dict:
        status, body, _ = http_get(self.port, "/usage/api/v1/status", 5.0)
        return json.loads(body) if status == 200 else {}

    def wait_for(self, predicate, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited with {self.process.returncode} waiting for {what}")
            try:
                if predicate(self.status()):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}")

    def sample(self) -> tuple[float, float, int]:
        return time.monotonic(), process_cpu(self.process.pid), context_switches(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def share(before: tuple[float, float, int], after: tuple[float, float, int]) -> dict:
    """CPU share of one core and wake-ups per second between two samples."""
    elapsed = after[0] - before[0]
    return {"seconds": round(elapsed), "cpu_pct": round(100 * (after[1] - before[1]) / elapsed, 3),
            "wakeups_per_s": round((after[2] - before[2]) / elapsed, 1)}


def measure_process(idle_seconds: float, load_rates: list[int], load_seconds: float, cores: str) -> list[dict]:
    """The idle figure, then one figure per load rate, from one service process."""
    context = multiprocessing.get_context("spawn")
    commands, replies = context.Queue(), context.Queue()
    child = context.Process(target=fake_cpa_process, args=("7.2.140", commands, replies), daemon=True)
    child.start()
    cpa_port = replies.get(timeout=60)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        service = ServiceProcess(pathlib.Path(tmp), cpa_port, cores)
        try:
            service.wait_for(lambda s: s.get("mode") == "subscribe" and s.get("errors_subscribed"), "subscribed")
            time.sleep(10)  # the start's sync, sweep and first PINGs behind it
            before = service.sample()
            time.sleep(idle_seconds)
            rows.append({"phase": "idle", **share(before, service.sample()),
                         **{k.lower(): round(v, 1) for k, v in process_memory(service.process.pid).items()}})
            print(rows[-1], flush=True)
            for rate in load_rates:
                before = service.sample()
                commands.put(("publish", (int(rate * load_seconds), rate)))
                replies.get(timeout=load_seconds * 10 + 60)
                rows.append({"phase": f"load {rate}/s", **share(before, service.sample()),
                             **{k.lower(): round(v, 1) for k, v in process_memory(service.process.pid).items()}})
                print(rows[-1], flush=True)
        finally:
            service.stop()
            commands.put(("stop", None))
            child.join(30)
    return rows


def measure_disk(rate: int, directory: pathlib.Path) -> dict:
    """One day of events at ``rate`` per second through Store.write_batch: bytes on disk."""
    path = directory / f"day-{rate}.db"
    store = cpa_usage.Store(str(path))
    empty = path.stat().st_size
    count = rate * 86_400
    started = time.monotonic()
    write_in_batches(store, synthetic_events(count, end_ms=NOW, span_ms=DAY_MS), 5_000)
    store.compact()
    store.close()
    size = path.stat().st_size - empty
    row = {"rate_per_s": rate, "events": count, "build_s": round(time.monotonic() - started),
           "mb_per_day": round(size / 2**20, 1), "bytes_per_event": round(size / count),
           "mb_30_days": round(30 * size / 2**20)}
    path.unlink()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle-seconds", type=float, default=600)
    parser.add_argument("--load-rates", type=int, nargs="*", default=[10, 100])
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--disk-rates", type=int, nargs="*", default=[1, 10, 100])
    parser.add_argument("--cores", default="0", help="taskset's CPU list for the service ('' for none)")
    args = parser.parse_args()
    print(f"cpa-usage {cpa_usage.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"service on cores {args.cores or 'any'}", flush=True)
    if args.cores and not shutil.which("taskset"):
        raise SystemExit("taskset is missing (util-linux); pass --cores '' to run unpinned")
    if args.idle_seconds or args.load_rates:
        measure_process(args.idle_seconds, args.load_rates, args.load_seconds, args.cores)
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.disk_rates:
            print(measure_disk(rate, pathlib.Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
