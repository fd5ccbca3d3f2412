"""History in, data out: CPA's legacy export and JSON Lines imported with the identity
the drain gives, exports (CSV, lossless JSONL) streamed in constant memory, the import
route, and Prometheus metrics read back with Prometheus' own text parser."""

import csv
import io
import json
import sys
import tracemalloc

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backends import wait_for
from conftest import FIXTURES, base_env, encode, payload_lines, record, wsgi_call
from cpa_usage import (ROLLUPS, ROLLUP_MEASURES, UsageEvent, Importer, Query, Service, Store, decode_payload,
                       load_config, main)
from test_drain import stored

ERAS = ("v6.10", "v7.0", "v7.1", "v7.2.78", "v7.2")
LEGACY = FIXTURES / "payloads" / "legacy-export.json"
API = "/usage/api/v1"


def all_rows(store) -> list[tuple]:
    return store.reader.execute(f"SELECT {', '.join(UsageEvent._fields)} FROM usage_events "
                                "ORDER BY ts_ms, event_key").fetchall()


def rollup_sums(store) -> dict:
    sums = ", ".join(f"SUM({m})" for m in ROLLUP_MEASURES)
    return {r.table: store.reader.execute(f"SELECT COUNT(*), {sums} FROM {r.table}").fetchone() for r in ROLLUPS}


def import_bytes(store, data: bytes, name="file"):
    return Importer(store).run(io.BytesIO(data), name)


# -- imports ---------------------------------------------------------------------------

def test_the_legacy_export_sample_is_imported_whole_and_only_once(store):
    report = import_bytes(store, LEGACY.read_bytes(), "legacy-export.json")
    assert (report.read, report.added, report.duplicates, report.rejected, report.error) == (7, 7, 0, 0, None)
    usage = json.loads(LEGACY.read_text())["usage"]
    summary = store.aggregate(Query(0, 2**62), ("failed",))
    assert summary[(0,)][0] + summary[(1,)][0] == usage["total_requests"] == 7
    assert summary[(1,)][0] == usage["failure_count"] == 2
    raw_total = store.reader.execute("SELECT SUM(raw_total_tokens) FROM usage_events").fetchone()[0]
    assert raw_total == usage["total_tokens"]
    by_key = dict(store.reader.execute("SELECT api_key, COUNT(*) FROM usage_events GROUP BY api_key").fetchall())
    assert by_key == {"": 1, **{k: v["total_requests"] for k, v in usage["apis"].items() if not k.startswith("POST")}}
    no_key = store.reader.execute("SELECT endpoint, provider, model FROM usage_events WHERE api_key = ''").fetchone()
    assert no_key == ("POST /v1/chat/completions", "gemini", "gemini-3-pro-preview")
    assert json.loads(store.reader.execute("SELECT extra FROM usage_events LIMIT 1").fetchone()[0]) == \
        {"imported_from": "cpa-usage-export"}
    again = import_bytes(store, LEGACY.read_bytes())
    assert (again.added, again.duplicates) == (0, 7)


def test_jsonl_of_every_era_gets_the_identity_the_drain_gives(tmp_path, store):
    lines = [line for era in ERAS for line in payload_lines(era)]
    drained = Store(str(tmp_path / "drained.db"))
    try:
        drained.write_batch([decode_payload(line, 1_790_000_000_000) for line in lines], [], received=len(lines))
        report = import_bytes(store, b"\n".join(lines) + b"\n")
        assert (report.added, report.rejected) == (len(lines), 0)
        keys = "SELECT event_key FROM usage_events ORDER BY event_key"
        assert store.reader.execute(keys).fetchall() == drained.reader.execute(keys).fetchall()
        assert import_bytes(drained, b"\n".join(lines)).duplicates == len(lines)  # drained and imported: once
    finally:
        drained.close()


def test_bad_records_in_a_good_file_are_rejected_with_reasons_and_kept(store):
    lines = [encode(record(request_id="good-1")), b'{"tokens": "many"}', b"[1, 2]",
             b'{"support_refresh": true}', encode(record(request_id="good-2"))]
    report = import_bytes(store, b"\n".join(lines), "mixed.jsonl")
    assert (report.read, report.added, report.rejected) == (5, 2, 3)
    assert report.reasons == {"tokens must be an object, got str": 1, "not a JSON object but list": 1,
                              "a control message, not a usage record": 1}
    dead = store.list_dead_letters()
    assert sorted(d.reason for d in dead)[0].startswith("mixed.jsonl:2: tokens must be an object")
    assert {d.payload for d in dead} == {b'{"tokens": "many"}', b"[1, 2]", b'{"support_refresh": true}'}


def test_exported_rows_whose_tokens_do_not_add_up_are_rejected(store):
    good = decode_payload(payload_lines("v7.2")[0], 1_790_000_000_000)._asdict()
    assert good["total_tokens"] > 0 and good["reasoning_tokens"] > 0
    lines = [encode(good), encode({**good, "event_key": "k2", "total_tokens": good["total_tokens"] + 1}),
             encode({**good, "event_key": "k3", "reasoning_tokens": good["output_tokens"] + 1}),
             encode({**good, "event_key": "k4", "input_tokens": -5, "total_tokens": good["total_tokens"] - 5})]
    report = import_bytes(store, b"\n".join(lines), "edited.jsonl")
    assert (report.added, report.rejected) == (1, 3)
    assert list(report.reasons.values()) == [3] and "total_tokens the sum of input" in next(iter(report.reasons))
    assert {d.payload for d in store.list_dead_letters()} == set(lines[1:])


def test_an_empty_file_imports_nothing_and_is_no_error(store):
    for data in (b"", b"\n  \n"):
        report = import_bytes(store, data)
        assert (report.error, report.read, report.added, report.rejected) == (None, 0, 0, 0)


@pytest.mark.parametrize("data, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "neither JSON Lines nor a JSON document"),
    (LEGACY.read_bytes()[:-40], "neither JSON Lines nor a JSON document"),
    (encode(record(request_id="a")) + b"\n{\"truncated\": \n" + encode(record(request_id="b")), "line 2 is not JSON"),
    (b'{\n"version": 2, "usage": {}\n}', "not a CPA usage export"),
    (b'{"version": 1, "usage": {"apis": {"k": {"models": []}}}}', "models must be an object"),
])
def test_a_file_not_valid_as_a_whole_changes_nothing(store, data, message):
    report = import_bytes(store, data)
    assert message in report.error
    assert (report.added, store.list_dead_letters()) == (0, [])
    assert store.reader.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0] == 0


# -- exports -----------------------------------------------------------------------------

@pytest.fixture
def drained(fake_cpa, service_factory):
    """A service that drained every era's fixtures from the fake CPA, then stopped."""
    cpa = fake_cpa(version="7.2.140")
    service = service_factory(cpa.url, key=cpa.key, start=False, REDIS_QUEUE_TRANSPORT="auto")
    lines = [line for era in ERAS for line in payload_lines(era)]
    service.start()
    try:
        for line in lines:
            cpa.publish(line)
        wait_for(lambda: stored(service) == len(lines), what="every record drained")
    finally:
        service.writer.stop(1.5)
        service.drainer.close(1.0)
        service.metadata.stop()
        service.maintenance.stop()
    return service


def test_drain_export_import_round_trip_is_lossless(tmp_path, drained):
    answer = wsgi_call(drained.app, "GET", f"{API}/usage/events/export?format=jsonl")
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/x-ndjson")
    assert 'filename="cpa-usage-events-' in answer.headers["content-disposition"]
    (tmp_path / "events.jsonl").write_bytes(answer.body)
    assert main(["import", str(tmp_path / "events.jsonl"), "--db", str(tmp_path / "empty.db")]) == 0
    copy = Store(str(tmp_path / "empty.db"))
    try:
        assert all_rows(copy) == all_rows(drained.store)  # every column, identity included
        assert rollup_sums(copy) == rollup_sums(drained.store)
        everything = Query(0, 2**62)
        for group in ((), ("model", "failed"), ("api_key", "model"), ("source", "auth_index")):
            assert copy.aggregate(everything, group, 3_600_000) == drained.store.aggregate(everything, group, 3_600_000)
    finally:
        copy.close()


def test_csv_export_masks_keys_prices_and_filters(drained):
    body = wsgi_call(drained.app, "GET", f"{API}/usage/events/export?format=csv&model=gpt-5.4&result=success").body
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    expected = drained.store.reader.execute(
        "SELECT COUNT(*) FROM usage_events WHERE model = 'gpt-5.4' AND failed = 0").fetchone()[0]
    assert len(rows) == expected > 0
    assert {r["model"] for r in rows} == {"gpt-5.4"} and {r["failed"] for r in rows} == {"0"}
    assert all("…" in r["api_key"] for r in rows) and "sk-team-alpha-7f3c" not in body.decode()
    assert all(float(r["cost_usd"]) > 0 for r in rows)
    assert [r["ts_ms"] for r in rows] == sorted(r["ts_ms"] for r in rows)  # oldest first
    assert wsgi_call(drained.app, "GET", f"{API}/usage/events/export?format=xml").json()["detail"]["parameter"] \
        == "format"


def test_analysis_export_has_every_row_with_totals(drained):
    body = wsgi_call(drained.app, "GET", f"{API}/usage/analysis/export?range=all&group=both&sort=cost").body
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    answer = wsgi_call(drained.app, "GET", f"{API}/usage/analysis?range=all&group=both&sort=cost&page_size=500").json()
    assert len(rows) == answer["total"] and [r["model"] for r in rows] == [i["model"] for i in answer["items"]]
    assert sum(int(r["requests"]) for r in rows) == stored(drained)
    assert rows[0]["api_key"] == answer["items"][0]["api_key"]  # masked the same way


def test_a_large_export_streams_in_constant_memory(tmp_path):
    store = Store(str(tmp_path / "big.db"))
    template = record()
    events = [decode_payload(encode({**template, "request_id": f"r{i:07d}",
                                     "timestamp": f"2026-05-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:"
                                                  f"{i // 60 % 60:02d}:{i % 60:02d}Z"}), 1_790_000_000_000)
              for i in range(20_000)]  # 20+ MB of JSON lines: more than the 12 MB it may hold
    for start in range(0, len(events), 5000):
        store.write_batch(events[start:start + 5000], [], received=5000)
    del events
    service = Service(load_config(base_env(tmp_path, SQLITE_PATH=str(tmp_path / "big.db"))))
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"{API}/usage/events/export", "QUERY_STRING": "format=jsonl",
               "SCRIPT_NAME": "", "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO()}
    tracemalloc.start()
    try:
        size, lines = 0, 0
        for chunk in service.app(environ, lambda status, headers, exc_info=None: None):
            size += len(chunk)
            lines += chunk.count(b"\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        service.store.close()
        store.close()
    assert lines == 20_000 and size > 20 * 2**20
    assert peak < 12 * 2**20, f"{peak / 2**20:.1f} MB to stream {size / 2**20:.0f} MB"


def test_export_command_writes_the_filtered_events(tmp_path, drained, capsys):
    database = drained.config.sqlite_path
    assert main(["export", "events", "--db", database, "--format", "csv", "--result", "failed",
                 "-o", str(tmp_path / "failed.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "failed.csv", newline="")))
    assert len(rows) == drained.store.reader.execute(
        "SELECT COUNT(*) FROM usage_events WHERE failed = 1").fetchone()[0] > 0
    assert main(["export", "events", "--db", database, "--range", "custom", "--start", "yesterday"]) == 2
    assert "RFC 3339" in capsys.readouterr().err


def test_import_command_reports_and_fails_on_an_invalid_file(tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_bytes(b'{"a": 1}\nnot json\n')
    code = main(["import", str(LEGACY), str(tmp_path / "bad.jsonl"), "--db", str(tmp_path / "x.db")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "legacy-export.json: 7 read, 7 added, 0 already there, 0 rejected" in out
    assert "bad.jsonl: not imported: line 2 is not JSON" in err


# -- the import route ----------------------------------------------------------------------

def test_import_route_takes_a_file_and_reports(config_factory):
    service = Service(config_factory())
    try:
        body = b"\n".join(payload_lines("v7.2"))
        answer = wsgi_call(service.app, "POST", f"{API}/import?name=v7.2.jsonl", body,
                           {"Content-Type": "application/x-ndjson"})
        assert answer.status == 200
        assert answer.json() == {"file": "v7.2.jsonl", "read": 17, "added": 17, "duplicates": 0, "rejected": 0,
                                 "reasons": {}, "error": None}
        legacy = wsgi_call(service.app, "POST", f"{API}/import", LEGACY.read_bytes(),
                           {"Content-Type": "application/json"})
        assert legacy.json()["added"] == 7
        broken = wsgi_call(service.app, "POST", f"{API}/import", b"{\n", {"Content-Type": "application/json"})
        assert broken.status == 400 and "nothing was imported" in broken.json()["error"]
        form = wsgi_call(service.app, "POST", f"{API}/import", body, {"Content-Type": "text/plain"})
        assert form.status == 415
        assert service.store.load_totals()["inserted"] == 24
    finally:
        service.store.close()


def test_import_route_limits_the_size_and_needs_a_session(config_factory, monkeypatch):
    import cpa_usage

    monkeypatch.setattr(cpa_usage, "IMPORT_MAX_BYTES", 100)
    service = Service(config_factory(AUTH_ENABLED="true", LOGIN_PASSWORD="pw"))
    try:
        body = b"\n".join(payload_lines("v7.2"))
        assert wsgi_call(service.app, "POST", f"{API}/import", body,
                         {"Content-Type": "application/x-ndjson"}).status == 401
        token, _ = service.auth.issue()
        too_big = wsgi_call(service.app, "POST", f"{API}/import", body,
                            {"Content-Type": "application/x-ndjson", "Cookie": f"cpa_usage_session={token}"})
        assert too_big.status == 413 and too_big.json()["detail"]["max_bytes"] == 100
        assert service.store.load_totals()["inserted"] == 0
    finally:
        service.store.close()


# -- Prometheus ----------------------------------------------------------------------------

def scrape(service, headers=None) -> dict:
    answer = wsgi_call(service.app, "GET", "/usage/metrics", headers=headers)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in text_string_to_metric_families(answer.body.decode())}


def samples(family, **labels) -> list:
    return [s for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]


def test_metrics_count_the_drain_and_usage_by_model_and_key(drained):
    drained.store.set_aliases({"sk-team-alpha-7f3c": "alpha team"}, replace=False)
    families = scrape(drained)
    totals = drained.store.load_totals()
    assert samples(families["cpa_usage_events_inserted"])[0].value == totals["inserted"] == stored(drained)
    assert samples(families["cpa_usage_records_received"])[0].value == totals["received"]
    assert {s.labels["mode"]: s.value for s in families["cpa_usage_queue_mode"].samples} == \
        {"subscribe": 0, "http": 0, "lpop": 0, "down": 1}  # the drain was stopped
    assert {s.labels["cpa"] for s in families["cpa_usage_queue_mode"].samples} == {drained.config.cpas[0].name}
    assert samples(families["cpa_usage_last_event_age_seconds"])[0].value > 0
    requests = families["cpa_usage_requests"]
    assert sum(s.value for s in requests.samples) == stored(drained)
    by_row = dict(drained.store.reader.execute(
        "SELECT model, COUNT(*) FROM usage_events WHERE api_key = 'sk-team-alpha-7f3c' GROUP BY model").fetchall())
    assert {s.labels["model"]: s.value for s in samples(requests, api_key="alpha team")} == by_row
    tokens = families["cpa_usage_tokens"]
    assert sum(s.value for s in samples(tokens, kind="cache_read")) == drained.store.reader.execute(
        "SELECT SUM(cache_read_tokens) FROM usage_events").fetchone()[0]
    failed = sum(s.value for s in families["cpa_usage_failed_requests"].samples)
    assert failed == drained.store.reader.execute("SELECT COUNT(*) FROM usage_events WHERE failed = 1").fetchone()[0]
    assert sum(s.value for s in families["cpa_usage_cost_usd"].samples) > 0
    assert "sk-team-alpha-7f3c" not in json.dumps([s.labels for f in families.values() for s in f.samples])


def test_metrics_labels_are_bounded(config_factory):
    service = Service(config_factory())
    try:
        events = [decode_payload(encode(record(request_id=f"r{i}", api_key=f"sk-member-{i:03d}-secret",
                                               model=f"model-{i % 70}")), 1_790_000_000_000) for i in range(140)]
        service.store.write_batch(events, [], received=140)
        requests = scrape(service)["cpa_usage_requests"].samples
        keys, models = {s.labels["api_key"] for s in requests}, {s.labels["model"] for s in requests}
        assert len(keys) == 51 and "other" in keys and len(models) == 51 and "other" in models
        assert sum(s.value for s in requests) == 140
        assert len({tuple(sorted(s.labels.items())) for s in requests}) == len(requests)  # no duplicate series
    finally:
        service.store.close()


def test_metrics_need_login_unless_public(config_factory, tmp_path):
    import base64

    service = Service(config_factory(AUTH_ENABLED="true", LOGIN_PASSWORD="pw"))
    try:
        denied = wsgi_call(service.app, "GET", "/usage/metrics")
        assert denied.status == 401 and denied.headers["www-authenticate"].startswith("Basic")
        basic = base64.b64encode(b"prometheus:pw").decode()
        assert "cpa_usage_requests" in scrape(service, {"Authorization": f"Basic {basic}"})
        wrong = base64.b64encode(b"prometheus:nope").decode()
        for _ in range(5):
            answer = wsgi_call(service.app, "GET", "/usage/metrics", headers={"Authorization": f"Basic {wrong}"})
            assert answer.status == 401
        limited = wsgi_call(service.app, "GET", "/usage/metrics", headers={"Authorization": f"Basic {basic}"})
        assert limited.status == 401  # the login limit counts metrics failures too
    finally:
        service.store.close()
    public = Service(config_factory(AUTH_ENABLED="true", LOGIN_PASSWORD="pw", METRICS_PUBLIC="true"))
    try:
        assert "cpa_usage_events_inserted" in scrape(public)
    finally:
        public.store.close()


def test_a_progress_bar_shows_on_a_terminal_only(tmp_path, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    lines = [encode(record(request_id=f"p{i}")) for i in range(2500)]  # three batches
    (tmp_path / "many.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["import", str(tmp_path / "many.jsonl"), "--db", str(tmp_path / "p.db")]) == 0
    bars = [part for part in terminal.getvalue().split("\r") if part.startswith("many.jsonl [")]
    assert len(bars) == 2 and bars[0].endswith("%") and "#" in bars[-1]  # after each full batch
    assert terminal.getvalue().endswith("\r\x1b[K")  # the bar is cleared before the summary
    assert "2,500 read, 2,500 added" in capsys.readouterr().out
    monkeypatch.undo()
    assert main(["import", str(tmp_path / "many.jsonl"), "--db", str(tmp_path / "p.db")]) == 0
    assert "\r" not in capsys.readouterr().err  # not a terminal: no bar
