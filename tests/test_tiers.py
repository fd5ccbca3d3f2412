"""Tiers (issue 22, part 2): long-context prices and service tiers priced right in every
sum over a range, not only per event. By hand, on SQLite and PostgreSQL: a request just at
and one just over a 200k threshold; a priority request with the owner's priority price,
one without any (the standard price, counted), a request that asked for priority and was
served at the standard tier; an unpriced model stays unpriced (never free); cache writes
priced at the 5-minute rate are counted; schema 18 comes to a database of schema 17."""

import itertools
import time

import pytest

from conftest import database_env, encode, record, wsgi_call
from cpa_usage import (PROMPT_TOKENS, ROLLUP_MEASURES, Store, decode_payload, parse_rfc3339_ms, prompt_band,
                       rollup_rows, served_tier)
from test_dated_prices import call
from test_instances import (ROLLUPS_BEFORE_SCHEMA_20, insert_events_before_schema_18, rollup_rows_before_schema_18,
                            store_at_schema)

NOW = "2026-08-25T00:00:00Z"
KEY = "sk-team-alpha-7f3c"
SONNET = "claude-sonnet-4-5-20250929"  # built-in: 3 in / 15 out / 0.3 cache read / 3.75 cache write; over 200k
# prompt tokens 6 / 22.5 / 0.6 / 7.5 for all the request's tokens
_ids = itertools.count()


def tiered(ts, model, new_input, cache_read=0, cache_write=0, output=100, requested="auto", responded=None,
           claude=False):
    """A v7.2 record of CPA's, decoded: its token breakdown complete, its tiers as given
    (``responded`` None: a CPA before v7.2.65, which sends none)."""
    fields = {"timestamp": ts, "model": model, "api_key": KEY, "request_id": f"tier-{next(_ids)}",
              "service_tier": requested, "provider": "claude" if claude else "codex",
              "executor_type": "ClaudeExecutor" if claude else "CodexExecutor",
              "tokens": {"input_tokens": new_input if claude else new_input + cache_read + cache_write,
                         "output_tokens": output, "reasoning_tokens": 0, "cached_tokens": cache_read,
                         "cache_read_tokens": cache_read, "cache_creation_tokens": cache_write,
                         "total_tokens": new_input + cache_read + cache_write + output},
              "token_breakdown": {"schema_version": 2, "quality": "complete",
                                  "total_tokens": new_input + cache_read + cache_write + output,
                                  "input": {"total_tokens": new_input + cache_read + cache_write,
                                            "uncached_tokens": new_input, "cache_read_tokens": cache_read,
                                            "cache_write_tokens": cache_write},
                                  "output": {"total_tokens": output, "non_reasoning_tokens": output,
                                             "reasoning_tokens": 0}, "unclassified_tokens": 0}}
    payload = record(**fields)
    if responded is None:
        payload.pop("response_service_tier", None)
    else:
        payload["response_service_tier"] = responded
    return decode_payload(encode(payload), parse_rfc3339_ms(NOW))


# Each event and its cost by hand (USD per 1M tokens).
EVENTS = {
    # prompt 150,000 + 40,000 + 10,000 = 200,000: not MORE than 200k, the base price:
    # 150,000 x 3 + 40,000 x 0.3 + 10,000 x 3.75 + 1,000 x 15 = 0.5145
    "at": tiered("2026-08-20T10:02:00Z", SONNET, 150_000, 40_000, 10_000, 1_000, claude=True),
    # one token more, 200,001: every token at the long price:
    # 150,001 x 6 + 40,000 x 0.6 + 10,000 x 7.5 + 1,000 x 22.5 = 1.021506
    "over": tiered("2026-08-20T10:07:00Z", SONNET, 150_001, 40_000, 10_000, 1_000, claude=True),
    # tier-model: the owner's 1 / 2 / 0.1 / 1, and for priority 2 / 4 / 0.2 / 2; 1,000 in, 100 out
    "standard": tiered("2026-08-20T11:00:00Z", "tier-model", 1_000, responded="default"),   # 0.0012
    "priority": tiered("2026-08-20T11:05:00Z", "tier-model", 1_000, requested="priority",
                       responded="priority"),                                               # 0.0024
    # asked for priority, served at the standard tier (what the upstream reported): 0.0012
    "asked": tiered("2026-08-20T11:10:00Z", "tier-model", 1_000, requested="priority", responded="default"),
    # a CPA before v7.2.65 tells only what was asked: priority, 0.0024
    "older_cpa": tiered("2026-08-20T11:15:00Z", "tier-model", 1_000, requested="priority"),
    # flex, which has no price of its own: the standard price, 0.0012, counted
    "flex": tiered("2026-08-20T11:20:00Z", "tier-model", 1_000, requested="flex", responded="flex"),
    # gpt-5.4 at priority, priced by nobody at that tier: the built-in standard 2.5 / 15: 0.004, counted
    "gpt_priority": tiered("2026-08-20T11:25:00Z", "gpt-5.4", 1_000, requested="priority", responded="priority"),
    # no price at all, over 200k and at priority: unpriced (not free, not "standard"), its cache writes not counted
    "unpriced": tiered("2026-08-20T11:30:00Z", "mystery-model", 200_000, 45_000, 5_000, claude=True,
                       requested="priority", responded="priority"),
}
COST = {"at": 0.5145, "over": 1.021506, "standard": 0.0012, "priority": 0.0024, "asked": 0.0012,
        "older_cpa": 0.0024, "flex": 0.0012, "gpt_priority": 0.004, "unpriced": None}
TOTAL = 1.548406
TIER_PRICES = [{"model": "tier-model", "input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1},
               {"model": "tier-model", "tier": "priority", "input": 2, "output": 4, "cache_read": 0.2,
                "cache_write": 2}]


@pytest.fixture
def priced(new_database, service_factory):
    """A service (SQLite, then PostgreSQL) holding EVENTS and TIER_PRICES, its clock at NOW."""
    service = service_factory(start=False, plain=True, TZ="UTC", **database_env(new_database()))
    service.analytics.clock = lambda: parse_rfc3339_ms(NOW)
    service.store.write_batch(list(EVENTS.values()), [], received=len(EVENTS))
    call(service, "PUT", "/pricing", TIER_PRICES)
    return service


def costs_by_model(service, query="range=30d"):
    return {item["model"]: item["cost"] for item in
            call(service, "GET", f"/usage/analysis?{query}&group=model").json()["items"]}


def test_every_sum_prices_each_request_at_its_long_context_price_and_its_tier(priced):
    summary = call(priced, "GET", "/usage/overview?range=30d").json()["summary"]
    assert summary["cost"] == {"usd": pytest.approx(TOTAL), "unpriced_requests": 1,
                               "unpriced_models": ["mystery-model"], "tier_fallback_requests": 2,  # flex, and gpt-5.4 at priority
                               "assumed_cache_write_tokens": 20_000}  # at and over; not the unpriced model's
    assert costs_by_model(priced) == {
        SONNET: {"usd": pytest.approx(COST["at"] + COST["over"]), "unpriced_requests": 0, "unpriced_models": [],
                 "tier_fallback_requests": 0, "assumed_cache_write_tokens": 20_000},
        "tier-model": {"usd": pytest.approx(0.0084), "unpriced_requests": 0, "unpriced_models": [],
                       "tier_fallback_requests": 1, "assumed_cache_write_tokens": 0},
        "gpt-5.4": {"usd": pytest.approx(0.004), "unpriced_requests": 0, "unpriced_models": [],
                    "tier_fallback_requests": 1, "assumed_cache_write_tokens": 0},
        "mystery-model": {"usd": 0.0, "unpriced_requests": 1, "unpriced_models": ["mystery-model"],
                          "tier_fallback_requests": 0, "assumed_cache_write_tokens": 0}}
    day = [d for d in call(priced, "GET", "/usage/overview?range=30d").json()["daily"] if d["requests"]]
    assert [d["date"] for d in day] == ["2026-08-20"] and day[0]["cost"]["usd"] == pytest.approx(TOTAL)
    credentials = call(priced, "GET", "/usage/credentials?range=30d").json()["items"]
    assert sum(item["cost"]["usd"] for item in credentials) == pytest.approx(TOTAL)
    metrics = wsgi_call(priced.app, "GET", "/usage/metrics").body.decode()
    assert sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("cpa_usage_cost_usd_total{")) == pytest.approx(TOTAL)
    # the single events, as before
    items = call(priced, "GET", "/usage/events?range=30d&page_size=100").json()["items"]
    by_request = {item["request_id"]: item["cost_usd"] for item in items}
    assert {name: by_request[event.request_id] for name, event in EVENTS.items()} == {
        name: None if cost is None else pytest.approx(cost) for name, cost in COST.items()}


def test_the_long_context_price_is_split_by_kind_and_holds_at_unaligned_edges(priced):
    used = {item["model"]: item["cost"] for item in call(priced, "GET", "/models/used?range=30d").json()["items"]}
    assert used[SONNET] == {"usd": pytest.approx(1.536006), "unpriced_requests": 0, "tier_fallback_requests": 0,
                            "assumed_cache_write_tokens": 20_000, "by_kind": {
                                "input": pytest.approx(0.45 + 0.900006), "cache_read": pytest.approx(0.012 + 0.024),
                                "cache_write": pytest.approx(0.0375 + 0.075), "output": pytest.approx(0.015 + 0.0225),
                                "reasoning": None}}
    # 10:01 .. 10:09: both events from raw events (edges inside 5 minutes), each at its price
    edges = costs_by_model(priced, "range=custom&start=2026-08-20T10:01:00Z&end=2026-08-20T10:09:00Z")
    assert edges[SONNET]["usd"] == pytest.approx(COST["at"] + COST["over"])
    # 11:01 .. 11:24: priority, asked and older_cpa from the 5-minute rollup, flex from raw events
    mixed = costs_by_model(priced, "range=custom&start=2026-08-20T11:01:00Z&end=2026-08-20T11:24:00Z")
    assert mixed["tier-model"] == {"usd": pytest.approx(0.0072), "unpriced_requests": 0, "unpriced_models": [],
                                   "tier_fallback_requests": 1, "assumed_cache_write_tokens": 0}


def test_a_tier_price_is_the_owners_to_set_list_and_remove(priced):
    items = [item for item in call(priced, "GET", "/pricing").json()["items"] if item["model"] == "tier-model"]
    assert [(item["tier"], item["input"]) for item in items] == [(None, 1), ("priority", 2)]
    saved = call(priced, "PUT", "/pricing/tier-model", {"tier": "flex", "input": 0.5, "output": 1, "cache_read": 0.05,
                                                        "cache_write": 0.5}).json()
    assert (saved["tier"], saved["input"]) == ("flex", 0.5)
    assert costs_by_model(priced)["tier-model"] == {"usd": pytest.approx(0.0084 - 0.0006), "unpriced_requests": 0,
                                                    "unpriced_models": [], "tier_fallback_requests": 0,
                                                    "assumed_cache_write_tokens": 0}
    # without its priority price, the two requests served at priority take the standard one, counted
    call(priced, "DELETE", "/pricing/tier-model?tier=priority")
    call(priced, "DELETE", "/pricing/tier-model?tier=priority", status=404)
    assert [item["tier"] for item in call(priced, "GET", "/pricing").json()["items"]
            if item["model"] == "tier-model"] == [None, "flex"]
    cost = costs_by_model(priced)["tier-model"]
    assert (cost["usd"], cost["tier_fallback_requests"]) == (pytest.approx(0.0078 - 0.0024), 2)
    # "default" (and "standard", "auto") is the standard tier; a name with a space is none
    standard = call(priced, "PUT", "/pricing/tier-model", {"tier": "default", "input": 1, "output": 2,
                                                           "cache_read": 0.1, "cache_write": 1}).json()
    assert standard["tier"] is None
    refused = call(priced, "PUT", "/pricing", [{"model": "tier-model", "tier": "very fast", "input": 1, "output": 2,
                                                "cache_read": 0, "cache_write": 0}], status=400).json()
    assert refused["error"] == "invalid price field tier" and refused["detail"]["value"] == "very fast"
    refused = call(priced, "DELETE", "/pricing/tier-model?tier=very%20fast", status=400).json()
    assert refused["error"] == "invalid query parameter tier"


def test_the_rollups_keep_a_band_only_where_a_price_of_its_model_tells_it_apart(store):
    events = [tiered("2026-08-20T10:00:00Z", SONNET, 150_000),  # band 2: below Sonnet's 200k, as band 0
              tiered("2026-08-20T10:01:00Z", SONNET, 600_000),  # band 6: above 200k (band 4 on)
              tiered("2026-08-20T10:02:00Z", "gpt-5.4", 300_000),  # band 5: above GPT-5.4's 272k (band 5 on)
              tiered("2026-08-20T10:03:00Z", "gpt-5.4-mini", 300_000),  # no long-context price: band 0
              tiered("2026-08-20T10:04:00Z", "mystery-model", 300_000)]  # no price at all: band 0
    store.write_batch(events, [], received=len(events))
    raw = store.reader.execute("SELECT model, prompt_band FROM usage_events ORDER BY ts_ms").fetchall()
    assert [band for _, band in raw] == [2, 6, 5, 5, 5]  # the raw event keeps its own
    assert sorted(store.reader.execute("SELECT model, prompt_band, requests FROM usage_series_daily")) == [
        (SONNET, 0, 1), (SONNET, 4, 1), ("gpt-5.4", 5, 1), ("gpt-5.4-mini", 0, 1), ("mystery-model", 0, 1)]


@pytest.mark.parametrize(("prompt", "band"), [(0, 0), (100_000, 0), (100_001, 1), (128_000, 1), (128_001, 2),
                                              (199_999, 2), (200_000, 3), (200_001, 4), (272_000, 4), (272_001, 5),
                                              (512_000, 5), (512_001, 6)])
def test_a_prompts_band_is_how_many_thresholds_it_passes(prompt, band):
    assert prompt_band(prompt) == band


@pytest.mark.parametrize(("requested", "responded", "served"), [
    ("auto", None, ""), ("default", None, ""), ("priority", None, "priority"), ("priority", "default", ""),
    ("auto", "flex", "flex"), ("priority", "", "priority"), ("standard", None, ""), (None, None, ""),
    ("auto", "scale", "scale")])
def test_the_served_tier_is_what_the_upstream_reported_else_what_was_asked(requested, responded, served):
    assert served_tier(requested, responded) == served


# -- schema 18 ------------------------------------------------------------------------------

RAW_SINCE = "2026-08-10T03:00:00Z"  # the retention sweep's cut: the raw events before it are gone


def test_schema_18_sums_the_kept_raw_events_again_and_keeps_the_rest_as_standard(new_database, service_factory):
    """Buckets whose raw events are all kept are summed again from them, with their bands
    and tiers, exactly as ingest sums them; the others keep their rows, as band 0 and the
    standard tier; no row is lost; the owner's prices become the standard tier's."""
    target = new_database()
    kept = {  # raw events still kept, at the long-context edges too (the migration's SQL bands them)
        "over": tiered("2026-08-20T10:07:00Z", SONNET, 150_001, 40_000, 10_000, 1_000, claude=True),
        "plain": tiered("2026-08-20T10:20:00Z", SONNET, 1_000, claude=True),  # 0.003 + 0.0015
        "priority": tiered("2026-08-20T11:05:00Z", "tier-model", 1_000, requested="priority", responded="priority"),
        "older_cpa": tiered("2026-08-20T11:15:00Z", "tier-model", 1_000, requested="priority"),
        "empty_answer": tiered("2026-08-21T12:00:00Z", "edge-model", 1_000, requested="flex", responded=""),
        **{f"edge_{prompt}": tiered(f"2026-08-21T{i:02d}:00:00Z", "edge-model", prompt)
           for i, prompt in enumerate((100_000, 100_001, 199_999, 200_000, 272_001, 512_001))},
        "after_cut": tiered("2026-08-10T05:00:00Z", SONNET, 150_001, 40_000, 10_000, 1_000, claude=True),
    }
    gone = {  # in the rollups only: before the cut
        "old": tiered("2026-08-01T10:00:00Z", SONNET, 150_001, 40_000, 10_000, 1_000, claude=True),
        "before_cut": tiered("2026-08-10T02:00:00Z", SONNET, 1_000, claude=True),
    }
    old = store_at_schema(target, 17)
    insert_events_before_schema_18(old, list(kept.values()))
    with old.write_lock:
        for rollup, rows in rollup_rows_before_schema_18([*kept.values(), *gone.values()]).items():
            old._writer.executemany(f"INSERT INTO {rollup.table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        old._writer.execute("INSERT INTO model_prices (model, effective_from_ms, input, output, cache_read, "
                            "cache_write, reasoning, updated_ms) VALUES ('tier-model', 0, 1, 2, 0.1, 1, NULL, 1234)")
    old.set_meta("raw_events_since", str(parse_rfc3339_ms(RAW_SINCE)))
    sums = ", ".join(f"SUM({m})" for m in ROLLUP_MEASURES)
    before = {r.table: old.reader.execute(f"SELECT {sums} FROM {r.table}").fetchone() for r in ROLLUPS_BEFORE_SCHEMA_20}
    old.close()

    new = Store(target)
    try:
        bands = dict(new.reader.execute("SELECT request_id, prompt_band FROM usage_events").fetchall())
        tiers = dict(new.reader.execute("SELECT request_id, served_tier FROM usage_events").fetchall())
        assert bands == {e.request_id: prompt_band(sum(getattr(e, name) for name in PROMPT_TOKENS))
                         for e in kept.values()}
        assert [bands[kept[f"edge_{p}"].request_id] for p in (100_000, 100_001, 199_999, 200_000, 272_001, 512_001)
                ] == [0, 1, 2, 3, 5, 6]
        assert tiers == {e.request_id: e.served_tier for e in kept.values()}
        assert [tiers[kept[name].request_id] for name in ("priority", "older_cpa", "empty_answer")] == [
            "priority", "priority", "flex"]
        assert {r.table: new.reader.execute(f"SELECT {sums} FROM {r.table}").fetchone()
                for r in ROLLUPS_BEFORE_SCHEMA_20} == before
        # the days kept whole (08-20, 08-21) are their raw events summed, at every grain, each with the band
        # its raw event has (ingest keeps only the bands a price of the model tells apart: priced the same)
        ingest = rollup_rows([e for e in kept.values() if e.ts_ms >= parse_rfc3339_ms("2026-08-20T00:00:00Z")])
        for rollup in ROLLUPS_BEFORE_SCHEMA_20:
            stored = new.reader.execute(f"SELECT * FROM {rollup.table} WHERE bucket_ms >= ?",
                                        (parse_rfc3339_ms("2026-08-20T00:00:00Z"),)).fetchall()
            assert sorted(stored) == sorted(ingest[rollup]), rollup.table
        # 08-01 has no raw events: as it was, band 0 (the long request's price will be the base one)
        full = [r for r in ROLLUPS_BEFORE_SCHEMA_20 if r.table.startswith("usage_rollup")]
        for rollup in full:
            rows = new.reader.execute(f"SELECT prompt_band, served_tier, requests FROM {rollup.table} "
                                      "WHERE bucket_ms < ?", (parse_rfc3339_ms("2026-08-02T00:00:00Z"),)).fetchall()
            assert rows == [(0, "", 1)], rollup.table
        # 08-10: its 05:00 hour is whole (summed again: band 4), the day is not (the cut went through it)
        day = parse_rfc3339_ms("2026-08-10T00:00:00Z")
        assert sorted(new.reader.execute("SELECT bucket_ms, prompt_band, requests FROM usage_rollup_hourly "
                                         "WHERE bucket_ms >= ? AND bucket_ms < ?", (day, day + 86_400_000))) == [
            (day + 2 * 3_600_000, 0, 1), (day + 5 * 3_600_000, 4, 1)]
        assert new.reader.execute("SELECT prompt_band, requests FROM usage_rollup_daily WHERE bucket_ms = ?",
                                  (day,)).fetchall() == [(0, 2)]
        assert new.load_prices() == [("tier-model", 0, 1.0, 2.0, 0.1, 1.0, None, *Store.NO_LONG_CONTEXT, "", 1234)]
    finally:
        new.close()

    service = service_factory(start=False, plain=True, TZ="UTC", **database_env(target))
    service.analytics.clock = lambda: parse_rfc3339_ms(NOW)
    call(service, "PUT", "/pricing/tier-model", {"tier": "priority", "input": 2, "output": 4, "cache_read": 0.2,
                                                 "cache_write": 2})
    models = costs_by_model(service)
    # over at the long price (1.021506), plain 0.0045, after_cut at the base price in the whole-day sum
    # (0.514503, its day read from the daily rollup), old at the base price (0.514503), before_cut 0.0045
    assert models[SONNET]["usd"] == pytest.approx(1.021506 + 0.0045 + 0.514503 + 0.514503 + 0.0045)
    assert models["tier-model"] == {"usd": pytest.approx(0.0048), "unpriced_requests": 0, "unpriced_models": [],
                                    "tier_fallback_requests": 0, "assumed_cache_write_tokens": 0}
    # the hours around the cut's 05:00 are read from hours: the long price there
    hours = costs_by_model(service, "range=custom&start=2026-08-10T04:00:00Z&end=2026-08-10T06:00:00Z")
    assert hours[SONNET]["usd"] == pytest.approx(1.021506)


# -- the owner's long-context prices --------------------------------------------------------

LONG_PRICE = {"input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1,
              "long_context": {"above": 128_000, "input": 2, "output": 4, "cache_read": 0.2, "cache_write": 2}}
# long-model has no price of the built-in table: the owner's 1 / 2 / 0.1 / 1, above 128k prompt tokens 2 / 4 / 0.2 / 2
LONG_EVENTS = {
    # before raw retention's cut (CUT): only its rollups are left, at band 0: the base price,
    # 128,001 x 1 + 100 x 2 = 0.128201
    "gone": tiered("2026-08-18T10:00:00Z", "long-model", 128_001),
    # 128,000 + 100 out: not more than 128k, the base price: 0.1282 (its raw event gone too)
    "at": tiered("2026-08-21T09:00:00Z", "long-model", 128_000),
    # one token more, 100,001 new + 28,000 cache reads, on the day the cut went through: all at the long
    # price, 100,001 x 2 + 28,000 x 0.2 + 100 x 4 = 0.206002 (at the base price 0.103001)
    "over": tiered("2026-08-22T09:00:00Z", "long-model", 100_001, cache_read=28_000),
    # the next day, 150,000 x 2 + 100 x 4 = 0.3004 (at the base price 0.1502)
    "next_day": tiered("2026-08-23T03:00:00Z", "long-model", 150_000),
}
CUT = "2026-08-22T08:00:00Z"


def sums_of(service, model):
    """A model's cost in every sum over 30 days: (overview, analysis, credentials, /metrics)."""
    overview = call(service, "GET", f"/usage/overview?range=30d&model={model}").json()["summary"]["cost"]["usd"]
    credentials = sum(item["cost"]["usd"] for item in
                      call(service, "GET", f"/usage/credentials?range=30d&model={model}").json()["items"])
    metrics = wsgi_call(service.app, "GET", "/usage/metrics").body.decode()
    exported = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                   if line.startswith("cpa_usage_cost_usd_total{") and f'model="{model}"' in line)
    return overview, costs_by_model(service)[model]["usd"], credentials, exported


def test_an_owners_long_context_price_bills_every_sum_and_bands_the_kept_history_again(priced):
    store = priced.store
    store.write_batch(list(LONG_EVENTS.values()), [], received=len(LONG_EVENTS))
    store.delete_events_before(parse_rfc3339_ms(CUT))
    assert sums_of(priced, "long-model") == (0, 0, 0, 0)  # unpriced so far
    saved = call(priced, "PUT", "/pricing/long-model", LONG_PRICE).json()
    assert saved["long_context"] == {"above": 128_000, "input": 2, "output": 4, "cache_read": 0.2,
                                     "cache_write": 2, "reasoning": None}
    # the rollups lumped 128,001 with shorter prompts: until they are banded again, the base price
    assert sums_of(priced, "long-model") == tuple([pytest.approx(0.128201 + 0.1282 + 0.103001 + 0.1502)] * 4)
    job = call(priced, "GET", "/status").json()["rebanding"]
    assert job["models"] == ["long-model"] and job["done_until"] == "2026-08-22T08:00:00.000Z"
    steps = list(iter(store.reband_step, None))
    # the hours of 08-22 09:00 and 08-23 03:00, the hours between without its events skipped
    assert [(step["next_ms"], step["done"]) for step in steps] == [
        (parse_rfc3339_ms("2026-08-23T03:00:00Z"), False), (steps[0]["end_ms"], True)]
    assert call(priced, "GET", "/status").json()["rebanding"] is None
    assert sums_of(priced, "long-model") == tuple([pytest.approx(0.128201 + 0.1282 + 0.206002 + 0.3004)] * 4)
    # every grain: the days (the one the cut went through too) are their finest rows summed again
    for table in ("usage_series", "usage_series_hourly", "usage_series_daily", "usage_keys_daily",
                  "usage_credentials_daily", "usage_rollup_daily"):
        bands = store.reader.execute(f"SELECT prompt_band, requests FROM {table} WHERE model = 'long-model' "
                                     "ORDER BY bucket_ms").fetchall()
        assert bands == [(0, 1), (0, 1), (2, 1), (2, 1)], table
    for table in ("usage_series_4weekly", "usage_keys_4weekly", "usage_credentials_4weekly"):  # from the days
        bands = store.reader.execute(f"SELECT prompt_band, SUM(requests) FROM {table} WHERE model = 'long-model' "
                                     "GROUP BY prompt_band ORDER BY prompt_band").fetchall()
        assert bands == [(0, 2), (2, 2)], table
    # what is stored after the price is banded as it comes: 272,001 reaches band 2 (kept), long price:
    # 272,001 x 2 + 100 x 4 = 0.544402
    late = tiered("2026-08-23T09:00:00Z", "long-model", 272_001)
    store.write_batch([late], [], received=1)
    assert store.rebanding() is None
    assert sums_of(priced, "long-model") == tuple([pytest.approx(0.128201 + 0.1282 + 0.206002 + 0.3004
                                                                 + 0.544402)] * 4)
    # every other model's rows as they were: the job touched long-model only
    assert costs_by_model(priced)[SONNET]["usd"] == pytest.approx(COST["at"] + COST["over"])
    events = {item["request_id"]: item["cost_usd"] for item in
              call(priced, "GET", "/usage/events?range=30d&model=long-model").json()["items"]}
    assert events == {LONG_EVENTS["next_day"].request_id: pytest.approx(0.3004),
                      LONG_EVENTS["over"].request_id: pytest.approx(0.206002),
                      late.request_id: pytest.approx(0.544402)}


def test_a_long_context_price_the_rollups_tell_apart_already_needs_no_rebanding(priced):
    # Sonnet's built-in tier begins above 200k: the owner's own at 200k keeps the same bands
    call(priced, "PUT", "/pricing", [{"model": SONNET, "input": 1, "output": 1, "cache_read": 0, "cache_write": 0,
                                      "long_context": {"above": 200_000, "input": 10, "output": 10, "cache_read": 0,
                                                       "cache_write": 0}}])
    assert priced.store.rebanding() is None
    # at: 150,000 x 1 + 1,000 x 1 = 0.151; over: 150,001 x 10 + 1,000 x 10 = 1.51001 (the cache at 0)
    assert costs_by_model(priced)[SONNET]["usd"] == pytest.approx(0.151 + 1.51001)


def test_a_long_context_price_is_checked_field_by_field(service_factory):
    service = service_factory(start=False, plain=True)  # parsing: one driver is enough
    rates = {"input": 1, "output": 1, "cache_read": 1, "cache_write": 1}
    for long_context, field in (({"above": 150_000, **rates}, "long_context.above"),
                                ({"above": True, **rates}, "long_context.above"),
                                ({"above": 200_000, **rates, "input": None}, "long_context.input"),
                                ({"above": 200_000, **rates, "input": -1}, "long_context.input"),
                                ({"above": 200_000, **rates, "batch": 1}, "batch"),
                                ("twice", "long_context")):
        refused = call(service, "PUT", "/pricing/long-model", {**LONG_PRICE, "long_context": long_context},
                       status=400).json()
        assert refused["detail"]["field"] == field, (long_context, refused)
        if field == "long_context.above" and long_context["above"] == 150_000:
            assert refused["detail"]["expected"] == ("one of 100000, 128000, 199999, 200000, 272000, 512000 "
                                                     "(prompt tokens)")
    assert call(service, "GET", "/pricing").json()["items"] == []


def test_prices_list_their_long_context_tier_the_owners_and_the_built_in(priced):
    call(priced, "PUT", "/pricing/long-model", {**LONG_PRICE, "long_context": {**LONG_PRICE["long_context"],
                                                                                 "reasoning": 5}})
    pricing = call(priced, "GET", "/pricing").json()
    mine = {item["model"]: item["long_context"] for item in pricing["items"]}
    assert mine == {"tier-model": None, "long-model": {"above": 128_000, "input": 2, "output": 4, "cache_read": 0.2,
                                                        "cache_write": 2, "reasoning": 5}}
    sonnet = [item for item in pricing["defaults"]["items"] if "claude-sonnet-4-5*" in item["match"]][-1]
    assert sonnet["long_context"] == {"above": 200_000, "input": 6, "output": 22.5, "cache_read": 0.6,
                                      "cache_write": 7.5, "reasoning": None}
    # without it again (a price of the same date replaced): none, and the rollups keep their rows
    call(priced, "PUT", "/pricing/long-model", {**LONG_PRICE, "long_context": None})
    assert {item["model"]: item["long_context"] for item in call(priced, "GET", "/pricing").json()["items"]
            }["long-model"] is None


def test_the_rebanding_worker_goes_on_with_a_job_at_start_and_takes_new_ones_when_woken(new_database,
                                                                                          service_factory):
    service = service_factory(start=False, plain=True, TZ="UTC", **database_env(new_database()))
    other = LONG_EVENTS["over"]._replace(model="other-model", event_key="other", request_id="other")
    service.store.write_batch([LONG_EVENTS["over"], other], [], received=2)

    def banded():
        for _ in range(200):  # the worker's few steps; at most 10 s
            if service.store.rebanding() is None:
                break
            time.sleep(0.05)
        return sorted(service.store.reader.execute("SELECT model, prompt_band FROM usage_series_daily"))

    call(service, "PUT", "/pricing/long-model", LONG_PRICE)  # noted while no worker runs (a stop, say)
    assert service.store.rebanding()["models"] == ["long-model"]
    service.rebanding.start()
    try:
        assert banded() == [("long-model", 2), ("other-model", 0)]
        call(service, "PUT", "/pricing/other-model", LONG_PRICE)
        assert banded() == [("long-model", 2), ("other-model", 2)]
    finally:
        service.rebanding.stop()
        service.rebanding.join(5)
