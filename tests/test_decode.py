"""The decoder: every payload era, exact timestamps and tokens, identity, bad input."""

import datetime as dt
import json

import pytest

from conftest import encode, payload_lines, record
from cpa_usage import (MIN_USABLE_MS, ControlMessage, DecodeError, UsageEvent, decode_payload, parse_rfc3339_ms,
                       token_family)

RECEIVED = 1_790_000_000_000  # 2026-09-21, after every fixture's timestamp

# (model, new input, cache read, cache write, output incl. reasoning, reasoning, unclassified, total, family)
# computed by hand from the family rules (research notes §3.3) and checked against the
# v7.2 records' own token_breakdown, which CPA computes for the same calls.
COMMON = [
    ("gpt-5.4", 4348, 19968, 0, 1822, 1216, 0, 26138, "openai"),
    ("claude-sonnet-4-5-20250929", 412, 48211, 3105, 2380, 0, 0, 54108, "claude"),
    ("gemini-2.5-pro", 5234, 4096, 0, 2128, 1488, 0, 11458, "gemini"),
    ("moonshotai/kimi-k2:free", 622, 4608, 0, 734, 0, 0, 5964, "openai"),
    ("gpt-5.4-mini", 0, 0, 0, 0, 0, 0, 0, "openai"),
    ("gpt-5.4-mini", 1840, 0, 0, 352, 192, 0, 2192, "openai"),
    ("claude-opus-4-1-20250805", 0, 0, 0, 0, 0, 0, 0, "claude"),
    ("deepseek/deepseek-chat-v3.1", 0, 0, 0, 0, 0, 0, 0, "openai"),
    ("gemini-3-pro-preview", 3010, 0, 0, 1137, 722, 0, 4147, "gemini"),
    ("unknown", 0, 0, 0, 0, 0, 0, 0, "unknown"),
    ("gemini-2.5-flash", 0, 0, 0, 0, 0, 0, 0, "gemini"),
]
V6_10 = list(COMMON)
# v6.10 Claude: only cached_tokens (48211) exists, read or write; total excludes cache.
V6_10[1] = ("claude-sonnet-4-5-20250929", 412, 48211, 0, 2380, 0, 0, 51003, "claude")
V7_2 = list(COMMON)
V7_2[1] = ("claude-sonnet-4-5-20250929", 412, 48211, 3105, 2380, 934, 0, 54108, "claude")  # v7.2.117 thinking
V7_2 += [
    ("gpt-5.4", 2210, 0, 0, 1211, 640, 0, 3421, "openai"),
    ("gpt-image-1", 310, 0, 0, 4160, 0, 0, 4470, "openai"),
    ("qwen/qwen3-coder", 0, 0, 0, 0, 0, 812, 812, "openai"),
    ("z-ai/glm-4.6", 1000, 0, 0, 200, 0, 150, 1350, "openai"),
    ("gpt-5.4", 174, 14848, 0, 0, 0, 0, 15022, "openai"),
    ("fake-upstream-model", 12, 0, 0, 5, 0, 0, 17, "openai"),
]

QUALITY_V6_10 = ["derived", "ambiguous"] + ["derived"] * 7 + ["complete", "derived"]
QUALITY_DERIVED = ["derived"] * 9 + ["complete", "derived"]
QUALITY_V7_2 = ["complete"] * 13 + ["unclassified", "inconsistent", "complete", "complete"]


def tokens_of(event: UsageEvent) -> tuple:
    return (event.model, event.input_tokens, event.cache_read_tokens, event.cache_write_tokens,
            event.output_tokens, event.reasoning_tokens, event.unclassified_tokens, event.total_tokens,
            event.token_family)


@pytest.mark.parametrize("era, expected, qualities", [
    ("v6.10", V6_10, QUALITY_V6_10),
    ("v7.0", COMMON, QUALITY_DERIVED),
    ("v7.1", COMMON, QUALITY_DERIVED),
    ("v7.2.78", COMMON, QUALITY_DERIVED),
    ("v7.2", V7_2, QUALITY_V7_2),
])
def test_every_fixture_decodes_to_exact_tokens(era, expected, qualities):
    events = [decode_payload(line, RECEIVED) for line in payload_lines(era)]
    assert [tokens_of(e) for e in events] == expected
    assert [e.token_quality for e in events] == qualities
    assert all(e.total_tokens == e.input_tokens + e.cache_read_tokens + e.cache_write_tokens + e.output_tokens
               + e.unclassified_tokens for e in events)


def test_subscription_stream_has_control_messages_between_records():
    decoded = [decode_payload(line, RECEIVED) for line in payload_lines("usage-subscribe-stream")]
    assert decoded[0] == ControlMessage(refresh=False)
    assert decoded[3] == ControlMessage(refresh=True)
    assert [d.model for d in decoded if isinstance(d, UsageEvent)] == [
        "gpt-5.4", "claude-sonnet-4-5-20250929", "gemini-2.5-pro", "moonshotai/kimi-k2:free"]


def test_v6_10_record_keeps_its_fields_and_defaults():
    event = decode_payload(payload_lines("v6.10")[0], RECEIVED)
    assert event.alias == "gpt-5.4"            # no alias before v6.10.7: the model stands in
    assert event.status_code is None and event.ttft_ms is None and event.executor_type == "unknown"
    assert event.raw_cache_read_tokens is None and event.raw_cached_tokens == 19968
    assert event.ts_raw == "2026-05-03T09:12:04.183422911+08:00"
    assert event.ts_ms == 1777770724183  # 2026-05-03T01:12:04.183Z
    assert event.extra is None


def test_current_record_keeps_every_field():
    event = decode_payload(payload_lines("v7.2")[0], RECEIVED)
    assert event.client_ip == "10.0.0.12"
    assert event.user_agent.startswith("codex_cli_rs/")
    assert event.access_token_sha256.startswith("c99e125b")
    assert event.response_service_tier == "default" and event.service_tier == "auto"
    assert event.reasoning_effort == "high" and event.generate == 1 and event.accounting_version == 2
    assert json.loads(event.response_headers)["X-Codex-Primary-Used-Percent"] == ["37"]
    assert event.token_breakdown is None  # complete: the token columns hold it exactly
    assert event.status_code == 200 and event.fail_body == "" and event.ttft_ms == 1327


def test_failed_record_keeps_status_and_body():
    event = decode_payload(payload_lines("v7.2")[4], RECEIVED)
    assert event.failed == 1 and event.status_code == 429
    assert "usage_limit_reached" in event.fail_body


@pytest.mark.parametrize("text, expected", [
    ("2026-05-03T09:12:04.183422911+08:00", "2026-05-03T01:12:04.183+00:00"),
    ("2026-05-14T09:12:04.183422911Z", "2026-05-14T09:12:04.183+00:00"),
    ("2026-05-14T09:12:31.5501Z", "2026-05-14T09:12:31.550+00:00"),
    ("2026-05-03T09:15:55.9+08:00", "2026-05-03T01:15:55.900+00:00"),
    ("2026-11-01T01:30:00-04:00", "2026-11-01T05:30:00.000+00:00"),
    ("2026-11-01T23:59:59.999999999-05:45", "2026-11-02T05:44:59.999+00:00"),
    ("2024-02-29T00:00:00+05:45", "2024-02-28T18:15:00.000+00:00"),
    ("2026-01-01T00:00:00z", "2026-01-01T00:00:00.000+00:00"),
])
def test_rfc3339_is_exact_to_the_millisecond(text, expected):
    want = dt.datetime.fromisoformat(expected)
    assert parse_rfc3339_ms(text) == int(want.timestamp()) * 1000 + want.microsecond // 1000


@pytest.mark.parametrize("text", ["", "yesterday", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
                                  "2026-01-01T24:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00+25:00",
                                  "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567890Z"])
def test_rfc3339_rejects_what_it_cannot_read_exactly(text):
    assert parse_rfc3339_ms(text) is None


@pytest.mark.parametrize("timestamp", [None, "", "not a time", "0001-01-01T00:00:00Z", "2099-01-01T00:00:00Z"])
def test_unusable_timestamp_takes_receive_time_and_is_flagged(timestamp):
    payload = record()
    if timestamp is None:
        del payload["timestamp"]
    else:
        payload["timestamp"] = timestamp
    event = decode_payload(encode(payload), RECEIVED)
    assert event.ts_ms == RECEIVED and event.ts_estimated == 1
    assert event.ts_raw == (timestamp or "")
    assert MIN_USABLE_MS < event.ts_ms


def test_control_messages_are_not_records():
    assert decode_payload(b'{"support_refresh":true}', RECEIVED) == ControlMessage(refresh=False)
    assert decode_payload(b'{"refresh":true}', RECEIVED) == ControlMessage(refresh=True)
    with pytest.raises(DecodeError, match="no tokens"):
        decode_payload(b'{"refresh":"yes"}', RECEIVED)


@pytest.mark.parametrize("payload, reason", [
    (b"not json", "not JSON"),
    (b"\xff\xfe{}", "not JSON"),
    (b'["a"]', "not a JSON object but list"),
    (b'"text"', "not a JSON object but str"),
    (b"{}", "no tokens object"),
    (b'{"model":"x"}', "no tokens object"),
    (b'{"tokens":[1,2]}', "tokens must be an object"),
    (encode(record(tokens={"input_tokens": "12"})), "tokens.input_tokens must be an integer, got str"),
    (encode(record(tokens={"input_tokens": True})), "tokens.input_tokens must be an integer, got bool"),
    (encode(record(tokens={"input_tokens": -1})), r"tokens.input_tokens=-1 is out of range"),
    (encode(record(tokens={"output_tokens": 10**11})), "tokens.output_tokens=100000000000 is out of range"),
    (encode(record(tokens={"output_tokens": 1.5})), "must be an integer, got 1.5"),
    (encode(record(latency_ms=-5)), "latency_ms=-5 is out of range"),
    (encode(record(latency_ms=10**12)), "latency_ms=1000000000000 is out of range"),
    (encode(record(failed="false")), "failed must be true or false, got str"),
    (encode(record(model=42)), "model must be a string, got int"),
    (encode(record(fail="boom")), "fail must be an object"),
    (encode(record(fail={"status_code": 1000, "body": ""})), "status_code=1000 is out of range"),
    (encode(record(timestamp=1777770724)), "timestamp must be a string"),
    (encode(record(response_headers=["x"])), "response_headers must be an object"),
    (encode(record(token_breakdown="complete")), "token_breakdown must be an object"),
    (encode(record(generate="yes")), "generate must be true or false"),
])
def test_malformed_records_raise_with_a_reason(payload, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_payload(payload, RECEIVED)


def test_integral_floats_are_accepted_as_integers():
    event = decode_payload(encode(record(latency_ms=18.0)), RECEIVED)
    assert event.latency_ms == 18


def test_unknown_fields_are_kept_in_extra():
    payload = record(new_field={"a": 1}, another="x")
    payload["tokens"]["audio_tokens"] = 7
    payload["fail"]["retry_after"] = 3
    event = decode_payload(encode(payload), RECEIVED)
    assert json.loads(event.extra) == {"new_field": {"a": 1}, "another": "x", "tokens": {"audio_tokens": 7},
                                       "fail": {"retry_after": 3}}


def test_secret_bearing_response_headers_are_not_stored():
    headers = {"Set-Cookie": ["session=abc"], "authorization": ["Bearer x"], "X-Request-Id": ["req_1"]}
    event = decode_payload(encode(record(response_headers=headers)), RECEIVED)
    assert json.loads(event.response_headers) == {"X-Request-Id": ["req_1"]}


def test_event_key_is_stable_and_tells_retries_apart():
    lines = payload_lines("v7.2")
    first = decode_payload(lines[0], RECEIVED)
    again = decode_payload(lines[0], RECEIVED + 5000)
    assert first.event_key == again.event_key and len(first.event_key) == 32
    failed_attempt, retry = (decode_payload(lines[i], RECEIVED) for i in (4, 5))
    assert failed_attempt.request_id == retry.request_id
    assert failed_attempt.event_key != retry.event_key
    chat, image = (decode_payload(lines[i], RECEIVED) for i in (11, 12))
    assert chat.request_id == image.request_id and chat.ts_raw == image.ts_raw
    assert chat.event_key != image.event_key
    keys = [decode_payload(line, RECEIVED).event_key for line in lines]
    assert len(set(keys)) == len(keys)


def test_event_key_ignores_fields_outside_identity_but_not_inside():
    base = decode_payload(encode(record()), RECEIVED).event_key
    assert decode_payload(encode(record(user_agent="other")), RECEIVED).event_key == base
    assert decode_payload(encode(record(latency_ms=19)), RECEIVED).event_key != base
    assert decode_payload(encode(record(api_key="other")), RECEIVED).event_key != base


def test_records_without_timestamp_are_not_merged_with_each_other():
    payload = record()
    del payload["timestamp"]
    one = decode_payload(encode(payload), RECEIVED)
    two = decode_payload(encode(payload), RECEIVED + 1)
    assert one.event_key != two.event_key


@pytest.mark.parametrize("provider, executor, family", [
    ("codex", "CodexExecutor", "openai"),
    ("claude", "ClaudeExecutor", "claude"),
    ("antigravity", "AntigravityExecutor", "gemini"),
    ("openai-compatible-my-claude-proxy", "OpenAICompatExecutor", "openai"),
    ("my-claude-proxy", "OpenAICompatExecutor", "openai"),
    ("vertex", "GeminiVertexExecutor", "gemini"),
    ("gemini-interactions", "unknown", "gemini"),
    ("xai", "XAIExecutor", "openai"),
    ("openrouter", "unknown", "openai"),
    ("unknown", "unknown", "unknown"),
    ("some-plugin", "PluginExecutor", "unknown"),
])
def test_token_family_follows_provider_and_executor_not_model(provider, executor, family):
    assert token_family(provider, executor) == family


def test_claude_model_through_gemini_executor_counts_gemini_style():
    payload = record(model="claude-sonnet-4-5", provider="antigravity", executor_type="AntigravityExecutor",
                     tokens={"input_tokens": 100, "output_tokens": 10, "reasoning_tokens": 5, "cached_tokens": 40,
                             "total_tokens": 115})
    del payload["token_breakdown"]
    event = decode_payload(encode(payload), RECEIVED)
    assert (event.input_tokens, event.cache_read_tokens, event.output_tokens, event.reasoning_tokens) == (60, 40, 15, 5)


def test_inconsistent_cache_larger_than_input_is_flagged_not_negative():
    payload = record(provider="codex", executor_type="CodexExecutor",
                     tokens={"input_tokens": 10, "output_tokens": 5, "cached_tokens": 50, "total_tokens": 15})
    del payload["token_breakdown"]
    event = decode_payload(encode(payload), RECEIVED)
    assert event.token_quality == "inconsistent" and event.input_tokens == 0 and event.cache_read_tokens == 50


def test_invalid_breakdown_falls_back_to_family_rules_and_is_flagged():
    payload = record()
    payload["token_breakdown"]["input"]["uncached_tokens"] = 999  # breaks input.total = sum
    event = decode_payload(encode(payload), RECEIVED)
    assert event.token_quality == "inconsistent"
    assert (event.input_tokens, event.output_tokens, event.total_tokens) == (12, 5, 17)


def test_openai_total_filled_by_old_cpa_with_reasoning_is_not_inconsistent():
    payload = record(tokens={"input_tokens": 100, "output_tokens": 50, "reasoning_tokens": 20,
                             "cached_tokens": 0, "total_tokens": 170})
    del payload["token_breakdown"]
    event = decode_payload(encode(payload), RECEIVED)
    assert event.token_quality == "derived" and event.total_tokens == 150 and event.unclassified_tokens == 0


def test_every_field_lands_in_its_column():
    """decode_payload builds UsageEvent positionally: one distinct value per field proves the order."""
    payload = record(request_id="rid", model="m", alias="al", provider="codex", executor_type="ex",
                     endpoint="ep", auth_type="at", source="src", auth_index="ai", api_key="ak",
                     reasoning_effort="re", service_tier="st", response_service_tier="rst", client_ip="ip",
                     x_forwarded_for="xff", user_agent="ua", access_token_sha256="sha", latency_ms=111,
                     ttft_ms=22, accounting_version=2, generate=False, failed=True,
                     fail={"status_code": 418, "body": "teapot"}, response_headers={"H": ["v"]},
                     unknown_field=1, resolved_client_ip="rip", stream=True, execution_id="exe")
    payload["tokens"] = {"input_tokens": 30, "output_tokens": 7, "reasoning_tokens": 3, "cached_tokens": 10,
                         "cache_read_tokens": 10, "cache_creation_tokens": 5, "total_tokens": 37}
    del payload["token_breakdown"]
    event = decode_payload(encode(payload), RECEIVED, "cpa-east")
    assert event._asdict() == {
        "event_key": event.event_key, "ts_ms": event.ts_ms, "ts_raw": payload["timestamp"], "ts_estimated": 0,
        "received_ms": RECEIVED, "request_id": "rid", "model": "m", "alias": "al", "provider": "codex",
        "executor_type": "ex", "endpoint": "ep", "auth_type": "at", "source": "src", "auth_index": "ai",
        "api_key": "ak", "failed": 1, "status_code": 418, "fail_body": "teapot", "latency_ms": 111, "ttft_ms": 22,
        "input_tokens": 15, "cache_read_tokens": 10, "cache_write_tokens": 5, "output_tokens": 7,
        "reasoning_tokens": 3, "unclassified_tokens": 0, "total_tokens": 37, "token_family": "openai",
        "token_quality": "derived", "raw_input_tokens": 30, "raw_output_tokens": 7, "raw_reasoning_tokens": 3,
        "raw_cached_tokens": 10, "raw_cache_read_tokens": 10, "raw_cache_creation_tokens": 5,
        "raw_total_tokens": 37, "token_breakdown": None, "generate": 0, "reasoning_effort": "re",
        "service_tier": "st", "response_service_tier": "rst", "client_ip": "ip", "x_forwarded_for": "xff",
        "user_agent": "ua", "access_token_sha256": "sha", "accounting_version": 2,
        "response_headers": '{"H":["v"]}', "extra": '{"unknown_field":1}', "instance": "cpa-east",
        "resolved_client_ip": "rip", "stream": 1, "execution_id": "exe", "truncated": None,
        "prompt_band": 0, "served_tier": "rst"}
