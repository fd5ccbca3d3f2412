"""The dashboard as the zipapp serves it: its modules in one app.js (build.py's bundle),
every page working from it in the real browser, and the first render of a month's
Overview measured there (printed, not asserted). From source, index.html preloads every
module: the list must be the whole import graph."""

import re

import pytest

import build
from conftest import FIRST_PAINT, ROOT, open_page, painted
from cpa_usage import Service, now_ms
from test_dashboard_pages import BROWSER_ZONE, month_of_events, text
from test_process import Running, no_leftover_processes  # noqa: F401 - the fixture stops what a test started

STATIC = ROOT / "static"
PAGES = ("overview", "health", "analysis", "events", "credentials", "models", "aliases", "budgets", "import", "status")


def test_index_preloads_every_module_app_js_imports():
    index = (STATIC / "index.html").read_text()
    preloaded = re.findall(r'<link rel="modulepreload" href="static/([^"]+)">', index)
    assert preloaded == [name for name in build.module_order(STATIC) if name != "app.js"]
    assert len(preloaded) == 25


def write(root, files):
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source)


def test_a_bundle_is_each_module_in_a_scope_of_its_own_in_import_order(tmp_path):
    write(tmp_path, {
        "app.js": 'import page, { shown as seen } from "./js/page.js";\nimport * as fmt from "./js/fmt.js";\n'
                  "seen(page.name, fmt.n(2));\n",
        "js/page.js": 'import { n } from "./fmt.js";\nexport function shown(...args) {}\n'
                      "export default { name: `page ${n(1)}` };\n",
        "js/fmt.js": "const x = 1;\nexport const n = (v) => v + x;\nexport async function later() {}\n",
    })
    assert build.module_order(tmp_path) == ["js/fmt.js", "js/page.js", "app.js"]
    assert build.bundle_modules(tmp_path).split("\n")[1:] == [
        "const modules = {};",
        'modules["js/fmt.js"] = (() => {',
        "const x = 1;", "const n = (v) => v + x;", "async function later() {}", "",
        "return { n, later };", "})();",
        'modules["js/page.js"] = (() => {',
        'const { n } = modules["js/fmt.js"];', "function shown(...args) {}",
        "const moduleDefault = { name: `page ${n(1)}` };", "",
        "return { shown, default: moduleDefault };", "})();",
        'modules["app.js"] = (() => {',
        'const { default: page, shown: seen } = modules["js/page.js"];', 'const fmt = modules["js/fmt.js"];',
        "seen(page.name, fmt.n(2));", "",
        "return {  };", "})();", ""]


@pytest.mark.parametrize("files, problem", [
    ({"app.js": 'import { a } from "./js/a.js";\n', "js/a.js": 'import { b } from "../app.js";\nexport const a = 1;\n'},
     "app.js: imported in a cycle"),
    ({"app.js": 'import { a } from "./js/a.js";\n', "js/a.js": "const a = 1;\nexport { a };\n"},
     "js/a.js: an import or export bundle_modules does not understand"),
])
def test_what_the_bundle_cannot_keep_stops_the_build(tmp_path, files, problem):
    write(tmp_path, files)
    with pytest.raises(ValueError, match=re.escape(problem)):
        build.bundle_modules(tmp_path)


@pytest.fixture
def month(tmp_path, config_factory, fake_cpa, zipapp):
    """The zipapp as a process on a database of 30 days of 20,000 events: its dashboard's URL."""
    cpa = fake_cpa()
    service = Service(config_factory(CPA_BASE_URL=cpa.url, SQLITE_PATH=str(tmp_path / "app.db")))
    events = month_of_events(now_ms())
    service.store.write_batch(events, [], received=len(events))
    service.store.close()
    # the drain at its default pace (Running's 50 ms is for tests that wait on it)
    process = Running(zipapp, tmp_path, cpa, USAGE_RETENTION_DAYS="0", REDIS_QUEUE_IDLE_INTERVAL="1s")
    return f"http://127.0.0.1:{process.port}/usage/"


def test_every_page_works_from_the_zipapps_bundle_and_its_first_render_is_measured(browser, month, capsys):
    page, errors = open_page(browser, month + "#/overview?range=30d")
    painted(page, "overview")
    assert page.evaluate("performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.js'))"
                         ".map((e) => e.name.split('/usage/')[1]).sort()") == [
        "static/app.js", "static/vendor/uplot/uplot-iife-min.js"]
    assert text(page, "#card-requests .value") == "20K"
    for name in PAGES:
        page.goto(f"{month}#/{name}?range=30d")
        painted(page, name)
        assert page.locator("#view .card").count() > 0, name
    assert errors == []
    page.context.close()

    # The first render: from navigation start to the Overview painted (body[data-loaded=true]),
    # cold (a new browser context: nothing cached). Printed, not asserted: a timing depends on
    # the machine (the goal is 400 ms). In this test, not one of its own: the month and its
    # process are made once.
    timings = []
    for _ in range(7):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=BROWSER_ZONE)
        context.add_init_script(FIRST_PAINT)
        page = context.new_page()
        page.goto(month + "#/overview?range=30d")
        painted(page, "overview")
        timings.append(page.evaluate("window.firstPaintMs"))
        assert text(page, "#card-requests .value") == "20K"
        context.close()
    timings.sort()
    with capsys.disabled():
        print(f"\n  first render of Overview 30d (20,000 events, the zipapp), 7 cold loads: median {timings[3]:.0f} ms, "
              f"{', '.join(f'{t:.0f}' for t in timings)} ms")
