"""Subscriptions in the dashboard (issue 22), in a real browser against the real service
with its clock at test_plans.NOW: the Credentials page's plan column, the "API-equivalent"
label of an OAuth login's cost, each month's comparison in words with the figures of
test_plans (computed by hand there), the plan editor (a refusal on its field, then a
save); the Overview's plans of this month; the Budgets page's billing of client keys (a
markup and a rate per 1M tokens, month by month); English and Chinese, light and dark,
desktop and phone screenshots."""

import pytest

from conftest import ARTIFACTS, open_page, painted, serve
from cpa_usage import Service, Store, parse_rfc3339_ms
from test_analytics import event
from test_dashboard_pages import text
from test_plans import ALPHA, APIKEY, BETA, EVENTS, NOW, OAUTH, PLANS, PRICE, RANGE


@pytest.fixture
def site(config_factory):
    service = Service(config_factory(APP_HOST="127.0.0.1", TZ="Asia/Shanghai"))
    service.analytics.clock = lambda: parse_rfc3339_ms(NOW)
    events = [event(ts, model="plan-model", auth_index=index, source=f"{index}@example.com", api_key=key,
                    input_tokens=inp, output_tokens=out) for ts, index, key, inp, out in EVENTS]
    service.store.write_batch(events, [], received=len(events))
    service.store.put_metadata("auth-files", [{"auth_index": OAUTH, "label": "alice@example.com", "name": "alice.json",
                                               "account_type": "oauth", "provider": "codex", "status": "active"}])
    service.store.upsert_prices([(PRICE["model"], 0, PRICE["input"], PRICE["output"], 0.2, 2.0, None, *Store.NO_LONG_CONTEXT, "")])
    service.pricing.reload()
    for plan in PLANS:
        service.store.set_plan(plan["auth_index"], {"currency": "USD", "usd_rate": None,
                                                    **{k: v for k, v in plan.items() if k != "auth_index"}})
    server, url = serve(service)
    yield service, url
    server.close()
    service.store.close()


def sentences(page, scope):
    return page.locator(f"{scope} .plan-months li").all_inner_texts()


def test_credentials_compare_each_month_of_a_plan_and_edit_it(browser, site):
    service, url = site
    page, errors = open_page(browser, url + "#/credentials?" + RANGE, timezone_id="America/New_York")
    painted(page, "credentials")
    oauth = page.locator(f"#plans li.budget[data-auth='{OAUTH}']")
    assert oauth.locator("strong").inner_text() == "alice@example.com"
    assert sentences(page, f"#plans li.budget[data-auth='{OAUTH}']") == [
        "this $200 plan (Max) did $1.50 of API work in December 2026 so far: 0.008×",
        "this $200 plan (Max) did $3.00 of API work in November 2026: 0.015×",
        "this $20 plan (Pro) did $4.00 of API work in October 2026: 0.2×"]
    assert sentences(page, f"#plans li.budget[data-auth='{APIKEY}']") == [
        "this €100 ($110.00) plan (Team) did $0.00 of API work in December 2026 so far: 0×",
        "this €100 ($110.00) plan (Team) did $0.3000 of API work in November 2026: 0.003×"]
    rows = page.locator("#credentials tbody tr")
    alice = rows.filter(has_text="alice@example.com")
    assert "API-equivalent" in alice.locator("td").nth(6).inner_text()  # the cost column of an OAuth login
    assert "API-equivalent" not in rows.filter(has_text=APIKEY).first.locator("td").nth(6).inner_text()
    assert alice.locator("td").nth(7).inner_text().split("\n")[:2] == ["Max · $200", "0.008× this month"]

    # The editor: a price of 0 is refused on its field, then the plan is saved from December.
    alice.locator("td").nth(7).locator("button").click()
    assert page.input_value("#plan-auth_index") == OAUTH and page.input_value("#plan-name") == "Max"
    page.fill("#plan-monthly_price", "0")
    page.fill("#plan-from_month", "2026-12")
    page.click("#plan-form button[type=submit]")
    page.wait_for_selector("#plan-monthly_price[aria-invalid=true]")
    assert text(page, "#plan-message").startswith("invalid plan field monthly_price: an amount in USD, above 0")
    page.fill("#plan-monthly_price", "100")
    page.click("#plan-form button[type=submit]")
    page.wait_for_function("() => document.querySelector(`#plans li.budget .plan-months li`)?.innerText.includes('$100')")
    assert sentences(page, f"#plans li.budget[data-auth='{OAUTH}']")[0] == \
        "this $100 plan (Max) did $1.50 of API work in December 2026 so far: 0.015×"
    assert [(p["from_month"], p["monthly_price"]) for p in service.store.plans()[OAUTH]] == [
        ("2026-10", 20.0), ("2026-11", 200.0), ("2026-12", 100.0)]
    assert errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]  # the refusal
    page.context.close()


def test_the_overview_shows_this_months_plans(browser, site):
    service, url = site
    page, errors = open_page(browser, url, timezone_id="America/New_York")
    painted(page, "overview")
    assert page.locator("#plans .plan-months li").all_inner_texts() == [
        "alice@example.com: this $200 plan (Max) did $1.50 of API work in December 2026 so far: 0.008×",
        f"{APIKEY}: this €100 ($110.00) plan (Team) did $0.00 of API work in December 2026 so far: 0×"]
    assert errors == []
    page.context.close()


def test_the_budgets_page_bills_keys_by_markup_or_rate(browser, site):
    service, url = site
    service.store.set_key_billing(BETA, {"markup": None, "usd_per_million_tokens": 3.0})
    page, errors = open_page(browser, url + "#/budgets", timezone_id="America/New_York")
    painted(page, "budgets")
    page.select_option("#billing-api_key", service.analytics.named("api_key", ALPHA)["api_key_id"])
    page.click("#billing-form button[type=submit]")  # no value: refused in the API's words
    page.wait_for_selector("#billing-message:has-text('key billing takes one of markup or usd_per_million_tokens')")
    page.fill("#billing-value", "1.5")
    page.click("#billing-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#billing tbody tr').length === 4")
    rows = [[cell.strip() for cell in row.split("\t")] for row in page.locator("#billing tbody tr").all_inner_texts()]
    # the default range, 30 days, overlaps December and November (local); figures of test_plans
    assert [row[1:] for row in rows] == [
        ["× 1.5", "December 2026", "550,000", "$1.50", "$2.25"], ["", "November 2026", "1,100,000", "$3.00", "$4.50"],
        ["$3.00 / 1M tokens", "December 2026", "0", "$0.00", "$0.00"],
        ["", "November 2026", "110,000", "$0.3000", "$0.3300"]]
    assert rows[0][0].startswith("sk-te…0001") and rows[2][0].startswith("sk-te…0002")
    assert errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page.context.close()


@pytest.mark.parametrize("scheme, width, language", [("light", 1440, "en"), ("dark", 1440, "zh-CN"),
                                                     ("light", 390, "zh-CN"), ("dark", 390, "en")])
def test_plans_screenshots(browser, site, scheme, width, language):
    service, url = site
    service.store.set_key_billing(ALPHA, {"markup": 1.5, "usd_per_million_tokens": None})
    page, errors = open_page(browser, url, width=width, height=900 if width > 400 else 844, scheme=scheme,
                             timezone_id="America/New_York", locale=language)
    page.evaluate(f"() => localStorage.setItem('cpa-usage-lang', '{language}')")
    for name, path in (("overview", ""), ("credentials", "#/credentials?" + RANGE), ("budgets", "#/budgets")):
        page.goto(url + path)
        page.reload()
        painted(page, name)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, page.evaluate(
            "() => [...document.querySelectorAll('#view *')].filter(e => !e.closest('table') && e.getBoundingClientRect().right > innerWidth)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + e.getBoundingClientRect().right)"))
        target = page.locator({"overview": "#plans", "credentials": "#plans-card", "budgets": "#billing-card"}[name])
        if language == "zh-CN":
            assert ("应收" if name == "budgets" else "API 用量") in target.inner_text()
        target.screenshot(path=str(ARTIFACTS / f"plans-{name}-{scheme}-{width}-{language}.png"))
    assert errors == []
    page.context.close()
