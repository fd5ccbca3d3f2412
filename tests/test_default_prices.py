"""The built-in prices: default_prices.json (a dated snapshot of genai-prices, made by
tools/price_snapshot.py) as the service reads it: its history priced at the price of each
event's time on SQLite and PostgreSQL, the owner's prices over it, models it lacks
unpriced; a missing or broken snapshot leaves every model unpriced and says why (start-up
warning, /status, /pricing); the tool's translation of the source, by hand."""

import datetime as dt
import json
import sys

import pytest

import cpa_usage
from conftest import ROOT, database_env
from cpa_usage import LongContext, Price, load_default_prices, parse_rfc3339_ms
from test_analytics import event
from test_metadata import api as call

sys.path.insert(0, str(ROOT / "tools"))
import price_snapshot  # noqa: E402 (the tool, beside the tests' path)

NOW = "2026-08-30T00:00:00Z"
NOTHING_ASSUMED = {"tier_fallback_requests": 0, "assumed_cache_write_tokens": 0}
TABLE = {"source": "genai-prices", "version": "9.9.9", "url": "https://example.invalid/prices", "date": "2026-08-01",
         "license": "MIT", "providers": ["hand"], "models": [
             {"id": "hand-model", "provider": "hand", "match": ["hand-model*", "hm"], "prices": [
                 {"from": None, "input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1},
                 {"from": "2026-08-10", "input": 3, "output": 6, "cache_read": 0.3, "cache_write": 3,
                  "tiers": {"input": [[200000, 6]]}}]},
             {"id": "late-model", "provider": "hand", "match": ["late-model"], "prices": [
                 {"from": "2026-08-10", "input": 10, "output": 20, "cache_read": 1, "cache_write": 10,
                  "reasoning": 40}]}]}


@pytest.fixture
def snapshot_file(tmp_path):
    def write(table=TABLE, text=None):
        path = tmp_path / "default_prices.json"
        path.write_text(json.dumps(table) if text is None else text)
        return str(path)
    return write


@pytest.fixture
def with_defaults(monkeypatch, snapshot_file, service_factory, new_database):
    """A service (SQLite, then PostgreSQL) whose built-in table is ``table``, its clock at NOW."""
    def make(table=TABLE, text=None, events=()):
        defaults = load_default_prices(snapshot_file(table, text))
        monkeypatch.setattr(cpa_usage, "default_prices", lambda: defaults)
        service = service_factory(start=False, plain=True, TZ="UTC", **database_env(new_database()))
        service.analytics.clock = lambda: parse_rfc3339_ms(NOW)
        service.store.write_batch(list(events), [], received=len(events))
        return service
    return make


def test_the_defaults_history_prices_each_event_at_its_time_and_the_owners_prices_win(with_defaults):
    service = with_defaults(events=[
        event("2026-08-05T00:00:00Z", model="hand-model-1", input_tokens=1000, output_tokens=100),  # 1 / 2: 0.0012
        event("2026-08-15T00:00:00Z", model="hand-model-1", input_tokens=1000, output_tokens=100),  # 3 / 6: 0.0036
        event("2026-08-25T00:00:00Z", model="hand-model-1", input_tokens=1000, output_tokens=100),  # owner's: 0.012
        event("2026-08-05T00:00:00Z", model="late-model", input_tokens=1000, output_tokens=100),    # unpriced yet
        event("2026-08-15T00:00:00Z", model="late-model", input_tokens=1000, output_tokens=100),    # 10 / 20: 0.012
        event("2026-08-15T00:00:00Z", model="not-in-the-snapshot")])
    call(service, "PUT", "/pricing/hand-model-1", {"effective_from": "2026-08-20", "input": 10, "output": 20,
                                                   "cache_read": 1, "cache_write": 10})
    models = {item["model"]: item["cost"] for item in
              call(service, "GET", "/usage/analysis?range=30d&group=model")["items"]}
    assert models["hand-model-1"] == {"usd": pytest.approx(0.0168), "unpriced_requests": 0, "unpriced_models": [],
                                      **NOTHING_ASSUMED}
    assert models["late-model"] == {"usd": pytest.approx(0.012), "unpriced_requests": 1, **NOTHING_ASSUMED,
                                    "unpriced_models": ["late-model"]}
    assert models["not-in-the-snapshot"] == {"usd": 0.0, "unpriced_requests": 1, **NOTHING_ASSUMED,
                                             "unpriced_models": ["not-in-the-snapshot"]}
    events = call(service, "GET", "/usage/events?range=30d&model=hand-model-1")["items"]
    assert [item["cost_usd"] for item in events] == [pytest.approx(0.012), pytest.approx(0.0036),
                                                     pytest.approx(0.0012)]
    lookup = service.pricing.lookup
    assert lookup("hm", parse_rfc3339_ms("2026-08-09T23:59:59.999Z")) == (Price(1, 2, 0.1, 1), "default", "hm")
    long_context = LongContext(200000, Price(6, 6, 0.3, 6))  # cache writes at the source's input price follow it
    assert lookup("hm", parse_rfc3339_ms("2026-08-10T00:00:00Z")) == (Price(3, 6, 0.3, 3, long_context=long_context),
                                                                      "default", "hm")
    assert lookup("late-model", parse_rfc3339_ms(NOW)) == (Price(10, 20, 1, 10, 40), "default", "late-model")


def test_an_event_whose_prompt_passes_the_long_context_threshold_pays_the_long_price_for_all_its_tokens(
        with_defaults):
    # hand-model from 2026-08-10: 3 / 6 / 0.3 / 3, above 200,000 prompt tokens input 6 (cache writes too,
    # priced as input by the source), output and cache reads keep their 6 and 0.3.
    service = with_defaults(events=[
        event("2026-08-15T00:01:00Z", model="hm", input_tokens=200_000, output_tokens=100),  # at it: 0.6 + 0.0006
        event("2026-08-15T00:02:00Z", model="hm", input_tokens=200_001, output_tokens=100),  # 1.200006 + 0.0006
        # 150,000 input and 100,000 cache reads: a prompt of 250,000, over it: 0.9 + 0.03 + 0.0006
        event("2026-08-15T00:03:00Z", model="hm", input_tokens=250_000, cached=100_000, output_tokens=100),
        event("2026-08-05T00:00:00Z", model="hm", input_tokens=200_001, output_tokens=100)])  # no tier yet: 0.2002
    events = call(service, "GET", "/usage/events?range=30d")["items"]
    assert [item["cost_usd"] for item in events] == [pytest.approx(0.9306), pytest.approx(1.200606),
                                                     pytest.approx(0.6006), pytest.approx(0.200201)]
    models = call(service, "GET", "/models/used?range=30d")["items"]
    assert models[0]["price"] == {"input": 3, "output": 6, "cache_read": 0.3, "cache_write": 3, "reasoning": None}


def test_the_price_list_and_status_say_where_the_defaults_come_from(with_defaults):
    service = with_defaults()
    about = {"source": "genai-prices", "version": "9.9.9", "url": "https://example.invalid/prices",
             "date": "2026-08-01", "models": 2, "error": None}
    defaults = call(service, "GET", "/pricing")["defaults"]
    assert {key: value for key, value in defaults.items() if key != "items"} == about
    assert [(item["model"], item["match"], item["effective_from"], item["input"], item["reasoning"])
            for item in defaults["items"]] == [
        ("hand-model", ["hand-model*", "hm"], None, 1, None),
        ("hand-model", ["hand-model*", "hm"], "2026-08-10T00:00:00.000Z", 3, None),
        ("late-model", ["late-model"], "2026-08-10T00:00:00.000Z", 10, 40)]
    assert service.status_report()["default_prices"] == about and service.warnings == []


def broken(**change):
    first = {**TABLE["models"][0], **change}
    return {**TABLE, "models": [first, *TABLE["models"][1:]]}


@pytest.mark.parametrize("table, text, reason", [
    (None, "", "JSONDecodeError"),
    (None, "[]", "TypeError"),
    ({key: value for key, value in TABLE.items() if key != "date"}, None, "KeyError('date')"),
    (broken(prices=[{"from": None, "input": -1, "output": 2, "cache_read": 0, "cache_write": 0}]), None,
     "invalid price field input"),
    (broken(prices=[{"from": None, "input": 1, "output": 2, "cache_read": 0}]), None,
     "invalid price field cache_write"),
    (broken(prices=[{"from": "2026-08-10", "input": 1, "output": 2, "cache_read": 0, "cache_write": 0},
                    {"from": None, "input": 1, "output": 2, "cache_read": 0, "cache_write": 0}]), None,
     "hand-model: its prices are not in the order they took effect"),
    (broken(prices=[{"from": "soon", "input": 1, "output": 2, "cache_read": 0, "cache_write": 0}]), None,
     "invalid price field effective_from"),
    (broken(match=["late-model"]), None, "late-model: pattern 'late-model' is no name, or another model's"),
    (broken(match=["two words"]), None, "pattern 'two words' is no name"),
    (broken(prices=[{"from": None, "input": 1, "output": 2, "cache_read": 0, "cache_write": 0,
                     "tiers": {"input": [[128000, 2]], "output": [[200000, 4]]}}]), None,
     "hand-model: its tiers are not one long-context threshold"),
    (broken(prices=[{"from": None, "input": 1, "output": 2, "cache_read": 0, "cache_write": 0,
                     "tiers": {"input": [[150000, 2]]}}]), None,  # the stored prompt bands cannot tell it
     "hand-model: its long-context threshold 150000 is none of the prompt bands' edges"),
])
def test_a_broken_snapshot_is_no_defaults_and_says_why(snapshot_file, table, text, reason):
    path = snapshot_file(table, text)
    defaults = load_default_prices(path)
    assert defaults.prices == {} and defaults.models == [] and defaults.about == {}
    assert defaults.error.startswith(f"no default prices: {path}: ") and reason in defaults.error


def test_without_a_snapshot_the_service_runs_every_model_unpriced_and_says_so(with_defaults, tmp_path):
    missing = tmp_path / "nowhere" / "default_prices.json"
    service = with_defaults(text="{")  # what a broken file gives, as a missing one does:
    assert load_default_prices(str(missing)).error.startswith(f"no default prices: {missing}: FileNotFoundError")
    service.store.write_batch([event("2026-08-29T00:00:00Z", model="gpt-5.4")], [], received=1)
    error = service.pricing.defaults.error
    assert error.startswith("no default prices: ") and "JSONDecodeError" in error
    assert service.warnings == [error]
    assert service.status_report()["default_prices"] == {"source": None, "version": None, "url": None, "date": None,
                                                         "models": 0, "error": error}
    assert call(service, "GET", "/pricing")["defaults"]["error"] == error
    cost = call(service, "GET", "/usage/overview?range=7d")["summary"]["cost"]
    assert cost == {"usd": 0.0, "unpriced_requests": 1, "unpriced_models": ["gpt-5.4"],  # unpriced, not free
                    **NOTHING_ASSUMED}


def test_the_shipped_snapshot_loads_and_is_the_pinned_release(service_factory):
    """default_prices.json is what the tool's pins say, and the models CPA serves that it
    lacks stay unpriced while those it has are priced from it."""
    table = json.loads((ROOT / "default_prices.json").read_text())
    assert (table["source"], table["version"]) == (price_snapshot.PACKAGE, price_snapshot.VERSION)
    assert table["providers"] == list(price_snapshot.PROVIDERS) and "Pydantic Services Inc." in table["license"]
    defaults = cpa_usage.default_prices()
    assert defaults.error is None and defaults.about["date"] == table["date"]
    service = service_factory(start=False, plain=True, TZ="UTC")
    service.analytics.clock = lambda: parse_rfc3339_ms(NOW)
    service.store.put_metadata("models", [{"id": "gpt-5.4"}, {"id": "claude-sonnet-4-5-20250929"},
                                          {"id": "qwen3-coder-plus"}, {"id": "iflow-rome-30ba3b"}])
    used = {item["model"]: (item["priced"], item["price_pattern"]) for item in
            call(service, "GET", "/models/used")["items"]}
    assert used == {"gpt-5.4": (True, "gpt-5.4"), "claude-sonnet-4-5-20250929": (True, "claude-sonnet-4-5*"),
                    "qwen3-coder-plus": (False, None), "iflow-rome-30ba3b": (False, None)}
    # long context as the makers bill it: Claude Sonnet 4.5 above 200k, GPT-5.4 above 272k (its cache
    # writes, which the source leaves at the input price, at the long input price)
    assert defaults.prices["claude-sonnet-4-5*"][0][1].long_context == LongContext(200000, Price(6, 22.5, 0.6, 7.5))
    assert defaults.prices["gpt-5.4"][0][1].long_context == LongContext(272000, Price(5, 22.5, 0.5, 5))


# The tool, on a source made by hand in the shape of genai_prices/data.py's literals.

def clause(kind, **fields):
    return {"_": kind, **fields}


def price(**fields):
    return {"_": "ModelPrice", **fields}


def dec(text):
    from decimal import Decimal
    return Decimal(text)


SOURCE = [{"id": "maker", "models": [
    {"id": "Model-A", "match": clause("ClauseOr", or_=[
        clause("ClauseEquals", equals="Model-A"), clause("ClauseStartsWith", starts_with="model-a-"),
        clause("ClauseRegex", regex=r"^model-a\.\d+-\d{4}-\d{2}-\d{2}$"),
        clause("ClauseAnd", and_=[clause("ClauseStartsWith", starts_with="model-a-x"),
                                  clause("ClauseRegex", regex="^(?!.*-tts)")])]),
     "prices": [
         {"_": "ConditionalPrice", "constraint": None, "prices": price(
             input_mtok=dec("1.25"), output_mtok=dec("10"), cache_read_mtok=dec("0.125"),
             output_reasoning_mtok={"_": "TieredPrices", "base": dec("12"),
                                    "tiers": [{"_": "Tier", "start": 200000, "price": dec("18")}]})},
         {"_": "ConditionalPrice", "constraint": {"_": "StartDateConstraint", "start_date": dt.date(2026, 5, 1)},
          "prices": price(input_mtok=dec("2"), output_mtok=dec("8"), cache_write_mtok=dec("2.5"),
                          web_searches_kcount=dec("10"))},
         # off-peak prices 6 hours a day: the days keep the price of the other 18
         {"_": "ConditionalPrice", "constraint": {"_": "TimeOfDateConstraint", "start_time": dt.time(1, 0),
                                                  "end_time": dt.time(7, 0)},
          "prices": price(input_mtok=dec("0.5"), output_mtok=dec("4"))}]},
    {"id": "embedder", "match": clause("ClauseContains", contains="embed"),
     "prices": price(input_mtok=dec("0.02"))},  # no output price: left out, unpriced
    {"id": "model-b", "match": clause("ClauseOr", or_=[clause("ClauseEndsWith", ends_with="-b"),
                                                       clause("ClauseEquals", equals="model-a"),
                                                       clause("ClauseRegex", regex="^model-(a|b)$")]),
     "prices": [
         {"_": "ConditionalPrice", "prices": price(input_mtok=dec("3"), output_mtok=dec("15"),
                                                   cache_read_mtok=dec("0.3"), cache_write_mtok=dec("3.75"))},
         # peak prices 16 hours a day (from 00:30 to 16:30 UTC): every day is priced at them
         {"_": "ConditionalPrice", "constraint": {"_": "TimeOfDateConstraint", "start_time": dt.time(0, 30),
                                                  "end_time": dt.time(16, 30)},
          "prices": price(input_mtok=dec("6"), output_mtok=dec("30"), cache_read_mtok=dec("0.6"))}]},
]}]


def test_the_tool_translates_patterns_prices_dates_and_tiers_by_hand(monkeypatch):
    monkeypatch.setattr(price_snapshot, "PROVIDERS", ("maker",))
    table, report = price_snapshot.snapshot(SOURCE, "MIT text", "2026-12-07")
    assert {key: table[key] for key in ("source", "version", "date", "license", "providers")} == {
        "source": "genai-prices", "version": price_snapshot.VERSION, "date": "2026-12-07", "license": "MIT text",
        "providers": ["maker"]}
    first, second = table["models"]  # the embedder has no output price: left out, unpriced
    assert first == {"id": "Model-A", "provider": "maker",
                     "match": ["model-a", "model-a-*", "model-a.*-*-*-*", "model-a-x*"], "prices": [
                         # no cache write price: billed as input; reasoning's tier kept, its base priced
                         {"from": None, "input": 1.25, "output": 10, "cache_read": 0.125, "cache_write": 1.25,
                          "reasoning": 12, "tiers": {"reasoning": [[200000, 18]]}},
                         {"from": "2026-05-01", "input": 2, "output": 8, "cache_read": 2, "cache_write": 2.5}]}
    assert second == {"id": "model-b", "provider": "maker", "match": ["*-b"], "prices": [
        {"from": None, "input": 6, "output": 30, "cache_read": 0.6, "cache_write": 6}]}
    assert report == ["maker/model-b: rule not translated: ^model-(a|b)$",
                      "maker/model-b: pattern 'model-a' is maker/Model-A's"]


@pytest.mark.parametrize("regex, pattern", [
    (r"^claude-opus-5[-@]\d{8}$", "claude-opus-5*"), (r"^gemini-3\.5-flash-\d", "gemini-3.5-flash-*"),
    (r"grok-4\.3$", "*grok-4.3"), (r"^x-ai/grok-4\.3-\d{8}$", "x-ai/grok-4.3-*"), (r"^a(b|c)$", None),
])
def test_the_tool_turns_a_regex_of_literals_and_classes_into_a_pattern(regex, pattern):
    assert price_snapshot.regex_pattern(regex) == pattern
