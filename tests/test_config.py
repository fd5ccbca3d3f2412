"""Configuration: defaults, .env files, durations, errors that stop the start, the CLI flags."""

import os
import re
import socket
import subprocess
import sys

import pytest

import cpa_usage
from conftest import ROOT, base_env
from cpa_usage import SETTINGS, ConfigError, format_duration, load_config, parse_bool, parse_duration


def run_cli(tmp_path, *args, **env):
    """Run cpa_usage.py as the user would, with exactly the given environment."""
    full_env = {"PATH": os.environ["PATH"], **env}
    return subprocess.run([sys.executable, str(ROOT / "cpa_usage.py"), *args], cwd=tmp_path, env=full_env,
                          capture_output=True, text=True, timeout=30)


def test_defaults_match_the_specification(config_factory, tmp_path):
    env = base_env(tmp_path, SQLITE_PATH="./data/app.db", LOG_DIR="./logs", LOG_FILE_ENABLED="true")
    del env["USAGE_RETENTION_DAYS"]  # the tests' own setting: here the default is the point
    config_factory()  # for its working directory
    config = load_config(env)
    assert config.app_port == 8318 and config.app_host == "" and config.app_base_path == "/usage"
    assert config.listen_host == "127.0.0.1"  # login is off by default: loopback only
    assert config.tz == "Asia/Shanghai" and config.storage_driver == "sqlite"
    assert config.sqlite_path == str(tmp_path / "data" / "app.db")
    assert config.log_dir == str(tmp_path / "logs")
    assert config.redis_queue_key == "usage" and config.redis_queue_batch_size == 1000
    assert config.redis_queue_idle_interval == 1.0 and config.redis_queue_error_backoff == 10.0
    assert config.metadata_sync_interval == 30.0 and config.auth_session_ttl == 168 * 3600
    assert config.auth_enabled is False and config.log_level == "info" and config.log_file_enabled is True
    assert config.log_retention_days == 7 and config.usage_retention_days == 30 and config.rollup_retention_days == 0
    assert config.queue_endpoint() == ("127.0.0.1", 8317, False)


@pytest.mark.parametrize("base_url, addr, endpoint", [
    ("http://127.0.0.1:8317", "", ("127.0.0.1", 8317, False)),
    ("http://cpa.lan:9000", "", ("cpa.lan", 9000, False)),
    ("https://cpa.example.com", "", ("cpa.example.com", 8317, False)),
    ("https://cpa.example.com:8317", "", ("cpa.example.com", 8317, True)),
    ("http://127.0.0.1:8317", "10.0.0.5:6380", ("10.0.0.5", 6380, False)),
    ("http://127.0.0.1:8317", "rediss://cpa.lan:8443", ("cpa.lan", 8443, True)),
    ("http://127.0.0.1:8317", "[::1]:8317", ("::1", 8317, False)),
    ("https://example.com/cpa", "", None),  # a reverse proxy's path: HTTP only
    ("https://example.com/cpa", "example.com:8317", ("example.com", 8317, False)),
])
def test_queue_address_defaults_to_cpa_host(config_factory, base_url, addr, endpoint):
    assert config_factory(CPA_BASE_URL=base_url, REDIS_QUEUE_ADDR=addr).queue_endpoint() == endpoint


@pytest.mark.parametrize("text, seconds", [
    ("500ms", 0.5), ("1s", 1.0), ("30s", 30.0), ("168h", 604800.0), ("1h30m", 5400.0), ("1.5s", 1.5),
    ("250us", 0.00025), (" 2m ", 120.0),
])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "1d", "s", "-1s", "1s2", "one second"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("seconds, text", [(0.5, "500ms"), (1, "1s"), (604800, "168h"), (5400, "1h30m"), (0, "0s")])
def test_format_duration_round_trips(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text, value", [("true", True), ("TRUE", True), ("1", True), ("Yes", True),
                                         ("false", False), ("0", False), ("NO", False)])
def test_booleans(text, value):
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["on", "off", "", "tru", "2"])
def test_bad_booleans_are_errors_never_off(text):
    with pytest.raises(ValueError):
        parse_bool(text)


def test_env_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "# comment\n"
        "export CPA_BASE_URL=http://10.1.1.1:8317\n"
        "CPA_MANAGEMENT_KEY='from file'\n"
        'LOGIN_PASSWORD="p#ss \\"quoted\\""\n'
        "APP_PORT=9000   # inline comment\n"
        "\n"
        "TZ=UTC\n")
    env = {"APP_PORT": "9100", "SQLITE_PATH": str(tmp_path / "x.db")}
    config = load_config(env)
    assert config.cpa_base_url == "http://10.1.1.1:8317"
    assert config.cpa_management_key == "from file"
    assert config.login_password == 'p#ss "quoted"'
    assert config.app_port == 9100
    assert config.tz == "UTC"
    assert config.env_file == str(tmp_path / ".env")


def test_explicit_env_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="ENV_FILE='/nope/.env': no such file"):
        load_config({"ENV_FILE": "/nope/.env"})


def test_env_file_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.env"
    path.write_text("CPA_BASE_URL=http://x\nthis is not a setting\n")
    with pytest.raises(ConfigError, match="line 2 is not KEY=VALUE"):
        load_config({"ENV_FILE": str(path)})


@pytest.mark.parametrize("name, value, message", [
    ("APP_PORT", "http", "APP_PORT='http' is invalid; expected a port number 1-65535"),
    ("APP_PORT", "70000", "APP_PORT='70000' is invalid"),
    ("CPA_BASE_URL", "127.0.0.1:8317", "CPA_BASE_URL='127.0.0.1:8317' is invalid; expected an http(s) URL"),
    ("TZ", "Mars/Olympus", "TZ='Mars/Olympus' is invalid; expected an IANA time zone"),
    ("REDIS_QUEUE_IDLE_INTERVAL", "5", "REDIS_QUEUE_IDLE_INTERVAL='5' is invalid; expected a positive duration"),
    ("REDIS_QUEUE_ERROR_BACKOFF", "0s", "REDIS_QUEUE_ERROR_BACKOFF='0s' is invalid"),
    ("AUTH_ENABLED", "on", "AUTH_ENABLED='on' is invalid; expected true or false"),
    ("STORAGE_DRIVER", "mysql", "STORAGE_DRIVER='mysql' is invalid; expected sqlite or postgres"),
    ("DATABASE_URL", "mysql://db/x", "DATABASE_URL=<hidden> is invalid; expected a URL such as postgresql://"),
    ("APP_BASE_PATH", "usage", "APP_BASE_PATH='usage' is invalid"),
    ("REDIS_QUEUE_ADDR", "nohostport", "REDIS_QUEUE_ADDR='nohostport' is invalid"),
    ("REDIS_QUEUE_BATCH_SIZE", "0", "REDIS_QUEUE_BATCH_SIZE='0' is invalid; expected an integer 1-100000"),
    ("LOG_LEVEL", "verbose", "LOG_LEVEL='verbose' is invalid; expected debug, info, warn or error"),
])
def test_malformed_values_name_variable_value_and_expectation(tmp_path, name, value, message):
    with pytest.raises(ConfigError) as info:
        load_config(base_env(tmp_path, **{name: value}))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["CPA_MANAGEMENT_KEY", "LOGIN_PASSWORD"])
def test_secret_values_are_masked_in_errors(tmp_path, name):
    with pytest.raises(ConfigError) as info:
        load_config(base_env(tmp_path, **{name: "s3cret\nvalue"}))
    assert str(info.value).startswith(f"{name}=<hidden> is invalid; expected ")
    assert str(info.value).endswith("without control characters")
    assert "s3cret" not in str(info.value)


def test_auth_enabled_requires_a_password(tmp_path):
    with pytest.raises(ConfigError, match="LOGIN_PASSWORD is required when AUTH_ENABLED=true"):
        load_config(base_env(tmp_path, AUTH_ENABLED="true"))


@pytest.mark.parametrize("path, expected", [("", ""), ("/", ""), ("/usage/", "/usage"), ("/a/b", "/a/b")])
def test_base_path_forms(config_factory, path, expected):
    assert config_factory(APP_BASE_PATH=path).app_base_path == expected


def test_missing_required_value_exits_2_with_one_line(tmp_path):
    result = run_cli(tmp_path, CPA_MANAGEMENT_KEY="k")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "cpa-usage: configuration error: CPA_BASE_URL is required but not set; "
        "expected an http(s) URL such as http://127.0.0.1:8317"]


def test_malformed_value_exits_2(tmp_path):
    result = run_cli(tmp_path, CPA_BASE_URL="http://x:1", CPA_MANAGEMENT_KEY="k", APP_PORT="eighty")
    assert result.returncode == 2
    assert "APP_PORT='eighty' is invalid" in result.stderr


def test_check_config_prints_everything_with_secrets_masked(tmp_path):
    result = run_cli(tmp_path, "--check-config", CPA_BASE_URL="http://127.0.0.1:8317",
                     CPA_MANAGEMENT_KEY="super-secret-key", AUTH_ENABLED="yes", LOGIN_PASSWORD="hunter2-pass")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert set(lines) == {s.name for s in SETTINGS} | {"ENV_FILE"}
    assert lines["CPA_MANAGEMENT_KEY"] == "<set>" and lines["LOGIN_PASSWORD"] == "<set>"
    assert "super-secret-key" not in result.stdout + result.stderr
    assert "hunter2-pass" not in result.stdout + result.stderr
    assert lines["AUTH_ENABLED"] == "true" and lines["AUTH_SESSION_TTL"] == "168h"
    assert lines["REDIS_QUEUE_ADDR"] == "127.0.0.1:8317 (from CPA_BASE_URL)"


@pytest.mark.parametrize("settings, host", [
    ({}, "127.0.0.1"),
    ({"AUTH_ENABLED": "true", "LOGIN_PASSWORD": "pw"}, "0.0.0.0"),
    ({"APP_HOST": "0.0.0.0"}, "0.0.0.0"),  # said explicitly: it listens there, and the start warns
    ({"APP_HOST": "10.1.2.3", "AUTH_ENABLED": "true", "LOGIN_PASSWORD": "pw"}, "10.1.2.3"),
    ({"APP_HOST": " "}, "127.0.0.1"),
])
def test_the_listen_address_is_loopback_unless_login_is_on_or_app_host_says(tmp_path, settings, host):
    assert load_config(base_env(tmp_path, **settings)).listen_host == host


def test_check_config_shows_each_value_as_it_is_used(tmp_path):
    result = run_cli(tmp_path, "--check-config", CPA_BASE_URL="http://127.0.0.1:8317", CPA_MANAGEMENT_KEY="k",
                     SQLITE_PATH="./data/app.db")
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["ALERT_ANOMALY_FACTOR"] == "3"  # a number, not a duration
    assert lines["REDIS_QUEUE_IDLE_INTERVAL"] == "1s" and lines["METADATA_SYNC_INTERVAL"] == "30s"
    assert lines["INSTANCE_NAME"] == f"{socket.gethostname()} (unset: CPA's host, or this machine's name)"
    assert lines["APP_HOST"] == "127.0.0.1 (unset: loopback only, login is off)"
    assert lines["SQLITE_PATH"] == str(tmp_path / "data" / "app.db")
    named = run_cli(tmp_path, "--check-config", CPA_BASE_URL="http://cpa.lan:8317", CPA_MANAGEMENT_KEY="k",
                    ALERT_ANOMALY_FACTOR="2.5", INSTANCE_NAME="east", APP_HOST="0.0.0.0")
    lines = dict(line.split("=", 1) for line in named.stdout.splitlines())
    assert lines["ALERT_ANOMALY_FACTOR"] == "2.5" and lines["INSTANCE_NAME"] == "east"
    assert lines["APP_HOST"] == "0.0.0.0"
    from_url = run_cli(tmp_path, "--check-config", CPA_BASE_URL="http://cpa.lan:8317", CPA_MANAGEMENT_KEY="k",
                       AUTH_ENABLED="true", LOGIN_PASSWORD="pw")
    lines = dict(line.split("=", 1) for line in from_url.stdout.splitlines())
    assert lines["INSTANCE_NAME"] == "cpa.lan (unset: CPA's host, or this machine's name)"
    assert lines["APP_HOST"] == "0.0.0.0 (unset: every address, login is on)"


def test_check_config_hides_urls_tokens(tmp_path):
    """A webhook's path and query are its token; a URL's user and password are secrets."""
    result = run_cli(tmp_path, "--check-config", CPA_BASE_URL="https://ops:proxy-pass@example.com/cpa",
                     CPA_MANAGEMENT_KEY="k", ALERT_WEBHOOK_URL="https://hooks.example.com/services/T0/B0/tok3n?x=1",
                     TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1")
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["ALERT_WEBHOOK_URL"] == "https://hooks.example.com/…"
    assert lines["CPA_BASE_URL"] == "https://…@example.com/cpa"
    assert lines["TRUSTED_PROXIES"] == "10.0.0.0/8,127.0.0.1/32"
    assert "tok3n" not in result.stdout and "proxy-pass" not in result.stdout


def test_version_and_help(tmp_path):
    version = run_cli(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("cpa-usage 0.")
    help_text = run_cli(tmp_path, "--help")
    assert help_text.returncode == 0
    for setting in SETTINGS:
        assert setting.name in help_text.stdout
    assert "--check-config" in help_text.stdout
    rows = (re.fullmatch(r"  ([A-Z][A-Z0-9_]+) +(.*)", line) for line in help_text.stdout.splitlines())
    defaults = {row[1]: row[2] for row in rows if row and row[1] in {s.name for s in SETTINGS}}  # the epilog's rows
    assert defaults["APP_HOST"].startswith("(127.0.0.1 with login off, 0.0.0.0 with login on)")
    assert defaults["INSTANCE_NAME"].startswith("(CPA's host, or this machine's name)")
    assert defaults["APP_PORT"].startswith("'8318'") and defaults["CPA_BASE_URL"].startswith("(required)")
    assert defaults["DATABASE_URL"].startswith("(none)")
    assert not any(text.startswith("''") for text in defaults.values())


def test_an_env_file_that_is_not_text_is_a_configuration_error(tmp_path):
    path = tmp_path / "binary.env"
    path.write_bytes(b"CPA_BASE_URL=\xff\xfe\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config({"ENV_FILE": str(path)})


def test_postgres_needs_a_database_url(tmp_path):
    with pytest.raises(ConfigError, match="DATABASE_URL is required when STORAGE_DRIVER=postgres"):
        load_config(base_env(tmp_path, STORAGE_DRIVER="postgres"))
    config = load_config(base_env(tmp_path, STORAGE_DRIVER="postgres", DATABASE_URL="postgresql://u:pw@db:5432/x"))
    assert config.database == "postgresql://u:pw@db:5432/x"
    assert ("DATABASE_URL", "pos…st:5432/x") not in config.describe() and "pw" not in str(config.describe())


# 60,000 rows as an overview's (tracked dicts and lists), built in a fresh interpreter at the
# thresholds given: how many full collections ran meanwhile. Fresh, because Python runs a
# full collection only when the objects new since the last one exceed a quarter of those
# it keeps, which depends on what a long test session has piled up, not on the thresholds.
FULL_COLLECTIONS_WHILE_BUILDING = """
import gc, sys
gc.set_threshold(*map(int, sys.argv[1:]))
gc.collect()
seen = []
gc.callbacks.append(lambda phase, info: phase == "start" and info["generation"] == 2 and seen.append(1))
kept = [{"start_ms": i, "tokens": [i]} for i in range(60_000)]
print(len(seen))
"""


def full_collections_while_building(thresholds: tuple[int, ...]) -> int:
    run = subprocess.run([sys.executable, "-c", FULL_COLLECTIONS_WHILE_BUILDING, *map(str, thresholds)],
                         capture_output=True, text=True, check=True)
    return int(run.stdout)


def test_serving_collects_cycles_seldom_enough_for_an_overview_not_to_wait(tmp_path, monkeypatch):
    """A 30-day overview builds tens of thousands of objects; at Python's default
    thresholds full collections run in the middle of it (a p95 spike), at the service's not."""
    import gc

    assert full_collections_while_building((700, 10, 10)) > 0  # Python's default
    before = gc.get_threshold()
    try:
        directory = tmp_path / "not-a-database"
        directory.mkdir()  # SQLITE_PATH is a directory: serve stops at once, thresholds already set
        monkeypatch.setattr(cpa_usage.signal, "signal", lambda *args: None)  # pytest keeps its own handlers
        assert cpa_usage.serve(load_config(base_env(tmp_path, SQLITE_PATH=str(directory)))) == 1
        assert gc.get_threshold() == cpa_usage.GC_THRESHOLDS
    finally:
        gc.set_threshold(*before)
    assert full_collections_while_building(cpa_usage.GC_THRESHOLDS) == 0


def test_readme_and_env_example_name_every_setting():
    """The configuration table and .env.example stay true to SETTINGS (a setting added
    without its documentation fails here)."""
    readme, example = (ROOT / "README.md").read_text(), (ROOT / ".env.example").read_text()
    undocumented = [s.name for s in SETTINGS if f"| `{s.name}` |" not in readme]
    unexampled = [s.name for s in SETTINGS if not re.search(rf"^#? ?{s.name}=", example, re.M)]
    assert undocumented == [] and unexampled == []


# .env lines, and the value systemd's EnvironmentFile= reader (src/basic/env-file.c) gives
# each (None: it sets no variable).
SYSTEMD_READINGS = [
    ("X_PLAIN=value", "X_PLAIN", "value"),
    ("X_SPACES = spaced value  ", "X_SPACES", "spaced value"),
    ("X_HASH=a#b", "X_HASH", "a#b"),
    ("X_SINGLE='a b \\ c'", "X_SINGLE", "a b \\ c"),
    ('X_DOUBLE="a b"', "X_DOUBLE", "a b"),
    ("export X_EXPORT=a # b", "X_EXPORT", None),  # "export X_EXPORT" is no variable name
    ("X_EMPTY=", "X_EMPTY", ""),
    ("X_COMMENT=secret-one # the key", "X_COMMENT", "secret-one # the key"),
    ("X_BACKSLASH=secret\\two", "X_BACKSLASH", "secrettwo"),
    ("X_ESCAPED_BLANK=a\\ ", "X_ESCAPED_BLANK", "a "),
    ('X_ESCAPE="a\\$b"', "X_ESCAPE", "a$b"),
    ('X_KEPT="a\\qb"', "X_KEPT", "a\\qb"),
    ("X_TAIL='a'b", "X_TAIL", "ab"),
    ("X_INNER='it's'", "X_INNER", "its'"),
    ("X_MID=a'b c'", "X_MID", "a'b c'"),
    ('X_AFTER="x" # c', "X_AFTER", "x# c"),
    ("; X_SEMICOLON=1", "X_SEMICOLON", None),
    ("X_NO_EQUALS", "X_NO_EQUALS", None),
]


def test_env_files_are_read_as_systemd_reads_them(tmp_path):
    path = tmp_path / "systemd.env"
    path.write_text("".join(f"{line}\n" for line, _, _ in SYSTEMD_READINGS)
                    + "X_CONTINUED=one\\\ntwo\nX_LINES=\"a\nb\"\nX_LAST=1\nX_OPEN='runs\nX_SWALLOWED=2\n")
    read = cpa_usage.read_systemd_env_file(str(path))
    for line, key, value in SYSTEMD_READINGS:
        assert read.get(key, (0, None))[1] == value, line
    assert read["X_CONTINUED"][1] == "onetwo" and read["X_LINES"][1] == "a\nb"
    assert read["X_LAST"] == (len(SYSTEMD_READINGS) + 5, "1")  # the line numbers count every line
    assert read["X_OPEN"][1] == "runs\nX_SWALLOWED=2\n" and "X_SWALLOWED" not in read


def test_check_config_systemd_names_each_line_systemd_reads_differently(tmp_path):
    env_file = tmp_path / ".env"
    lines = ["CPA_BASE_URL=http://127.0.0.1:8317", "CPA_MANAGEMENT_KEY='same-for-both'",
             "LOGIN_PASSWORD=secret-pass # the owner's", "X_BACKSLASH=a\\b", "# a comment \\", "X_AFTER=1",
             "X_PLAIN=plain"]
    env_file.write_text("\n".join(lines) + "\n")
    result = run_cli(tmp_path, "--check-config", "--systemd", ENV_FILE=str(env_file))
    assert result.returncode == 3, result.stderr
    named = re.findall(r"(?m)^  line (\d+): (\S+)$", result.stderr)
    assert named == [("3", "LOGIN_PASSWORD"), ("4", "X_BACKSLASH"), ("6", "X_AFTER")]  # X_AFTER: systemd < v254
    assert "secret-pass" not in result.stdout + result.stderr
    assert run_cli(tmp_path, "--check-config", ENV_FILE=str(env_file)).returncode == 0  # its own reading is fine

    env_file.write_text("\n".join(lines[:2] + ["APP_PORT=8318  # the dashboard"]) + "\n")
    broken = run_cli(tmp_path, "--check-config", "--systemd", ENV_FILE=str(env_file))
    assert broken.returncode == 2 and "APP_PORT='8318  # the dashboard' is invalid" in broken.stderr

    env_file.write_text("\n".join(lines[:2] + ["APP_PORT='8318'"]) + "\n")
    agreed = run_cli(tmp_path, "--check-config", "--systemd", ENV_FILE=str(env_file))
    assert agreed.returncode == 0 and agreed.stderr == "" and "APP_PORT=8318" in agreed.stdout
    assert run_cli(tmp_path, "--systemd", ENV_FILE=str(env_file)).returncode == 2  # only with --check-config
