#!/usr/bin/env python3
"""The dashboard's first render: from navigation start to a month's Overview painted
(body[data-loaded=true]), in Debian's chromium, cold (a new browser context each load:
nothing cached; --warm: one context a side, a returning viewer), from zipapps run as
processes of their own on loopback.

    .venv/bin/python bench/first_render.py [--zipapp A.pyz [--zipapp B.pyz]] [--rounds 12]
                                           [--events 20000] [--range 30d] [--service-cpus 0] [--warm]

Without --zipapp it builds this checkout's. With two, the loads alternate A, B, B, A, ...
in one sitting, so that the machine's drift falls on both alike (compare before and after
a change this way: build the old commit's zipapp with its build.py). Each side gets its
own copy of one database: 30 days of --events events (3 models, 2 keys, 2 credentials),
written by this checkout, so both zipapps must read its schema (an older one refuses a
newer database: measure across a schema change one side at a time).
Printed: the CPU check of bench/queries.py before and after (this machine's speed
drifts), and per side: median and quartiles of the first render, and where it went: when
the page made its first API request and asked for the overview, when the overview's and
the status's answers were in, and the render after the later of them. The goal is 400 ms
for a month (issue 21); the figure depends on the machine.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import cpa_usage  # noqa: E402
from capacity import free_port  # noqa: E402
from conftest import CHROMIUM, CHROMIUM_ARGS, FIRST_PAINT  # noqa: E402
from queries import cpu_check  # noqa: E402

# performance.now() of: the first API request (the session's, before the page carried it),
# the overview asked for, its answer in, the status's answer in (the header's, which the
# page waits for too).
MILESTONES = """(range) => { const entries = performance.getEntriesByType("resource");
  const find = (part) => entries.find((entry) => entry.name.includes(part));
  return [Math.min(...entries.filter((entry) => entry.name.includes("/api/v1/")).map((entry) => entry.startTime)),
          find(`usage/overview?range=${range}`).startTime,
          find(`usage/overview?range=${range}`).responseEnd, find("api/v1/status").responseEnd]; }"""
PHASES = ("first API request", "overview asked", "overview answered", "status answered", "render after it")

def build_database(path: pathlib.Path, events: int, cpa) -> None:
    """30 days of ``events`` events through the product's writer."""
    from test_dashboard_pages import month_of_events

    config = cpa_usage.load_config({"ENV_FILE": "", "SQLITE_PATH": str(path), "CPA_BASE_URL": cpa.url,
                                    "CPA_MANAGEMENT_KEY": cpa.key, "LOG_FILE_ENABLED": "false",
                                    "USAGE_RETENTION_DAYS": "0"})
    service = cpa_usage.Service(config)
    batch = month_of_events(cpa_usage.now_ms(), events)
    service.store.write_batch(batch, [], received=len(batch))
    service.store.close()


def start(zipapp: pathlib.Path, database: pathlib.Path, cpa, cpus: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {"PATH": os.environ["PATH"], "ENV_FILE": "", "CPA_BASE_URL": cpa.url, "CPA_MANAGEMENT_KEY": cpa.key,
           "APP_HOST": "127.0.0.1", "APP_PORT": str(port), "SQLITE_PATH": str(database), "LOG_FILE_ENABLED": "false",
           "USAGE_RETENTION_DAYS": "0"}
    command = [sys.executable, "-I", "-S", str(zipapp)]
    process = subprocess.Popen(["taskset", "-c", cpus, *command] if cpus else command, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return process, f"http://127.0.0.1:{port}/usage/"
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{zipapp}: the service did not start")
            time.sleep(0.1)


def new_context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/New_York")
    context.add_init_script(FIRST_PAINT)
    return context


def load(browser, url: str, range_: str, context=None) -> tuple[float, ...]:
    """One load: (first render, *the milestones, the render after the last answer) in ms.
    Cold in a context of its own; else in ``context``, which the side used before (its
    storage kept, its cache revalidated: the files come as 304s)."""
    cold = context is None
    context = new_context(browser) if cold else context
    page = context.new_page()
    page.goto(url + f"#/overview?range={range_}")
    page.wait_for_function("() => document.body.dataset.loaded === 'true' && document.body.dataset.page === 'overview'",
                           timeout=30_000)
    first = page.evaluate("window.firstPaintMs")
    session, asked, answered, status = page.evaluate(MILESTONES, range_)
    page.close()
    if cold:
        context.close()
    return first, session, asked, answered, status, first - max(answered, status)


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    n = len(ordered)
    return f"median {statistics.median(ordered):4.0f}, quartiles {ordered[n // 4]:4.0f}-{ordered[(3 * n) // 4]:4.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zipapp", type=pathlib.Path, action="append", help="a zipapp to measure (twice: A and B)")
    parser.add_argument("--rounds", type=int, default=12, help="loads of each side, after one untimed")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--range", default="30d", help="the Overview's range (24h, 7d, 30d...)")
    parser.add_argument("--service-cpus", help="taskset's CPU list for the services (e.g. 0); the browser is not pinned")
    parser.add_argument("--warm", action="store_true", help="each side's loads in one browser context (a returning viewer)")
    args = parser.parse_args()
    from fake_cpa import FakeCPA
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        zipapps = args.zipapp or []
        if not zipapps:
            subprocess.run([sys.executable, str(ROOT / "build.py"), "--output", str(work / "this.pyz")], check=True,
                           stdout=subprocess.DEVNULL)
            zipapps = [work / "this.pyz"]
        if len(zipapps) > 2:
            parser.error("at most two zipapps (A and B)")
        cpa = FakeCPA().start()
        services = []
        try:
            build_database(work / "month.db", args.events, cpa)
            for i, zipapp in enumerate(zipapps):
                shutil.copy(work / "month.db", work / f"{i}.db")
                services.append(start(zipapp, work / f"{i}.db", cpa, args.service_cpus))
            results: list[list[tuple[float, ...]]] = [[] for _ in zipapps]
            speed = [cpu_check()]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                contexts = [new_context(browser) if args.warm else None for _ in zipapps]
                for round_ in range(args.rounds + 1):
                    order = list(range(len(zipapps)))
                    for side in order if round_ % 2 else order[::-1]:
                        timing = load(browser, services[side][1], args.range, contexts[side])
                        if round_:  # the first round warms the services' caches and the page cache
                            results[side].append(timing)
                browser.close()
            speed.append(cpu_check())
        finally:
            for process, _ in services:
                process.terminate()
                process.wait()
            cpa.stop()
    print(f"first render of Overview {args.range} ({args.events:,} events in 30 days), {args.rounds} {'warm' if args.warm else 'cold'} loads a side, "
          f"services on CPUs {args.service_cpus or 'any'}, {os.cpu_count()} CPUs; "
          f"CPU check (bench/queries.py) {speed[0]:.0f} ms before, {speed[1]:.0f} ms after")
    for name, zipapp, timings in zip("AB", zipapps, results):
        print(f"{name} {zipapp.name}: first render {spread([t[0] for t in timings])} ms "
              f"(all {', '.join(f'{t[0]:.0f}' for t in sorted(timings))})")
        for index, phase in enumerate(PHASES, start=1):
            print(f"    {phase:18} {spread([t[index] for t in timings])} ms")


if __name__ == "__main__":
    main()
