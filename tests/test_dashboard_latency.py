"""The Health page's latency and TTFT percentiles in a real browser (Debian's chromium),
against the events of test_dashboard_pages whose latencies are known: the numbers shown
are worked out here from the histogram's bins; charts say what they show; nothing reads
NaN or undefined, nothing overflows; screenshots light and dark, desktop and phone,
English and Chinese, in tests/artifacts/."""

import re

import pytest

from conftest import ARTIFACTS, painted
from test_dashboard_pages import site, text  # noqa: F401 - site is a fixture

# The last 24 hours of test_dashboard_pages.ROWS: latencies 1, 2, 3, 4 and 5 s, each TTFT a
# quarter of it. Bins [lo, hi) of ceil(2^(i/8)); ranks p/100 * 5; interpolated in lo .. hi - 1.
LATENCY_SUMMARY = "p50 3s · p95 5.2s · p99 5.3s, of 5 requests."  # 3000 in [2897, 3159): 2897 + 261 * 0.5;
# 5000 in [4871, 5312): 4871 + 440 * 0.75 = 5201, + 440 * 0.95 = 5289
TTFT_SUMMARY = "p50 757ms · p95 1.3s · p99 1.3s, of 5 requests."  # 750 in [725, 790): 725 + 64 * 0.5 = 757;
# 1250 in [1218, 1328): 1218 + 109 * 0.75 = 1299.75, + 109 * 0.95 = 1321.55
# claude-sonnet's one event: 4000 in [3757, 4096): 3757 + 338 * (0.5, 0.95, 0.99) = 3926, 4078, 4092;
# its TTFT 1000 in [940, 1024): 940 + 83 * (0.5, 0.95, 0.99) = 981.5 (982, to even), 1019, 1022
CLAUDE_ROW = ["claude-sonnet-4-5-20250929", "1", "3.9s", "4.1s", "4.1s", "1", "982ms", "1s", "1s"]


def cells(page, table, row):
    return page.locator(f"#{table} tbody tr").nth(row).locator("td").all_inner_texts()


def test_latency_percentiles_over_time_and_per_model_and_credential(browser, site):
    page, errors = site.open(browser, "#/health", width=1440)
    painted(page, "health")
    assert text(page, "#latency .summary") == f"{LATENCY_SUMMARY} Read from histograms: within 9% of the exact values."
    assert text(page, "#ttft .summary").startswith(TTFT_SUMMARY)
    models = page.locator("#latency-models tbody tr td:first-child").all_inner_texts()
    assert models == ["gpt-5.4", "claude-sonnet-4-5-20250929", "mystery-model-x"]  # most measured first, then by name
    assert cells(page, "latency-models", 1) == CLAUDE_ROW
    assert cells(page, "latency-models", 0)[1] == "3"  # gpt-5.4: three events, one of them failed
    credentials = [(row[0], row[1]) for row in (cells(page, "latency-credentials", i) for i in range(3))]
    assert credentials == [("alice@example.com", "3"), ("bob@example.org", "1"), ("carol@example.net", "1")]
    for chart in ("#latency-chart", "#ttft-chart"):
        assert page.locator(f"{chart} canvas").count() == 1
        label = page.get_attribute(chart, "aria-label")
        assert re.search(r", 2[45] points from .+: p50 .+ to .+, p95 .+ to .+, p99 .+ to .+\.$", label), label
    # the slowest hour holds the 5 s event alone (the next is 100 minutes from it): 4871 + 440 * (0.5, 0.95, 0.99)
    assert re.search(r"p50 [^,]+ to 5.1s, p95 [^,]+ to 5.3s, p99 [^,]+ to 5.3s\.$",
                     page.get_attribute("#latency-chart", "aria-label"))
    body = page.inner_text("main")
    assert "NaN" not in body and "undefined" not in body
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    assert errors == []
    page.context.close()


def test_a_range_without_latency_says_so(browser, site):
    page, errors = site.open(browser, "#/health?range=custom&start=2020-01-01T00:00:00Z&end=2020-01-02T00:00:00Z")
    painted(page, "health")
    assert text(page, "#latency .note") == "No latency recorded in this range."
    assert page.locator("#latency-chart").count() == 0 and page.locator("#latency-models").count() == 0
    assert errors == []
    page.context.close()


@pytest.mark.parametrize("scheme, width, height, language", [
    ("light", 1440, 900, "en"), ("dark", 1440, 900, "en"), ("light", 390, 844, "en"), ("dark", 390, 844, "en"),
    ("light", 1440, 900, "zh-CN"), ("dark", 390, 844, "zh-CN")])
def test_latency_screenshots(browser, site, scheme, width, height, language):
    page, errors = site.open(browser, "#/health", width=width, height=height, scheme=scheme)
    painted(page, "health")
    if language != "en":
        page.select_option("#lang", language)
        page.wait_for_function("language => document.documentElement.lang === language", arg=language)
        painted(page, "health")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if width < 400:  # the tables are cards on a phone: none scrolls sideways
        assert page.evaluate("[...document.querySelectorAll('table.cards')].every((table) => "
                             "table.parentElement.scrollWidth <= table.parentElement.clientWidth)")
    body = page.inner_text("main")
    assert "NaN" not in body and "undefined" not in body
    if language == "zh-CN":
        assert "延迟百分位" in text(page, "#latency h2")
    page.locator("#latency").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"latency-{language}-{scheme}-{width}.png"), full_page=True)
    assert errors == []
    page.context.close()
