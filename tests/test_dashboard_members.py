"""A shared CPA in the dashboard, in a real browser (Debian's chromium) against the real
service: a member signs in with their own CPA client key and sees only their own usage and
budget; the owner's budgets (edited, with the API's validation messages), alerts and idle
keys; an import through the page and the exports with the filters; several CPAs (the
instance filter, the events, the status page); screenshots of the new pages.

Every expected number is computed here from the events written, for two keys on two CPAs."""

import csv
import datetime as dt
import io
import json
import zoneinfo

import pytest

from conftest import ARTIFACTS, FIXTURES, encode, open_page, painted, payload_lines, record, serve
from cpa_usage import Service, Store, decode_payload, iso_ms, now_ms
from test_dashboard_pages import BROWSER_ZONE, local, text

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")  # the service's TZ (its default)
PASSWORD = "the owner's password"
ALPHA, BETA = "sk-alpha-0000000000000001", "sk-beta-00000000000000002"  # members; ALPHA is "alice"
IDLE, OLD = "sk-idle-00000000000000003", "sk-old-000000000000000004"  # CPA lists IDLE, never used; OLD is gone
PRICES = {"budget-model": (1.0, 2.0), "other-model": (2.0, 4.0)}  # USD per 1M input and output tokens
DAY_MS = 86_400_000

# client key, CPA instance, model, failed, input tokens, output tokens: all today (local)
ROWS = [
    (ALPHA, "east", "budget-model", False, 600_000, 100_000),
    (ALPHA, "west", "other-model", False, 400_000, 50_000),
    (ALPHA, "east", "budget-model", True, 200_000, 0),
    (BETA, "east", "budget-model", False, 100_000, 10_000),
    (BETA, "west", "budget-model", False, 50_000, 0),
]
OLD_ROW = (OLD, "east", "budget-model", False, 1_000, 0)  # 20 days ago
ALPHA_BUDGET = {"daily_usd": 1.6, "monthly_usd": 20, "daily_tokens": 2_000_000, "monthly_tokens": 1_500_000}


def cost(row):
    price = PRICES[row[2]]
    return row[4] / 1e6 * price[0] + row[5] / 1e6 * price[1]


def totals(rows):
    """(requests, failed, tokens, USD) of rows."""
    return len(rows), sum(r[3] for r in rows), sum(r[4] + r[5] for r in rows), sum(cost(r) for r in rows)


def usage(row, ts, index):
    key, instance, model, failed, inp, out = row
    payload = record(timestamp=iso_ms(ts), request_id=f"req-{index}", api_key=key, model=model, alias=model,
                     failed=failed, provider="codex", executor_type="codex", token_breakdown=None,
                     accounting_version=None, fail={"status_code": 429 if failed else 200, "body": ""},
                     tokens={"input_tokens": inp, "output_tokens": out, "reasoning_tokens": 0, "cached_tokens": 0,
                             "total_tokens": inp + out})
    return decode_payload(encode(payload), ts, instance)


class Shared:
    def __init__(self, service, url, now):
        self.service, self.url, self.now = service, url, now
        self.today = dt.datetime.fromtimestamp(now / 1000, ZONE).date()

    def open(self, browser, path="", **options):
        options.setdefault("timezone_id", BROWSER_ZONE)
        options.setdefault("wait_for", "login")
        return open_page(browser, self.url + path, **options)

    def key_id(self, key):
        return self.service.analytics.named("api_key", key)["api_key_id"]


@pytest.fixture
def shared(config_factory):
    """Login on, key login on, two CPAs (east is down, west subscribed); two members' keys
    used today, ALPHA over its daily budget with its alerts raised; an idle and an old key."""
    service = Service(config_factory(AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD, KEY_LOGIN_ENABLED="true",
                                     APP_HOST="127.0.0.1",
                                     CPA_INSTANCES="east=http://127.0.0.1:1,west=http://127.0.0.1:2"))
    service.store.put_metadata("api-keys", [ALPHA, BETA, IDLE])  # member logins are checked against it
    service.store.upsert_prices([(model, 0, inp, out, 0.0, 0.0, None, *Store.NO_LONG_CONTEXT, "") for model, (inp, out) in PRICES.items()])
    service.pricing.reload()
    service.store.set_aliases({ALPHA: "alice"}, replace=False)
    now = now_ms()
    midnight = int(dt.datetime.combine(dt.datetime.fromtimestamp(now / 1000, ZONE).date(), dt.time(),
                                       ZONE).timestamp() * 1000)
    events = [usage(row, midnight + (now - midnight) * (i + 1) // (len(ROWS) + 1), i) for i, row in enumerate(ROWS)]
    events.append(usage(OLD_ROW, now - 20 * DAY_MS, 99))
    service.store.write_batch(events, [], received=len(events))
    service.store.set_budget(ALPHA, ALPHA_BUDGET)
    assert service.alerts.check(now) == 3  # daily USD 80% and 100%, monthly tokens 80%
    service.statuses[1].set(mode="subscribe", connected=True, last_event_at=now)
    server, url = serve(service)
    yield Shared(service, url, now)
    server.close()
    service.store.close()


def sign_in(page, secret, member=False):
    page.click(f"#login-mode button[data-mode={'key' if member else 'password'}]")
    field = "#api-key" if member else "#password"
    page.fill(field, secret)
    page.press(field, "Enter")


def meters(page, scope):
    """{limit: (level, ratio, amount)} of the budget bars in ``scope``."""
    found = {}
    for meter in page.locator(f"{scope} .meter").all():
        level = [c for c in meter.get_attribute("class").split() if c in ("near", "over")]
        ratio, amount = meter.locator(".meter-ratio").inner_text(), meter.locator(".meter-amount").inner_text()
        found[meter.get_attribute("data-limit")] = (level[0] if level else "", ratio, amount)
    return found


def alpha_meters():
    spent, tokens = sum(cost(r) for r in ROWS if r[0] == ALPHA), sum(r[4] + r[5] for r in ROWS if r[0] == ALPHA)
    assert (round(spent, 6), tokens) == (2.0, 1_350_000)
    return {"daily_usd": ("over", "125%", "$2.00 of $1.60"),  # 2.0 / 1.6
            "monthly_usd": ("", "10%", "$2.00 of $20.00"),
            "daily_tokens": ("", "67.5%", "1.4M of 2M tokens"),
            "monthly_tokens": ("near", "90%", "1.4M of 1.5M tokens")}


def nav(page):
    """The navigation's links, without a badge's count."""
    return [link.evaluate("a => a.firstChild.textContent") for link in page.locator("#nav a").all()]


def csv_rows(page, href):
    answer = page.request.get(page.url.split("#")[0] + href)  # the browser's own session cookie
    assert answer.ok, answer.text()
    return list(csv.DictReader(io.StringIO(answer.text())))


def test_a_member_sees_only_their_own_usage(browser, shared):
    page, errors = shared.open(browser, "#/budgets")  # a bookmark of an owner's page
    forbidden = []
    page.on("response", lambda response: response.status == 403 and forbidden.append(response.url))
    assert page.locator("#login-mode").is_visible() and page.locator("#password").is_visible()
    page.focus("#login-mode button[data-mode=key]")  # by keyboard: the choice, then straight to the key
    page.keyboard.press("Enter")
    assert page.locator("#api-key").is_visible() and not page.locator("#password").is_visible()
    assert page.evaluate("document.activeElement.id") == "api-key"
    assert page.get_attribute("#login-mode button[data-mode=key]", "aria-pressed") == "true"
    page.fill("#api-key", "sk-not-one-of-cpas-keys")
    page.press("#api-key", "Enter")
    page.wait_for_selector("#login-error:has-text(\"this is not one of CPA's client API keys\")")
    page.fill("#api-key", ALPHA)
    page.press("#api-key", "Enter")
    painted(page, "overview")  # not the owner's page: their overview
    assert "#/overview" in page.url
    assert page.title() == "Overview · alice · cpa-usage" and text(page, "#who").endswith("alice")
    assert nav(page) == ["Overview", "Health", "Analysis", "Events"]
    assert page.locator("#filter-api_key").is_hidden() and page.locator("#filter-source").is_hidden()
    assert page.locator("#conn").is_hidden() and page.locator("#version").inner_text().startswith("v")

    requests, failed, tokens, usd = totals([r for r in ROWS if r[0] == ALPHA])
    assert (requests, failed, tokens) == (3, 1, 1_350_000)
    assert text(page, "#card-requests .value") == "3" and "1 failed" in text(page, "#card-requests .sub")
    assert page.get_attribute("#card-tokens .value", "title") == "1,350,000"
    assert text(page, "#card-cost .value") == f"${usd:.2f}" == "$2.00"
    assert text(page, "#budget h2") == "Your budget"
    assert meters(page, "#budget") == alpha_meters()
    assert text(page, "#your-alerts h2") == "Your alerts"  # the three ALPHA raised, without the owner's webhook
    assert page.locator("#your-alerts tbody tr").count() == 3
    assert page.locator("#your-alerts thead th").all_inner_texts() == ["Alert", "Period", "Value / threshold", "Created"]
    assert "USD limit reached" in page.locator("#your-alerts .pill.bad").all_inner_texts()
    page.screenshot(path=str(ARTIFACTS / "member-overview.png"), full_page=True)

    page.click("#nav a[href^='#/health']")
    painted(page, "health")
    assert text(page, "#year .summary").startswith("3 requests, 1 failed, on 1 active days.")

    page.click("#nav a[href^='#/analysis']")
    painted(page, "analysis")
    assert page.locator("#group").count() == 0  # a member's analysis is by model
    rows = page.locator("#analysis tbody tr")
    assert [row.locator("td").first.inner_text() for row in rows.all()] == ["budget-model", "other-model"]
    assert [rows.nth(i).locator("td").nth(1).inner_text() for i in range(2)] == ["2", "1"]
    assert page.locator("#analysis tfoot td").nth(1).inner_text() == "3"
    analysis_rows = csv_rows(page, page.get_attribute("#analysis-csv", "href"))
    assert [(r["model"], r["requests"]) for r in analysis_rows] == [("budget-model", "2"), ("other-model", "1")]

    page.click("#nav a[href^='#/events']")
    painted(page, "events")
    assert page.locator("#events tbody tr").count() == 3
    headers = page.locator("#events thead th").all_inner_texts()
    assert "Credential" not in headers and "Instance" in headers
    assert page.locator("#events-jsonl").count() == 0  # the lossless export is the owner's
    exported = csv_rows(page, page.get_attribute("#events-csv", "href"))
    assert len(exported) == 3 and {r["api_key_alias"] for r in exported} == {"alice"}
    assert {r["source"] for r in exported} == {""}

    page.goto(shared.url + "#/status")  # an owner's page, asked for by hand
    painted(page, "overview")
    assert "#/overview" in page.url
    page.click("#logout")
    page.wait_for_selector("#login", state="visible")
    assert page.locator("#who").is_hidden()

    sign_in(page, BETA, member=True)  # a key without alias: its masked form names it
    painted(page, "overview")
    assert page.title() == "Overview · sk-be…0002 · cpa-usage"
    assert text(page, "#card-requests .value") == str(totals([r for r in ROWS if r[0] == BETA])[0]) == "2"
    assert page.locator("#budget").count() == 0 and page.locator("#your-alerts").count() == 0
    assert forbidden == []  # no owner's route was asked for
    assert [e for e in errors if "401" not in e] == []  # the wrong key answered 401, nothing else failed
    page.context.close()


def test_alerts_are_cards_on_a_phone(browser, shared):
    """A member's alerts on a phone: each alert a card of label and value lines, nothing cut
    off at the card's edge (the table was, with its values out of sight)."""
    page, errors = shared.open(browser, "#/overview", width=390, height=844)
    sign_in(page, ALPHA, member=True)
    painted(page, "overview")
    table = page.locator("#your-alerts table.cards")
    assert table.locator("thead").bounding_box()["width"] <= 1  # kept for screen readers, not shown
    wrap = page.locator("#your-alerts .table-wrap")
    assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth")
    first = table.locator("tbody tr").first
    labels = first.locator("td").evaluate_all("cells => cells.map((td) => getComputedStyle(td, '::before').content)")
    assert labels == ['"Alert"', '"Period"', '"Value / threshold"', '"Created"']
    assert first.bounding_box()["width"] <= wrap.bounding_box()["width"] + 1
    page.set_viewport_size({"width": 1280, "height": 900})  # a table again on a wide screen
    assert table.locator("thead th").first.is_visible()
    assert errors == []
    page.context.close()


def test_the_owner_sees_the_active_alerts_where_they_look(browser, shared):
    last_month = (shared.today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    shared.service.store.add_alert(ALPHA, "budget", f"monthly:{last_month}", "usd_100", 30.0, 20.0, "usd",
                                   shared.now - 40 * DAY_MS)  # over and done: not active
    # "Today" is the server's (TZ), also in a browser whose zone is on another date, and also when the
    # page's answers come before /status says which zone that is: it is held until they came.
    elsewhere = next(zone for zone in ("Pacific/Pago_Pago", "Pacific/Kiritimati")
                     if dt.datetime.now(zoneinfo.ZoneInfo(zone)).date() != shared.today)
    page, errors = shared.open(browser, "#/overview", timezone_id=elsewhere)
    held = []
    page.route("**/api/v1/status", lambda route: held.append(route))
    sign_in(page, PASSWORD)
    page.wait_for_function("""() => {  // the overview's answers read whole (and the header's alerts)
        const read = performance.getEntriesByType("resource").map((entry) => entry.name);
        return read.some((name) => name.includes("/api/v1/usage/overview"))
            && read.filter((name) => name.includes("/api/v1/alerts")).length >= 2;
    }""", timeout=10_000)
    assert held and page.evaluate("document.body.dataset.loaded") == "false"  # waiting for /status
    for route in held:
        route.continue_()
    page.unroute("**/api/v1/status")
    painted(page, "overview")
    assert page.locator("#active-alerts tbody tr").count() == 3  # today's two and this month's one
    assert "Month " + last_month not in text(page, "#active-alerts")
    assert page.locator("#nav a[data-page=budgets] .badge [aria-hidden]").inner_text() == "3"
    page.click("#active-alerts .card-head a")
    painted(page, "budgets")
    assert page.locator("#alerts tbody tr").count() == 4  # every alert is on the budgets page
    assert errors == []
    page.context.close()


def test_owner_budgets_alerts_and_idle_keys(browser, shared):
    page, errors = shared.open(browser, "#/budgets")
    sign_in(page, PASSWORD)
    painted(page, "budgets")
    assert nav(page) == ["Overview", "Health", "Analysis", "Events", "Credentials", "Models & prices", "Aliases",
                         "Budgets & alerts", "Import & export", "Status"]
    alpha, beta = shared.key_id(ALPHA), shared.key_id(BETA)
    assert meters(page, f"#budgets li[data-key='{alpha}']") == alpha_meters()
    assert text(page, f"#budgets li[data-key='{alpha}'] .budget-head strong") == "alice (sk-al…0001)"

    alerts = page.locator("#alerts tbody tr")
    assert alerts.count() == 3
    cells = [alerts.nth(i).locator("td").all_inner_texts()[:4] for i in range(3)]
    day, month = shared.today.isoformat(), shared.today.strftime("%Y-%m")
    assert sorted(cells) == sorted([
        ["80% of the USD limit", "alice (sk-al…0001)", f"Day {day}", "$2.00 / $1.28"],
        ["USD limit reached", "alice (sk-al…0001)", f"Day {day}", "$2.00 / $1.60"],
        ["80% of the token limit", "alice (sk-al…0001)", f"Month {month}", "1.4M / 1.2M tokens"]])
    token_alert = alerts.filter(has_text="80% of the token limit").locator("td").nth(3).locator("span")
    assert token_alert.get_attribute("title") == "1,350,000 / 1,200,000"  # exact on hover
    assert "USD limit reached" in alerts.locator(".pill.bad").all_inner_texts()
    assert "No webhook is set" in text(page, "#alerts-card")
    badge = page.locator("#nav a[data-page=budgets] .badge")  # today's and this month's, on every page
    assert badge.get_attribute("title") == "3 active alerts" and badge.locator("[aria-hidden]").inner_text() == "3"

    idle = page.locator("#idle-keys tbody tr")
    assert text(page, "#idle-card h2") == "Idle keys (unused for 14 days)"
    assert [idle.nth(i).locator("td").all_inner_texts() for i in range(idle.count())] == [
        ["sk-id…0003", "never", "never used", "yes"],  # CPA lists it; never used
        ["sk-ol…0004", local(shared.now - 20 * DAY_MS, "%m/%d/%Y, %H:%M"), "20 days", "no"]]  # used, then gone

    options = page.locator("#budget-api_key option").all_inner_texts()
    assert options == ["Choose a key…", "alice (sk-al…0001)", "sk-be…0002", "sk-ol…0004"]  # the keys used

    # A new budget for BETA: first refused (the API's words, on the field), then saved.
    page.select_option("#budget-api_key", beta)
    page.fill("#budget-daily_usd", "-1")
    page.click("#budget-form button[type=submit]")
    error = "invalid budget field daily_usd: an amount of USD above 0, at most 1,000,000,000"  # the API's words
    page.wait_for_selector(f"#budget-daily_usd-error:has-text('{error}')")
    assert page.get_attribute("#budget-daily_usd", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "budget-daily_usd"
    page.fill("#budget-daily_usd", "")
    page.fill("#budget-daily_tokens", "1.5")
    page.click("#budget-form button[type=submit]")
    page.wait_for_selector("#budget-daily_tokens-error:has-text('a whole number of tokens from 1 to')")
    assert page.get_attribute("#budget-daily_usd", "aria-invalid") is None
    page.fill("#budget-daily_tokens", "")
    page.click("#budget-form button[type=submit]")
    page.wait_for_selector("#budget-message:has-text('a budget needs at least one limit')")
    assert page.locator("#budget-form input[aria-invalid=true]").count() == 4
    assert BETA not in shared.service.store.budgets()

    page.fill("#budget-daily_tokens", "150000")
    page.click("#budget-form button[type=submit]")
    page.wait_for_selector("#notice:has-text('Budget saved for sk-be…0002.')")
    page.wait_for_selector(f"#budgets li[data-key='{beta}']")
    assert shared.service.store.budgets()[BETA] == {"daily_usd": None, "monthly_usd": None, "daily_tokens": 150_000,
                                                    "monthly_tokens": None}
    beta_tokens = totals([r for r in ROWS if r[0] == BETA])[2]
    assert beta_tokens == 160_000
    assert meters(page, f"#budgets li[data-key='{beta}']") == {
        "daily_tokens": ("over", "106.7%", "160K of 150K tokens")}

    # ALPHA's budget edited: the form is filled with its limits; an emptied limit is cleared.
    page.locator(f"#budgets li[data-key='{alpha}'] button", has_text="Edit").click()
    assert page.input_value("#budget-api_key") == alpha and page.input_value("#budget-daily_usd") == "1.6"
    assert page.input_value("#budget-monthly_tokens") == "1500000"
    page.fill("#budget-daily_usd", "")
    page.fill("#budget-monthly_usd", "1.5")
    page.click("#budget-form button[type=submit]")
    page.wait_for_selector("#notice:has-text('Budget saved for alice (sk-al…0001).')")
    page.wait_for_function(f"() => !document.querySelector(\"#budgets li[data-key='{alpha}'] [data-limit=daily_usd]\")")
    assert shared.service.store.budgets()[ALPHA] == {**ALPHA_BUDGET, "daily_usd": None, "monthly_usd": 1.5}
    assert meters(page, f"#budgets li[data-key='{alpha}']")["monthly_usd"] == ("over", "133.3%", "$2.00 of $1.50")

    delete = page.locator(f"#budgets li[data-key='{beta}'] button", has_text="Delete")
    delete.click()
    delete.click()  # asked once more, then done
    page.wait_for_selector(f"#budgets li[data-key='{beta}']", state="detached")
    assert BETA not in shared.service.store.budgets()

    # The overview of one key shows that key's budget; of every key, none.
    page.goto(f"{shared.url}#/overview?api_key={alpha}")
    painted(page, "overview")
    assert text(page, "#budget h2") == "Budget of this key"
    assert meters(page, "#budget")["monthly_usd"] == ("over", "133.3%", "$2.00 of $1.50")
    page.click("#reset-filters")
    painted(page, "overview")
    assert page.locator("#budget").count() == 0 and text(page, "#card-requests .value") == "5"
    assert [e for e in errors if "400" not in e] == []  # the refused budgets answered 400, as they should
    page.context.close()


def test_import_through_the_page(browser, shared, tmp_path):
    lines = payload_lines("v7.2")
    good = tmp_path / "payloads.jsonl"
    good.write_bytes(b"\n".join(lines + [b'{"tokens": "many"}']) + b"\n")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    page, errors = shared.open(browser, "#/import")
    sign_in(page, PASSWORD)
    painted(page, "import")
    before = len(ROWS) + 1
    assert f"{before} events match the filters above" in text(page, "#export-card")

    page.click("#import-submit")  # no file yet
    assert text(page, "#import-status") == "Choose a file first."
    page.set_input_files("#import-file", str(good))
    page.click("#import-submit")
    page.wait_for_selector("#import-report")
    assert text(page, "#import-report h3") == "Import of payloads.jsonl"
    assert text(page, "#import-facts") == f"Read\n{len(lines) + 1}\nAdded\n{len(lines)}\nAlready there\n0\nRejected\n1"
    assert text(page, "#import-reasons") == "1 × tokens must be an object, got str"
    assert text(page, "#notice") == f"payloads.jsonl: {len(lines)} events added."
    assert f"{before + len(lines)} events match the filters above" in text(page, "#export-card")

    page.set_input_files("#import-file", str(good))  # twice: nothing more
    page.click("#import-submit")
    page.wait_for_function("() => document.querySelector('#import-facts')?.innerText.includes('Already there\\n17')")
    assert "Added\n0" in text(page, "#import-facts")

    inserted = shared.service.store.load_totals()["inserted"]
    page.set_input_files("#import-file", str(broken))
    page.click("#import-submit")
    page.wait_for_selector("#import-error")
    assert text(page, "#import-error").startswith(
        "broken.json: the file is not valid as a whole; nothing was imported: neither JSON Lines nor a JSON document")
    assert page.locator("#import-report").count() == 0
    assert shared.service.store.load_totals()["inserted"] == inserted

    page.set_input_files("#import-file", str(FIXTURES / "payloads" / "legacy-export.json"))  # sent as JSON
    page.click("#import-submit")
    page.wait_for_selector("#import-report:has-text('Import of legacy-export.json')")
    assert "Added\n7" in text(page, "#import-facts")

    page.click("#nav a[href^='#/overview']")
    painted(page, "overview")
    page.select_option("#range", "all")  # the imported events are weeks old
    painted(page, "overview")
    assert text(page, "#card-requests .value") == str(before + len(lines) + 7)
    assert [e for e in errors if "400" not in e] == []  # the broken file answered 400
    page.context.close()


def test_several_cpas_filter_events_status_and_exports(browser, shared):
    page, errors = shared.open(browser, "#/overview")
    sign_in(page, PASSWORD)
    painted(page, "overview")
    assert text(page, "#card-requests .value") == "5"
    assert text(page, "#conn") == "CPA: 1 of 2 down"
    page.click("#filter-instance")
    options = page.locator(".ms-panel:not([hidden]) .ms-option")
    options.first.wait_for()
    assert options.all_inner_texts() == ["east\n3", "west\n2"]  # requests in the range (24h)
    options.filter(has_text="west").locator("input").check()
    painted(page, "overview")
    assert "instance=west" in page.url
    west = [r for r in ROWS if r[1] == "west"]
    assert text(page, "#card-requests .value") == str(len(west)) == "2"
    page.keyboard.press("Escape")

    page.click("#nav a[href^='#/events']")  # the filter goes along
    painted(page, "events")
    assert "instance=west" in page.url and text(page, "#events-total") == "(2 in all)"
    column = page.locator("#events thead th").all_inner_texts().index("Instance")
    assert {row.locator("td").nth(column).inner_text() for row in page.locator("#events tbody tr").all()} == {"west"}
    page.locator("#events tbody tr").first.click()
    assert "Instance\nwest" in text(page, "#event-summary")  # in words, among the request's facts
    page.keyboard.press("Escape")

    href = page.get_attribute("#events-csv", "href")
    assert href.startswith("api/v1/usage/events/export?") and "instance=west" in href and "format=csv" in href
    exported = csv_rows(page, href)
    assert len(exported) == 2 and {r["api_key_alias"] for r in exported} == {"alice", ""}
    jsonl = page.request.get(page.url.split("#")[0] + page.get_attribute("#events-jsonl", "href")).text()
    records = [json.loads(line) for line in jsonl.splitlines()]
    assert [r["instance"] for r in records] == ["west", "west"] and {r["api_key"] for r in records} == {ALPHA, BETA}

    page.click("#nav a[href^='#/import']")
    painted(page, "import")
    assert "2 events match the filters above" in text(page, "#export-card")
    assert "instance=west" in page.get_attribute("#events-csv", "href")
    page.select_option("#export-group", "api")
    href = page.get_attribute("#analysis-csv", "href")
    assert "group=api" in href and "instance=west" in href and "range=all" in href
    by_key = {r["api_key_alias"] or r["api_key"]: r["requests"] for r in csv_rows(page, href)}
    assert by_key == {"alice": "1", "sk-be…0002": "1"}

    page.click("#nav a[href^='#/status']")
    painted(page, "status")
    rows = page.locator("#instance-table tbody tr")
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(2)] == ["east", "west"]
    assert "127.0.0.1:1" in rows.nth(0).inner_text() and "not connected" in rows.nth(0).inner_text()
    assert "subscribed (push)" in rows.nth(1).inner_text() and "127.0.0.1:2" in rows.nth(1).inner_text()
    assert "Instance\neast" in text(page, "#drain-facts")
    assert errors == []
    page.context.close()


def test_chinese_for_the_new_pages(browser, shared):
    page, errors = shared.open(browser, "#/budgets")
    page.select_option("#lang", "zh-CN")
    assert text(page, "#login-mode") == "管理员密码\n你的 CPA API 密钥"
    sign_in(page, PASSWORD)
    painted(page, "budgets")
    assert page.locator("#nav a[aria-current=page]").evaluate("a => a.firstChild.textContent") == "预算与告警"
    assert text(page, "#nav a[aria-current=page] .badge .sr-only") == "3 条当前告警"
    view = text(page, "#view")
    assert "达到美元限额" in view and "闲置密钥（14 天未使用）" in view and "今天" in view
    for english in ("Budget", "limit", "Alert", "Idle", "never", "Today", "webhook is"):
        assert english not in view
    page.screenshot(path=str(ARTIFACTS / "budgets-owner-zh.png"), full_page=True)
    for name in ("import", "status"):
        page.click(f"#nav a[href^='#/{name}']")
        painted(page, name)
        view = text(page, "#view")
        assert "CPA 实例（2）" in view if name == "status" else "导入用量记录" in view
        assert not any(word in view for word in ("Import", "Export", "events match", "instances", "Download"))
    assert errors == []
    page.context.close()


@pytest.mark.parametrize("scheme, width", [("light", 1280), ("dark", 1280), ("light", 390), ("dark", 390)])
def test_new_pages_screenshots(browser, shared, tmp_path, scheme, width):
    """The sign-in with a key, the owner's budgets and alerts, import and export, status
    with two CPAs, and a member's overview: no console error, no sideways scrolling."""
    good = tmp_path / "payloads.jsonl"
    good.write_bytes(b"\n".join(payload_lines("v7.2") + [b'{"tokens": "many"}', b"[1, 2]"]))

    def shoot(name, full_page=True):
        page.evaluate("() => window.scrollTo(0, 0)")
        for wide in ([width, 375] if width < 400 else [width]):  # readable at 375 px as well
            page.set_viewport_size({"width": wide, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= wide, name
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}-{width}.png"), full_page=full_page)

    page, errors = shared.open(browser, width=width, scheme=scheme)
    page.click("#login-mode button[data-mode=key]")
    shoot("login-key", full_page=False)
    sign_in(page, PASSWORD)
    painted(page, "overview")
    for name in ("budgets", "status"):
        page.click(f"#nav a[href^='#/{name}']")
        painted(page, name)
        shoot(f"{name}-owner" if name == "budgets" else "status-instances")
    page.click("#nav a[href^='#/import']")
    painted(page, "import")
    page.set_input_files("#import-file", str(good))
    page.click("#import-submit")
    page.wait_for_selector("#import-report")
    shoot("import")
    page.click("#logout")
    sign_in(page, ALPHA, member=True)
    painted(page, "overview")
    shoot("member-overview")
    assert errors == []
    page.context.close()
