"""Several CPAs, one store: every event names its CPA (INSTANCE_NAME, or its CPA_INSTANCES
entry), filterable everywhere; several cpa-usage processes write into one PostgreSQL
database concurrently without duplicates or lost rollup increments; one process drains
several CPAs, each with its own drain status and ban safety; schemas 7 and 8 keep old data."""

import threading

import pytest

from backends import wait_for
from conftest import FAST, base_env, database_env, encode, payload_lines, record, wsgi_call
from cpa_usage import (FOUR_WEEKS_MS, MIGRATIONS, ROLLUP_MEASURES, ROLLUPS, ConfigError, Query, Service,
                       Store, UsageEvent, decode_payload, default_instance_name, load_config, rollup_rows)
from test_drain import stored

RECEIVED = 1_790_000_000_000


def events(instance: str, count: int, start: int = 0):
    return [decode_payload(encode(record(request_id=f"{instance}-{i}", latency_ms=100 + i)), RECEIVED, instance)
            for i in range(start, start + count)]


def rollup_totals(store) -> dict:
    sums = ", ".join(f"SUM({m})" for m in ROLLUP_MEASURES)
    return {r.table: tuple(store.reader.execute(f"SELECT {sums} FROM {r.table}").fetchone()) for r in ROLLUPS}


# -- the instance of an event ----------------------------------------------------------

def test_instance_name_defaults_to_the_cpa_host(tmp_path):
    assert load_config(base_env(tmp_path, CPA_BASE_URL="http://cpa-east.lan:8317")).cpas[0].name == "cpa-east.lan"
    assert default_instance_name("http://127.0.0.1:8317") not in ("", "127.0.0.1")  # this machine's name
    config = load_config(base_env(tmp_path, INSTANCE_NAME="east"))
    assert [i.name for i in config.cpas] == ["east"]
    with pytest.raises(ConfigError, match="INSTANCE_NAME='east coast' is invalid"):
        load_config(base_env(tmp_path, INSTANCE_NAME="east coast"))


def test_every_answer_can_be_filtered_by_instance(tmp_path, new_database):
    service = Service(load_config(base_env(tmp_path, INSTANCE_NAME="east", **database_env(new_database()))))
    try:
        service.store.write_batch(events("east", 3) + events("west", 2), [], received=5)
        api = "/usage/api/v1/usage"
        get = lambda path: wsgi_call(service.app, "GET", api + path).json()  # noqa: E731
        assert get("/overview?range=all&instance=west")["summary"]["requests"] == 2
        assert get("/overview?range=all&instance=east&instance=west")["summary"]["requests"] == 5
        assert get("/analysis?range=all&instance=east")["totals"]["requests"] == 3
        page = get("/events?instance=west")
        assert page["total"] == 2 and {e["instance"] for e in page["items"]} == {"west"}
        assert get("/events/filters?range=all")["instances"] == [{"instance": "east", "requests": 3},
                                                                 {"instance": "west", "requests": 2}]
        assert get("/credentials?range=all&instance=east")["items"][0]["requests"] == 3
        service.store.write_batch(events("", 4, start=10), [], received=4)  # imported: no instance
        assert get("/overview?range=all&instance=~")["summary"]["requests"] == 4
        assert get("/overview?range=all&instance=~&instance=west")["summary"]["requests"] == 6
        assert {e["instance"] for e in get("/events?instance=~")["items"]} == {""}
    finally:
        service.store.close()


def store_at_schema(target: str, version: int) -> Store:
    """A store migrated to ``version`` only: the database an older release left."""
    import cpa_usage

    cpa_usage.MIGRATIONS = MIGRATIONS[:version]
    try:
        return Store(target)
    finally:
        cpa_usage.MIGRATIONS = MIGRATIONS


SINCE_SCHEMA_18 = ("prompt_band", "served_tier")  # event fields and rollup dimensions
ROLLUPS_BEFORE_SCHEMA_20 = [rollup for rollup in ROLLUPS if rollup.bucket_ms < FOUR_WEEKS_MS]  # no four weeks


def insert_events_before_schema_18(store: Store, events: list) -> None:
    """Write ``events`` into the usage_events of a schema before 18: the columns it had."""
    columns = [name for name in UsageEvent._fields if name not in SINCE_SCHEMA_18]
    with store.write_lock:
        store._writer.executemany(f"INSERT INTO usage_events ({', '.join(columns)}) VALUES "
                                  f"({', '.join('?' * len(columns))})",
                                  [[getattr(event, name) for name in columns] for event in events])


def rollup_rows_before_schema_18(events: list) -> dict:
    """The rows every rollup of a schema before 18 gained from ``events``: summed without
    a prompt band and a served tier, rows without those columns."""
    rows = rollup_rows([event._replace(prompt_band=0, served_tier="") for event in events])
    before = {}
    for rollup, added in rows.items():
        if rollup not in ROLLUPS_BEFORE_SCHEMA_20:
            continue
        gone = {1 + i for i, name in enumerate(rollup.dimensions) if name in SINCE_SCHEMA_18}  # after bucket_ms
        before[rollup] = [tuple(value for i, value in enumerate(row) if i not in gone) for row in added]
    return before


def test_schema_7_names_the_cpa_of_what_was_stored_before(new_database):
    """A database of schema 6 (before instances) keeps every row and total, named after this CPA."""
    target = new_database()
    old = store_at_schema(target, 6)
    columns = ("event_key", "ts_ms", "ts_raw", "ts_estimated", "received_ms", "request_id", "model", "alias",
               "provider", "executor_type", "endpoint", "auth_type", "source", "auth_index", "api_key", "failed",
               "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
               "unclassified_tokens", "total_tokens", "token_family", "token_quality", "raw_input_tokens",
               "raw_output_tokens", "raw_reasoning_tokens", "raw_cached_tokens", "raw_total_tokens")
    with old.write_lock:
        old._writer.execute(f"INSERT INTO usage_events ({', '.join(columns)}) VALUES ("
                            + ", ".join("?" * len(columns)) + ")",
                            ["k1", RECEIVED, "", 0, RECEIVED, "r", "m", "m", "p", "e", "", "oauth", "s", "a", "sk-x", 0,
                             10, 0, 0, 5, 0, 0, 15, "openai", "complete", 10, 5, 0, 0, 15])
        for table, bucket_ms in (("usage_rollup", 300_000), ("usage_rollup_hourly", 3_600_000),
                                 ("usage_rollup_daily", 86_400_000)):  # the full family, 5 minutes to days
            old._writer.execute(f"INSERT INTO {table} (bucket_ms, model, source, auth_index, api_key, "
                                f"provider, failed, {', '.join(ROLLUP_MEASURES)}, first_ms, last_ms) VALUES "
                                f"(?, 'm', 's', 'a', 'sk-x', 'p', 0, {', '.join('1' for _ in ROLLUP_MEASURES)}, ?, ?)",
                                [RECEIVED - RECEIVED % bucket_ms, RECEIVED, RECEIVED])
    old.close()
    new = Store(target, instance="east")
    try:
        assert new.reader.execute("SELECT instance FROM usage_events").fetchall() == [("east",)]
        assert new.reader.execute("SELECT instance, requests FROM usage_rollup").fetchall() == [("east", 1)]
        assert new.count(Query(0, 2**62, instances=("east",)), step_ms=300_000) == \
            {(RECEIVED - RECEIVED % 300_000,): 1}
        new.write_batch(events("west", 1), [], received=1)
        assert new.count(Query(0, 2**62), ("instance",)) == {("east",): 1, ("west",): 1}
    finally:
        new.close()


def test_schema_8_counts_each_cpa_from_the_timeline(new_database):
    """A schema-7 timeline (no instance) is summed again from the full rollup, per CPA,
    each grain from its oldest kept bucket on (a day retention removed stays removed)."""
    target = new_database()
    old = store_at_schema(target, 7)
    day = 86_400_000
    day_one = RECEIVED - RECEIVED % day
    stored_rows = [(day_one + 10 * 3_600_000, "east", 0, 2), (day_one + day + 10 * 3_600_000, "west", 1, 1),
                   (day_one + day + 11 * 3_600_000 + 300_000, "east", 0, 1)]
    ones = ", ".join("1" for _ in ROLLUP_MEASURES[1:])
    with old.write_lock:
        for bucket, instance, failed, requests in stored_rows:
            old._writer.execute(
                f"INSERT INTO usage_rollup (bucket_ms, model, source, auth_index, api_key, provider, failed, "
                f"instance, {', '.join(ROLLUP_MEASURES)}, first_ms, last_ms) VALUES "
                f"(?, 'm', 's', 'a', 'sk-x', 'p', ?, ?, ?, {ones}, ?, ?)", [bucket, failed, instance, requests,
                                                                          bucket, bucket])
            for table, bucket_ms in (("usage_timeline", 300_000), ("usage_timeline_quarterly", 900_000),
                                     ("usage_timeline_hourly", 3_600_000), ("usage_timeline_daily", day)):
                # the timeline, as schema 7 summed it: without the CPA
                if bucket_ms == day and bucket < day_one + day:
                    continue  # retention removed the first day's daily bucket (its cut-off fell inside the day)
                old._writer.execute(
                    f"INSERT INTO {table} (bucket_ms, failed, {', '.join(ROLLUP_MEASURES)}, first_ms, "
                    f"last_ms) VALUES (?, ?, ?, {ones}, ?, ?) ON CONFLICT (bucket_ms, failed) DO UPDATE SET "
                    f"requests = {table}.requests + excluded.requests",
                    [bucket - bucket % bucket_ms, failed, requests, bucket, bucket])
    old.close()
    new = Store(target)
    try:
        assert [r.dimensions for r in ROLLUPS[3:7]] == [("failed", "instance")] * 4
        for rollup in ROLLUPS[3:7]:
            rows = new.reader.execute(f"SELECT bucket_ms, failed, instance, requests FROM {rollup.table} "
                                      "ORDER BY bucket_ms, instance").fetchall()
            expected = sorted((b - b % rollup.bucket_ms, failed, instance, n) for b, instance, failed, n in stored_rows
                              if rollup.bucket_ms < day or b >= day_one + day)
            if rollup.bucket_ms == day:
                expected = [(day_one + day, 1, "west", 1), (day_one + day, 0, "east", 1)]
                rows = sorted(rows, key=lambda row: row[2], reverse=True)
            assert rows == expected, rollup.table
        query = Query(day_one + day, day_one + 2 * day)  # a whole day: the daily grain
        assert {rollup.table for rollup, _, _ in new.plan(query, ("instance",), None)} == {"usage_timeline_daily"}
        assert new.count(query, ("instance",), failures=True) == {("east",): [1, 0], ("west",): [1, 1]}
        # the first day's hours are kept (only its daily bucket was removed)
        assert new.count(Query(day_one + 9 * 3_600_000, day_one + 12 * 3_600_000), ("instance",)) == {("east",): 2}
    finally:
        new.close()


@pytest.mark.parametrize("new_database", ["sqlite"], indirect=True)
def test_the_upgrade_to_schema_7_gives_back_the_space_of_the_rebuilt_tables(new_database):
    target = new_database()
    old = store_at_schema(target, 6)
    with old.write_lock:
        old._writer.executemany(
            "INSERT INTO usage_rollup (bucket_ms, model, source, auth_index, api_key, provider, failed, "
            f"{', '.join(ROLLUP_MEASURES)}, first_ms, last_ms) VALUES (?, 'm', 's', 'a', 'sk-x', 'p', 0, "
            f"{', '.join('1' for _ in ROLLUP_MEASURES)}, ?, ?)",
            [(i * 300_000, i * 300_000, i * 300_000) for i in range(20_000)])
    old.close()
    new = Store(target)
    try:
        assert new.reader.execute("SELECT COUNT(*) FROM usage_rollup").fetchone()[0] == 20_000
        assert new.reader.execute("PRAGMA freelist_count").fetchone()[0] == 0  # the old table's pages are gone
    finally:
        new.close()


# -- several writers, one PostgreSQL database ---------------------------------------------

@pytest.mark.parametrize("new_database", ["postgres"], indirect=True)
def test_concurrent_writers_count_every_event_once(new_database):
    target = new_database()
    writers = [Store(target, instance=name) for name in ("east", "west", "north")]
    shared = events("shared", 300)  # both CPAs' records reach every writer: duplicates across writers
    own = {store.instance: events(store.instance, 300) for store in writers}
    errors = []

    def write(store):
        try:
            batch = own[store.instance] + shared
            for start in range(0, len(batch), 37):
                store.write_batch(batch[start:start + 37], [], received=len(batch[start:start + 37]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(store,)) for store in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        reader = writers[0]
        assert reader.reader.execute("SELECT COUNT(*), COUNT(DISTINCT event_key) FROM usage_events").fetchone() \
            == (1200, 1200)
        totals = reader.load_totals()
        assert totals["inserted"] == 1200 and totals["duplicates"] == 600 and totals["received"] == 1800
        raw = reader.reader.execute("SELECT COUNT(*), SUM(total_tokens), SUM(latency_ms) FROM usage_events").fetchone()
        for table, sums in rollup_totals(reader).items():  # no increment lost, none doubled
            assert (sums[0], sums[7], sums[8]) == tuple(raw), table
        assert reader.count(Query(0, 2**62), ("instance",))[("east",)] == 300
    finally:
        for store in writers:
            store.close()


# -- several CPAs, one process --------------------------------------------------------------

def test_cpa_instances_need_unique_names_and_read_each_key(tmp_path):
    env = base_env(tmp_path, CPA_INSTANCES="east=http://10.0.0.1:8317, west=https://cpa-west:8443",
                   CPA_MANAGEMENT_KEY_WEST="west-key")
    config = load_config(env)
    assert [(i.name, i.base_url, i.management_key) for i in config.cpas] == \
        [("east", "http://10.0.0.1:8317", env["CPA_MANAGEMENT_KEY"]), ("west", "https://cpa-west:8443", "west-key")]
    assert config.cpas[1].queue_endpoint() == ("cpa-west", 8443, True)
    listed_first = load_config({**env, "CPA_BASE_URL": "http://elsewhere:8317"})
    assert listed_first.queue_endpoint() == ("10.0.0.1", 8317, False)  # the first listed CPA is the first
    for bad in ("east=http://a:1,east=http://b:1", "east", "two words=http://a:1", "east=ftp://a"):
        with pytest.raises(ConfigError, match="CPA_INSTANCES="):
            load_config(base_env(tmp_path, CPA_INSTANCES=bad))
    with pytest.raises(ConfigError, match="with CPA_INSTANCES, REDIS_QUEUE_ADDR and INSTANCE_NAME are not used"):
        load_config(base_env(tmp_path, CPA_INSTANCES="east=http://10.0.0.1:8317", INSTANCE_NAME="x"))


def test_one_process_drains_several_cpas_each_with_its_own_gate(tmp_path, fake_cpa):
    east, west = fake_cpa(key="east-key"), fake_cpa(key="west-key")
    env = {k: v for k, v in base_env(tmp_path).items() if k not in ("CPA_BASE_URL", "CPA_MANAGEMENT_KEY")}
    env.update(CPA_INSTANCES=f"east={east.url},west={west.url}", CPA_MANAGEMENT_KEY_EAST="east-key",
               CPA_MANAGEMENT_KEY_WEST="not-the-west-key", REDIS_QUEUE_IDLE_INTERVAL="50ms",
               REDIS_QUEUE_ERROR_BACKOFF="100ms")
    service = Service(load_config(env), **FAST)
    service.start()
    try:
        for line in payload_lines("v7.2"):
            east.publish(line)
        wait_for(lambda: stored(service) == 17, what="east's records")
        status = service.status_report()
        by_name = {i["name"]: i for i in status["instances"]}
        wait_for(lambda: service.status_report()["instances"][1]["auth"] == "rejected", what="west's key rejected")
        assert by_name["east"]["mode"] == "subscribe" and by_name["east"]["auth"] == "ok"
        assert status["instance"] == "east" and service.status_report()["auth"] == "ok"  # the first CPA's gate
        assert service.store.count(Query(0, 2**62), ("instance",)) == {("east",): 17}
        assert service.gates[1].failures == 1 and service.gates[0].failures == 0
        assert service.store.get_meta("key_gate.west") and "rejected" in service.store.get_meta("key_gate.west")
    finally:
        service.stop()


# -- migrate ------------------------------------------------------------------------------

def snapshot(store) -> dict:
    """Everything copy_store copies, as comparable values."""
    query = Query(0, 2**62)
    return {
        "events": store.reader.execute("SELECT event_key, instance, total_tokens FROM usage_events "
                                       "ORDER BY event_key").fetchall(),
        "rollups": rollup_totals(store), "totals": store.load_totals(),
        "by_model": store.aggregate(query, ("model", "failed"), 3_600_000),
        "histograms": store.histograms(query, ("source", "auth_index", "model"), 3_600_000),
        "dead": sorted(store.list_dead_letters()), "prices": [row[:7] for row in store.load_prices()],
        "aliases": store.aliases(), "budgets": store.budgets(),
        "alerts": [(a["api_key"], a["condition"]) for a in store.alerts()],
        "metadata": store.get_metadata("api-keys")[1], "since": store.raw_events_since()}


def filled_sqlite(path, instance: str, count: int) -> None:
    store = Store(str(path), instance=instance)
    from cpa_usage import DeadLetter

    batch = [decode_payload(line, RECEIVED, instance)
             for era in ("v6.10", "v7.0", "v7.2") for line in payload_lines(era)]
    batch += events(instance, count)
    store.write_batch(batch, [DeadLetter(RECEIVED, "lpop", f"bad {instance}", b"\x00")], received=len(batch) + 1)
    store.delete_events_before(min(ev.ts_ms for ev in batch) + 3_600_000)  # rollups outlive some raw events
    store.upsert_prices([("mystery-model-x", 0, 1.0, 2.0, 0.1, 0.2, None, *Store.NO_LONG_CONTEXT, "")])
    store.set_aliases({"sk-team-alpha-7f3c": f"alpha-{instance}"}, replace=False)
    store.set_budget("sk-team-alpha-7f3c", {"daily_usd": 5.0})
    store.add_alert("sk-team-alpha-7f3c", "budget", "daily:2026-08-01", "usd_80", 4.0, 4.0, "usd", RECEIVED)
    store.put_metadata("api-keys", ["sk-team-alpha-7f3c"])
    store.close()


@pytest.mark.parametrize("new_database", ["postgres"], indirect=True)
def test_migrate_copies_everything_once_and_merges_instances(tmp_path, new_database, capsys):
    from cpa_usage import main

    filled_sqlite(tmp_path / "east.db", "east", 40)
    filled_sqlite(tmp_path / "west.db", "west", 25)
    url = new_database()
    assert main(["migrate", "--from", f"sqlite:{tmp_path / 'east.db'}", "--to", f"postgres:{url}"]) == 0
    assert "usage_events:" in capsys.readouterr().out
    east, target = Store(str(tmp_path / "east.db")), Store(url)
    try:
        assert snapshot(target) == snapshot(east)  # whole
        assert main(["migrate", "--from", f"sqlite:{tmp_path / 'east.db'}", "--to", url]) == 0
        assert snapshot(target) == snapshot(east)  # and once
        assert main(["migrate", "--from", f"sqlite:{tmp_path / 'west.db'}", "--to", url]) == 0
        west = Store(str(tmp_path / "west.db"))
        merged, one, other = snapshot(target), snapshot(east), snapshot(west)
        west.close()
        assert merged["totals"] == {k: one["totals"][k] + other["totals"][k] for k in one["totals"]}
        assert {t: merged["rollups"][t][0] for t in merged["rollups"]} == \
            {t: one["rollups"][t][0] + other["rollups"][t][0] for t in one["rollups"]}
        assert target.count(Query(0, 2**62), ("instance",)) == {("east",): one["totals"]["inserted"],
                                                                ("west",): other["totals"]["inserted"]}
        assert merged["aliases"] == {"sk-team-alpha-7f3c": "alpha-east"}  # what the target had first stays
        assert len(merged["dead"]) == 2
    finally:
        east.close()
        target.close()


def test_migrate_refuses_what_it_cannot_open(tmp_path, capsys):
    from cpa_usage import main

    assert main(["migrate", "--from", "mysql:x", "--to", "sqlite:y"]) == 2
    assert main(["migrate", "--from", f"sqlite:{tmp_path / 'none.db'}", "--to", f"sqlite:{tmp_path / 'y.db'}"]) == 1
    (tmp_path / "src.db").touch()
    assert main(["migrate", "--from", f"sqlite:{tmp_path / 'src.db'}",
                 "--to", "postgres:postgresql://nobody@127.0.0.1:1/none"]) == 1  # nothing listens there
    err = capsys.readouterr().err
    assert "is not sqlite:PATH or postgres:" in err and "no database at" in err
    assert "cannot open the database" in err
