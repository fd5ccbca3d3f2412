"""The dashboard in a real headless browser (Debian's chromium, driven by Playwright,
which never downloads a browser of its own). Screenshots land in tests/artifacts/."""

import shutil
import threading

import pytest

from conftest import ROOT, payload_lines
from cpa_usage import DeadLetter, Service, decode_payload

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
RECEIVED = 1_790_000_000_000


def serve(service):
    import waitress.server

    server = waitress.server.create_server(service.app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}/usage/"


@pytest.fixture
def served(config_factory):
    """A Service with fixture data behind a real waitress server on a free port."""
    service = Service(config_factory())
    events = [decode_payload(line, RECEIVED) for line in payload_lines("v7.2")]
    service.store.write_batch(events, [DeadLetter(RECEIVED, "lpop", "not JSON: x", b"x")], received=18)
    server, url = serve(service)
    yield service, url
    server.close()
    service.store.close()


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield instance
        instance.close()


def open_page(browser, url, width=1280, height=900, scheme="light", wait_for="true"):
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(url)
    page.wait_for_selector(f"body[data-loaded={wait_for}]", timeout=10_000)
    return page, errors


@pytest.mark.parametrize("scheme, width", [("light", 1280), ("dark", 1280), ("light", 390), ("dark", 390)])
def test_status_page_renders(browser, served, scheme, width):
    service, url = served
    page, errors = open_page(browser, url, width=width, scheme=scheme)
    assert errors == []
    assert page.locator("#events tbody tr").count() == 17
    first_row = page.locator("#events tbody tr").first.inner_text()
    assert "fake-model → fake-upstream-model" in first_row and "test-…ey-1" in first_row
    assert "test-client-key-1" not in page.content()
    facts = page.locator("#drain-facts").inner_text()
    assert "not connected" in facts and "127.0.0.1:8317 (usage)" in facts
    assert "Malformed (kept aside)\n1" in page.locator("#totals").inner_text()
    assert page.evaluate("document.documentElement.dataset.theme") == scheme
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling of the page
    page.screenshot(path=str(ARTIFACTS / f"status-{scheme}-{width}.png"), full_page=True)
    page.context.close()


def test_theme_toggle_is_remembered(browser, served):
    _, url = served
    page, _ = open_page(browser, url, scheme="light")
    page.click("#theme")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    page.wait_for_selector("body[data-loaded=true]")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.context.close()


def test_rejected_key_is_shown_plainly(browser, served):
    service, url = served
    from cpa_usage import AuthRejected

    with pytest.raises(AuthRejected):
        service.gate.use(threading.Event(), lambda: (_ for _ in ()).throw(AuthRejected("invalid management key")))
    page, _ = open_page(browser, url)
    banner = page.locator("#drain-banner")
    assert banner.is_visible()
    assert "CPA rejected the management key (invalid management key)" in banner.inner_text()
    page.screenshot(path=str(ARTIFACTS / "status-rejected-key.png"))
    page.context.close()


def test_login_flow(browser, config_factory):
    service = Service(config_factory(AUTH_ENABLED="true", LOGIN_PASSWORD="open sesame"))
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url, wait_for="login")
        assert page.locator("#login").is_visible() and not page.locator("#dashboard").is_visible()
        page.screenshot(path=str(ARTIFACTS / "login.png"))
        page.fill("#password", "wrong")
        page.click("#login-form button")
        page.wait_for_selector("#login-error:has-text('wrong password')")
        page.fill("#password", "open sesame")
        page.click("#login-form button")
        page.wait_for_selector("body[data-loaded=true]")
        assert page.locator("#dashboard").is_visible() and page.locator("#logout").is_visible()
        page.click("#logout")
        page.wait_for_selector("#login", state="visible")
        assert [e for e in errors if "401" not in e] == []  # the wrong password answers 401, as it should
        page.context.close()
    finally:
        server.close()
        service.store.close()


def test_one_click_fix_when_cpa_does_not_record(browser, config_factory):
    from fake_cpa import FakeCPA

    with FakeCPA(usage_statistics_enabled=False) as cpa:
        service = Service(config_factory(CPA_BASE_URL=cpa.url, APP_HOST="127.0.0.1"))
        service.metadata.sync()
        server, url = serve(service)
        try:
            page, errors = open_page(browser, url)
            assert page.locator("#recording").is_visible() and not page.locator("#warnings").is_visible()
            page.screenshot(path=str(ARTIFACTS / "recording-off.png"))
            page.click("#recording-fix")
            page.wait_for_selector("#recording", state="hidden")
            assert cpa.usage_statistics_enabled is True and errors == []
            page.context.close()
        finally:
            server.close()
            service.store.close()
