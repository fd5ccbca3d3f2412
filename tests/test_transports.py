"""CPA however it is reached: the HTTP usage queue, the transport ladder of
REDIS_QUEUE_TRANSPORT=auto (SUBSCRIBE where RESP works, else the HTTP queue, else LPOP),
CPAs behind an HTTP-only reverse proxy (a path prefix, TLS), CPA v8's management API
with /v0 gone, the errors channel, and what /status and /metrics say about each."""

import json
import time

import pytest

from backends import wait_for
from conftest import FAST, base_env, encode, payload_lines, record, wsgi_call
from cpa_usage import ConfigError, load_config, probe_resp, split_json_array
from fake_proxy import ClosingListener, ReverseProxy, SilentListener
from test_drain import records, stored


@pytest.fixture
def make_service(service_factory):
    return service_factory


def api(service, path):
    response = wsgi_call(service.app, "GET", "/usage/api/v1" + path)
    assert response.status == 200, response.body[:300]
    return response.json()


def queue_pops(cpa):
    return [r for r in cpa.http_requests if "usage-queue" in r.path or "usage/queue" in r.path]


# -- the HTTP usage queue ---------------------------------------------------------------


def test_http_transport_pops_over_one_kept_alive_connection(fake_cpa, make_service):
    cpa = fake_cpa()
    service = make_service(cpa.url, REDIS_QUEUE_TRANSPORT="http")
    wait_for(lambda: service.status.mode == "http", what="HTTP mode")
    for payload in records(250):
        cpa.publish(payload)
    wait_for(lambda: stored(service) == 250, what="records from the HTTP queue")
    pops = queue_pops(cpa)
    assert len(pops) >= 5 and all(r.path.startswith("/v0/management/usage-queue?count=100") for r in pops)
    assert len({r.conn_id for r in pops}) == 1  # no new TCP connection per pop
    assert all(r.headers["Authorization"] == "Bearer test-mgmt-key" for r in pops)
    assert cpa.commands == []  # nothing of RESP: not even the probe
    status = api(service, "/status")
    assert status["mode"] == "http" and status["transport"] == {"setting": "http",
                                                                "reason": "REDIS_QUEUE_TRANSPORT=http"}


def test_http_queue_items_that_are_not_records_go_to_dead_letters(fake_cpa, make_service):
    cpa = fake_cpa()
    good = records(2)
    deep = b'{"tokens":' + b'[' * 2000 + b']' * 2000 + b'}'
    for payload in (good[0], b"not json", deep, good[1]):
        cpa.publish(payload)
    service = make_service(cpa.url, REDIS_QUEUE_TRANSPORT="http")
    wait_for(lambda: stored(service) == 2, what="the good records")
    wait_for(lambda: service.store.load_totals()["dead_letters"] == 2, what="the bad ones kept aside")
    payloads = {bytes(d.payload) for d in service.store.list_dead_letters()}
    assert b"not json" in payloads and any(p.startswith(b'{"tokens":[[[') for p in payloads)


def test_split_json_array_keeps_every_element_as_sent():
    assert split_json_array(b'[{"a":1},"x\\"y",[1,[2]],  {"b":"]"}]') == [b'{"a":1}', b'"x\\"y"', b'[1,[2]]',
                                                                          b'{"b":"]"}']
    assert split_json_array(b"[]") == [] and split_json_array(b" [ ] ") == []
    deep = b"[" * 5000 + b"]" * 5000
    assert split_json_array(b"[" + deep + b"," + deep + b"]") == [deep, deep]
    for broken in (b"", b"{}", b"[1,]", b"[,1]", b'["open]', b"[[1]", b"<html>"):
        assert split_json_array(broken) is None, broken


def test_a_rejected_key_over_http_is_tried_once(fake_cpa, make_service):
    cpa = fake_cpa()
    service = make_service(cpa.url, key="wrong-key", REDIS_QUEUE_TRANSPORT="http")
    wait_for(lambda: service.gate.state == "rejected", what="the rejection")
    time.sleep(0.3)  # the drain and the sync would both try again if the gate let them
    assert cpa.failed_attempts_total() == 1 and len(queue_pops(cpa)) <= 1  # that one was the attempt, if any
    assert "invalid management key" in service.gate.reason


# -- auto: the ladder, and the key-free probe ------------------------------------------


def test_auto_subscribes_where_resp_works(fake_cpa, make_service):
    cpa = fake_cpa()
    service = make_service(cpa.url)
    wait_for(lambda: service.status.mode == "subscribe", what="SUBSCRIBE")
    assert service.status.transport_reason == f"RESP answers at 127.0.0.1:{cpa.port}"
    assert queue_pops(cpa) == []


def test_auto_takes_the_http_queue_where_subscribe_is_missing(fake_cpa, make_service):
    cpa = fake_cpa(version="7.0.3")  # RESP, no SUBSCRIBE, an HTTP queue (v6.10.8+)
    for payload in records(30):
        cpa.publish(payload)
    service = make_service(cpa.url)
    wait_for(lambda: stored(service) == 30, what="the records")
    wait_for(lambda: service.status.mode == "http", what="HTTP mode")
    assert "no SUBSCRIBE" in service.status.transport_reason
    assert not any(c.args[0].upper() == b"LPOP" for c in cpa.commands)


def test_auto_moves_back_to_subscribe_when_resp_answers_again(fake_cpa, make_service):
    cpa = fake_cpa(resp_enabled=False)  # RESP bytes are answered as HTTP: a 400
    service = make_service(cpa.url, resubscribe_every=0.3)
    wait_for(lambda: service.status.mode == "http", what="HTTP mode")
    assert "answers RESP with HTTP (HTTP/1.1 400 Bad Request)" in service.status.transport_reason
    cpa.resp_enabled = True
    wait_for(lambda: service.status.mode == "subscribe", what="SUBSCRIBE once RESP works")
    cpa.publish(records(1)[0])
    wait_for(lambda: stored(service) == 1, what="a pushed record")
    assert cpa.failed_attempts_total() == 0


@pytest.mark.parametrize("listener, kind", [(ClosingListener, "closed"), (SilentListener, "silent")])
def test_an_address_that_never_speaks_resp_gets_no_key(fake_cpa, make_service, listener, kind):
    cpa = fake_cpa()
    with listener() as resp_address:
        assert probe_resp((resp_address.host, resp_address.port, False), 0.5).kind == kind
        service = make_service(cpa.url, REDIS_QUEUE_ADDR=f"127.0.0.1:{resp_address.port}", probe_timeout=0.5)
        for payload in records(5):
            cpa.publish(payload)
        wait_for(lambda: stored(service) == 5, what="records over HTTP")
        assert service.status.mode == "http" and resp_address.connections >= 1
    assert cpa.failed_attempts_total() == 0 and cpa.commands == []


def test_probe_tells_resp_http_and_nothing_apart(fake_cpa):
    cpa = fake_cpa()
    assert probe_resp(("127.0.0.1", cpa.port, False), 2).kind == "resp"
    cpa.resp_enabled = False
    assert probe_resp(("127.0.0.1", cpa.port, False), 2).kind == "http"
    cpa.stop()
    assert probe_resp(("127.0.0.1", cpa.port, False), 2).kind == "unreachable"
    assert cpa.failed_attempts_total() == 0 and cpa.commands == []


def test_the_probe_against_the_real_redis_is_resp():
    assert probe_resp(("127.0.0.1", 6379, False), 2).kind == "resp"


# -- behind an HTTP-only reverse proxy --------------------------------------------------


def test_behind_a_reverse_proxy_without_a_path_resp_bytes_never_reach_cpa(fake_cpa, make_service):
    cpa = fake_cpa()
    with ReverseProxy(cpa.url) as proxy:
        service = make_service(proxy.url)
        for payload in records(500):
            cpa.publish(payload)
        wait_for(lambda: stored(service) == 500, what="every record through the proxy")
        assert service.status.mode == "http" and proxy.rejected >= 1  # the probe, answered 400 by the proxy
    assert cpa.failed_attempts_total() == 0 and cpa.commands == []


@pytest.mark.parametrize("tls", [False, True])
def test_behind_a_reverse_proxy_with_a_path_prefix(fake_cpa, make_service, monkeypatch, tls):
    cpa = fake_cpa()
    with ReverseProxy(cpa.url, prefix="/cpa", tls=tls) as proxy:
        if tls:
            monkeypatch.setenv("SSL_CERT_FILE", proxy.ca_file)  # the proxy's own CA, as a user's system trusts theirs
        service = make_service(proxy.url)
        for payload in records(50):
            cpa.publish(payload)
        wait_for(lambda: stored(service) == 50, what="records under the prefix")
        wait_for(lambda: service.metadata.last_success_at is not None, what="a whole metadata sync")
        assert proxy.rejected == 0  # RESP is not even tried behind a path
        assert all(r.path.startswith("/cpa/") for r in proxy.requests)
        status = api(service, "/status")
        assert status["mode"] == "http" and "has a path" in status["transport"]["reason"]
        assert status["queue"]["addr"] == "none (HTTP only)"
        assert len(service.store.get_metadata("auth-files")[1]) == len(cpa.auth_files)


def test_resp_transports_need_an_address_behind_a_path(tmp_path):
    with pytest.raises(ConfigError, match="REDIS_QUEUE_TRANSPORT=subscribe needs RESP"):
        load_config(base_env(tmp_path, CPA_BASE_URL="https://example.com/cpa", REDIS_QUEUE_TRANSPORT="subscribe"))
    config = load_config(base_env(tmp_path, CPA_BASE_URL="https://example.com/cpa", REDIS_QUEUE_TRANSPORT="lpop",
                                  REDIS_QUEUE_ADDR="example.com:8317"))
    assert config.queue_endpoint() == ("example.com", 8317, False)
    assert load_config(base_env(tmp_path, CPA_BASE_URL="https://example.com/cpa")).queue_endpoint() is None
    with pytest.raises(ConfigError, match="REDIS_QUEUE_TRANSPORT='pull' is invalid"):
        load_config(base_env(tmp_path, REDIS_QUEUE_TRANSPORT="pull"))


# -- CPA v8 ------------------------------------------------------------------------------


def test_v8_without_v0_and_without_resp(fake_cpa, make_service):
    cpa = fake_cpa(version="8.0.5", v0_api=False, resp_enabled=False)
    cpa.provider_keys["codex-api-key"] = [{"api-key": "sk-codex-1", "base-url": "https://c", "auth-index": "c1"}]
    for payload in records(20):
        cpa.publish(payload)
    service = make_service(cpa.url)
    wait_for(lambda: stored(service) == 20, what="records from v8's HTTP queue")
    wait_for(lambda: service.metadata.last_success_at is not None, what="a whole sync on v8")
    assert all(r.path.startswith(("/v8/", "/v1/models")) for r in cpa.http_requests)
    assert any(r.path.startswith("/v8/management/observability/usage/queue?count=100") for r in cpa.http_requests)
    status = api(service, "/status")
    assert status["cpa"]["management_api"] == "v8" and status["cpa"]["usage_statistics_enabled"] is True
    assert status["metadata"]["last_error"] is None
    files = service.store.get_metadata("auth-files")[1]
    assert {f["auth_index"] for f in files} == {f["auth_index"] for f in cpa.auth_files}
    assert service.store.get_metadata("api-keys")[1] == ["test-client-key-1"]
    codex = service.store.get_metadata("codex-api-key")[1]
    assert codex == [{"name": "codex-1", "base-url": "https://c", "api-key": "sk-codex-1", "weight": 1,
                      "auth-index": "c1"}]  # a v8 group's key in the v0 form the dashboard reads
    compat = service.store.get_metadata("openai-compatibility")[1]
    assert compat[0]["api-key-entries"][0]["auth-index"] and "keys" not in compat[0]
    assert service.store.get_metadata("vertex-api-key")[1] == []  # not configured: no node in v8's config


def test_v8_recording_switch_takes_the_raw_value(fake_cpa, make_service):
    cpa = fake_cpa(version="8.0.5", v0_api=False, usage_statistics_enabled=False)
    service = make_service(cpa.url, start=False)
    response = wsgi_call(service.app, "POST", "/usage/api/v1/cpa/usage-statistics", b'{"enabled": true}',
                         {"Content-Type": "application/json"})
    assert response.status == 200 and response.json()["usage_statistics_enabled"] is True
    put = [r for r in cpa.http_requests if r.method == "PUT"]
    assert [(r.path, r.body) for r in put] == [
        ("/v8/management/config/observability/usage/usage-statistics-enabled", b"true")]
    assert cpa.usage_statistics_enabled is True


def test_the_v8_queue_retention_is_read_and_a_long_stop_is_reported(fake_cpa, make_service):
    cpa = fake_cpa(version="8.0.5", retention_seconds=600)
    service = make_service(cpa.url, start=False)
    name = service.config.cpas[0].name
    service.store.set_meta(f"drain.last_contact.{name}", str(int(time.time() * 1000) - 2 * 3600 * 1000))
    service.store.close()
    service = make_service(cpa.url)  # the next start: two hours after the last contact
    wait_for(lambda: service.status.queue_retention_s == 600, what="the retention read")
    wait_for(lambda: service.status.last_gap is not None, what="the stop noticed")
    warning = api(service, "/status")["records_lost_warning"]
    assert "longer than CPA keeps a record (10m)" in warning and "redis-usage-queue-retention-seconds" in warning


def test_a_short_stop_loses_nothing(fake_cpa, make_service):
    cpa = fake_cpa(retention_seconds=3600)
    service = make_service(cpa.url, start=False)
    service.store.set_meta(f"drain.last_contact.{service.config.cpas[0].name}",
                           str(int(time.time() * 1000) - 600 * 1000))
    service.store.close()
    service = make_service(cpa.url)
    wait_for(lambda: service.status.queue_retention_s == 3600 and service.status.last_gap, what="the gap")
    assert api(service, "/status")["records_lost_warning"] is None


def test_v8_record_fields_are_stored_served_and_filterable(fake_cpa, make_service):
    cpa = fake_cpa(version="8.0.5")
    streamed = record(request_id="aa000001", stream=True, resolved_client_ip="203.0.113.9", execution_id="exe-1")
    plain = record(request_id="aa000002", stream=False, resolved_client_ip="198.51.100.4", execution_id="exe-2")
    service = make_service(cpa.url)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    cpa.publish(encode(streamed))
    cpa.publish(encode(plain))
    wait_for(lambda: stored(service) == 2, what="both")
    items = api(service, "/usage/events?stream=true")["items"]
    assert [(i["request_id"], i["stream"], i["resolved_client_ip"], i["execution_id"]) for i in items] == [
        ("aa000001", True, "203.0.113.9", "exe-1")]
    assert api(service, "/usage/overview?range=all&stream=false")["summary"]["requests"] == 1
    export = wsgi_call(service.app, "GET", "/usage/api/v1/usage/events/export?format=csv&stream=true").body.decode()
    header, row = export.splitlines()[:2]
    assert header.endswith("stream,resolved_client_ip,execution_id") and row.endswith("True,203.0.113.9,exe-1")


# -- the errors channel ---------------------------------------------------------------------


def test_credential_errors_are_kept_listed_and_counted(fake_cpa, make_service):
    from prometheus_client.parser import text_string_to_metric_families

    cpa = fake_cpa()
    service = make_service(cpa.url)
    wait_for(lambda: cpa.subscriber_count("errors") == 1, what="the errors subscription")
    events = [json.loads(line) for line in payload_lines("errors-channel")]
    for event in events:
        cpa.publish_error(event)
    cpa.publish_error(b'{"status_code": "429"}')  # malformed: kept aside
    wait_for(lambda: service.store.load_totals()["credential_errors"] == len(events), what="the errors")
    wait_for(lambda: service.store.load_totals()["dead_letters"] == 1, what="the malformed one")
    assert service.store.list_dead_letters()[0].via == "errors"
    page = api(service, "/credential-errors?range=custom&start=2026-08-22T00:00:00Z&end=2026-08-23T00:00:00Z")
    assert page["total"] == len(events) and page["items"][0]["timestamp"] == "2026-08-22T11:05:00.000Z"
    quota = next(i for i in page["items"] if i["status_code"] == 429)
    assert quota["quota"] == {"exceeded": True, "reason": "quota", "next_recover_at": "2026-08-22T10:44:27.663Z"}
    assert quota["state"] == "error" and quota["unavailable"] is True and quota["retryable"] is True
    one = api(service, "/credential-errors?range=custom&start=2026-08-22T00:00:00Z&end=2026-08-23T00:00:00Z"
                       "&auth_index=0e4d7b2a9c13f588")
    assert [i["status_code"] for i in one["items"]] == [500]
    states = api(service, "/usage/credentials?range=all")["states"]
    assert states["58e0ab19c6d27f43"]["state_message"] == "quota exhausted"
    metrics = wsgi_call(service.app, "GET", "/usage/metrics").body.decode()
    family = next(f for f in text_string_to_metric_families(metrics) if f.name == "cpa_usage_credential_errors")
    assert {(s.labels["provider"], s.labels["status"]): s.value for s in family.samples} == {
        ("codex", "429"): 1, ("claude", "500"): 1, ("gemini", "400"): 1, ("claude", "401"): 1, ("", "500"): 1}


def test_old_cpas_without_an_errors_channel_still_subscribe(fake_cpa, make_service):
    cpa = fake_cpa(version="7.1.43")  # SUBSCRIBE usage works; errors is an unsupported channel
    service = make_service(cpa.url)
    wait_for(lambda: service.status.mode == "subscribe", what="SUBSCRIBE")
    wait_for(lambda: any(c.args[:2] == [b"SUBSCRIBE", b"errors"] for c in cpa.commands), what="the errors try")
    cpa.publish(records(1)[0])
    wait_for(lambda: stored(service) == 1, what="a record")
    assert not service.status.errors_subscribed and service.status.reconnects == 0


# -- CPA drops a slow subscriber -----------------------------------------------------------


def test_a_subscription_cpa_drops_is_counted_and_told(fake_cpa, make_service):
    cpa = fake_cpa(subscriber_buffer=8)
    service = make_service(cpa.url)
    wait_for(lambda: cpa.subscriber_count() == 1, what="the subscription")
    cpa.freeze_subscribers(True)  # our reader gets nothing while CPA's buffer fills
    for payload in records(20):
        cpa.publish(payload)
    assert cpa.dropped_subscribers == 1
    cpa.freeze_subscribers(False)  # CPA writes what it buffered, then closes
    wait_for(lambda: service.status.subscription_drops == 1, what="the drop noticed")
    status = api(service, "/status")
    assert status["subscription_drops"] == 1 and status["last_subscription_drop_at"]
    wait_for(lambda: stored(service) == 20 - len(cpa.lost), what="what CPA did deliver")
    assert len(cpa.lost) >= 1


# -- several CPAs -----------------------------------------------------------------------------


def test_every_cpa_of_cpa_instances_has_its_metadata_synced(fake_cpa, make_service):
    east, west = fake_cpa(), fake_cpa(version="8.0.5", v0_api=False)
    west.auth_files = [dict(west.auth_files[0], auth_index="ffffffffffffffff", name="west.json")]
    west.client_keys = ["west-client-key"]
    service = make_service(plain=True, CPA_INSTANCES=f"east={east.url},west={west.url}",
                           REDIS_QUEUE_ERROR_BACKOFF="100ms", **FAST)
    wait_for(lambda: all(m.last_success_at for m in service.metadatas), what="both synced")
    files = api(service, "/auth-files?range=all")["items"]
    assert {(f["cpa"], f["auth_index"]) for f in files} >= {("west", "ffffffffffffffff"),
                                                            ("east", east.auth_files[0]["auth_index"])}
    assert set(service.store.get_metadata("api-keys")[1]) == {"test-client-key-1", "west-client-key"}
    status = api(service, "/status")
    assert [(i["name"], i["cpa"]["management_api"]) for i in status["instances"]] == [("east", "v0"),
                                                                                      ("west", "v8")]
    from prometheus_client.parser import text_string_to_metric_families

    metrics = wsgi_call(service.app, "GET", "/usage/metrics").body.decode()
    modes = next(f for f in text_string_to_metric_families(metrics) if f.name == "cpa_usage_queue_mode")
    assert {s.labels["cpa"] for s in modes.samples} == {"east", "west"}
