"""The dashboard shell in a real headless browser (Debian's chromium, driven by Playwright,
which never downloads a browser of its own): the status page, the events table, theme,
sign-in and sign-out, the one-click recording fix, base paths. The other pages are in
test_dashboard_pages.py. Screenshots land in tests/artifacts/."""

import threading

import pytest

from conftest import ARTIFACTS, open_page, painted, payload_lines, serve
from cpa_usage import DeadLetter, Service, decode_payload

RECEIVED = 1_790_000_000_000


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


@pytest.mark.parametrize("scheme, width", [("light", 1280), ("dark", 1280), ("light", 390), ("dark", 390)])
def test_status_page_and_events_render(browser, served, scheme, width):
    service, url = served
    page, errors = open_page(browser, url + "#/status", width=width, scheme=scheme)
    painted(page, "status")
    facts = page.locator("#drain-facts").inner_text()
    assert "not connected" in facts and "127.0.0.1:8317 (usage)" in facts
    assert "Malformed (kept aside)\n1" in page.locator("#totals").inner_text()
    assert "not JSON: x" in page.locator("#dead-letters").inner_text()
    assert page.locator("#conn").inner_text() == "CPA: not connected"
    assert page.evaluate("document.documentElement.dataset.theme") == scheme
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling of the page
    page.screenshot(path=str(ARTIFACTS / f"status-{scheme}-{width}.png"), full_page=True)

    page.click("#nav a[href^='#/events']")
    painted(page, "events")
    assert page.locator("#events tbody tr").count() == 17
    first_row = page.locator("#events tbody tr").first.inner_text()
    assert "fake-model → fake-upstream-model" in first_row and "test-…ey-1" in first_row
    assert "test-client-key-1" not in page.content()
    assert page.locator("#events-total").inner_text() == "(17 in all)"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == []
    page.context.close()


def test_theme_choice_is_remembered(browser, served):
    _, url = served
    page, _ = open_page(browser, url, scheme="light")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.select_option("#theme", "dark")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    page.wait_for_selector("body[data-loaded=true]")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.input_value("#theme") == "dark"
    page.select_option("#theme", "auto")  # auto follows the system again
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
    page.context.close()


# The API requests the page made, as "usage/overview?range=24h".
API_ASKED = """() => performance.getEntriesByType("resource").map((entry) => entry.name.split("/api/v1/")[1])
  .filter(Boolean)"""


def test_the_page_knows_who_is_there_without_asking(browser, served):
    """The session's answer is in the page (the server fills it in): the view's data, the
    header's status and the instances are asked for at once, and nothing asks who is there."""
    _, url = served
    page, errors = open_page(browser, url + "#/overview")
    painted(page, "overview")
    asked = page.evaluate(API_ASKED)
    assert {"status", "usage/overview?range=24h", "usage/events/filters?range=all"} <= set(asked)
    assert not [name for name in asked if name.startswith("auth/")]
    assert errors == []
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
    assert page.locator("#conn").inner_text() == "CPA: key rejected"
    page.screenshot(path=str(ARTIFACTS / "status-rejected-key.png"))
    page.context.close()


def test_login_flow(browser, config_factory):
    service = Service(config_factory(AUTH_ENABLED="true", LOGIN_PASSWORD="open sesame"))
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url + "#/analysis?range=7d", wait_for="login")
        assert page.locator("#login").is_visible()
        assert not page.locator("#view").is_visible() and not page.locator("#nav").is_visible()
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 700})
                page.screenshot(path=str(ARTIFACTS / f"login-{scheme}-{width}.png"))
        page.set_viewport_size({"width": 1280, "height": 900})
        page.fill("#password", "wrong")
        page.click("#login-form button")
        page.wait_for_selector("#login-error:has-text('wrong password')")
        page.fill("#password", "open sesame")
        page.click("#login-form button")
        painted(page, "analysis")  # back where the bookmark pointed
        assert page.locator("#view").is_visible() and page.locator("#logout").is_visible()
        assert "range=7d" in page.url

        page.context.clear_cookies()  # the session ends (expired, or signed out elsewhere): any 401 shows the form
        page.click("#nav a[href^='#/events']")
        page.wait_for_selector("body[data-loaded=login]")
        assert page.locator("#login").is_visible()
        page.fill("#password", "open sesame")
        page.press("#password", "Enter")
        painted(page, "events")

        page.click("#logout")
        page.wait_for_selector("#login", state="visible")
        assert not page.locator("#view").is_visible()
        page.reload()
        page.wait_for_selector("body[data-loaded=login]")  # the cookie is gone for good
        assert page.evaluate(API_ASKED) == []  # signed out: the page knows it, nothing is asked
        assert [e for e in errors if "401" not in e] == []  # the 401s are expected, nothing else
        page.context.close()
    finally:
        server.close()
        service.store.close()


def test_one_click_fix_when_cpa_does_not_record(browser, config_factory, fake_cpa):
    cpa = fake_cpa(usage_statistics_enabled=False)
    service = Service(config_factory(CPA_BASE_URL=cpa.url, APP_HOST="127.0.0.1"))
    service.metadata.sync()
    service.status.set(mode="subscribe", connected=True)  # as if draining: only the recording is wrong
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url)
        assert page.locator("#recording").is_visible() and not page.locator("#warnings").is_visible()
        assert page.locator("#conn").inner_text() == "CPA: not recording"
        page.screenshot(path=str(ARTIFACTS / "recording-off.png"))
        page.click("#recording-fix")
        page.wait_for_selector("#recording", state="hidden")
        assert cpa.usage_statistics_enabled is True and errors == []
        page.context.close()
    finally:
        server.close()
        service.store.close()


def test_exposure_warning(browser, config_factory):
    service = Service(config_factory(APP_HOST="0.0.0.0"))
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url)
        assert "login is off (AUTH_ENABLED=false)" in page.locator("#warnings").inner_text()
        assert errors == []
        page.context.close()
    finally:
        server.close()
        service.store.close()


@pytest.mark.parametrize("base", ["", "/tools/usage"])
def test_works_under_any_base_path(browser, config_factory, base):
    service = Service(config_factory(APP_BASE_PATH=base))
    events = [decode_payload(line, RECEIVED) for line in payload_lines("v7.2")]
    service.store.write_batch(events, [], received=len(events))
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url + "#/events")
        assert page.locator("#events tbody tr").count() == 17
        page.select_option("#range", "all")
        page.click("#nav a[href^='#/overview']")
        painted(page, "overview")
        assert page.locator("#card-requests .value").inner_text() == "17"
        assert page.locator("#daily-chart canvas").count() == 1  # uPlot came from static/vendor
        assert errors == []
        page.context.close()
    finally:
        server.close()
        service.store.close()
