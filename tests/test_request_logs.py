"""CPA's request logs: the parser on sample logs in CPA's format (tests/fixtures/request_logs,
written from CPA's request logger: a plain call, an SSE stream of each of the four protocols,
a failure with two upstream attempts, an image in the request), caps and masking; the two
sources (CPA_LOG_DIR, the fake CPA's management API on v0 and v8); the routes (400, 404,
502, raw, asset) and who may read a log."""

import io
import os
import shutil

import pytest

from conftest import FIXTURES, encode, record
from cpa_usage import ASSET_MARKER, ConfigError, RequestLogParser, decode_payload, iso_ms, load_config
from conftest import base_env
from fake_cpa import FakeCPA
from test_auth import PASSWORD, cookie_of, request

LOGS = FIXTURES / "request_logs"
PLAIN = "v1-chat-completions-2026-12-07T091500-a1b2c3d4.log"
FAILED = "v1-messages-2026-12-07T092010-b1c2d3e4.log"
IMAGE = "v1-messages-2026-12-07T092130-f0e1d2c3.log"
ANTHROPIC_SSE = "v1-messages-2026-12-07T091612-5e6f7a8b.log"
MEMBER_KEY, OTHER_KEY = "sk-member-000000000000001", "sk-other-0000000000000002"


def parse(name, body_cap=1 << 20, header_cap=1 << 16):
    path = LOGS / name
    with open(path, "rb") as stream:
        return RequestLogParser(body_cap, header_cap).parse(stream, name, path.stat().st_size)


def test_a_plain_call_is_read_section_by_section_with_credentials_masked_again():
    log = parse(PLAIN)
    assert log["info"]["url"] == "/v1/chat/completions" and log["info"]["method"] == "POST"
    assert log["info"]["timestamp"] == "2026-12-07T09:15:00.123456789Z"
    assert ["User-Agent", "claude-cli/2.0.14 (external, cli)"] in log["request"]["headers"]
    assert "<script>window.__pwned=1</script>" in log["request"]["body"]["text"]
    (attempt,) = log["attempts"]
    assert attempt["index"] == 1 and attempt["response"]["status"] == 200
    upstream = dict(attempt["request"]["headers"])
    assert upstream["Authorization"].startswith("Bearer sk-or") and "9d8e" in upstream["Authorization"]
    assert "0f3a9b8c7d6e5f4a3b2c1d0e9f8a7b6c" not in str(log)  # the key CPA left in clear is masked
    assert "AIzaSyD-secretsecretsecret12" not in attempt["request"]["upstream_url"]
    assert log["response"]["status"] == 200 and log["response"]["body"]["text"].startswith('{"id": "chatcmpl-9xYz"')
    assert log["response"]["body"]["bytes"] == len(log["response"]["body"]["text"].encode())
    assert log["truncated"] == [] and log["file"] == {"name": PLAIN, "size": (LOGS / PLAIN).stat().st_size}


def test_a_failure_keeps_every_attempt_and_error_in_order():
    log = parse(FAILED)
    assert [a["index"] for a in log["attempts"]] == [1, 2]
    assert [a["response"]["status"] for a in log["attempts"]] == [429, 529]
    assert "dave@example.com" in log["attempts"][1]["request"]["auth"]
    assert ["Retry-After", "30"] in log["attempts"][0]["response"]["headers"]
    assert [e["status"] for e in log["api_errors"]] == [429, 529]
    assert "rate_limit_error" in log["api_errors"][0]["body"]["text"]
    assert log["response"]["status"] == 529


@pytest.mark.parametrize("name, pieces", [
    (ANTHROPIC_SSE, ["event: content_block_delta", "thinking_delta", "input_json_delta"]),
    ("v1-chat-completions-2026-12-07T091730-9c0d1e2f.log", ["data: [DONE]", '"arguments":"\\"b\\":3}"']),
    ("v1-responses-2026-12-07T091845-3a4b5c6d.log", ["response.function_call_arguments.delta",
                                                     "response.reasoning_summary_text.delta"]),
    ("v1beta-models-gemini-2.5-pro-streamGenerateContent-2026-12-07T091902-7e8f9a0b.log",
     ['"thought":true', "functionCall"]),
])
def test_a_stream_of_each_protocol_is_kept_as_the_sse_it_was(name, pieces):
    log = parse(name)
    body = log["response"]["body"]["text"]
    assert all(piece in body for piece in pieces) and log["response"]["status"] == 200
    assert log["attempts"][0]["response"]["body"]["text"] == body


def test_a_section_marker_inside_the_final_response_is_its_text():
    hostile = (LOGS / PLAIN).read_bytes() + b"=== API REQUEST 9 ===\nUpstream URL: http://evil\n"
    log = RequestLogParser(1 << 20, 1 << 16).parse(io.BytesIO(hostile), "x.log", len(hostile))
    assert len(log["attempts"]) == 1 and "=== API REQUEST 9 ===" in log["response"]["body"]["text"]


def test_bodies_and_headers_are_capped_and_flagged():
    log = parse(PLAIN, body_cap=1024, header_cap=1024)
    assert log["truncated"] == []
    log = parse(PLAIN, body_cap=40, header_cap=1024)
    assert len(log["request"]["body"]["text"].encode()) == 40 and log["request"]["body"]["truncated"]
    assert log["request"]["body"]["bytes"] > 40
    assert "request.body" in log["truncated"] and "response.body" in log["truncated"]
    many = b"=== HEADERS ===\n" + b"".join(b"X-H-%d: %s\n" % (i, b"v" * 100) for i in range(40))
    log = RequestLogParser(1024, 1024).parse(io.BytesIO(many), "h.log", len(many))
    assert 0 < len(log["request"]["headers"]) < 40 and log["truncated"] == ["request.headers"]


def test_an_inline_image_is_noted_by_place_not_kept():
    log = parse(IMAGE)
    asset, upstream = log["assets"]  # the client's body and the same image sent upstream
    assert asset["type"] == "image/png" and asset["length"] > 100 and upstream["length"] == asset["length"]
    raw = (LOGS / IMAGE).read_bytes()
    assert raw[asset["offset"]:asset["offset"] + 11] == b"iVBORw0KGgo"
    body = log["request"]["body"]["text"]
    assert f'"data": "{ASSET_MARKER}0"' in body and "iVBORw0KGgo" not in body
    assert f"{ASSET_MARKER}1" in log["attempts"][0]["request"]["body"]["text"]


def test_a_huge_log_is_streamed_with_bounded_memory():
    """A 60 MB body on one line (a big image) arrives in pieces: the image is one asset,
    the kept text stays at the cap."""
    image = (LOGS / IMAGE).read_bytes().split(b'"data": "')[1].split(b'"')[0]
    padding = b"A" * (60 * 2**20 - len(image) // 4 * 4)
    body = b'{"data": "' + image[:-4] + b"AAAA" + padding + b'", "text": "hi"}\n'
    data = b"=== REQUEST BODY ===\n" + body + b"\n\n=== RESPONSE ===\nStatus: 200\n\nok\n"
    log = RequestLogParser(4096, 1024).parse(io.BytesIO(data), "big.log", len(data))
    (asset,) = log["assets"]
    assert asset["length"] == len(image) + len(padding) and asset["offset"] == len(b"=== REQUEST BODY ===\n") + 10
    assert log["request"]["body"]["text"] == f'{{"data": "{ASSET_MARKER}0", "text": "hi"}}'
    assert log["response"]["body"]["text"] == "ok"


def test_an_unreadable_log_dir_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="CPA_LOG_DIR"):
        load_config(base_env(tmp_path, CPA_LOG_DIR=str(tmp_path / "missing")))
    assert load_config(base_env(tmp_path, CPA_LOG_DIR=str(tmp_path))).cpa_log_dir == str(tmp_path)


# -- the routes ------------------------------------------------------------------------------

def event(request_id, key=MEMBER_KEY):
    return decode_payload(encode(record(request_id=request_id, api_key=key)), 1_700_000_000_000)


@pytest.fixture
def log_dir(tmp_path):
    folder = tmp_path / "cpa-logs"
    folder.mkdir()
    for name in (PLAIN, FAILED, IMAGE):
        shutil.copy(LOGS / name, folder / name)
    return folder


def api(service, path, cookie=None):
    return request(service, "GET", "/usage/events/" + path, cookie=cookie)


def test_a_log_from_cpa_log_dir_with_its_events(service_factory, log_dir):
    service = service_factory(start=False, CPA_LOG_DIR=str(log_dir))
    service.store.write_batch([event("a1b2c3d4")], [], received=1)
    older = log_dir / "v1-chat-completions-2026-12-06T091500-a1b2c3d4.log"
    older.write_bytes(b"=== REQUEST INFO ===\nURL: /old\n")
    os.utime(older, (2e9, 2e9))  # newer on disk, older by its name: the name's time decides
    answer = api(service, "a1b2c3d4/log")
    assert answer.status == 200, answer.body
    log = answer.json()
    assert log["file"]["name"] == PLAIN and log["info"]["url"] == "/v1/chat/completions"
    assert [e["request_id"] for e in log["events"]] == ["a1b2c3d4"] and log["events"][0]["api_key"] != MEMBER_KEY
    raw = api(service, "a1b2c3d4/log/raw")
    assert raw.status == 200 and raw.body == (log_dir / PLAIN).read_bytes()
    assert f'filename="{PLAIN}"' in raw.headers["content-disposition"]


def test_bad_and_unknown_request_ids(service_factory, log_dir):
    service = service_factory(start=False, CPA_LOG_DIR=str(log_dir), CPA_BASE_URL="http://127.0.0.1:9")
    assert api(service, "a.b/log").status == 400
    assert api(service, "x" * 129 + "/log").status == 400
    # not in the folder, and the CPA cannot be reached: the reason, as a 502
    answer = api(service, "ffff0000/log")
    assert answer.status == 502 and answer.json()["detail"]["reason"]


def test_an_inline_image_is_served_as_bytes(service_factory, log_dir):
    service = service_factory(start=False, CPA_LOG_DIR=str(log_dir))
    asset = api(service, "f0e1d2c3/log").json()["assets"][0]
    answer = api(service, f"f0e1d2c3/log/asset?offset={asset['offset']}&length={asset['length']}")
    assert answer.status == 200 and answer.headers["content-type"] == "image/png"
    assert answer.body.startswith(b"\x89PNG\r\n\x1a\n")
    assert api(service, f"f0e1d2c3/log/asset?offset=0&length={asset['length']}").status == 400  # not base64
    assert api(service, f"f0e1d2c3/log/asset?offset={asset['offset']}&length=99999999").status == 400
    assert api(service, "f0e1d2c3/log/asset").status == 400


@pytest.mark.parametrize("v8", [False, True])
def test_a_log_through_the_management_api_on_both_versions(service_factory, v8):
    with FakeCPA(version="8.0.3" if v8 else "7.2.140", v8_api=v8) as cpa:
        cpa.request_logs["b1c2d3e4"] = (FAILED, (LOGS / FAILED).read_bytes())
        service = service_factory(url=cpa.url, start=False)
        log = api(service, "b1c2d3e4/log")
        assert log.status == 200, log.body
        assert log.json()["file"]["name"] == FAILED and len(log.json()["attempts"]) == 2
        asked = [r.path for r in cpa.http_requests if "b1c2d3e4" in r.path]
        assert asked == (["/v8/management/observability/logs/requests/b1c2d3e4"] if v8
                         else ["/v0/management/request-log-by-id/b1c2d3e4"])
        missing = api(service, "00000000/log")
        assert missing.status == 404 and "request-log" in missing.json()["detail"]["hint"]
        cpa.request_log_failure = (500, "failed to list log directory")
        failed = api(service, "b1c2d3e4/log")
        assert failed.status == 502 and "failed to list log directory" in failed.json()["detail"]["reason"]


def test_members_never_read_a_log_unless_the_owner_lets_them_and_then_only_their_own(service_factory, log_dir):
    settings = dict(start=False, CPA_LOG_DIR=str(log_dir), AUTH_ENABLED="true", LOGIN_PASSWORD=PASSWORD,
                    KEY_LOGIN_ENABLED="true")
    for allowed in ("false", "true"):
        service = service_factory(**settings, REQUEST_LOG_MEMBERS=allowed)
        service.store.put_metadata("api-keys", [MEMBER_KEY, OTHER_KEY])
        service.store.write_batch([event("a1b2c3d4"), event("b1c2d3e4", OTHER_KEY)], [], received=2)
        member = cookie_of(request(service, "POST", "/auth/login", {"api_key": MEMBER_KEY}))
        owner = cookie_of(request(service, "POST", "/auth/login", {"password": PASSWORD}))
        assert api(service, "b1c2d3e4/log", owner).status == 200
        for path in ("a1b2c3d4/log", "a1b2c3d4/log/raw", "b1c2d3e4/log", "b1c2d3e4/log/raw"):
            answer = api(service, path, member)
            if allowed == "false":
                assert answer.status == 403 and answer.json()["detail"] == {"member": True}
            elif path.startswith("b1c2"):
                assert answer.status == 404  # another key's request: as if it did not exist
            else:
                assert answer.status == 200
        if allowed == "true":
            shown = api(service, "a1b2c3d4/log", member).json()["events"][0]
            assert shown["source"] is None and shown["auth_index"] is None


# -- matching imported history to logs -------------------------------------------------------

def write_log(folder, request_id: str, at_ms: int, model: str, named_ms: int | None = None) -> None:
    """A log as CPA names and starts it: the file name in the host's local time."""
    import datetime as dt

    named = dt.datetime.fromtimestamp((named_ms if named_ms is not None else at_ms) / 1000).strftime("%Y-%m-%dT%H%M%S")
    stamp = dt.datetime.fromtimestamp(at_ms / 1000, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    (folder / f"v1-chat-completions-{named}-{request_id}.log").write_text(
        f"=== REQUEST INFO ===\nVersion: 7.2.140\nURL: /v1/chat/completions\nMethod: POST\nTimestamp: {stamp}\n\n"
        f'=== REQUEST BODY ===\n{{"model": "{model}", "messages": []}}\n\n=== RESPONSE ===\nStatus: 200\n\nok\n')


def imported(at_ms: int, model: str):
    """An event as a legacy export gives it: no request_id."""
    return decode_payload(encode(record(request_id="", model=model, timestamp=iso_ms(at_ms))), at_ms)


def test_imported_events_get_the_request_id_of_their_log(service_factory, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    t0 = 1_796_000_000_000
    write_log(folder, "one", t0 + 400, "gpt-5.4")  # within a second of the first event
    write_log(folder, "two-a", t0 + 60_000 + 300, "gpt-5.4")  # two logs for the second: the model decides
    write_log(folder, "two-b", t0 + 60_000 - 200, "claude-sonnet-4-5")
    write_log(folder, "three-a", t0 + 120_000 + 100, "gpt-5.4")  # two alike for the third: ambiguous
    write_log(folder, "three-b", t0 + 120_000 - 100, "gpt-5.4")
    write_log(folder, "late", t0 + 180_000 + 5_000, "gpt-5.4")  # 5 s off: not this event's
    write_log(folder, "drained", t0 + 240_000, "gpt-5.4")  # its event has a request_id already
    service = service_factory(start=False, CPA_LOG_DIR=str(folder))
    events = [imported(t0, "gpt-5.4"), imported(t0 + 60_000, "claude-sonnet-4-5"), imported(t0 + 120_000, "gpt-5.4"),
              imported(t0 + 180_000, "gpt-5.4"),
              decode_payload(encode(record(request_id="drained", timestamp=iso_ms(t0 + 240_000))), t0)]
    service.store.write_batch(events, [], received=len(events))
    answer = request(service, "POST", "/usage/events/backfill-logs", body={})
    assert answer.status == 200, answer.body
    assert answer.json() == {"total": 4, "matched": 2, "ambiguous": 1, "missing": 1, "logs_indexed": 7}
    ids = dict(service.store.reader.execute("SELECT ts_ms, request_id FROM usage_events").fetchall())
    assert ids == {t0: "one", t0 + 60_000: "two-b", t0 + 120_000: "", t0 + 180_000: "", t0 + 240_000: "drained"}
    again = request(service, "POST", "/usage/events/backfill-logs", body={}).json()  # safe to run again
    assert again["total"] == 2 and again["matched"] == 0
    assert request(service_factory(start=False), "POST", "/usage/events/backfill-logs", body={}).status == 409


def test_the_backfill_command(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    folder = tmp_path / "logs"
    folder.mkdir()
    write_log(folder, "cli-1", 1_796_000_000_000 + 200, "gpt-5.4")
    env = {**base_env(tmp_path, CPA_LOG_DIR=str(folder)), "PATH": os.environ["PATH"]}
    store_env = load_config(env)
    from cpa_usage import Store

    store = Store(store_env.database)
    store.write_batch([imported(1_796_000_000_000, "gpt-5.4")], [], received=1)
    store.close()
    done = subprocess.run([sys.executable, str(ROOT / "cpa_usage.py"), "backfill-logs"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "total 1, matched 1, ambiguous 0, missing 0, logs indexed 1"
    without = subprocess.run([sys.executable, str(ROOT / "cpa_usage.py"), "backfill-logs"],
                             env={**env, "CPA_LOG_DIR": ""}, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert without.returncode == 2 and "needs CPA_LOG_DIR" in without.stderr
