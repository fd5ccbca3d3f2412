"""Shared test helpers: the project root on sys.path, payload fixtures, small factories,
and the dashboard's browser (one chromium for the whole run)."""

import json
import os
import pathlib
import shutil
import sys
import threading
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import cpa_usage  # noqa: E402


def payload_lines(name: str) -> list[bytes]:
    """The records of one payload fixture (tests/fixtures/payloads/<name>.jsonl)."""
    text = (FIXTURES / "payloads" / f"{name}.jsonl").read_bytes()
    return [line for line in text.splitlines() if line.strip()]


def record(**overrides) -> dict:
    """A current-era (v7.2) usage record with every field, as a dict to tweak."""
    base = json.loads(payload_lines("v7.2")[-1])
    base.update(overrides)
    return base


def encode(value) -> bytes:
    return json.dumps(value).encode()


def base_env(tmp_path: pathlib.Path, **extra: str) -> dict[str, str]:
    """A minimal environment for load_config: no .env file, files under tmp_path."""
    env = {
        "CPA_BASE_URL": "http://127.0.0.1:8317",
        "CPA_MANAGEMENT_KEY": "test-mgmt-key",
        "ENV_FILE": "",
        "SQLITE_PATH": str(tmp_path / "app.db"),
        "LOG_FILE_ENABLED": "false",
        "LOG_DIR": str(tmp_path / "logs"),
        # The fixture records carry fixed dates that age out of the default 30 days: a
        # start-up sweep racing the first batch would delete them.
        "USAGE_RETENTION_DAYS": "0",
    }
    env.update(extra)
    return env


# Drainer timings for tests: the backlog drained often, nothing else sooner than CPA needs.
FAST = {"ping_after": 30.0, "pong_timeout": 10.0, "backlog_every": 0.2, "resubscribe_every": 300.0,
        "socket_timeout": 5.0}


@pytest.fixture
def service_factory(tmp_path, monkeypatch):
    """Make Services against a CPA at ``url`` (base_env's when None): base_env plus
    upper-case settings, and lower-case drainer options over FAST; polling settings short
    by default. ``plain=True`` adds neither FAST nor the polling settings: only what is
    given. Services started by then (``start=True``, the default, or by the test) are
    stopped after the test, the others closed."""
    monkeypatch.chdir(tmp_path)
    services = []

    def make(url=None, key=None, start=True, plain=False, **options):
        drainer = {name: options.pop(name) for name in list(options) if name.islower()}
        settings = {name: value for name, value in (("CPA_BASE_URL", url), ("CPA_MANAGEMENT_KEY", key))
                    if value is not None}
        if not plain:
            drainer = {**FAST, **drainer}
            settings.update(REDIS_QUEUE_IDLE_INTERVAL="50ms", REDIS_QUEUE_ERROR_BACKOFF="100ms",
                            REDIS_QUEUE_BATCH_SIZE="100")
        service = cpa_usage.Service(cpa_usage.load_config(base_env(tmp_path, **{**settings, **options})), **drainer)
        if start:
            service.start()
        services.append(service)
        return service

    yield make
    for service in services:
        if service.writer.started:
            service.stop()
        else:
            service.store.close()


@pytest.fixture
def config_factory(tmp_path, monkeypatch):
    """Build a Config from base_env plus overrides, with the working directory in tmp_path."""
    monkeypatch.chdir(tmp_path)

    def make(**extra: str) -> cpa_usage.Config:
        return cpa_usage.load_config(base_env(tmp_path, **extra))

    return make


def find_python(version: str) -> tuple[str | None, str]:
    """A CPython ``version`` ("3.10") of this machine: pyenv's newest build of it, else one
    installed as python3.X. Returns (its path or None, where it was looked for)."""
    versions = pathlib.Path(os.environ.get("PYENV_ROOT") or "/root/.pyenv") / "versions"
    places = [f"{versions}/{version}.*/bin/python{version}", f"/usr/local/bin/python{version}",
              f"/usr/bin/python{version}"]
    builds = sorted(versions.glob(f"{version}.*/bin/python{version}"),
                    key=lambda path: [int(part) if part.isdigit() else -1
                                      for part in path.parent.parent.name.split(".")])
    for candidate in [*reversed(builds), *map(pathlib.Path, places[1:])]:
        if os.access(candidate, os.X_OK):
            return str(candidate), ", ".join(places)
    return None, ", ".join(places)


@pytest.fixture(scope="session")
def zipapp(tmp_path_factory):
    """dist/cpa-usage.pyz built by build.py, once per test session."""
    import subprocess

    output = tmp_path_factory.mktemp("dist") / "cpa-usage.pyz"
    subprocess.run([sys.executable, str(ROOT / "build.py"), "--output", str(output)], check=True, timeout=600,
                   capture_output=True)
    return output


@pytest.fixture
def fake_cpa():
    """Start fake CPAs (tests/fake_cpa.py) with the given options; all stop after the test."""
    from fake_cpa import FakeCPA

    started = []

    def make(**options):
        cpa = FakeCPA(**options).start()
        started.append(cpa)
        return cpa

    yield make
    for cpa in started:
        cpa.stop()


POSTGRES_TEST_URL = os.environ.get("CPA_USAGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(params=["sqlite", "postgres"])
def new_database(request, tmp_path):
    """Make fresh, empty databases of one driver; a test using it runs once per driver
    (PostgreSQL: a schema of its own on the server at POSTGRES_TEST_URL, dropped after)."""
    schemas = []

    def make() -> str:
        if request.param == "sqlite":
            return str(tmp_path / f"db-{uuid.uuid4().hex[:8]}.db")
        import psycopg

        schema = f"test_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(POSTGRES_TEST_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        return f"{POSTGRES_TEST_URL}?options=-csearch_path%3D{schema}"

    make.driver = request.param
    yield make
    if schemas:
        import psycopg

        with psycopg.connect(POSTGRES_TEST_URL, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


# A test whose store is SQLite's alone: what it checks is the SQLite file (or a lock on it).
sqlite_only = pytest.mark.parametrize("new_database", ["sqlite"], indirect=True)


def database_env(target: str) -> dict[str, str]:
    """The settings that make a Service open ``target`` (a SQLite path or a PostgreSQL URL)."""
    if cpa_usage.is_postgres_url(target):
        return {"STORAGE_DRIVER": "postgres", "DATABASE_URL": target}
    return {"SQLITE_PATH": target}


@pytest.fixture
def make_service(new_database, service_factory):
    """Services on a fresh database each, not started; every test using it runs on SQLite
    and PostgreSQL. (new_database first: its schemas are dropped after the stores close.)"""
    def make(tz: str, now: str, events=()):
        service = service_factory(start=False, plain=True, TZ=tz, **database_env(new_database()))
        service.analytics.clock = lambda: cpa_usage.parse_rfc3339_ms(now)
        if events:
            service.store.write_batch(list(events), [], received=len(events))
        return service

    return make


@pytest.fixture
def store(tmp_path):
    s = cpa_usage.Store(str(tmp_path / "store.db"))
    yield s
    s.close()


class WsgiResponse:
    def __init__(self, status: str, headers: list, body: bytes):
        self.status = int(status.split()[0])
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        return json.loads(self.body)


def wsgi_call(app, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> WsgiResponse:
    """Call a WSGI app in-process, the way a server would, and collect the answer."""
    import io
    import wsgiref.util

    path, _, query = path.partition("?")
    environ: dict = {}
    wsgiref.util.setup_testing_defaults(environ)
    environ.update({"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
                    "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": "127.0.0.1"})  # the TCP peer, as a server sets it
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    captured = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"], captured["headers"] = status, response_headers

    chunks = app(environ, start_response)
    data = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return WsgiResponse(captured["status"], captured["headers"], data)


# -- the dashboard in a real browser ------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"  # the dashboard tests' screenshots
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# An init script: window.firstPaintMs, the time from navigation start to the first paint
# with data (body[data-loaded=true]). For the first-render measures (tests and bench/).
FIRST_PAINT = """new MutationObserver((changes, observer) => {
    if (document.body?.dataset.loaded === "true") { window.firstPaintMs = performance.now(); observer.disconnect(); }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-loaded"] });"""


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, driven by Playwright (which never downloads a browser of its
    own): launched once, by the first test that needs it, for the whole run."""
    ARTIFACTS.mkdir(exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def browser(chromium):
    """The run's chromium; the contexts a test opens are closed after it, so that no page
    of one test goes on polling (a server on the same port) in the next."""
    yield chromium
    for context in chromium.contexts:
        context.close()


def serve(service):
    """The service's app behind waitress on a free port: (server, url of the dashboard)."""
    from cpa_usage import create_http_server

    server = create_http_server(service.app, "127.0.0.1", 0, service.config.app_base_path, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    base = service.config.app_base_path
    return server, f"http://127.0.0.1:{server.effective_port}{base}/"


def open_page(browser, url, width=1280, height=900, scheme="light", wait_for="true", **context):
    """A new browser context on ``url``; returns the page, once painted, and the list that
    collects its console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme, **context)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(url)
    page.wait_for_selector(f"body[data-loaded={wait_for}]", timeout=10_000)
    return page, errors


def painted(page, name):
    """Wait until the page ``name`` has been painted with fresh data."""
    page.wait_for_function("name => document.body.dataset.loaded === 'true' && document.body.dataset.page === name",
                           arg=name, timeout=10_000)
