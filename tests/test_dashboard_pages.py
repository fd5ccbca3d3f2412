"""Every page of the dashboard in a real browser (Debian's chromium) against the real
service and the fake CPA, fed with events whose numbers are computed here by hand: cards,
charts and grids, filters kept in the URL, analysis, events, credentials joined with CPA's
auth files, the price editor, alias import and export, Chinese, keyboard use, auto-refresh,
and screenshots of every page (light and dark, desktop and phone) in tests/artifacts/.

The service runs in Asia/Shanghai (its default TZ) and the browser in New York, so every
time checked here proves that the dashboard shows the server's time zone."""

import dataclasses
import datetime as dt
import json
import re
import sys
import zoneinfo

import pytest

from backends import wait_for
from conftest import ARTIFACTS, FIXTURES, ROOT, open_page, painted, serve
from cpa_usage import Service, Store, decode_error_event, decode_payload, iso_ms, now_ms, parse_effective_from

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
BROWSER_ZONE = "America/New_York"
MINUTE = 60_000
DAY_MINUTES = 1440
ALPHA, BETA = "sk-team-alpha-7f3c", "sk-team-beta-91aa"
ALICE = ("alice@example.com", "3f9a1c0e7b2d4a61")  # credentials of the fake CPA's auth files
BOB = ("bob@example.org", "a05d9e33c18f2b70")
CAROL = ("carol@example.net", "58e0ab19c6d27f43")  # unavailable there: "quota exhausted"
RATE_LIMITED = '{"error":{"message":"rate limited"}}'

# minutes ago, model, client key, credential, failed, input (cached included), cached, output, latency ms
ROWS = [
    (30, "gpt-5.4", ALPHA, ALICE, False, 12_000, 4_000, 800, 2_000),
    (90, "gpt-5.4", ALPHA, ALICE, False, 8_000, 0, 1_200, 3_000),
    (150, "gpt-5.4", BETA, ALICE, True, 500, 0, 0, 1_000),
    (200, "claude-sonnet-4-5-20250929", BETA, BOB, False, 20_000, 15_000, 3_000, 4_000),
    (300, "mystery-model-x", ALPHA, CAROL, False, 1_000, 0, 100, 5_000),
    (3 * DAY_MINUTES, "gpt-5.4", ALPHA, ALICE, False, 50_000, 0, 5_000, 6_000),  # outside the last 24 hours
    (4 * DAY_MINUTES, "gpt-5.4", BETA, BOB, True, 0, 0, 0, 7_000),
]
# The built-in prices (USD per 1M tokens) of gpt-5.4 and claude-sonnet-4-5*: new input, cache read, output.
# OpenAI-style counts (a Codex executor): the cached tokens are part of the input.
COST_24H = (8_000 * 2.5 + 4_000 * 0.25 + 800 * 15  # gpt-5.4
            + 8_000 * 2.5 + 1_200 * 15
            + 500 * 2.5
            + 5_000 * 3 + 15_000 * 0.30 + 3_000 * 15) / 1e6  # claude-sonnet-4-5; mystery-model-x has no price


def event(now, index, minutes_ago, model, api_key, credential, failed, tokens_in, cached, tokens_out, latency):
    record = {"timestamp": iso_ms(now - minutes_ago * MINUTE), "latency_ms": latency, "ttft_ms": latency // 4,
              "source": credential[0], "auth_index": credential[1],
              "tokens": {"input_tokens": tokens_in, "output_tokens": tokens_out, "reasoning_tokens": 0,
                         "cached_tokens": cached, "total_tokens": tokens_in + tokens_out},
              "failed": failed, "fail": {"status_code": 429 if failed else 200, "body": RATE_LIMITED if failed else ""},
              "provider": "codex", "executor_type": "CodexExecutor", "model": model, "alias": model,
              "endpoint": "POST /v1/responses", "auth_type": "oauth", "api_key": api_key, "request_id": f"req-{index}"}
    return decode_payload(json.dumps(record).encode(), now)


def month_of_events(now, count=20_000):
    """``count`` events spread over the 30 days before ``now``: 3 models, 2 keys, 2
    credentials, one in 17 failed (the first-render measures' month)."""
    models = ["gpt-5.4", "claude-sonnet-4-5-20250929", "gemini-2.5-pro"]
    return [event(now, i, i * 30 * DAY_MINUTES // count, models[i % 3], (ALPHA, BETA)[i % 2], (ALICE, BOB)[i % 2],
                  i % 17 == 0, 1_000 + i % 5_000, i % 700, 100 + i % 900, 500 + i % 4_000) for i in range(count)]


class Site:
    def __init__(self, service, url, now, events):
        self.service, self.url, self.now, self.events = service, url, now, events

    def open(self, browser, path="", **options):
        options.setdefault("timezone_id", BROWSER_ZONE)
        return open_page(browser, self.url + path, **options)


@pytest.fixture
def site(config_factory, fake_cpa):
    cpa = fake_cpa()
    service = Service(config_factory(CPA_BASE_URL=cpa.url, APP_HOST="127.0.0.1"))
    service.metadata.sync()
    now = now_ms()
    events = [event(now, i, *row) for i, row in enumerate(ROWS)]
    service.store.write_batch(events, [], received=len(events))
    server, url = serve(service)
    yield Site(service, url, now, events)
    server.close()
    service.store.close()


def text(page, selector):
    return page.locator(selector).inner_text()


def wait_text(page, selector, expected):
    page.wait_for_function("([selector, expected]) => document.querySelector(selector)?.innerText === expected",
                           arg=[selector, expected], timeout=10_000)


def local(ms, pattern="%m/%d/%Y, %H:%M:%S"):
    """An instant as the dashboard writes it in English, in the service's zone."""
    return dt.datetime.fromtimestamp(ms / 1000, ZONE).strftime(pattern)


def test_overview_cards_charts_and_grid(browser, site):
    page, errors = site.open(browser)
    painted(page, "overview")
    recent = site.events[:5]
    assert sum(e.total_tokens for e in recent) == 46_600
    assert text(page, "#card-requests .value") == "5"
    assert "80% success" in text(page, "#card-requests .sub") and "1 failed" in text(page, "#card-requests .sub")
    assert text(page, "#card-tokens .value") == "46.6K"
    assert page.get_attribute("#card-tokens .value", "title") == "46,600"
    new_input = sum(e.input_tokens for e in recent)
    cache_read = sum(e.cache_read_tokens for e in recent)
    assert (new_input, cache_read) == (22_500, 19_000)
    tokens = text(page, "#card-tokens .sub")
    assert "Input 22.5K" in tokens and "Cache read 19K" in tokens and "Output 5.1K" in tokens
    assert f"cache hit {100 * cache_read / (new_input + cache_read):.1f}%" in tokens
    assert text(page, "#card-cost .value") == f"${COST_24H:.4f}" == "$0.1368"
    assert "+ 1 request without a price (mystery-model-x)" in text(page, "#card-cost .sub")
    assert text(page, "#card-rpm .value") == "0.0035"  # 5 requests in 1440 minutes
    assert text(page, "#card-tpm .value") == "32.4"  # 46,600 tokens in 1440 minutes
    assert text(page, "#card-latency .value") == "3s"  # (2 + 3 + 1 + 4 + 5) / 5 seconds
    assert page.locator(".stat .spark canvas").count() == 6
    assert page.locator("#hourly-chart canvas").count() == 1
    assert page.locator("#daily-chart").count() == 0  # 24 hours are two part-days: the hours show them

    grid = page.locator("#health-grid .cellgrid")
    assert grid.locator(".cell:not(.c-empty)").count() == 5  # one 15-minute cell per recent event
    failed_cell = grid.locator(".cell.c-bad")
    assert failed_cell.count() == 1
    failed_cell.hover()
    tip = text(page, "#tip")
    start = site.events[2].ts_ms - site.events[2].ts_ms % (15 * MINUTE)
    assert local(start, "%H:%M") + "–" + local(start + 15 * MINUTE, "%H:%M") in tip
    assert "1 request" in tip and "1 failed" in tip and "0% success" in tip

    page.click("#chart-metric button[data-value=cost]")  # the charts switch metric without a reload
    assert page.locator("#hourly-chart .u-legend").inner_text().strip().startswith("Cost")
    assert errors == []
    page.context.close()


def overview_of(page, query: str) -> dict:
    return page.evaluate("query => fetch('api/v1/usage/overview?' + query).then((r) => r.json())", query)


def hover_in_bar(page, chart: str, starts: list[int], step_ms: int, index: int, fraction: float) -> str:
    """Point at ``fraction`` of the width of bar ``index`` (bars span [start, start + step)
    of the x scale, which runs from the first start to the last start + step); the legend."""
    page.locator(chart).scroll_into_view_if_needed()
    box = page.locator(f"{chart} .u-over").bounding_box()
    low, high = starts[0], starts[-1] + step_ms
    x = box["x"] + (starts[index] + fraction * step_ms - low) / (high - low) * box["width"]
    page.mouse.move(x, box["y"] + box["height"] - 3)
    return page.locator(f"{chart} .u-legend").inner_text()


def test_charts_show_the_bar_under_the_pointer_and_say_what_they_show(browser, site):
    page, errors = site.open(browser, "#/overview?range=24h")
    painted(page, "overview")
    hours = [hour["start_ms"] for hour in overview_of(page, "range=24h")["hourly"]]
    busy = next(i for i, start in enumerate(hours) if start <= site.events[1].ts_ms < start + 3_600_000)
    for fraction in (0.15, 0.5, 0.85):  # the right half of a bar used to show the next hour
        legend = hover_in_bar(page, "#hourly-chart", hours, 3_600_000, busy, fraction)
        assert local(hours[busy], "%m/%d/%Y, %H:%M") in legend, (fraction, legend)
    assert errors == []
    page.context.close()
    page, errors = site.open(browser, "#/overview?range=7d")
    painted(page, "overview")
    hours = [hour["start_ms"] for hour in overview_of(page, "range=7d")["hourly"]]
    days = [day["start_ms"] for day in overview_of(page, "range=7d")["daily"]]
    legend = hover_in_bar(page, "#daily-chart", days, 86_400_000, len(days) - 1, 0.9)
    assert local(days[-1], "%b %-d") in legend, legend

    alt = page.get_attribute("#hourly-chart", "aria-label")
    assert page.get_attribute("#hourly-chart", "role") == "img"
    assert alt.startswith(f"By hour: Requests, {len(hours)} bars from ") and "Success 5, Failed 2" in alt, alt
    assert page.get_attribute("#daily-chart", "aria-label").startswith(f"By day: Requests, {len(days)} bars")

    # a 7-day hourly axis writes each date once, at local midnight
    ticks = page.evaluate("""async (hours) => {
        const { timeAxis } = await import('./static/js/charts.js');
        const seconds = hours.map((ms) => ms / 1000);
        const axis = timeAxis(seconds, 3600);
        const splits = axis.splits({ bbox: { width: 1200 * devicePixelRatio } });
        return { splits, labels: axis.values(null, splits) };
    }""", hours)
    assert len(set(ticks["labels"])) == len(ticks["labels"]) >= 6, ticks
    assert all(dt.datetime.fromtimestamp(s, ZONE).strftime("%H:%M") == "00:00" for s in ticks["splits"]), ticks
    assert ticks["labels"][-1] == local(ticks["splits"][-1] * 1000, "%b %-d")
    assert errors == []
    page.context.close()


def test_a_chart_of_nothing_is_said_not_drawn(browser, site):
    page, errors = site.open(browser, "#/overview?range=24h&model=mystery-model-x")  # requests, but no price
    painted(page, "overview")
    assert page.locator("#hourly-chart canvas").count() == 1
    page.click("#chart-metric button[data-value=cost]")
    page.wait_for_selector("text=No cost in this range.")
    assert page.locator("#hourly-chart").count() == 0
    page.click("#chart-metric button[data-value=requests]")
    page.wait_for_selector("#hourly-chart canvas")
    assert errors == []
    page.context.close()


def test_imported_events_are_an_instance_with_a_name(browser, site):
    """The site's events have no instance (as those imported from CPA's legacy export); one
    more comes from CPA east: the filter names both, and picks the imported ones too."""
    east = site.events[0]._replace(event_key="f" * 32, request_id="req-east", instance="east")
    site.service.store.write_batch([east], [], received=1)
    page, errors = site.open(browser)
    painted(page, "overview")
    page.click("#filter-instance")
    options = page.locator(".ms-panel:not([hidden]) .ms-option")
    options.first.wait_for()
    assert sorted(o.split("\n")[0] for o in options.all_inner_texts()) == ["east", "imported (no instance)"]
    options.filter(has_text="imported (no instance)").locator("input").check()
    painted(page, "overview")
    assert "instance=~" in page.url or "instance=%7E" in page.url
    assert text(page, "#card-requests .value") == "5"  # the site's five of the last 24 hours, not east's
    page.goto(site.url + "#/events")
    painted(page, "events")
    assert "imported (no instance)" in text(page, "#events") and "east" in text(page, "#events")
    assert errors == []
    page.context.close()


def test_filters_live_in_the_url(browser, site):
    page, errors = site.open(browser)
    painted(page, "overview")
    assert page.locator("#filter-api_key").is_visible()
    assert page.locator("#filter-instance").is_hidden()  # every event came from one CPA
    page.select_option("#range", "7d")
    painted(page, "overview")
    assert "range=7d" in page.url and text(page, "#card-requests .value") == "7"

    page.click("#filter-api_key")
    page.locator(".ms-option", has_text="91aa").locator("input").check()  # BETA, shown masked
    painted(page, "overview")
    assert "api_key=" in page.url and text(page, "#card-requests .value") == "3"
    assert text(page, "#filter-api_key .ms-count") == "1"
    page.locator(".ms-option", has_text="7f3c").locator("input").check()  # a second key: both are asked for
    painted(page, "overview")
    assert page.url.count("api_key=") == 2 and text(page, "#card-requests .value") == "7"
    page.locator(".ms-option", has_text="7f3c").locator("input").uncheck()
    painted(page, "overview")
    assert text(page, "#card-requests .value") == "3"
    page.keyboard.press("Escape")

    page.click("#result button[data-value=failed]")
    painted(page, "overview")
    assert "result=failed" in page.url and text(page, "#card-requests .value") == "2"
    assert page.get_attribute("#result button[data-value=failed]", "aria-pressed") == "true"

    page.go_back()  # the URL is the state: back is the previous view
    painted(page, "overview")
    assert "result=" not in page.url and text(page, "#card-requests .value") == "3"

    page.click("#reset-filters")
    painted(page, "overview")
    assert "range=" not in page.url and text(page, "#card-requests .value") == "5"
    assert page.input_value("#range") == "24h"

    start, end = site.now - int(3.5 * DAY_MINUTES * MINUTE), site.now - 2 * DAY_MINUTES * MINUTE
    page.select_option("#range", "custom")
    page.fill("#range-start", local(start, "%Y-%m-%dT%H:%M"))  # the inputs are in the service's zone
    page.fill("#range-end", local(end, "%Y-%m-%dT%H:%M"))
    page.click("#range-apply")
    painted(page, "overview")
    assert "range=custom" in page.url and "start=" in page.url
    assert text(page, "#card-requests .value") == "1"  # the event of 3 days ago, nothing else
    assert errors == []
    page.context.close()

    # A shared link opens the same view.
    page, errors = site.open(browser, "#/overview?range=7d&model=gpt-5.4&model=claude-sonnet-4-5-20250929")
    painted(page, "overview")
    assert text(page, "#card-requests .value") == "6"
    assert text(page, "#filter-model .ms-count") == "2"
    assert page.input_value("#range") == "7d"
    assert errors == []
    page.context.close()


def test_health_year_and_day(browser, site):
    page, errors = site.open(browser, "#/health")
    painted(page, "health")
    days = {dt.datetime.fromtimestamp(e.ts_ms / 1000, ZONE).date() for e in site.events}
    assert f"7 requests, 2 failed, on {len(days)} active days." in text(page, "#year .summary")
    assert page.locator("#year .cellgrid .cell:not(.v0)").count() == len(days)

    grid_width = page.evaluate("document.querySelector('#year .cellgrid').getBoundingClientRect().width")
    card_width = page.evaluate("document.querySelector('#year').clientWidth")
    assert grid_width >= 0.9 * (card_width - 32)  # the year fills its card (it took 60% of it)

    page.focus("#year .cellgrid")  # the keyboard reaches the days: focus starts on today
    page.keyboard.press("ArrowLeft")  # a week before (the columns are weeks)
    page.keyboard.press("Enter")
    page.wait_for_selector("#day")
    painted(page, "health")
    today = dt.datetime.fromtimestamp(now_ms() / 1000, ZONE).date()
    assert f"day={(today - dt.timedelta(days=7)).isoformat()}" in page.url
    # the focus stays on the year, on the picked day (it fell to <body>): the arrows go on from there
    assert page.evaluate("document.activeElement.closest('#year .cellgrid') !== null")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.wait_for_function("day => location.hash.includes('day=' + day)", arg=today.isoformat())
    painted(page, "health")
    assert f"day={today.isoformat()}" in page.url
    today_events = [e for e in site.events if dt.datetime.fromtimestamp(e.ts_ms / 1000, ZONE).date() == today]
    summary = text(page, "#day .summary")
    assert summary.startswith(f"{len(today_events)} request")
    assert page.locator("#day .cellgrid .cell:not(.c-empty)").count() == len(today_events)
    assert page.locator("#day-chart canvas").count() == 1

    page.click("#day .card-head button")
    painted(page, "health")
    assert "day=" not in page.url and page.locator("#day").count() == 0
    assert errors == []
    page.context.close()


def test_analysis_tables_sorting_and_groups(browser, site):
    page, errors = site.open(browser, "#/analysis?range=7d")
    painted(page, "analysis")
    rows = page.locator("#analysis tbody tr")
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(3)] == [
        "gpt-5.4", "claude-sonnet-4-5-20250929", "mystery-model-x"]  # requests, then name
    assert rows.first.locator("td").nth(1).inner_text() == "5"
    assert "unpriced" in rows.nth(2).inner_text()
    footer = page.locator("#analysis tfoot td")
    assert footer.nth(0).inner_text() == "Total" and footer.nth(1).inner_text() == "7"
    assert footer.nth(3).inner_text() == "2"  # failed
    assert page.locator("#top-chart canvas").count() == 1

    page.click("#analysis th:has-text('Requests') button")
    painted(page, "analysis")
    assert "sort=requests" in page.url and "order=asc" in page.url
    assert page.get_attribute("#analysis th:has-text('Requests')", "aria-sort") == "ascending"
    assert rows.first.locator("td").first.inner_text() == "claude-sonnet-4-5-20250929"

    page.click("#group button[data-value=api]")
    painted(page, "analysis")
    assert "group=api" in page.url
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(2)]
    assert names == ["sk-te…91aa", "sk-te…7f3c"]  # ascending: BETA 3, ALPHA 4
    assert [rows.nth(i).locator("td").nth(1).inner_text() for i in range(2)] == ["3", "4"]

    page.click("#analysis tbody a:has-text('7f3c')")  # a name opens its events
    painted(page, "events")
    assert "api_key=" in page.url and page.locator("#events tbody tr").count() == 4
    assert errors == []
    page.context.close()


def test_analysis_totals_are_of_every_page(browser, site):
    """100 rows a page: the totals row sums every row (the API's totals), not the page."""
    more = [event(site.now, 200 + i, 5 * DAY_MINUTES, f"bulk-model-{i:03}", BETA, BOB, False, 10, 0, 1, 100)
            for i in range(100)]
    site.service.store.write_batch(more, [], received=len(more))
    page, errors = site.open(browser, "#/analysis?range=7d&sort=name")
    painted(page, "analysis")
    assert page.locator("#analysis tbody tr").count() == 100 and text(page, ".pager").startswith("Previous")
    footer = page.locator("#analysis tfoot td")
    assert footer.nth(0).inner_text() == "Total" and footer.nth(1).inner_text() == str(len(ROWS) + 100)
    page.click(".pager button:has-text('Next')")
    painted(page, "analysis")
    assert page.locator("#analysis tbody tr").count() == 3 and footer.nth(1).inner_text() == "107"
    assert errors == []
    page.context.close()


def test_events_table_detail_and_pages(browser, site):
    more = [event(site.now, 100 + i, 6 * DAY_MINUTES + i, "gpt-5.4-mini", ALPHA, ALICE, False, 100, 0, 10, 500)
            for i in range(55)]
    site.service.store.write_batch(more, [], received=len(more))
    page, errors = site.open(browser, "#/events")
    painted(page, "events")
    assert text(page, "#events-total") == "(62 in all)"
    rows = page.locator("#events tbody tr")
    assert rows.count() == 50
    first = rows.first.inner_text()
    assert local(site.events[0].ts_ms) in first and "gpt-5.4" in first and "sk-te…7f3c" in first
    assert "Failed 429" in rows.nth(2).inner_text()
    assert "Instance" not in page.locator("#events thead").inner_text()  # one CPA: no column for it

    rows.nth(2).click()
    dialog = page.locator("#dialog")
    assert dialog.is_visible()
    detail = dialog.inner_text()
    assert "status 429" in detail and '"message": "rate limited"' in detail
    assert "event_key" not in detail  # every field is there, folded away
    page.click("#all-fields summary")
    detail = dialog.inner_text()
    for field in ("event_key", "request_id", "req-2", "auth_index", ALICE[1], "token_quality", "cost_usd"):
        assert field in detail
    page.keyboard.press("Escape")
    assert not dialog.is_visible()

    rows.first.focus()  # the keyboard opens a row too
    page.keyboard.press("Enter")
    assert dialog.is_visible() and "req-0" in dialog.inner_text()
    page.keyboard.press("Escape")

    page.click(".pager button:has-text('Next')")
    painted(page, "events")
    assert "page=2" in page.url and rows.count() == 12 and "Page 2 of 2" in text(page, ".pager")

    page.click("#result button[data-value=failed]")  # a filter starts again at page 1
    painted(page, "events")
    assert "page=" not in page.url and rows.count() == 2 and text(page, "#events-total") == "(2 in all)"
    assert errors == []
    page.context.close()


DEFAULT_EVENT_COLUMNS = ["Time", "Result", "Model", "API key", "Credential", "Input", "Cache read", "Output", "Cost",
                         "Latency", "TTFT"]


def test_events_columns_are_chosen_and_kept(browser, site):
    """TTFT and cache writes are columns of their own (cache writes shown where the page has
    some); the viewer picks the columns (20 to choose from), the choice outlives a reload,
    and Reset brings the defaults back."""
    page, errors = site.open(browser, "#/events")
    painted(page, "events")
    headers = lambda: page.locator("#events thead th").all_inner_texts()  # noqa: E731
    first_row = page.locator("#events tbody tr").first
    assert headers() == DEFAULT_EVENT_COLUMNS
    assert first_row.locator("td").nth(10).inner_text() == "500ms"  # 2 s latency, first token at a quarter of it
    page.click("#event-columns")
    assert text(page, "#event-columns .ms-count") == "11 of 20"
    page.check("#event-columns + .ms-panel input[value=speed]")
    page.uncheck("#event-columns + .ms-panel input[value=credential]")
    assert text(page, "#event-columns .ms-count") == "11 of 20"
    assert headers() == [h for h in DEFAULT_EVENT_COLUMNS if h != "Credential"] + ["Output speed"]
    assert first_row.locator("td").last.inner_text() == "533.3 tokens/s"  # 800 output tokens in 1.5 s after the first
    assert page.evaluate("document.activeElement.value") == "credential"  # the panel stays where the viewer was
    page.screenshot(path=str(ARTIFACTS / "event-columns-light-1280.png"))
    page.reload()
    painted(page, "events")
    assert headers() == [h for h in DEFAULT_EVENT_COLUMNS if h != "Credential"] + ["Output speed"]
    page.click("#event-columns")
    page.click("#event-columns + .ms-panel button.link")  # Reset
    assert headers() == DEFAULT_EVENT_COLUMNS and text(page, "#event-columns .ms-count") == "11 of 20"
    assert page.evaluate("localStorage.getItem('cpa-usage-event-columns')") is None
    phone, _ = site.open(browser, "#/events", width=390, height=844, scheme="dark")
    painted(phone, "events")
    phone.click("#event-columns")
    assert phone.evaluate("document.querySelector('#event-columns + .ms-panel').getBoundingClientRect().right") <= 390
    phone.screenshot(path=str(ARTIFACTS / "event-columns-dark-390.png"))
    phone.context.close()

    record = {"timestamp": iso_ms(site.now - MINUTE), "model": "gpt-5.4", "provider": "codex", "executor_type": "CodexExecutor",
              "api_key": ALPHA, "source": ALICE[0], "auth_index": ALICE[1], "latency_ms": 900, "failed": False,
              "tokens": {"input_tokens": 3_000, "cache_creation_tokens": 1_000, "output_tokens": 10, "total_tokens": 3_010}}
    site.service.store.write_batch([decode_payload(json.dumps(record).encode(), site.now)], [], received=1)
    page.reload()
    painted(page, "events")
    assert headers() == DEFAULT_EVENT_COLUMNS[:7] + ["Cache write"] + DEFAULT_EVENT_COLUMNS[7:]
    assert first_row.locator("td").nth(7).inner_text() == "1,000"
    assert errors == []
    page.context.close()


def test_an_event_reads_in_words_with_its_fields_below(browser, site):
    """The dialog says what was asked, by whom, how it went and what it cost, every time in
    the zone shown (Shanghai's, not the API's UTC); the raw fields are folded below."""
    page, errors = site.open(browser, "#/events")
    painted(page, "events")
    page.locator("#events tbody tr").first.click()
    summary = page.locator("#event-summary")
    parts = summary.locator("section h3").all_inner_texts()
    assert [part.lower() for part in parts] == ["request", "client", "credential", "outcome", "tokens"]
    facts_of = lambda part: dict(zip(summary.locator("section", has=page.locator(f"h3:text-is('{part}')")).locator("dt").all_inner_texts(),  # noqa: E731
                                     summary.locator("section", has=page.locator(f"h3:text-is('{part}')")).locator("dd").all_inner_texts()))
    newest = site.events[0]
    request = facts_of("Request")
    assert request["Time"] == local(newest.ts_ms) and request["Received"] == local(newest.received_ms)
    assert request["Model"] == "gpt-5.4" and request["Endpoint"] == "POST /v1/responses" and request["request_id"] == "req-0"
    assert request["Provider"] == "codex · CodexExecutor"
    assert facts_of("Client") == {"API key": "sk-te…7f3c"}
    assert facts_of("Credential") == {"Credential": ALICE[0], "auth_index": ALICE[1], "Auth type": "oauth"}
    assert facts_of("Outcome") == {"Result": "ok", "Latency": "2s", "TTFT": "500ms", "Output speed": "533.3 tokens/s"}
    assert facts_of("Tokens") == {"Input": "8,000", "Cache read": "4,000", "Cache write": "0", "Output": "800", "Reasoning": "0",
                                  "Total tokens": "12,800", "Token counts": "worked out from CPA's counts",
                                  "Cost": f"${(8_000 * 2.50 + 4_000 * 0.25 + 800 * 15) / 1e6:.4f}"}  # gpt-5.4's default price
    assert "Z" not in summary.inner_text().replace("Tokens", "")  # no UTC ISO time among the words
    assert not page.locator("#all-fields").evaluate("(details) => details.open")
    page.screenshot(path=str(ARTIFACTS / "event-dialog-light-1280.png"))
    assert errors == []
    page.context.close()


def test_credentials_joined_with_auth_files(browser, site):
    page, errors = site.open(browser, "#/credentials?range=7d")
    painted(page, "credentials")
    rows = page.locator("#credentials tbody tr")
    names = [rows.nth(i).locator("td").first.inner_text().split("\n")[0] for i in range(rows.count())]
    assert names == ["alice@example.com", "bob@example.org", "carol@example.net", "dave@example.com"]
    alice = rows.nth(0).locator("td")
    assert "codex-alice@example.com.json" in alice.nth(0).inner_text() and alice.nth(1).inner_text() == "active"
    assert [alice.nth(i).inner_text() for i in (2, 3, 4)] == ["4", "75%", "1"]  # requests, success rate, failed
    carol = rows.nth(2).inner_text()
    assert "unavailable" in carol and "quota exhausted" in carol
    assert "dim" in rows.nth(2).get_attribute("class")
    dave = rows.nth(3).locator("td")  # an auth file without requests in the range is listed too
    assert dave.nth(2).inner_text() == "0"
    assert page.locator("#credentials-chart canvas").count() == 1
    assert errors == []
    page.context.close()


def test_config_keys_are_found_without_their_auth_index(browser, config_factory, fake_cpa):
    """An OpenAI-compatible provider without key entries carries its auth-index itself; a key
    listed without one (as v8's key groups may give it) is found by its key, which is an
    API-key credential's source. Neither is "not in CPA's lists"."""
    cpa = fake_cpa()
    openrouter_key, other_key = "sk-or-v1-FAKE1111111111111111111111111111c0de", "sk-dk-FAKE22222222222222222222beef"
    cpa.openai_compatibility = [
        {"name": "openrouter", "base-url": "https://openrouter.ai/api/v1", "api-key-entries": [{"api-key": openrouter_key}]},
        {"name": "deepseek", "base-url": "https://api.deepseek.com/v1", "auth-index": "d5e6f7a8b9c0d1e2"}]
    service = Service(config_factory(CPA_BASE_URL=cpa.url, APP_HOST="127.0.0.1"))
    service.metadata.sync()
    now = now_ms()
    records = [{"timestamp": iso_ms(now - MINUTE), "model": "qwen/qwen3-coder", "provider": "openrouter",
                "executor_type": "OpenAICompatExecutor", "auth_type": "apikey", "source": source, "auth_index": index,
                "api_key": ALPHA, "latency_ms": 800, "failed": False,
                "tokens": {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}}
               for source, index in ((openrouter_key, "0a1b2c3d4e5f6071"), (other_key, "d5e6f7a8b9c0d1e2"),
                                     ("sk-unknown-FAKE333333333333333333", "9f8e7d6c5b4a3921"))]
    service.store.write_batch([decode_payload(json.dumps(r).encode(), now) for r in records], [], received=3)
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url + "#/credentials", timezone_id=BROWSER_ZONE)
        painted(page, "credentials")
        state = lambda index: page.locator("#credentials tbody tr", has_text=index).locator("td").nth(1).inner_text()  # noqa: E731
        name = lambda index: page.locator("#credentials tbody tr", has_text=index).locator("td").first.inner_text()  # noqa: E731
        assert state("0a1b2c3d4e5f6071") == "config key" and "openrouter · sk-or…c0de" in name("0a1b2c3d4e5f6071")
        assert state("d5e6f7a8b9c0d1e2") == "config key" and "deepseek · d5e6f7a8b9c0d1e2" in name("d5e6f7a8b9c0d1e2")
        assert state("9f8e7d6c5b4a3921") == "not in CPA's lists"  # a key CPA does not list is still told apart
        assert errors == []
        page.context.close()
    finally:
        server.close()
        service.store.close()


def test_credentials_show_what_cpa_reported_with_their_errors(browser, site):
    """CPA's errors channel: carol's quota exhausted until a time ahead, and her errors on demand."""
    until = iso_ms(site.now + 90 * MINUTE)
    errors_of_carol = [decode_error_event(json.dumps({
        "timestamp": iso_ms(site.now - minutes * MINUTE), "provider": "codex", "model": "gpt-5.4",
        "auth_index": CAROL[1], "status_code": 429, "body": '{"error":"usage_limit_reached"}', "retryable": True,
        "auth_status": {"status": "error", "status_message": "quota exhausted", "unavailable": True,
                        "next_retry_after": until, "quota": {"exceeded": True, "reason": "quota",
                                                             "next_recover_at": until}}}).encode(), site.now)
        for minutes in (20, 40)]
    site.service.store.write_batch([], [], received=0, errors=errors_of_carol)
    page, errors = site.open(browser, "#/credentials?range=7d")
    painted(page, "credentials")
    carol = page.locator("#credentials tbody tr", has_text="carol@example.net")
    state = carol.locator("td").nth(1).inner_text()
    assert "CPA, 20 minutes ago: quota exhausted" in state
    assert f"until {local(site.now + 90 * MINUTE, '%m/%d/%Y, %H:%M')}" in state  # the server's zone
    assert carol.locator("td").last.inner_text() == "2"
    alice = page.locator("#credentials tbody tr", has_text="alice@example.com")
    assert alice.locator("td").last.inner_text() == "—"  # no errors, no state of CPA's
    assert text(page, "#credential-errors h2") == "Credential errors reported by CPA (2)"
    listed = page.locator("#credential-error-table tbody tr")
    assert listed.count() == 2
    newest = listed.first.inner_text()
    assert "carol@example.net" in newest and "429" in newest and "usage_limit_reached" in newest
    page.screenshot(path=str(ARTIFACTS / "credentials-errors-light-1280.png"), full_page=True)
    assert errors == []
    page.context.close()


def test_events_stream_filter(browser, site):
    """CPA v8 says whether a request was streamed: the Events page filters on it (raw events)."""
    streamed = [decode_payload(json.dumps({**json.loads(json.dumps(PLAIN_V8)), "request_id": f"st-{i}",
                                           "timestamp": iso_ms(site.now - (10 + i) * MINUTE), "stream": i < 3}).encode(),
                               site.now) for i in range(5)]
    site.service.store.write_batch(streamed, [], received=len(streamed))
    page, errors = site.open(browser, "#/events")
    painted(page, "events")
    assert text(page, "#events-total") == "(12 in all)"
    page.click("#stream button[data-value=true]")
    painted(page, "events")
    assert "stream=true" in page.url and text(page, "#events-total") == "(3 in all)"
    page.locator("#events tbody tr").first.click()
    assert "Stream\nyes" in text(page, "#event-summary")
    page.click("#all-fields summary")
    assert "execution_id" in page.locator("#dialog").inner_text()
    page.keyboard.press("Escape")
    page.goto(site.url + "#/overview?stream=true")
    painted(page, "overview")
    assert not page.locator("#stream").is_visible()  # the filter belongs to the Events page
    assert errors == []
    page.context.close()


PLAIN_V8 = {"latency_ms": 900, "source": ALICE[0], "auth_index": ALICE[1], "provider": "codex",
            "executor_type": "CodexExecutor", "model": "gpt-5.4", "endpoint": "POST /v1/responses",
            "auth_type": "oauth", "api_key": ALPHA, "execution_id": "exe-42", "resolved_client_ip": "203.0.113.7",
            "tokens": {"input_tokens": 10, "output_tokens": 2, "reasoning_tokens": 0, "cached_tokens": 0,
                       "total_tokens": 12}, "failed": False}


def test_status_tells_the_transport_and_why(browser, config_factory, fake_cpa):
    """A CPA whose RESP is off: auto takes the HTTP queue, and the Status page says so."""
    cpa = fake_cpa(resp_enabled=False, retention_seconds=600)
    service = Service(config_factory(CPA_BASE_URL=cpa.url, APP_HOST="127.0.0.1", REDIS_QUEUE_IDLE_INTERVAL="50ms"))
    service.start()
    server, url = serve(service)
    try:
        wait_for(lambda: service.status.mode == "http" and service.metadata.queue_retention_s, what="HTTP mode")
        page, errors = open_page(browser, url + "#/status")
        painted(page, "status")
        facts = page.locator("#drain-facts").inner_text()
        assert "polling (HTTP queue)" in facts
        assert f"auto: 127.0.0.1:{cpa.port} answers RESP with HTTP (HTTP/1.1 400 Bad Request)" in facts
        cpa_facts = page.locator("#cpa-facts").inner_text()
        assert "/v0/management" in cpa_facts and "10m" in cpa_facts and "meta-api-key" in cpa_facts
        assert "NaN" not in page.locator("main").inner_text()
        page.screenshot(path=str(ARTIFACTS / "status-http-light-1280.png"), full_page=True)
        assert errors == []
        page.context.close()
    finally:
        server.close()
        service.stop()


SPILLING = """() => [...document.querySelectorAll('main .card')].flatMap((card) => {
    const edge = card.getBoundingClientRect().right;
    return [...card.querySelectorAll('dd, dd *, .note, h2')].filter((el) => el.getBoundingClientRect().right > edge + 1)
        .map((el) => el.textContent.slice(0, 60));
})"""


def test_status_in_trouble_stays_inside_its_cards(browser, config_factory, fake_cpa):
    """Two CPAs with long names, one rejecting the key, one stopped behind a long proxy path:
    long errors wrap inside their cards (a pill of an error once widened the page to 1,534
    px at 1,440 and 868 at 390)."""
    east, west = fake_cpa(), fake_cpa()
    service = Service(config_factory(
        CPA_INSTANCES=f"east-datacenter-primary={east.url},west-backup-behind-a-long-proxy={west.url}/a/long/path/prefix",
        CPA_MANAGEMENT_KEY_EAST_DATACENTER_PRIMARY="wrong-key", APP_HOST="127.0.0.1", REDIS_QUEUE_ERROR_BACKOFF="200ms"))
    west.stop()
    service.start()
    server, url = serve(service)
    try:
        wait_for(lambda: service.statuses[1].last_error and service.gates[0].state == "rejected",
                 what="both CPAs in trouble")
        for width in (1440, 390):
            page, errors = open_page(browser, url + "#/status", width=width)
            painted(page, "status")
            assert "rejected the management key" in page.locator("main").inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            assert page.evaluate(SPILLING) == [], width
            assert not {"NaN", "undefined", "null"} & set(page.locator("main").inner_text().split())
            page.screenshot(path=str(ARTIFACTS / f"status-trouble-light-{width}.png"), full_page=True)
            assert errors == []
            page.context.close()
    finally:
        server.close()
        service.stop()


def test_price_editor(browser, site):
    page, errors = site.open(browser, "#/models")
    painted(page, "models")
    mystery = page.locator("#models-used tbody tr", has_text="mystery-model-x")
    assert "unpriced" in mystery.get_attribute("class") and "unpriced" in mystery.inner_text()
    assert page.locator("#unpriced-note").is_visible()
    gpt = page.locator("#models-used tbody tr", has=page.locator("code", has_text=re.compile("^gpt-5.4$"))).locator(".price-now")
    assert gpt.inner_text().startswith("$2.50 in · $15.00 out default") and "by gpt-5.4" in gpt.inner_text()

    mystery.locator("button", has_text="Set price").click()
    assert page.input_value("#price-model") == "mystery-model-x"
    page.fill("#price-input", "-1")
    page.fill("#price-output", "2")
    page.fill("#price-cache_read", "0.1")
    page.fill("#price-cache_write", "1")
    page.click("#price-form button[type=submit]")
    page.wait_for_selector("#price-message:has-text('invalid price field input')")
    assert "a number from 0 to 10,000" in text(page, "#price-message")  # the API's own words
    assert page.get_attribute("#price-input", "aria-invalid") == "true"
    assert "mystery-model-x" not in site.service.pricing.user.get("", {})

    page.fill("#price-input", "1")
    page.click("#price-form button[type=submit]")
    page.wait_for_selector("#notice:has-text('Price saved for mystery-model-x.')")
    page.wait_for_selector("#prices tbody tr:has-text('mystery-model-x')")
    [(_, saved, _)] = site.service.pricing.user[""]["mystery-model-x"]
    assert (saved.input, saved.output, saved.cache_read, saved.cache_write, saved.reasoning) == (1, 2, 0.1, 1, None)
    mystery = page.locator("#models-used tbody tr", has_text="mystery-model-x")
    assert "unpriced" not in mystery.get_attribute("class") and "yours" in mystery.inner_text()
    assert mystery.locator(".price-now").inner_text().startswith("$1.00 in · $2.00 out")

    for field, value in (("model", "mystery-*"), ("input", "3"), ("output", "4"), ("cache_read", "0"), ("cache_write", "3")):
        page.fill(f"#price-{field}", value)  # a wildcard
    page.click("#price-form button[type=submit]")
    page.wait_for_selector("#prices tbody tr:has-text('mystery-*')")
    delete = page.locator("#prices tbody tr", has_text="mystery-*").locator("button", has_text="Delete")
    delete.click()
    assert delete.inner_text() == "Really delete?"
    delete.click()
    page.wait_for_selector("#notice:has-text('Price removed for mystery-*.')")
    page.wait_for_selector("#prices tbody tr:has-text('mystery-*')", state="detached")
    assert "mystery-*" not in site.service.pricing.user.get("", {})

    # a price of the priority tier beside the standard one; removing it leaves the standard one
    for field, value in (("model", "mystery-model-x"), ("tier", "priority"), ("input", "5"), ("output", "6"),
                         ("cache_read", "0"), ("cache_write", "5")):
        page.fill(f"#price-{field}", value)
    page.click("#price-form button[type=submit]")
    priority = page.locator("#prices tbody tr", has=page.locator("code", has_text=re.compile("^priority$")))
    priority.wait_for()
    assert [dated.price.input for dated in site.service.pricing.user["priority"]["mystery-model-x"]] == [5]
    page.locator("#prices-card").screenshot(path=str(ARTIFACTS / "models-prices-tiers-light-1280.png"))
    delete = priority.locator("button", has_text="Delete")
    delete.click()
    delete.click()
    priority.wait_for(state="detached")
    assert "priority" not in site.service.pricing.user and "mystery-model-x" in site.service.pricing.user[""]

    # a long-context tier: its rates are asked only with a threshold; a missing one is the API's refusal
    row = page.locator("#prices tbody tr", has_text="mystery-model-x")
    row.locator("button", has_text="Edit").click()
    assert page.is_disabled("#price-long-input")
    page.select_option("#price-long-above", "128000")
    assert not page.is_disabled("#price-long-input")
    page.click("#price-form button[type=submit]")
    page.wait_for_selector("#price-message:has-text('invalid price field long_context.input')")
    assert page.get_attribute("#price-long-input", "aria-invalid") == "true"
    for field, value in (("input", "2"), ("output", "4"), ("cache_read", "0.2"), ("cache_write", "2")):
        page.fill(f"#price-long-{field}", value)
    page.click("#price-form button[type=submit]")
    page.wait_for_selector("#prices tbody tr:has-text('> 128,000: 2 / 4')")
    [(_, saved, _)] = site.service.pricing.user[""]["mystery-model-x"]
    assert saved.long_context == (128_000, (2, 4, 0.2, 2, None, None))
    assert page.locator("#defaults-card .long-context", has_text="> 200,000: 6 / 22.5").count() > 0
    page.locator("#prices-card").screenshot(path=str(ARTIFACTS / "models-prices-long-context-light-1280.png"))
    page.locator("#prices tbody tr", has_text="mystery-model-x").locator("button", has_text="Edit").click()
    assert page.input_value("#price-long-above") == "128000" and page.input_value("#price-long-output") == "4"
    page.select_option("#price-long-above", "")  # and without it again
    page.click("#price-form button[type=submit]")
    page.wait_for_selector("#prices tbody tr:has-text('> 128,000')", state="detached")
    assert site.service.pricing.user[""]["mystery-model-x"][0].price.long_context is None

    # a new price from a date to come: the model's history shows both, the past keeps its price
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    page.locator("#prices tbody tr", has_text="mystery-model-x").locator("button", has_text="New price from").click()
    assert page.evaluate("document.activeElement.id") == "price-from"
    page.fill("#price-from", later)
    page.fill("#price-input", "7")
    page.click("#price-form button[type=submit]")
    page.wait_for_selector(f"#prices tbody tr:has-text('{later}')")
    history = page.locator("#prices tbody tr", has_text="mystery-model-x")
    assert history.count() == 2 and "always" in history.nth(0).inner_text() and "↳" in history.nth(1).inner_text()
    assert [dated.price.input for dated in site.service.pricing.user[""]["mystery-model-x"]] == [1, 7]
    # and back to one price for all history
    history.nth(0).locator("button", has_text="Edit").click()
    page.check("#price-replace")
    page.click("#price-form button[type=submit]")
    page.wait_for_selector(f"#prices tbody tr:has-text('{later}')", state="detached")
    assert [dated.effective_from_ms for dated in site.service.pricing.user[""]["mystery-model-x"]] == [0]

    page.click("#nav a[href^='#/overview']")  # a new price re-prices history
    painted(page, "overview")
    assert text(page, "#card-cost .value") == f"${COST_24H + (1_000 * 1 + 100 * 2) / 1e6:.4f}"
    assert "without a price" not in text(page, "#card-cost .sub")
    assert [e for e in errors if "400" not in e] == []  # the refused price answered 400, as it should
    page.context.close()


def test_the_cost_of_each_model_by_kind_of_token(browser, site):
    """The owner's gpt-5.4 prices change two days ago (the event of three days ago keeps the old
    ones); claude-sonnet-4-5 has the default's; the unpriced model has no bar."""
    change = iso_ms(site.now - 2 * DAY_MINUTES * MINUTE)
    site.service.store.upsert_prices([
        ("gpt-5.4", 0, 2.0, 10.0, 0.5, 2.0, None, *Store.NO_LONG_CONTEXT, ""),
        ("gpt-5.4", parse_effective_from(change), 4.0, 20.0, 1.0, 4.0, 30.0, *Store.NO_LONG_CONTEXT, "")])
    site.service.pricing.reload()
    page, errors = site.open(browser, "#/models", width=1440)
    painted(page, "models")
    rows = page.locator("#cost-split tbody tr")
    cells = [[cell.strip() for cell in rows.nth(i).inner_text().split("\t")] for i in range(rows.count())]
    assert cells == [
        # old: 50,000 x 2 in, 5,000 x 10 out; new: 16,500 x 4 in, 4,000 x 1 cache read, 2,000 x 20 out
        ["gpt-5.4", "$0.2600", "$0.1660 63.8%", "$0.0040 1.5%", "$0.00 0%", "$0.0900 34.6%", "$0.00 0%"],
        # 5,000 x 3 in, 15,000 x 0.3 cache read, 3,000 x 15 out; reasoning billed as output
        ["claude-sonnet-4-5-20250929", "$0.0645", "$0.0150 23.3%", "$0.0045 7%", "$0.00 0%", "$0.0450 69.8%",
         "in output"]]
    assert page.get_attribute("#cost-kinds-chart", "role") == "img"
    assert page.get_attribute("#cost-kinds-chart", "aria-label") == (
        "Cost by kind of token: gpt-5.4: Input $0.1660, Cache read $0.0040, Cache write $0.00, Output $0.0900, "
        "Reasoning $0.00; claude-sonnet-4-5-20250929: Input $0.0150, Cache read $0.0045, Cache write $0.00, "
        "Output $0.0450, Reasoning $0.00.")
    assert page.locator("#cost-kinds-chart canvas").count() == 1 and errors == []
    page.context.close()
    for scheme, width, language in (("light", 1440, "en"), ("dark", 1440, "en"), ("light", 390, "en"),
                                    ("dark", 390, "zh-CN")):
        page, errors = site.open(browser, "#/models", width=width, height=900 if width > 400 else 844, scheme=scheme)
        if language != "en":
            page.select_option("#lang", language)
        painted(page, "models")
        page.locator("#cost-kinds").scroll_into_view_if_needed()
        assert page.evaluate("document.documentElement.scrollWidth") <= width and errors == []
        page.locator("#cost-kinds").screenshot(path=str(ARTIFACTS / f"models-cost-kinds-{scheme}-{width}-{language}.png"))
        page.context.close()


def test_the_built_in_prices_say_where_they_come_from(browser, site):
    about = site.service.pricing.defaults.about
    page, errors = site.open(browser, "#/models")
    painted(page, "models")
    assert text(page, "#defaults-card h2") == f"Built-in prices (genai-prices {about['version']}, {about['date']})"
    link = page.locator("#defaults-source a")
    assert (link.inner_text(), link.get_attribute("href")) == (f"genai-prices {about['version']}",
                                                               "https://github.com/pydantic/genai-prices")
    assert "MIT licence" in text(page, "#defaults-source") and "long-context price for all its tokens, in every total" \
        in text(page, "#defaults-source")
    page.click("#defaults-card summary")
    rows = page.locator("#defaults tbody tr")
    assert rows.count() == sum(len(model["prices"]) for model in site.service.pricing.defaults.models)
    sonnet = rows.filter(has=page.locator("code", has_text=re.compile(r"^claude-sonnet-4-5\*$")))
    assert sonnet.inner_text().split("\t")[:7] == ["claude-sonnet-4-5* claude-sonnet-4.5* anthropic", "always",
                                                   "3", "15", "0.3", "3.75", "—"]
    sonnet.locator("button", has_text="Override").click()  # the source's first name
    assert page.input_value("#price-model") == "claude-sonnet-4-5*" and page.input_value("#price-input") == "3"
    page.click("#nav a[href^='#/status']")
    painted(page, "status")
    built_in = page.locator("#about-facts dd").last
    assert text(page, "#about-facts dt:last-of-type") == "Built-in prices"
    assert built_in.inner_text() == f"genai-prices {about['version']} ({about['date']})"
    assert errors == []
    page.context.close()
    for scheme, width in (("light", 1440), ("dark", 390)):
        page, errors = site.open(browser, "#/models", width=width, scheme=scheme)
        painted(page, "models")
        page.click("#defaults-card summary")
        page.locator("#defaults-card").scroll_into_view_if_needed()
        assert page.evaluate("document.documentElement.scrollWidth") <= width and errors == []
        page.screenshot(path=str(ARTIFACTS / f"models-defaults-{scheme}-{width}.png"))
        page.context.close()


def test_without_built_in_prices_the_models_page_says_why(browser, config_factory, fake_cpa, monkeypatch, tmp_path):
    import cpa_usage

    broken = cpa_usage.load_default_prices(str(tmp_path / "default_prices.json"))  # there is none
    monkeypatch.setattr(cpa_usage, "default_prices", lambda: broken)
    service = Service(config_factory(CPA_BASE_URL=fake_cpa().url, APP_HOST="127.0.0.1"))
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url + "#/models")
        painted(page, "models")
        assert text(page, "#defaults-error") == (f"No built-in prices ({broken.error}): every model you have not "
                                                 "priced is unpriced, not free.")
        assert text(page, "#cost-kinds .note") == "No priced cost in this range."  # nothing at all here
        page.click("#nav a[href^='#/status']")
        painted(page, "status")
        assert page.locator("#about-facts dd .bad").last.inner_text() == broken.error
        page.screenshot(path=str(ARTIFACTS / "status-no-default-prices-light-1440.png"), full_page=True)
        assert errors == []
        page.context.close()
    finally:
        server.close()
        service.store.close()


def test_aliases_edit_import_export(browser, site, tmp_path):
    page, errors = site.open(browser, "#/aliases")
    painted(page, "aliases")
    keys = page.locator("#aliases tbody tr td:first-child")
    assert [keys.nth(i).inner_text() for i in range(keys.count())] == [ALPHA, BETA]

    alpha = page.locator("#aliases tbody tr", has_text=ALPHA)
    page.evaluate("() => { document.getElementById('alias-file').dataset.before = 'save'; }")
    alpha.locator("input").fill("Team Alpha")
    alpha.locator("input").press("Enter")
    page.wait_for_selector("#notice:has-text('Alias “Team Alpha” saved.')")
    assert site.service.store.aliases() == {ALPHA: "Team Alpha"}
    # the save paints the page again, its import form too: files go to the new one (a race under load)
    page.wait_for_function("() => document.getElementById('alias-file')?.dataset.before === undefined")

    def import_file(name, content, mode):
        path = tmp_path / name
        path.write_text(content)
        page.set_input_files("#alias-file", str(path))
        page.check(f"input[name=alias-mode][value={mode}]")
        page.click("#alias-import button[type=submit]")

    import_file("merge.json", json.dumps({"version": 1, "aliases": [{"api_key": BETA, "alias": "Team Beta"}]}), "merge")
    page.wait_for_selector("#notice:has-text('Imported: 1 added, 0 updated, 0 unchanged, 0 removed.')")
    assert site.service.store.aliases() == {ALPHA: "Team Alpha", BETA: "Team Beta"}
    page.wait_for_function("() => [...document.querySelectorAll('#aliases input')].some(i => i.value === 'Team Beta')")

    import_file("replace.json", json.dumps({"version": 1, "aliases": [{"api_key": BETA, "alias": "Team Beta"}]}), "replace")
    page.wait_for_selector("#notice:has-text('Imported: 0 added, 0 updated, 1 unchanged, 1 removed.')")
    assert site.service.store.aliases() == {BETA: "Team Beta"}
    # the page is painted again after an import, its form too: the next file goes to the new one
    page.wait_for_function("() => ![...document.querySelectorAll('#aliases input')].some(i => i.value === 'Team Alpha')")

    import_file("wrong.json", json.dumps({"version": 2, "aliases": []}), "merge")
    page.wait_for_selector("#alias-result:has-text('expected an alias export document')")
    import_file("broken.json", "{not json", "merge")
    page.wait_for_selector("#alias-result:has-text('The file is not JSON')")
    assert site.service.store.aliases() == {BETA: "Team Beta"}

    with page.expect_download() as download:
        page.click("#alias-export")
    exported = json.loads(open(download.value.path()).read())
    assert exported["version"] == 1 and exported["aliases"] == [{"api_key": BETA, "alias": "Team Beta"}]

    page.click("#nav a[href^='#/events']")  # the alias names the key everywhere
    painted(page, "events")
    assert "Team Beta" in page.locator("#events tbody tr").nth(2).inner_text()

    page.click("#nav a[href^='#/aliases']")
    painted(page, "aliases")
    delete = page.locator("#aliases tbody tr", has_text=BETA).locator("button", has_text="Delete")
    delete.click()
    delete.click()  # asked once more, then done
    page.wait_for_selector("#notice:has-text('Alias removed.')")
    assert site.service.store.aliases() == {}
    assert [e for e in errors if "400" not in e] == []  # the refused document answered 400
    page.context.close()


def test_a_bad_link_says_which_value_and_offers_a_way_out(browser, site):
    page, errors = site.open(browser, "#/overview?range=3w&model=gpt-5.4", wait_for="error")
    said = text(page, "#load-error")
    assert "This link asks for range = “3w”, which the dashboard cannot show." in said
    assert "Expected: one of all, today, 4h, 8h" in said and " | " not in said
    page.click("#drop-parameter")  # one click back to a working view, the other filters kept
    painted(page, "overview")
    assert "range=" not in page.url and "model=gpt-5.4" in page.url
    assert text(page, "#card-requests .value") == "3"
    page.goto(site.url + "#/overview?range=3w")
    page.wait_for_selector("#load-error")
    page.click("#reset-filters")  # the filter bar's reset works too
    painted(page, "overview")
    assert text(page, "#card-requests .value") == "5"
    assert [e for e in errors if "400" not in e] == []
    page.context.close()


def test_a_failed_answer_shows_the_servers_words_and_a_retry(browser, site):
    page, errors = site.open(browser, "#/analysis", wait_for="true")
    painted(page, "analysis")
    failing = {"left": 1}

    def once(route):
        if failing["left"]:
            failing["left"] -= 1
            route.fulfill(status=503, content_type="application/json",
                          body=json.dumps({"error": "not ready", "detail": {"problems": ["the database refuses writes"]}}))
        else:
            route.continue_()
    page.route("**/api/v1/usage/overview*", once)
    page.click("#nav a[href*='overview']")
    page.wait_for_selector("#load-error")
    said = text(page, "#load-error")
    assert "The server could not answer (503): not ready" in said and "the database refuses writes" in said
    page.click("#retry")
    painted(page, "overview")
    assert text(page, "#card-requests .value") == "5"

    page.route("**/api/v1/usage/analysis*", lambda route: route.abort())
    page.click("#nav a[href*='analysis']")
    page.wait_for_selector("#load-error")
    assert text(page, "#load-error").startswith("cpa-usage did not answer (Failed to fetch).")
    page.unroute("**/api/v1/usage/analysis*")
    page.click("#retry")
    painted(page, "analysis")
    assert [e for e in errors if "503" not in e and "ERR_FAILED" not in e] == []
    page.context.close()


def until(page, predicate, what: str, timeout_ms: int = 10_000) -> None:
    """Wait for ``predicate`` while letting the page run: a route handler is called only
    while a Playwright call is in progress."""
    for _ in range(timeout_ms // 20):
        if predicate():
            return
        page.wait_for_timeout(20)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_page_on_its_way_shows_a_skeleton_not_the_last_page(browser, site):
    page, errors = site.open(browser)
    painted(page, "overview")
    held = []
    page.route("**/api/v1/usage/analysis*", lambda route: held.append(route))
    page.click("#nav a[href*='analysis']")
    until(page, lambda: held, "the analysis request")
    assert page.locator("#skeleton[aria-busy=true]").count() == 1
    assert page.locator("#card-requests").count() == 0  # the overview's cards are gone at once
    held[0].continue_()
    painted(page, "analysis")
    assert page.locator("#skeleton").count() == 0

    page.route("**/api/v1/usage/analysis*", lambda route: held.append(route))  # the same page, new filters
    page.click("#result button[data-value=failed]")
    until(page, lambda: len(held) == 2, "the filtered request")
    assert page.locator("#view.stale[aria-busy=true] #analysis").count() == 1  # kept, dimmed, until it is replaced
    held[1].continue_()
    page.wait_for_function("() => !document.getElementById('view').classList.contains('stale')")
    assert errors == []
    page.context.close()


def test_every_page_names_the_time_zone_of_its_times(browser, site):
    """The browser is in New York, the times are Shanghai's: the header says so on every page."""
    page, errors = site.open(browser)
    for name, query in PAGES:
        page.goto(f"{site.url}#/{name}")
        painted(page, name)
        assert page.locator("#zone").is_visible() and text(page, "#zone") == "Times in Asia/Shanghai, UTC+8", name
    assert errors == []
    page.context.close()
    utc = Service(dataclasses.replace(site.service.config, tz="UTC"))
    server, url = serve(utc)
    try:
        page, errors = open_page(browser, url, timezone_id=BROWSER_ZONE)
        painted(page, "overview")
        assert text(page, "#zone") == "Times in UTC"
        page.context.close()
    finally:
        server.close()
        utc.store.close()


def utc_offset(zone: str) -> str:
    """A zone's offset now as the header names it: UTC+8, UTC−5."""
    hours = dt.datetime.now(zoneinfo.ZoneInfo(zone)).utcoffset().total_seconds() / 3600
    return f"UTC{'+' if hours >= 0 else '−'}{abs(hours):g}"


def test_the_viewer_may_see_times_in_their_own_zone(browser, site):
    """The header offers the server's zone and the browser's (New York); the browser's shows
    every time in New York, asks the answers for New York's hours and days (tz), and is kept
    in this browser; budgets still count Shanghai's days."""
    new_york = f"America/New_York, {utc_offset(BROWSER_ZONE)}"
    page, errors = site.open(browser, "#/events")
    asked = []
    page.on("request", lambda request: "/api/v1/usage/" in request.url and asked.append(request.url))
    painted(page, "events")
    first_time = "#events tbody tr:first-child td:first-child"
    newest = site.events[0].ts_ms
    assert text(page, "#zone") == "Times in Asia/Shanghai, UTC+8" and text(page, first_time) == local(newest)
    assert text(page, "#zone-switch") == "Use my zone"
    assert page.get_attribute("#zone-switch", "title") == f"Show every time in {new_york}"

    page.click("#zone-switch")
    wait_text(page, "#zone", f"Times in {new_york}")
    in_new_york = dt.datetime.fromtimestamp(newest / 1000, zoneinfo.ZoneInfo(BROWSER_ZONE)).strftime("%m/%d/%Y, %H:%M:%S")
    wait_text(page, first_time, in_new_york)
    assert in_new_york != local(newest)
    page.screenshot(path=ARTIFACTS / "zone-viewer-1280.png")
    assert asked and all("tz=America%2FNew_York" in url for url in asked), asked

    asked.clear()
    page.reload()
    painted(page, "events")
    assert text(page, "#zone-switch") == "Use the server's" and text(page, first_time) == in_new_york
    assert any("/usage/events?" in url for url in asked) and all("tz=America%2FNew_York" in url for url in asked), asked
    page.goto(f"{site.url}#/budgets")
    painted(page, "budgets")
    assert "over the days and months of Asia/Shanghai" in text(page, "#view")
    for name in ("overview", "health", "analysis", "credentials", "models", "import"):  # every answer takes the zone
        page.goto(f"{site.url}#/{name}")
        painted(page, name)
    assert all("tz=America%2FNew_York" in url for url in asked), [url for url in asked if "tz=" not in url]

    page.click("#zone-switch")
    wait_text(page, "#zone", "Times in Asia/Shanghai, UTC+8")
    page.goto(f"{site.url}#/events")
    painted(page, "events")
    assert text(page, first_time) == local(newest)
    assert errors == []
    page.context.close()


LOCAL_PARTS_CHECK = """async (zones) => {
    const fmt = await import("./static/js/format.js");
    const wrong = [];
    for (const zone of zones) {
        fmt.setZone(zone);
        const intl = new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
            hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
        for (let ms = Date.UTC(2026, 2, 1); ms < Date.UTC(2026, 3, 10); ms += 7 * 60_000 + 13_000) {
            const want = {};
            for (const { type, value } of intl.formatToParts(ms)) if (type !== "literal") want[type] = Number(value);
            const got = fmt.localParts(ms);
            if (["year", "month", "day", "hour", "minute", "second"].some((field) => got[field] !== want[field])) {
                wrong.push([zone, ms, got, want]);
            }
        }
    }
    return wrong.slice(0, 5);
}"""


def test_local_times_are_right_across_offset_changes(browser, site):
    """The dashboard's wall-clock fields of an instant (its grids and axes), taken from the
    offset of each six hours, equal Intl's every 7 min 13 s through March and early April
    2026: New York's and London's DST starts, Lord Howe's half-hour change, Kathmandu's
    +05:45, Shanghai's none."""
    page, errors = site.open(browser)
    painted(page, "overview")
    zones = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "Asia/Shanghai"]
    assert page.evaluate(LOCAL_PARTS_CHECK, zones) == []
    assert errors == []
    page.context.close()


def test_a_phone_reaches_the_data_soon_and_sees_its_tab(browser, site):
    page, errors = site.open(browser, "#/status", width=390, height=844)
    painted(page, "status")
    assert len(set(page.evaluate("[...document.querySelectorAll('#nav a')].map((a) => a.offsetTop)"))) == 1  # one row
    nav_box, here = page.locator("#nav").bounding_box(), page.locator("#nav a[aria-current=page]").bounding_box()
    assert nav_box["x"] <= here["x"] and here["x"] + here["width"] <= nav_box["x"] + nav_box["width"]  # scrolled to it
    page.goto(site.url + "#/overview")
    painted(page, "overview")
    assert page.locator("#card-requests").bounding_box()["y"] < 280  # the header took 370 px (nav in 3 rows)
    assert errors == []
    page.context.close()


def test_cards_and_charts_compare_with_the_previous_period(browser, site):
    earlier = event(site.now, 90, 30 * 60, "gpt-5.4", ALPHA, ALICE, False, 2_000, 0, 500, 8_000)  # 30 hours ago
    site.service.store.write_batch([earlier], [], received=1)
    page, errors = site.open(browser)
    painted(page, "overview")
    page.wait_for_function("() => document.querySelector('#card-requests .delta').textContent !== ''")
    assert text(page, "#card-requests .delta") == "▲ 400% vs the previous 24 hours"  # 5 against 1
    assert page.get_attribute("#card-requests .delta", "title") == "the previous 24 hours: 1"
    assert text(page, "#card-latency .delta") == f"▼ {100 - 100 * 3 / 8:.1f}% vs the previous 24 hours"  # 3 s against 8
    assert text(page, "#card-cost .delta").startswith("▲ ")

    page.click("#compare")
    assert page.get_attribute("#compare", "aria-pressed") == "true"
    legend = page.locator("#hourly-chart .u-legend").inner_text()
    assert "Previous period" in legend
    hours = [hour["start_ms"] for hour in overview_of(page, "range=24h")["hourly"]]
    before = next(i for i, start in enumerate(hours) if start <= earlier.ts_ms + 86_400_000 < start + 3_600_000)
    legend = hover_in_bar(page, "#hourly-chart", hours, 3_600_000, before, 0.5)
    assert "Previous period\t1" in legend or "Previous period\n1" in legend or "Previous period1" in legend, legend
    page.click("#chart-metric button[data-value=tokens]")  # the comparison stays on with another metric
    assert "Previous period" in page.locator("#hourly-chart .u-legend").inner_text()
    page.click("#compare")
    assert "Previous period" not in page.locator("#hourly-chart .u-legend").inner_text()

    page.goto(site.url + "#/overview?range=all")
    painted(page, "overview")
    assert text(page, "#card-requests .delta") == "" and page.locator("#compare").is_disabled()  # all time: nothing before
    assert errors == []
    page.context.close()


def test_the_last_hour_is_live_on_the_overview(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=BROWSER_ZONE)
    page = context.new_page()
    page.clock.install()  # the page's timers run when the test says (the server's clock is real)
    page.goto(site.url + "#/overview?range=7d")  # whatever the range, the live card is the last hour
    painted(page, "overview")
    page.wait_for_function("() => document.getElementById('live-summary').textContent.includes('request')")
    assert text(page, "#live-summary") == "1 request, 0 failed, 12.8K tokens"  # 30 minutes ago: 12,000 + 800
    assert page.locator("#live-chart canvas").count() == 1
    assert page.get_attribute("#live-chart", "aria-label").startswith("Last 60 minutes, live, 60 bars")
    now = now_ms()
    fresh = event(now, 91, 0, "gpt-5.4", BETA, BOB, True, 0, 0, 0, 900)._replace(ts_ms=now - 5_000)
    site.service.store.write_batch([fresh], [], received=1)
    page.clock.run_for(10_000)  # the card asks again every 10 s
    page.wait_for_function("() => document.getElementById('live-summary').textContent.startsWith('2 requests')")
    assert text(page, "#live-summary") == "2 requests, 1 failed, 12.8K tokens"
    page.goto(site.url + "#/health")  # once the page is gone, it asks no more
    painted(page, "health")
    asked = []
    page.on("request", lambda request: "usage/realtime" in request.url and asked.append(request.url))
    page.clock.run_for(30_000)
    assert asked == []
    context.close()


def test_a_large_cost_fits_its_card_in_chinese(browser, site):
    big = site.events[0]._replace(event_key="e" * 32, request_id="req-big", input_tokens=3_111_888_000,
                                  cache_read_tokens=0, output_tokens=0, reasoning_tokens=0, total_tokens=3_111_888_000)
    site.service.store.write_batch([big], [], received=1)  # $7,779.72 of gpt-5.4 input
    for width in (1440, 390):
        page, errors = site.open(browser, "#/overview", width=width)
        page.select_option("#lang", "zh-CN")
        painted(page, "overview")
        value = page.locator("#card-cost .value")
        assert value.inner_text().startswith("US$7,77"), value.inner_text()
        assert value.evaluate("el => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().right <= "
                              "el.closest('.card').getBoundingClientRect().right"), width
        page.screenshot(path=str(ARTIFACTS / f"overview-big-cost-zh-{width}.png"))
        assert errors == []
        page.context.close()


def test_numbers_say_what_they_are(browser, site):
    page, errors = site.open(browser, "#/analysis?range=24h&group=api")
    painted(page, "analysis")
    alpha = page.locator("#analysis tbody tr", has_text="sk-te…7f3c")  # gpt-5.4 priced, mystery-model-x not
    cost = alpha.locator(".unpriced-part")
    assert cost.inner_text().strip() == "+ 1 unpriced" and "1 request without a price" in cost.get_attribute("title")
    assert "*" not in page.locator("#analysis").inner_text()
    amounts = page.evaluate("""async () => {
        const fmt = await import('./static/js/format.js');
        return [0, 0.05, 0.0275, 0.753, 1, 1234.5].map(fmt.usd);
    }""")
    assert amounts == ["$0.00", "$0.0500", "$0.0275", "$0.7530", "$1.00", "$1,234.50"]  # one number of decimals each
    durations = page.evaluate("""async () => {
        const fmt = await import('./static/js/format.js');
        return [850, 1100, 59_940, 66_000, 600_000, 3_600_000, 3_900_000].map(fmt.duration);
    }""")
    assert durations == ["850ms", "1.1s", "59.9s", "1m 6s", "10m", "1h", "1h 5m"]
    assert errors == []
    page.context.close()


def test_chinese(browser, site):
    page, errors = site.open(browser)
    painted(page, "overview")
    page.select_option("#lang", "zh-CN")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert text(page, "#nav a[aria-current=page]") == "概览"
    assert text(page, "#card-requests h2") == "请求"
    assert text(page, "#card-tokens .value") == "4.7万"  # 46,600 the Chinese way
    assert text(page, "#zone") == "时间按 Asia/Shanghai, UTC+8"
    view = text(page, "#view")
    assert "Requests" not in view and "By hour" not in view and "success" not in view
    page.reload()
    painted(page, "overview")  # remembered
    assert text(page, "#card-requests h2") == "请求" and page.input_value("#lang") == "zh-CN"
    same_keys = page.evaluate("""async () => {
        const { DICTIONARIES } = await import(new URL("static/js/i18n.js", document.baseURI).href);
        const keys = (name) => JSON.stringify(Object.keys(DICTIONARIES[name]).sort());
        return keys("en") === keys("zh-CN") && keys("en") === keys("zh-TW");
    }""")
    assert same_keys
    assert errors == []
    page.context.close()


def test_traditional_chinese(browser, site):
    page, errors = site.open(browser, locale="zh-TW")  # a browser in Taiwan starts in it
    painted(page, "overview")
    assert page.input_value("#lang") == "zh-TW" and page.evaluate("document.documentElement.lang") == "zh-TW"
    assert text(page, "#nav a[aria-current=page]") == "概覽"
    assert text(page, "#card-requests h2") == "請求"
    assert text(page, "#card-tokens .value") == "4.7萬"  # 46,600 the Traditional Chinese way
    assert text(page, "#zone") == "時間按 Asia/Shanghai, UTC+8"
    view = text(page, "#view")
    assert "Requests" not in view and "请求" not in view  # neither English nor Simplified
    page.select_option("#lang", "zh-CN")
    assert text(page, "#card-requests h2") == "请求"
    assert errors == []
    page.context.close()


def test_the_traditional_chinese_is_made_from_the_simplified_now():
    """static/js/zh-tw.js is what tools/zh_tw.py makes of i18n.js: a string changed in zh
    without running the tool fails here."""
    sys.path.insert(0, str(ROOT / "tools"))
    import zh_tw

    assert (ROOT / "static" / "js" / "zh-tw.js").read_text(encoding="utf-8") == \
        zh_tw.traditional((ROOT / "static" / "js" / "i18n.js").read_text(encoding="utf-8"))


def test_keyboard(browser, site):
    page, errors = site.open(browser)
    painted(page, "overview")
    for _ in range(25):  # Tab reaches the navigation
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href') || ''").startswith("#/analysis"):
            break
    page.keyboard.press("Enter")
    painted(page, "analysis")

    page.focus("#filter-model")
    page.keyboard.press("Enter")
    page.wait_for_selector(".ms-panel:not([hidden]) .ms-option")
    assert page.evaluate("document.activeElement.classList.contains('ms-search')")
    page.keyboard.type("claude")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    painted(page, "analysis")
    assert "model=claude-sonnet-4-5-20250929" in page.url
    assert page.locator("#analysis tbody tr").count() == 1
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "filter-model"
    assert page.locator(".ms-panel:not([hidden])").count() == 0
    assert errors == []
    page.context.close()


def test_auto_refresh_and_live_connection(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=BROWSER_ZONE)
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.clock.install()
    page.goto(site.url + "#/overview?refresh=10")
    painted(page, "overview")
    assert page.input_value("#refresh") == "10"
    assert text(page, "#card-requests .value") == "5" and text(page, "#conn") == "CPA: not connected"

    late = event(now_ms(), 999, 1, "gpt-5.4", ALPHA, ALICE, False, 10, 0, 1, 100)
    site.service.store.write_batch([late], [], received=1)
    site.service.status.set(mode="subscribe", connected=True)
    page.clock.fast_forward(10_000)  # no waiting: the page's clock jumps
    wait_text(page, "#card-requests .value", "6")
    wait_text(page, "#conn", "CPA: subscribed (push)")
    assert errors == []
    context.close()


PAGES = [("overview", ""), ("health", "?day={today}"), ("analysis", "?range=7d&group=both"), ("events", ""),
         ("credentials", "?range=7d"), ("models", ""), ("aliases", ""), ("budgets", ""), ("import", ""), ("status", "")]


@pytest.mark.parametrize("scheme, width", [("light", 1280), ("dark", 1280), ("light", 390), ("dark", 390)])
def test_every_page_screenshot(browser, site, scheme, width):
    """Every page loads without console errors and without sideways scrolling; the
    screenshots are for a human to look at."""
    today = dt.datetime.fromtimestamp(now_ms() / 1000, ZONE).date().isoformat()
    page, errors = site.open(browser, width=width, scheme=scheme)
    for name, query in PAGES:
        page.goto(f"{site.url}#/{name}{query.format(today=today)}")
        painted(page, name)
        page.evaluate("() => window.scrollTo(0, 0)")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        page.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}-{width}.png"), full_page=True)
        if name == "overview":  # laid out once near the screen (content-visibility), where it clips what overflows
            page.locator("#health-grid").scroll_into_view_if_needed()
            assert page.evaluate("document.querySelector('#health-grid .cellgrid').scrollWidth <= "
                                 "document.querySelector('#health-grid').clientWidth - 24")
            assert page.evaluate("document.querySelector('#health-grid .cellgrid').getBoundingClientRect().height") > 20
        if name == "events":
            page.locator("#events tbody tr").nth(2).click()
            page.screenshot(path=str(ARTIFACTS / f"event-detail-{scheme}-{width}.png"))
            page.keyboard.press("Escape")
        if width < 400:  # readable at 375 px as well, and a table of cards does not scroll sideways
            assert page.evaluate("[...document.querySelectorAll('table.cards')].every((table) => "
                                 "table.parentElement.scrollWidth <= table.parentElement.clientWidth)"), name
            page.set_viewport_size({"width": 375, "height": 800})
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, name
            page.set_viewport_size({"width": width, "height": 900})
    assert errors == []
    page.context.close()


def test_an_event_opens_cpas_log_of_its_request(browser, config_factory, fake_cpa, tmp_path):
    """From an event's dialog to CPA's log: tabs, every attempt, an inline image from the
    asset route, and a prompt's <script> and <img onerror> shown as the text they are."""
    logs = tmp_path / "cpa-logs"
    logs.mkdir()
    for name in ("v1-chat-completions-2026-12-07T091500-a1b2c3d4.log", "v1-messages-2026-12-07T092010-b1c2d3e4.log",
                 "v1-messages-2026-12-07T092130-f0e1d2c3.log"):
        (logs / name).write_bytes((FIXTURES / "request_logs" / name).read_bytes())
    cpa = fake_cpa()
    service = Service(config_factory(CPA_BASE_URL=cpa.url, APP_HOST="127.0.0.1", CPA_LOG_DIR=str(logs)))
    now = now_ms()
    events = [event(now, i, 10 + i, "gpt-5.4", ALPHA, ALICE, i == 1, 100, 0, 10, 500)._replace(request_id=request_id)
              for i, request_id in enumerate(("a1b2c3d4", "b1c2d3e4", "f0e1d2c3"))]
    service.store.write_batch(events, [], received=len(events))
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url + "#/events", timezone_id=BROWSER_ZONE)
        painted(page, "events")

        def open_log(request_id):
            page.locator("#events tbody tr", has=page.locator(f"text={local(next(e.ts_ms for e in events if e.request_id == request_id), '%m/%d/%Y, %H:%M:%S')}")).click()
            page.click("#open-log")
            page.wait_for_selector("#request-log")

        open_log("a1b2c3d4")
        conversation = text(page, "#log-panel")  # the conversation first, the prompt's markup as its text
        assert 'Render this: <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">' in conversation
        assert page.locator("#log-panel img").count() == 0
        page.click("#log-tab-info")
        assert "v1-chat-completions-2026-12-07T091500-a1b2c3d4.log" in text(page, "#log-panel")
        page.click("#log-tab-request")
        body = text(page, "#log-panel .log-body")
        assert "<script>window.__pwned=1</script>" in body  # the prompt, as text
        assert page.evaluate("window.__pwned") is None and page.locator("#log-panel script").count() == 0
        assert "0f3a9b8c7d6e5f4a3b2c1d0e9f8a7b6c" not in text(page, "#request-log")  # masked again
        page.click("#log-tab-response")
        assert "chatcmpl-9xYz" in text(page, "#log-panel")
        assert page.get_attribute("#log-raw", "href").endswith("usage/events/a1b2c3d4/log/raw")
        page.keyboard.press("Escape")

        open_log("b1c2d3e4")
        page.click("#log-tab-attempts")
        assert text(page, "#log-tab-attempts") == "Attempts (2)"
        assert page.locator("#log-panel .log-attempt summary .pill").all_inner_texts() == ["429", "529"]
        assert page.locator("#log-panel .log-attempt summary .pill.bad").count() == 2
        page.keyboard.press("Escape")

        page.fill("#request-id", "b1c2d3e4")  # found by its id, from a client's error message
        page.press("#request-id", "Enter")
        page.wait_for_selector("#request-log")
        assert text(page, "#dialog-title") == "Request b1c2d3e4" and text(page, "#log-tab-attempts") == "Attempts (2)"
        page.wait_for_selector("#event-detail dl.fields")
        assert "b1c2d3e4" in text(page, "#event-detail dl.fields")
        page.keyboard.press("Escape")
        page.fill("#request-id", "no such id!")
        page.press("#request-id", "Enter")
        page.wait_for_selector("#log-error")
        assert "request_id must be 1-128 letters" in text(page, "#log-error")
        page.keyboard.press("Escape")
        page.fill("#request-id", "zz0000000")  # no such log: said with CPA's condition for one
        page.press("#request-id", "Enter")
        page.wait_for_selector("#log-error")
        assert "only while its request logging is on" in text(page, "#log-error")
        page.keyboard.press("Escape")

        open_log("f0e1d2c3")
        page.click("#log-tab-request")
        image = page.locator("#log-panel img.log-asset").first
        image.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert "/log/asset?offset=" in image.get_attribute("src")
        page.screenshot(path=str(ARTIFACTS / "request-log-light-1280.png"))
        assert [e for e in errors if "400" not in e and "404" not in e] == []  # the bad id 400, the unknown 404
        page.context.close()
    finally:
        server.close()
        service.store.close()


CONVERSATIONS = {  # the sample logs of each request shape: request id, what the answer says, its tool call
    "v1-messages-2026-12-07T091612-5e6f7a8b.log": ("5e6f7a8b", "Anthropic Messages", "It is 18°C and cloudy in Paris.",
                                                   "The tool said 18°C; answer briefly.", ("get_weather", '"city": "Lyon"')),
    "v1-chat-completions-2026-12-07T091730-9c0d1e2f.log": ("9c0d1e2f", "OpenAI Chat Completions", "Hi! Calling the adder.",
                                                           None, ("add", '"b": 3')),
    "v1-responses-2026-12-07T091845-3a4b5c6d.log": ("3a4b5c6d", "OpenAI Responses", "Running ls now.", "Need to run ls.",
                                                    ("shell", '"ls"')),
    "v1beta-models-gemini-2.5-pro-streamGenerateContent-2026-12-07T091902-7e8f9a0b.log": (
        "7e8f9a0b", "Gemini", "Paris", "User wants the capital.", ("lookup", '"q": "Paris"')),
}


def test_a_log_shows_the_conversation_of_each_request_shape(browser, config_factory, fake_cpa, tmp_path):
    """The request's turns and the answer put back together from its SSE deltas (text,
    thinking, tool-call arguments), for the four shapes CPA serves; search steps through
    the turns that match."""
    logs = tmp_path / "cpa-logs"
    logs.mkdir()
    for name in CONVERSATIONS:
        (logs / name).write_bytes((FIXTURES / "request_logs" / name).read_bytes())
    cpa = fake_cpa()
    service = Service(config_factory(CPA_BASE_URL=cpa.url, APP_HOST="127.0.0.1", CPA_LOG_DIR=str(logs)))
    now = now_ms()
    events = [event(now, i, 10 + i, "gpt-5.4", ALPHA, ALICE, False, 100, 0, 10, 500)._replace(request_id=spec[0])
              for i, spec in enumerate(CONVERSATIONS.values())]
    service.store.write_batch(events, [], received=len(events))
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url + "#/events", timezone_id=BROWSER_ZONE)
        painted(page, "events")
        for index, (request_id, shape, said, thought, (tool, argument)) in enumerate(CONVERSATIONS.values()):
            row = page.locator("#events tbody tr").nth(index)  # newest first: 10, 11, 12 and 13 minutes ago
            row.click()
            page.click("#open-log")
            page.wait_for_selector("#request-log")
            assert page.get_attribute("#log-tab-conversation", "aria-selected") == "true", request_id  # first
            assert shape in text(page, "#log-panel")
            answer = page.locator("#log-panel .bubble.answer")
            assert said in answer.locator(".bubble-text").all_inner_texts(), request_id
            if thought:
                assert answer.locator(".bubble-thinking pre").text_content() == thought  # folded
            call = answer.locator(".bubble-tool_call")
            assert call.locator("summary").inner_text() == f"Tool call: {tool}"
            call.locator("summary").click()
            assert argument in call.locator("pre").inner_text(), request_id
            page.keyboard.press("Escape")

        page.locator("#events tbody tr").first.click()  # Anthropic's: three turns and the answer
        page.click("#open-log")
        page.wait_for_selector("#request-log")
        assert page.locator("#log-panel .bubble").count() == 4
        page.fill("#log-search", "paris")
        assert text(page, "#log-search-count") == "1 of 3"  # the question, the first tool call, the answer
        page.click("#log-next")
        page.click("#log-next")
        assert text(page, "#log-search-count") == "3 of 3"
        assert page.locator("#log-panel .bubble.current.answer").count() == 1
        page.screenshot(path=str(ARTIFACTS / "request-log-conversation-light-1280.png"))
        assert errors == []
        page.context.close()
    finally:
        server.close()
        service.store.close()


def test_a_large_log_shows_its_progress_while_it_loads(browser, config_factory, fake_cpa, tmp_path):
    """A 50 MB log (a long answer, kept whole: REQUEST_LOG_BODY_BYTES at 64 MiB) arrives in
    many pieces: the progress line counts up to 100% before the log is shown."""
    logs = tmp_path / "cpa-logs"
    logs.mkdir()
    answer = ("All work and no play. " * 2_400_000)[:50 * 2**20]
    (logs / "v1-chat-completions-2026-12-07T101500-big00001.log").write_text(
        "=== REQUEST INFO ===\nURL: /v1/chat/completions\nMethod: POST\nTimestamp: 2026-12-07T10:15:00Z\n\n"
        '=== REQUEST BODY ===\n{"model": "gpt-5.4", "messages": [{"role": "user", "content": "Write a lot."}]}\n\n'
        f"=== RESPONSE ===\nStatus: 200\nContent-Type: text/plain\n\n{answer}\n")
    service = Service(config_factory(CPA_BASE_URL=fake_cpa().url, APP_HOST="127.0.0.1", CPA_LOG_DIR=str(logs),
                                     REQUEST_LOG_BODY_BYTES=str(64 * 2**20)))
    big = event(now_ms(), 1, 10, "gpt-5.4", ALPHA, ALICE, False, 100, 0, 10, 500)._replace(request_id="big00001")
    service.store.write_batch([big], [], received=1)
    server, url = serve(service)
    try:
        page, errors = open_page(browser, url + "#/events", timezone_id=BROWSER_ZONE)
        painted(page, "events")
        page.locator("#events tbody tr").first.click()
        page.evaluate("""() => { window.progressSeen = [];
            new MutationObserver(() => { const line = document.getElementById('log-progress');
                if (line) window.progressSeen.push(line.textContent); })
              .observe(document.getElementById('dialog'), { subtree: true, childList: true, characterData: true }); }""")
        page.click("#open-log")
        page.wait_for_selector("#request-log", timeout=60_000)
        seen = page.evaluate("window.progressSeen")
        percents = [float(s.rsplit(" ", 1)[1].rstrip("%").replace(",", "")) for s in seen if s.endswith("%")]
        assert len(set(percents)) >= 3 and percents == sorted(percents) and percents[-1] == 100, seen[:5]
        assert page.locator("#log-raw").inner_text().startswith("Download the file (52.4M bytes)")
        assert errors == []
        page.context.close()
    finally:
        server.close()
        service.store.close()
