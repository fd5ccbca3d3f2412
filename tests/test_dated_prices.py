"""Dated prices: several prices per model, each event priced with the one in force at its
time, in every answer (overview, its daily series, analysis, credentials, events and
their export, budgets, /metrics), computed by hand, on SQLite and PostgreSQL; a change
inside a 15-minute bucket; a model priced only from a date (unpriced before); a default
price overridden from a date; removing one price and re-pricing all history."""

import csv
import io
import json

import pytest

from conftest import database_env, wsgi_call
from cpa_usage import Price, Pricing, Query, Store, default_prices, mask_key, parse_rfc3339_ms
from test_analytics import event

NOW = "2026-08-25T00:00:00Z"
KEY = "sk-team-alpha-7f3c"

# Each event: (time, model, input tokens, output tokens), and its cost by hand (USD per 1M tokens).
EVENTS = {
    "A": ("2026-08-01T10:00:00Z", "hand-model", 1000, 100),  # since always: 1 in, 2 out -> 0.0012
    "B": ("2026-08-10T10:00:00Z", "hand-model", 2000, 200),  # from 08-10: 3 in, 6 out -> 0.0072
    "H": ("2026-08-20T12:32:00Z", "hand-model", 1000, 100),  # still 3 / 6 -> 0.0036
    "C": ("2026-08-20T12:40:00Z", "hand-model", 4000, 400),  # from 12:35, inside H's 15 minutes: 0.5 / 1 -> 0.0024
    "D": ("2026-08-05T00:00:00Z", "late-model", 100, 10),    # late-model has a price only from 08-10: unpriced
    "E": ("2026-08-15T00:00:00Z", "late-model", 100, 10),    # 10 in, 20 out -> 0.0012
    "F": ("2026-08-11T00:00:00Z", "gpt-5.4", 1000, 100),     # the default gpt-5.4: 2.5 in, 15 out -> 0.004
    "G": ("2026-08-13T00:00:00Z", "gpt-5.4", 1000, 100),     # the owner's from 08-12: 2 in, 30 out -> 0.005
}
COST = {"A": 0.0012, "B": 0.0072, "H": 0.0036, "C": 0.0024, "D": None, "E": 0.0012, "F": 0.004, "G": 0.005}
TOTAL = 0.0246  # A + B + H + C + E + F + G
NOTHING_ASSUMED = {"tier_fallback_requests": 0, "assumed_cache_write_tokens": 0}  # no tier, no cache write
PRICES = [
    {"model": "hand-model", "input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1},
    {"model": "hand-model", "effective_from": "2026-08-10", "input": 3, "output": 6, "cache_read": 0.3,
     "cache_write": 3},
    {"model": "hand-model", "effective_from": "2026-08-20T14:35:00+02:00", "input": 0.5, "output": 1,
     "cache_read": 0.05, "cache_write": 0.5},
    {"model": "late-model", "effective_from": "2026-08-10T00:00:00Z", "input": 10, "output": 20, "cache_read": 1,
     "cache_write": 10},
    {"model": "gpt-5.4", "effective_from": "2026-08-12", "input": 2, "output": 30, "cache_read": 0.2,
     "cache_write": 2},
]


def call(service, method, path, body=None, status=200):
    data = b"" if body is None else json.dumps(body).encode()
    response = wsgi_call(service.app, method, path if path == "/usage/metrics" else "/usage/api/v1" + path, data,
                         {"Content-Type": "application/json"} if body is not None else {})
    assert response.status == status, response.body[:500]
    return response


@pytest.fixture
def priced(new_database, service_factory):
    """A service (SQLite, then PostgreSQL) holding EVENTS and PRICES, its clock at NOW."""
    service = service_factory(start=False, plain=True, TZ="UTC", **database_env(new_database()))
    service.analytics.clock = lambda: parse_rfc3339_ms(NOW)
    events = [event(ts, model=model, input_tokens=inp, output_tokens=out, api_key=KEY)
              for ts, model, inp, out in EVENTS.values()]
    service.store.write_batch(events, [], received=len(events))
    call(service, "PUT", "/pricing", PRICES)
    return service


def test_every_answer_prices_each_event_at_the_price_of_its_time(priced):
    overview = call(priced, "GET", "/usage/overview?range=30d").json()
    summary = overview["summary"]
    assert summary["cost"]["usd"] == pytest.approx(TOTAL)
    assert (summary["cost"]["unpriced_requests"], summary["cost"]["unpriced_models"]) == (1, ["late-model"])

    daily = {day["date"]: day["cost"]["usd"] for day in overview["daily"]}
    assert daily["2026-08-20"] == pytest.approx(COST["H"] + COST["C"])  # a change inside one 15-minute bucket
    assert daily["2026-08-10"] == pytest.approx(COST["B"]) and daily["2026-08-01"] == pytest.approx(COST["A"])

    models = {item["model"]: item["cost"] for item in
              call(priced, "GET", "/usage/analysis?range=30d&group=model").json()["items"]}
    assert models["hand-model"]["usd"] == pytest.approx(COST["A"] + COST["B"] + COST["H"] + COST["C"])
    assert models["late-model"] == {"usd": pytest.approx(COST["E"]), "unpriced_requests": 1, **NOTHING_ASSUMED,
                                    "unpriced_models": ["late-model"]}
    assert models["gpt-5.4"]["usd"] == pytest.approx(COST["F"] + COST["G"])

    credentials = call(priced, "GET", "/usage/credentials?range=30d").json()["items"]
    assert sum(item["cost"]["usd"] for item in credentials) == pytest.approx(TOTAL)

    items = call(priced, "GET", "/usage/events?range=30d&page_size=100").json()["items"]
    by_time = {item["timestamp"]: item["cost_usd"] for item in items}
    for name, (ts, *_) in EVENTS.items():
        assert by_time[ts.replace(":00Z", ":00.000Z")] == (pytest.approx(COST[name]) if COST[name] else None), name

    exported = list(csv.DictReader(io.StringIO(call(priced, "GET", "/usage/events/export?range=30d&format=csv")
                                               .body.decode())))
    assert sum(float(row["cost_usd"] or 0) for row in exported) == pytest.approx(TOTAL)

    call(priced, "PUT", "/budgets", {"api_key": KEY, "monthly_usd": 1})
    budget = call(priced, "GET", "/budgets").json()["items"][0]
    assert budget["monthly"]["usd"]["spent"] == pytest.approx(TOTAL)

    metrics = call(priced, "GET", "/usage/metrics").body.decode()
    costs = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
             if line.startswith("cpa_usage_cost_usd_total{")]
    assert sum(costs) == pytest.approx(TOTAL)


def test_a_range_that_starts_after_a_change_prices_only_what_it_holds(priced):
    # 08-12 .. 08-20T12:45: F is out; G, E, H and C in, C at 12:40 after the change at 12:35
    cost = call(priced, "GET", "/usage/overview?range=custom&start=2026-08-12T00:00:00Z"
                "&end=2026-08-20T12:45:00Z").json()["summary"]["cost"]
    assert cost == {"usd": pytest.approx(COST["G"] + COST["E"] + COST["H"] + COST["C"]), "unpriced_requests": 0,
                    **NOTHING_ASSUMED,
                    "unpriced_models": []}
    # unaligned ends: 12:33 .. 12:41 holds C alone
    cost = call(priced, "GET", "/usage/overview?range=custom&start=2026-08-20T12:33:00Z"
                "&end=2026-08-20T12:41:00Z").json()["summary"]["cost"]
    assert cost["usd"] == pytest.approx(COST["C"])


def test_the_analysis_by_key_names_the_models_each_key_used_without_a_price(priced):
    """By key, the rows are summed by failed, not by model, and a second read of the
    models whose prices leave a gap in the range names the unpriced ones, for the keys of
    the page asked and for the totals: the same names the rows by key and model give,
    with the requests, for any range and model filter."""
    other = "sk-team-beta-0b1d"
    priced.store.write_batch([
        event("2026-08-06T00:00:00Z", model="mystery-model", input_tokens=5, output_tokens=1, api_key=other),
        event("2026-08-06T01:00:00Z", model="late-model", input_tokens=0, output_tokens=0, api_key=other,
              failed=True),  # no tokens: it costs nothing, so not unpriced
        event("2026-08-14T00:00:00Z", model="late-model", input_tokens=100, output_tokens=10, api_key=other)],
        [], received=3)
    ranges = {"30d": "range=30d", "from 08-12": "range=custom&start=2026-08-12T00:00:00Z&end=2026-08-25T00:00:00Z",
              "late-model": "range=30d&model=late-model", "hand-model": "range=30d&model=hand-model"}
    alpha, beta = mask_key(KEY), mask_key(other)  # as the API shows them
    expected = {"30d": {alpha: ["late-model"], beta: ["mystery-model"]},
                "from 08-12": {alpha: [], beta: []},
                "late-model": {alpha: ["late-model"], beta: []},
                "hand-model": {alpha: []}}
    for name, query in ranges.items():
        answer = call(priced, "GET", f"/usage/analysis?{query}&group=api").json()
        by_key = {item["api_key"]: item["cost"] for item in answer["items"]}
        assert {key: cost["unpriced_models"] for key, cost in by_key.items()} == expected[name], name
        assert answer["totals"]["cost"]["unpriced_models"] == sorted(set().union(*expected[name].values())), name
        pages = [call(priced, "GET", f"/usage/analysis?{query}&group=api&page_size=1&page={page}").json()["items"]
                 for page in (1, 2, 3)]  # each page names its own rows; the third has none
        assert {item["api_key"]: item["cost"]["unpriced_models"] for items in pages for item in items} == \
            expected[name], name
        by_both: dict = {}
        for item in call(priced, "GET", f"/usage/analysis?{query}&group=both").json()["items"]:
            by_both.setdefault(item["api_key"], [0, []])[0] += item["cost"]["unpriced_requests"]
            by_both[item["api_key"]][1] += item["cost"]["unpriced_models"]
        assert {key: [cost["unpriced_requests"], cost["unpriced_models"]] for key, cost in by_key.items()} == \
            by_both, name


def test_a_range_holding_four_weeks_whole_prices_each_side_of_a_change_inside_them(service_factory):
    """A dated price at a midnight inside four weeks (FOUR_WEEKS_MS from the epoch: 07-30 ..
    08-27) cuts them: the plan reads the days on each side, each at its own price."""
    service = service_factory(start=False, plain=True, TZ="UTC")
    service.store.write_batch([event("2026-08-05T10:00:00Z", model="hand-model", input_tokens=1000, output_tokens=100),
                               event("2026-08-15T10:00:00Z", model="hand-model", input_tokens=1000, output_tokens=100)],
                              [], received=2)
    start, end = "2026-07-30T00:00:00Z", "2026-08-27T00:00:00Z"
    whole = Query(parse_rfc3339_ms(start), parse_rfc3339_ms(end))
    assert {piece.rollup.table for piece in service.store.plan(whole, ("model",), None)} == {"usage_series_4weekly"}
    call(service, "PUT", "/pricing", PRICES[:2])  # 1 / 2 since always, 3 / 6 from 08-10
    expected = (1000 * 1 + 100 * 2 + 1000 * 3 + 100 * 6) / 1e6
    query = f"range=custom&start={start}&end={end}"
    assert call(service, "GET", f"/usage/overview?{query}").json()["summary"]["cost"]["usd"] == pytest.approx(expected)
    models = {item["model"]: item["cost"]["usd"] for item in
              call(service, "GET", f"/usage/analysis?{query}&group=model").json()["items"]}
    assert models == {"hand-model": pytest.approx(expected)}


def test_the_price_list_shows_each_models_history_and_one_price_can_go(priced):
    items = call(priced, "GET", "/pricing").json()["items"]
    hand = [(item["effective_from"], item["input"]) for item in items if item["model"] == "hand-model"]
    assert hand == [(None, 1), ("2026-08-10T00:00:00.000Z", 3), ("2026-08-20T12:35:00.000Z", 0.5)]

    call(priced, "DELETE", "/pricing/hand-model?effective_from=2026-08-20T12:35:00Z")
    c_at_the_price_before = (4000 * 3 + 400 * 6) / 1e6  # 0.0144
    summary = call(priced, "GET", "/usage/overview?range=30d").json()["summary"]
    assert summary["cost"]["usd"] == pytest.approx(TOTAL - COST["C"] + c_at_the_price_before)
    call(priced, "DELETE", "/pricing/hand-model?effective_from=2026-08-20T12:35:00Z", status=404)

    # re-price everything: one price since always, the model's other prices gone
    call(priced, "PUT", "/pricing/hand-model", {"input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1,
                                                "replace_history": True})
    hand = [item for item in call(priced, "GET", "/pricing").json()["items"] if item["model"] == "hand-model"]
    assert [item["effective_from"] for item in hand] == [None]
    models = {item["model"]: item["cost"]["usd"] for item in
              call(priced, "GET", "/usage/analysis?range=30d&group=model").json()["items"]}
    assert models["hand-model"] == pytest.approx((8000 * 1 + 800 * 2) / 1e6)  # 0.0096: every event at 1 / 2


def test_a_time_takes_effect_from_the_start_of_its_five_minutes(service_factory):
    service = service_factory(start=False, plain=True)
    saved = call(service, "PUT", "/pricing/m", {"effective_from": "2026-08-20T14:34:59.999+02:00", "input": 1,
                                                "output": 1, "cache_read": 0, "cache_write": 0}).json()
    assert saved["effective_from"] == "2026-08-20T12:30:00.000Z"
    old = call(service, "PUT", "/pricing/m", {"effective_from": "1969-12-31", "input": 2, "output": 2,
                                              "cache_read": 0, "cache_write": 0}).json()
    assert old["effective_from"] is None  # before any event: since always
    call(service, "DELETE", "/pricing/m?effective_from=2026-08-20T12:33:00Z")
    assert [item["effective_from"] for item in call(service, "GET", "/pricing").json()["items"]] == [None]


@pytest.mark.parametrize("bad", ["yesterday", "2026-02-30", 20260820, "2026-08-20T12:35", ""])
def test_an_effective_date_that_is_no_date_or_time_is_refused(service_factory, bad):
    service = service_factory(start=False, plain=True)
    body = call(service, "PUT", "/pricing", [{"model": "m", "effective_from": bad, "input": 1, "output": 1,
                                              "cache_read": 0, "cache_write": 0}], status=400).json()
    assert body["error"] == "invalid price field effective_from" and body["detail"]["value"] == bad
    assert call(service, "GET", "/pricing").json()["items"] == []
    body = call(service, "DELETE", "/pricing/m?effective_from=soon", status=400).json()
    assert body["error"] == "invalid query parameter effective_from"
    body = call(service, "PUT", "/pricing/m", {"input": 1, "output": 1, "cache_read": 0, "cache_write": 0,
                                               "replace_history": "yes"}, status=400).json()
    assert body["detail"]["field"] == "replace_history"


def test_a_users_dated_pattern_wins_from_its_date_the_defaults_before(store):
    store.upsert_prices([("gpt-*", parse_rfc3339_ms("2026-01-01T00:00:00Z"), 9.0, 9.0, 0.0, 0.0, None, *Store.NO_LONG_CONTEXT, ""),
                         ("gpt-5.4", parse_rfc3339_ms("2026-03-01T00:00:00Z"), 4.0, 4.0, 0.0, 0.0, None, *Store.NO_LONG_CONTEXT, "")])
    pricing = Pricing(store)
    before, january, march = (parse_rfc3339_ms(f"2026-{m}-15T00:00:00Z") for m in ("01", "02", "03"))
    assert pricing.lookup("gpt-5.4", before - 40 * 86_400_000) == (default_prices().prices["gpt-5.4"][0][1], "default",
                                                                        "gpt-5.4")
    assert pricing.lookup("gpt-5.4", january) == (Price(9.0, 9.0, 0.0, 0.0), "user", "gpt-*")
    assert pricing.lookup("gpt-5.4", march) == (Price(4.0, 4.0, 0.0, 0.0), "user", "gpt-5.4")
    jan, mar = parse_rfc3339_ms("2026-01-01T00:00:00Z"), parse_rfc3339_ms("2026-03-01T00:00:00Z")
    # (model, from, until, tier, bands from, bands until): the default's long-context price above 272k (band 5)
    assert [row[:6] for row in pricing.rows([("gpt-5.4", "")])] == [
        ("gpt-5.4", 0, jan, "", 0, 5), ("gpt-5.4", 0, jan, "", 5, 7), ("gpt-5.4", jan, mar, "", 0, 7),
        ("gpt-5.4", mar, 2**62, "", 0, 7)]
    assert pricing.rows([("never-priced", "")]) == []


def test_schema_14_keeps_the_prices_of_before_in_force_since_always(new_database):
    from test_instances import store_at_schema

    target = new_database()
    old = store_at_schema(target, 13)
    with old.write_lock:
        old._writer.execute("INSERT INTO model_prices (model, input, output, cache_read, cache_write, reasoning, "
                            "updated_ms) VALUES ('mine-*', 1.5, 2.5, 0.5, 0.75, NULL, 1234)")
    old.close()
    upgraded = Store(target)
    try:
        assert upgraded.load_prices() == [("mine-*", 0, 1.5, 2.5, 0.5, 0.75, None, *Store.NO_LONG_CONTEXT, "", 1234)]
        upgraded.upsert_prices([("mine-*", parse_rfc3339_ms("2026-01-01T00:00:00Z"), 3.0, 4.0, 0.0, 0.0, None, *Store.NO_LONG_CONTEXT, "")])
        assert [row[:2] for row in upgraded.load_prices()] == [("mine-*", 0), ("mine-*", 1_767_225_600_000)]
    finally:
        upgraded.close()


# The cost split by the kind of token it pays for: two models, each with a price change inside the range.
SPLIT_PRICES = [
    {"model": "split-a", "input": 1, "output": 10, "cache_read": 0.1, "cache_write": 2},
    {"model": "split-a", "effective_from": "2026-08-10T12:35:00Z", "input": 2, "output": 20, "cache_read": 0.2,
     "cache_write": 4, "reasoning": 40},  # inside a 15-minute bucket, and reasoning priced apart from then
    {"model": "split-b", "input": 3, "output": 6, "cache_read": 0.3, "cache_write": 3.75},
    {"model": "split-b", "effective_from": "2026-08-15", "input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1},
]
# time, model, new input, cache read, cache write, output (reasoning inside), reasoning
SPLIT_EVENTS = [
    ("2026-08-05T10:00:00Z", "split-a", 1000, 500, 200, 300, 100),  # 1000, 50, 400, 200 x 10, 100 x 10 (as output)
    ("2026-08-10T12:32:00Z", "split-a", 1000, 0, 0, 100, 0),        # 1000, 0, 0, 1000, 0
    ("2026-08-10T12:40:00Z", "split-a", 2000, 0, 0, 500, 200),      # 2000 x 2, 0, 0, 300 x 20, 200 x 40
    ("2026-08-12T00:00:00Z", "split-b", 3000, 1000, 400, 1000, 400),  # 9000, 300, 1500, 600 x 6, 400 x 6
    ("2026-08-16T00:00:00Z", "split-b", 1000, 0, 0, 100, 0),        # 1000 x 1, 0, 0, 100 x 2, 0
    ("2026-08-16T00:00:00Z", "split-none", 1000, 0, 0, 100, 0),     # no price
]


def split_event(ts, model, new_input, cache_read, cache_write, output, reasoning):
    return event(ts, model=model, api_key=KEY)._replace(
        input_tokens=new_input, cache_read_tokens=cache_read, cache_write_tokens=cache_write, output_tokens=output,
        reasoning_tokens=reasoning, total_tokens=new_input + cache_read + cache_write + output)


def test_the_cost_of_each_model_is_split_by_kind_of_token_at_the_price_of_each_events_time(new_database,
                                                                                        service_factory):
    service = service_factory(start=False, plain=True, TZ="UTC", **database_env(new_database()))
    service.analytics.clock = lambda: parse_rfc3339_ms(NOW)
    events = [split_event(*row) for row in SPLIT_EVENTS]
    service.store.write_batch(events, [], received=len(events))
    call(service, "PUT", "/pricing", SPLIT_PRICES)

    def split(query):
        items = call(service, "GET", f"/models/used?{query}").json()["items"]
        return {item["model"]: item["cost"] for item in items}

    assert split("range=30d") == {
        "split-a": {"usd": pytest.approx(0.02445), "unpriced_requests": 0, "tier_fallback_requests": 0,
                    "assumed_cache_write_tokens": 200, "by_kind": {
            "input": pytest.approx(0.006), "cache_read": pytest.approx(0.00005), "cache_write": pytest.approx(0.0004),
            "output": pytest.approx(0.009), "reasoning": pytest.approx(0.009)}},
        "split-b": {"usd": pytest.approx(0.018), "unpriced_requests": 0, "tier_fallback_requests": 0,
                    "assumed_cache_write_tokens": 400, "by_kind": {  # reasoning inside output
            "input": pytest.approx(0.01), "cache_read": pytest.approx(0.0003), "cache_write": pytest.approx(0.0015),
            "output": pytest.approx(0.0062), "reasoning": None}},
        "split-none": {"usd": 0.0, "unpriced_requests": 1, **NOTHING_ASSUMED, "by_kind": {
            "input": 0.0, "cache_read": 0.0, "cache_write": 0.0, "output": 0.0, "reasoning": None}}}
    # the same totals as the analysis
    analysis = {item["model"]: item["cost"]["usd"] for item in
                call(service, "GET", "/usage/analysis?range=30d&group=model").json()["items"]}
    assert analysis == {"split-a": pytest.approx(0.02445), "split-b": pytest.approx(0.018), "split-none": 0.0}
    # before split-a's change: reasoning is output there (its price then has none of its own)
    before = split("range=custom&start=2026-08-01T00:00:00Z&end=2026-08-10T12:35:00Z")
    assert before["split-a"]["by_kind"] == {"input": pytest.approx(0.002), "cache_read": pytest.approx(0.00005),
                                            "cache_write": pytest.approx(0.0004), "output": pytest.approx(0.004),
                                            "reasoning": None}
    after = split("range=custom&start=2026-08-15T00:00:00Z&end=2026-08-25T00:00:00Z")
    assert set(after) == {"split-b", "split-none"} and after["split-b"] == {
        "usd": pytest.approx(0.0012), "unpriced_requests": 0, **NOTHING_ASSUMED, "by_kind": {
            "input": pytest.approx(0.001), "cache_read": 0.0, "cache_write": 0.0, "output": pytest.approx(0.0002),
            "reasoning": None}}
