"""Prices and cost: hand-computed costs for OpenAI-, Claude- and Gemini-style records,
reasoning and unclassified tokens, patterns, validation, re-pricing, unpriced models."""

import json

import pytest

from conftest import encode, payload_lines, record, wsgi_call
from cpa_usage import Pricing, decode_payload, default_prices, pattern_matches, specificity

NOW = "2026-08-22T12:00:00Z"
RECEIVED = 1_790_000_000_000


@pytest.fixture
def service(service_factory):
    svc = service_factory(start=False, plain=True, TZ="UTC")
    from cpa_usage import parse_rfc3339_ms

    svc.analytics.clock = lambda: parse_rfc3339_ms(NOW)
    return svc


def store_records(service, *indexes, era="v7.2"):
    lines = payload_lines(era)
    events = [decode_payload(lines[i], RECEIVED) for i in indexes]
    service.store.write_batch(events, [], received=len(events))


def call(service, method, path, body=None, status=200, content_type="application/json"):
    data = b"" if body is None else json.dumps(body).encode()
    response = wsgi_call(service.app, method, "/usage/api/v1" + path, data,
                         {"Content-Type": content_type} if content_type else {})
    assert response.status == status, response.body[:400]
    return response.json()


def cost_of(service, model):
    items = call(service, "GET", f"/usage/analysis?range=24h&group=model&model={model}")["items"]
    return items[0]["cost"]


def test_openai_style_cost_by_hand(service):
    store_records(service, 0)  # gpt-5.4: new input 4348, cache read 19968, output 1822 (reasoning 1216 inside)
    # default gpt-5.4: input 2.5, cache read 0.25, output 15 (USD per 1M)
    expected = (4348 * 2.5 + 19968 * 0.25 + 1822 * 15) / 1e6
    assert cost_of(service, "gpt-5.4")["usd"] == pytest.approx(expected) == pytest.approx(0.043192)


def test_claude_style_cost_by_hand(service):
    store_records(service, 1)  # new 412, cache read 48211, cache write 3105, output 2380
    expected = (412 * 3 + 48211 * 0.30 + 3105 * 3.75 + 2380 * 15) / 1e6  # claude-sonnet-4-5*
    assert cost_of(service, "claude-sonnet-4-5-20250929")["usd"] == pytest.approx(expected) == pytest.approx(0.06304305)


def test_gemini_style_cost_by_hand_and_a_reasoning_price(service):
    store_records(service, 2)  # new 5234, cache read 4096, output 2128 = 640 + reasoning 1488
    expected = (5234 * 1.25 + 4096 * 0.125 + 2128 * 10) / 1e6  # gemini-2.5-pro*
    assert cost_of(service, "gemini-2.5-pro")["usd"] == pytest.approx(expected) == pytest.approx(0.0283345)
    call(service, "PUT", "/pricing/gemini-2.5-pro",
         {"input": 1.25, "output": 10, "cache_read": 0.31, "cache_write": 1.25, "reasoning": 3.5})
    repriced = (5234 * 1.25 + 4096 * 0.31 + 640 * 10 + 1488 * 3.5) / 1e6  # history re-priced at once
    assert cost_of(service, "gemini-2.5-pro")["usd"] == pytest.approx(repriced) == pytest.approx(0.01942026)


def test_unclassified_tokens_are_priced_as_input_and_flagged(service):
    store_records(service, 13)  # qwen/qwen3-coder: 812 tokens, quality unclassified
    call(service, "PUT", "/pricing", [{"model": "qwen/*", "input": 0.5, "output": 2, "cache_read": 0.1,
                                       "cache_write": 0.5}])
    row = call(service, "GET", "/usage/analysis?range=24h&group=model")["items"][0]
    assert row["cost"]["usd"] == pytest.approx(812 * 0.5 / 1e6)
    assert row["flagged_requests"] == 1 and row["tokens"]["unclassified"] == 812


def test_models_without_a_price_are_unpriced_not_free(service):
    store_records(service, 3, 16)  # moonshotai/kimi-k2:free and fake-upstream-model: no default price
    summary = call(service, "GET", "/usage/overview?range=24h")["summary"]
    assert summary["cost"] == {"usd": 0.0, "unpriced_requests": 2, "tier_fallback_requests": 0,
                               "assumed_cache_write_tokens": 0,
                               "unpriced_models": ["fake-upstream-model", "moonshotai/kimi-k2:free"]}
    event = call(service, "GET", "/usage/events?range=24h")["items"][0]
    assert event["cost_usd"] is None


def test_event_cost(service):
    store_records(service, 0)
    assert call(service, "GET", "/usage/events")["items"][0]["cost_usd"] == pytest.approx(0.043192)


def test_most_specific_pattern_wins(service):
    pricing = Pricing(service.store)
    assert pricing.lookup("gpt-5.4-mini", RECEIVED)[2] == "gpt-5.4-mini"
    assert pricing.lookup("gpt-5.4", RECEIVED)[2] == "gpt-5.4"
    assert pricing.lookup("claude-opus-4-5-20251101", RECEIVED)[2] == "claude-opus-4-5*"  # not *claude-opus-4-5*
    assert pricing.lookup("claude-opus-4-1-20250805", RECEIVED)[2] == "claude-opus-4-1*"
    assert pricing.lookup("llama-3", RECEIVED) is None
    call(service, "PUT", "/pricing", [{"model": "gpt-5.4", "input": 9, "output": 9, "cache_read": 9,
                                       "cache_write": 9}, {"model": "*", "input": 1, "output": 1,
                                                           "cache_read": 1, "cache_write": 1}])
    pricing = service.pricing
    assert pricing.lookup("gpt-5.4", RECEIVED)[1:] == ("user", "gpt-5.4")   # exact beats every pattern
    assert pricing.lookup("gpt-5.4-mini", RECEIVED)[1:] == ("user", "*")    # the user's prices beat the defaults
    assert pattern_matches("moonshotai/*:free", "moonshotai/kimi-k2:free")
    assert specificity("gpt-5*-mini*") > specificity("gpt-5*") and specificity("a") > specificity("a*")
    assert specificity("claude-opus-4-5*") > specificity("*claude-opus-4-5*")


def test_put_get_delete_with_model_names_holding_slashes_colons_and_dots(service):
    body = {"input": 0.6, "output": 2.5, "cache_read": 0.15, "cache_write": 0.6}
    saved = call(service, "PUT", "/pricing/moonshotai/kimi-k2:free", body)
    assert saved["model"] == "moonshotai/kimi-k2:free" and saved["reasoning"] is None and saved["source"] == "user"
    call(service, "PUT", "/pricing/z-ai/glm-4.6", body)
    listed = call(service, "GET", "/pricing")
    assert [p["model"] for p in listed["items"]] == ["moonshotai/kimi-k2:free", "z-ai/glm-4.6"]
    defaults = default_prices()
    assert {key: listed["defaults"][key] for key in ("source", "version", "date", "models", "error")} == {
        "source": "genai-prices", "version": defaults.about["version"], "date": defaults.about["date"],
        "models": len(defaults.models), "error": None}
    assert len(listed["defaults"]["items"]) == sum(len(model["prices"]) for model in defaults.models)
    assert call(service, "DELETE", "/pricing/z-ai/glm-4.6", content_type=None) == {"deleted": ["z-ai/glm-4.6"]}
    call(service, "DELETE", "/pricing/z-ai/glm-4.6", status=404, content_type=None)
    assert call(service, "DELETE", "/pricing", ["moonshotai/kimi-k2:free", "nope"]) == {
        "deleted": ["moonshotai/kimi-k2:free"], "not_found": ["nope"]}
    assert call(service, "GET", "/pricing")["items"] == []


@pytest.mark.parametrize("entry, field", [
    ({"input": -1, "output": 1, "cache_read": 1, "cache_write": 1}, "input"),
    ({"input": 1, "output": "2", "cache_read": 1, "cache_write": 1}, "output"),
    ({"input": 1, "output": 1, "cache_read": True, "cache_write": 1}, "cache_read"),
    ({"input": 1, "output": 1, "cache_read": 1}, "cache_write"),
    ({"input": 1, "output": 1, "cache_read": 1, "cache_write": 1, "reasoning": -0.5}, "reasoning"),
    ({"input": 1, "output": 1, "cache_read": 1, "cache_write": 1, "currency": "EUR"}, "currency"),
])
def test_invalid_prices_are_400_with_details(service, entry, field):
    body = call(service, "PUT", "/pricing/some-model", entry, status=400)
    assert body["detail"]["field"] == field


def test_non_finite_and_absurd_prices_are_refused(service):
    response = wsgi_call(service.app, "PUT", "/usage/api/v1/pricing/m",
                         b'{"input": NaN, "output": 1, "cache_read": 1, "cache_write": 1}',
                         {"Content-Type": "application/json"})
    assert response.status == 400 and response.json()["detail"] == {"error": "not JSON: NaN is not JSON"}
    for value in (1.79e308, 10_001, 10**400):  # each made costs Infinity, or the check itself overflow
        body = call(service, "PUT", "/pricing/m", {"input": value, "output": 1, "cache_read": 1, "cache_write": 1},
                    status=400)
        assert body["detail"]["field"] == "input" and "0 to 10,000" in body["detail"]["expected"]
    assert call(service, "PUT", "/pricing/m", {"input": 10_000, "output": 1, "cache_read": 1,
                                               "cache_write": 1})["input"] == 10_000


def test_a_list_is_saved_whole_or_not_at_all(service):
    good = {"model": "a", "input": 1, "output": 1, "cache_read": 1, "cache_write": 1}
    body = call(service, "PUT", "/pricing", [good, {**good, "model": "b", "input": -1}], status=400)
    assert body["detail"]["index"] == 1
    assert call(service, "GET", "/pricing")["items"] == []
    call(service, "PUT", "/pricing", [{"model": ""}], status=400)
    call(service, "PUT", "/pricing", [], status=400)


def test_the_body_must_be_json(service):
    wsgi = wsgi_call(service.app, "PUT", "/usage/api/v1/pricing/m", b"input=1", {"Content-Type":
                                                                                 "application/x-www-form-urlencoded"})
    assert wsgi.status == 415
    call(service, "PUT", "/pricing/m", {"model": "other", "input": 1, "output": 1, "cache_read": 1,
                                       "cache_write": 1}, status=400)


def test_hours_and_days_are_priced_by_their_models_and_failures_without_tokens_cost_nothing(service):
    zero = {name: 0 for name in ("input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens",
                                 "cache_read_tokens", "cache_creation_tokens", "total_tokens")}
    zero_breakdown = {"schema_version": 2, "quality": "complete", "total_tokens": 0, "unclassified_tokens": 0,
                      "input": {"total_tokens": 0, "uncached_tokens": 0, "cache_read_tokens": 0,
                                "cache_write_tokens": 0},
                      "output": {"total_tokens": 0, "non_reasoning_tokens": 0, "reasoning_tokens": 0}}
    failure = {"failed": True, "fail": {"status_code": 429, "body": "slow down"}, "tokens": zero,
               "token_breakdown": zero_breakdown}
    records = [record(request_id="a", timestamp="2026-08-22T09:30:00Z"),  # 12 input, 5 output: priced below
               record(request_id="b", timestamp="2026-08-22T10:10:00Z", **failure),
               record(request_id="c", timestamp="2026-08-22T10:20:00Z", model="llama-x"),  # 17 tokens, no price
               record(request_id="d", timestamp="2026-08-22T10:40:00Z", model="llama-x", **failure)]
    events = [decode_payload(encode(r), RECEIVED) for r in records]
    service.store.write_batch(events, [], received=len(events))
    call(service, "PUT", "/pricing/fake-upstream-model", {"input": 1000, "output": 2000, "cache_read": 0,
                                                          "cache_write": 0})
    overview = call(service, "GET", "/usage/overview?range=24h")
    hours = {h["start"][11:16]: h for h in overview["hourly"] if h["requests"]}
    assert hours["09:00"]["cost"]["usd"] == pytest.approx((12 * 1000 + 5 * 2000) / 1e6)  # 0.022
    assert hours["09:00"]["cost"]["unpriced_requests"] == 0
    assert (hours["10:00"]["requests"], hours["10:00"]["failed"]) == (3, 2)
    assert hours["10:00"]["cost"]["usd"] == 0 and hours["10:00"]["cost"]["unpriced_requests"] == 1
    day = [d for d in overview["daily"] if d["requests"]]
    assert len(day) == 1 and day[0]["cost"]["usd"] == pytest.approx(0.022)
    assert day[0]["cost"]["unpriced_requests"] == 1
    assert overview["summary"]["cost"] == {"usd": pytest.approx(0.022), "unpriced_requests": 1,
                                           "unpriced_models": ["llama-x"], "tier_fallback_requests": 0,
                                           "assumed_cache_write_tokens": 0}
