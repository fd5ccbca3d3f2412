#!/usr/bin/env python3
"""cpa-usage: persistent usage analytics for CLIProxyAPI (CPA) v6.10 and later.

Since v6.10, CPA keeps each usage record in memory for about a minute and hands it
out over a Redis-style RESP protocol on its own port (8317 by default). Whoever does
not pick a record up in time loses it. This program picks every record up, keeps it
in SQLite (or PostgreSQL), and serves a JSON API and a dashboard under a subpath
(``/usage``).

Run ``python3 cpa_usage.py --help`` for the command line and the configuration
variables. The module is one file on purpose: it ships as a zipapp together with its
vendored dependencies (bottle, redis-py, PyJWT) and the waitress WSGI server.

Contents, in the order data flows through the program:

  1. Configuration ........ Setting, Config, CpaInstance, load_config, parse_duration
  2. Decoding ............. decode_payload, UsageEvent, parse_rfc3339_ms, normalize_tokens,
                            legacy exports and our own export rows
  3. Storage .............. the schema (Rollup families, latency histograms, MIGRATIONS), writing,
                            reading (Query, Measures, Piece, Read), SqliteDialect and
                            PostgresDialect, Store and its RollupCache, copy_store (migrate)
  4. CPA clients .......... KeyGate (ban safety), QueueConnection (RESP), CpaHttp; CPA's request
                            logs (RequestLogParser, LogBody, RequestLogs: CPA_LOG_DIR or the API;
                            backfill_request_ids for imported history)
  5. Background workers ... Worker, IngestWriter, Drainer, MetadataSync, Maintenance, Rebanding,
                            Watchdog, Importer, Alerts
  6. Pricing .............. Price, DefaultPrices (default_prices.json), Pricing
  7. Analytics ............ Totals, LocalTime, Analytics (answers in TZ or a viewer's zone, latency
                            percentiles, budgets, plans, key billing, exports), Prometheus
  8. Auth ................. Auth (owner and member sessions, login limit), security headers
  9. HTTP routes .......... query parsing, OpenAPI pieces, the route table (ROUTES, route) and its
                            handlers, openapi_document, build_app, PrefixMount, HTTP limits
 10. Command line ......... Service, serve, backup, import, export, backfill-logs, migrate, main

Times are UTC epoch milliseconds everywhere inside; they become text only at the
edges (API responses, logs). See README.md for what each part is for.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import collections
import contextlib
import csv
import datetime as dt
import functools
import gc
import hashlib
import hmac
import html
import http.client
import io
import ipaddress
import itertools
import json
import logging
import logging.handlers
import math
import mimetypes
import operator
import os
import queue
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zoneinfo
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import bottle
import jwt
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__version__ = "0.1.0"

log = logging.getLogger("cpa_usage")


MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000


def now_ms() -> int:
    """The current time as UTC epoch milliseconds, the one time unit used inside."""
    return time.time_ns() // 1_000_000


@functools.lru_cache(maxsize=4096)
def _utc_date(days: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=days)).isoformat()


@functools.lru_cache(maxsize=16_384)
def iso_ms(ms: int | None) -> str | None:
    """Render epoch milliseconds as RFC 3339 UTC text for API responses and logs (a
    month of 15-minute cells and hours is 4,400 of these per overview, the same ones
    again at every refresh: kept)."""
    if ms is None:
        return None
    days, rest = divmod(ms, DAY_MS)
    seconds, millis = divmod(rest, 1000)
    return f"{_utc_date(days)}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{millis:03d}Z"


###############################################################################
# 1. Configuration ############################################################
###############################################################################
#
# Every setting comes from the environment or from a .env file (the environment
# wins). A bad value stops the program at start with exit code 2 and one line
# that names the variable, shows the value (secrets masked) and says what is
# expected, because a service that starts with a half-understood configuration
# fails later and more confusingly.


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Parse a Go-style duration (``500ms``, ``1s``, ``1h30m``, ``168h``) into seconds.

    The reference implementation is written in Go and its users write Go durations,
    so the same grammar is accepted: one or more number+unit parts, no bare numbers.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    position, total = 0, 0.0
    while position < len(text):
        part = _DURATION_PART.match(text, position)
        if not part:
            raise ValueError(f"not a duration: {text!r}")
        total += float(part.group(1)) * _DURATION_UNITS[part.group(2)]
        position = part.end()
    return total


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration, for --check-config and /status."""
    if seconds and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{number}{unit}" for number, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if number)
    return text or "0s"


def parse_bool(text: str) -> bool:
    """true/false/1/0/yes/no in any case; anything else is an error, never a silent "off"."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError(text)


def _positive_duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(text)
    return seconds


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text.strip(), 10)
        if not low <= value <= high:
            raise ValueError(text)
        return value

    return parse


def _http_url(text: str) -> str:
    url = text.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(text)
    parts.port  # raises ValueError for a malformed port
    return url


def _optional_http_url(text: str) -> str:
    return _http_url(text) if text.strip() else ""


_INSTANCE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _instance_name(text: str) -> str:
    if text.strip() and not _INSTANCE_NAME.fullmatch(text.strip()):
        raise ValueError(text)
    return text.strip()


def _cpa_instances(text: str) -> tuple[tuple[str, str], ...]:
    """``name=url,name=url`` into ((name, url), ...): names unique, URLs http(s)."""
    entries = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, sep, url = entry.partition("=")
        if not sep or not _INSTANCE_NAME.fullmatch(name.strip()):
            raise ValueError(text)
        entries.append((name.strip(), _http_url(url)))
    if len({name for name, _ in entries}) != len(entries):
        raise ValueError(text)
    return tuple(entries)


def queue_endpoint(base_url: str, addr: str = "") -> tuple[str, int, bool] | None:
    """(host, port, tls) of a CPA's RESP listener, or None where RESP is not to be tried.

    CPA serves RESP on the same port as HTTP, so by default it is the host and port
    of its base URL (8317 when the URL names no port). TLS is used only when CPA
    itself terminates TLS: an https URL with an explicit port. A base URL with a path
    (``https://example.com/cpa``) is a reverse proxy's, which passes HTTP only: there
    RESP is tried only at an address REDIS_QUEUE_ADDR names."""
    if addr:
        return _queue_addr_endpoint(addr)
    parts = urllib.parse.urlsplit(base_url)
    if parts.path.strip("/"):
        return None
    return parts.hostname or "", parts.port or 8317, parts.scheme == "https" and parts.port is not None


def _queue_addr_endpoint(addr: str) -> tuple[str, int, bool]:
    """(host, port, tls) of REDIS_QUEUE_ADDR: a redis:// or rediss:// URL, or host:port."""
    if "://" in addr:
        parts = urllib.parse.urlsplit(addr)
        return parts.hostname or "", parts.port or 8317, parts.scheme == "rediss"
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port), False


def endpoint_text(endpoint: tuple[str, int, bool] | None) -> str:
    """A RESP endpoint as /status and the log show it."""
    if endpoint is None:
        return "none (HTTP only)"
    host, port, tls = endpoint
    return f"{'rediss://' if tls else ''}{host}:{port}"


def default_instance_name(base_url: str) -> str:
    """CPA's host name, or this machine's when CPA runs here (loopback says nothing)."""
    host = urllib.parse.urlsplit(base_url).hostname or ""
    if host in ("", "localhost", "::1") or host.startswith("127."):
        host = socket.gethostname()
    name = re.sub(r"[^A-Za-z0-9._-]", "-", host)[:64]
    return name or "cpa"


class CpaInstance(NamedTuple):
    """One CPA this process drains: its name on events, address and management key."""

    name: str
    base_url: str
    management_key: str
    queue_addr: str = ""

    def queue_endpoint(self) -> tuple[str, int, bool] | None:
        return queue_endpoint(self.base_url, self.queue_addr)


def _optional_postgres_url(text: str) -> str:
    url = text.strip()
    if url and (not is_postgres_url(url) or not urllib.parse.urlsplit(url).hostname):
        raise ValueError(text)
    return url


def _factor(text: str) -> float:
    value = float(text.strip())
    if not 1 < value <= 1000:
        raise ValueError(text)
    return value


def _base_path(text: str) -> str:
    path = text.strip().rstrip("/")
    if path and (not path.startswith("/") or not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", path)):
        raise ValueError(text)
    return path


def _optional_host_port(text: str) -> str:
    return _host_port(text) if text.strip() else ""


def _host_port(text: str) -> str:
    value = text.strip()
    if "://" in value:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError(text)
        parts.port
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(text)
    return value


def _time_zone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(text) from exc
    return text.strip()


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(text)
        return value

    return parse


def _path(text: str) -> str:
    if not text.strip():
        raise ValueError(text)
    return os.path.abspath(text.strip())


def _optional_log_dir(text: str) -> str:
    """"" (none), or a directory this process can list and read: one it cannot is a
    configuration error at the start, not a "not found" at every log asked for."""
    if not text.strip():
        return ""
    path = os.path.abspath(text.strip())
    if not os.path.isdir(path) or not os.access(path, os.R_OK | os.X_OK):
        raise ValueError(text)
    return path


def _secret(text: str) -> str:
    """A key or password: it travels in RESP AUTH and HTTP headers, so no control characters."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(text)
    return text


def _networks(text: str) -> tuple:
    """``127.0.0.1,10.0.0.0/8`` into IP networks (an address is a network of one)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _queue_key(text: str) -> str:
    if not text.strip() or any(c.isspace() for c in text.strip()):
        raise ValueError(text)
    return text.strip()


# How records are taken from CPA (REDIS_QUEUE_TRANSPORT); see Drainer.
QUEUE_TRANSPORTS = ("auto", "subscribe", "lpop", "http")


@dataclass(frozen=True)
class Setting:
    """One configuration variable: its default, how to parse it, and what it means."""

    name: str
    default: str | None
    parse: Callable[[str], Any]
    expected: str
    help: str
    secret: bool = False
    show: Callable[[Any], str] | None = None  # how --check-config shows the value (else by its type)
    worked_out: str = ""  # what an empty default stands for, as --help and README say it


def _shown_instances(value: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{name}={shown_url(url)}" for name, url in value)


def _shown_webhook(value: str) -> str:
    return shown_url(value, keep_path=False) if value else ""  # its path and query are often the token itself


def _shown_networks(value: tuple) -> str:
    return ",".join(str(network) for network in value)


SETTINGS: tuple[Setting, ...] = (
    Setting("CPA_BASE_URL", None, _http_url, "an http(s) URL such as http://127.0.0.1:8317",
            "CPA's address (required).", show=lambda value: shown_url(value)),
    Setting("CPA_MANAGEMENT_KEY", None, _secret, "CPA's management key without control characters",
            "CPA's management key, used for RESP AUTH and the management API (required).", secret=True),
    Setting("APP_HOST", "", str.strip, "a listen address such as 127.0.0.1 or 0.0.0.0",
            "Address the HTTP server listens on; unset: loopback only while login is off.",
            worked_out="127.0.0.1 with login off, 0.0.0.0 with login on"),
    Setting("APP_PORT", "8318", _int_between(1, 65535), "a port number 1-65535",
            "Port the HTTP server listens on."),
    Setting("APP_BASE_PATH", "/usage", _base_path, 'a path such as /usage, or "" for the root',
            "Subpath the API and dashboard are served under."),
    Setting("TZ", "Asia/Shanghai", _time_zone, "an IANA time zone such as Asia/Shanghai or UTC",
            'Time zone of "today", daily series and the 03:00 maintenance.'),
    Setting("STORAGE_DRIVER", "sqlite", _one_of("sqlite", "postgres"), "sqlite or postgres",
            "Storage driver: one SQLite file, or a PostgreSQL database (needs psycopg 3)."),
    Setting("SQLITE_PATH", "./data/app.db", _path, "a file path",
            "SQLite database file (relative to the working directory)."),
    Setting("DATABASE_URL", "", _optional_postgres_url, "a URL such as postgresql://user:password@host:5432/db",
            "The PostgreSQL database (STORAGE_DRIVER=postgres).", secret=True),
    Setting("INSTANCE_NAME", "", _instance_name, "1-64 letters, digits, dots, dashes or underscores",
            "This CPA's name on every event (default: CPA's host; this machine's name when CPA runs here).",
            worked_out="CPA's host, or this machine's name"),
    Setting("CPA_INSTANCES", "", _cpa_instances, "name=url entries separated by commas, such as "
            "east=http://10.0.0.1:8317,west=http://10.0.0.2:8317",
            "Several CPAs drained by one process; NAME's key is CPA_MANAGEMENT_KEY_NAME, else CPA_MANAGEMENT_KEY.",
            show=_shown_instances),
    Setting("REDIS_QUEUE_ADDR", "", _optional_host_port, "host:port, redis://host:port or rediss://host:port",
            "CPA's RESP address; defaults to the host and port of CPA_BASE_URL (8317 when it has no port).",
            worked_out="CPA_BASE_URL's host:port"),
    Setting("REDIS_QUEUE_KEY", "usage", _queue_key, "a queue name without spaces (CPA v7.1.44+ accepts only usage)",
            "RESP channel / queue name."),
    Setting("REDIS_QUEUE_TRANSPORT", "auto", _one_of(*QUEUE_TRANSPORTS), "auto, subscribe, lpop or http",
            "How records are taken from CPA: auto (SUBSCRIBE where RESP works, else CPA's HTTP usage queue, "
            "else LPOP), subscribe, lpop (RESP only) or http (the HTTP queue only, as behind a reverse proxy)."),
    Setting("REDIS_QUEUE_BATCH_SIZE", "1000", _int_between(1, 100_000), "an integer 1-100000",
            "Records per LPOP or HTTP queue pop, and per database transaction."),
    Setting("REDIS_QUEUE_IDLE_INTERVAL", "1s", _positive_duration, "a positive duration such as 500ms or 1s",
            "Pause between pops when the queue is empty (LPOP and HTTP modes)."),
    Setting("REDIS_QUEUE_ERROR_BACKOFF", "10s", _positive_duration, "a positive duration such as 10s",
            "Pause before reconnecting after a connection error."),
    Setting("METADATA_SYNC_INTERVAL", "30s", _positive_duration, "a positive duration such as 30s",
            "How often CPA's credential and provider lists are refreshed."),
    Setting("USAGE_RETENTION_DAYS", "30", _int_between(0, 36_500),
            "a number of days 0-36500 (0 keeps raw events forever)",
            "Raw events and dead letters older than this are removed at 03:00; rollups are kept."),
    Setting("ROLLUP_RETENTION_DAYS", "0", _int_between(0, 36_500),
            "0 (forever) or a number of days, at least USAGE_RETENTION_DAYS",
            "Rollups (what long ranges and the year view read) older than this are removed; 0 keeps them."),
    Setting("AUTH_ENABLED", "false", parse_bool, "true or false (also 1/0, yes/no)",
            "Require a password to use the API and dashboard."),
    Setting("LOGIN_PASSWORD", "", _secret, "a password without control characters",
            "Dashboard password (required when AUTH_ENABLED=true).",
            secret=True),
    Setting("AUTH_SESSION_TTL", "168h", _positive_duration, "a positive duration such as 168h",
            "Lifetime of a login session."),
    Setting("TRUSTED_PROXIES", "", _networks, "addresses or networks separated by commas, such as "
            "127.0.0.1,10.0.0.0/8", "Reverse proxies in front of cpa-usage whose X-Forwarded-For and "
            "X-Forwarded-Proto are believed (the login limit counts the client, a cookie over HTTPS is Secure).",
            show=_shown_networks),
    Setting("METRICS_PUBLIC", "false", parse_bool, "true or false",
            "Serve /metrics without login (for a Prometheus that cannot send the password)."),
    Setting("KEY_LOGIN_ENABLED", "false", parse_bool, "true or false (needs AUTH_ENABLED=true)",
            "Let each member sign in with their own CPA client API key and see only that key's usage."),
    Setting("CPA_LOG_DIR", "", _optional_log_dir, 'a readable directory, or "" for none',
            "CPA's log directory when CPA runs on this host: request logs are read from its files first "
            "(else through CPA's management API)."),
    Setting("REQUEST_LOG_MEMBERS", "false", parse_bool, "true or false",
            "Let a member read CPA's request logs of their own key (prompts and answers); off: owner only."),
    Setting("REQUEST_LOG_BODY_BYTES", "1048576", _int_between(1024, 64 * 2**20), "a number of bytes 1024-67108864",
            "Bytes of each body (request, attempt, response) a parsed request log shows; the rest is cut."),
    Setting("REQUEST_LOG_HEADER_BYTES", "65536", _int_between(1024, 2**20), "a number of bytes 1024-1048576",
            "Bytes of each header block a parsed request log shows; the rest is cut."),
    Setting("ALERT_WEBHOOK_URL", "", _optional_http_url, 'an http(s) URL, or "" for none',
            "Where budget and anomaly alerts are POSTed as JSON (retried with backoff).", show=_shown_webhook),
    Setting("ALERT_ANOMALY_FACTOR", "3", _factor, "a number above 1, such as 3",
            "An alert when a key's last-hour spend exceeds this many times its usual hourly spend."),
    Setting("IDLE_KEY_DAYS", "14", _int_between(1, 3650), "a number of days 1-3650",
            "Client keys unused this long are listed as idle."),
    Setting("LOG_LEVEL", "info", _one_of("debug", "info", "warn", "warning", "error"),
            "debug, info, warn or error", "Log verbosity."),
    Setting("LOG_FILE_ENABLED", "true", parse_bool, "true or false", "Also write logs to files in LOG_DIR."),
    Setting("LOG_DIR", "./logs", _path, "a directory path",
            "Directory of the log files (relative to the working directory)."),
    Setting("LOG_RETENTION_DAYS", "7", _int_between(1, 3650), "a number of days 1-3650",
            "Days of rotated log files to keep."),
)

SETTING_DEFAULTS = {setting.name: setting.default for setting in SETTINGS}
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Config:
    """The effective configuration: one attribute per Setting, lower-cased."""

    cpa_base_url: str
    cpa_management_key: str
    app_host: str
    app_port: int
    app_base_path: str
    tz: str
    storage_driver: str
    sqlite_path: str
    database_url: str
    instance_name: str
    cpa_instances: tuple
    redis_queue_addr: str
    redis_queue_key: str
    redis_queue_transport: str
    redis_queue_batch_size: int
    redis_queue_idle_interval: float
    redis_queue_error_backoff: float
    metadata_sync_interval: float
    usage_retention_days: int
    rollup_retention_days: int
    auth_enabled: bool
    login_password: str
    auth_session_ttl: float
    trusted_proxies: tuple
    metrics_public: bool
    key_login_enabled: bool
    cpa_log_dir: str
    request_log_members: bool
    request_log_body_bytes: int
    request_log_header_bytes: int
    alert_webhook_url: str
    alert_anomaly_factor: float
    idle_key_days: int
    log_level: str
    log_file_enabled: bool
    log_dir: str
    log_retention_days: int
    env_file: str = ""
    # every CPA drained, built from CPA_INSTANCES (its (name, url) pairs, above) or the one CPA
    cpas: tuple[CpaInstance, ...] = ()  # the first is the primary: CPA_BASE_URL's

    @property
    def database(self) -> str:
        """What Store opens: the SQLite file, or the PostgreSQL URL."""
        return self.database_url if self.storage_driver == "postgres" else self.sqlite_path

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.tz)

    @property
    def listen_host(self) -> str:
        """Where the HTTP server listens: APP_HOST, or without it loopback while login is
        off (safe by default: nobody else reads the records) and every address with login on."""
        return self.app_host or ("0.0.0.0" if self.auth_enabled else "127.0.0.1")

    def queue_endpoint(self) -> tuple[str, int, bool] | None:
        """(host, port, tls) of the first CPA's RESP listener (None: HTTP only)."""
        if self.cpas:
            return self.cpas[0].queue_endpoint()
        return queue_endpoint(self.cpa_base_url, self.redis_queue_addr)

    def describe(self) -> list[tuple[str, str]]:
        """(variable, value as the program uses it) pairs with every secret masked, for
        --check-config and the start's log: an empty setting shows what it stands for."""
        worked_out = self._worked_out()
        rows = []
        for setting in SETTINGS:
            value = getattr(self, setting.name.lower())
            if setting.secret:
                shown = "<set>" if value else "<not set>"
            elif setting.name in worked_out:
                shown = worked_out[setting.name]
            else:
                shown = (setting.show or _shown_by_type(setting))(value)
            rows.append((setting.name, shown))
        rows.append(("ENV_FILE", self.env_file or "<none>"))
        return rows

    def _worked_out(self) -> dict[str, str]:
        """What this configuration uses for the settings whose value is worked out."""
        reach = "every address, login is on" if self.auth_enabled else "loopback only, login is off"
        worked_out = {"APP_HOST": self.listen_host if self.app_host else f"{self.listen_host} (unset: {reach})"}
        if not self.redis_queue_addr:
            worked_out["REDIS_QUEUE_ADDR"] = f"{endpoint_text(self.queue_endpoint())} (from CPA_BASE_URL)"
        if not self.instance_name and not self.cpa_instances:
            worked_out["INSTANCE_NAME"] = f"{self.cpas[0].name} (unset: {SETTINGS_BY_NAME['INSTANCE_NAME'].worked_out})"
        return worked_out


def _shown_by_type(setting: Setting) -> Callable[[Any], str]:
    """How --check-config shows a value whose setting says nothing (Setting.show): true or
    false, a duration as one (10s), another number as a number (3), anything else as text."""
    if setting.parse is _positive_duration:
        return format_duration

    def shown(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return f"{value:g}" if isinstance(value, float) else str(value)
    return shown


def shown_url(url: str, keep_path: bool = True) -> str:
    """A URL as logs and --check-config show it: without user and password, and (for a
    webhook, whose path or query is often its token) without path and query."""
    parts = urllib.parse.urlsplit(url)
    if keep_path:
        rest = parts.path + ("?…" if parts.query else "")
    else:
        rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{_shown_netloc(parts)}{rest}"


def _shown_netloc(parts: urllib.parse.SplitResult) -> str:
    """The host and port of a URL as shown_url shows them, a user or password as ``…@``."""
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username or parts.password:
        netloc = "…@" + netloc
    return netloc


def read_env_file(path: str) -> dict[str, str]:
    """Parse a .env file: KEY=VALUE lines, optional ``export``, quotes, # comments."""
    values: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):].lstrip()
            key, sep, value = line.partition("=")
            key = key.strip()
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ConfigError(f"ENV_FILE {path}: line {number} is not KEY=VALUE")
            values[key] = _env_value(value.strip())
    return values


def _env_value(value: str) -> str:
    """A .env value: quoted (double quotes take \\", \\n and \\\\), or bare up to a `` #`` comment."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        quote, value = value[0], value[1:-1]
        if quote == '"':
            value = value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        return value
    return re.split(r"\s+#", value, maxsplit=1)[0].rstrip()


_SHELL_ESCAPED = '"\\`$'  # what a backslash escapes inside double quotes, for systemd as for a shell


def read_systemd_env_file(path: str) -> dict[str, tuple[int, str]]:
    """A .env file as systemd's ``EnvironmentFile=`` reads it, as {key: (line, value)}.

    The unit gives the service both readings: systemd's in the environment, which wins,
    and read_env_file's through ENV_FILE. They agree on KEY=value and KEY='value'; they
    part where systemd follows shell rules (systemd's env-file parser, v252 and later):
    an unquoted value keeps a `` # comment`` and loses its backslashes (each escapes the
    character after it), a double-quoted one keeps a backslash before anything but
    ``"\\`$``, quotes may open and close anywhere in a value and may span lines. Lines
    beginning with # or ; are comments; a key systemd takes as not a variable name (such
    as ``export KEY``) is left out of its environment."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    values: dict[str, tuple[int, str]] = {}
    position, line = 0, 1
    while position < len(text):
        char = text[position]
        if char in "\r\n":
            line += 1
            position += 1
        elif char in " \t":
            position += 1
        elif char in "#;":
            position = _systemd_line_end(text, position)
        else:
            key_line = line
            key, value, position, line = _systemd_assignment(text, position, line)
            if value is not None and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                values[key] = (key_line, value)
    return values


def _systemd_line_end(text: str, position: int) -> int:
    """Where the line at ``position`` ends (its newline, or the end of the text)."""
    ends = [end for end in (text.find("\n", position), text.find("\r", position)) if end >= 0]
    return min(ends, default=len(text))


def _systemd_assignment(text: str, position: int, line: int) -> tuple[str, str | None, int, int]:
    """One KEY=value of read_systemd_env_file from ``position``: (key, value or None for
    a line without =, where it ends, the line number there). The value opens with blanks
    skipped and quoted parts (each may follow the last after blanks); the first other
    character starts its bare rest, where quotes are plain characters and trailing blanks
    are dropped."""
    end = _systemd_line_end(text, position)
    key, equals, _ = text[position:end].partition("=")
    if not equals:
        return key, None, end, line
    position += len(key) + 1
    value = ""
    while position < len(text) and text[position] not in "\r\n":
        char = text[position]
        if char in " \t":
            position += 1
        elif char in "'\"":
            quoted, position, line = _systemd_quoted(text, position, line)
            value += quoted
        else:
            rest, position, line = _systemd_bare(text, position, line)
            value += rest
    return key.strip(), value, position, line


def _systemd_bare(text: str, position: int, line: int) -> tuple[str, int, int]:
    """The bare rest of a value from ``position`` to the end of its line: a backslash
    escapes the next character (a newline: the value goes on in the next line); trailing
    blanks that no backslash escaped are dropped."""
    chars: list[str] = []
    kept = 0  # the length without the trailing blanks
    while position < len(text) and text[position] not in "\r\n":
        char = text[position]
        if char == "\\":
            position += 1
            if position < len(text) and text[position] in "\r\n":
                line += 1
            elif position < len(text):
                chars.append(text[position])
            kept = len(chars)
        else:
            chars.append(char)
            if char not in " \t":
                kept = len(chars)
        position += 1
    return "".join(chars[:kept]), position, line


def _systemd_quoted(text: str, position: int, line: int) -> tuple[str, int, int]:
    """A quoted part of a value from its opening quote at ``position``: (what it holds,
    where it ends, the line number there). It may span lines; unterminated, it runs on to
    the end of the file."""
    quote, position, chars = text[position], position + 1, []
    while position < len(text) and text[position] != quote:
        char = text[position]
        if char == "\\" and quote == '"' and position + 1 < len(text):
            position += 1
            escaped = text[position]
            if escaped in _SHELL_ESCAPED:
                chars.append(escaped)
            elif escaped != "\n":
                chars.append("\\" + escaped)
            char = escaped
        else:
            chars.append(char)
        line += char == "\n"
        position += 1
    return "".join(chars), position + 1, line


def systemd_env_differences(path: str) -> list[str]:
    """The lines of a .env file that systemd and read_env_file take differently, as
    ``line N: KEY`` (values are never shown: they are often secrets): under systemd the
    service would run with systemd's reading, not the one --check-config approved."""
    ours: dict[str, str] | None
    try:
        ours = read_env_file(path)
    except ConfigError:
        ours = None
    differences = {line: key for key, (line, value) in read_systemd_env_file(path).items()
                   if ours is None or ours.get(key) != value}
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for number, (before, line) in enumerate(zip(lines, lines[1:]), 2):
        comment = before.strip()
        if comment[:1] in ("#", ";") and comment.endswith("\\") and "=" in line:
            differences[number] = line.partition("=")[0].strip()  # systemd before v254 takes it as comment
    return [f"line {line}: {key}" for line, key in sorted(differences.items())]


def systemd_environment(environ: dict[str, str]) -> dict[str, str]:
    """The environment systemd gives the service: ``environ`` with the variables of its
    .env file (ENV_FILE, else ./.env) as EnvironmentFile= reads them over it."""
    path = environ.get("ENV_FILE") or "./.env"
    merged = dict(environ)
    if os.path.exists(path):
        try:
            merged.update((key, value) for key, (_, value) in read_systemd_env_file(path).items())
        except (OSError, UnicodeDecodeError):
            pass  # load_config says why the file cannot be read
    return merged


def _merged_environment(environ: dict[str, str]) -> tuple[dict[str, str], str]:
    """The .env file's variables under the environment's, and the file's path."""
    env_file = environ.get("ENV_FILE", "")
    path = env_file or "./.env"
    merged = _env_file_values(path, env_file)
    merged.update(environ)
    listed = merged.get("CPA_INSTANCES", "").strip()
    if listed and not merged.get("CPA_BASE_URL"):  # the first listed CPA is the primary one
        first_name, _, first_url = listed.split(",")[0].partition("=")
        merged["CPA_BASE_URL"] = first_url.strip()
        merged.setdefault("CPA_MANAGEMENT_KEY", merged.get(instance_key_variable(first_name.strip()), ""))
    return merged, path


def _env_file_values(path: str, env_file: str) -> dict[str, str]:
    """The variables of the .env file at ``path``: none where there is no file, unless
    ENV_FILE (``env_file``) named one; ConfigError where it cannot be read."""
    if not os.path.exists(path):
        if env_file:
            raise ConfigError(f"ENV_FILE={env_file!r}: no such file; expected the path of a .env file")
        return {}
    try:
        return read_env_file(path)
    except OSError as exc:
        raise ConfigError(f"ENV_FILE={path!r}: cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"ENV_FILE={path!r}: is not UTF-8 text; expected a .env file") from None


def _setting_value(setting: Setting, merged: dict[str, str]) -> Any:
    """One setting parsed from its text (or its default), or ConfigError naming it."""
    text = merged.get(setting.name)
    if text is None or (text == "" and setting.default is None):
        if setting.default is None:
            raise ConfigError(f"{setting.name} is required but not set; expected {setting.expected}")
        text = setting.default
    try:
        return setting.parse(text)
    except ValueError:
        shown = "<hidden>" if setting.secret else repr(text)
        raise ConfigError(f"{setting.name}={shown} is invalid; expected {setting.expected}") from None


# Rules between settings, checked in this order: (broken when, what the error says).
_SETTING_RULES: tuple[tuple[Callable[[dict], Any], Callable[[dict], str]], ...] = (
    (lambda v: v["rollup_retention_days"] and (not v["usage_retention_days"]  # ranges would miss kept raw events
                                               or v["rollup_retention_days"] < v["usage_retention_days"]),
     lambda v: f"ROLLUP_RETENTION_DAYS={v['rollup_retention_days']} is invalid; expected 0 (forever) or at least "
               f"USAGE_RETENTION_DAYS ({v['usage_retention_days'] or 'forever'})"),
    (lambda v: v["storage_driver"] == "postgres" and not v["database_url"],
     lambda v: "DATABASE_URL is required when STORAGE_DRIVER=postgres; expected a URL such as "
               "postgresql://user:password@host:5432/db"),
    (lambda v: v["key_login_enabled"] and not v["auth_enabled"],
     lambda v: "KEY_LOGIN_ENABLED=true needs AUTH_ENABLED=true (and LOGIN_PASSWORD for the owner)"),
    (lambda v: v["auth_enabled"] and not v["login_password"],
     lambda v: "LOGIN_PASSWORD is required when AUTH_ENABLED=true; expected a password"),
    (lambda v: v["cpa_instances"] and (v["redis_queue_addr"] or v["instance_name"]),
     lambda v: "with CPA_INSTANCES, REDIS_QUEUE_ADDR and INSTANCE_NAME are not used; each CPA's name and address "
               "come from its CPA_INSTANCES entry"),
)


def _drained_cpas(values: dict[str, Any], merged: dict[str, str]) -> tuple[CpaInstance, ...]:
    """The CPAs to drain: CPA_INSTANCES (each with its own key, or the common one), or the one CPA."""
    if values["cpa_instances"]:
        common_key = values["cpa_management_key"]
        instances = tuple(CpaInstance(name, url, merged.get(instance_key_variable(name)) or common_key)
                          for name, url in values["cpa_instances"])
    else:
        instances = (CpaInstance(values["instance_name"] or default_instance_name(values["cpa_base_url"]),
                                 values["cpa_base_url"], values["cpa_management_key"], values["redis_queue_addr"]),)
    _check_resp_addresses(instances, values["redis_queue_transport"])
    return instances


def _check_resp_addresses(instances: tuple[CpaInstance, ...], transport: str) -> None:
    """ConfigError where a transport that is RESP only (subscribe, lpop) has a CPA at
    which RESP is not tried (behind a URL with a path, without REDIS_QUEUE_ADDR)."""
    if transport not in ("subscribe", "lpop"):
        return
    for instance in instances:
        if instance.queue_endpoint() is None:
            raise ConfigError(f"REDIS_QUEUE_TRANSPORT={transport} needs RESP, which is not tried behind a URL with a "
                              f"path ({instance.base_url}); set REDIS_QUEUE_ADDR to CPA's RESP address, or "
                              "REDIS_QUEUE_TRANSPORT=auto or http")


def load_config(environ: dict[str, str] | None = None) -> Config:
    """Build the Config from the environment and the .env file, or raise ConfigError."""
    merged, path = _merged_environment(dict(os.environ if environ is None else environ))
    values = {setting.name.lower(): _setting_value(setting, merged) for setting in SETTINGS}
    for broken, message in _SETTING_RULES:
        if broken(values):
            raise ConfigError(message(values))
    return Config(env_file=os.path.abspath(path) if os.path.exists(path) else "",
                  cpas=_drained_cpas(values, merged), **values)


def instance_key_variable(name: str) -> str:
    """The variable holding the management key of CPA ``name`` in CPA_INSTANCES."""
    return "CPA_MANAGEMENT_KEY_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


###############################################################################
# 2. Decoding ##################################################################
###############################################################################
#
# One JSON object per upstream call, in one of several eras (v6.9.38 .. v7.2.140;
# later eras only add fields). A record is decoded into a UsageEvent whose token
# columns do not overlap (new input, cache read, cache write, billed output with
# reasoning inside, unclassified), whatever the provider's own convention. What
# cannot be decoded raises DecodeError and ends up in dead_letters with its bytes.

MIN_USABLE_MS = 946_684_800_000  # 2000-01-01: earlier timestamps (Go's zero time) are not usable
MAX_TOKENS = 10**10              # more tokens than this in one call is not a real record
MAX_DURATION_MS = 10**9          # ~11.6 days of latency is not a real record
# What a record may be, beyond which it is no record of CPA's (README: "Limits"). CPA's are
# a few KB, four levels deep, valid UTF-8 (Go's encoder writes nothing else).
MAX_RECORD_BYTES = 8 * 2**20     # larger: kept aside without being parsed
MAX_DEPTH = 32                   # nesting of what is kept as JSON (headers, breakdown, unknown fields)
MAX_NAME_CHARS = 1024            # identity and dimension strings (model, source, keys, ...): else aside
MAX_TEXT_CHARS = 4096            # other strings (user agent, addresses, ...): cut, and the event flagged
MAX_BODY_CHARS = 64 * 1024       # fail.body: cut, flagged
MAX_JSON_CHARS = 64 * 1024       # headers, breakdown, unknown fields as JSON: cut, flagged
DEAD_LETTER_BYTES = 64 * 1024    # what a dead letter keeps of a payload (its size is kept beside)

CONTROL_KEYS = frozenset({"support_refresh", "refresh"})
SENSITIVE_HEADERS = frozenset({"set-cookie", "cookie", "authorization", "proxy-authorization",
                               "x-api-key", "api-key", "x-goog-api-key"})

_TOKEN_FIELDS = ("input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens",
                 "cache_read_tokens", "cache_creation_tokens", "total_tokens")
_TOKEN_LABELS = tuple((name, f"tokens.{name}") for name in _TOKEN_FIELDS)
_KNOWN_TOKEN_FIELDS = frozenset(_TOKEN_FIELDS) | {"cache_read_tokens_present"}
_NAME_FIELDS = ("request_id", "model", "alias", "provider", "executor_type", "endpoint", "auth_type",
                "source", "auth_index", "api_key")  # identity and rollup dimensions: never cut
_TEXT_FIELDS = ("reasoning_effort", "service_tier", "response_service_tier", "client_ip", "x_forwarded_for",
                "user_agent", "access_token_sha256", "resolved_client_ip", "execution_id")
_STRING_FIELDS = _NAME_FIELDS + _TEXT_FIELDS
_KNOWN_FIELDS = frozenset(_STRING_FIELDS) | {
    "timestamp", "latency_ms", "ttft_ms", "tokens", "failed", "fail", "generate", "stream", "response_headers",
    "accounting_version", "token_breakdown"}

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))")


class DecodeError(ValueError):
    """The payload is not a usable usage record; the message says why."""


class ControlMessage(NamedTuple):
    """``{"support_refresh":true}`` or ``{"refresh":true}``: a cue from CPA, not usage."""

    refresh: bool


class UsageEvent(NamedTuple):
    """One decoded record, field for field a row of ``usage_events`` (minus its id)."""

    event_key: str
    ts_ms: int
    ts_raw: str
    ts_estimated: int
    received_ms: int
    request_id: str
    model: str
    alias: str
    provider: str
    executor_type: str
    endpoint: str
    auth_type: str
    source: str
    auth_index: str
    api_key: str
    failed: int
    status_code: int | None
    fail_body: str | None
    latency_ms: int | None
    ttft_ms: int | None
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    unclassified_tokens: int
    total_tokens: int
    token_family: str
    token_quality: str
    raw_input_tokens: int
    raw_output_tokens: int
    raw_reasoning_tokens: int
    raw_cached_tokens: int
    raw_cache_read_tokens: int | None
    raw_cache_creation_tokens: int | None
    raw_total_tokens: int
    token_breakdown: str | None
    generate: int | None
    reasoning_effort: str | None
    service_tier: str | None
    response_service_tier: str | None
    client_ip: str | None
    x_forwarded_for: str | None
    user_agent: str | None
    access_token_sha256: str | None
    accounting_version: int | None
    response_headers: str | None
    extra: str | None
    instance: str  # the CPA host it came from (INSTANCE_NAME, or the name in CPA_INSTANCES)
    # CPA v8 (schema 13): the client address CPA settled on (its trusted proxies applied),
    # whether the client asked for a stream, and CPA's id of the upstream execution
    resolved_client_ip: str | None = None
    stream: int | None = None
    execution_id: str | None = None
    truncated: str | None = None  # the fields cut to their limit, comma-separated (schema 13)
    # What it is billed at besides its tokens (schema 18): prompt_band() of its prompt,
    # served_tier() of its tiers. Derived from the fields above, always set with them.
    prompt_band: int = 0
    served_tier: str = ""


def parse_rfc3339_ms(text: str) -> int | None:
    """Exact RFC 3339 (nanoseconds, any offset) to UTC epoch ms; None if unparseable.

    Integer arithmetic throughout, so ``...T09:12:04.183422911+08:00`` becomes
    exactly the millisecond it names (sub-millisecond digits are truncated).
    """
    match = _RFC3339.fullmatch(text)
    if not match:
        return None
    days = _epoch_day(match.group(1), match.group(2), match.group(3))
    hour, minute, second = int(match.group(4)), int(match.group(5)), int(match.group(6))
    if days is None or hour > 23 or minute > 59 or second > 60:
        return None
    offset_minutes = 0
    if not match.group(8):
        offset_hours, offset_mins = int(match.group(10)), int(match.group(11))
        if offset_hours > 23 or offset_mins > 59:
            return None
        offset_minutes = (offset_hours * 60 + offset_mins) * (1 if match.group(9) == "+" else -1)
    seconds = days * 86400 + hour * 3600 + minute * 60 + min(second, 59) - offset_minutes * 60
    millis = int(((match.group(7) or "") + "000")[:3])
    return seconds * 1000 + millis


@functools.lru_cache(maxsize=4096)
def _epoch_day(year: str, month: str, day: str) -> int | None:
    """Days since 1970-01-01 of a calendar date, None if there is no such date."""
    try:
        return dt.date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def token_family(provider: str, executor_type: str) -> str:
    """Which upstream convention the token counts follow: openai, claude, gemini, devin
    or unknown.

    Decided from provider and executor type, never from the model name (a Claude
    model served through a Gemini-family executor counts the Gemini way). The
    order of the tests is CPA's own (sdk/cliproxy/usage, tokenAccountingSemanticsFor,
    v7.2.140), whose markers already cover xai (XAIExecutor publishes
    helps.ParseOpenAIUsage, xai_executor_execute.go) and kimi, kimi-ai included
    (KimiExecutor: ParseOpenAIUsage, kimi_executor.go). The families CPA v8 added are
    not in the stored CPA source (it ends at v7.2.140); what is known of them comes
    from third-party ports of v8's executors: meta's executor reads the OpenAI
    Responses usage of ``response.completed`` with ParseCodexUsage (openai rules), and
    devin's counts cache reads inside the input and cache writes beside it (its own
    rule). v8 records carry a complete token_breakdown anyway, which wins over any
    family rule; these rules decide only where it is missing or inconsistent.
    """
    provider, executor = provider.strip().lower(), executor_type.strip().lower()
    value = f"{provider} {executor}".strip()
    if value in ("", "unknown", "unknown unknown"):
        return "unknown"
    for family, providers, prefixes, executors, markers in _FAMILY_MARKERS:
        if provider in providers or provider.startswith(prefixes) or executor in executors \
                or any(marker in value for marker in markers):
            return family
    return "unknown"


# token_family's tests in their order: (family, providers, provider prefixes, executors,
# markers anywhere in "provider executor").
_FAMILY_MARKERS = (
    ("devin", {"devin"}, (), {"devinexecutor"}, ()),
    ("openai", {"meta"}, (), {"metaexecutor"}, ()),
    ("openai", {"openai-compatibility"}, ("openai-compatible-",), {"openaicompatexecutor"}, ()),
    ("claude", (), (), (), ("claude", "anthropic")),
    ("gemini", (), (), (), ("gemini", "aistudio", "antigravity", "vertex", "interaction")),
    ("openai", (), (), (), ("openai", "codex", "xai", "grok", "kimi", "qwen", "deepseek", "openrouter")),
)


class Tokens(NamedTuple):
    """Non-overlapping token buckets; ``reasoning`` is the informational part of ``output``."""

    new_input: int
    cache_read: int
    cache_write: int
    output: int
    reasoning: int
    unclassified: int
    quality: str

    @property
    def total(self) -> int:
        return self.new_input + self.cache_read + self.cache_write + self.output + self.unclassified

    @property
    def prompt(self) -> int:
        """All the request sent (PROMPT_TOKENS): what decides its long-context price."""
        return self.new_input + self.cache_read + self.cache_write + self.unclassified


# What a request is billed at besides its tokens, decided at ingest and kept on the event
# and in the rollups that price (schema 18), because a sum of tokens no longer tells it:
#
# - its prompt band: providers bill a request whose prompt (PROMPT_TOKENS) has MORE than
#   a threshold of tokens at a long-context price for ALL its tokens (LongContext), so a
#   range's cost needs its tokens summed apart on each side of every threshold. The band
#   is how many of PROMPT_BAND_EDGES the prompt passes (0: at most 100k); the rollups keep
#   it only as far as the model's prices tell bands apart (as_rolled_up). The edges are
#   every threshold of the built-in prices (genai-prices: Claude Haiku 100k, Gemini 1.5
#   128k, Grok 4.x "199,999", Claude Sonnet/Opus and Gemini Pro 200k, GPT-5.x 272k,
#   MiniMax 512k), frozen like the histogram bins: a price with another threshold would
#   need the bands of stored events again (a migration of its own), so the snapshot and
#   the owner's prices take no other (snapshot_price).
# - its served tier: the service tier that served it (``response_service_tier``, what the
#   upstream reported; else ``service_tier``, what the client asked for: CPA before
#   v7.2.65 sends nothing else), "" for the standard tier whatever its name. OpenAI bills
#   ``priority`` and ``flex`` at other prices than standard; a tier is priced by the
#   owner's prices of that tier, else at the standard price, counted apart (Pricing).
PROMPT_TOKENS = ("input_tokens", "unclassified_tokens", "cache_read_tokens", "cache_write_tokens")
PROMPT_BAND_EDGES = (100_000, 128_000, 199_999, 200_000, 272_000, 512_000)
PROMPT_BANDS = len(PROMPT_BAND_EDGES) + 1
STANDARD_TIER_NAMES = frozenset({"", "default", "auto", "standard"})  # OpenAI's, Anthropic's, CPA's "auto"


def prompt_band(prompt_tokens: int) -> int:
    """The band of a prompt: how many of PROMPT_BAND_EDGES it has more tokens than."""
    return bisect.bisect_left(PROMPT_BAND_EDGES, prompt_tokens)


def served_tier(requested: str | None, responded: str | None) -> str:
    """The tier that served a request, as sent ("" the standard one): what the upstream
    reported, else what the client asked for."""
    tier = responded or requested or ""
    return "" if tier in STANDARD_TIER_NAMES else tier


def _breakdown_tokens(breakdown: dict) -> Tokens | None:
    """Tokens from a v2 ``token_breakdown`` if it satisfies CPA's own invariants."""
    try:
        inp, out = breakdown["input"], breakdown["output"]
        numbers = (breakdown["total_tokens"], breakdown.get("unclassified_tokens", 0),
                   inp["total_tokens"], inp["uncached_tokens"], inp["cache_read_tokens"], inp["cache_write_tokens"],
                   out["total_tokens"], out["non_reasoning_tokens"], out["reasoning_tokens"])
    except (KeyError, TypeError):
        return None
    for number in numbers:
        if type(number) is not int or not 0 <= number <= MAX_TOKENS:
            return None
    total, unclassified, i_total, uncached, read, write, o_total, non_reasoning, reasoning = numbers
    quality = breakdown.get("quality")
    if (breakdown.get("schema_version") != 2 or quality not in ("complete", "unclassified", "inconsistent")
            or i_total != uncached + read + write or o_total != non_reasoning + reasoning
            or total != i_total + o_total + unclassified or (quality == "complete" and unclassified)):
        return None
    return Tokens(uncached, read, write, o_total, reasoning, unclassified, quality)


def normalize_tokens(tokens: dict[str, int], present: set[str], family: str, breakdown: Any) -> Tokens:
    """Split CPA's token counts into non-overlapping buckets (see DESIGN.md, Tokens).

    ``token_breakdown`` is authoritative when it is valid and complete or
    unclassified. Otherwise the family rules apply to the raw ``tokens``:

    * openai: input includes cache read and write; output includes reasoning.
    * claude: input is new input only; cache read/write come separately (before
      v7.0.3 only ``cached_tokens`` exists: read or write, so "ambiguous").
    * gemini: input includes cache; output EXCLUDES reasoning, which is billed as
      output; before v7.2.97 tool-use prompt tokens only show in the total.
    * devin: input includes cache reads but not cache writes; output includes reasoning.
    * unknown: the total is kept as unclassified rather than guessed.
    """
    has_breakdown = isinstance(breakdown, dict)
    if has_breakdown:
        parsed = _breakdown_tokens(breakdown)
        if parsed and parsed.quality != "inconsistent":
            return parsed
    rule = _FAMILY_RULES.get(family)
    if rule is None:
        return _unknown_family_tokens(tokens)
    if "cache_read_tokens_present" in present or tokens["cache_read_tokens"]:
        read = tokens["cache_read_tokens"]
    else:
        read = tokens["cached_tokens"]  # before v7.2.67 OpenAI/Gemini styles left cache_read_tokens at 0
    write, reasoning = tokens["cache_creation_tokens"], tokens["reasoning_tokens"]
    new_input, output, read, extra, ambiguous = rule(tokens, present, read, write, has_breakdown)
    if new_input < 0 or reasoning > output or extra:
        quality = "inconsistent"  # the counts contradict each other
    elif ambiguous:
        quality = "ambiguous"
    elif has_breakdown:
        quality = "inconsistent"  # the counts hold, CPA's own breakdown did not
    else:
        quality = "derived"
    return Tokens(max(new_input, 0), read, write, output, min(reasoning, output), max(extra, 0), quality)


def _unknown_family_tokens(tokens: dict[str, int]) -> Tokens:
    """An unknown family's counts: the total kept as unclassified, not guessed."""
    total = tokens["total_tokens"] or tokens["input_tokens"] + tokens["output_tokens"]
    return Tokens(0, 0, 0, 0, 0, total, "complete" if total == 0 else "unclassified")


# The family rules of normalize_tokens: each gives (new input, output, cache read, what
# the upstream total holds beyond the buckets, whether the cache count is ambiguous)
# from CPA's raw counts, the cache read and write found so far, and whether a
# token_breakdown came (and was inconsistent).

def _claude_buckets(tokens: dict[str, int], present: set[str], read: int, write: int,
                    has_breakdown: bool) -> tuple[int, int, int, int, bool]:
    """Claude's total is ignored: before v7.1.26 it left the cache out."""
    if "cache_read_tokens" in present or "cache_creation_tokens" in present:
        read = tokens["cache_read_tokens"]
        return tokens["input_tokens"], tokens["output_tokens"], read, 0, False
    # v7.0.2 and older: cached_tokens is the read OR the write count
    return tokens["input_tokens"], tokens["output_tokens"], read, 0, bool(tokens["cached_tokens"])


def _gemini_buckets(tokens: dict[str, int], present: set[str], read: int, write: int,
                    has_breakdown: bool) -> tuple[int, int, int, int, bool]:
    inp, out, reasoning = tokens["input_tokens"], tokens["output_tokens"], tokens["reasoning_tokens"]
    new_input, extra = inp - read - write, 0
    missing = tokens["total_tokens"] - (inp + out + reasoning)
    if missing > 0 and has_breakdown:
        extra = missing
    elif missing > 0:
        new_input += missing  # tool-use prompt tokens, absent from input before v7.2.97
    return new_input, out + reasoning, read, extra, False


def _devin_buckets(tokens: dict[str, int], present: set[str], read: int, write: int,
                   has_breakdown: bool) -> tuple[int, int, int, int, bool]:
    """Cache reads inside the input, cache writes beside it."""
    return tokens["input_tokens"] - read, tokens["output_tokens"], read, 0, False


def _openai_buckets(tokens: dict[str, int], present: set[str], read: int, write: int,
                    has_breakdown: bool) -> tuple[int, int, int, int, bool]:
    inp, out, raw_total = tokens["input_tokens"], tokens["output_tokens"], tokens["total_tokens"]
    # CPA <= v7.2.96 filled a missing total with input + output + reasoning.
    extra = 0 if raw_total in (0, inp + out, inp + out + tokens["reasoning_tokens"]) else raw_total - (inp + out)
    return inp - read - write, out, read, extra, False


_FAMILY_RULES = {"claude": _claude_buckets, "gemini": _gemini_buckets, "devin": _devin_buckets,
                 "openai": _openai_buckets}


def _check_int(value: Any, name: str, high: int = MAX_TOKENS) -> int:
    if type(value) is int and 0 <= value <= high:  # the common case, checked first: this is the hot path
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DecodeError(f"{name} must be an integer, got {type(value).__name__}")
    if isinstance(value, float):
        if not value.is_integer():
            raise DecodeError(f"{name} must be an integer, got {value!r}")
        value = int(value)
    if not 0 <= value <= high:
        raise DecodeError(f"{name}={value} is out of range 0..{high}")
    return value


def _optional_int(record: dict, name: str, high: int) -> int | None:
    value = record.get(name)
    return None if value is None else _check_int(value, name, high)


def _optional_bool(record: dict, name: str) -> int | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise DecodeError(f"{name} must be true or false, got {type(value).__name__}")
    return int(value)


_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one encoder, not one per call


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT_JSON = json.JSONDecoder(parse_constant=_no_constant)  # NaN and Infinity are not JSON (Go never writes them)


def parse_json(payload: bytes | str, what: str = "record") -> Any:
    """The JSON value of a payload, or DecodeError saying why there is none: larger than
    MAX_RECORD_BYTES (not even parsed), not UTF-8, not JSON, nested past what the
    parser can read."""
    if len(payload) > MAX_RECORD_BYTES:
        raise DecodeError(f"a {what} of {len(payload):,} bytes, more than {MAX_RECORD_BYTES:,}")
    try:
        return _STRICT_JSON.decode(payload if isinstance(payload, str) else bytes(payload).decode("utf-8"))
    except RecursionError:
        raise DecodeError("not JSON that can be read: nested too deep") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(f"not JSON: {exc}") from None


def valid_text(value: str, name: str) -> str:
    """``value``, unless it holds a lone surrogate (a JSON escape such as \\ud800 that is no
    character): such text cannot be stored or sent as UTF-8, and CPA never writes it."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise DecodeError(f"{name} is not valid Unicode (it holds a lone surrogate)") from None
    return value


def deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest in ``value`` more than ``limit`` levels (counted without recursion)."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []  # only containers are stacked
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _kept_json(value: Any, name: str, truncated: list[str]) -> str | None:
    """A value stored as JSON text: nested at most MAX_DEPTH levels (else DecodeError), valid
    Unicode, and past MAX_JSON_CHARS cut and kept as a JSON string (``name`` flagged)."""
    if value is None:
        return None
    if deeper_than(value, MAX_DEPTH):
        raise DecodeError(f"{name} is nested deeper than {MAX_DEPTH} levels")
    text = valid_text(_COMPACT_JSON.encode(value), name)
    if len(text) > MAX_JSON_CHARS:
        truncated.append(name)
        text = _COMPACT_JSON.encode(text[:MAX_JSON_CHARS])
    return text


def _cut_text(value: str | None, name: str, limit: int, truncated: list[str]) -> str | None:
    """A string that is not identity, valid Unicode, past ``limit`` characters cut (flagged)."""
    if value is None:
        return None
    valid_text(value, name)
    if len(value) > limit:
        truncated.append(name)
        return value[:limit]
    return value


def _event_key(strings: dict[str, str], tokens: dict[str, int], latency: int | None,
               failed: bool, ts_raw: str) -> str:
    """Identity of one upstream call (request_id alone is not unique: retries share it)."""
    latency_text = "" if latency is None else latency
    identity = (f"{ts_raw}\x1f{strings['request_id']}\x1f{strings['model']}\x1f{strings['source']}\x1f"
                f"{strings['auth_index']}\x1f{strings['api_key']}\x1f{strings['endpoint']}\x1f"
                f"{tokens['input_tokens']}\x1f{tokens['output_tokens']}\x1f{tokens['reasoning_tokens']}\x1f"
                f"{tokens['cached_tokens']}\x1f{tokens['total_tokens']}\x1f{latency_text}\x1f{int(failed)}")
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


# What a text field CPA leaves out (or sends empty) reads as; the alias is the model's.
_STRING_DEFAULTS = (("model", "unknown"), ("provider", "unknown"), ("executor_type", "unknown"),
                    ("auth_type", "unknown"), ("request_id", ""), ("endpoint", ""), ("source", ""),
                    ("auth_index", ""), ("api_key", ""))


def _optional_object(record: dict, name: str, label: str | None = None) -> dict | None:
    value = record.get(name)
    if value is not None and not isinstance(value, dict):
        raise DecodeError(f"{label or name} must be an object, got {type(value).__name__}")
    return value


def _decode_strings(record: dict, truncated: list[str]) -> dict[str, Any]:
    """The text fields of a record: strings or absent; names (identity and dimensions)
    kept whole up to MAX_NAME_CHARS or refused, other text cut at MAX_TEXT_CHARS
    (flagged in ``truncated``); the defaults of _STRING_DEFAULTS filled in."""
    strings: dict[str, Any] = {}
    for name in _STRING_FIELDS:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise DecodeError(f"{name} must be a string, got {type(value).__name__}")
        strings[name] = value
    for name in _NAME_FIELDS:  # identity and dimensions: kept whole or not at all
        if strings[name] is not None and len(valid_text(strings[name], name)) > MAX_NAME_CHARS:
            raise DecodeError(f"{name} is {len(strings[name]):,} characters long, more than {MAX_NAME_CHARS:,}")
    for name in _TEXT_FIELDS:
        strings[name] = _cut_text(strings[name], name, MAX_TEXT_CHARS, truncated)
    for name, default in _STRING_DEFAULTS:
        strings[name] = strings[name] or default
    strings["alias"] = strings["alias"] or strings["model"]
    return strings


def _decode_tokens(raw_tokens: dict) -> tuple[dict[str, int], set[str]]:
    """CPA's token counts (absent: 0) and the names of those it sent."""
    tokens = {name: 0 if raw_tokens.get(name) is None else _check_int(raw_tokens[name], label)
              for name, label in _TOKEN_LABELS}
    present = {name for name in raw_tokens.keys() & _KNOWN_TOKEN_FIELDS if raw_tokens[name] is not None}
    cache_read_present = raw_tokens.get("cache_read_tokens_present")
    if cache_read_present not in (None, True, False):
        raise DecodeError("tokens.cache_read_tokens_present must be true or false")
    if cache_read_present is False:
        present.discard("cache_read_tokens_present")
    return tokens, present


def _decode_failure(record: dict, truncated: list[str]) -> tuple[bool, int | None, str | None]:
    """(failed, the status code, the body cut at MAX_BODY_CHARS) of a record."""
    failed = record.get("failed", False)
    if not isinstance(failed, bool):
        raise DecodeError(f"failed must be true or false, got {type(failed).__name__}")
    fail = _optional_object(record, "fail")
    if fail is None:
        return failed, None, None
    status_code = _optional_int(fail, "status_code", 999)
    body = fail.get("body")
    if body is not None and not isinstance(body, str):
        raise DecodeError(f"fail.body must be a string, got {type(body).__name__}")
    return failed, status_code, _cut_text(body, "fail.body", MAX_BODY_CHARS, truncated)


def _decode_timestamp(record: dict, received_ms: int) -> tuple[str, int, bool]:
    """(the timestamp as sent, its instant, estimated): a time that is missing, not RFC
    3339 or not plausible (before MIN_USABLE_MS, more than a day after receipt) is
    estimated as the moment of receipt."""
    ts_raw = record.get("timestamp")
    if ts_raw is not None and not isinstance(ts_raw, str):
        raise DecodeError(f"timestamp must be a string, got {type(ts_raw).__name__}")
    ts_raw = valid_text(ts_raw or "", "timestamp")
    if len(ts_raw) > MAX_NAME_CHARS:  # part of the identity
        raise DecodeError(f"timestamp is {len(ts_raw):,} characters long, more than {MAX_NAME_CHARS:,}")
    ts_ms = parse_rfc3339_ms(ts_raw)
    if ts_ms is None or not MIN_USABLE_MS <= ts_ms <= received_ms + DAY_MS:
        return ts_raw, received_ms, True
    return ts_raw, ts_ms, False


def _extra_fields(record: dict, raw_tokens: dict) -> dict | None:
    """What a record holds beyond the known fields (kept as ``extra``: a newer CPA's)."""
    extra = {k: record[k] for k in record.keys() - _KNOWN_FIELDS}
    unknown_token_fields = raw_tokens.keys() - _KNOWN_TOKEN_FIELDS
    if unknown_token_fields:
        extra["tokens"] = {k: raw_tokens[k] for k in unknown_token_fields}
    fail = record.get("fail")
    if fail and fail.keys() - {"status_code", "body"}:
        extra["fail"] = {k: v for k, v in fail.items() if k not in ("status_code", "body")}
    return extra or None


def _response_headers(record: dict) -> dict | None:
    """A record's response headers without the SENSITIVE_HEADERS (cookies, keys), or None."""
    headers = _optional_object(record, "response_headers")
    if headers is None:
        return None
    return {k: v for k, v in headers.items() if k.lower() not in SENSITIVE_HEADERS}


def _is_control(record: dict) -> bool:
    """Whether a record is a cue from CPA (CONTROL_KEYS, each true or false), not usage."""
    return bool(record) and record.keys() <= CONTROL_KEYS and all(isinstance(v, bool) for v in record.values())


def decode_payload(payload: bytes, received_ms: int, instance: str = "") -> UsageEvent | ControlMessage:
    """Decode one payload from CPA's queue (of CPA ``instance``), or raise DecodeError saying
    why not. Whatever the bytes, this returns or raises DecodeError: nothing else escapes
    (a property test feeds it arbitrary JSON and bytes). The fields are judged in a fixed
    order, so a record with several faults is always refused for the same one."""
    record = parse_json(payload)
    if not isinstance(record, dict):
        raise DecodeError(f"not a JSON object but {type(record).__name__}")
    if _is_control(record):
        return ControlMessage(refresh=bool(record.get("refresh")))
    raw_tokens = record.get("tokens")
    if not isinstance(raw_tokens, dict):
        raise DecodeError("not a usage record: no tokens object" if raw_tokens is None
                          else f"tokens must be an object, got {type(raw_tokens).__name__}")
    truncated: list[str] = []  # the fields cut to their limit
    strings = _decode_strings(record, truncated)
    tokens, present = _decode_tokens(raw_tokens)
    failed, status_code, fail_body = _decode_failure(record, truncated)
    latency = _optional_int(record, "latency_ms", MAX_DURATION_MS)
    ttft = _optional_int(record, "ttft_ms", MAX_DURATION_MS)
    accounting_version = _optional_int(record, "accounting_version", 1000)
    generate = _optional_bool(record, "generate")
    stream = _optional_bool(record, "stream")
    headers = _response_headers(record)
    breakdown = _optional_object(record, "token_breakdown")
    ts_raw, ts_ms, ts_estimated = _decode_timestamp(record, received_ms)

    family = token_family(strings["provider"], strings["executor_type"])
    normalized = normalize_tokens(tokens, present, family, breakdown)
    kept_breakdown = None if normalized.quality in ("complete", "unclassified") and breakdown \
        else _kept_json(breakdown, "token_breakdown", truncated)
    kept_headers = _kept_json(headers, "response_headers", truncated)
    kept_extra = _kept_json(_extra_fields(record, raw_tokens), "extra", truncated)
    key_stamp = ts_raw if not ts_estimated else f"{ts_raw}@{received_ms}"
    # Positional, in UsageEvent's field order: keyword construction cost 2 us a record,
    # 5% of the ingest rate (the decoder tests check every field by name).
    return UsageEvent._make((
        _event_key(strings, tokens, latency, failed, key_stamp), ts_ms, ts_raw, int(ts_estimated), received_ms,
        strings["request_id"], strings["model"], strings["alias"], strings["provider"], strings["executor_type"],
        strings["endpoint"], strings["auth_type"], strings["source"], strings["auth_index"], strings["api_key"],
        int(failed), status_code, fail_body, latency, ttft,
        normalized.new_input, normalized.cache_read, normalized.cache_write, normalized.output,
        normalized.reasoning, normalized.unclassified, normalized.total, family, normalized.quality,
        tokens["input_tokens"], tokens["output_tokens"], tokens["reasoning_tokens"], tokens["cached_tokens"],
        tokens["cache_read_tokens"] if "cache_read_tokens" in present else None,
        tokens["cache_creation_tokens"] if "cache_creation_tokens" in present else None,
        tokens["total_tokens"], kept_breakdown,
        generate, strings["reasoning_effort"], strings["service_tier"], strings["response_service_tier"],
        strings["client_ip"], strings["x_forwarded_for"], strings["user_agent"], strings["access_token_sha256"],
        accounting_version, kept_headers, kept_extra, instance,
        strings["resolved_client_ip"], stream, strings["execution_id"], ",".join(truncated) or None,
        prompt_band(normalized.prompt), served_tier(strings["service_tier"], strings["response_service_tier"])))


# -- credential errors: CPA's errors channel ---------------------------------------------


class CredentialError(NamedTuple):
    """One event of CPA's ``errors`` channel (v7.1.44+): an upstream attempt failed and
    CPA updated the credential's state. Field for field a row of credential_errors."""

    event_key: str  # the hash of the payload: an event carries no id of its own
    ts_ms: int
    received_ms: int
    instance: str
    provider: str
    model: str
    auth_id: str
    auth_index: str
    status_code: int
    code: str | None
    retryable: int
    state: str | None  # auth_status.status: unknown, active, pending, refreshing, error, disabled
    state_message: str | None
    disabled: int | None
    unavailable: int | None
    next_retry_ms: int | None
    quota_exceeded: int | None
    quota_reason: str | None
    next_recover_ms: int | None
    body: str | None
    payload: str  # the event as CPA sent it


def _optional_time(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64 or parse_rfc3339_ms(value) is None:
        raise DecodeError(f"{name} must be an RFC 3339 time")
    return parse_rfc3339_ms(value)


def _field(record: dict, name: str, kind: type, label: str | None = None, limit: int = MAX_NAME_CHARS) -> Any:
    """A field of an error event: of ``kind`` (str or bool) or absent; text valid Unicode, cut at ``limit``."""
    value = record.get(name)
    if value is not None and not isinstance(value, kind):
        raise DecodeError(f"{label or name} must be {'a string' if kind is str else kind.__name__}, "
                          f"got {type(value).__name__}")
    return valid_text(value, label or name)[:limit] if isinstance(value, str) else value


def _named(record: dict, name: str) -> str:
    """A text field of an error event that names something (provider, model, credential): "" when absent."""
    return _field(record, name, str) or ""


def _said(record: dict, name: str, label: str | None = None) -> str | None:
    """A text field of an error event that says something (a code, a state): None when absent or empty."""
    return _field(record, name, str, label) or None


def _flag(record: dict, name: str, label: str) -> int | None:
    """A true/false field of an error event as 1/0, or None when absent."""
    value = _field(record, name, bool, label)
    return None if value is None else int(value)


def _http_status(record: dict) -> int:
    """An error event's status_code: 500 when absent, as CPA's default."""
    code = record.get("status_code", 500)
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 999:
        raise DecodeError("status_code must be an HTTP status")
    return code


def decode_error_event(payload: bytes, received_ms: int, instance: str = "") -> CredentialError:
    """Decode one ``errors`` channel event (sdk/cliproxy/auth/error_events.go), or raise
    DecodeError saying why not. Fields CPA omits when empty are optional; status_code
    defaults to 500 as CPA's does. The event is kept as sent, at most MAX_JSON_CHARS of it,
    and its body at most MAX_BODY_CHARS."""
    record = parse_json(payload, "credential error event")
    text = valid_text(payload if isinstance(payload, str) else bytes(payload).decode("utf-8"), "the event")
    if not isinstance(record, dict):
        raise DecodeError(f"not a JSON object but {type(record).__name__}")
    if "status_code" not in record and "auth_status" not in record:
        raise DecodeError("not a credential error event: no status_code and no auth_status")
    ts_ms = _optional_time(record.get("timestamp"), "timestamp") or received_ms
    status = _optional_object(record, "auth_status") or {}
    quota = _optional_object(status, "quota", "auth_status.quota") or {}
    code = _http_status(record)
    retryable = int(bool(_field(record, "retryable", bool)))
    disabled, unavailable = (_flag(status, name, f"auth_status.{name}") for name in ("disabled", "unavailable"))
    exceeded = _flag(quota, "exceeded", "auth_status.quota.exceeded")
    return CredentialError(
        hashlib.sha256(text.encode()).hexdigest()[:32], ts_ms, received_ms, instance,  # the payload's bytes
        _named(record, "provider"), _named(record, "model"), _named(record, "auth_id"), _named(record, "auth_index"),
        code, _said(record, "code"), retryable, _said(status, "status", "auth_status.status"),
        _said(status, "status_message", "auth_status.status_message"), disabled, unavailable,
        _optional_time(status.get("next_retry_after"), "auth_status.next_retry_after"),
        exceeded, _said(quota, "reason", "auth_status.quota.reason"),
        _optional_time(quota.get("next_recover_at"), "auth_status.quota.next_recover_at"),
        _field(record, "body", str, limit=MAX_BODY_CHARS), text[:MAX_JSON_CHARS])


# -- records from files: CPA's legacy export and our own JSONL export ----------------

_HTTP_METHOD_KEY = re.compile(r"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /")


def legacy_provider(model: str, source: str) -> str:
    """A provider for a legacy export detail, which has none: from the model name, or a
    Google API key as the source. (The only clue there is; queue records carry theirs.)"""
    name = model.lower()
    if "claude" in name:
        return "claude"
    if "gemini" in name or source.startswith("AIza"):
        return "gemini"
    if re.match(r"(gpt|o\d|codex|chatgpt)", name):
        return "codex"
    return "unknown"


def legacy_export_payloads(document: Any) -> Iterable[tuple[str, bytes]]:
    """The details of a CPA usage export from before v6.10 (``{"version": 1,
    "exported_at", "usage": {"apis": {API: {"models": {MODEL: {"details": [...]}}}}}}``)
    as queue payloads, each with where it was: decode_payload gives them the
    identity of any other record, so a second import adds nothing. The ``apis`` key
    is the client API key, or the endpoint when the request had none. Raises
    ValueError when the document is not such an export."""
    for api, model, i, detail in _legacy_details(_legacy_apis(document)):
        if isinstance(detail, dict):  # anything else goes on as it is, to be refused by decode_payload
            detail = _legacy_record(api, model, detail)
        yield f"usage.apis[{api!r}].models[{model!r}].details[{i}]", _COMPACT_JSON.encode(detail).encode()


def _legacy_apis(document: Any) -> dict:
    """The ``usage.apis`` object of a legacy export, or ValueError when the document is not one."""
    if not isinstance(document, dict) or document.get("version", 1) not in (0, 1) \
            or not isinstance(document.get("usage"), dict):
        raise ValueError('not a CPA usage export: expected {"version": 1, "usage": {"apis": ...}}')
    apis = document["usage"].get("apis") or {}
    if not isinstance(apis, dict):
        raise ValueError("usage.apis must be an object")
    return apis


def _legacy_record(api: str, model: str, detail: dict) -> dict:
    """A legacy detail as the queue record it stands for: its model, its key or endpoint
    (from the ``apis`` key) and a provider, which the detail itself does not carry."""
    no_key = bool(_HTTP_METHOD_KEY.match(api))
    record = {**detail, "model": model, "api_key": "" if no_key else api,
              "endpoint": api if no_key else "", "imported_from": "cpa-usage-export"}
    record["provider"] = legacy_provider(model, str(detail.get("source") or ""))
    if isinstance(record.get("auth_index"), int) and not isinstance(record["auth_index"], bool):
        record["auth_index"] = str(record["auth_index"])  # a number before v6.6.56
    return record


def _legacy_details(apis: dict) -> Iterable[tuple[str, str, int, Any]]:
    """(api, model, position, detail) of every detail of a legacy export, or ValueError
    naming the first part that is not the shape of one."""
    for api, entry in apis.items():
        models = entry.get("models") if isinstance(entry, dict) else None
        if not isinstance(models, dict):
            raise ValueError(f"usage.apis[{api!r}].models must be an object")
        for model, stats in models.items():
            details = stats.get("details") if isinstance(stats, dict) else None
            if not isinstance(details, list):
                raise ValueError(f"usage.apis[{api!r}].models[{model!r}].details must be a list")
            for i, detail in enumerate(details):
                yield api, model, i, detail


_FIELDS_SINCE_V13 = frozenset({"resolved_client_ip", "stream", "execution_id", "truncated"})
_DERIVED_FIELDS = ("prompt_band", "served_tier")  # UsageEvent's last fields


def _export_value(name: str, value: Any) -> Any:
    """A column of an exported event, checked against the column's type (an integer type or TEXT)."""
    kind = _event_column(name).split(" ", 1)[1]
    if value is None:
        if "NOT NULL" in kind:
            raise DecodeError(f"{name} must not be null")
        return None
    if "INT" not in kind:
        if not isinstance(value, str):
            raise DecodeError(f"{name} must be a string")
        return valid_text(value, name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DecodeError(f"{name} must be an integer")
    if not -2**63 <= value < 2**63:
        raise DecodeError(f"{name} is out of range")
    return value


def event_from_export_row(row: dict) -> UsageEvent:
    """One line of our JSONL export (every stored column by name) back into the
    event it was, identity included: an export imports back losslessly. What is derived
    from the other columns (prompt band, served tier) is derived again, not read."""
    values = []
    for name in UsageEvent._fields[:-len(_DERIVED_FIELDS)]:
        if name not in row and name in _FIELDS_SINCE_V13:
            values.append(None)  # an export of an older release
        elif name not in row:
            raise DecodeError(f"an exported event without {name}")
        else:
            values.append(_export_value(name, row[name]))
    event = _check_export_tokens(UsageEvent(*values))
    return event._replace(prompt_band=prompt_band(sum(getattr(event, name) for name in PROMPT_TOKENS)),
                          served_tier=served_tier(event.service_tier, event.response_service_tier))


def _check_export_tokens(event: UsageEvent) -> UsageEvent:
    """An imported event whose token columns hold what decoding guarantees and the
    analytics rely on (a row without tokens costs nothing), or DecodeError."""
    kinds = (event.input_tokens, event.cache_read_tokens, event.cache_write_tokens, event.output_tokens,
             event.unclassified_tokens)
    if min(kinds) < 0 or not 0 <= event.reasoning_tokens <= event.output_tokens or event.total_tokens != sum(kinds):
        raise DecodeError("token counts must not be negative, reasoning_tokens must be part of output_tokens, "
                          "and total_tokens the sum of input, cache_read, cache_write, output and unclassified")
    return event


###############################################################################
# 3. Storage ###################################################################
###############################################################################
#
# One Store owns all SQL, for SQLite and PostgreSQL alike. Instants are integers
# (UTC epoch ms); the SQL avoids SQLite-only functions and uses ON CONFLICT upserts,
# so nearly every statement serves both. What the two do differently (connecting,
# transactions, the schema version, finding the new rows of a batch, adding to
# rollups, joining prices, keeping reads) is in SqliteDialect and PostgresDialect;
# PostgresConnection lets psycopg take sqlite3's placeholders. One writer connection
# (the ingest writer's thread and the maintenance thread take turns on it under a
# lock); readers get a connection per thread. Rollups hold events summed per time
# bucket and dimension combination, at several grains, updated in the same
# transaction as the events, only for rows that were new; they are kept when raw
# events age out, so long ranges stay whole. The schema comes first, then writing,
# reading, the two databases, and the store itself.


# -- the schema: rollup families, measures, migrations -----------------------------------


class Rollup(NamedTuple):
    """One pre-aggregated table: events summed per UTC time bucket and per value of
    its dimensions. Queries cover a range with the coarsest rollups whose buckets fit
    inside it and whose dimensions include every filter and grouping asked for."""

    table: str
    bucket_ms: int
    dimensions: tuple[str, ...]


ROLLUP_FAMILIES = (
    # Every dimension, from 5-minute buckets (which divide every real time zone offset,
    # +05:45 and +09:30 included) up. The base: exact for any question.
    ("usage_rollup", ("model", "source", "auth_index", "api_key", "provider", "failed", "instance",
                      "prompt_band", "served_tier")),
    # All dimensions together make many combinations per bucket (keys x credentials x
    # models), so each kind of question also has a narrow family with few rows per
    # bucket: counts over time (grids, totals; per CPA host too, of which there are one
    # or a few), by model (series with their cost), by client key, by credential. Every
    # family with the model has what else prices it (PRICED_DIMENSIONS).
    ("usage_timeline", ("failed", "instance")),
    ("usage_series", ("model", "failed", "prompt_band", "served_tier")),
    ("usage_keys", ("api_key", "model", "failed", "prompt_band", "served_tier")),
    ("usage_credentials", ("source", "auth_index", "provider", "model", "failed", "prompt_band", "served_tier")),
    # One client key over time without its models (a member's overview: its grid and the
    # measures of its hours, a tenth of the rows of usage_keys); the cost, which needs
    # the models, still comes from usage_keys. Listed last: of two families alike in
    # width, the timeline serves a question without a key.
    ("usage_key_timeline", ("api_key", "failed")),
)
# The grains of each family (table suffix, bucket), finest first. Every narrow family
# also has four weeks (FOUR_WEEKS_MS, schema 20): at a team's cardinality even a day's
# bucket holds nearly a row per event (bench/HISTORY.md: 500 keys, 50 models, 50
# credentials; 0.56-0.62 rows per event in the credentials' and keys' days, 0.89 in
# the wide family's), and a year read in days is about as many rows as events; in four
# weeks the same history is 3.4 (keys), 8.3 (credentials), 10.6 (a key's timeline) and
# 15 (models) times fewer rows, for 7-29% more rows of each family. Not the base: the
# wide family answers only questions the narrow ones cannot, where four weeks saved 1.7
# times the rows for 58% more of them.
# Four weeks and not calendar months: a bucket of fixed size keeps every plan one
# integer rule (aligned runs of a grain, buckets dividing buckets); the questions that
# read them have no time step, so where a bucket begins does not matter. Buckets begin
# at multiples of 28 days from the epoch (a Thursday, 00:00 UTC).
FOUR_WEEKS_MS = 28 * DAY_MS
ROLLUP_GRAINS = {"usage_rollup": (("", 300_000), ("_hourly", HOUR_MS), ("_daily", DAY_MS)),
                 "usage_timeline": (("", 300_000), ("_quarterly", 900_000), ("_hourly", HOUR_MS),
                                    ("_daily", DAY_MS), ("_4weekly", FOUR_WEEKS_MS))}
NARROW_GRAINS = (("", 900_000), ("_hourly", HOUR_MS), ("_daily", DAY_MS), ("_4weekly", FOUR_WEEKS_MS))


def _rollups(families: tuple) -> tuple[Rollup, ...]:
    return tuple(Rollup(table + suffix, bucket_ms, dimensions)
                 for table, dimensions in families
                 for suffix, bucket_ms in ROLLUP_GRAINS.get(table, NARROW_GRAINS))


ROLLUPS = _rollups(ROLLUP_FAMILIES)
# The rollup families with the prompt band, each its rollups finest first (Store.reband_step).
BANDED_FAMILIES = tuple(tuple(family) for _, family in itertools.groupby(
    (rollup for rollup in ROLLUPS if "prompt_band" in rollup.dimensions), key=lambda rollup: rollup.dimensions))
ROLLUP_MEASURES = ("requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
                   "reasoning_tokens", "unclassified_tokens", "total_tokens", "latency_ms_sum", "latency_count",
                   "ttft_ms_sum", "ttft_count", "flagged")
# What a read sums per key, by name (Measures): the rollup measures and first and last
# seen; in a priced read also the cost, the requests of models without a price (that had
# tokens: unpriced, never free), the requests of a service tier without a price of its
# own (priced at the standard tier's: Pricing.billed_history), and the cache writes
# priced at the 5-minute rate because CPA does not say which they were: Anthropic bills
# a 1-hour write at 2x input, a 5-minute one at 1.25x, and CPA sends one count of both
# (tokens, not requests: the rollups sum them already, and they say how much of the
# cost is in doubt).
MEASURE_FIELDS = (*ROLLUP_MEASURES, "first_ms", "last_ms")
PRICED_FIELDS = ("cost_usd", "unpriced_requests", "tier_fallback_requests", "assumed_cache_write_tokens")
# What a priced read joins each row to its price by, beside its time (PRICE_JOIN_ON):
# every rollup family with the model has the others.
PRICED_DIMENSIONS = ("model", "prompt_band", "served_tier")
# Cost is linear in the token sums, so it is exact for rollups too: each term is
# (tokens added, tokens taken away, the price that bills them, per 1M tokens). Output
# is billed with reasoning inside, reasoning at its own price; unclassified tokens at
# the input price. COST_SQL and tokens_cost() are both made from it.
COST_TERMS = ((("input_tokens", "unclassified_tokens"), (), "input"), (("cache_read_tokens",), (), "cache_read"),
              (("cache_write_tokens",), (), "cache_write"), (("output_tokens",), ("reasoning_tokens",), "output"),
              (("reasoning_tokens",), (), "reasoning"))
TOTAL_COUNTERS = ("received", "inserted", "duplicates", "dead_letters", "control_messages",
                  "credential_errors")
FLAGGED_QUALITIES = frozenset({"unclassified", "inconsistent", "ambiguous"})

# Latency histograms: how many events took how long, per UTC hour and day, per credential
# and model, per client key and model, and over time alone, for latency and TTFT:
# percentiles over any range, also after the raw events aged out (sums and counts give
# only averages). One row per (bucket, dimensions, metric, bin) with one count,
# ``events``: a narrow table adds counts with the same upsert as the rollups and holds
# only the bins that occur; a row of every bin (225 columns) or a packed list would be
# read and rewritten whole at every batch. Families as the rollups' (Store.plan picks
# the narrowest that holds a question): credentials for the owner's questions, client
# keys for a member's, the timeline for series; with the CPA host in each (a credential
# of one CPA, a key of a few: few extra rows), so the instance filter is answered too.
# Hourly is the finest grain: the edges of a range inside an hour come from raw events,
# as the rollups' edges inside 5 minutes do. What they cost: README, Performance. The
# families by credential and key have no four weeks: a bin is a dimension, and four
# weeks of a team's days held 1.4-1.5 times fewer rows (bench/HISTORY.md).
HISTOGRAM_GRAINS = (("_hourly", HOUR_MS), ("_daily", DAY_MS))
HISTOGRAM_FAMILIES = (("usage_latency_credentials", ("source", "auth_index", "model", "instance", "failed"),
                       HISTOGRAM_GRAINS),
                      ("usage_latency_keys", ("api_key", "model", "instance", "failed"), HISTOGRAM_GRAINS),
                      # over time without models: a month of hours is ~90 rows an hour, not ~1,900
                      ("usage_latency_timeline", ("instance", "failed"), HISTOGRAM_GRAINS),
                      # Health's latency by model and by credential over months and years (schema 21):
                      # four weeks only, the ends of their runs read from the days and hours of the
                      # families above (_plan_grains). Three years of a team (bench/HISTORY.md, 500
                      # keys): 167,651 rows by model instead of 1,866,478 rows of the keys' days.
                      ("usage_latency_models", ("model",), (("_4weekly", FOUR_WEEKS_MS),)),
                      ("usage_latency_sources", ("source", "auth_index"), (("_4weekly", FOUR_WEEKS_MS),)))
HISTOGRAM_GROUPS = tuple(tuple(Rollup(table + suffix, bucket_ms, (*dimensions, "metric", "bin"))
                               for suffix, bucket_ms in grains)
                         for table, dimensions, grains in HISTOGRAM_FAMILIES)  # each family's, finest first
HISTOGRAMS = tuple(itertools.chain.from_iterable(HISTOGRAM_GROUPS))
HISTOGRAM_METRICS = ("latency", "ttft")  # an event's latency_ms; its ttft_ms when above 0 (as ttft_count counts)
HISTOGRAM_PERCENTILES = (50, 95, 99)


def _v16_bin_edges() -> list[int]:
    """The lower bounds of the histogram bins (schema 16; frozen: other bins would be a
    migration of their own): 0, then ceil(2^(i/8)) for i = 0 .. 240 without repeats,
    computed in integers (the same on every machine). Bin b holds the values in
    [edge b, edge b+1), the last one [2^30, ...): every value from 0 to 16 ms a bin of
    its own, then 8 bins per doubling up to 2^30 ms (12.4 days, above MAX_DURATION_MS:
    only an imported export goes beyond)."""
    edges = [0]
    for i in range(241):
        root = math.isqrt(math.isqrt(math.isqrt(2**i)))  # the 8th root, rounded down
        root += root**8 < 2**i
        if root != edges[-1]:
            edges.append(root)
    return edges


HISTOGRAM_EDGES = tuple(_v16_bin_edges())


def histogram_bin(value: int) -> int:
    """The bin of a latency or TTFT in ms (a negative one, which only an import can
    bring, in the first)."""
    return max(0, bisect.bisect_right(HISTOGRAM_EDGES, value) - 1)


def histogram_percentile(bins: dict[int, int], percent: int) -> int | None:
    """The ``percent``-th percentile of the values counted in ``bins`` ({bin: events}),
    interpolated linearly within its bin; None when it counts nothing.

    The bound: the exact percentile (the nearest rank, the ceil(percent/100 * n)-th
    smallest value) lies in the bin where the counts reach that rank, and so does the
    estimate. Values are whole milliseconds, so a bin [lo, hi) holds lo .. hi - 1, and
    hi - 1 < 2^(1/8) * lo (hi = ceil(2^((i+1)/8)), lo >= 2^(i/8)): the estimate is within
    2^(1/8) - 1 = 9.05% of the exact value, and exact up to 16 ms (a bin per value)."""
    order = sorted(bins)
    reached = list(itertools.accumulate(100 * bins[b] for b in order))  # ranks x 100: exact integers
    if not order or not reached[-1]:
        return None
    wanted = percent * reached[-1] // 100  # percent/100 of the count, x 100 (0.95 * 20 is 19, not 18.99...)
    i = bisect.bisect_left(reached, wanted)
    b, before = order[i], reached[i] - 100 * bins[order[i]]
    low = HISTOGRAM_EDGES[b]
    top = HISTOGRAM_EDGES[b + 1] - 1 if b + 1 < len(HISTOGRAM_EDGES) else low
    return round(low + (top - low) * (wanted - before) / (100 * bins[b]))


_EVENT_COLUMN_TYPES = {
    "event_key": "TEXT NOT NULL", "ts_ms": "BIGINT NOT NULL", "ts_raw": "TEXT NOT NULL",
    "ts_estimated": "INTEGER NOT NULL", "received_ms": "BIGINT NOT NULL", "failed": "INTEGER NOT NULL",
    "status_code": "INTEGER", "latency_ms": "BIGINT", "ttft_ms": "BIGINT", "generate": "INTEGER",
    "accounting_version": "INTEGER", "stream": "INTEGER", "prompt_band": "INTEGER NOT NULL",
}
def _event_column(name: str) -> str:
    if name in _EVENT_COLUMN_TYPES:
        kind = _EVENT_COLUMN_TYPES[name]
    elif name.endswith("_tokens"):
        kind = "BIGINT" if name.startswith("raw_cache_") else "BIGINT NOT NULL"
    elif name in ("request_id", "model", "alias", "provider", "executor_type", "endpoint", "auth_type",
                  "source", "auth_index", "api_key", "token_family", "token_quality", "instance", "served_tier"):
        kind = "TEXT NOT NULL"
    else:
        kind = "TEXT"
    return f"{name} {kind}"


# The schema, one migration per version, in frozen SQL: a migration that has run never
# changes, so none is made from today's constants (a new field or measure comes with a
# migration of its own; test_store checks that a fresh schema has today's). The measure
# columns every rollup table has had since schema 1, written once:
_V1_MEASURE_COLUMNS = (
    "requests BIGINT NOT NULL, input_tokens BIGINT NOT NULL, cache_read_tokens BIGINT NOT NULL, "
    "cache_write_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, "
    "unclassified_tokens BIGINT NOT NULL, total_tokens BIGINT NOT NULL, latency_ms_sum BIGINT NOT NULL, "
    "latency_count BIGINT NOT NULL, ttft_ms_sum BIGINT NOT NULL, ttft_count BIGINT NOT NULL, "
    "flagged BIGINT NOT NULL, first_ms BIGINT NOT NULL, last_ms BIGINT NOT NULL"
)
_V1_MEASURE_SUMS = (
    "SUM(requests), SUM(input_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(output_tokens), "
    "SUM(reasoning_tokens), SUM(unclassified_tokens), SUM(total_tokens), SUM(latency_ms_sum), SUM(latency_count), "
    "SUM(ttft_ms_sum), SUM(ttft_count), SUM(flagged), MIN(first_ms), MAX(last_ms)"
)
_V1_MEASURES = (
    "requests, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens, "
    "unclassified_tokens, total_tokens, latency_ms_sum, latency_count, ttft_ms_sum, ttft_count, flagged, "
    "first_ms, last_ms"
)

# Schema 16's histogram columns and the bin of a raw value in SQL (histogram_bins: the
# last bin that begins at or below it; a negative value, only ever imported, in the first).
_V16_DIMENSION_COLUMNS = {
    "source, auth_index, model, instance, failed": "source TEXT NOT NULL, auth_index TEXT NOT NULL, "
    "model TEXT NOT NULL, instance TEXT NOT NULL, failed INTEGER NOT NULL",
    "api_key, model, instance, failed": "api_key TEXT NOT NULL, model TEXT NOT NULL, instance TEXT NOT NULL, "
    "failed INTEGER NOT NULL",
    "instance, failed": "instance TEXT NOT NULL, failed INTEGER NOT NULL"}
_V16_BIN_OF = "COALESCE((SELECT bin FROM histogram_bins WHERE lo <= {value} ORDER BY lo DESC LIMIT 1), 0)"


def _v18_statements() -> list[str]:
    """Schema 18: what prices a request besides its tokens (prompt_band, served_tier; see
    PROMPT_BAND_EDGES), on every raw event and in every rollup family with the model,
    and the owner's prices per service tier.

    The events get both columns, worked out in SQL as ingest works them out in Python.
    Each rollup of the four families is made again with the two dimensions: a bucket
    whose raw events are all still kept (they count as many requests as the rollup
    does) is summed again from them, as ingest would have summed it; any other (before
    raw retention began, or a bucket it cut through) keeps its rows as they were, as
    band 0 and the standard tier: its long-context and priority requests stay priced at
    the base and standard prices, as before this schema, since nothing tells them apart
    any more. Rows are never lost: every bucket is either copied or summed again whole.
    Summed again here, a band is the raw event's (ingest keeps fewer: as_rolled_up),
    priced the same.

    The decision, dimensions rather than measures per tier and band: a row more only
    where a bucket has such requests, where measures would be five token sums per band
    and tier on every row. What it costs (2026-12-07, the 2-core machine, before and after
    in turns; bench/queries.py's team with one prompt in 16 of 100k-400k tokens and 7% of
    the Codex requests at priority or flex): rollup rows per event 4.51 -> 4.77 at 200k
    events, 2.29 -> 2.52 at 1M (the daily rows of the families with the model 1.5-2
    times, the 5-minute ones 1.01-1.1 times; the others unchanged); the cold 30-day
    overview 37-39 -> 49-56 ms at 1M, the analysis by key and model 31-33 -> 50-59 ms,
    warm reads about the same; ingest within the machine's noise (bench/ingest.py
    16,300-17,500 records/s before, 15,500-17,200 after). Traffic without long prompts
    or other tiers gains no row. This upgrade: 63 s at 1M events."""
    band = ("CASE WHEN {p} > 512000 THEN 6 WHEN {p} > 272000 THEN 5 WHEN {p} > 200000 THEN 4 "
            "WHEN {p} > 199999 THEN 3 WHEN {p} > 128000 THEN 2 WHEN {p} > 100000 THEN 1 ELSE 0 END")
    prompt = "input_tokens + unclassified_tokens + cache_read_tokens + cache_write_tokens"
    tier = "COALESCE(NULLIF(response_service_tier, ''), service_tier, '')"
    measures = ("requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
                "reasoning_tokens", "unclassified_tokens", "total_tokens", "latency_ms_sum", "latency_count",
                "ttft_ms_sum", "ttft_count", "flagged")
    every = ("model", "source", "auth_index", "api_key", "provider", "failed", "instance")
    typed = {name: f"{name} {'INTEGER' if name == 'failed' else 'TEXT'} NOT NULL" for name in every}
    statements = [
        "ALTER TABLE usage_events ADD COLUMN prompt_band INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE usage_events ADD COLUMN served_tier TEXT NOT NULL DEFAULT ''",
        f"UPDATE usage_events SET prompt_band = {band.format(p=f'({prompt})')} WHERE {prompt} > 100000",
        f"UPDATE usage_events SET served_tier = {tier} WHERE {tier} NOT IN ('', 'default', 'auto', 'standard')",
        "ALTER TABLE model_prices RENAME TO model_prices_v17",
        "CREATE TABLE model_prices (model TEXT NOT NULL, tier TEXT NOT NULL, effective_from_ms BIGINT NOT NULL, "
        "input REAL NOT NULL, output REAL NOT NULL, cache_read REAL NOT NULL, cache_write REAL NOT NULL, "
        "reasoning REAL, updated_ms BIGINT NOT NULL, PRIMARY KEY (model, tier, effective_from_ms))",
        "INSERT INTO model_prices (model, tier, effective_from_ms, input, output, cache_read, cache_write, "
        "reasoning, updated_ms) SELECT model, '', effective_from_ms, input, output, cache_read, cache_write, "
        "reasoning, updated_ms FROM model_prices_v17",
        "DROP TABLE model_prices_v17",
        # The raw events summed once, in 5-minute buckets with every dimension; and how
        # many events each bucket of each grain holds, to tell the buckets kept whole.
        f"CREATE TABLE v18_raw (bucket_ms BIGINT NOT NULL, {', '.join(typed.values())}, "
        f"prompt_band INTEGER NOT NULL, served_tier TEXT NOT NULL, {_V1_MEASURE_COLUMNS})",
        f"INSERT INTO v18_raw SELECT ts_ms - ts_ms % 300000, {', '.join(every)}, prompt_band, served_tier, "
        "COUNT(*), SUM(input_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(output_tokens), "
        "SUM(reasoning_tokens), SUM(unclassified_tokens), SUM(total_tokens), COALESCE(SUM(latency_ms), 0), "
        "COUNT(latency_ms), SUM(CASE WHEN ttft_ms > 0 THEN ttft_ms ELSE 0 END), "
        "SUM(CASE WHEN ttft_ms > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN token_quality IN ('ambiguous', "
        "'inconsistent', 'unclassified') OR ts_estimated = 1 THEN 1 ELSE 0 END), MIN(ts_ms), MAX(ts_ms) "
        f"FROM usage_events GROUP BY ts_ms - ts_ms % 300000, {', '.join(every)}, prompt_band, served_tier",
        "CREATE TABLE v18_raw_buckets (grain BIGINT NOT NULL, bucket_ms BIGINT NOT NULL, events BIGINT NOT NULL, "
        "PRIMARY KEY (grain, bucket_ms))",
        *(f"INSERT INTO v18_raw_buckets SELECT {grain}, bucket_ms - bucket_ms % {grain}, SUM(requests) "
          f"FROM v18_raw GROUP BY bucket_ms - bucket_ms % {grain}" for grain in (300000, 900000, 3600000, 86400000)),
        "CREATE TABLE v18_whole (bucket_ms BIGINT NOT NULL PRIMARY KEY)",
    ]
    indexes = {  # the indexes of before (name suffix, columns); a key's hours read from its index alone, priced too
        "usage_keys": [("api_key", "api_key, bucket_ms, failed, requests")],
        "usage_keys_hourly": [("api_key", "api_key, bucket_ms, model, failed, prompt_band, served_tier, "
                                          f"{', '.join(measures)}, first_ms, last_ms")],
        "usage_keys_daily": [("api_key", "api_key, bucket_ms, failed, requests")],
        **{f"usage_credentials{suffix}": [("source", "source, bucket_ms"), ("auth_index", "auth_index, bucket_ms")]
           for suffix in ("", "_hourly", "_daily")}}
    families = (("usage_rollup", every, 300000, False), ("usage_series", ("model", "failed"), 900000, True),
                ("usage_keys", ("api_key", "model", "failed"), 900000, False),
                ("usage_credentials", ("source", "auth_index", "provider", "model", "failed"), 900000, False))
    for family, dimensions, finest, clustered in families:  # clustered: WITHOUT ROWID (schema 11)
        keys = ", ".join(dimensions)
        for suffix, grain in (("", finest), ("_hourly", 3600000), ("_daily", 86400000)):
            table = family + suffix
            same = " AND ".join(f"e.{name} = summed.{name}" for name in (*dimensions, "prompt_band", "served_tier"))
            statements += [
                f"ALTER TABLE {table} RENAME TO {table}_v17",
                f"CREATE TABLE {table} (bucket_ms BIGINT NOT NULL, {', '.join(typed[d] for d in dimensions)}, "
                f"prompt_band INTEGER NOT NULL, served_tier TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, "
                f"last_status INTEGER, PRIMARY KEY (bucket_ms, {keys}, prompt_band, served_tier))"
                + (" WITHOUT ROWID" if clustered else ""),
                "DELETE FROM v18_whole",
                "INSERT INTO v18_whole SELECT kept.bucket_ms FROM (SELECT bucket_ms, SUM(requests) AS requests "
                f"FROM {table}_v17 GROUP BY bucket_ms) kept JOIN v18_raw_buckets raw ON raw.grain = {grain} "
                "AND raw.bucket_ms = kept.bucket_ms AND raw.events = kept.requests",
                f"INSERT INTO {table} SELECT bucket_ms, {keys}, 0, '', {_V1_MEASURES}, last_status FROM {table}_v17 "
                "WHERE bucket_ms NOT IN (SELECT bucket_ms FROM v18_whole)",
                # the status of the last event of each row, as ingest keeps it (of events
                # at the same millisecond, the highest)
                f"INSERT INTO {table} SELECT summed.*, (SELECT MAX(status_code) FROM usage_events e "
                f"WHERE e.ts_ms = summed.last_ms AND {same}) FROM (SELECT bucket_ms - bucket_ms % {grain} "
                f"AS bucket_ms, {keys}, prompt_band, served_tier, {', '.join(f'SUM({m})' for m in measures)}, "
                "MIN(first_ms) AS first_ms, MAX(last_ms) AS last_ms FROM v18_raw "
                f"WHERE bucket_ms - bucket_ms % {grain} IN (SELECT bucket_ms FROM v18_whole) "
                f"GROUP BY bucket_ms - bucket_ms % {grain}, {keys}, prompt_band, served_tier) summed",
                f"DROP TABLE {table}_v17",
                *(f"CREATE INDEX {table}_{name} ON {table} ({columns})" for name, columns in indexes.get(table, ())),
            ]
    return statements + ["DROP TABLE v18_whole", "DROP TABLE v18_raw_buckets", "DROP TABLE v18_raw"]


def _v20_statements() -> list[str]:
    """Schema 20: four weeks (FOUR_WEEKS_MS) for every narrow rollup family, summed from
    its days, with the indexes its days have. The status of a row's last event is left
    NULL here, as the first coarser grains were (schema 1): only the 5-minute base's is
    read (Store.last_status). Measured on bench/history.py's 1M events (36 months,
    500 keys; one core): 5.4 s, the file 3,546 -> 3,611 MB (+1.8%)."""
    statements = []
    # (family, dimensions, WITHOUT ROWID (schema 11), the indexes of its days: name, columns), written
    # out as they are at schema 20 rather than read from ROLLUP_FAMILIES: a later change to those
    # must not change what this step did
    families = (
        ("usage_timeline", ("failed", "instance"), True, ()),
        ("usage_series", ("model", "failed", "prompt_band", "served_tier"), True, ()),
        ("usage_keys", ("api_key", "model", "failed", "prompt_band", "served_tier"), False,
         (("api_key", "api_key, bucket_ms, failed, requests"),)),
        ("usage_credentials", ("source", "auth_index", "provider", "model", "failed", "prompt_band", "served_tier"),
         False, (("source", "source, bucket_ms"), ("auth_index", "auth_index, bucket_ms"))),
        ("usage_key_timeline", ("api_key", "failed"), True,
         (("api_key", f"api_key, bucket_ms, failed, {_V1_MEASURES}"),)))
    for family, dimensions, clustered, indexes in families:
        table, keys = f"{family}_4weekly", ", ".join(dimensions)
        typed = ", ".join(f"{name} {'INTEGER' if name in ('failed', 'prompt_band') else 'TEXT'} NOT NULL"
                          for name in dimensions)
        statements += [
            f"CREATE TABLE {table} (bucket_ms BIGINT NOT NULL, {typed}, {_V1_MEASURE_COLUMNS}, last_status INTEGER, "
            f"PRIMARY KEY (bucket_ms, {keys}))" + (" WITHOUT ROWID" if clustered else ""),
            f"INSERT INTO {table} SELECT bucket_ms - bucket_ms % 2419200000, {keys}, {_V1_MEASURE_SUMS}, NULL "
            f"FROM {family}_daily GROUP BY bucket_ms - bucket_ms % 2419200000, {keys}",
            *(f"CREATE INDEX {table}_{name} ON {table} ({columns})" for name, columns in indexes)]
    return statements


MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the foundation schema
        "CREATE TABLE usage_events (id INTEGER PRIMARY KEY, event_key TEXT NOT NULL, ts_ms BIGINT NOT NULL, "
        "ts_raw TEXT NOT NULL, ts_estimated INTEGER NOT NULL, received_ms BIGINT NOT NULL, "
        "request_id TEXT NOT NULL, model TEXT NOT NULL, alias TEXT NOT NULL, provider TEXT NOT NULL, "
        "executor_type TEXT NOT NULL, endpoint TEXT NOT NULL, auth_type TEXT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, api_key TEXT NOT NULL, failed INTEGER NOT NULL, status_code INTEGER, "
        "fail_body TEXT, latency_ms BIGINT, ttft_ms BIGINT, input_tokens BIGINT NOT NULL, "
        "cache_read_tokens BIGINT NOT NULL, cache_write_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, "
        "reasoning_tokens BIGINT NOT NULL, unclassified_tokens BIGINT NOT NULL, total_tokens BIGINT NOT NULL, "
        "token_family TEXT NOT NULL, token_quality TEXT NOT NULL, raw_input_tokens BIGINT NOT NULL, "
        "raw_output_tokens BIGINT NOT NULL, raw_reasoning_tokens BIGINT NOT NULL, "
        "raw_cached_tokens BIGINT NOT NULL, raw_cache_read_tokens BIGINT, raw_cache_creation_tokens BIGINT, "
        "raw_total_tokens BIGINT NOT NULL, token_breakdown TEXT, generate INTEGER, reasoning_effort TEXT, "
        "service_tier TEXT, response_service_tier TEXT, client_ip TEXT, x_forwarded_for TEXT, user_agent TEXT, "
        "access_token_sha256 TEXT, accounting_version INTEGER, response_headers TEXT, extra TEXT)",
        # Identity and time order in one index: event_key alone is a random hash, and
        # inserting random keys dirtied a page per row (45 us/row at 300k rows, 11 with
        # the time first). The key already implies ts_ms, so uniqueness is the same.
        "CREATE UNIQUE INDEX usage_events_identity ON usage_events (ts_ms, event_key)",
        "CREATE TABLE usage_rollup (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, api_key TEXT NOT NULL, provider TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, PRIMARY KEY (bucket_ms, model, source, auth_index, api_key, provider, failed))",
        "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, received_ms BIGINT NOT NULL, via TEXT NOT NULL, "
        "reason TEXT NOT NULL, payload BLOB NOT NULL)",
        "CREATE INDEX dead_letters_received ON dead_letters (received_ms)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (  # 2: coarser rollups for fast ranges, built from the 5-minute one; api key aliases
        "ALTER TABLE usage_rollup ADD COLUMN last_status INTEGER",
        "CREATE TABLE usage_rollup_hourly (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, api_key TEXT NOT NULL, provider TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, source, auth_index, api_key, "
        "provider, failed))",
        "INSERT INTO usage_rollup_hourly SELECT bucket_ms - bucket_ms % 3600000, model, source, auth_index, "
        f"api_key, provider, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 3600000, model, source, auth_index, api_key, "
        "provider, failed",
        "CREATE TABLE usage_rollup_daily (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, api_key TEXT NOT NULL, provider TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, source, auth_index, api_key, "
        "provider, failed))",
        "INSERT INTO usage_rollup_daily SELECT bucket_ms - bucket_ms % 86400000, model, source, auth_index, "
        f"api_key, provider, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 86400000, model, source, auth_index, api_key, "
        "provider, failed",
        f"CREATE TABLE usage_timeline (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, "
        "last_status INTEGER, PRIMARY KEY (bucket_ms, failed))",
        f"INSERT INTO usage_timeline SELECT bucket_ms - bucket_ms % 300000, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 300000, failed",
        "CREATE TABLE usage_timeline_quarterly (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed))",
        f"INSERT INTO usage_timeline_quarterly SELECT bucket_ms - bucket_ms % 900000, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 900000, failed",
        "CREATE TABLE usage_timeline_hourly (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed))",
        f"INSERT INTO usage_timeline_hourly SELECT bucket_ms - bucket_ms % 3600000, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 3600000, failed",
        "CREATE TABLE usage_timeline_daily (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed))",
        f"INSERT INTO usage_timeline_daily SELECT bucket_ms - bucket_ms % 86400000, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 86400000, failed",
        "CREATE TABLE usage_series (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, failed))",
        f"INSERT INTO usage_series SELECT bucket_ms - bucket_ms % 900000, model, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 900000, model, failed",
        "CREATE TABLE usage_series_hourly (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, "
        "failed))",
        "INSERT INTO usage_series_hourly SELECT bucket_ms - bucket_ms % 3600000, model, failed, "
        f"{_V1_MEASURE_SUMS}, NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 3600000, model, failed",
        "CREATE TABLE usage_series_daily (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, "
        "failed))",
        "INSERT INTO usage_series_daily SELECT bucket_ms - bucket_ms % 86400000, model, failed, "
        f"{_V1_MEASURE_SUMS}, NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 86400000, model, failed",
        "CREATE TABLE usage_keys (bucket_ms BIGINT NOT NULL, api_key TEXT NOT NULL, model TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, api_key, "
        "model, failed))",
        "INSERT INTO usage_keys SELECT bucket_ms - bucket_ms % 900000, api_key, model, failed, "
        f"{_V1_MEASURE_SUMS}, NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 900000, api_key, model, "
        "failed",
        "CREATE TABLE usage_keys_hourly (bucket_ms BIGINT NOT NULL, api_key TEXT NOT NULL, model TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, api_key, "
        "model, failed))",
        "INSERT INTO usage_keys_hourly SELECT bucket_ms - bucket_ms % 3600000, api_key, model, failed, "
        f"{_V1_MEASURE_SUMS}, NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 3600000, api_key, model, "
        "failed",
        "CREATE TABLE usage_keys_daily (bucket_ms BIGINT NOT NULL, api_key TEXT NOT NULL, model TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, api_key, "
        "model, failed))",
        "INSERT INTO usage_keys_daily SELECT bucket_ms - bucket_ms % 86400000, api_key, model, failed, "
        f"{_V1_MEASURE_SUMS}, NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 86400000, api_key, model, "
        "failed",
        "CREATE TABLE usage_credentials (bucket_ms BIGINT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, source, auth_index, provider, model, "
        "failed))",
        "INSERT INTO usage_credentials SELECT bucket_ms - bucket_ms % 900000, source, auth_index, provider, "
        f"model, failed, {_V1_MEASURE_SUMS}, NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 900000, "
        "source, auth_index, provider, model, failed",
        "CREATE TABLE usage_credentials_hourly (bucket_ms BIGINT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, source, auth_index, provider, model, "
        "failed))",
        "INSERT INTO usage_credentials_hourly SELECT bucket_ms - bucket_ms % 3600000, source, auth_index, "
        f"provider, model, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 3600000, source, auth_index, provider, model, "
        "failed",
        "CREATE TABLE usage_credentials_daily (bucket_ms BIGINT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, source, auth_index, provider, model, "
        "failed))",
        "INSERT INTO usage_credentials_daily SELECT bucket_ms - bucket_ms % 86400000, source, auth_index, "
        f"provider, model, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup GROUP BY bucket_ms - bucket_ms % 86400000, source, auth_index, provider, model, "
        "failed",
        "CREATE INDEX usage_keys_api_key ON usage_keys (api_key, bucket_ms)",
        "CREATE INDEX usage_credentials_source ON usage_credentials (source, bucket_ms)",
        "CREATE INDEX usage_credentials_auth_index ON usage_credentials (auth_index, bucket_ms)",
        "CREATE TABLE api_key_aliases (api_key TEXT PRIMARY KEY, alias TEXT NOT NULL, updated_ms BIGINT NOT NULL)",
    ),
    (  # 3: the user's prices, USD per million tokens; model may be a pattern with *
        "CREATE TABLE model_prices (model TEXT PRIMARY KEY, input REAL NOT NULL, output REAL NOT NULL, "
        "cache_read REAL NOT NULL, cache_write REAL NOT NULL, reasoning REAL, updated_ms BIGINT NOT NULL)",
    ),
    (  # 4: the last good copy of each list fetched from CPA's management API
        "CREATE TABLE cpa_metadata (name TEXT PRIMARY KEY, body TEXT NOT NULL, fetched_ms BIGINT NOT NULL)",
    ),
    (  # 5: the time span of every change to the rollups (RollupCache), and the filter
       # indexes on the hourly and daily grains too (one key's month in hours)
        "CREATE TABLE rollup_changes (seq INTEGER PRIMARY KEY, lo_ms BIGINT NOT NULL, hi_ms BIGINT NOT NULL, "
        "changed_ms BIGINT NOT NULL)",
        "CREATE INDEX usage_keys_hourly_api_key ON usage_keys_hourly (api_key, bucket_ms)",
        "CREATE INDEX usage_keys_daily_api_key ON usage_keys_daily (api_key, bucket_ms)",
        "CREATE INDEX usage_credentials_hourly_source ON usage_credentials_hourly (source, bucket_ms)",
        "CREATE INDEX usage_credentials_daily_source ON usage_credentials_daily (source, bucket_ms)",
        "CREATE INDEX usage_credentials_hourly_auth_index ON usage_credentials_hourly (auth_index, bucket_ms)",
        "CREATE INDEX usage_credentials_daily_auth_index ON usage_credentials_daily (auth_index, bucket_ms)",
    ),
    (  # 6: budgets per client key, and the alerts raised (once per key, period and condition)
        "CREATE TABLE budgets (api_key TEXT PRIMARY KEY, daily_usd REAL, monthly_usd REAL, daily_tokens BIGINT, "
        "monthly_tokens BIGINT, updated_ms BIGINT NOT NULL)",
        "CREATE TABLE alerts (id INTEGER PRIMARY KEY, api_key TEXT NOT NULL, kind TEXT NOT NULL, "
        "period TEXT NOT NULL, condition TEXT NOT NULL, value REAL NOT NULL, threshold REAL NOT NULL, "
        "unit TEXT NOT NULL, created_ms BIGINT NOT NULL, delivered_ms BIGINT, "
        "attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms BIGINT NOT NULL DEFAULT 0, last_error TEXT, "
        "UNIQUE (api_key, period, condition))",
        "CREATE INDEX alerts_created ON alerts (created_ms)",
    ),
    (  # 7: the CPA host of each event, a dimension of the full rollups (several CPAs, one store).
       # What was stored before came from this instance: {instance} is its name.
        "ALTER TABLE usage_events ADD COLUMN instance TEXT NOT NULL DEFAULT {instance}",
        "ALTER TABLE usage_rollup RENAME TO usage_rollup_v6",
        "CREATE TABLE usage_rollup (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, api_key TEXT NOT NULL, provider TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"instance TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, "
        "source, auth_index, api_key, provider, failed, instance))",
        "INSERT INTO usage_rollup SELECT bucket_ms, model, source, auth_index, api_key, provider, failed, "
        f"{{instance}}, {_V1_MEASURES}, last_status FROM usage_rollup_v6",
        "DROP TABLE usage_rollup_v6",
        "ALTER TABLE usage_rollup_hourly RENAME TO usage_rollup_hourly_v6",
        "CREATE TABLE usage_rollup_hourly (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, api_key TEXT NOT NULL, provider TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"instance TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, "
        "source, auth_index, api_key, provider, failed, instance))",
        "INSERT INTO usage_rollup_hourly SELECT bucket_ms, model, source, auth_index, api_key, provider, failed, "
        f"{{instance}}, {_V1_MEASURES}, last_status FROM usage_rollup_hourly_v6",
        "DROP TABLE usage_rollup_hourly_v6",
        "ALTER TABLE usage_rollup_daily RENAME TO usage_rollup_daily_v6",
        "CREATE TABLE usage_rollup_daily (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, source TEXT NOT NULL, "
        "auth_index TEXT NOT NULL, api_key TEXT NOT NULL, provider TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"instance TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, "
        "source, auth_index, api_key, provider, failed, instance))",
        "INSERT INTO usage_rollup_daily SELECT bucket_ms, model, source, auth_index, api_key, provider, failed, "
        f"{{instance}}, {_V1_MEASURES}, last_status FROM usage_rollup_daily_v6",
        "DROP TABLE usage_rollup_daily_v6",
    ),
    (  # 8: the CPA host in the timeline too, so that requests per host (a filter's values)
       # are counted from a narrow rollup, not the full one (40 ms for a month at 1M events).
       # Summed again from the full 5-minute rollup, each grain from its oldest kept bucket
       # on: retention removes a coarse bucket whole, and what it removed stays removed.
        "ALTER TABLE usage_timeline RENAME TO usage_timeline_v7",
        "CREATE TABLE usage_timeline (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, instance TEXT NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed, instance))",
        f"INSERT INTO usage_timeline SELECT bucket_ms - bucket_ms % 300000, failed, instance, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_rollup WHERE bucket_ms >= (SELECT COALESCE(MIN(bucket_ms), "
        "0) FROM usage_timeline_v7) GROUP BY bucket_ms - bucket_ms % 300000, failed, instance",
        "DROP TABLE usage_timeline_v7",
        "ALTER TABLE usage_timeline_quarterly RENAME TO usage_timeline_quarterly_v7",
        "CREATE TABLE usage_timeline_quarterly (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, "
        f"instance TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed, "
        "instance))",
        "INSERT INTO usage_timeline_quarterly SELECT bucket_ms - bucket_ms % 900000, failed, instance, "
        f"{_V1_MEASURE_SUMS}, NULL FROM usage_rollup WHERE bucket_ms >= (SELECT COALESCE(MIN(bucket_ms), "
        "0) FROM usage_timeline_quarterly_v7) GROUP BY bucket_ms - bucket_ms % 900000, failed, instance",
        "DROP TABLE usage_timeline_quarterly_v7",
        "ALTER TABLE usage_timeline_hourly RENAME TO usage_timeline_hourly_v7",
        "CREATE TABLE usage_timeline_hourly (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, "
        f"instance TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed, "
        "instance))",
        "INSERT INTO usage_timeline_hourly SELECT bucket_ms - bucket_ms % 3600000, failed, instance, "
        f"{_V1_MEASURE_SUMS}, NULL FROM usage_rollup WHERE bucket_ms >= (SELECT COALESCE(MIN(bucket_ms), "
        "0) FROM usage_timeline_hourly_v7) GROUP BY bucket_ms - bucket_ms % 3600000, failed, instance",
        "DROP TABLE usage_timeline_hourly_v7",
        "ALTER TABLE usage_timeline_daily RENAME TO usage_timeline_daily_v7",
        "CREATE TABLE usage_timeline_daily (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, "
        f"instance TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed, "
        "instance))",
        "INSERT INTO usage_timeline_daily SELECT bucket_ms - bucket_ms % 86400000, failed, instance, "
        f"{_V1_MEASURE_SUMS}, NULL FROM usage_rollup WHERE bucket_ms >= (SELECT COALESCE(MIN(bucket_ms), "
        "0) FROM usage_timeline_daily_v7) GROUP BY bucket_ms - bucket_ms % 86400000, failed, instance",
        "DROP TABLE usage_timeline_daily_v7",
    ),
    (  # 9: one client key's counts (the 15-minute grid of a member's overview, the failures
       # of its hours) read from its index alone, not from a table row per bucket, model and
       # outcome: one key's month of quarter hours at 1M events 26 -> 10 ms.
        "DROP INDEX usage_keys_api_key",
        "CREATE INDEX usage_keys_api_key ON usage_keys (api_key, bucket_ms, failed, requests)",
        "DROP INDEX usage_keys_hourly_api_key",
        "CREATE INDEX usage_keys_hourly_api_key ON usage_keys_hourly (api_key, bucket_ms, failed, requests)",
        "DROP INDEX usage_keys_daily_api_key",
        "CREATE INDEX usage_keys_daily_api_key ON usage_keys_daily (api_key, bucket_ms, failed, requests)",
    ),
    (  # 10: one client key's hours, with every measure, read from its index alone: a month of a
       # key's hourly series (its overview) from rows in one place, not a table row looked up
       # for each hour, model and outcome (26 -> 17 ms at 1M events; the index holds the row)
        "DROP INDEX usage_keys_hourly_api_key",
        "CREATE INDEX usage_keys_hourly_api_key ON usage_keys_hourly (api_key, bucket_ms, model, failed, "
        f"{_V1_MEASURES})",
    ),
    (  # 11: the timeline and the series in the order of their key (CLUSTERED_FAMILIES): the cost
       # of a month's hours at 1M events 9 -> 4 ms, its counts per quarter hour 5 -> 4 ms.
       # PostgreSQL has no such tables; it copies these small tables as they were.
        "ALTER TABLE usage_timeline RENAME TO usage_timeline_v10",
        "CREATE TABLE usage_timeline (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, instance TEXT NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed, instance)) WITHOUT ROWID",
        "INSERT INTO usage_timeline SELECT * FROM usage_timeline_v10",
        "DROP TABLE usage_timeline_v10",
        "ALTER TABLE usage_timeline_quarterly RENAME TO usage_timeline_quarterly_v10",
        "CREATE TABLE usage_timeline_quarterly (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, "
        f"instance TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed, "
        "instance)) WITHOUT ROWID",
        "INSERT INTO usage_timeline_quarterly SELECT * FROM usage_timeline_quarterly_v10",
        "DROP TABLE usage_timeline_quarterly_v10",
        "ALTER TABLE usage_timeline_hourly RENAME TO usage_timeline_hourly_v10",
        "CREATE TABLE usage_timeline_hourly (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, "
        f"instance TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed, "
        "instance)) WITHOUT ROWID",
        "INSERT INTO usage_timeline_hourly SELECT * FROM usage_timeline_hourly_v10",
        "DROP TABLE usage_timeline_hourly_v10",
        "ALTER TABLE usage_timeline_daily RENAME TO usage_timeline_daily_v10",
        "CREATE TABLE usage_timeline_daily (bucket_ms BIGINT NOT NULL, failed INTEGER NOT NULL, "
        f"instance TEXT NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, failed, "
        "instance)) WITHOUT ROWID",
        "INSERT INTO usage_timeline_daily SELECT * FROM usage_timeline_daily_v10",
        "DROP TABLE usage_timeline_daily_v10",
        "ALTER TABLE usage_series RENAME TO usage_series_v10",
        "CREATE TABLE usage_series (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, failed INTEGER NOT NULL, "
        f"{_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, failed)) WITHOUT ROWID",
        "INSERT INTO usage_series SELECT * FROM usage_series_v10",
        "DROP TABLE usage_series_v10",
        "ALTER TABLE usage_series_hourly RENAME TO usage_series_hourly_v10",
        "CREATE TABLE usage_series_hourly (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, "
        "failed)) WITHOUT ROWID",
        "INSERT INTO usage_series_hourly SELECT * FROM usage_series_hourly_v10",
        "DROP TABLE usage_series_hourly_v10",
        "ALTER TABLE usage_series_daily RENAME TO usage_series_daily_v10",
        "CREATE TABLE usage_series_daily (bucket_ms BIGINT NOT NULL, model TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, model, "
        "failed)) WITHOUT ROWID",
        "INSERT INTO usage_series_daily SELECT * FROM usage_series_daily_v10",
        "DROP TABLE usage_series_daily_v10",
    ),
    (  # 12: the key timeline (see ROLLUP_FAMILIES), in key order, summed from usage_keys grain by
       # grain; one key's rows are read from an index that holds every measure. A member's
       # 30-day overview at 1M events: its grid reads 5,700 index entries instead of 39,000.
        "CREATE TABLE usage_key_timeline (bucket_ms BIGINT NOT NULL, api_key TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, api_key, "
        "failed)) WITHOUT ROWID",
        f"INSERT INTO usage_key_timeline SELECT bucket_ms, api_key, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_keys GROUP BY bucket_ms, api_key, failed",
        "CREATE INDEX usage_key_timeline_api_key ON usage_key_timeline (api_key, bucket_ms, failed, "
        f"{_V1_MEASURES})",
        "CREATE TABLE usage_key_timeline_hourly (bucket_ms BIGINT NOT NULL, api_key TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, api_key, "
        "failed)) WITHOUT ROWID",
        f"INSERT INTO usage_key_timeline_hourly SELECT bucket_ms, api_key, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_keys_hourly GROUP BY bucket_ms, api_key, failed",
        "CREATE INDEX usage_key_timeline_hourly_api_key ON usage_key_timeline_hourly (api_key, bucket_ms, failed, "
        f"{_V1_MEASURES})",
        "CREATE TABLE usage_key_timeline_daily (bucket_ms BIGINT NOT NULL, api_key TEXT NOT NULL, "
        f"failed INTEGER NOT NULL, {_V1_MEASURE_COLUMNS}, last_status INTEGER, PRIMARY KEY (bucket_ms, api_key, "
        "failed)) WITHOUT ROWID",
        f"INSERT INTO usage_key_timeline_daily SELECT bucket_ms, api_key, failed, {_V1_MEASURE_SUMS}, "
        "NULL FROM usage_keys_daily GROUP BY bucket_ms, api_key, failed",
        "CREATE INDEX usage_key_timeline_daily_api_key ON usage_key_timeline_daily (api_key, bucket_ms, failed, "
        f"{_V1_MEASURES})",
    ),
    (  # 13: CPA v8's record fields; credential error events (CPA's errors channel), kept like
       # raw events; CPA's lists per CPA (CPA_INSTANCES: each CPA's own credentials and keys)
        "ALTER TABLE usage_events ADD COLUMN resolved_client_ip TEXT",
        "ALTER TABLE usage_events ADD COLUMN stream INTEGER",
        "ALTER TABLE usage_events ADD COLUMN execution_id TEXT",
        "ALTER TABLE usage_events ADD COLUMN truncated TEXT",
        "ALTER TABLE dead_letters ADD COLUMN size BIGINT",
        "CREATE TABLE credential_errors (id INTEGER PRIMARY KEY, event_key TEXT NOT NULL, ts_ms BIGINT NOT NULL, "
        "received_ms BIGINT NOT NULL, instance TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, "
        "auth_id TEXT NOT NULL, auth_index TEXT NOT NULL, status_code INTEGER NOT NULL, code TEXT, "
        "retryable INTEGER NOT NULL, state TEXT, state_message TEXT, disabled INTEGER, unavailable INTEGER, "
        "next_retry_ms BIGINT, quota_exceeded INTEGER, quota_reason TEXT, next_recover_ms BIGINT, body TEXT, "
        "payload TEXT NOT NULL)",
        "CREATE UNIQUE INDEX credential_errors_identity ON credential_errors (ts_ms, event_key)",
        "CREATE INDEX credential_errors_credential ON credential_errors (auth_index, ts_ms)",
        "ALTER TABLE cpa_metadata RENAME TO cpa_metadata_v12",
        "CREATE TABLE cpa_metadata (instance TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, "
        "fetched_ms BIGINT NOT NULL, PRIMARY KEY (instance, name))",
        "INSERT INTO cpa_metadata (instance, name, body, fetched_ms) SELECT {instance}, name, body, "
        "fetched_ms FROM cpa_metadata_v12",
        "DROP TABLE cpa_metadata_v12",
        # sessions signed out before they expire (a logout ends a session everywhere)
        "CREATE TABLE revoked_sessions (sid TEXT PRIMARY KEY, expires_ms BIGINT NOT NULL)",
    ),
    (  # 14: dated prices: several per model, each in force from its effective_from_ms (0: since
       # always) until the next one; the prices of before were in force since always
        "ALTER TABLE model_prices RENAME TO model_prices_v13",
        "CREATE TABLE model_prices (model TEXT NOT NULL, effective_from_ms BIGINT NOT NULL, input REAL NOT NULL, "
        "output REAL NOT NULL, cache_read REAL NOT NULL, cache_write REAL NOT NULL, reasoning REAL, "
        "updated_ms BIGINT NOT NULL, PRIMARY KEY (model, effective_from_ms))",
        "INSERT INTO model_prices (model, effective_from_ms, input, output, cache_read, cache_write, reasoning, "
        "updated_ms) SELECT model, 0, input, output, cache_read, cache_write, reasoning, updated_ms "
        "FROM model_prices_v13",
        "DROP TABLE model_prices_v13",
    ),
    (  # 15: an event found by its request_id (the request-log viewer)
        "CREATE INDEX usage_events_request_id ON usage_events (request_id)",
    ),
    (  # 16: latency histograms (HISTOGRAM_FAMILIES): the bins, and the hours and days of the
       # raw events still kept (rollups hold sums, which cannot be split into bins)
        "CREATE TABLE histogram_bins (bin INTEGER NOT NULL PRIMARY KEY, lo BIGINT NOT NULL UNIQUE, hi BIGINT)",
        "INSERT INTO histogram_bins (bin, lo, hi) VALUES " + ", ".join(
            f"({b}, {lo}, {hi})" for b, (lo, hi) in enumerate(itertools.zip_longest(
                _v16_bin_edges(), _v16_bin_edges()[1:], fillvalue="NULL"))),
        *(statement for table, dimensions in (
            ("usage_latency_credentials", "source, auth_index, model, instance, failed"),
            ("usage_latency_keys", "api_key, model, instance, failed"),
            ("usage_latency_timeline", "instance, failed")) for statement in (
            f"CREATE TABLE {table}_hourly (bucket_ms BIGINT NOT NULL, {_V16_DIMENSION_COLUMNS[dimensions]}, "
            f"metric TEXT NOT NULL, bin INTEGER NOT NULL, events BIGINT NOT NULL, PRIMARY KEY (bucket_ms, "
            f"{dimensions}, metric, bin)) WITHOUT ROWID",
            *(f"INSERT INTO {table}_hourly SELECT bucket_ms, {dimensions}, metric, bin, COUNT(*) FROM (SELECT "
              f"ts_ms - ts_ms % 3600000 AS bucket_ms, {dimensions}, '{metric}' AS metric, "
              f"{_V16_BIN_OF.format(value=column)} AS bin FROM usage_events WHERE {column} {present}) binned "
              f"GROUP BY bucket_ms, {dimensions}, metric, bin"
              for metric, column, present in (("latency", "latency_ms", "IS NOT NULL"), ("ttft", "ttft_ms", "> 0"))),
            f"CREATE TABLE {table}_daily (bucket_ms BIGINT NOT NULL, {_V16_DIMENSION_COLUMNS[dimensions]}, "
            f"metric TEXT NOT NULL, bin INTEGER NOT NULL, events BIGINT NOT NULL, PRIMARY KEY (bucket_ms, "
            f"{dimensions}, metric, bin)) WITHOUT ROWID",
            f"INSERT INTO {table}_daily SELECT bucket_ms - bucket_ms % 86400000, {dimensions}, metric, bin, "
            f"SUM(events) FROM {table}_hourly GROUP BY bucket_ms - bucket_ms % 86400000, {dimensions}, metric, bin"
        )),
    ),
    (  # 17: subscriptions: a plan per credential (CPA's auth_index), held from a local month
       # (YYYY-MM) until its next one; what the owner bills each client key
        "CREATE TABLE credential_plans (auth_index TEXT NOT NULL, from_month TEXT NOT NULL, name TEXT NOT NULL, "
        "monthly_price REAL NOT NULL, currency TEXT NOT NULL, usd_rate REAL, updated_ms BIGINT NOT NULL, "
        "PRIMARY KEY (auth_index, from_month))",
        "CREATE TABLE key_billing (api_key TEXT PRIMARY KEY, markup REAL, usd_per_million_tokens REAL, "
        "updated_ms BIGINT NOT NULL)",
    ),
    tuple(_v18_statements()),  # 18: prompt bands and served tiers, and prices per tier
    (  # 19: the owner's long-context prices (LongContext): the threshold, and each kind's rate above it
        "ALTER TABLE model_prices ADD COLUMN long_above BIGINT",
        *(f"ALTER TABLE model_prices ADD COLUMN long_{field} REAL"
          for field in ("input", "output", "cache_read", "cache_write", "reasoning")),
    ),
    tuple(_v20_statements()),  # 20: four weeks for the narrow rollup families (FOUR_WEEKS_MS)
    (  # 21: latency histograms by model and by credential alone, in four weeks, from the days
       # of the families by key and by credential (written out: not read from HISTOGRAM_FAMILIES)
        *(statement for table, columns, keys, source in (
            ("usage_latency_models_4weekly", "model TEXT NOT NULL", "model", "usage_latency_keys_daily"),
            ("usage_latency_sources_4weekly", "source TEXT NOT NULL, auth_index TEXT NOT NULL", "source, auth_index",
             "usage_latency_credentials_daily")) for statement in (
            f"CREATE TABLE {table} (bucket_ms BIGINT NOT NULL, {columns}, metric TEXT NOT NULL, bin INTEGER NOT NULL, "
            f"events BIGINT NOT NULL, PRIMARY KEY (bucket_ms, {keys}, metric, bin)) WITHOUT ROWID",
            f"INSERT INTO {table} SELECT bucket_ms - bucket_ms % 2419200000, {keys}, metric, bin, SUM(events) "
            f"FROM {source} GROUP BY bucket_ms - bucket_ms % 2419200000, {keys}, metric, bin"
        )),
    ),
)


# -- writing: the statements, the rows of a batch ----------------------------------------


# Rows per INSERT statement. A few fixed sizes, because the sqlite3 module keeps every
# distinct statement it prepared, and one statement per batch length (subscriptions
# make batches of any length) grew the process by about a megabyte each.
INSERT_CHUNKS = (256, 64, 16, 4, 1)


def fixed_chunks(items: list) -> Iterable[list]:
    """``items`` cut into slices whose lengths are all in INSERT_CHUNKS."""
    start = 0
    for size in INSERT_CHUNKS:
        while len(items) - start >= size:
            yield items[start:start + size]
            start += size


@functools.lru_cache(maxsize=len(INSERT_CHUNKS))
def _insert_events_sql(rows: int) -> str:
    """A multi-row INSERT. One statement per chunk rather than executemany, which
    takes the GIL back after every row: with the drainer's threads parsing at the
    same time, each row then waited for the GIL (measured: ms per row, not us)."""
    values = "(" + ", ".join("?" * len(UsageEvent._fields)) + ")"
    return (f"INSERT INTO usage_events ({', '.join(UsageEvent._fields)}) VALUES "
            + ", ".join([values] * rows) + " ON CONFLICT (ts_ms, event_key) DO NOTHING")


def rollup_columns(rollup: Rollup) -> tuple[str, ...]:
    """The columns of a rollup's rows, or of a histogram's (HISTOGRAMS: one count)."""
    keys = ("bucket_ms", *rollup.dimensions)
    if rollup in HISTOGRAMS:
        return (*keys, "events")
    return (*keys, *ROLLUP_MEASURES, "first_ms", "last_ms", "last_status")


@functools.lru_cache(maxsize=2 * (len(ROLLUPS) + len(HISTOGRAMS)))
def _upsert_rollup_sql(rollup: Rollup, arrays: bool = False) -> str:
    """Add rows to a rollup or a histogram: one row of values per execution, or
    (``arrays``, for PostgreSQL) every row at once as one array per column, unnested:
    one statement instead of a round trip per row."""
    keys = ("bucket_ms", *rollup.dimensions)
    columns = rollup_columns(rollup)
    t = rollup.table
    values = (f"SELECT * FROM unnest({', '.join(f'?::{_pg_array_type(c)}' for c in columns)})" if arrays
              else f"VALUES ({', '.join('?' * len(columns))})")
    if rollup in HISTOGRAMS:
        return (f"INSERT INTO {t} ({', '.join(columns)}) {values} "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET events = {t}.events + excluded.events")
    return (f"INSERT INTO {t} ({', '.join(columns)}) {values} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
            + ", ".join(f"{m} = {t}.{m} + excluded.{m}" for m in ROLLUP_MEASURES)
            + f", first_ms = CASE WHEN excluded.first_ms < {t}.first_ms THEN excluded.first_ms ELSE {t}.first_ms END"
            f", last_ms = CASE WHEN excluded.last_ms > {t}.last_ms THEN excluded.last_ms ELSE {t}.last_ms END"
            f", last_status = CASE WHEN excluded.last_ms >= {t}.last_ms THEN excluded.last_status"
            f" ELSE {t}.last_status END")


def _pg_array_type(column: str) -> str:
    """The PostgreSQL array type of a column of usage_events or of a rollup."""
    if column in UsageEvent._fields:
        kind = _event_column(column).split(" ", 1)[1]
    else:
        kind = "INTEGER" if column in ("failed", "last_status", "bin") else "BIGINT" if column.endswith("_ms") \
            or column in (*ROLLUP_MEASURES, "events") else "TEXT"
    return "bigint[]" if "INT" in kind else "text[]"


@functools.lru_cache(maxsize=1)
def _insert_events_arrays_sql() -> str:
    """PostgreSQL: a whole batch of events in one statement (one array per column);
    it returns the rows that were new."""
    return (f"INSERT INTO usage_events ({', '.join(UsageEvent._fields)}) SELECT * FROM unnest("
            + ", ".join(f"?::{_pg_array_type(c)}" for c in UsageEvent._fields)
            + ") ON CONFLICT (ts_ms, event_key) DO NOTHING RETURNING ts_ms, event_key")


_UPSERT_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
_ADD_TO_TOTAL = ("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                 "value = CAST(CAST(meta.value AS BIGINT) + CAST(excluded.value AS BIGINT) AS TEXT)")


class DeadLetter(NamedTuple):
    """A payload that could not be decoded or stored, kept with the reason. What is stored
    of it is capped (dead_letter_row); ``size`` is the size it had."""

    received_ms: int
    via: str
    reason: str
    payload: bytes
    size: int | None = None


def dead_letter_row(letter: DeadLetter) -> tuple:
    """The row a dead letter is stored as: at most DEAD_LETTER_BYTES of the payload and
    1,000 characters of the reason, beside the payload's full size."""
    payload = bytes(letter.payload)
    return (letter.received_ms, letter.via[:100], valid_reason(letter.reason), payload[:DEAD_LETTER_BYTES],
            len(payload) if letter.size is None else letter.size)


def valid_reason(text: str) -> str:
    """A reason as stored and logged: at most 1,000 characters, valid Unicode."""
    return text[:1000].encode("utf-8", "replace").decode("utf-8")


class BatchResult(NamedTuple):
    inserted: int
    duplicates: int
    dead_letters: int


def as_rolled_up(events: list[UsageEvent], kept_first_bands: Callable[[str], tuple[int, ...]]
                 ) -> list[UsageEvent]:
    """The events as the rollups keep them: each prompt band only as far as a long-context
    price of its model tells it apart (``kept_first_bands``: Store.kept_first_bands), as
    the highest band where one begins that it reaches, else 0; the raw event keeps its
    own. A band kept either way is priced the same (PRICE_JOIN_ON). A band is a
    dimension, and every band in a bucket is a row more in each family with the model,
    in days as in 5 minutes: every band of PROMPT_BAND_EDGES made 2.3 times the daily
    rows of the keys family of bench/queries.py's team, where one prompt in 16 has
    100k-400k tokens; as the models' prices tell them apart, 1.5 times (the figures:
    _v18_statements). A Claude Sonnet prompt of 100k-200k tokens would be three bands,
    all at the base price."""
    return [ev._replace(prompt_band=max((first for first in kept_first_bands(ev.model) if first <= ev.prompt_band),
                                        default=0)) if ev.prompt_band else ev for ev in events]


def rollup_rows(events: Iterable[UsageEvent]) -> dict[Rollup, list[tuple]]:
    """The rows every rollup gains from these events: bucket and dimensions, the
    measures, first and last seen, and the status code of the last one. The events are
    summed once into the finest rollup; every other one from the fewest groups already
    summed that hold its dimensions in buckets dividing its own (a family's hours from
    its quarter hours: at high cardinality, nearly every event is a group of its own
    in the finest rollup, and far fewer in a narrow one)."""
    base = ROLLUPS[0]
    summed: list[tuple[Rollup, dict[tuple, list]]] = [(base, _sum_events(events, base))]
    for rollup in ROLLUPS[1:]:
        source, groups = min(((r, g) for r, g in summed if set(rollup.dimensions) <= set(r.dimensions)
                              and rollup.bucket_ms % r.bucket_ms == 0), key=lambda summed: len(summed[1]))
        summed.append((rollup, _regroup(groups, source, rollup)))
    return {rollup: [key + tuple(acc) for key, acc in groups.items()] for rollup, groups in summed}


def _sum_events(events: Iterable[UsageEvent], rollup: Rollup) -> dict[tuple, list]:
    """Events summed per bucket and dimensions of ``rollup``: {key: [measures..., first
    seen, last seen, the last one's status code]}."""
    dimensions = operator.attrgetter(*rollup.dimensions)
    measures = len(ROLLUP_MEASURES)
    groups: dict[tuple, list] = {}
    for ev in events:
        key = (ev.ts_ms - ev.ts_ms % rollup.bucket_ms, *dimensions(ev))
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = [0] * measures + [ev.ts_ms, ev.ts_ms, ev.status_code]
        acc[0] += 1
        acc[1] += ev.input_tokens
        acc[2] += ev.cache_read_tokens
        acc[3] += ev.cache_write_tokens
        acc[4] += ev.output_tokens
        acc[5] += ev.reasoning_tokens
        acc[6] += ev.unclassified_tokens
        acc[7] += ev.total_tokens
        if ev.latency_ms is not None:
            acc[8] += ev.latency_ms
            acc[9] += 1
        if ev.ttft_ms:
            acc[10] += ev.ttft_ms
            acc[11] += 1
        if ev.token_quality in FLAGGED_QUALITIES or ev.ts_estimated:
            acc[12] += 1
        if ev.ts_ms < acc[13]:
            acc[13] = ev.ts_ms
        if ev.ts_ms >= acc[14]:
            acc[14], acc[15] = ev.ts_ms, ev.status_code
    return groups


def _regroup(groups: dict[tuple, list], source: Rollup, rollup: Rollup) -> dict[tuple, list]:
    """The groups of ``source`` summed again into the coarser buckets and fewer
    dimensions of ``rollup``."""
    measures = len(ROLLUP_MEASURES)
    positions = [1 + source.dimensions.index(d) for d in rollup.dimensions]
    coarse: dict[tuple, list] = {}
    for key, acc in groups.items():
        target_key = (key[0] - key[0] % rollup.bucket_ms, *(key[i] for i in positions))
        target = coarse.get(target_key)
        if target is None:
            coarse[target_key] = list(acc)
            continue
        for i in range(measures):
            target[i] += acc[i]
        target[measures] = min(target[measures], acc[measures])
        if acc[measures + 1] >= target[measures + 1]:
            target[measures + 1], target[measures + 2] = acc[measures + 1], acc[measures + 2]
    return coarse


def histogram_rows(events: Iterable[UsageEvent]) -> dict[Rollup, list[tuple]]:
    """The rows every histogram gains from these events: (bucket, dimensions, metric,
    bin, events). Each event is binned once, in its hour with the dimensions of every
    family; each family's hours are summed from those, its coarser grains from its hours."""
    every = ("source", "auth_index", "api_key", "model", "instance", "failed")
    dimensions = operator.attrgetter(*every)
    binned: collections.Counter = collections.Counter()
    for ev in events:
        key = (ev.ts_ms - ev.ts_ms % HOUR_MS, *dimensions(ev))
        if ev.latency_ms is not None:
            binned[(*key, "latency", histogram_bin(ev.latency_ms))] += 1
        if ev.ttft_ms:
            binned[(*key, "ttft", histogram_bin(ev.ttft_ms))] += 1
    rows: dict[Rollup, list[tuple]] = {}
    for family in HISTOGRAM_GROUPS:
        keep = operator.itemgetter(0, *(1 + every.index(d) for d in family[0].dimensions[:-2]), -2, -1)
        hours: collections.Counter = collections.Counter()
        for key, count in binned.items():
            hours[keep(key)] += count
        for histogram in family:
            if histogram.bucket_ms == HOUR_MS:
                rows[histogram] = [(*k, n) for k, n in hours.items()]
                continue
            sums: collections.Counter = collections.Counter()
            for key, count in hours.items():
                sums[(key[0] - key[0] % histogram.bucket_ms, *key[1:])] += count
            rows[histogram] = [(*k, n) for k, n in sums.items()]
    return rows


# -- reading: queries, measures, read plans ----------------------------------------------


class Query(NamedTuple):
    """Which events a question is about: the range [start_ms, end_ms) and filters
    (each tuple: any of these values; empty: no filter)."""

    start_ms: int
    end_ms: int
    models: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    auth_indexes: tuple[str, ...] = ()
    api_keys: tuple[str, ...] = ()
    failed: int | None = None
    instances: tuple[str, ...] = ()
    # The range ends at the present: nothing later exists yet (but records stamped a
    # moment ahead), so its last 5-minute bucket may be read whole from the rollup.
    open_end: bool = False
    stream: int | None = None  # streamed (1) or not (0): raw events only, no rollup holds it

    @property
    def filtered_dimensions(self) -> set[str]:
        named = {"model": self.models, "source": self.sources, "auth_index": self.auth_indexes,
                 "api_key": self.api_keys, "instance": self.instances}
        return ({name for name, values in named.items() if values} | ({"failed"} if self.failed is not None else set())
                | ({"stream"} if self.stream is not None else set()))

    def conditions(self) -> tuple[list[str], list]:
        """SQL conditions and parameters, the same for raw events and every rollup."""
        clauses: list[str] = []
        params: list = []
        for column, values in (("model", self.models), ("source", self.sources), ("auth_index", self.auth_indexes),
                               ("api_key", self.api_keys), ("instance", self.instances)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        for column, value in (("failed", self.failed), ("stream", self.stream)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return clauses, params


# How each of MEASURE_FIELDS is summed: (from a rollup, from raw events). The token
# sums have the same names in both.
_MEASURE_SUMS = {
    "requests": ("SUM(requests)", "COUNT(*)"),
    **{name: (f"SUM({name})", f"SUM({name})") for name in ROLLUP_MEASURES[1:8]},
    # events without a latency (records before v6.9.1) sum to nothing, not NULL
    "latency_ms_sum": ("SUM(latency_ms_sum)", "COALESCE(SUM(latency_ms), 0)"),
    "latency_count": ("SUM(latency_count)", "COUNT(latency_ms)"),
    "ttft_ms_sum": ("SUM(ttft_ms_sum)", "SUM(CASE WHEN ttft_ms > 0 THEN ttft_ms ELSE 0 END)"),
    "ttft_count": ("SUM(ttft_count)", "SUM(CASE WHEN ttft_ms > 0 THEN 1 ELSE 0 END)"),
    "flagged": ("SUM(flagged)", "SUM(CASE WHEN token_quality IN "
                f"({', '.join(repr(q) for q in sorted(FLAGGED_QUALITIES))}) OR ts_estimated = 1 THEN 1 ELSE 0 END)"),
    "first_ms": ("MIN(first_ms)", "MIN(ts_ms)"),
    "last_ms": ("MAX(last_ms)", "MAX(ts_ms)"),
}
_ROLLUP_SUMS = [_MEASURE_SUMS[name][0] for name in MEASURE_FIELDS]
_RAW_SUMS = [_MEASURE_SUMS[name][1] for name in MEASURE_FIELDS]


def _cost_term_sql(added: tuple[str, ...], taken: tuple[str, ...], rate: str) -> str:
    """One of COST_TERMS as SQL over a row's token columns and the joined prices (p_<field>)."""
    tokens = " + ".join(added) + "".join(f" - {name}" for name in taken)
    return f"{f'({tokens})' if len(added) + len(taken) > 1 else tokens} * p_{rate}"


COST_SQL = f"SUM(({' + '.join(_cost_term_sql(*term) for term in COST_TERMS)}) / 1000000.0)"
# The cost split by COST_TERMS (Store.cost_by_kind): one sum per term, in their order.
COST_BY_KIND_SQL = tuple(f"SUM({_cost_term_sql(*term)} / 1000000.0)" for term in COST_TERMS)
COST_KINDS = tuple(rate for *_, rate in COST_TERMS)
# Dated prices: a priced read joins each row to the price of its model in force at the
# start of its bucket (or at the event's time), from one row per model and price segment
# [price_from, price_to) (PRICE_ROW, Pricing.rows), so one statement sums rows of several
# prices and the rollups stay as they are (no price in them). That is exact while no
# bucket straddles a price change: a plan is cut at every change inside its range
# that is not where a bucket of every grain begins (price_cuts; the four weeks' begin
# at multiples of 28 days, so a dated price at another midnight cuts them, and the
# days around it are read from days), which falls on whole 5 minutes
# (parse_effective_from), where the 5-minute base's buckets begin and raw edges round
# out to. Measured (1M events, bench/queries.py; cold p50 of 30 days' analysis by key
# and model): 23 ms without dated prices, as before them; 25 ms with 4 dated prices per
# model at midnights; 38 ms when one of the 4 is at 12:35 (that day read in hours, 15
# and 5 minutes, for every key and model: twice the rows).
# Long context and service tiers the same way: a price segment is a row per tier served
# with the model (price_tier; a tier without a price of its own has the standard one,
# marked price_tier_fallback) and per range of prompt bands [price_band_from,
# price_band_to) its long-context threshold cuts the bands into, so each row of a rollup
# (or raw event) meets the one price of its time, tier and band, and COST_SQL is the same.
PRICE_JOIN_ON = ("price_model = model AND price_tier = served_tier AND price_band_from <= prompt_band "
                 "AND prompt_band < price_band_to AND price_from <= {time} AND {time} < price_to")


def price_cuts(prices: list[tuple]) -> set[int]:
    """The price changes of PRICE_ROW rows a plan is cut at (Store.plan's ``cuts``): those
    a bucket of some grain would straddle."""
    return {instant for row in prices for instant in row[1:3] if instant % FOUR_WEEKS_MS}


def priced_counts_sql(requests: str) -> list[str]:
    """The sums of PRICED_FIELDS after the cost, over joined rows that count ``requests``
    each (a rollup row its ``requests``, a raw event 1): rows without tokens cost nothing,
    so they are neither unpriced nor at the standard tier's price."""
    return [f"SUM(CASE WHEN price_model IS NULL AND total_tokens > 0 THEN {requests} ELSE 0 END)",
            f"SUM(CASE WHEN price_tier_fallback = 1 AND total_tokens > 0 THEN {requests} ELSE 0 END)",
            "SUM(CASE WHEN price_model IS NULL THEN 0 ELSE cache_write_tokens END)"]


def tokens_cost(tokens: Callable[[str], int], price: "Price") -> float:
    """COST_TERMS in Python: USD for the token sums that ``tokens`` names."""
    total = 0.0
    for added, taken, rate in COST_TERMS:
        total += (sum(map(tokens, added)) - sum(map(tokens, taken))) * price.rate(rate)
    return total / 1_000_000


class Measures(list):
    """One key's sums as a read gives them: MEASURE_FIELDS in order (then PRICED_FIELDS
    in a priced read), each also readable by its name (``acc.requests``). A list, not
    an object: a month of hours is thousands of rows merged per answer."""

    __slots__ = ()

    def merge(self, other: Sequence) -> None:
        """Add another row of the same key: sums add, first and last seen widen."""
        sums = len(ROLLUP_MEASURES)
        for i in range(sums):
            self[i] += other[i]
        self[sums] = min(self[sums], other[sums])
        self[sums + 1] = max(self[sums + 1], other[sums + 1])
        for i in range(sums + 2, len(other)):
            self[i] += other[i]


for _position, _name in enumerate(MEASURE_FIELDS + PRICED_FIELDS):  # acc.requests is acc[0], and so on
    setattr(Measures, _name, property(operator.itemgetter(_position)))
del _position, _name
_COST_AT = len(MEASURE_FIELDS)  # where a priced read's cost_usd is
_FIRST_AT = len(ROLLUP_MEASURES)  # where first_ms is (last_ms after it)
# What of a priced read's Measures are sums (first and last seen are not): what subtracts.
_SUMMED_AT = (*range(len(ROLLUP_MEASURES)), *range(_COST_AT, _COST_AT + len(PRICED_FIELDS)))


def _add_sums(into: Measures, acc: Sequence | None, sign: int) -> None:
    """Add ``sign`` (1 or -1) times the sums of a priced read's ``acc`` (if any) to ``into``."""
    if acc is not None:
        for i in _SUMMED_AT:
            into[i] += sign * acc[i]


# Raw events as histogram rows, one per event and metric with its bin (histogram_bins, as
# schema 16 binned them): what a histogram read takes from raw events, under the same
# conditions (the filters' columns, the time) as from a histogram.
_RAW_BINNED = "(" + " UNION ALL ".join(
    f"SELECT ts_ms, model, source, auth_index, api_key, instance, failed, stream, '{metric}' AS metric, "
    f"{_V16_BIN_OF.format(value=column)} AS bin FROM usage_events WHERE {column} {present}"
    for metric, column, present in (("latency", "latency_ms", "IS NOT NULL"), ("ttft", "ttft_ms", "> 0"))) + ") binned"


class Piece(NamedTuple):
    """A part [lo, hi) of a range, read from one rollup (None: raw events)."""

    rollup: "Rollup | None"
    lo: int
    hi: int


class Read(NamedTuple):
    """The statement that sums one Piece."""

    piece: Piece
    sql: str
    params: list


# -- the two databases: their errors, PostgreSQL's connection, the dialects --------------


def is_transient_db_error(exc: BaseException) -> bool:
    """A database error that waiting can cure: locked, busy, full disk, I/O trouble;
    with PostgreSQL, a lost connection, a deadlock or a serialization failure."""
    if type(exc).__module__.startswith("psycopg"):
        return any(cls.__name__ in ("OperationalError", "SerializationFailure", "DeadlockDetected")
                   for cls in type(exc).__mro__)
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return any(word in text for word in ("locked", "busy", "disk", "i/o", "full", "unable to open"))


def is_record_fault(exc: BaseException) -> bool:
    """A write refused for a value's sake, not for the database's: a Python error on a
    value, or the driver refusing to bind or keep one (interface, data, integrity,
    programming errors). Then the record goes aside; the database's own trouble is
    waited out instead."""
    if is_transient_db_error(exc):
        return False
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg"):
        return bool(kinds & {"InterfaceError", "DataError", "IntegrityError", "ProgrammingError"})
    return True


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


class PostgresConnection:
    """A psycopg 3 connection that takes the store's SQL as sqlite3 does: ``?``
    placeholders, ``execute`` and ``executemany`` on the connection, autocommit with
    explicit BEGIN/COMMIT. SUM() of integers (numeric in PostgreSQL) comes back as
    int, as from SQLite. psycopg is imported only when PostgreSQL is chosen."""

    def __init__(self, url: str):
        try:
            import psycopg  # noqa: PLC0415 - only with STORAGE_DRIVER=postgres
        except ImportError:
            raise RuntimeError("STORAGE_DRIVER=postgres needs psycopg 3: apt install python3-psycopg, "
                               "or pip install 'psycopg[binary]'") from None

        self._psycopg, self.url = psycopg, url
        self.raw = self._open()

    def _open(self) -> Any:
        psycopg = self._psycopg

        class NumericLoader(psycopg.adapt.Loader):
            def load(self, data: Any) -> Any:
                text = bytes(data).decode()
                return int(text) if text.lstrip("-").isdigit() else float(text)

        conn = psycopg.connect(self.url, autocommit=True)
        conn.adapters.register_loader("numeric", NumericLoader)
        return conn

    @staticmethod
    @functools.lru_cache(maxsize=512)
    def translate(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%b")  # binary parameters: arrays dump far faster

    def execute(self, sql: str, params: Iterable = ()) -> Any:
        if self.raw.broken and self.raw.info.transaction_status == self._psycopg.pq.TransactionStatus.IDLE:
            self.raw = self._open()  # the server restarted: try a new connection
        if self.raw.broken and sql == "BEGIN":
            self.raw = self._open()
        return self.raw.execute(self.translate(sql), list(params))

    def executemany(self, sql: str, rows: Iterable) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(self.translate(sql), list(rows))

    def close(self) -> None:
        self.raw.close()


class SqliteDialect:
    """What the store does SQLite's way: one file in WAL mode, one writer (so a lookup
    inside the transaction says exactly which events are new), the schema version in
    ``PRAGMA user_version``, freed pages given back by an incremental vacuum, and the
    prices of a priced read in a temporary table of each reader's connection."""

    postgres = False
    begin = "BEGIN IMMEDIATE"  # the write lock at once, not at the first write
    keeps_reads = True  # commits come in sequence order: RollupCache sees every change
    BUSY_TIMEOUT_MS = 1000  # short: a refused write is retried by the ingest writer, which keeps the batch
    LOOKUP_CHUNK = 400
    _lookup_sql = (f"SELECT event_key FROM usage_events WHERE ts_ms IN ({', '.join('?' * LOOKUP_CHUNK)}) "
                   f"AND event_key IN ({', '.join('?' * LOOKUP_CHUNK)})")

    def __init__(self, path: str):
        self.path = path
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self._local = threading.local()  # the prices each reader's connection holds

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=self.BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextlib.contextmanager
    def migrating(self, conn: Any) -> Iterable[None]:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect before the first table
        if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            log.warning("SQLite did not switch %s to WAL; readers may wait for the writer", self.path)
        conn.execute("PRAGMA synchronous = NORMAL")
        yield

    def schema_version(self, conn: Any) -> int:
        return conn.execute("PRAGMA user_version").fetchone()[0]

    def set_schema_version(self, conn: Any, number: int) -> None:
        conn.execute(f"PRAGMA user_version = {number}")

    def ddl(self, statement: str) -> str:
        return statement

    def insert_new(self, conn: Any, events: list[UsageEvent]) -> list[UsageEvent]:
        """Insert those of ``events`` (distinct keys) not stored yet and return them."""
        fresh = {ev.event_key: ev for ev in events}
        for start in range(0, len(events), self.LOOKUP_CHUNK):
            chunk = events[start:start + self.LOOKUP_CHUNK]
            chunk += chunk[-1:] * (self.LOOKUP_CHUNK - len(chunk))  # padded: one statement shape only
            for (key,) in conn.execute(self._lookup_sql, [ev.ts_ms for ev in chunk] + [ev.event_key for ev in chunk]):
                fresh.pop(key, None)
        new_events = list(fresh.values())
        for chunk in fixed_chunks(new_events):
            conn.execute(_insert_events_sql(len(chunk)), [value for ev in chunk for value in ev])
        return new_events

    def add_to_rollup(self, conn: Any, rollup: Rollup, rows: list[tuple]) -> None:
        conn.executemany(_upsert_rollup_sql(rollup), rows)

    def price_join(self, conn: Any, prices: list[tuple], span: tuple[int, int]) -> tuple[str, str, list]:
        """(head, join, head parameters) that join each row to its model's price
        (p_<field> columns; price_model NULL for a model without a price) for rows
        inside ``span`` [lo, hi).

        The prices go into ``conn`` as a temporary table, unless it holds them already,
        named in the statement by a digest (kept reads of other prices differ): all of
        them whatever the span, so that every question loads the same list once. SQLite
        joins a table through its key, where it scans a VALUES list for every row: a
        month of hourly cost at 10 models 18 -> 10 ms, and without building an index for
        every statement at 50."""
        rows = tuple(prices)
        local = self._local
        if getattr(local, "prices", None) != (conn, rows):
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS usage_prices (price_model TEXT, price_from BIGINT, "
                         "price_to BIGINT, price_tier TEXT, price_band_from INTEGER, price_band_to INTEGER, "
                         f"price_tier_fallback INTEGER, {', '.join(f'p_{field} REAL' for field in PRICE_FIELDS)}, "
                         "PRIMARY KEY (price_model, price_tier, price_from, price_band_from)) WITHOUT ROWID")
            conn.execute("DELETE FROM temp.usage_prices")
            conn.executemany(f"INSERT OR REPLACE INTO temp.usage_prices VALUES ({', '.join('?' * len(PRICE_ROW))})",
                             rows)
            local.prices = (conn, rows)
            local.digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
        return f"/* prices {local.digest} */ ", f" LEFT JOIN temp.usage_prices ON {PRICE_JOIN_ON}", []


class PostgresDialect:
    """What the store does PostgreSQL's way: several writers may share the database (one
    per CPA host), so the INSERT itself says which events were new (RETURNING), a row
    another writer is inserting waits for that writer's commit, rollup rows are added
    in one lock order, and nothing read is kept (commits do not come in sequence
    order); one migrating instance at a time (an advisory lock); the schema version in
    a table; autovacuum gives space back; the prices of a priced read as a VALUES list."""

    postgres = True
    begin = "BEGIN"
    keeps_reads = False
    MIGRATION_LOCK = 7302611

    def __init__(self, url: str):
        self.url = url

    def connect(self) -> PostgresConnection:
        return PostgresConnection(self.url)

    @contextlib.contextmanager
    def migrating(self, conn: Any) -> Iterable[None]:
        conn.execute(f"SELECT pg_advisory_lock({self.MIGRATION_LOCK})")
        try:
            yield
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({self.MIGRATION_LOCK})")

    def schema_version(self, conn: Any) -> int:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        return conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0

    def set_schema_version(self, conn: Any, number: int) -> None:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))

    def ddl(self, statement: str) -> str:
        """A schema statement of MIGRATIONS in PostgreSQL's words."""
        return (statement.replace("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
                .replace(" BLOB", " BYTEA").replace(" REAL", " DOUBLE PRECISION").replace(" WITHOUT ROWID", ""))

    def insert_new(self, conn: Any, events: list[UsageEvent]) -> list[UsageEvent]:
        ordered = sorted(events, key=lambda ev: (ev.ts_ms, ev.event_key))
        if not ordered:
            return []
        inserted = set(conn.execute(_insert_events_arrays_sql(), [list(column) for column in zip(*ordered)]))
        return [ev for ev in ordered if (ev.ts_ms, ev.event_key) in inserted]

    def add_to_rollup(self, conn: Any, rollup: Rollup, rows: list[tuple]) -> None:
        rows.sort(key=operator.itemgetter(*range(len(rollup.dimensions) + 1)))  # one lock order
        conn.execute(_upsert_rollup_sql(rollup, arrays=True), [list(c) for c in zip(*rows)])

    def price_join(self, conn: Any, prices: list[tuple], span: tuple[int, int]) -> tuple[str, str, list]:
        """SqliteDialect.price_join as a VALUES list in the statement, of the price
        segments that overlap ``span`` only: a model's one segment in a range without
        a change: with all of them, 24 hours' overview took 19 ms instead of 12 (1M events,
        10 models of 5 segments each; 12 ms with the overlapping ones)."""
        rows = [row for row in prices if row[1] < span[1] and row[2] > span[0]]
        rows = rows or [(None, 0, 0, "", 0, 0, 0, *[0] * len(PRICE_FIELDS))]  # PostgreSQL joins values by hash
        typed = ("(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS INTEGER), "
                 "CAST(? AS INTEGER), CAST(? AS INTEGER), "
                 + ", ".join(["CAST(? AS DOUBLE PRECISION)"] * len(PRICE_FIELDS)) + ")")
        head = (f"WITH prices ({', '.join(PRICE_ROW)}) AS (VALUES {', '.join([typed] * len(rows))}) ")
        return head, f" LEFT JOIN prices ON {PRICE_JOIN_ON}", [value for row in rows for value in row]


# -- the store, and the reads it keeps ---------------------------------------------------


class RollupCache:
    """Rows read from rollups, kept until a write touches their time span.

    A dashboard asks the same ranges again and again (auto-refresh, switching pages),
    and the bulk of a range is whole hours and days that no longer change: their sums
    are kept, and only the moving edges of a range are read again. Every transaction
    that changes rollups, in this process or another (an import), appends its time
    span to rollup_changes; a reader first replays the changes it has not seen and
    drops the rows they touch, and does not keep rows that a change committed while it
    was reading may have missed. So a kept answer is never stale."""

    MAX_ROWS = 50_000  # all entries together; the least recently used go first
    MIN_SPAN_MS = HOUR_MS  # shorter pieces are the moving edges of ranges: not worth keeping
    RECENT_CHANGES = 1000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[int, int, list[tuple]]] = {}  # insertion order = recency
        self._rows = 0
        self._seen: int | None = None  # the last rollup_changes seq replayed
        self._recent: list[tuple[int, int, int]] = []  # (seq, lo, hi) of the last changes replayed

    def clear(self) -> None:
        with self._lock:
            self._drop_all()

    def _drop_all(self) -> None:
        """Forget every entry (hold ``_lock``)."""
        self._entries.clear()
        self._rows = 0

    def _drop_overlapping(self, lo: int, hi: int) -> None:
        """Forget the entries whose span overlaps [lo, hi) (hold ``_lock``)."""
        for key in [k for k, (e_lo, e_hi, _) in self._entries.items() if lo < e_hi and hi > e_lo]:
            self._drop(key)

    def _drop(self, key: tuple) -> None:
        """Forget one entry, and its rows from the count (hold ``_lock``)."""
        self._rows -= len(self._entries.pop(key)[2])

    def keeps(self, read: Read) -> bool:
        """Whether rows of this read are worth keeping: a rollup's, over an hour or more
        (raw events are never kept: they are the edges that move)."""
        return read.piece.rollup is not None and read.piece.hi - read.piece.lo >= self.MIN_SPAN_MS

    def rows(self, conn: sqlite3.Connection, reads: list[Read]) -> list[list[tuple]]:
        """The rows of each read of a plan, kept or fresh. The changes are looked up
        once before the reads of a plan and once after, not around each read: a
        dashboard's month is a hundred reads, and under ingest every statement waits
        for the GIL again when it returns."""
        with self._lock:
            if any(map(self.keeps, reads)):
                self._replay(conn)
            answers = [self._kept_rows(read) for read in reads]
            before = self._seen
        missing = [i for i, rows in enumerate(answers) if rows is None]
        for i, rows in zip(missing, self._fetch(conn, [reads[i] for i in missing])):
            answers[i] = rows
        keepable = [(reads[i], answers[i]) for i in missing if self.keeps(reads[i])]
        if keepable:
            self._keep(conn, keepable, before)
        return answers  # type: ignore[return-value]

    def _kept_rows(self, read: Read) -> list[tuple] | None:
        """The rows kept for a read, now the most recently used; None when there are none (hold ``_lock``)."""
        if not self.keeps(read):
            return None
        entry = self._entries.pop((read.sql, tuple(read.params)), None)
        if entry is None:
            return None
        self._entries[(read.sql, tuple(read.params))] = entry
        return entry[2]

    def _keep(self, conn: sqlite3.Connection, fetched: list[tuple[Read, list[tuple]]], before: int) -> None:
        """Keep the rows just read, unless a change committed since change ``before``
        (while they were read) touched their span; the least recently used go past MAX_ROWS."""
        with self._lock:
            self._replay(conn)
            missed = not self._recent or self._recent[0][0] > before + 1
            for read, rows in fetched:
                _, lo, hi = read.piece
                if missed or self._changed_since(before, lo, hi):
                    continue
                self._entries[(read.sql, tuple(read.params))] = (lo, hi, rows)
                self._rows += len(rows)
            while self._rows > self.MAX_ROWS:
                self._drop(next(iter(self._entries)))

    def _changed_since(self, before: int, lo: int, hi: int) -> bool:
        """Whether a change replayed after change ``before`` touched [lo, hi) (hold ``_lock``)."""
        return any(seq > before and c_lo < hi and c_hi > lo for seq, c_lo, c_hi in self._recent)

    @staticmethod
    def _fetch(conn: sqlite3.Connection, reads: list[Read]) -> list[list[tuple]]:
        """The rows of each read, in one statement: a plan's edges and what changed are
        a dozen reads, and every statement that returns waits for the GIL again (up to
        the 5 ms switch interval while the writer decodes)."""
        if len(reads) < 2:
            return [conn.execute(read.sql, read.params).fetchall() for read in reads]
        parts: list[list[tuple]] = [[] for _ in reads]
        for chunk in _chunks(list(enumerate(reads)), 250):  # SQLite allows 500 terms in a compound SELECT
            for row in conn.execute(" UNION ALL ".join(f"SELECT {i}, * FROM ({read.sql})" for i, read in chunk),
                                    [value for _, read in chunk for value in read.params]):
                parts[row[0]].append(row[1:])
        return parts

    def _replay(self, conn: sqlite3.Connection) -> None:
        """Drop the entries that changes committed since the last look touched."""
        if self._seen is None:
            self._seen = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM rollup_changes").fetchone()[0]
            self._recent = [(self._seen, 0, 0)]
            return
        changes = conn.execute("SELECT seq, lo_ms, hi_ms FROM rollup_changes WHERE seq > ? ORDER BY seq",
                               (self._seen,)).fetchall()
        if not changes:
            return
        if changes[0][0] != self._seen + 1:  # pruned before this process saw them: trust nothing
            self._drop_all()
        for _, lo, hi in changes:
            self._drop_overlapping(lo, hi)
        self._seen = changes[-1][0]
        self._recent = (self._recent + changes)[-self.RECENT_CHANGES:]


class Store:
    """All SQL of cpa-usage, over SQLite (stdlib sqlite3, WAL) or PostgreSQL (psycopg 3,
    when ``target`` is a postgresql:// URL). The statements are the same; what the two
    do differently (connecting, transactions, the schema version, finding new rows,
    adding to rollups, joining prices, keeping reads) is the dialect's."""

    def __init__(self, target: str, instance: str = ""):
        self.dialect = PostgresDialect(target) if is_postgres_url(target) else SqliteDialect(target)
        self.path, self.instance = target, instance
        self.name = re.sub(r"//[^@/]*@", "//", target)  # for messages: without a password
        self._local = threading.local()
        self._salt: str | None = None
        self.write_lock = threading.Lock()
        self.cache = RollupCache() if self.dialect.keeps_reads else None
        # The owner's long-context prices: {pattern: the bands where one begins}, and each
        # model's kept bands (kept_first_bands); None, {}: read again (a price changed).
        self._owner_first_bands: dict[str, set[int]] | None = None
        self._kept_bands: dict[str, tuple[int, ...]] = {}
        self._writer = self.dialect.connect()
        self._migrate()
        self._no_skip_scans()

    def _migrate(self) -> None:
        """Bring the schema to the newest version, each step in one transaction."""
        conn, dialect = self._writer, self.dialect
        with dialect.migrating(conn):
            version = dialect.schema_version(conn)
            if version > len(MIGRATIONS):
                raise RuntimeError(f"{self.name} has schema version {version}, newer than this program "
                                   f"({len(MIGRATIONS)}); upgrade cpa-usage")
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                with self.transaction():
                    for statement in statements:
                        statement = statement.replace("{instance}", "'" + self.instance.replace("'", "''") + "'")
                        conn.execute(dialect.ddl(statement))
                    dialect.set_schema_version(conn, number)
                log.info("database %s migrated to schema version %d", self.name, number)
        if 0 < version < len(MIGRATIONS) and not dialect.postgres:  # rebuilt tables and indexes leave free pages
            freed = self.compact()  # leaves free pages: 734 MB at 3.2M events; given back before ingest
            if freed:
                log.info("the upgrade gave back %.0f MB", freed / 1e6)

    @contextlib.contextmanager
    def transaction(self) -> Iterable[Any]:
        """One transaction on the writer connection (hold ``write_lock``): committed whole,
        or rolled back when anything in it fails. A COMMIT the disk refuses may have rolled
        back already (SQLITE_FULL): then the first error is the one that counts."""
        self._writer.execute(self.dialect.begin)
        try:
            yield self._writer
            self._writer.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                self._writer.execute("ROLLBACK")
            raise

    @property
    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL lets readers run beside the writer)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.dialect.connect()
        return conn

    def close(self) -> None:
        with self.write_lock:
            self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()

    # -- writing -----------------------------------------------------------

    def write_batch(self, events: list[UsageEvent], dead_letters: list[DeadLetter], *,
                    received: int, control: int = 0, errors: Iterable[CredentialError] = ()) -> BatchResult:
        """Store one batch in ONE transaction: new events, their rollups, dead letters,
        credential errors and the running totals. Duplicates (same event_key) are
        skipped and counted; rollups see only the rows that were really inserted."""
        with self.write_lock:
            with self.transaction():
                new_events = self._insert_new(events)
                if new_events:
                    self._add_to_rollups(new_events)
                if dead_letters:
                    self._writer.executemany("INSERT INTO dead_letters (received_ms, via, reason, payload, size) "
                                             "VALUES (?, ?, ?, ?, ?)", [dead_letter_row(d) for d in dead_letters])
                new_errors = self._insert_credential_errors(errors)
                result = BatchResult(len(new_events), len(events) - len(new_events), len(dead_letters))
                self._add_to_totals({"received": received, "control_messages": control, "inserted": result.inserted,
                                     "duplicates": result.duplicates, "dead_letters": result.dead_letters,
                                     "credential_errors": len(new_errors)}, new_errors)
        return result

    def _add_to_rollups(self, new_events: list[UsageEvent]) -> None:
        """Add the new events of a batch to every rollup and histogram, and note the time
        span they changed."""
        for rollup, rows in itertools.chain(rollup_rows(as_rolled_up(new_events, self.kept_first_bands)).items(),
                                            histogram_rows(new_events).items()):
            self.dialect.add_to_rollup(self._writer, rollup, rows)
        times = [ev.ts_ms for ev in new_events]
        self._note_rollup_change(min(times), max(times) + 1)

    def _add_to_totals(self, increments: dict[str, int], new_errors: list[CredentialError]) -> None:
        """Add a batch to the running totals (``totals.<counter>``) and its new credential
        errors to the counts per provider and status (``errors_total.<provider>|<status>``)."""
        self._writer.executemany(_ADD_TO_TOTAL, [(f"totals.{k}", str(v)) for k, v in increments.items() if v])
        by_kind = collections.Counter(f"errors_total.{e.provider}|{e.status_code}" for e in new_errors)
        self._writer.executemany(_ADD_TO_TOTAL, [(key, str(n)) for key, n in sorted(by_kind.items())])

    def write_isolating(self, items: list[tuple[UsageEvent | CredentialError, DeadLetter]],
                        dead_letters: list[DeadLetter], *, received: int, control: int = 0
                        ) -> tuple[BatchResult, list[DeadLetter]]:
        """write_batch of ``items`` (each with the dead letter it becomes if refused); where
        the database refuses the batch for a record's sake (is_record_fault: not its own
        trouble, which is raised, to be waited out) the batch is written in halves, and
        what it refuses goes to dead_letters with the reason: nothing is retried for ever.
        Returns the result and the records refused."""
        events, errors = _batch_parts(items)
        try:
            return self.write_batch(events, dead_letters, received=received, control=control, errors=errors), []
        except Exception as exc:  # noqa: BLE001 - sorted out below
            if not is_record_fault(exc):
                raise
            log.warning("the database refused a batch for a record's sake (%s); finding the record", exc)
        refused: list[DeadLetter] = []
        stored = self._write_apart(items, refused)
        result = self.write_batch([], dead_letters + refused, received=received, control=control)
        log.warning("%d record(s) the database refused are kept in dead_letters; first: %s", len(refused),
                    refused[0].reason if refused else "-")
        return BatchResult(stored.inserted, stored.duplicates, result.dead_letters), refused

    def _write_apart(self, items: list[tuple[Any, DeadLetter]], refused: list[DeadLetter]) -> BatchResult:
        """Write ``items`` without totals, halving around what the database refuses."""
        events, errors = _batch_parts(items)
        try:
            return self.write_batch(events, [], received=0, errors=errors)
        except Exception as exc:  # noqa: BLE001 - sorted out below
            if not is_record_fault(exc):
                raise
            if len(items) == 1:
                refused.append(items[0][1]._replace(reason=f"could not be stored: {type(exc).__name__}: {exc}"))
                return BatchResult(0, 0, 0)
        half = len(items) // 2
        first, second = self._write_apart(items[:half], refused), self._write_apart(items[half:], refused)
        return BatchResult(first.inserted + second.inserted, first.duplicates + second.duplicates, 0)

    def _insert_credential_errors(self, errors: Iterable[CredentialError]) -> list[CredentialError]:
        """Insert the credential errors not stored yet (the same event twice, as a spool
        read again after a crash gives it, is one row); returns the new ones."""
        new = []
        columns = CredentialError._fields
        sql = (f"INSERT INTO credential_errors ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
               "ON CONFLICT (ts_ms, event_key) DO NOTHING")
        for error in dict.fromkeys(errors):
            if self._writer.execute(sql, error).rowcount:
                new.append(error)
        return new

    def _note_rollup_change(self, lo_ms: int, hi_ms: int) -> None:
        """Record, inside the writing transaction, that rollups of [lo, hi) changed."""
        self._writer.execute("INSERT INTO rollup_changes (lo_ms, hi_ms, changed_ms) VALUES (?, ?, ?)",
                             (lo_ms, hi_ms, now_ms()))

    def _insert_new(self, events: list[UsageEvent]) -> list[UsageEvent]:
        """Insert the events of a batch not stored yet (nor earlier in the batch) and
        return them: only they may add to rollups.

        SQLite has one writer, so looking them up first, inside the transaction, is
        exact. PostgreSQL may have several (one per CPA host): there the INSERT itself
        says which rows were new (RETURNING), and a row another writer is inserting
        waits for that writer's commit, so each event is counted exactly once."""
        fresh: dict[str, UsageEvent] = {}
        for ev in events:
            fresh.setdefault(ev.event_key, ev)
        return self.dialect.insert_new(self._writer, list(fresh.values()))

    def set_meta(self, key: str, value: str) -> None:
        with self.write_lock:
            self._writer.execute(_UPSERT_META, (key, value))

    def fingerprint(self, value: str, length: int = 12) -> str:
        """A stable, salted hash of a secret: to recognise or name it without storing
        or showing it (the salt is random per installation)."""
        if self._salt is None:
            self._salt = self.get_meta("install_salt")
            if self._salt is None:
                self._salt = os.urandom(16).hex()
                self.set_meta("install_salt", self._salt)
        return hashlib.sha256(f"{self._salt}:{value}".encode()).hexdigest()[:length]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.reader.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def load_totals(self) -> dict[str, int]:
        """The running totals as the last committed batch left them."""
        rows = dict(self.reader.execute("SELECT key, value FROM meta WHERE key LIKE 'totals.%'").fetchall())
        return {name: int(rows.get(f"totals.{name}", 0)) for name in TOTAL_COUNTERS}

    # -- the retention sweep ------------------------------------------------

    DELETE_SECONDS = 0.05  # the write lock is held about this long per delete, so ingest never waits long

    def delete_events_before(self, cutoff_ms: int) -> tuple[int, int, int]:
        """Remove raw events, dead letters and credential errors older than cutoff_ms;
        returns how many of each. Rollups are kept: year views stay whole. The cut-off
        is remembered: ranges reaching before it are counted from rollups."""
        self.set_meta("raw_events_since", str(max(cutoff_ms, self.raw_events_since())))
        return (self._delete_before("usage_events", "ts_ms", cutoff_ms),
                self._delete_before("dead_letters", "received_ms", cutoff_ms),
                self._delete_before("credential_errors", "ts_ms", cutoff_ms))

    def delete_rollups_before(self, cutoff_ms: int) -> int:
        """Remove the rollup buckets that end before cutoff_ms from every rollup and
        histogram (ROLLUP_RETENTION_DAYS). A bucket the cut goes through is kept whole:
        without it, a range holding that bucket would miss the part of it after the cut,
        which finer grains still hold (up to four weeks)."""
        removed = sum(self._delete_before(rollup.table, "bucket_ms", cutoff_ms - cutoff_ms % rollup.bucket_ms)
                      for rollup in ROLLUPS + HISTOGRAMS)
        if removed:
            with self.write_lock:
                self._note_rollup_change(0, cutoff_ms)
        return removed

    def prune_rollup_changes(self, before_ms: int) -> int:
        """Forget rollup changes older than before_ms (never the newest: sequence numbers
        must keep growing). A reader that has not looked since starts its cache over."""
        with self.write_lock:
            return self._writer.execute(
                "DELETE FROM rollup_changes WHERE changed_ms < ? AND seq < (SELECT MAX(seq) FROM rollup_changes)",
                (before_ms,)).rowcount

    def _delete_before(self, table: str, column: str, cutoff_ms: int) -> int:
        """Delete the rows of ``table`` with ``column`` < cutoff_ms, oldest first, a time
        window per transaction; the window adapts so each one takes about
        DELETE_SECONDS (dense and sparse stretches of history alike)."""
        removed, window = 0, 60_000
        while True:
            with self.write_lock:
                oldest = self._writer.execute(f"SELECT MIN({column}) FROM {table}").fetchone()[0]
                if oldest is None or oldest >= cutoff_ms:
                    return removed
                began = time.monotonic()
                removed += self._writer.execute(f"DELETE FROM {table} WHERE {column} < ?",
                                                (min(cutoff_ms, oldest + window),)).rowcount
                took = time.monotonic() - began
            window = max(1000, int(window * min(4.0, self.DELETE_SECONDS / max(took, 1e-4))))

    def compact(self) -> int:
        """Give freed pages back to the file system, a few megabytes per transaction, and
        refresh the planner's statistics from a sample; returns the bytes freed.

        An incremental vacuum instead of a full VACUUM, and a sampled ANALYZE: both of
        the latter read or rewrite the whole file while holding the write lock, for
        minutes on a big database, while CPA's queue keeps records for about a minute."""
        if self.dialect.postgres:  # autovacuum returns space; statistics now, for the planner
            with self.write_lock:
                self._writer.execute("ANALYZE")
            return 0
        page_size = self._writer.execute("PRAGMA page_size").fetchone()[0]
        freed = 0
        incremental = self._writer.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        while incremental:
            with self.write_lock:
                free = self._writer.execute("PRAGMA freelist_count").fetchone()[0]
                if not free:
                    break
                # executescript steps it to the end; execute frees one page per call
                self._writer.executescript("PRAGMA incremental_vacuum(2048);")
                left = self._writer.execute("PRAGMA freelist_count").fetchone()[0]
            if left >= free:
                break
            freed += (free - left) * page_size
        with self.write_lock:
            self._writer.execute("PRAGMA analysis_limit = 1000")
            self._writer.execute("ANALYZE")
        self._no_skip_scans()
        return freed

    def _no_skip_scans(self) -> None:
        """Tell SQLite's planner never to skip-scan a rollup's index by client key or
        credential (``noskipscan`` in sqlite_stat1, which every ANALYZE writes anew). A
        read of every key over months (Analysis by key, Credentials) has no key to seek:
        from ANALYZE's sample the planner took the key's index, walked once per key within
        the time range, for about twice the time of the time index (740-840 ms against
        410 for three years of usage_keys_4weekly at 500 keys). A connection reads the
        statistics as it opens: this one now, the readers as they open. Nothing is
        written where nothing is missing (a database opened only to be read)."""
        if self.dialect.postgres or not self._writer.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            return
        tables = sorted({rollup.table for rollup in ROLLUPS})
        unmarked = (f"FROM sqlite_stat1 WHERE tbl IN ({', '.join('?' * len(tables))}) "
                    "AND idx NOT LIKE 'sqlite_autoindex_%' AND stat NOT LIKE '%noskipscan%'")
        if not self._writer.execute(f"SELECT 1 {unmarked}", tables).fetchone():
            return
        with self.write_lock:
            with self.transaction():
                self._writer.execute(f"UPDATE sqlite_stat1 SET stat = stat || ' noskipscan' WHERE rowid IN "
                                     f"(SELECT rowid {unmarked})", tables)
            self._writer.execute("ANALYZE sqlite_schema")

    # -- reading -----------------------------------------------------------

    def raw_events_since(self) -> int:
        """Raw events before this instant were removed by the retention sweep."""
        return int(self.get_meta("raw_events_since", "0"))

    def aggregate(self, query: "Query", group: tuple[str, ...] = (), step_ms: int | None = None,
                  prices: list[tuple] | None = None, spans: Sequence[tuple[int, int]] | None = None
                  ) -> dict[tuple, Measures]:
        """Sum the events of ``query`` per ``group`` dimensions (and per UTC time bucket
        of ``step_ms``, a multiple of 5 minutes): {key: Measures}, with ``prices``
        (PRICE_ROW rows, Pricing.rows) also PRICED_FIELDS: the cost and what of it is
        unpriced or assumed. The range is covered by the coarsest fitting rollups; only
        its unaligned edges (under 5 minutes each) are read from raw events, so the
        answer is exact and fast for any range. With ``spans`` ([lo, hi) each, instead
        of the query's range; no step), each span is summed apart, all in one plan:
        {(index of the span, *group): Measures}."""
        result: dict[tuple, Measures] = {}
        # Price changes that a bucket may straddle (see PRICE_JOIN_ON).
        changes = () if prices is None else price_cuts(prices)

        def planned(dimensions: tuple[str, ...], cuts: Iterable[int] = ()) -> tuple[list[Piece], list[int] | None]:
            """The plan's pieces and, with ``spans``, the span each piece is of."""
            if spans is None:
                return self.plan(query, dimensions, step_ms, cuts), None
            parts = self._plan_ranges(query, dimensions, None, cuts, ROLLUPS, spans)
            return [piece for part in parts for piece in part], [i for i, part in enumerate(parts) for _ in part]

        measured, tags = planned(group)
        if prices is not None and any(piece.rollup and not set(PRICED_DIMENSIONS) <= set(piece.rollup.dimensions)
                                      for piece in measured):
            # The cost needs the model, the measures do not: summing the measures from
            # a rollup without models and only the cost per model is three times
            # faster than summing everything per model (30 days of hours at 50 models).
            self._aggregate(measured, query, group, step_ms, None, result, tags=tags)
            costs: dict[tuple, list] = {}
            pieces, tags = planned(group + PRICED_DIMENSIONS, changes)
            self._aggregate(pieces, query, group, step_ms, prices, costs, cost_only=True, tags=tags)
            for key, acc in result.items():
                acc.extend(costs.get(key, (0.0, *[0] * (len(PRICED_FIELDS) - 1))))
            return result
        pieces, tags = planned(group + (PRICED_DIMENSIONS if prices is not None else ()), changes)
        self._aggregate(pieces, query, group, step_ms, prices, result, tags=tags)
        return result

    def cost_by_kind(self, query: "Query", group: tuple[str, ...], prices: list[tuple]) -> dict[tuple, list]:
        """The cost of ``query`` per ``group``, split by COST_TERMS, each event at the price
        in force at its time (``prices`` as aggregate takes them): {key: [USD of each of
        COST_KINDS..., then PRICED_FIELDS after the cost]}."""
        return self._costs(query, group, prices, COST_BY_KIND_SQL)

    def unpriced_requests(self, query: "Query", group: tuple[str, ...], prices: list[tuple]) -> dict[tuple, int]:
        """The requests of ``query`` per ``group`` that had tokens and no price at their
        time, where there were any: cost_by_kind's read without the costs (which rows
        name a model as unpriced)."""
        return {key: counts[0] for key, counts in self._costs(query, group, prices, ()).items() if counts[0]}

    def _costs(self, query: "Query", group: tuple[str, ...], prices: list[tuple], costs: tuple[str, ...]
               ) -> dict[tuple, list]:
        """{key: [each of ``costs``, then the counts of PRICED_FIELDS after the cost]} of ``query`` per ``group``."""
        result: dict[tuple, list] = {}
        changes = price_cuts(prices)
        self._aggregate(self.plan(query, group + PRICED_DIMENSIONS, None, changes), query, group, None, prices, result,
                        cost_only=True, costs=costs)
        return result

    def histograms(self, query: "Query", group: tuple[str, ...] = (), step_ms: int | None = None
                   ) -> dict[tuple, dict[str, dict[int, int]]]:
        """The latency and TTFT histograms of the events of ``query`` per ``group``
        dimensions (and per UTC time bucket of ``step_ms``, whole hours): {key: {metric:
        {bin: events}}} (HISTOGRAM_EDGES), for histogram_percentile. Covered as
        aggregate covers a range, from HISTOGRAMS: the edges inside an hour from raw
        events binned the same way (or, before raw retention and in the open hour of a
        range that ends now, the whole hour)."""
        keys = (*group, "metric", "bin")
        reads = self._reads(self.plan(query, keys, step_ms, tables=HISTOGRAMS), query, keys, step_ms,
                            lambda rollup: ["SUM(events)" if rollup else "COUNT(*)"], raw=_RAW_BINNED)
        width = len(group) + (1 if step_ms else 0)
        result: dict[tuple, dict[str, dict[int, int]]] = {}
        for row in itertools.chain.from_iterable(self._read(reads)):
            bins = result.setdefault(row[:width], {}).setdefault(row[width], {})
            bins[row[width + 1]] = bins.get(row[width + 1], 0) + row[width + 2]
        return result

    def count(self, query: "Query", group: tuple[str, ...] = (), step_ms: int | None = None,
              failures: bool = False, seen: bool = False) -> dict[tuple, Any]:
        """Like aggregate, but only the number of events: {key: requests}, or with
        ``failures`` {key: [requests, failed]}, with ``seen`` also first and last seen
        {key: [requests, failed, first_ms, last_ms]}. Cheaper, for grids, totals and the
        values of filters."""
        result: dict[tuple, Any] = {}
        sums = (["SUM(requests)", "SUM(failed * requests)", "MIN(first_ms)", "MAX(last_ms)"],
                ["COUNT(*)", "SUM(failed)", "MIN(ts_ms)", "MAX(ts_ms)"])
        values = 4 if seen else 2 if failures else 1
        reads = self._reads(self.plan(query, group, step_ms), query, group, step_ms,
                            lambda rollup: sums[rollup is None][:values])
        width = len(group) + (1 if step_ms else 0)
        for row in itertools.chain.from_iterable(self._read(reads)):
            if not row[width]:
                continue
            key = row[:width]
            acc = result.get(key)
            if values == 1:
                result[key] = (acc or 0) + row[width]
            elif acc is None:
                result[key] = list(row[width:])
            else:
                acc[0] += row[width]
                acc[1] += row[width + 1]
                if seen:
                    acc[2], acc[3] = min(acc[2], row[width + 2]), max(acc[3], row[width + 3])
        return result

    def plan(self, query: "Query", group: tuple[str, ...], step_ms: int | None,
             cuts: Iterable[int] = (), tables: tuple[Rollup, ...] = ROLLUPS) -> list[Piece]:
        """Cut [start, end) into pieces, each read from one rollup of ``tables`` (or one
        of HISTOGRAMS; None: raw events), none of them across an instant of ``cuts`` (the
        price changes of a priced read).

        Raw events fill only the unaligned edges, and not even those where rollups say
        the same: before raw retention began, and at the end of a range that ends now
        (the open bucket, whose raw rows grow with the ingest rate: 300,000 of them
        after 5 minutes at 1,000 events/s, a second and a half to sum). A filter no
        rollup holds (``stream``) is answered from raw events alone, within their retention."""
        return self._plan_ranges(query, group, step_ms, cuts, tables, [(query.start_ms, query.end_ms)])[0]

    def _plan_ranges(self, query: "Query", group: tuple[str, ...], step_ms: int | None, cuts: Iterable[int],
                     tables: tuple[Rollup, ...], ranges: Sequence[tuple[int, int]]) -> list[list[Piece]]:
        """plan's pieces for each of ``ranges`` ([lo, hi), each instead of the query's
        range), the rollups chosen once for all (aggregate's spans are a thousand)."""
        needed = set(group) | query.filtered_dimensions
        usable = [r for r in tables
                  if needed <= set(r.dimensions) and (step_ms is None or step_ms % r.bucket_ms == 0)]
        since = self.raw_events_since()
        if not usable:
            return [[Piece(None, max(lo, since), hi)] if max(lo, since) < hi else [] for lo, hi in ranges]
        grains = _plan_grains(usable, ROLLUPS[0] if tables is ROLLUPS else None)
        instants = sorted(set(cuts))
        planned = []
        for start, end in ranges:
            pieces: list[Piece] = []
            inside = instants[bisect.bisect_right(instants, start):bisect.bisect_left(instants, end)]
            bounds = [start, *inside, end]
            for lo, hi in zip(bounds, bounds[1:]):
                _cover(pieces, grains, lo, hi)
            if self.cache is not None:
                pieces = _cut_at_days(pieces)
            planned.append(self._edges_from_rollup(pieces, query, grains[-1], since))
        return planned

    @staticmethod
    def _edges_from_rollup(pieces: list[Piece], query: "Query", base: Rollup, since: int) -> list[Piece]:
        """The pieces of a plan, with each raw edge that its finest grain ``base`` (the
        5-minute rollup; a histogram's hours) answers the same read from, whole buckets:
        an edge before raw retention began (``since``), or the open bucket at the end of
        a range that ends now."""
        size = base.bucket_ms
        planned = []
        for rollup, lo, hi in pieces:
            if rollup is None and (lo < since or (query.open_end and hi == query.end_ms and lo % size == 0)):
                rollup, lo, hi = base, lo - lo % size, -(-hi // size) * size
            planned.append(Piece(rollup, lo, hi))
        return planned

    @staticmethod
    def _reads(pieces: list[Piece], query: "Query", group: tuple[str, ...], step_ms: int | None,
               sums: Callable[[Rollup | None], list[str]], extra: tuple[list[str], str, str, list] = ([], "", "", []),
               raw: str = "usage_events") -> list[Read]:
        """The statement of each piece: ``sums(rollup)`` per time bucket of ``step_ms``
        and ``group``, under the query's conditions; ``extra`` is (more conditions, a
        head before SELECT, a join after FROM, the head's parameters); ``raw``: what the
        raw pieces read (the histograms: raw events binned, _RAW_BINNED)."""
        more, head, join, head_params = extra
        clauses, params = query.conditions()
        reads = []
        for piece in pieces:
            rollup = piece.rollup
            time_column = "bucket_ms" if rollup else "ts_ms"
            keys = ([time_column if rollup and step_ms == rollup.bucket_ms  # already the bucket: index order
                     else f"{time_column} - {time_column} % {step_ms}"] if step_ms else []) + list(group)
            sql = (f"{head}SELECT {', '.join(keys + sums(rollup))} FROM {rollup.table if rollup else raw}"
                   f"{join.format(time=time_column)} "
                   f"WHERE {' AND '.join([f'{time_column} >= ?', f'{time_column} < ?', *clauses, *more])}"
                   + (f" GROUP BY {', '.join(keys)}" if keys else ""))
            reads.append(Read(piece, sql, [*head_params, piece.lo, piece.hi, *params]))
        return reads

    def _read(self, reads: list[Read]) -> list[list[tuple]]:
        """The rows of each read of a plan, in order: through the cache, where there is one."""
        if self.cache is None:
            return [self.reader.execute(read.sql, read.params).fetchall() for read in reads]
        return self.cache.rows(self.reader, reads)

    def _aggregate(self, pieces: list[Piece], query: "Query", group: tuple[str, ...], step_ms: int | None,
                   prices: list[tuple] | None, into: dict[tuple, Any], cost_only: bool = False,
                   costs: tuple[str, ...] = (COST_SQL,), tags: list[int] | None = None) -> None:
        """Add the pieces of a plan to ``into``: {key: Measures (priced with ``prices``)},
        or with ``cost_only`` {key: [each of ``costs``, then PRICED_FIELDS after the cost]};
        with ``tags`` (one a piece: aggregate's spans), each key starts with its piece's tag."""
        more = ["total_tokens > 0"] if cost_only else []  # rows without tokens cost nothing and are not
        extra = (more, "", "", [])  # unpriced: skip their join (half the rows: failures mostly have none)
        if prices is not None:
            span = (min(piece.lo for piece in pieces), max(piece.hi for piece in pieces)) if pieces else (0, 0)
            extra = (more, *self.dialect.price_join(self.reader, prices, span))

        def sums(rollup: Rollup | None) -> list[str]:
            measures = [] if cost_only else list(_ROLLUP_SUMS if rollup else _RAW_SUMS)
            if prices is not None:
                measures += [*costs, *priced_counts_sql("requests" if rollup else "1")]
            return measures

        width = len(group) + (1 if step_ms or tags is not None else 0)
        read = self._read(self._reads(pieces, query, group, step_ms, sums, extra))
        rows = itertools.chain.from_iterable(read if tags is None else (
            [(tag, *row) for row in piece_rows] for tag, piece_rows in zip(tags, read)))
        if cost_only:
            self._add_costs(rows, width, into)
        else:
            self._add_measures(rows, width, prices is not None, into)

    @staticmethod
    def _add_costs(rows: Iterable[tuple], width: int, into: dict[tuple, list]) -> None:
        """Add rows of (key..., costs..., the counts of PRICED_FIELDS) to {key: [costs..., counts...]}."""
        counts = len(PRICED_FIELDS) - 1
        for row in rows:
            acc = into.get(row[:width])
            if acc is None:
                acc = into[row[:width]] = [0.0] * (len(row) - width - counts) + [0] * counts
            if len(acc) == len(PRICED_FIELDS):  # one cost, the overview's: unrolled (a loop took 60% longer)
                acc[0] += row[width] or 0.0  # an ungrouped sum of nothing is one row of NULLs
                acc[1] += row[width + 1] or 0
                acc[2] += row[width + 2] or 0
                acc[3] += row[width + 3] or 0
            else:
                for i, value in enumerate(row[width:]):
                    acc[i] += value or 0

    @staticmethod
    def _add_measures(rows: Iterable[tuple], width: int, priced: bool, into: dict[tuple, Measures]) -> None:
        """Add rows of (key..., measures...) to {key: Measures}; a priced row's cost of nothing is 0, not NULL."""
        for row in rows:
            if not row[width]:  # an ungrouped aggregate of nothing is one row of NULLs
                continue
            key, values = row[:width], Measures(row[width:])
            if priced:
                values[_COST_AT] = values[_COST_AT] or 0.0
            acc = into.get(key)
            if acc is None:
                into[key] = values
            else:
                acc.merge(values)

    def list_events(self, query: "Query", page: int, page_size: int) -> tuple[list[dict], int]:
        """One page of raw events, newest first, and how many there are in all.

        The total comes from rollups (exact, and fast at any size); a deep page is
        found by walking rollup counts back from the newest hour, so no page ever
        skips more than one 5-minute bucket of rows with OFFSET."""
        since = self.raw_events_since()
        retained = query._replace(start_ms=max(query.start_ms, since))
        total = self.count(retained).get((), 0) if retained.start_ms < retained.end_ms else 0
        offset = (page - 1) * page_size
        if offset >= total:
            return [], total
        offset, end = self._page_end(retained, offset)
        clauses, params = retained.conditions()
        cursor = self.reader.execute(
            f"SELECT id, {', '.join(UsageEvent._fields)} FROM usage_events "
            f"WHERE {' AND '.join(['ts_ms >= ?', 'ts_ms < ?', *clauses])} "
            "ORDER BY ts_ms DESC, event_key DESC LIMIT ? OFFSET ?",
            [retained.start_ms, end, *params, page_size, offset])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()], total

    def _page_end(self, retained: "Query", offset: int) -> tuple[int, int]:
        """(offset, end) that find the rows of a page ``offset`` rows down from the newest:
        for a deep page, the end of the hour and then of the 5-minute bucket it starts
        in, found by walking rollup counts back from the newest, and the offset within."""
        start, end = retained.start_ms, retained.end_ms
        for step in (HOUR_MS, ROLLUPS[0].bucket_ms):
            if offset < 2000:
                break
            # 5-minute counts inside the hour found only: filtered, they come from the
            # full rollup, where a month before that hour is millions of rows.
            counts = sorted(self.count(retained._replace(start_ms=start, end_ms=end), step_ms=step).items(),
                            reverse=True)
            for (bucket,), requests in counts:
                if offset < requests:
                    start, end = max(start, bucket), min(end, bucket + step)
                    break
                offset -= requests
        return offset, end

    def iter_events(self, query: "Query", chunk: int = 2000) -> Iterable[dict]:
        """Every raw event of ``query``, oldest first, read in chunks after the last one
        seen (keyset): constant memory, and no read transaction held across a long
        export (which would keep the WAL from being checkpointed)."""
        clauses, params = query.conditions()
        after: tuple[int, str] = (query.start_ms - 1, "")
        while True:
            cursor = self.reader.execute(
                f"SELECT {', '.join(UsageEvent._fields)} FROM usage_events "
                f"WHERE {' AND '.join(['ts_ms >= ?', 'ts_ms < ?', '(ts_ms, event_key) > (?, ?)', *clauses])} "
                "ORDER BY ts_ms, event_key LIMIT ?", [query.start_ms, query.end_ms, *after, *params, chunk])
            rows = cursor.fetchall()
            for row in rows:
                yield dict(zip(UsageEvent._fields, row))
            if len(rows) < chunk:
                return
            after = (rows[-1][1], rows[-1][0])

    def last_status(self, ts_ms: int, source: str, auth_index: str) -> int | None:
        """The status code of the failed event of this credential at ts_ms."""
        row = self.reader.execute(
            "SELECT status_code FROM usage_events WHERE ts_ms = ? AND source = ? AND auth_index = ? AND failed = 1",
            (ts_ms, source, auth_index)).fetchone()
        if row is None:  # aged out: the 5-minute rollup remembers its last one
            row = self.reader.execute(
                "SELECT last_status FROM usage_rollup WHERE bucket_ms = ? AND source = ? AND auth_index = ? "
                "AND failed = 1 AND last_ms = ?", (ts_ms - ts_ms % ROLLUPS[0].bucket_ms, source, auth_index,
                                                   ts_ms)).fetchone()
        return None if row is None else row[0]

    def aliases(self) -> dict[str, str]:
        return dict(self.reader.execute("SELECT api_key, alias FROM api_key_aliases").fetchall())

    def set_aliases(self, aliases: dict[str, str], replace: bool) -> None:
        """Upsert aliases in one transaction; ``replace`` removes every other one."""
        with self.write_lock:
            with self.transaction():
                if replace:
                    self._writer.execute("DELETE FROM api_key_aliases")
                self._writer.executemany(
                    "INSERT INTO api_key_aliases (api_key, alias, updated_ms) VALUES (?, ?, ?) ON CONFLICT (api_key) "
                    "DO UPDATE SET alias = excluded.alias, updated_ms = excluded.updated_ms",
                    [(k, v, now_ms()) for k, v in aliases.items()])

    def delete_alias(self, api_key: str) -> bool:
        with self.write_lock:
            return self._writer.execute("DELETE FROM api_key_aliases WHERE api_key = ?", (api_key,)).rowcount > 0

    def request_events(self, request_id: str, limit: int = 50) -> list[dict]:
        """The stored events of one client request (retries and extra models share its
        request_id), oldest first."""
        cursor = self.reader.execute(
            f"SELECT id, {', '.join(UsageEvent._fields)} FROM usage_events WHERE request_id = ? "
            "ORDER BY ts_ms, event_key LIMIT ?", [request_id, limit])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def events_without_request_id(self) -> list[tuple[int, int, str]]:
        """(id, ts_ms, model) of the events that have no request_id (imported from CPA's
        legacy export), oldest first: what a backfill from request logs looks for."""
        return self.reader.execute("SELECT id, ts_ms, model FROM usage_events WHERE request_id = '' "
                                   "ORDER BY ts_ms, id").fetchall()

    def set_request_ids(self, pairs: list[tuple[str, int]]) -> None:
        """(request_id, event id) pairs, all or none: the ids a backfill matched."""
        with self.write_lock:
            with self.transaction():
                self._writer.executemany("UPDATE usage_events SET request_id = ? WHERE id = ? AND request_id = ''",
                                         pairs)

    def first_event_ms(self) -> int | None:
        """When the first event happened that any rollup remembers."""
        row = self.reader.execute("SELECT MIN(first_ms) FROM usage_rollup_daily "
                                  "WHERE bucket_ms = (SELECT MIN(bucket_ms) FROM usage_rollup_daily)").fetchone()
        return row[0]

    def newest_event_ms(self) -> int | None:
        """When the newest event stored happened."""
        row = self.reader.execute("SELECT MAX(last_ms) FROM usage_timeline "
                                  "WHERE bucket_ms = (SELECT MAX(bucket_ms) FROM usage_timeline)").fetchone()
        return row[0]

    @staticmethod
    def _smallest_rollup(columns: tuple[str, ...]) -> str:
        """The table with the fewest rows that holds every value of these dimensions: the
        narrowest family, in days."""
        return min((r for r in ROLLUPS if set(columns) <= set(r.dimensions)),
                   key=lambda r: (len(r.dimensions), -r.bucket_ms)).table

    def distinct_values(self, column: str) -> list[str]:
        """Every value a dimension ever took."""
        return [value for value, in self.distinct_combinations((column,))]

    def distinct_combinations(self, columns: tuple[str, ...]) -> list[tuple]:
        """Every combination of values these dimensions ever took together."""
        return self.reader.execute(f"SELECT DISTINCT {', '.join(columns)} FROM {self._smallest_rollup(columns)}"
                                   ).fetchall()

    def keys_last_used(self) -> dict[str, int]:
        """Every client key any rollup remembers, with the time of its last use."""
        return dict(self.reader.execute(f"SELECT api_key, MAX(last_ms) FROM {self._smallest_rollup(('api_key',))} "
                                        "GROUP BY api_key"))

    # -- budgets and alerts ----------------------------------------------------

    BUDGET_LIMITS = ("daily_usd", "monthly_usd", "daily_tokens", "monthly_tokens")

    def budgets(self) -> dict[str, dict]:
        """{api_key: {limit: value or None}}."""
        return self._per_key("budgets", self.BUDGET_LIMITS)

    def set_budget(self, api_key: str, limits: dict) -> None:
        self._set_per_key("budgets", self.BUDGET_LIMITS, api_key, limits)

    def _per_key(self, table: str, fields: tuple[str, ...]) -> dict[str, dict]:
        """{api_key: {field: value or None}} of a table of the owner's settings per client key."""
        rows = self.reader.execute(f"SELECT api_key, {', '.join(fields)} FROM {table}").fetchall()
        return {row[0]: dict(zip(fields, row[1:])) for row in rows}

    def _set_per_key(self, table: str, fields: tuple[str, ...], api_key: str, values: dict) -> None:
        """A key's settings in ``table``, all of ``fields`` (absent: NULL), replacing what it had."""
        columns = (*fields, "updated_ms")
        with self.write_lock:
            self._writer.execute(
                f"INSERT INTO {table} (api_key, {', '.join(columns)}) VALUES ({', '.join('?' * (len(columns) + 1))}) "
                "ON CONFLICT (api_key) DO UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name in columns),
                (api_key, *(values.get(name) for name in fields), now_ms()))

    def delete_budget(self, api_key: str) -> bool:
        with self.write_lock:
            return self._writer.execute("DELETE FROM budgets WHERE api_key = ?", (api_key,)).rowcount > 0

    # -- subscriptions: credential plans and client key billing -----------------

    PLAN_FIELDS = ("from_month", "name", "monthly_price", "currency", "usd_rate", "updated_ms")

    def plans(self) -> dict[str, list[dict]]:
        """{auth_index: its plans, oldest first (from_month '' is since always)}."""
        rows = self.reader.execute(f"SELECT auth_index, {', '.join(self.PLAN_FIELDS)} FROM credential_plans "
                                   "ORDER BY auth_index, from_month").fetchall()
        plans: dict[str, list[dict]] = {}
        for auth_index, *fields in rows:
            plans.setdefault(auth_index, []).append(dict(zip(self.PLAN_FIELDS, fields)))
        return plans

    def set_plan(self, auth_index: str, plan: dict) -> None:
        """Hold ``plan`` (PLAN_FIELDS but updated_ms) from its month on, replacing one from the same month."""
        fields = self.PLAN_FIELDS
        with self.write_lock:
            self._writer.execute(
                f"INSERT INTO credential_plans (auth_index, {', '.join(fields)}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (auth_index, from_month) DO UPDATE SET "
                + ", ".join(f"{name} = excluded.{name}" for name in fields[1:]),
                (auth_index, *(plan[name] for name in fields[:-1]), now_ms()))

    def delete_plans(self, auth_index: str, from_month: str | None = None) -> int:
        """Remove a credential's plans, or the one held from ``from_month``; how many went."""
        sql, params = "DELETE FROM credential_plans WHERE auth_index = ?", [auth_index]
        if from_month is not None:
            sql, params = sql + " AND from_month = ?", [auth_index, from_month]
        with self.write_lock:
            return self._writer.execute(sql, params).rowcount

    BILLING_RULES = ("markup", "usd_per_million_tokens")

    def key_billing(self) -> dict[str, dict]:
        """{api_key: {markup, usd_per_million_tokens}} (one of the two set)."""
        return self._per_key("key_billing", self.BILLING_RULES)

    def set_key_billing(self, api_key: str, rule: dict) -> None:
        self._set_per_key("key_billing", self.BILLING_RULES, api_key, rule)

    def delete_key_billing(self, api_key: str) -> bool:
        with self.write_lock:
            return self._writer.execute("DELETE FROM key_billing WHERE api_key = ?", (api_key,)).rowcount > 0

    ALERT_COLUMNS = ("id", "api_key", "kind", "period", "condition", "value", "threshold", "unit", "created_ms",
                     "delivered_ms", "attempts", "next_attempt_ms", "last_error")

    def add_alert(self, api_key: str, kind: str, period: str, condition: str, value: float, threshold: float,
                  unit: str, at_ms: int) -> bool:
        """Record an alert unless this key already had it for this period; True if new."""
        with self.write_lock:
            return self._writer.execute(
                "INSERT INTO alerts (api_key, kind, period, condition, value, threshold, unit, created_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (api_key, period, condition) DO NOTHING",
                (api_key, kind, period, condition, value, threshold, unit, at_ms)).rowcount > 0

    def alerts(self, api_key: str | None = None, limit: int = 100, undelivered_before: int | None = None
               ) -> list[dict]:
        """The newest alerts (of one key); or those due for (another) webhook attempt."""
        clauses, params = [], []
        if api_key is not None:
            clauses.append("api_key = ?")
            params.append(api_key)
        if undelivered_before is not None:
            clauses.append("delivered_ms IS NULL AND next_attempt_ms <= ?")
            params.append(undelivered_before)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.reader.execute(f"SELECT {', '.join(self.ALERT_COLUMNS)} FROM alerts{where} "
                                   "ORDER BY created_ms DESC, id DESC LIMIT ?", (*params, limit)).fetchall()
        return [dict(zip(self.ALERT_COLUMNS, row)) for row in rows]

    def alert_attempted(self, alert_id: int, delivered_ms: int | None, next_attempt_ms: int, error: str | None) -> None:
        with self.write_lock:
            self._writer.execute("UPDATE alerts SET attempts = attempts + 1, delivered_ms = ?, next_attempt_ms = ?, "
                                 "last_error = ? WHERE id = ?", (delivered_ms, next_attempt_ms, error, alert_id))

    # -- CPA metadata --------------------------------------------------------

    def put_metadata(self, name: str, body: Any, instance: str | None = None) -> None:
        """Replace one list of one CPA whole (one statement: readers see the old or the
        new one); ``instance`` defaults to the store's own CPA."""
        with self.write_lock:
            self._writer.execute("INSERT INTO cpa_metadata (instance, name, body, fetched_ms) VALUES (?, ?, ?, ?) "
                                 "ON CONFLICT (instance, name) DO UPDATE SET body = excluded.body, "
                                 "fetched_ms = excluded.fetched_ms",
                                 (self.instance if instance is None else instance, name, json.dumps(body), now_ms()))

    def get_metadata(self, name: str, instance: str | None = None) -> tuple[int, Any] | None:
        """(fetched_ms, body) of one list: one CPA's, or (``instance`` None) every CPA's
        together. Several CPAs' lists are joined, each entry naming its CPA (``cpa``),
        repeated strings (a client key two CPAs accept) once; the time is the oldest."""
        sql, params = "SELECT instance, fetched_ms, body FROM cpa_metadata WHERE name = ?", [name]
        if instance is not None:
            sql, params = sql + " AND instance = ?", [name, instance]
        rows = self.reader.execute(sql + " ORDER BY instance", params).fetchall()
        if not rows:
            return None
        if len(rows) == 1:
            return rows[0][1], json.loads(rows[0][2])
        return min(row[1] for row in rows), self._joined_lists(rows)

    @staticmethod
    def _joined_lists(rows: list[tuple]) -> list:
        """Several CPAs' (instance, fetched_ms, body) of one list as one list: each entry
        naming its CPA (``cpa``), a string two CPAs both list once."""
        joined: list = []
        for cpa, _, body in rows:
            for entry in json.loads(body):
                entry = {**entry, "cpa": cpa} if isinstance(entry, dict) else entry
                if isinstance(entry, dict) or entry not in joined:
                    joined.append(entry)
        return joined

    def metadata_times(self, instance: str | None = None) -> dict[str, int]:
        """{list: fetched_ms} of one CPA (the store's own by default)."""
        return dict(self.reader.execute("SELECT name, fetched_ms FROM cpa_metadata WHERE instance = ? ORDER BY name",
                                        (self.instance if instance is None else instance,)).fetchall())

    # -- sessions ------------------------------------------------------------------

    def revoke_session(self, sid: str, expires_ms: int) -> None:
        with self.write_lock:
            self._writer.execute("INSERT INTO revoked_sessions (sid, expires_ms) VALUES (?, ?) "
                                 "ON CONFLICT (sid) DO NOTHING", (sid, expires_ms))

    def session_revoked(self, sid: str) -> bool:
        return self.reader.execute("SELECT 1 FROM revoked_sessions WHERE sid = ?", (sid,)).fetchone() is not None

    def prune_revoked_sessions(self, now_ms_: int) -> int:
        """Forget revoked sessions that have expired anyway."""
        with self.write_lock:
            return self._writer.execute("DELETE FROM revoked_sessions WHERE expires_ms < ?", (now_ms_,)).rowcount

    # -- credential errors -------------------------------------------------------

    CREDENTIAL_ERROR_COLUMNS = CredentialError._fields

    def credential_errors(self, start_ms: int, end_ms: int, filters: dict[str, tuple[str, ...]] | None = None,
                          limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """One page of credential error events in [start, end), newest first, and how
        many there are; ``filters``: {auth_index|provider|model|instance: any of these}."""
        clauses, params = ["ts_ms >= ?", "ts_ms < ?"], [start_ms, end_ms]
        for column, values in (filters or {}).items():
            if column not in ("auth_index", "provider", "model", "instance"):
                raise ValueError(column)
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        where = " AND ".join(clauses)
        total = self.reader.execute(f"SELECT COUNT(*) FROM credential_errors WHERE {where}", params).fetchone()[0]
        rows = self.reader.execute(
            f"SELECT {', '.join(self.CREDENTIAL_ERROR_COLUMNS)} FROM credential_errors WHERE {where} "
            "ORDER BY ts_ms DESC, id DESC LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
        return [dict(zip(self.CREDENTIAL_ERROR_COLUMNS, row)) for row in rows], total

    def credential_states(self) -> dict[str, dict]:
        """The newest error event of every credential (by auth_index): its state as CPA
        last reported it, and how many errors it had in the last day."""
        columns = ", ".join(f"e.{c}" for c in self.CREDENTIAL_ERROR_COLUMNS)
        rows = self.reader.execute(
            f"SELECT {columns} FROM credential_errors e JOIN (SELECT auth_index, MAX(ts_ms) AS newest "
            "FROM credential_errors GROUP BY auth_index) n ON e.auth_index = n.auth_index AND e.ts_ms = n.newest "
            "ORDER BY e.id").fetchall()
        recent = dict(self.reader.execute("SELECT auth_index, COUNT(*) FROM credential_errors WHERE ts_ms >= ? "
                                          "GROUP BY auth_index", (now_ms() - DAY_MS,)).fetchall())
        states = {}
        for row in rows:
            state = dict(zip(self.CREDENTIAL_ERROR_COLUMNS, row))
            states[state["auth_index"]] = {**state, "errors_24h": recent.get(state["auth_index"], 0)}
        return states

    def credential_error_counts(self) -> dict[tuple[str, str], int]:
        """{(provider, status code): events} of every credential error ever stored (a
        running count: retention removes events, a counter never goes down), for /metrics."""
        rows = self.reader.execute("SELECT key, value FROM meta WHERE key LIKE 'errors_total.%'").fetchall()
        return {tuple(key[len("errors_total."):].rsplit("|", 1)): int(value) for key, value in rows}

    # -- prices ------------------------------------------------------------

    # A stored price (parse_price's row): its model or pattern, from when, its rates, the
    # long-context threshold (NULL: none) and the rates above it, its tier.
    PRICE_COLUMNS = ("model", "effective_from_ms", "input", "output", "cache_read", "cache_write", "reasoning",
                     "long_above", "long_input", "long_output", "long_cache_read", "long_cache_write",
                     "long_reasoning", "tier")

    NO_LONG_CONTEXT = (None,) * 6  # the long_above and the rates above it of a price without that tier

    def load_prices(self) -> list[tuple]:
        """PRICE_COLUMNS and updated_ms, each model's and tier's rows in the order they took effect."""
        return self.reader.execute(f"SELECT {', '.join(self.PRICE_COLUMNS)}, updated_ms FROM model_prices "
                                   "ORDER BY model, tier, effective_from_ms").fetchall()

    def upsert_prices(self, rows: list[tuple], replace_history: Iterable[tuple[str, str]] = ()) -> None:
        """PRICE_COLUMNS rows, all or none; the (model, tier) pairs of ``replace_history``
        lose their other prices first (re-priced since always). A long-context threshold
        the rollups of a model stored so far do not tell apart has them banded again
        (_start_rebanding)."""
        stamp = now_ms()
        keys = ("model", "tier", "effective_from_ms")
        with self.write_lock:
            with self.transaction():
                kept_before = self._kept_bands_of_stored_models()
                for model, tier in replace_history:
                    self._writer.execute("DELETE FROM model_prices WHERE model = ? AND tier = ?", (model, tier))
                self._writer.executemany(
                    f"INSERT INTO model_prices ({', '.join(self.PRICE_COLUMNS)}, updated_ms) "
                    f"VALUES ({', '.join('?' * (len(self.PRICE_COLUMNS) + 1))}) ON CONFLICT ({', '.join(keys)}) "
                    "DO UPDATE SET " + ", ".join(f"{column} = excluded.{column}" for column in
                                                 (*self.PRICE_COLUMNS, "updated_ms") if column not in keys),
                    [(*row, stamp) for row in rows])
                self._owner_first_bands = None
                self._start_rebanding(kept_before)

    def delete_prices(self, models: list[str], effective_from_ms: int | None = None,
                      tier: str | None = None) -> list[str]:
        """Remove these models' prices (with ``effective_from_ms``: only the one from
        then; with ``tier``: only that tier's), all or none; returns the models that had one."""
        where, extra = "", []
        for column, value in (("effective_from_ms", effective_from_ms), ("tier", tier)):
            if value is not None:
                where, extra = f"{where} AND {column} = ?", [*extra, value]
        with self.write_lock:
            with self.transaction():
                deleted = [m for m in models
                           if self._writer.execute(f"DELETE FROM model_prices WHERE model = ?{where}",
                                                   (m, *extra)).rowcount]
                self._owner_first_bands = None  # a band no price needs any more costs rows, not money
        return deleted

    # -- the prompt bands the rollups keep, and banding them again -------------

    def kept_first_bands(self, model: str) -> tuple[int, ...]:
        """The prompt bands where a long-context price of ``model`` begins (LongContext.
        first_band), the built-in table's and the owner's (any tier, any date): the bands
        its rollups tell apart (as_rolled_up). Called with the write lock held."""
        owner = self._owner_first_bands
        if owner is None:
            owner = self._owner_first_bands = {}
            for pattern, above in self._writer.execute(
                    "SELECT model, long_above FROM model_prices WHERE long_above IS NOT NULL").fetchall():
                owner.setdefault(pattern, set()).add(prompt_band(above) + 1)
            self._kept_bands = {}
        kept = self._kept_bands.get(model)
        if kept is None:
            mine = {band for pattern, bands in owner.items() if pattern_matches(pattern, model) for band in bands}
            kept = self._kept_bands[model] = tuple(sorted({*default_prices().first_bands_of(model), *mine}))
        return kept

    def _kept_bands_of_stored_models(self) -> dict[str, tuple[int, ...]]:
        """Each model the rollups hold, with the bands they keep of it now."""
        return {model: self.kept_first_bands(model)
                for (model,) in self._writer.execute("SELECT DISTINCT model FROM usage_series_daily").fetchall()}

    REBANDING_META = "rebanding"

    def _start_rebanding(self, kept_before: dict[str, tuple[int, ...]]) -> None:
        """Note a rebanding job (in the price change's transaction) for the stored models
        whose rollups now keep a band they did not: their rollups lumped those requests
        with shorter ones, so a long-context price from that band could not bill them.
        The job bands them again from the kept raw events (reband_step); before raw
        retention's cut nothing tells those requests apart, and they stay at the band
        they were kept at (the README says so). A job under way takes the new models and
        starts again from the first kept raw event."""
        gained = {model for model, before in kept_before.items() if set(self.kept_first_bands(model)) - set(before)}
        if not gained:
            return
        row = self._writer.execute("SELECT value FROM meta WHERE key = ?", (self.REBANDING_META,)).fetchone()
        under_way = json.loads(row[0])["models"] if row else []
        last = self._writer.execute("SELECT MAX(ts_ms) FROM usage_events").fetchone()[0]
        job = {"models": sorted({*gained, *under_way}), "next_ms": self.raw_events_since(),
               "end_ms": max(now_ms(), (last or 0) + 1)}
        self._writer.execute(_UPSERT_META, (self.REBANDING_META, json.dumps(job)))
        log.info("pricing: the rollups of %s will be banded again from the kept raw events (%s on)",
                 ", ".join(job["models"]), iso_ms(job["next_ms"]))

    def rebanding(self) -> dict | None:
        """The rebanding job under way ({models, next_ms, end_ms}), or None."""
        text = self.get_meta(self.REBANDING_META)
        return None if text is None else json.loads(text)

    REBAND_PIECE = 20_000  # raw events summed at a time (memory), within one hour's transaction

    def reband_step(self) -> dict | None:
        """Band one more UTC hour of the rebanding job again, in one transaction. In each
        family with the band (BANDED_FAMILIES), the job's models' rows of the finest rollup
        in the buckets the hour holds whole since raw retention's cut are removed and
        summed again from the raw events, as ingest sums them (as_rolled_up with the
        bands kept now); the family's hour is then summed again from those finest rows,
        and once the job is past its day (its four weeks) that day (those four weeks)
        from the hours (the days): each grain always equals the sum of the finer. Only a
        finest bucket (5 or 15 minutes) the cut went through stays as it was. Hours,
        days and four weeks without the models' raw events are skipped. Returns the job
        after the step (``done`` once past its end, when it is also forgotten), None
        without a job."""
        with self.write_lock:
            with self.transaction():
                row = self._writer.execute("SELECT value FROM meta WHERE key = ?", (self.REBANDING_META,)).fetchone()
                if row is None:
                    return None
                job = json.loads(row[0])
                models = job["models"]
                lo = max(job["next_ms"], self.raw_events_since())
                first = self._first_raw_event(models, lo)
                if first is not None and first < job["end_ms"]:
                    lo = max(lo, first - first % HOUR_MS)
                    hi = lo - lo % HOUR_MS + HOUR_MS
                    self._sum_raw_events_again(models, lo, hi)
                    first = self._first_raw_event(models, hi)
                    for family in BANDED_FAMILIES:
                        for finer, coarse in zip(family, family[1:]):
                            bucket = (hi - 1) - (hi - 1) % coarse.bucket_ms
                            if first is None or first >= job["end_ms"] or first >= bucket + coarse.bucket_ms:
                                self._sum_again_from(finer, coarse, bucket, models)
                    self._note_rollup_change(lo - lo % DAY_MS, hi)
                if first is None or first >= job["end_ms"]:
                    self._writer.execute("DELETE FROM meta WHERE key = ?", (self.REBANDING_META,))
                    return {**job, "next_ms": job["end_ms"], "done": True}
                job = {**job, "next_ms": first - first % HOUR_MS}
                self._writer.execute(_UPSERT_META, (self.REBANDING_META, json.dumps(job)))
                return {**job, "done": False}

    def _first_raw_event(self, models: list[str], since_ms: int) -> int | None:
        """The time of the first raw event of these models from ``since_ms`` on, or None."""
        return self._writer.execute(f"SELECT MIN(ts_ms) FROM usage_events WHERE ts_ms >= ? "
                                    f"AND model IN ({', '.join('?' * len(models))})", (since_ms, *models)).fetchone()[0]

    def _sum_raw_events_again(self, models: list[str], lo: int, hi: int) -> None:
        """The models' rows of each banded family's finest rollup in its buckets inside
        [lo, hi), removed and summed again from the raw events (reband_step)."""
        marks = ", ".join("?" * len(models))
        starts = {family[0]: -(-lo // family[0].bucket_ms) * family[0].bucket_ms for family in BANDED_FAMILIES}
        for finest, start in starts.items():
            self._writer.execute(f"DELETE FROM {finest.table} WHERE bucket_ms >= ? AND bucket_ms < ? "
                                 f"AND model IN ({marks})", (start, hi, *models))
        # the raw events as every reader sees them: the write lock held, nothing else writes
        kept = self.iter_events(Query(min(starts.values()), hi, models=tuple(models)), chunk=self.REBAND_PIECE)
        for rows in _chunks(kept, self.REBAND_PIECE):
            events = [UsageEvent(**row) for row in rows]
            for rollup, summed in rollup_rows(as_rolled_up(events, self.kept_first_bands)).items():
                whole = [values for values in summed if values[0] >= starts.get(rollup, hi)]
                if whole:
                    self.dialect.add_to_rollup(self._writer, rollup, whole)

    def _sum_again_from(self, finer: Rollup, coarse: Rollup, bucket_ms: int, models: list[str]) -> None:
        """The models' rows of one bucket of a coarser rollup of a family, summed again
        from the family's next finer rollup (_regroup, as rollup_rows sums them)."""
        marks = ", ".join("?" * len(models))
        keys = 1 + len(finer.dimensions)
        rows = self._writer.execute(f"SELECT {', '.join(rollup_columns(finer))} FROM {finer.table} "
                                    f"WHERE bucket_ms >= ? AND bucket_ms < ? AND model IN ({marks})",
                                    (bucket_ms, bucket_ms + coarse.bucket_ms, *models)).fetchall()
        self._writer.execute(f"DELETE FROM {coarse.table} WHERE bucket_ms = ? AND model IN ({marks})",
                             (bucket_ms, *models))
        summed = _regroup({tuple(values[:keys]): list(values[keys:]) for values in rows}, finer, coarse)
        if summed:
            self.dialect.add_to_rollup(self._writer, coarse, [key + tuple(acc) for key, acc in summed.items()])

    def list_dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self.reader.execute("SELECT received_ms, via, reason, payload, size FROM dead_letters "
                                   "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [DeadLetter(*row) for row in rows]


# -- copying a whole store: the migrate command --------------------------------------

# Tables copied row by row, by their keys: a row the target already has (a newer setting
# there, a credential error both hold) is kept.
_SETTINGS_TABLES = {"model_prices": ("model", "tier", "effective_from_ms"), "api_key_aliases": ("api_key",),
                    "budgets": ("api_key",), "credential_plans": ("auth_index", "from_month"),
                    "key_billing": ("api_key",),
                    "cpa_metadata": ("instance", "name"), "alerts": ("api_key", "period", "condition"),
                    "credential_errors": ("ts_ms", "event_key")}


def _columns(store: Store, table: str) -> list[str]:
    cursor = store.reader.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cursor.description]


def copy_store(source: Store, target: Store, progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Copy everything of ``source`` into ``target`` (any driver to any driver):
    events, rollups, dead letters, totals, prices, aliases, budgets, plans, key billing, alerts and CPA
    metadata. Returns what each table gained.

    Safe to run again, and to run into a database other instances already write to:
    events are copied with their identity (a second copy adds nothing) and without
    touching rollups; rollup rows are added to the target's, each table in one
    transaction that also records it as done for this source, so no table is added
    twice; settings the target already has win."""
    copy = _StoreCopy(source, target, progress)
    report = {"usage_events": copy.events(), **copy.rollups()}
    if "dead_letters+totals" not in copy.done:
        report["dead_letters"] = copy.dead_letters_and_totals()
    report.update(copy.settings())
    since = max(source.raw_events_since(), target.raw_events_since())
    if since:
        target.set_meta("raw_events_since", str(since))
    return report


class _StoreCopy:
    """The steps of copy_store, and what of ``source`` is already done in ``target``
    (the tables a transaction recorded as copied)."""

    def __init__(self, source: Store, target: Store, progress: Callable[[str, int, int], None] | None):
        self.source, self.target, self.progress = source, target, progress
        self.done_key = f"migrated.{source.get_meta('install_salt') or source.name}"
        self.done = set(json.loads(target.get_meta(self.done_key) or "[]"))

    def _mark(self, name: str) -> None:
        """Record ``name`` as copied, in the transaction that copies it."""
        self.done.add(name)
        self.target._writer.execute(_UPSERT_META, (self.done_key, json.dumps(sorted(self.done))))

    def _tell(self, table: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(table, done, total)

    def events(self) -> int:
        """The raw events with their identity (a second copy adds nothing); how many were new."""
        source, target = self.source, self.target
        total = source.reader.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0]
        copied = added = 0
        for chunk in _chunks(source.iter_events(Query(-2**62, 2**62), chunk=5000), 5000):
            events = [UsageEvent(**row) for row in chunk]
            with target.write_lock:
                for rows in fixed_chunks(events):
                    added += target._writer.execute(_insert_events_sql(len(rows)),
                                                    [value for ev in rows for value in ev]).rowcount
            copied += len(chunk)
            self._tell("usage_events", copied, total)
        return added

    def rollups(self) -> dict[str, int]:
        """Every rollup and histogram not copied yet, added to the target's rows, each in one transaction."""
        report = {}
        for rollup in ROLLUPS + HISTOGRAMS:
            if rollup.table in self.done:
                continue
            columns = rollup_columns(rollup)
            rows = self.source.reader.execute(f"SELECT {', '.join(columns)} FROM {rollup.table}").fetchall()
            with self.target.write_lock:
                with self.target.transaction() as conn:
                    conn.executemany(_upsert_rollup_sql(rollup), rows)
                    self.target._note_rollup_change(-2**62, 2**62)
                    self._mark(rollup.table)
            report[rollup.table] = len(rows)
            self._tell(rollup.table, len(rows), len(rows))
        return report

    def dead_letters_and_totals(self) -> int:
        """The dead letters and the running totals, added in one transaction; how many letters."""
        letters = self.source.reader.execute("SELECT received_ms, via, reason, payload, size FROM dead_letters"
                                             ).fetchall()
        totals = self.source.load_totals()
        with self.target.write_lock:
            with self.target.transaction() as conn:
                conn.executemany("INSERT INTO dead_letters (received_ms, via, reason, payload, size) "
                                 "VALUES (?, ?, ?, ?, ?)", letters)
                conn.executemany(_ADD_TO_TOTAL, [(f"totals.{k}", str(v)) for k, v in totals.items() if v])
                self._mark("dead_letters+totals")
        return len(letters)

    def settings(self) -> dict[str, int]:
        """Prices, aliases, budgets, plans, key billing, alerts and CPA metadata: what the target has already wins."""
        report = {}
        for table, keys in _SETTINGS_TABLES.items():
            columns = [c for c in _columns(self.source, table) if c != "id"]
            rows = self.source.reader.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            with self.target.write_lock:
                report[table] = sum(self.target._writer.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                    f"ON CONFLICT ({', '.join(keys)}) DO NOTHING", row).rowcount for row in rows)
        return report


def _batch_parts(items: list[tuple[Any, DeadLetter]]) -> tuple[list[UsageEvent], list[CredentialError]]:
    """The usage events and the credential errors of write_isolating's items, each in order."""
    return ([v for v, _ in items if isinstance(v, UsageEvent)],
            [v for v, _ in items if isinstance(v, CredentialError)])


def _plan_grains(usable: list[Rollup], base: Rollup | None) -> list[Rollup]:
    """The rollups a plan covers a range with, coarsest first: the grains of the usable
    family with the fewest dimensions; below the finest of them, those of the narrowest
    family with finer grains (the histograms by model or credential alone keep only four
    weeks); then ``base`` (the rollups' 5-minute one; the histograms have none). Fewer
    rows per bucket beats everything (of two families alike, the one listed first: the
    timeline's instance adds few rows)."""
    def width(rollup: Rollup) -> int:
        return len(rollup.dimensions)

    narrowest = min(usable, key=width).dimensions
    chosen = {r for r in usable if r.dimensions == narrowest}
    finest = min(r.bucket_ms for r in chosen)
    finer = [r for r in usable if r.bucket_ms < finest and r != base]
    if finer:
        edging = min(finer, key=width).dimensions
        chosen |= {r for r in finer if r.dimensions == edging}
    return sorted(chosen | ({base} if base else set()), key=lambda r: (-r.bucket_ms, width(r)))


def _cover(pieces: list[Piece], grains: list[Rollup], lo: int, hi: int, level: int = 0) -> None:
    """Add the pieces that cover [lo, hi): the longest aligned run of the coarsest grain,
    its unaligned ends covered by the next grains in turn; what no grain covers is read
    from raw events (rollup None)."""
    if lo >= hi:
        return
    if level == len(grains):
        pieces.append(Piece(None, lo, hi))
        return
    size = grains[level].bucket_ms
    first, last = -(-lo // size) * size, hi // size * size
    if first >= last:
        _cover(pieces, grains, lo, hi, level + 1)
        return
    _cover(pieces, grains, lo, first, level + 1)
    pieces.append(Piece(grains[level], first, last))
    _cover(pieces, grains, last, hi, level + 1)


def _cut_at_days(pieces: list[Piece]) -> list[Piece]:
    """Pieces finer than a day cut at UTC midnights (up to a series window long), each day
    kept by RollupCache on its own: a range that slides re-reads only its ends."""
    return [Piece(rollup, cut_lo, cut_hi) for rollup, lo, hi in pieces
            for cut_lo, cut_hi in (_day_cuts(lo, hi) if rollup and rollup.bucket_ms < DAY_MS
                                   and hi - lo <= SERIES_WINDOW_MS + DAY_MS else [(lo, hi)])]


def _day_cuts(lo: int, hi: int) -> list[tuple[int, int]]:
    """[lo, hi) cut at every UTC midnight inside it."""
    cuts = [lo, *range(lo - lo % DAY_MS + DAY_MS, hi, DAY_MS), hi]
    return list(zip(cuts, cuts[1:]))


def _chunks(items: Iterable, size: int) -> Iterable[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


###############################################################################
# 4. CPA clients ###############################################################
###############################################################################
#
# CPA counts every failed use of its management key per client IP, RESP and HTTP
# together, and bans the IP for 30 minutes at 5 failures. The counter does not
# expire by itself: only a success, or two idle hours, clear it. cpa-usage usually
# runs on the CPA host, so a careless retry loop would lock the owner's own
# localhost out of CPA. Hence one KeyGate that every use of the key goes through.


# A CPA that refuses RESP altogether (home mode, v7.1.17's "RESP AUTH disabled") says
# nothing of the key, and counts no failure: that is a transport error, not one of these.
_REJECTION_MARKERS = ("invalid management key", "missing management key", "ip banned", "remote management",
                      "noauth", "authentication required", "invalid password", "wrongpass")
_GO_DURATION = re.compile(r"in ((?:\d+(?:\.\d+)?(?:h|m|s|ms))+)")


class Stopping(Exception):
    """The service is shutting down; whatever waited should give up quietly."""


class AuthRejected(Exception):
    """CPA refused the management key, or refuses this address for now."""


class QueueError(Exception):
    """CPA answered a queue command with an error that is not about the key."""


def is_rejection(message: str) -> bool:
    """Whether an error text from CPA is a verdict on the key (or a ban)."""
    text = message.lower()
    return any(marker in text for marker in _REJECTION_MARKERS)


class RepeatedCondition:
    """One line when a condition that repeats starts, a short one at most every 10
    minutes while it lasts, one when it ends: CPA unreachable, its key rejected, a
    metadata list failing. A retry loop sees the same failure at every attempt (every
    10 s while CPA is down: 8,640 warnings a day, each as long as CPA's error body
    may be); the log should say that it began, that it goes on, and when it ended.

    ``failed(error)`` at every failed attempt, ``recovered()`` at a success (nothing
    while the condition is not on). The first line is ``before`` + the error +
    ``after`` (the caller's own words: what, where, why, what next); a summary is
    "<what> for 20m, 120 attempts: <the last error>"; the end, at INFO, is "<again>
    after 23m, 138 attempts". Every line is at most LINE_LIMIT characters, control
    characters counted as LineFormatter shows them: the error is cut with an ellipsis.
    ``end_after``: the end is told only after so many failed attempts (2 for a
    connection: one that the first retry restores is told by the session that follows,
    and a link that drops now and then gets no second line per drop). ``clock``
    (seconds) is injectable for tests."""

    SUMMARY_EVERY = 600.0
    LINE_LIMIT = 300

    def __init__(self, what: str, again: str, level: int = logging.WARNING, count: str = "attempts",
                 end_after: int = 1, clock: Callable[[], float] = time.monotonic):
        self.what, self.again, self.level, self.count, self._clock = what, again, level, count, clock
        self.end_after = end_after
        self._lock = threading.Lock()
        self.since: float | None = None  # when the condition started; None while it is not on
        self.attempts = 0
        self._logged_at = 0.0

    def failed(self, error: str, before: str | None = None, after: str = "") -> None:
        """One more failed attempt: logged when it starts the condition, or as a summary
        when the last line is SUMMARY_EVERY old."""
        now = self._clock()
        with self._lock:
            self.attempts += 1
            if self.since is None:
                self.since = self._logged_at = now
                line = self._fit(f"{self.what}: " if before is None else before, error, after)
            elif now - self._logged_at >= self.SUMMARY_EVERY:
                self._logged_at = now
                line = self._fit(f"{self.what} for {self._lasted(now)}, {self._attempts()}: ", error)
            else:
                return
        log.log(self.level, "%s", line)

    def recovered(self) -> bool:
        """The condition ended; whether that was logged (at INFO)."""
        if self.since is None:
            return False
        now = self._clock()
        with self._lock:
            if self.since is None:
                return False
            told = self.attempts >= self.end_after
            line = self._fit(f"{self.again} after {self._lasted(now)}, {self._attempts()}", "")
            self.since, self.attempts = None, 0
        if told:
            log.info("%s", line)
        return told

    def _attempts(self) -> str:
        return f"{self.attempts} {self.count if self.attempts != 1 else self.count.removesuffix('s')}"

    def _lasted(self, now: float) -> str:
        return format_duration(max(0, round(now - (self.since or now))))

    @classmethod
    def _fit(cls, before: str, error: str, after: str = "") -> str:
        """before + error + after in LINE_LIMIT characters as shown (control characters
        escaped as LineFormatter does): the error cut with an ellipsis, the line too if
        even that is not enough."""
        def shown(text: str) -> str:
            return _CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)

        before, error, after = shown(before), shown(error), shown(after)
        room = cls.LINE_LIMIT - len(before) - len(after)
        if len(error) > room:
            error = error[:max(room - 1, 0)] + "…"
        line = before + error + after
        return line if len(line) <= cls.LINE_LIMIT else line[:cls.LINE_LIMIT - 1] + "…"


class KeyGate:
    """One key, one pause: every use of CPA's management key asks here first.

    After a rejection, every user of the key pauses together. The next single probe
    comes after 10 minutes, then 30 minutes, then every 3 h 5 min: at most two
    failures fall into any 30 minutes, and the fourth comes after CPA has forgotten
    the earlier ones (every hour it purges addresses idle for 2 hours), so its count
    of 5 is never reached. While CPA reports a ban, nothing is tried until the ban ends.
    The state is kept in the database, so a crash-looping service cannot spend the
    allowance either; a changed key is tried at once.
    """

    RETRY_DELAYS = (600.0, 1800.0, 11100.0)
    def __init__(self, key: str, store: Store, clock: Callable[[], float] = time.time, cpa: str | None = None):
        """``cpa``: the name of a CPA other than the primary one, whose state is saved apart."""
        self._store = store
        self.meta_key = "key_gate" if cpa is None else f"key_gate.{cpa}"  # where the state is saved
        self._clock = clock
        self._lock = threading.Condition()
        self._probe = threading.Lock()
        self._fingerprint = store.fingerprint(key, 32)
        self.state, self.reason, self.failures = "unknown", None, 0
        self.rejections = 0  # in this process, for /metrics
        self.rejected_at: float | None = None
        self.next_attempt_at: float | None = None
        named = "CPA" if cpa is None else f"CPA {cpa}"
        self._rejection = RepeatedCondition(f"{named} rejects the management key",
                                            f"{named} accepts the management key again", logging.ERROR,
                                            clock=clock)
        saved = json.loads(store.get_meta(self.meta_key) or "{}")
        if saved.get("fingerprint") == self._fingerprint and saved.get("state") == "rejected":
            self.state, self.reason, self.failures = "rejected", saved["reason"], saved["failures"]
            self.rejected_at, self.next_attempt_at = saved["rejected_at"], saved["next_attempt_at"]
            log.error("CPA rejected this management key before (%s); next attempt at %s",
                      self.reason, iso_ms(int(self.next_attempt_at * 1000)))

    def use(self, stop: threading.Event, action: Callable[[], Any], wait: bool = True) -> Any:
        """Run ``action`` (one use of the key) when allowed; record CPA's verdict.

        ``action`` raises AuthRejected for a verdict against the key; any other
        exception (CPA down, say) says nothing about the key and passes through.
        While the key is not known to be good, only one probe runs at a time.
        ``wait=False`` (a request someone waits for) raises AuthRejected at once
        instead of waiting for the next allowed attempt."""
        if self.state == "ok":
            return self._judged(action)
        if not wait:
            self.raise_if_paused()
        with self._probe:
            self.wait_turn(stop)
            return self._judged(action)

    def _judged(self, action: Callable[[], Any]) -> Any:
        try:
            result = action()
        except AuthRejected as exc:
            self._rejected(str(exc))
            raise
        if self.state != "ok":
            self._accepted()
        return result

    def raise_if_paused(self) -> None:
        """AuthRejected now if the key is paused after a rejection."""
        if self.state == "rejected" and (self.next_attempt_at or 0) > self._clock():
            raise AuthRejected(f"{self.reason} (the key is paused until "
                               f"{iso_ms(int((self.next_attempt_at or 0) * 1000))})")

    def wait_turn(self, stop: threading.Event) -> None:
        """Block while the key is paused after a rejection (Stopping on shutdown)."""
        while True:
            if stop.is_set():
                raise Stopping()
            with self._lock:
                wait = 0.0 if self.state != "rejected" else (self.next_attempt_at or 0) - self._clock()
                if wait <= 0:
                    return
                self._lock.wait(min(wait, 1.0))

    def _accepted(self) -> None:
        with self._lock:
            was_rejected = self.state == "rejected"
            self.state, self.reason, self.failures = "ok", None, 0
            self.rejected_at = self.next_attempt_at = None
            self._lock.notify_all()
        if was_rejected:
            if not self._rejection.recovered():  # rejected by an earlier run
                log.info("CPA accepted the management key again")
            self._store.set_meta(self.meta_key, json.dumps({"fingerprint": self._fingerprint, "state": "ok"}))

    def _rejected(self, reason: str) -> None:
        now = self._clock()
        with self._lock:
            ban = _GO_DURATION.search(reason) if "banned" in reason.lower() else None
            if ban:  # a ban answer is not counted by CPA; wait it out, with a margin
                delay = parse_duration(ban.group(1)) + 60.0
            else:
                self.failures += 1
                delay = self.RETRY_DELAYS[min(self.failures, len(self.RETRY_DELAYS)) - 1]
            self.state, self.reason = "rejected", reason
            self.rejections += 1
            self.rejected_at, self.next_attempt_at = now, now + delay
            saved = {"fingerprint": self._fingerprint, "state": "rejected", "reason": reason,
                     "failures": self.failures, "rejected_at": now, "next_attempt_at": self.next_attempt_at}
        self._store.set_meta(self.meta_key, json.dumps(saved))
        self._rejection.failed(reason, "CPA rejected the management key: ",
                               f". Everything that uses the key pauses; next single attempt at "
                               f"{iso_ms(int(self.next_attempt_at * 1000))}. Fix CPA_MANAGEMENT_KEY and restart "
                               "cpa-usage to try a new key at once.")

    def snapshot(self) -> dict:
        with self._lock:
            return {"auth": self.state, "auth_error": self.reason,
                    "auth_rejected_at": iso_ms(int(self.rejected_at * 1000)) if self.rejected_at else None,
                    "auth_next_attempt_at": iso_ms(int(self.next_attempt_at * 1000)) if self.next_attempt_at else None}


class QueueConnection:
    """One kept-open RESP connection to CPA's usage queue, through redis-py.

    redis-py is held to CPA's RESP subset: RESP2 (redis-py 8 defaults to RESP3 and
    opens with HELLO, which CPA counts as a failed login), no CLIENT SETINFO, no
    CLIENT SETNAME, no SELECT, no health-check PING outside a subscription, and no
    retries of its own (whether to use the key again is the KeyGate's decision).
    """

    def __init__(self, host: str, port: int, tls: bool, key: str, timeout: float):
        connection_class = redis.SSLConnection if tls else redis.Connection
        self._conn = connection_class(
            host=host, port=port, password=key, protocol=2, driver_info=None, db=0, client_name=None,
            health_check_interval=0, socket_timeout=timeout, socket_connect_timeout=timeout,
            socket_keepalive=True, retry=Retry(NoBackoff(), 0))

    def open(self) -> None:
        """Connect and AUTH; AuthRejected when CPA refuses the key."""
        try:
            self._conn.connect()
        except (redis.AuthenticationError, redis.ResponseError) as exc:
            if is_rejection(str(exc)):
                raise AuthRejected(str(exc)) from None
            raise QueueError(str(exc)) from None

    def _command(self, *args: Any, timeout: float | None = None) -> Any:
        self._conn.send_command(*args)
        try:
            if timeout is None:
                return self._conn.read_response()
            return self._conn.read_response(timeout=timeout)
        except redis.ResponseError as exc:
            if is_rejection(str(exc)):
                raise AuthRejected(str(exc)) from None
            raise QueueError(str(exc)) from None

    def lpop(self, queue_key: str, count: int) -> list[bytes]:
        """Pop up to ``count`` of the oldest records (CPA's LPOP is destructive)."""
        reply = self._command("LPOP", queue_key, count)
        if reply is None:  # an empty queue is [] from CPA but nil from Redis
            return []
        return reply if isinstance(reply, list) else [reply]

    def subscribe(self, channel: str, timeout: float) -> bool:
        """SUBSCRIBE and wait for the acknowledgement; False where CPA has no SUBSCRIBE."""
        try:
            reply = self._command("SUBSCRIBE", channel, timeout=timeout)
        except QueueError as exc:
            if "unknown command" in str(exc).lower():
                return False
            raise
        if not (isinstance(reply, list) and reply and reply[0].lower() == b"subscribe"):
            raise QueueError(f"unexpected reply to SUBSCRIBE: {reply!r}")
        return True

    def read_message(self, timeout: float) -> tuple[str, bytes | None] | None:
        """The next pushed message as (kind, payload), or None when nothing came in time."""
        if not self._conn.can_read(timeout=timeout):
            return None
        try:
            reply = self._conn.read_response()
        except redis.ResponseError as exc:
            raise QueueError(str(exc)) from None
        self._compact_read_buffer()
        if not isinstance(reply, list) or not reply:
            raise QueueError(f"unexpected message in subscription: {reply!r}")
        kind = reply[0].decode("ascii", "replace").lower()
        return kind, reply[2] if kind == "message" and len(reply) == 3 else None

    def _compact_read_buffer(self) -> None:
        """redis-py empties its read buffer only when every buffered byte has been read,
        which a busy subscription never allows (the last recv() always ends inside a
        message): the buffer grew by every byte received, 800 MB for a million records.
        Once the part already read passes 1 MiB, keep only the unread rest. (Reaches
        into redis-py 8.1's SocketBuffer; requirements.txt pins it, a test guards it.)"""
        buffer = getattr(self._conn._parser, "_buffer", None)
        if buffer is not None and buffer.get_pos() > 1 << 20:
            raw = buffer._buffer
            rest = raw.read()
            raw.seek(0)
            raw.truncate()
            raw.write(rest)
            raw.seek(0)

    def ping(self) -> None:
        """PING inside a subscription: the only way to tell a quiet link from a dead one."""
        self._conn.send_command("PING")

    def unsubscribe(self) -> None:
        self._conn.send_command("UNSUBSCRIBE")

    def close(self) -> None:
        self._conn.disconnect()


class RespProbe(NamedTuple):
    """What answers at a RESP address: ``kind`` is resp, http, closed, silent, disabled,
    other or unreachable; ``detail`` says it in words, for /status and the log."""

    kind: str
    detail: str

    @property
    def speaks_resp(self) -> bool:
        return self.kind == "resp"


# Not a number of arguments: CPA answers "-ERR protocol error" and closes, before any
# check of the key (so it counts no failed login); Redis answers alike; an HTTP server
# answers 400. (internal/api/redis_queue_protocol.go, readRESPArray)
RESP_PROBE = b"*?\r\n"


def probe_resp(endpoint: tuple[str, int, bool], timeout: float) -> RespProbe:
    """Whether RESP is spoken at ``endpoint``, found without the management key: what
    is not RESP (an HTTP-only reverse proxy, a CPA with RESP off) never sees the key,
    and no attempt of the five CPA allows is spent finding out."""
    host, port, tls = endpoint
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return RespProbe("unreachable", f"cannot connect to {host}:{port} ({exc.strerror or exc})")
    data, closed = _probe_answer(sock, host, tls, timeout)
    return _judge_probe(f"{host}:{port}", data, closed)


def _probe_answer(sock: socket.socket, host: str, tls: bool, timeout: float) -> tuple[bytes, bool]:
    """(the first line or so of what answers RESP_PROBE, whether the other side closed)."""
    data, closed = b"", False
    try:
        if tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.sendall(RESP_PROBE)
        deadline = time.monotonic() + timeout
        while b"\n" not in data and len(data) < 512 and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(512)
            if not chunk:
                closed = True
                break
            data += chunk
    except (TimeoutError, socket.timeout):
        pass
    except OSError:  # reset or refused while talking (a TLS handshake too): closed at once
        closed = True
    finally:
        sock.close()
    return data, closed


def _judge_probe(where: str, data: bytes, closed: bool) -> RespProbe:
    """What the answer to RESP_PROBE at ``where`` (host:port) says the other side is."""
    first_line = data.split(b"\n", 1)[0].strip().decode("utf-8", "replace")[:120]
    if data.startswith(b"HTTP/"):
        return RespProbe("http", f"{where} answers RESP with HTTP ({first_line}): an HTTP-only reverse "
                                 "proxy, or a CPA whose RESP output is off")
    if data[:1] in (b"-", b"+", b"*", b"$", b":"):
        text = first_line.lower()
        if "home mode" in text or "resp auth disabled" in text or "disabled" in text:
            return RespProbe("disabled", f"CPA at {where} refuses RESP ({first_line})")
        return RespProbe("resp", f"RESP answers at {where}")
    if data:
        return RespProbe("other", f"{where} does not speak RESP (it answered {first_line!r})")
    if closed:
        return RespProbe("closed", f"{where} closes the connection at once (RESP off, or management "
                                   "disabled in CPA)")
    return RespProbe("silent", f"{where} never answers RESP")


class CpaHttpError(Exception):
    """CPA's HTTP side failed or answered an error that is not about the key; ``status``
    is the HTTP status when there was an answer."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class MetadataList(NamedTuple):
    """One list of CPA's management API that the metadata sync keeps, on both APIs."""

    name: str  # stored and served under this name: its /v0/management route's
    v0_field: str  # the field of the v0 answer that holds the list
    v8: str  # its route under /v8/management: a config node (the list itself) or /credentials
    shape: str  # how a v8 answer becomes the v0 form: files, keys, groups, compat
    required: bool = False  # every CPA has it: a 404 is a failure, not a list this CPA lacks


# Provider key lists: v0 has one route each ({name: [entries]}); v8 one config node each
# under /config/api-keys/<provider>, a list of groups {name, base-url, keys: [{api-key,
# weight}]}. The xAI list exists since v7.2.73, interactions since v7.2.51, meta in v8.
PROVIDER_KEY_FAMILIES = ("gemini", "claude", "codex", "vertex", "xai", "interactions", "meta")
METADATA_LISTS = (
    MetadataList("auth-files", "files", "/credentials", "files", required=True),
    MetadataList("api-keys", "api-keys", "/config/access/api-keys", "keys", required=True),
    *(MetadataList(f"{family}-api-key", f"{family}-api-key", f"/config/api-keys/{family}", "groups")
      for family in PROVIDER_KEY_FAMILIES),
    MetadataList("openai-compatibility", "openai-compatibility", "/config/api-keys/openai-compatibility", "compat"),
)
PROVIDER_LISTS = tuple(spec.name for spec in METADATA_LISTS if spec.shape in ("groups", "compat"))

# The other management routes this program uses: (under /v0/management, under /v8/management).
# v8 renamed them; its config nodes take and give the raw JSON value, v0 wraps values.
MANAGEMENT_ROUTES = {
    "recording": ("/usage-statistics-enabled", "/config/observability/usage/usage-statistics-enabled"),
    "retention": ("/config", "/config/observability/usage/redis-usage-queue-retention-seconds"),
    "queue": ("/usage-queue", "/observability/usage/queue"),
}
DEFAULT_QUEUE_RETENTION_S = 60  # CPA's default, and what it makes of a value <= 0; at most 3600


def _v0_entries(spec: MetadataList, answer: Any) -> list:
    if not isinstance(answer, dict) or not isinstance(answer.get(spec.v0_field), list):
        raise CpaHttpError(f"unexpected answer from /v0/management/{spec.name}")
    return answer[spec.v0_field]


def _v8_entries(spec: MetadataList, answer: Any) -> list:
    """A v8 answer in the form v0 gave, which is what is stored and what the dashboard
    reads: credential files as they are, client keys as a list of strings, and each key
    of a provider's groups as one entry (the group's fields beside the key's)."""
    if spec.shape == "files":
        return _v0_entries(spec._replace(v0_field="files"), answer)
    if not isinstance(answer, list):
        raise CpaHttpError(f"unexpected answer from /v8/management{spec.v8}")
    if spec.shape == "keys":
        return [_v8_client_key(item) for item in answer if isinstance(item, (str, dict))]
    return [entry for group in answer if isinstance(group, dict) for entry in _v8_group_entries(spec, group)]


def _v8_client_key(item: str | dict) -> str | None:
    """One client key of v8's list: a string, or an object with its api-key (or key)."""
    return item if isinstance(item, str) else item.get("api-key") or item.get("key")


def _v8_group_entries(spec: MetadataList, group: dict) -> list[dict]:
    """The v0 entries of one v8 provider group: the group as one entry with its keys
    (OpenAI-compatible providers), or each key beside the group's fields."""
    keys = group.get("keys") if isinstance(group.get("keys"), list) else None
    shared = {k: v for k, v in group.items() if k != "keys"}
    if spec.shape == "compat":
        return [{**shared, "api-key-entries": keys if keys is not None else group.get("api-key-entries", [])}]
    if keys is None:
        return [shared]
    return [{**shared, **key} for key in keys if isinstance(key, dict)]


_RAW_DECODER = json.JSONDecoder()
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def split_json_array(data: bytes) -> list[bytes] | None:
    """The elements of a JSON array as the bytes they are, or None when ``data`` is not
    one array. Each element is judged by the decoder on its own, so one that is nested
    however deep, or is not even JSON, stays one element and goes aside without its
    neighbours, which CPA has already removed from its queue. The C parser finds the
    elements (a thousand records in about 10 ms); where it gives up (nesting deeper
    than Python parses, text that is not UTF-8), a scan of the bytes does."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _scan_json_array(data)
    position = _JSON_SPACE.match(text).end()
    if text[position:position + 1] != "[":
        return None
    position = _JSON_SPACE.match(text, position + 1).end()
    elements: list[bytes] = []
    if text[position:position + 1] == "]":
        return [] if not text[position + 1:].strip(" \t\n\r") else None
    while True:
        try:
            end = _RAW_DECODER.raw_decode(text, position)[1]
        except (ValueError, RecursionError):
            return _scan_json_array(data)
        elements.append(text[position:end].encode("utf-8", "surrogatepass"))
        position = _JSON_SPACE.match(text, end).end()
        separator = text[position:position + 1]
        if separator == ",":
            position = _JSON_SPACE.match(text, position + 1).end()
        elif separator == "]" and not text[position + 1:].strip(" \t\n\r"):
            return elements
        else:
            return None


_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.S)  # the rest of a JSON string, its closing quote included


def _scan_json_array(data: bytes) -> list[bytes] | None:
    """split_json_array by scanning bytes: strings (skipped whole), brackets and commas only."""
    text = data.strip()
    if not text.startswith(b"[") or not text.endswith(b"]"):
        return None
    elements: list[bytes] = []
    depth, start, position, end = 0, None, 1, len(text) - 1
    while position < end:
        byte = text[position]
        if depth == 0 and byte in b" \t\r\n,":
            if byte == 0x2C:  # a comma between elements
                if start is None:
                    return None
                elements.append(text[start:position].rstrip())
                start = None
            position += 1
            continue
        if start is None:
            start = position
        if byte == 0x22:
            string = _STRING_REST.match(text, position + 1, end)
            if string is None:
                return None  # not closed before the array ends
            position = string.end()
            continue
        depth += (byte in b"[{") - (byte in b"]}")
        if depth < 0:
            return None
        position += 1
    if depth:
        return None
    if start is not None:
        elements.append(text[start:end].rstrip())
    elif elements:
        return None  # a trailing comma
    return elements


def queue_item_payload(element: bytes) -> bytes:
    """One element of the HTTP usage queue as the payload it was: a record is its JSON
    object; a payload that was not JSON comes as a JSON string (CPA's usageQueueRecord)."""
    if element.startswith(b'"'):
        try:
            value = json.loads(element)
        except ValueError:
            return element
        if isinstance(value, str):
            return value.encode("utf-8", "surrogatepass")
    return element


class CpaHttp:
    """CPA's HTTP side: the management API with the management key (through the KeyGate,
    never with a missing key, never with another Authorization scheme), and client
    routes such as /v1/models with one of CPA's client keys.

    Which management API a CPA speaks is found by asking once: v8's ``/v8/management``
    where it answers, ``/v0/management`` otherwise; asked again when CPA's version
    changes or a v0 route every CPA has answers 404 (v0 removed after an upgrade).
    Requests go over kept-alive connections, one per thread, so polling the HTTP usage
    queue costs no TCP or TLS handshake per pop. A path in CPA_BASE_URL (a reverse
    proxy's prefix) comes before every path."""

    def __init__(self, base_url: str, key: str, gate: KeyGate, timeout: float = 10.0):
        self.base_url, self.key, self.gate, self.timeout = base_url, key, gate, timeout
        parts = urllib.parse.urlsplit(base_url)
        self._https, self._host, self._port = parts.scheme == "https", parts.hostname or "", parts.port
        self._prefix = parts.path.rstrip("/")
        self._local = threading.local()
        self.api: str | None = None  # "v8" or "v0", once known
        self.version: str | None = None  # X-CPA-VERSION of the last management answer

    # -- the wire -------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._https:
                conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                                   context=ssl.create_default_context())
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _exchange(self, method: str, path: str, headers: dict, body: bytes | None) -> tuple[int, Any, bytes]:
        """(status, headers, body) of one request on this thread's kept-alive connection.
        A kept connection the other side closed while idle is opened again once."""
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request(method, self._prefix + path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if reused and attempt == 1:
                    continue
                raise CpaHttpError(f"{path}: {exc or type(exc).__name__}") from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise CpaHttpError(f"{path}: {getattr(exc, 'reason', None) or exc or type(exc).__name__}") from None
            if response.will_close:
                conn.close()
            return response.status, response.headers, data
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, key: str, body: Any = None, management: bool = False
              ) -> tuple[int, Any, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json",
                   **({"Content-Type": "application/json"} if data is not None else {})}
        status, answer_headers, payload = self._exchange(method, path, headers, data)
        if management:
            self._note_management_answer(status, answer_headers, payload)
        return status, answer_headers, payload

    def _note_management_answer(self, status: int, headers: Any, payload: bytes) -> None:
        """Note the CPA version a management answer names (another one: which API it
        speaks is asked again), and raise AuthRejected where it is a verdict on the key."""
        version = headers.get("X-CPA-VERSION")
        if version and self.version and version != self.version:
            self.api = None  # upgraded or downgraded
        self.version = version or self.version
        if status in (401, 403):
            message = _error_text(payload)
            if is_rejection(message):
                raise AuthRejected(message)

    def client(self, path: str, client_key: str) -> Any:
        """A client route (not management), with one of CPA's client keys."""
        status, _, payload = self._call("GET", path, client_key)
        return _json_answer(status, path, payload)

    # -- the management API ------------------------------------------------------

    def _management(self, paths: tuple[str, str], stop: threading.Event, method: str = "GET", body: Any = None,
                    wait: bool = True, query: str = "") -> tuple[str, int, bytes]:
        """(API, status, body) of a route given as (v0 path, v8 path), on the API this CPA speaks."""
        v0_path, v8_path = paths

        def call() -> tuple[str, int, bytes]:
            api = self.api or self._detect()
            path = v8_path if api == "v8" else v0_path
            status, _, payload = self._call(method, f"/{api}/management{path}{query}", self.key, body, True)
            return api, status, payload

        return self.gate.use(stop, call, wait)

    def _detect(self) -> str:
        """Ask once which management API this CPA speaks (a use of the key, inside the
        gate's turn): v8 where /v8/management answers, itself or with its JSON
        not_found; a CPA without v8 answers a route it does not know with a bare 404."""
        path = "/v8/management" + MANAGEMENT_ROUTES["recording"][1]
        status, _, payload = self._call("GET", path, self.key, management=True)
        if 200 <= status < 300 or (status == 404 and _error_text(payload, "") != ""):
            self.api = "v8"
        elif status == 404:
            self.api = "v0"
        else:
            raise CpaHttpError(f"HTTP {status} from {path}: {_error_text(payload)}", status)
        log.info("CPA at %s speaks the %s management API", self.base_url, self.api)
        return self.api

    def metadata_list(self, spec: MetadataList, stop: threading.Event, wait: bool = True) -> list | None:
        """One list in its v0 form; None when this CPA does not have it (a 404 that
        is not a failure: the list is newer than this CPA)."""
        api, status, payload = self._management((f"/{spec.name}", spec.v8), stop, wait=wait)
        if status == 404:
            return self._missing_list(spec, api, payload)
        answer = _json_answer(status, spec.name, payload)
        return _v8_entries(spec, answer) if api == "v8" else _v0_entries(spec, answer)

    def _missing_list(self, spec: MetadataList, api: str, payload: bytes) -> list | None:
        """What a 404 for a list means: nothing configured ([]: a v8 config node nobody
        set), a list newer than this CPA (None), or for a list every CPA has, a failure."""
        if api == "v8" and spec.shape != "files" and _not_set(404, payload):
            return []
        if not spec.required:
            return None
        if api == "v0":
            self.api = None  # /v0 removed after an upgrade? asked again next time
        raise CpaHttpError(f"HTTP 404 from /{api}/management{spec.v8 if api == 'v8' else '/' + spec.name}: "
                           "is CPA's management API enabled (a secret key set)?", 404)

    def recording(self, stop: threading.Event, wait: bool = True) -> bool:
        """CPA's usage-statistics-enabled: whether it produces usage records at all."""
        api, status, payload = self._management(MANAGEMENT_ROUTES["recording"], stop, wait=wait)
        if api == "v8" and _not_set(status, payload):
            return False  # CPA's default
        answer = _json_answer(status, "usage-statistics-enabled", payload)
        enabled = _config_value(api, answer, "usage-statistics-enabled")
        if not isinstance(enabled, bool):
            raise CpaHttpError("unexpected answer from usage-statistics-enabled")
        return enabled

    def set_recording(self, enabled: bool, stop: threading.Event) -> None:
        """Turn usage-statistics-enabled on or off: v8 takes the raw value, v0 {"value": ...}."""
        api = self.api or self.gate.use(stop, self._detect, wait=False)
        body = enabled if api == "v8" else {"value": enabled}
        _, status, payload = self._management(MANAGEMENT_ROUTES["recording"], stop, "PUT", body, wait=False)
        _json_answer(status, "usage-statistics-enabled", payload)

    def queue_retention(self, stop: threading.Event, wait: bool = True) -> int:
        """How long CPA keeps an undrained record (redis-usage-queue-retention-seconds),
        as CPA applies it: at most 3600 s, and 60 for nothing or a value <= 0."""
        api, status, payload = self._management(MANAGEMENT_ROUTES["retention"], stop, wait=wait)
        if _not_set(status, payload):
            return DEFAULT_QUEUE_RETENTION_S
        answer = _json_answer(status, "the queue retention", payload)
        value = _config_value(api, answer, "redis-usage-queue-retention-seconds")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            return DEFAULT_QUEUE_RETENTION_S
        return int(min(value, 3600))

    def pop_queue(self, count: int, stop: threading.Event) -> list[bytes] | None:
        """Pop up to ``count`` of the oldest records from CPA's HTTP usage queue (as
        destructive as LPOP); None where this CPA has none (v0 before v6.10.8)."""
        api, status, payload = self._management(MANAGEMENT_ROUTES["queue"], stop, query=f"?count={count}")
        if status == 404:
            return None
        if status != 200:
            raise CpaHttpError(f"HTTP {status} from the {api} usage queue: {_error_text(payload)}", status)
        elements = split_json_array(payload)
        if elements is None:  # already removed from CPA's queue: kept aside whole, not lost
            return [payload]
        return [queue_item_payload(element) for element in elements]

    def request_log(self, request_id: str, sink: Any, limit: int) -> str | None:
        """Copy CPA's log of one request into the binary file ``sink`` as it arrives (a
        log can be hundreds of megabytes); its file name, or None where CPA has none (404).
        A request someone waits for: the key's pause is not waited out."""
        quoted = urllib.parse.quote(request_id, safe="")
        paths = (f"/request-log-by-id/{quoted}", f"/observability/logs/requests/{quoted}")

        def call() -> str | None:
            api = self.api or self._detect()
            path = f"/{api}/management{paths[1] if api == 'v8' else paths[0]}"
            self.close()  # a fresh connection: a kept one the other side closed would fail midway
            conn = self._connection()
            try:
                conn.request("GET", self._prefix + path, headers={"Authorization": f"Bearer {self.key}"})
                response = conn.getresponse()
                if response.status != 200:
                    payload = response.read(64 * 1024)
                    conn.close()
                    self._note_management_answer(response.status, response.headers, payload)
                    if response.status == 404:
                        return None
                    raise CpaHttpError(f"HTTP {response.status} from {path}: {_error_text(payload)}",
                                       response.status)
                self._note_management_answer(response.status, response.headers, b"")
                copied = 0
                while chunk := response.read(1024 * 1024):
                    copied += len(chunk)
                    if copied > limit:
                        conn.close()
                        raise CpaHttpError(f"{path}: the log is larger than {limit} bytes")
                    sink.write(chunk)
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise CpaHttpError(f"{path}: {getattr(exc, 'reason', None) or exc or type(exc).__name__}") from None
            disposition = response.headers.get("Content-Disposition", "")
            named = re.search(r'filename="?([^";/\\]+)"?', disposition)
            return named.group(1) if named else f"{request_id}.log"

        return self.gate.use(threading.Event(), call, wait=False)


def _error_text(payload: bytes, default: str | None = None) -> str:
    """The message of an error answer: its JSON "error", else its text (``default``:
    what to return for an answer that is not a JSON error object)."""
    text = payload.decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text if default is None else default
    if isinstance(value, dict) and isinstance(value.get("error"), str):
        return value["error"]
    return text if default is None else default


def _not_set(status: int, payload: bytes) -> bool:
    """Whether an answer is CPA's JSON ``not_found`` 404: a config node nobody set (a
    bare 404 is a route this CPA does not have)."""
    return status == 404 and _error_text(payload, "") == "not_found"


def _config_value(api: str, answer: Any, field: str) -> Any:
    """A setting in a management answer: v8's config node is the value itself, v0 wraps
    it as ``{field: value}`` (None when the answer is not that)."""
    if api == "v8":
        return answer
    return answer.get(field) if isinstance(answer, dict) else None


def _json_answer(status: int, what: str, payload: bytes) -> Any:
    if not 200 <= status < 300:
        raise CpaHttpError(f"HTTP {status} from {what}: {_error_text(payload)}", status)
    try:
        return json.loads(payload or b"null")
    except (ValueError, RecursionError):
        raise CpaHttpError(f"{what}: the answer is not JSON that can be read", status) from None


# -- CPA's request logs ----------------------------------------------------------------------
#
# With request-log on (v8: observability.logs.request-log), CPA writes one file per client
# request, named <url-path>-<YYYY-MM-DDTHHMMSS>-<request_id>.log (an "error-" prefix for
# the logs it keeps of failures while request-log is off), in sections:
#   === REQUEST INFO ===      Version, URL, Method, transports, Timestamp ("Key: value")
#   === HEADERS ===           the client's headers (credentials masked by CPA)
#   === REQUEST BODY ===      the client's body
#   === WEBSOCKET TIMELINE === / === API WEBSOCKET TIMELINE ===   websocket transcripts
#   === API REQUEST n ===     each upstream attempt: Timestamp, Upstream URL, HTTP Method,
#                             Auth, then "Headers:" lines and "Body:"
#   === API ERROR RESPONSE === HTTP Status and the error text of a failed attempt
#   === API RESPONSE n ===    Timestamp, Status, "Headers:", "Body:" (SSE as it came) or Error
#   === RESPONSE ===          what the client got: Status, headers, a blank line, the body
#                             (the last section: its body runs to the end of the file)
# A log can be hundreds of megabytes (images in prompts, long streams): it is read line by
# line, each body kept up to REQUEST_LOG_BODY_BYTES, and inline images and PDFs (base64
# in a body) noted by their place in the file instead of kept, for the asset route to
# serve as bytes.

REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
REQUEST_LOG_NAME = re.compile(
    r"(?:error-)?(?P<path>.+)-(?P<time>\d{4}-\d{2}-\d{2}T\d{6})-(?P<id>[A-Za-z0-9_-]{1,128})\.log")
REQUEST_LOG_NOT_FOUND = ("CPA writes a request's log only while its request logging is on (request-log: true; "
                         "v8: observability.logs.request-log), and removes old ones")
_LOG_SECTION = re.compile(rb"=== ([A-Z][A-Z ]*?)(?: (\d{1,6}))? ===\r?\n")
_LOG_PIECE = 64 * 1024  # bytes read at most per line: a long line arrives in pieces
# The base64 openings of what the asset route serves: PNG, JPEG, GIF, WebP (RIFF), PDF.
_ASSET_RUN = re.compile(rb"(?<![A-Za-z0-9+/=])(?:iVBORw0KGgo|/9j/|R0lGOD|UklGR|JVBERi)[A-Za-z0-9+/]{40,}={0,2}")
_BASE64_TAIL = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
ASSET_MARKER = "cpa-usage-asset:"
ASSET_MAX_BYTES = 64 * 2**20  # base64 characters the asset route decodes at most


def asset_type(head: bytes) -> str | None:
    """The media type of decoded bytes by their magic numbers (images and PDF only: never
    SVG or HTML, which a browser would run)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _base64_type(run: bytes) -> str | None:
    try:
        return asset_type(base64.b64decode(run[:16], validate=True))
    except ValueError:
        return None


def masked_log_text(text: str) -> str:
    """A line of a log's metadata (an URL, Auth) with key-like tokens masked, whatever CPA did."""
    return _KEY_LIKE.sub(lambda match: mask_key(match.group()) or "", text)


def masked_header(name: str, value: str) -> str:
    """A header's value as a log shows it: credentials masked again (the scheme of an
    Authorization kept), whatever CPA did; other values with key-like tokens masked."""
    lowered = name.lower()
    if lowered in ("authorization", "proxy-authorization", "cookie", "set-cookie") \
            or _SECRET_FIELD.search(lowered) or lowered.endswith("-key"):
        scheme, space, token = value.partition(" ")
        if space and scheme.lower() in ("bearer", "basic", "token"):
            return f"{scheme} {mask_key(token.strip()) or ''}"
        return mask_key(value.strip()) or ""
    return masked_log_text(value)


class LogBody:
    """One body of a request log as it streams past: its first ``cap`` bytes kept, its
    size counted, and inline images and PDFs (base64 runs that decode to one) noted by
    offset and length in the file and replaced in the kept text by ``cpa-usage-asset:<n>``,
    so that a prompt with a 20 MB image costs a few bytes here."""

    def __init__(self, cap: int, assets: list[dict]):
        self.cap, self.assets = cap, assets  # assets: the log's list, shared by its bodies
        self.size, self.truncated = 0, False
        self.kept = bytearray()
        self._open: dict | None = None  # an asset whose run went on past the last piece

    def add(self, piece: bytes, offset: int) -> None:
        """The next ``piece`` of the body, which starts at ``offset`` in the file."""
        self.size += len(piece)
        start = 0
        if self._open is not None:
            start = _BASE64_TAIL.match(piece).end()
            self._open["length"] += start
            if start == len(piece):
                return
            self._open = None
        for match in _ASSET_RUN.finditer(piece, start):
            kind = _base64_type(match.group())
            if kind is None:
                continue
            self._keep(piece[start:match.start()])
            asset = {"index": len(self.assets), "offset": offset + match.start(),
                     "length": match.end() - match.start(), "type": kind}
            self.assets.append(asset)
            self._keep(f"{ASSET_MARKER}{asset['index']}".encode())
            start = match.end()
            if start == len(piece):
                self._open = asset
                return
        self._keep(piece[start:])

    def _keep(self, data: bytes) -> None:
        room = self.cap - len(self.kept)
        if len(data) > room:
            self.truncated = True
        if room > 0:
            self.kept += data[:room]

    def json(self) -> dict:
        """The body as the API shows it: text (CPA's section spacing removed), bytes in
        the file, truncated."""
        text = bytes(self.kept)
        if not self.truncated:
            text = text.rstrip(b"\r\n")
            self.size -= len(self.kept) - len(text)
        return {"text": text.decode("utf-8", "replace"), "bytes": self.size, "truncated": self.truncated}


class _LogHeaders:
    """A block of header lines, kept up to ``cap`` bytes, values masked."""

    def __init__(self, cap: int):
        self.cap, self.used, self.items, self.truncated = cap, 0, [], False

    def add(self, line: str) -> None:
        if line == "<none>":
            return
        name, _, value = line.partition(":")
        self.used += len(line)
        if self.used > self.cap:
            self.truncated = True
            return
        self.items.append([name.strip(), masked_header(name.strip(), value.strip())])


class RequestLogParser:
    """Reads one of CPA's request logs (see the format above) from a binary stream, line
    by line, into the answer of the log route: request info, headers and body, each
    upstream attempt, the API errors, the final response, websocket timelines, the
    inline assets, and ``truncated``, the names of what was cut."""

    def __init__(self, body_cap: int, header_cap: int):
        self.body_cap, self.header_cap = body_cap, header_cap

    def parse(self, stream: Any, name: str, size: int) -> dict:
        self._assets: list[dict] = []
        self._bodies: list[tuple[str, dict, str, LogBody]] = []  # (path, owner, field, body)
        self._headers: list[tuple[str, dict, str, _LogHeaders]] = []
        self.log: dict[str, Any] = {"file": {"name": name, "size": size}, "info": {},
                                    "request": {"headers": [], "body": None}, "attempts": [], "api_errors": [],
                                    "response": None, "websocket": {}, "other_sections": [], "assets": self._assets}
        self._section: dict | None = None
        offset, line_start, final = 0, True, False
        while piece := stream.readline(_LOG_PIECE):
            if line_start and not final and (marker := _LOG_SECTION.fullmatch(piece)):
                final = self._open(marker.group(1).decode(), marker.group(2))
            elif self._section is not None:
                self._feed(piece, offset, line_start)
            offset += len(piece)
            line_start = piece.endswith(b"\n")
        return self._finish()

    # -- sections --------------------------------------------------------------

    def _open(self, title: str, number: bytes | None) -> bool:
        """Start the section ``title`` (with its attempt ``number``); whether it is the last
        one (RESPONSE: its body runs to the end, whatever it holds)."""
        log = self.log
        if title == "REQUEST INFO":
            self._section = {"target": log["info"], "phase": "info", "path": "info"}
        elif title == "HEADERS":
            headers = self._new_headers("request.headers", log["request"], "headers")
            self._section = {"phase": "headers", "headers": headers}
        elif title == "REQUEST BODY":
            self._section = {"phase": "body", "body": self._new_body("request.body", log["request"], "body")}
        elif title in ("API REQUEST", "API RESPONSE"):
            part = "request" if title == "API REQUEST" else "response"
            attempt = self._attempt(int(number) if number else None, part)
            target = attempt.setdefault(part, {"fields": {}, "headers": [], "body": None, "errors": []})
            self._section = {"target": target, "phase": "fields", "path": f"attempts[{attempt['index']}].{part}"}
        elif title == "API ERROR RESPONSE":
            error = {"status": None, "body": None}
            log["api_errors"].append(error)
            self._section = {"target": error, "phase": "error", "path": f"api_errors[{len(log['api_errors'])}]"}
        elif title == "RESPONSE":
            log["response"] = response = {"status": None, "headers": [], "body": None}
            headers = self._new_headers("response.headers", response, "headers")
            self._section = {"target": response, "phase": "response", "headers": headers, "path": "response"}
            return True
        elif title in ("WEBSOCKET TIMELINE", "API WEBSOCKET TIMELINE"):
            key = "downstream" if title == "WEBSOCKET TIMELINE" else "upstream"
            self._section = {"phase": "body", "body": self._new_body(f"websocket.{key}", log["websocket"], key)}
        else:  # a section this parser does not know (a newer CPA): kept as text
            other = {"title": title, "body": None}
            log["other_sections"].append(other)
            self._section = {"phase": "body", "body": self._new_body(title.lower(), other, "body")}
        return False

    def _attempt(self, number: int | None, part: str) -> dict:
        """The attempt ``number`` (unnumbered: a request starts the next one, a response
        belongs to the last one without a response)."""
        attempts = self.log["attempts"]
        if number is None:
            open_ones = [a for a in attempts if part not in a]
            if part == "response" and open_ones:
                return open_ones[0]
            number = len(attempts) + 1
        for attempt in attempts:
            if attempt["index"] == number:
                return attempt
        attempts.append({"index": number})
        return attempts[-1]

    def _new_body(self, path: str, owner: dict, field: str) -> LogBody:
        body = LogBody(self.body_cap, self._assets)
        self._bodies.append((path, owner, field, body))
        return body

    def _new_headers(self, path: str, owner: dict, field: str) -> _LogHeaders:
        headers = _LogHeaders(self.header_cap)
        self._headers.append((path, owner, field, headers))
        return headers

    # -- lines -----------------------------------------------------------------

    def _feed(self, piece: bytes, offset: int, line_start: bool) -> None:
        section = self._section
        phase = section["phase"]
        if phase == "body":
            section["body"].add(piece, offset)
            return
        if not line_start:  # the rest of an overlong metadata line: not kept
            return
        line = piece.decode("utf-8", "replace").rstrip("\r\n")
        if phase == "info":
            if line:
                key, _, value = line.partition(":")
                section["target"][key.strip().lower().replace(" ", "_")] = masked_log_text(value.strip())
        elif phase == "headers":
            if line:
                section["headers"].add(line)
            elif "target" in section:  # an attempt's headers end at a blank line
                section["phase"] = "fields"
        elif phase == "fields":
            self._attempt_line(section, line)
        elif phase == "error":
            if line.startswith("HTTP Status:"):
                section["target"]["status"] = _status_number(line)
                section["phase"] = "body"
                section["body"] = self._new_body(section["path"] + ".body", section["target"], "body")
        elif phase == "response":
            self._response_line(section, line)

    def _attempt_line(self, section: dict, line: str) -> None:
        target = section["target"]
        if line == "Headers:":
            section["phase"] = "headers"
            section["headers"] = self._new_headers(section["path"] + ".headers", target, "headers")
        elif line == "Body:":
            section["phase"] = "body"
            section["body"] = self._new_body(section["path"] + ".body", target, "body")
        elif line.startswith("Error:"):
            target["errors"].append(masked_log_text(line[6:].strip()))
        elif line:
            key, _, value = line.partition(":")
            target["fields"][key.strip().lower().replace(" ", "_")] = masked_log_text(value.strip())

    def _response_line(self, section: dict, line: str) -> None:
        target = section["target"]
        if not line:
            section["phase"] = "body"
            section["body"] = self._new_body("response.body", target, "body")
        elif target["status"] is None and not section["headers"].items and line.startswith("Status:"):
            target["status"] = _status_number(line)
        else:
            section["headers"].add(line)

    def _finish(self) -> dict:
        truncated = []
        for path, owner, field, headers in self._headers:
            owner[field] = headers.items
            if headers.truncated:
                truncated.append(path)
        for path, owner, field, body in self._bodies:
            owner[field] = body.json()
            if body.truncated:
                truncated.append(path)
        log = self.log
        for attempt in log["attempts"]:
            for part in ("request", "response"):
                if part in attempt:
                    fields = attempt[part].pop("fields")
                    attempt[part].update(fields)
                    if "status" in fields:
                        attempt[part]["status"] = _status_number("Status:" + fields["status"])
        log["attempts"].sort(key=operator.itemgetter("index"))
        log["truncated"] = truncated
        return log


def _status_number(line: str) -> int | None:
    """The number of a ``Status: 429`` line (None when it is not one)."""
    text = line.partition(":")[2].strip()
    return int(text) if text.isdigit() and len(text) <= 3 else None


class RequestLogNotFound(Exception):
    """No log of this request where it was looked for (the message says where)."""


class LogOnDisk(NamedTuple):
    """What a backfill knows of one file of CPA_LOG_DIR: its request, the time in its
    name (CPA's host's local time), its own Timestamp line, and the model it asked for."""

    request_id: str
    named_ms: int
    logged_ms: int | None
    model: str


_LOG_TIMESTAMP = re.compile(rb"^Timestamp: (\S+)", re.M)
_LOG_URL = re.compile(rb"^URL: (\S+)", re.M)
_BODY_MODEL = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')


def log_on_disk(path: str, match: re.Match) -> LogOnDisk:
    """The head of one log (its first 64 KiB: the request info and the start of the body)."""
    named = dt.datetime.strptime(match["time"], "%Y-%m-%dT%H%M%S").astimezone()  # CPA's, the host's zone
    with open(path, "rb") as stream:
        head = stream.read(64 * 1024)
    stamp, body = _LOG_TIMESTAMP.search(head), head.partition(b"=== REQUEST BODY ===")[2]
    model = _BODY_MODEL.search(body) or re.search(rb"/models/([^:/?\s]+)", (_LOG_URL.search(head) or [b""])[0])
    logged = None
    if stamp:
        with contextlib.suppress(ValueError):
            logged = parse_rfc3339_ms(stamp[1].decode("ascii", "replace"))
    return LogOnDisk(match["id"], int(named.timestamp() * 1000), logged,
                     model[1].decode("utf-8", "replace") if model else "")


def backfill_request_ids(store: Store, log_dir: str) -> dict:
    """Give the events imported without a request_id the one of their log in CPA_LOG_DIR.

    An event of time T takes the log whose name's time is within [T - 5 s, T + 10 min],
    whose own Timestamp is within 1 s of T, and, among several, whose request body names
    the event's model; one log is claimed once, an event with several such logs is left
    as ambiguous. Returns {total, matched, ambiguous, missing, logs_indexed}."""
    logs = []
    with os.scandir(log_dir) as entries:
        for entry in entries:
            match = REQUEST_LOG_NAME.fullmatch(entry.name)
            if match and entry.is_file():
                with contextlib.suppress(OSError):
                    logs.append(log_on_disk(entry.path, match))
    logs.sort(key=lambda log: log.named_ms)
    named = [log.named_ms for log in logs]
    claimed: set[int] = set()
    matched: list[tuple[str, int]] = []
    counts = {"ambiguous": 0, "missing": 0}
    events = store.events_without_request_id()
    for event_id, ts_ms, model in events:
        first, last = bisect.bisect_left(named, ts_ms - 5_000), bisect.bisect_right(named, ts_ms + 600_000)
        near = [i for i in range(first, last) if i not in claimed and logs[i].logged_ms is not None
                and abs(logs[i].logged_ms - ts_ms) <= 1_000]
        if len(near) > 1:
            near = [i for i in near if logs[i].model == model] or near
        if len(near) == 1:
            claimed.add(near[0])
            matched.append((logs[near[0]].request_id, event_id))
        else:
            counts["ambiguous" if near else "missing"] += 1
    store.set_request_ids(matched)
    return {"total": len(events), "matched": len(matched), **counts, "logs_indexed": len(logs)}


class RequestLogs:
    """Where a request's log is found, in order: a file in CPA_LOG_DIR when CPA runs on
    this host (several: the newest by the time in its name), else CPA's management API
    (downloaded to a temporary file, never held in memory). cpa-usage stores no log: each
    read is a fresh look."""

    DOWNLOAD_MAX_BYTES = 4 * 2**30

    def __init__(self, log_dir: str, clients: dict[str, "CpaHttp"], body_cap: int, header_cap: int):
        self.log_dir, self.clients = log_dir, clients
        self.parser = RequestLogParser(body_cap, header_cap)

    def local_file(self, request_id: str) -> str | None:
        """The newest file of ``request_id`` in CPA_LOG_DIR, or None."""
        if not self.log_dir:
            return None
        found = []
        with os.scandir(self.log_dir) as entries:
            for entry in entries:
                match = REQUEST_LOG_NAME.fullmatch(entry.name)
                if match and match["id"] == request_id and entry.is_file():
                    found.append((match["time"], entry.stat().st_mtime, entry.path))
        return max(found)[2] if found else None

    @contextlib.contextmanager
    def opened(self, request_id: str, instances: Sequence[str]) -> Iterable[tuple[Any, str, int]]:
        """(binary stream, file name, size) of the log: the local file, else a download
        from the CPAs named in ``instances`` (the event's), else from every CPA.
        RequestLogNotFound when none has it; CpaHttpError when a CPA could not be asked."""
        path = self.local_file(request_id)
        if path is not None:
            with open(path, "rb") as stream:
                yield stream, os.path.basename(path), os.fstat(stream.fileno()).st_size
            return
        names = [name for name in instances if name in self.clients] or list(self.clients)
        failures = []
        for name in names:
            spool = tempfile.TemporaryFile()
            try:
                file_name = self.clients[name].request_log(request_id, spool, self.DOWNLOAD_MAX_BYTES)
            except CpaHttpError as exc:
                spool.close()
                failures.append(f"{name}: {exc}")
                continue
            if file_name is None:
                spool.close()
                continue
            with spool:
                size = spool.tell()
                spool.seek(0)
                yield spool, file_name, size
            return
        if failures:
            raise CpaHttpError("; ".join(failures))
        where = (f"in CPA_LOG_DIR ({self.log_dir}) nor " if self.log_dir else "") + "through CPA's management API"
        raise RequestLogNotFound(f"no log of request {request_id} {where}")


###############################################################################
# 5. Background workers ########################################################
###############################################################################
#
# Threads of our own, plus the subscription readers:
#   Drainer       connects to one CPA, subscribes (or polls), hands raw payloads over
#                 (one per CPA with CPA_INSTANCES);
#   IngestWriter  decodes and commits them in batches (size N or ~250 ms);
#   MetadataSync  refreshes each CPA's lists (credentials, keys, models, settings);
#   Maintenance   the daily 03:00 retention sweep;
#   Rebanding     bands the rollups again after a long-context price they did not tell apart;
#   Alerts        budget and anomaly alerts, delivered to ALERT_WEBHOOK_URL;
#   Watchdog      tells /status and readiness when one of them is down or stuck.
# All share one shape (Worker). The Importer brings files of records in the same way,
# from a command or a request. Receiving never waits for the database: CPA drops a
# subscriber whose 256-message buffer fills. What has been received but not committed
# is the only loss window of a crash; a graceful stop commits it (or spools it to a
# file if the database refuses, to be ingested on the next start).


class Worker:
    """The shape of every background thread: IngestWriter, Drainer, MetadataSync,
    Maintenance, Rebanding, Alerts and the Watchdog. ``start``, ``stop`` (ask the loop to end),
    ``wake`` (do it now), and ``worker_status`` for /status; ``run`` is the loop, and
    ends when ``_stop`` is set.

    A run that dies of a surprise is logged with its traceback and started again after
    a pause that grows (RESTART_DELAYS): one bad moment never leaves a job undone for
    the life of the process, and meanwhile /status, /readyz and the log say so."""

    RESTART_DELAYS = (1.0, 5.0, 30.0)

    def __init__(self, name: str):
        self.name = name
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0
        self.crashed = False  # between a crash and the restart
        self.last_crash: str | None = None
        self.last_crash_at: int | None = None

    def run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end; it does at its next look."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Do the job now rather than at the next turn."""
        self._wake.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def alive(self) -> bool:
        """Running its loop (not between a crash and its restart)."""
        return self._thread is not None and self._thread.is_alive() and not self.crashed

    def _supervise(self) -> None:
        while True:
            try:
                self.run()
                return
            except Exception as exc:  # noqa: BLE001 - restarted, never silently gone
                self.crashed = True
                self.last_crash, self.last_crash_at = f"{type(exc).__name__}: {exc}"[:500], now_ms()
                delay = self.RESTART_DELAYS[min(self.restarts, len(self.RESTART_DELAYS) - 1)]
                log.exception("%s stopped on an unexpected error; it starts again in %s", self.name,
                              format_duration(delay))
                if self._stop.wait(delay):
                    return
                self.restarts += 1
                self.crashed = False
                log.info("%s started again (%d restarts since the start)", self.name, self.restarts)

    def worker_status(self) -> dict:
        return {"name": self.name, "alive": self.alive, "restarts": self.restarts, "last_crash": self.last_crash,
                "last_crash_at": iso_ms(self.last_crash_at)}


class DrainStatus:
    """What /status tells about the drain of one CPA. Plain attributes, written by the
    drain threads (and the queue retention by the metadata sync); a snapshot copies
    them under a lock."""

    def __init__(self, transport: str = "auto") -> None:
        self._lock = threading.Lock()
        self.mode = "down"
        self.transport = transport  # REDIS_QUEUE_TRANSPORT
        self.transport_reason: str | None = None  # why the mode in use is used
        self.connected = False
        self.subscribed_since: int | None = None
        self.errors_subscribed = False
        self.last_pop_at: int | None = None
        self.last_event_at: int | None = None
        self.last_error: str | None = None
        self.last_error_at: int | None = None
        self.last_refresh_hint_at: int | None = None
        self.reconnects = 0
        self.subscription_drops = 0
        self.last_subscription_drop_at: int | None = None
        self.queue_retention_s: int | None = None  # CPA's, once the metadata sync has read it
        self.last_gap: tuple[int, int] | None = None  # the last stretch nothing was drained, (from, to)

    def set(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)

    def error(self, message: str) -> None:
        with self._lock:
            self.last_error, self.last_error_at = message, now_ms()

    def gap_warning(self) -> str | None:
        """Records lost for us: the last stretch without a drain outlasted CPA's queue."""
        if self.last_gap is None:
            return None
        began, ended = self.last_gap
        retention = self.queue_retention_s or DEFAULT_QUEUE_RETENTION_S
        if ended - began <= retention * 1000:
            return None
        return (f"nothing was drained from {iso_ms(began)} to {iso_ms(ended)} "
                f"({format_duration(round((ended - began) / 1000))}), longer than CPA keeps a record "
                f"({format_duration(retention)}): records CPA made then were lost. To cover longer stops, raise "
                "CPA's redis-usage-queue-retention-seconds (v8: observability.usage."
                "redis-usage-queue-retention-seconds), at most 3600.")

    def snapshot(self) -> dict:
        with self._lock:
            return {"mode": self.mode, "connected": self.connected,
                    "transport": {"setting": self.transport, "reason": self.transport_reason},
                    "subscribed_since": iso_ms(self.subscribed_since), "errors_subscribed": self.errors_subscribed,
                    "last_pop_at": iso_ms(self.last_pop_at),
                    "last_event_at": iso_ms(self.last_event_at), "last_error": self.last_error,
                    "last_error_at": iso_ms(self.last_error_at),
                    "last_refresh_hint_at": iso_ms(self.last_refresh_hint_at), "reconnects": self.reconnects,
                    "subscription_drops": self.subscription_drops,
                    "last_subscription_drop_at": iso_ms(self.last_subscription_drop_at),
                    "queue_retention_s": self.queue_retention_s,
                    "last_gap": None if self.last_gap is None else
                    {"from": iso_ms(self.last_gap[0]), "to": iso_ms(self.last_gap[1])},
                    "records_lost_warning": self.gap_warning()}


class IngestWriter(Worker):
    """Decodes received payloads and commits them in batches: N records or ~250 ms.

    ``put`` only appends to a queue, so the subscription socket is always read
    promptly. A batch the database refuses (locked, busy, disk full) is kept and
    retried with a growing pause; meanwhile nothing received is dropped. A batch it
    refuses for one record's sake (a value it cannot take) is written in halves until
    that record is found: it goes to dead_letters with the reason, the rest is
    committed, and nothing is retried for ever. (One thread decodes and commits: a
    second one, decoding while the other commits, was measured slower because both
    mostly need the GIL.)

    Memory holds at most MEMORY_RECORDS of what awaits its commit. Beyond that (the
    database refuses writes, or records come faster than they can be committed) they
    go to the spool file beside the database, first in, first out, and are read back
    from it once the writer has caught up. The spool outlives a stop and a crash: the
    next start ingests it first. (After a crash, lines already committed are read
    again; their identity keeps them from being stored twice.)

    When the spool cannot be written either (the disk is full), what was taken from
    CPA waits in memory, up to OVERFLOW_RECORDS: polling pauses (records wait in CPA's
    queue), a subscription cannot pause and keeps delivering, and what comes beyond
    that is dropped, counted and told (``dropped``), never silently.
    """

    MEMORY_RECORDS = 10_000  # about 14 MB of current-era payloads
    OVERFLOW_RECORDS = 50_000  # with the spool unwritable: about 70 MB, then records are dropped
    STALL_MS = 30_000  # records waiting this long without a commit: ingest stalls (/status, the watchdog)

    def __init__(self, store: Store, status: DrainStatus, batch_size: int, spool_path: str,
                 flush_interval: float = 0.25, on_refresh: Callable[[str], None] | None = None):
        super().__init__("ingest-writer")
        self.store = store
        self.status = status
        self.batch_size = batch_size
        self.spool_path = spool_path
        self.flush_interval = flush_interval
        self.on_refresh = on_refresh
        self.stalled = False  # True while the database refuses writes
        self._refusing = RepeatedCondition("the database refuses writes", "database accepts writes again")
        self.stall_reason: str | None = None  # what it said
        self.spool_error: str | None = None  # why the spool cannot be written now (a full disk)
        self.dropped = 0  # records taken from CPA and dropped: memory and spool both full
        self.last_drop_at: int | None = None
        self.progress_ms = now_ms()  # the last commit, or the last moment nothing waited
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0  # received, not committed: in memory, in the spool, or in the batch at hand
        self._in_memory = 0  # in the queue
        self._in_hand: list[tuple[bytes, str, int, str]] = []  # the batch being committed
        self._spooled = 0  # in the spool file, not read back yet
        self._spool_read = 0  # bytes of the spool file read back
        self._spool_out: Any = None  # the spool file, open for appending (unbuffered)
        self._spool_in: Any = None  # and for reading back: a file removed by hand is still read to its end
        self._spool_damaged: list[DeadLetter] = []  # unreadable spool lines, for the next commit
        self._stopped = False  # the writer has ended: what is received now is spooled
        self._room = threading.Condition()
        self._finishing = threading.Event()   # no more input: commit what is there, then end
        self._abandon = threading.Event()    # the shutdown deadline has passed: spool the rest

    @property
    def pending(self) -> int:
        """Records received but not yet committed."""
        return self._pending

    @property
    def in_memory(self) -> int:
        """Of those, how many wait in memory (at most MEMORY_RECORDS, OVERFLOW_RECORDS with the spool unwritable)."""
        return self._in_memory

    @property
    def spooled(self) -> int:
        """Of those, how many wait in the spool file."""
        return self._spooled

    def stalled_since(self) -> int | None:
        """Since when records have waited without a commit, if longer than STALL_MS."""
        since = self.progress_ms
        return since if self._pending and now_ms() - since > self.STALL_MS else None

    def put(self, payload: bytes, via: str, received_ms: int | None = None, instance: str | None = None) -> bool:
        """Queue a payload received from CPA ``instance`` (default: the store's). False when
        it had to be dropped: memory is full and the spool cannot be written."""
        item = (payload, via, received_ms or now_ms(), self.store.instance if instance is None else instance)
        with self._room:
            if self._stopped or self._spooled or self._in_memory >= self.MEMORY_RECORDS:
                if self._try_spool([item]):
                    self._pending += 1
                    return True
                if self._stopped or self._in_memory >= self.OVERFLOW_RECORDS:
                    self._drop()
                    return False
            self._in_memory += 1
            self._pending += 1
        self._queue.put(item)
        return True

    def _drop(self) -> None:
        """A record is dropped (holding ``_room``): counted, and told at the 1st, 10th,
        100th and every 1000th, so that a flood of them does not flood the log."""
        self.dropped += 1
        self.last_drop_at = now_ms()
        if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
            log.error("%d records taken from CPA were dropped: memory holds %d and the spool cannot "
                      "be written (%s)", self.dropped, self._in_memory, self.spool_error)

    def wait_for_room(self, limit: int, stop: threading.Event) -> None:
        """Backpressure for polling: wait while more than ``limit`` records await their
        commit. With limit = one batch, the next batch is fetched while the last one is
        committed, and a crash loses at most two batches. Lifted while the database
        refuses writes and the spool takes records, because then the spool is a safer
        place than CPA's 60-second queue; not while the spool fails too (a full disk):
        then the records wait in CPA."""
        with self._room:
            while self._pending > limit and not (self.stalled and self.spool_error is None) and not stop.is_set():
                self._room.wait(0.25)

    def start(self) -> None:
        if os.path.exists(self.spool_path):
            with open(self.spool_path, "rb+") as handle:
                handle.seek(self._read_offset(handle))
                start, lines, last = handle.tell(), 0, b"\n"
                for line in handle:
                    lines, last = lines + 1, line
                if not last.endswith(b"\n"):
                    handle.write(b"\n")  # a line cut short by a crash must not swallow the next one
            if lines:
                self._spooled = self._pending = lines
                self._spool_read = start
                self._spool_in = open(self.spool_path, "rb")  # noqa: SIM115 - kept open while lines wait
                log.info("%d records spooled by an earlier run are ingested first", lines)
            else:  # read to its end before the last stop
                self._remove_spool()
        else:
            self._forget_read_offset()
        super().start()

    def stop(self, timeout: float = 5.0) -> bool:  # type: ignore[override]
        """Commit what is in memory; past ``timeout`` spool the rest to the file. What
        waits in the spool stays there for the next start. Returns whether everything
        received was committed."""
        self._finishing.set()
        self.join(timeout)
        if self._thread is not None and self._thread.is_alive():
            self._abandon.set()
            self.join(2.0)
        super().stop()  # a crashed writer is not started again
        with self._room:
            self._keep_read_part_of_spool()
            self._close_spool()
            # A subscription reader may hand over a last record after the writer ended:
            # from now on everything received goes to the spool, for the next start.
            self._stopped = True
        late = self._in_hand + _take_all(self._queue) if self.crashed else _take_all(self._queue)
        if late:
            self._spool(late, [])
        return not self._abandon.is_set() and self._pending == 0

    def run(self) -> None:
        """Commit batch after batch (the spool's in their turn) until a stop finds nothing
        left, or its deadline passes."""
        # the batch a crash interrupted: committed again (identity keeps it single)
        going_on = not self._in_hand or self._commit(self._in_hand)
        while going_on:
            batch = self._collect()
            going_on = self._commit_in_hand(batch) if batch or self._spool_damaged else self._idle()

    def _commit_in_hand(self, batch: list[tuple[bytes, str, int, str]]) -> bool:
        """Commit a batch, kept in hand meanwhile (a crash leaves it to the restart); whether
        the writer goes on: not when the shutdown deadline passed (the spool was long:
        stop() keeps the rest for the next start)."""
        self._in_hand = batch
        if not self._commit(batch):
            return False
        self._in_hand = []
        return not self._abandon.is_set()

    def _idle(self) -> bool:
        """Nothing came: whether to wait for more (not at a stop). With nothing waiting
        either, ingest has not stalled."""
        if self._finishing.is_set():
            return False
        if not self._pending:
            self.progress_ms = now_ms()
        return True

    def _collect(self) -> list[tuple[bytes, str, int, str]]:
        """The next batch: from memory, or from the spool once memory is empty (the
        spool's records are newer); empty when nothing came within a quarter second."""
        if self._spooled and not self._in_memory:
            return self._read_spool()
        try:
            first = self._queue.get(timeout=0.05 if self._finishing.is_set() else 0.25)
        except queue.Empty:
            return []
        batch = self._fill([first])
        with self._room:
            self._in_memory -= len(batch)
        return batch

    def _fill(self, batch: list[tuple[bytes, str, int, str]]) -> list[tuple[bytes, str, int, str]]:
        """Add to ``batch`` what comes within flush_interval, up to batch_size (at a stop,
        only what is there already). One get a record and no other call: the hot path."""
        deadline = time.monotonic() + self.flush_interval
        while len(batch) < self.batch_size:
            remaining = 0 if self._finishing.is_set() else deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _commit(self, batch: list[tuple[bytes, str, int, str]]) -> bool:
        """Decode and write one batch, waiting out a refusing database. False when the
        shutdown deadline passed first: then everything uncommitted is spooled."""
        dead, self._spool_damaged = self._spool_damaged, []
        damaged = len(dead)
        decoded, control, refresh = self._decode(batch, dead)
        if len(dead) > damaged:
            log.warning("%d malformed record(s) kept in dead_letters; first: %s", len(dead) - damaged,
                        dead[damaged].reason)
        received = len(batch) + damaged - control - sum(isinstance(v, CredentialError) for v, _ in decoded)
        if not self._write_until_accepted(decoded, dead, received, control):
            self._spool(batch + _take_all(self._queue), dead[:damaged])
            return False
        self._committed(len(batch) + damaged)
        self._ask_for_refresh(refresh)
        return True

    def _decode(self, batch: list[tuple[bytes, str, int, str]], dead: list[DeadLetter]
                ) -> tuple[list[tuple[UsageEvent | CredentialError, DeadLetter]], int, set[str]]:
        """The records of a batch decoded, each with the dead letter it becomes if the
        database refuses it; what cannot be decoded goes to ``dead``. Also the number of
        control messages and the CPAs that asked for a metadata sync. One loop over the
        batch, no call per record beyond the decoder: this is the ingest's hot path."""
        decoded: list[tuple[UsageEvent | CredentialError, DeadLetter]] = []
        control, refresh = 0, set()
        for payload, via, received_ms, instance in batch:
            try:
                value = decode_error_event(payload, received_ms, instance) if via == "errors" \
                    else decode_payload(payload, received_ms, instance)
            except DecodeError as exc:
                dead.append(DeadLetter(received_ms, via, str(exc), bytes(payload)))
                continue
            except Exception as exc:  # noqa: BLE001 - a decoder bug: the record goes aside, the drain goes on
                log.exception("a record could not be decoded; it is kept in dead_letters")
                dead.append(DeadLetter(received_ms, via, f"could not be decoded ({type(exc).__name__}: {exc})",
                                       bytes(payload)))
                continue
            if isinstance(value, ControlMessage):
                control += 1
                if value.refresh:
                    refresh.add(instance)
            else:
                decoded.append((value, DeadLetter(received_ms, via, "", bytes(payload))))
        return decoded, control, refresh

    def _write_until_accepted(self, decoded: list[tuple[UsageEvent | CredentialError, DeadLetter]],
                              dead: list[DeadLetter], received: int, control: int) -> bool:
        """Write a decoded batch, retrying with a growing pause while the database refuses
        (nothing received is dropped meanwhile). False when the shutdown deadline passed
        first."""
        pause = 0.1
        while True:
            try:
                self.store.write_isolating(decoded, dead, received=received, control=control)
                break
            except Exception as exc:  # noqa: BLE001 - the database's trouble: the batch is kept and retried
                self.stalled, self.stall_reason = True, str(exc)
                self.status.error(f"database write failed, retrying: {exc}")
                if not is_transient_db_error(exc):
                    log.exception("unexpected error writing a batch; it is kept and retried")
                else:
                    self._refusing.failed(str(exc), "database refuses writes (", f"); {self._pending} records wait")
                if self._abandon.wait(pause):
                    return False
                pause = min(pause * 2, 5.0)
        if self.stalled:
            self.stalled = False
            if not self._refusing.recovered():  # refused only by surprises, logged with their tracebacks
                log.info("database accepts writes again")
        return True

    def _committed(self, count: int) -> None:
        """``count`` records (and unreadable spool lines) are stored: they no longer wait,
        the spool error is forgotten once memory suffices, a spool read to its end is
        removed, and whoever waits for room (polling) goes on."""
        with self._room:
            self._pending -= count
            self.progress_ms = now_ms()
            if self.spool_error is not None and self._in_memory < self.MEMORY_RECORDS:
                self.spool_error = None  # memory needs no spool now; the next need tries it again
                log.info("records fit in memory again; the spool is tried again when needed")
            if not self._spooled and self._spool_read:  # every spooled line is committed now
                self._remove_spool()
            self._room.notify_all()

    def _ask_for_refresh(self, instances: set[str]) -> None:
        """The CPAs that published {"refresh":true} get their metadata synced now, once
        the batch that said so is stored."""
        if not instances:
            return
        self.status.set(last_refresh_hint_at=now_ms())
        for instance in sorted(instances):
            if self.on_refresh:
                self.on_refresh(instance)

    # -- the spool file: one JSON line per record (payload in hex), oldest first --------

    def _try_spool(self, items: list[tuple[bytes, str, int, str]]) -> bool:
        """Append records to the spool (holding ``_room``); False when it cannot be written
        (the disk is full, the directory gone), which is told, not hidden."""
        try:
            self._append_to_spool(items)
        except OSError as exc:
            if self.spool_error is None:
                log.error("the spool %s cannot be written (%s): records wait in memory, polling pauses",
                          self.spool_path, exc.strerror or exc)
            self.spool_error = f"{exc.strerror or exc}"
            return False
        if self.spool_error is not None:
            log.info("the spool %s can be written again", self.spool_path)
            self.spool_error = None
        return True

    def _append_to_spool(self, items: list[tuple[bytes, str, int, str]], lines: Iterable[bytes] = ()) -> None:
        """Append records (and ``lines`` as they are) to the spool, holding ``_room``.
        Whole lines or nothing: a write the disk refuses halfway is cut back, so that no
        half line is read back later."""
        lines = list(lines)
        data = self._spool_lines(items, lines)
        if not data:
            return
        self._open_spool()
        end = os.fstat(self._spool_out.fileno()).st_size
        try:
            written = 0
            while written < len(data):  # in the file at once: a crash of this process loses none of it
                written += self._spool_out.write(data[written:])
        except OSError:
            with contextlib.suppress(OSError):
                self._spool_out.truncate(end)
            raise
        self._spooled += len(items) + len(lines)

    @staticmethod
    def _spool_lines(items: list[tuple[bytes, str, int, str]], lines: list[bytes]) -> bytes:
        """Records as lines of the spool (their payload in hex), then ``lines`` as they are."""
        return b"".join([json.dumps({"received_ms": received_ms, "via": via, "instance": instance,
                                     "payload": bytes(payload).hex()}).encode() + b"\n"
                         for payload, via, received_ms, instance in items] + [line + b"\n" for line in lines])

    def _open_spool(self) -> None:
        """The spool open for appending (unbuffered) and for reading back, each kept open
        while records wait."""
        if self._spool_out is None:
            self._spool_out = open(self.spool_path, "ab", buffering=0)  # noqa: SIM115 - kept open while records come
        if self._spool_in is None:
            self._spool_in = open(self.spool_path, "rb")  # noqa: SIM115 - kept open while lines wait

    def _read_spool(self) -> list[tuple[bytes, str, int, str]]:
        """Up to a batch of the oldest spooled records; unreadable lines (cut short by a
        crash, say) are kept for the next commit as dead letters."""
        batch: list[tuple[bytes, str, int, str]] = []
        with self._room:
            self._spool_in.seek(self._spool_read)
            while self._spooled and len(batch) + len(self._spool_damaged) < self.batch_size:
                line = self._spool_in.readline()
                if not line:
                    break
                self._spool_read += len(line)
                self._spooled -= 1
                try:
                    entry = json.loads(line)
                    batch.append((bytes.fromhex(entry["payload"]), entry["via"], entry["received_ms"],
                                  entry.get("instance", self.store.instance)))
                except (ValueError, KeyError, TypeError) as exc:
                    self._spool_damaged.append(DeadLetter(now_ms(), "spool", f"unreadable spool line: {exc}",
                                                          line.rstrip(b"\n")))
        return batch

    def _close_spool(self) -> None:
        for handle in (self._spool_out, self._spool_in):
            if handle is not None:
                handle.close()
        self._spool_out = self._spool_in = None

    def _remove_spool(self) -> None:
        """Every line was read back and committed: start the spool afresh (holding ``_room``)."""
        self._close_spool()
        with contextlib.suppress(FileNotFoundError):  # removed by hand already
            os.remove(self.spool_path)
        self._forget_read_offset()
        self._spool_read = 0
        log.info("every spooled record is committed")

    def _keep_read_part_of_spool(self) -> None:
        """At a stop: note how far the spool was read back (the lines read but not
        committed are appended again by _spool), so that the next start reads each record
        once. Only the offset is written, never the unread part: two million waiting
        records took longer to copy than a stop may take. Only when the spool was removed
        (or replaced) by hand meanwhile is the unread part copied from the handle to the
        end of whatever is at its place now."""
        if not self._spool_read or self._spool_in is None:  # nothing read back, or kept by an earlier stop
            return
        if self._spool_replaced():
            self._copy_unread_part()
        else:
            self._note_read_offset()

    def _spool_replaced(self) -> bool:
        """Whether the spool file was removed or replaced (by hand) since it was opened for
        reading back."""
        try:
            return not os.path.samestat(os.fstat(self._spool_in.fileno()), os.stat(self.spool_path))
        except FileNotFoundError:
            return True

    def _note_read_offset(self) -> None:
        """Write down how far the spool was read, for the next start (_read_offset)."""
        try:
            with open(self.spool_path + ".offset.tmp", "w") as target:
                target.write(str(self._spool_read))
            os.replace(self.spool_path + ".offset.tmp", self.spool_path + ".offset")
        except OSError as exc:  # the stop goes on: the spool is whole, only read again from its start
            log.warning("could not note how far %s was read (%s); the next start reads it from its start, "
                        "and records already stored are recognised and skipped", self.spool_path, exc)

    def _copy_unread_part(self) -> None:
        """The spool was replaced: copy its unread part from the handle to the end of what is
        at its place now, which the next start reads from its start."""
        try:
            with open(self.spool_path, "ab") as target:
                self._spool_in.seek(self._spool_read)
                shutil.copyfileobj(self._spool_in, target)
        except OSError as exc:
            log.error("the part of the spool not read yet could not be copied to %s (%s)", self.spool_path, exc)
        self._close_spool()
        self._forget_read_offset()
        self._spool_read = 0

    def _read_offset(self, spool: Any) -> int:
        """Where the last stop left off reading ``spool``, if that is the start of a line
        in it; else 0 (a crash after a stop reads again what was committed since: the
        identity of events keeps them single)."""
        try:
            with open(self.spool_path + ".offset") as handle:
                offset = int(handle.read())
        except (FileNotFoundError, ValueError):
            return 0
        size = spool.seek(0, os.SEEK_END)
        if not 0 < offset <= size:
            return 0
        spool.seek(offset - 1)
        return offset if spool.read(1) == b"\n" else 0

    def _forget_read_offset(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.spool_path + ".offset")

    def _spool(self, items: list[tuple[bytes, str, int, str]], damaged: list[DeadLetter]) -> None:
        """At a stop, past its deadline or after the writer ended: keep every uncommitted
        record (and unreadable line, as it was) in the spool; the next start ingests it
        first. A spool that cannot be written is told as the loss it is."""
        with self._room:
            try:
                self._append_to_spool(items, [bytes(letter.payload) for letter in damaged])
            except OSError as exc:
                log.error("%d records not committed at the stop could not be saved to %s (%s): they are lost",
                          len(items), self.spool_path, exc.strerror or exc)
                return
            finally:
                self._in_memory = 0
        if items:
            log.warning("%d records not committed at the stop were saved to %s for the next start",
                        len(items), self.spool_path)


def _take_all(source: queue.SimpleQueue) -> list:
    """Everything a queue holds right now, without waiting."""
    items = []
    while True:
        try:
            items.append(source.get_nowait())
        except queue.Empty:
            return items


class SubscriptionLost(Exception):
    """The subscription ended: closed by CPA, dropped for slowness, or silent too long."""


class TransportChange(Exception):
    """The transport in use gives way to another one (REDIS_QUEUE_TRANSPORT=auto)."""

    def __init__(self, transport: str, reason: str):
        super().__init__(reason)
        self.transport, self.reason = transport, reason


class Drainer(Worker):
    """Moves every record from one CPA into the IngestWriter, and never gives up.

    Three ways to take records from CPA, as REDIS_QUEUE_TRANSPORT says, or (auto)
    the best one that works, in this order:

    * subscribe: records are pushed over RESP ``SUBSCRIBE`` (v7.0.7+); only once the
      subscription is acknowledged, the LPOP backlog (what CPA queued before) is
      drained on a second connection, and again every ~10 s: nothing else would
      ever pop it. A quiet subscription is proven alive by PING; no pong means
      reconnect. Credential errors come over a second subscription, ``errors``.
    * http: CPA's HTTP usage queue (v6.10.8+; v8's ``/observability/usage/queue``),
      the one way through an HTTP-only reverse proxy, polled over a kept-alive
      connection with the batch size, idle interval and backoff of LPOP.
    * lpop: an LPOP loop over one kept-open RESP connection.

    Whether RESP works is found without the key (probe_resp), so auto spends none of
    CPA's five attempts on an address that is not RESP. A better transport is tried
    again on every reconnect and every few minutes (CPA may be upgraded, a proxy
    reconfigured). The time of the last contact with CPA outlives a restart, so a
    stop longer than CPA keeps records is reported as the loss it is.
    """

    CONTACT_SAVE_MS = 30_000  # how often the time of the last contact is written down
    DROP_WINDOW_S = 10.0  # a subscription CPA closed, subscribed again this soon: CPA dropped us

    def __init__(self, config: Config, writer: IngestWriter, gate: KeyGate, status: DrainStatus, http: CpaHttp, *,
                 instance: CpaInstance | None = None, ping_after: float = 30.0, pong_timeout: float = 10.0,
                 backlog_every: float = 10.0, resubscribe_every: float = 300.0, socket_timeout: float = 15.0,
                 probe_timeout: float = 5.0):
        self.instance = instance or config.cpas[0]
        self.endpoint = self.instance.queue_endpoint()
        self.key = self.instance.management_key
        self.transport = config.redis_queue_transport
        self.queue_key = config.redis_queue_key
        self.batch_size = config.redis_queue_batch_size
        self.idle_interval = config.redis_queue_idle_interval
        self.error_backoff = config.redis_queue_error_backoff
        self.writer, self.gate, self.status, self.http = writer, gate, status, http
        self.ping_after, self.pong_timeout = ping_after, pong_timeout
        self.backlog_every, self.resubscribe_every = backlog_every, resubscribe_every
        self.socket_timeout, self.probe_timeout = socket_timeout, probe_timeout
        super().__init__(f"drainer-{self.instance.name}")
        self._connections: list[QueueConnection] = []
        self._connections_lock = threading.Lock()
        self._next_subscribe_at = 0.0
        self._next_choice: tuple[str, str] | None = None  # what the last session found to be better
        self._lost_reason: BaseException | None = None
        self._closed_by_cpa_at: float | None = None
        self._contact_key = f"drain.last_contact.{self.instance.name}"
        saved = writer.store.get_meta(self._contact_key)
        self._contact_ms: int | None = int(saved) if saved else None  # the last sign of life of the drain
        self._contact_saved_ms = self._contact_ms or 0
        self._gap_open = True  # the next contact ends a stretch without one (this start, or an outage)
        name = self.instance.name
        self._unreachable = RepeatedCondition(f"CPA {name} unreachable", f"CPA {name} reachable again", end_after=2)
        self._refused = RepeatedCondition(f"CPA {name} refuses queue commands", f"CPA {name} takes queue commands "
                                          "again", logging.ERROR)
        self._errors_failing = RepeatedCondition(f"CPA {name}'s errors channel fails",
                                                 f"CPA {name}'s errors channel works again")

    def close(self, timeout: float) -> None:
        """After stop(): wait for the unsubscribe (reading what CPA sends until it
        confirms), then close every connection, by force if CPA does not answer in time."""
        self.stop()
        self.join(timeout)
        self._close_all()
        self.join(0.5)
        self._save_contact(force=True)

    def run(self) -> None:
        failures = 0  # connection attempts in a row that did not even get through AUTH
        while not self._stop.is_set():
            try:
                self._session()
            except TransportChange as change:
                self._next_choice = (change.transport, change.reason)
                continue
            except Stopping:
                break
            except AuthRejected as exc:
                self.status.error(f"CPA rejected the management key: {exc}")
                continue  # the gate decides when the next attempt may happen
            except QueueError as exc:
                self.status.error(f"CPA refused a queue command: {exc}")
                self._refused.failed(str(exc), "CPA refused a queue command: ", f" (REDIS_QUEUE_KEY={self.queue_key})")
                self._stop.wait(self.error_backoff)
            except (redis.RedisError, OSError, SubscriptionLost, CpaHttpError) as exc:
                failures = self._connection_lost(exc, failures)
            except Exception as exc:  # noqa: BLE001 - the drain must outlive any surprise
                self.status.error(f"unexpected drain error: {exc}")
                log.exception("unexpected drain error; retrying")
                self._stop.wait(self.error_backoff)
            finally:
                self._session_ended()
            if not self._stop.is_set():
                self.status.set(reconnects=self.status.reconnects + 1)

    def _session(self) -> None:
        """One session with CPA, over the transport chosen for it, until it ends."""
        transport, reason, resp_refused = self._choose()
        self.status.set(transport_reason=reason)
        if transport == "http":
            # RESP did not answer the probe: CPA may have been down (a restart), so RESP is
            # asked again at the queue's first answer, not resubscribe_every later
            self._http_session(reason, resp_soon=resp_refused)
        else:
            self._resp_session(subscribe=transport == "subscribe")

    def _connection_lost(self, exc: Exception, failures: int) -> int:
        """Wait before the next session. CPA answered before and dropped us (a restart, a
        full subscriber buffer): reconnect at once, its queue holds records for only
        ~60 s. CPA unreachable: once quickly, then every REDIS_QUEUE_ERROR_BACKOFF.
        Returns the attempts in a row that did not get through."""
        message = str(exc) or type(exc).__name__
        self.status.error(message)
        failures = 0 if self.status.connected else failures + 1
        pause = 0.5 if failures <= 1 else self.error_backoff
        if not self._stop.is_set():
            self._unreachable.failed(message, f"connection to CPA {self.instance.name} lost or refused (",
                                     f"); retrying in {format_duration(pause)}")
        self._stop.wait(pause)
        return failures

    def _session_ended(self) -> None:
        """However a session ended: its connections closed, the drain down until the next
        one, which ends a stretch without contact."""
        self._close_all()
        self.http.close()
        self.status.set(mode="down", connected=False, subscribed_since=None, errors_subscribed=False)
        self._gap_open = True

    def _choose(self) -> tuple[str, str, bool]:
        """(transport, why, whether RESP was probed and did not answer) for the next session."""
        if self.transport != "auto":
            return self.transport, f"REDIS_QUEUE_TRANSPORT={self.transport}", False
        if self._next_choice is not None:
            (choice, reason), self._next_choice = self._next_choice, None
            return choice, reason, False
        if self.endpoint is None:
            return "http", ("CPA_BASE_URL has a path (a reverse proxy, which passes HTTP only), so RESP is not "
                            "tried; REDIS_QUEUE_ADDR would name an address for it"), False
        probe = probe_resp(self.endpoint, self.probe_timeout)
        if probe.speaks_resp:
            return "subscribe", probe.detail, False
        return "http", f"{probe.detail}; CPA's HTTP usage queue is used", True

    # -- contact with CPA ----------------------------------------------------------

    def _contact(self) -> None:
        """CPA answered: the drain is alive. The first contact after a stretch without
        one (a stop, an outage) ends that stretch, kept for /status and the log."""
        self._unreachable.recovered()
        now = now_ms()
        if self._gap_open and self._contact_ms is not None:
            gap = (self._contact_ms, now)
            self.status.set(last_gap=gap)
            warning = self.status.gap_warning()
            if warning:
                log.warning("CPA %s: %s", self.instance.name, warning)
        self._gap_open = False
        self._contact_ms = now

    def _save_contact(self, force: bool = False) -> None:
        """Write the time of the last contact down (from the drainer's own thread only:
        a reader of the subscription must never wait for the database)."""
        due = self._contact_ms is not None and self._contact_ms - self._contact_saved_ms >= self.CONTACT_SAVE_MS
        if self._contact_ms is not None and (force or due):
            with contextlib.suppress(Exception):  # noqa: BLE001 - a refusing database costs only this note
                self.writer.store.set_meta(self._contact_key, str(self._contact_ms))
                self._contact_saved_ms = self._contact_ms

    # -- RESP ------------------------------------------------------------------------

    def _open(self) -> QueueConnection:
        if self.endpoint is None:
            raise QueueError("no RESP address (CPA_BASE_URL has a path; set REDIS_QUEUE_ADDR)")
        host, port, tls = self.endpoint
        conn = QueueConnection(host, port, tls, self.key, self.socket_timeout)
        with self._connections_lock:
            self._connections.append(conn)
        self.gate.use(self._stop, conn.open)
        return conn

    def _close_all(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _forget(self, conn: QueueConnection) -> None:
        with self._connections_lock:
            if conn in self._connections:
                self._connections.remove(conn)
        conn.close()

    def _resp_session(self, subscribe: bool) -> None:
        poll = self._open()
        self.status.set(connected=True)
        self._contact()
        if not subscribe:
            self.status.set(mode="lpop")
            log.info("polling CPA %s with LPOP at %s", self.instance.name, endpoint_text(self.endpoint))
        while not self._stop.is_set():
            if subscribe and time.monotonic() >= self._next_subscribe_at:
                subscription = self._open()
                if subscription.subscribe(self.queue_key, self.socket_timeout):
                    self._stay_subscribed(poll, subscription)
                    return
                self._forget(subscription)
                self._next_subscribe_at = time.monotonic() + self.resubscribe_every
                self._without_subscribe()
            self._poll_once(poll)
            self._save_contact()

    def _without_subscribe(self) -> None:
        """CPA has no SUBSCRIBE (older than v7.0.7): auto takes its HTTP usage queue
        where there is one (v6.10.8+), else LPOP does, trying SUBSCRIBE again later."""
        reason = "CPA has no SUBSCRIBE (older than v7.0.7)"
        if self.transport == "auto":
            try:
                records = self.http.pop_queue(self.batch_size, self._stop)
            except CpaHttpError as exc:
                records, reason = None, f"{reason}, and its HTTP usage queue fails ({exc})"
            if records is not None:
                self._hand_over(records, "http")
                raise TransportChange("http", f"{reason}; its HTTP usage queue is used")
            reason = f"{reason} and no HTTP usage queue (older than v6.10.8)"
        log.info("%s; polling with LPOP, trying SUBSCRIBE again in %s", reason,
                 format_duration(self.resubscribe_every))
        self.status.set(mode="lpop", transport_reason=f"{reason}; LPOP is used")

    def _poll_once(self, poll: QueueConnection) -> None:
        self.writer.wait_for_room(self.batch_size, self._stop)
        if self._stop.is_set():
            return
        records = poll.lpop(self.queue_key, self.batch_size)
        self._hand_over(records, "lpop")
        self._contact()
        if len(records) < self.batch_size:
            self._stop.wait(self.idle_interval)

    def _hand_over(self, records: list[bytes], via: str) -> None:
        self._refused.recovered()  # a pop worked
        received = now_ms()
        for record in records:
            self.writer.put(record, via, received, self.instance.name)
        self.status.last_pop_at = received
        if records:
            self.status.last_event_at = received

    def _drain_backlog(self, poll: QueueConnection) -> None:
        while not self._stop.is_set():
            records = poll.lpop(self.queue_key, self.batch_size)
            self._hand_over(records, "lpop")
            if len(records) < self.batch_size:
                return

    def _stay_subscribed(self, poll: QueueConnection, subscription: QueueConnection) -> None:
        """Subscribed: readers of their own hand the usage and the errors channel over, while
        this thread drains the LPOP backlog every backlog_every, until the subscription ends
        (SubscriptionLost) or the drainer stops."""
        ended = threading.Event()
        self._lost_reason = None
        self._note_drop()
        reader = threading.Thread(target=self._read_subscription, args=(subscription, ended, "subscribe"),
                                  name="subscription-reader", daemon=True)
        reader.start()
        errors = threading.Thread(target=self._follow_errors, args=(ended,), name="errors-reader", daemon=True)
        errors.start()
        self.status.set(mode="subscribe", subscribed_since=now_ms())
        log.info("subscribed to CPA %s's %r channel at %s", self.instance.name, self.queue_key,
                 endpoint_text(self.endpoint))
        try:
            while not self._stop.is_set():
                self._drain_backlog(poll)
                self._contact()
                self._save_contact()
                if ended.wait(self.backlog_every):
                    break
        finally:
            ended.set()
            reader.join(2.0)
            errors.join(2.0)
        if not self._stop.is_set():
            raise self._subscription_lost()

    def _subscription_lost(self) -> SubscriptionLost:
        """Why the subscription ended. When CPA closed it, the time is kept: subscribed again
        that soon, CPA is still running, so it dropped us (_note_drop)."""
        reason = self._lost_reason
        if isinstance(reason, redis.ConnectionError) and "closed" in str(reason).lower():
            self._closed_by_cpa_at = time.monotonic()
        return SubscriptionLost(f"subscription ended: {reason or 'closed by CPA'}")

    def _note_drop(self) -> None:
        """At a new subscription: CPA closed the last one less than DROP_WINDOW_S ago, while
        it kept running. It drops a subscriber whose 256-message buffer is full, and what it
        published meanwhile is lost for us: counted and told."""
        closed_at, self._closed_by_cpa_at = self._closed_by_cpa_at, None
        if closed_at is None or time.monotonic() - closed_at >= self.DROP_WINDOW_S:
            return
        self.status.set(subscription_drops=self.status.subscription_drops + 1, last_subscription_drop_at=now_ms())
        log.warning("CPA %s closed the subscription while it kept running (its 256-message buffer for us was "
                    "full?): records published meanwhile are lost for us (%d times since the start)",
                    self.instance.name, self.status.subscription_drops)

    def _follow_errors(self, usage_ended: threading.Event) -> None:
        """The ``errors`` channel (CPA v7.1.44+), on a connection of its own with the same
        liveness checks, for as long as the usage subscription lasts."""
        while not usage_ended.is_set() and not self._stop.is_set():
            try:
                subscription = self._open()
                if not subscription.subscribe("errors", self.socket_timeout):
                    return  # no SUBSCRIBE at all: the usage subscription would not have worked either
            except QueueError as exc:  # v7.0.7 - v7.1.43: "unsupported channel 'errors'"
                log.info("CPA %s has no errors channel (%s); credential errors are not collected", self.instance.name,
                         exc)
                return
            except (Stopping, AuthRejected):
                return
            except (redis.RedisError, OSError) as exc:
                self._errors_failing.failed(str(exc), f"CPA {self.instance.name}'s errors channel: ",
                                            f"; trying again in {format_duration(self.error_backoff)}")
                usage_ended.wait(self.error_backoff)
                continue
            self._errors_failing.recovered()
            self.status.set(errors_subscribed=True)
            lost = threading.Event()
            self._read_subscription(subscription, lost, "errors", until=usage_ended)
            self.status.set(errors_subscribed=False)
            self._forget(subscription)
            usage_ended.wait(self.error_backoff)

    def _read_subscription(self, subscription: QueueConnection, ended: threading.Event, via: str,
                           until: threading.Event | None = None) -> None:
        """Read a subscription socket continuously; prove a quiet link alive by PING.
        On stop, UNSUBSCRIBE and keep reading until CPA confirms, so that nothing
        already on its way is lost; later records wait in CPA's queue for the next start."""
        try:
            self._read_until_stopped(subscription, via, until)
            if self._stop.is_set():
                self._unsubscribe(subscription, via)
        except Exception as exc:  # noqa: BLE001 - reported to the drainer, which reconnects
            self._reader_failed(exc, via)
        finally:
            ended.set()

    def _read_until_stopped(self, subscription: QueueConnection, via: str, until: threading.Event | None) -> None:
        """Hand every message over until the drainer stops (or ``until`` is set). Each
        message costs one read and one hand-over: a busy CPA publishes thousands a second."""
        quiet_since, ping_sent_at = time.monotonic(), None
        while not self._stop.is_set() and not (until is not None and until.is_set()):
            message = subscription.read_message(0.25)
            now = time.monotonic()
            if message is None:
                ping_sent_at = self._prove_alive(subscription, now - quiet_since, ping_sent_at, now)
                continue
            quiet_since, ping_sent_at = now, None
            self._take(message, via)

    def _prove_alive(self, subscription: QueueConnection, quiet_for: float, ping_sent_at: float | None,
                     now: float) -> float | None:
        """A link quiet for ping_after gets a PING; one whose PING went unanswered for
        pong_timeout is lost (SubscriptionLost). Returns when the waiting PING was sent."""
        if ping_sent_at is not None and now - ping_sent_at > self.pong_timeout:
            raise SubscriptionLost(f"no pong within {format_duration(self.pong_timeout)}")
        if ping_sent_at is None and quiet_for > self.ping_after:
            subscription.ping()
            return now
        return ping_sent_at

    def _unsubscribe(self, subscription: QueueConnection, via: str) -> None:
        """At a stop: UNSUBSCRIBE, and take what CPA still sends until it confirms (a
        second at most)."""
        subscription.unsubscribe()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            message = subscription.read_message(0.1)
            if message and message[0] == "unsubscribe":
                break
            if message:
                self._take(message, via)

    def _reader_failed(self, exc: Exception, via: str) -> None:
        """A subscription read failed: the usage subscription's reason goes to the drainer
        (which reconnects), the errors channel's to the log; at a stop, neither matters."""
        if self._stop.is_set():
            return
        if via == "subscribe":
            self._lost_reason = exc
        else:
            log.warning("CPA %s's errors channel ended (%s)", self.instance.name, exc)

    def _take(self, message: tuple[str, bytes | None], via: str) -> None:
        kind, payload = message
        self._contact_ms = now_ms()  # a message or a pong: CPA is there (an attribute only: no waiting)
        if kind == "message" and payload is not None:
            self.writer.put(payload, via, instance=self.instance.name)
            if via == "subscribe":
                self.status.last_event_at = now_ms()

    # -- the HTTP usage queue ----------------------------------------------------------

    def _http_session(self, reason: str, resp_soon: bool = False) -> None:
        """Poll CPA's HTTP usage queue until stopped, or (auto) until RESP answers again
        (told once the queue answers: a CPA that is down is told by _connection_lost).
        ``resp_soon``: RESP did not answer, perhaps because CPA was down; it is asked
        again at the queue's first answer, so that a restarted CPA is back on SUBSCRIBE at
        once, not resubscribe_every later."""
        next_probe, told = self._next_resp_probe(), False
        if resp_soon:
            next_probe = min(next_probe, time.monotonic())
        while not self._stop.is_set():
            self.writer.wait_for_room(self.batch_size, self._stop)
            if self._stop.is_set():
                return
            records = self.http.pop_queue(self.batch_size, self._stop)
            if records is None:
                raise CpaHttpError(f"CPA {self.instance.name} has no HTTP usage queue (older than v6.10.8), and "
                                   f"RESP does not work ({reason})")
            self.status.set(connected=True, mode="http")
            if not told:
                log.info("draining CPA %s through its HTTP usage queue at %s (%s)", self.instance.name,
                         self.http.base_url, reason)
                told = True
            self._hand_over(records, "http")
            self._contact()
            self._save_contact()
            if time.monotonic() >= next_probe:
                self._subscribe_if_resp_answers()
                next_probe = self._next_resp_probe()
            if len(records) < self.batch_size:
                self._stop.wait(self.idle_interval)

    def _next_resp_probe(self) -> float:
        """When the HTTP session asks whether RESP works again: resubscribe_every from now
        with REDIS_QUEUE_TRANSPORT=auto and a RESP address, else never."""
        if self.transport != "auto" or self.endpoint is None:
            return math.inf
        return time.monotonic() + self.resubscribe_every

    def _subscribe_if_resp_answers(self) -> None:
        """RESP answers again (CPA upgraded, a proxy reconfigured): SUBSCRIBE takes over
        (TransportChange)."""
        probe = probe_resp(self.endpoint, self.probe_timeout)
        if probe.speaks_resp:
            log.info("CPA %s: %s again; moving to SUBSCRIBE", self.instance.name, probe.detail)
            raise TransportChange("subscribe", probe.detail)


def _failures_text(results: dict[str, str]) -> str:
    """The failures of a metadata sync for the log, the lists that fail alike together:
    "auth-files, api-keys and 11 more: <error>" (a CPA that is down fails them all)."""
    by_error: dict[str, list[str]] = {}
    for name, result in results.items():
        if result not in ("ok", "absent"):
            by_error.setdefault(result, []).append(name)
    return "; ".join(f"{_some_names(names)}: {error}" for error, names in by_error.items())


def _some_names(names: list[str]) -> str:
    """"a", "a and b", "a, b and 11 more"."""
    if len(names) <= 2:
        return " and ".join(names)
    return f"{names[0]}, {names[1]} and {len(names) - 2} more"


class SyncBusy(Exception):
    """A metadata sync is already under way."""


class MetadataSync(Worker):
    """Keeps one CPA's credential lists, provider catalog and model list, whether it
    records usage at all and how long it keeps an undrained record: every
    METADATA_SYNC_INTERVAL, on request, and at once when CPA publishes
    {"refresh":true}. Each list is replaced whole when it arrives; when it does not,
    the last good copy stays and /status tells the failure. A list this CPA does not
    have (newer than it) is no failure: /status names it. One per CPA of
    CPA_INSTANCES, each list kept under the CPA's name."""

    def __init__(self, store: Store, http: CpaHttp, interval: float, instance: str, status: DrainStatus | None = None):
        self.store, self.http, self.interval, self.instance = store, http, interval, instance
        self.status = status  # the drain's, which reports the queue retention
        self.last_run_at: int | None = None
        self.last_success_at: int | None = None
        self.last_error: str | None = None
        self.last_error_at: int | None = None
        self.absent: list[str] = []  # lists this CPA does not have
        self.usage_statistics_enabled: bool | None = None
        self.usage_statistics_checked_at: int | None = None
        self.queue_retention_s: int | None = None
        self._incomplete = RepeatedCondition(f"metadata sync of CPA {instance} incomplete",
                                             f"metadata sync of CPA {instance} complete again", count="syncs")
        self._lock = threading.Lock()
        super().__init__(f"metadata-sync-{instance}")

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.http.gate.wait_turn(self._stop)  # outside the sync lock: POST /sync must not hang
                self.sync()
            except Stopping:
                return
            except AuthRejected as exc:  # the KeyGate logs it; the next attempt waits for it
                self.last_error, self.last_error_at = f"CPA rejected the management key: {exc}", now_ms()
            except Exception:  # noqa: BLE001 - the loop must outlive any surprise
                log.exception("metadata sync failed")
            finally:
                self.http.close()
            self._wake.wait(self.interval)
            self._wake.clear()

    def sync(self, wait: bool = True) -> dict:
        """Fetch every list; {name: "ok", "absent" (this CPA has no such list) or the
        error}. AuthRejected stops the run. ``wait=False`` (someone waits for the
        answer): fail at once while the key is paused, and with SyncBusy while another
        sync has run for half a minute."""
        if not wait:
            self.http.gate.raise_if_paused()
        if not self._lock.acquire(timeout=-1 if wait else 30):
            raise SyncBusy("a sync is already running")
        try:
            results = self._fetch_all(wait)
            self._note_results(results)
            return results
        finally:
            self._lock.release()

    def _fetch_all(self, wait: bool) -> dict[str, str]:
        """Every list of METADATA_LISTS, whether CPA records usage, how long it keeps a
        record, then the models (asked with one of the client keys just fetched)."""
        results: dict[str, str] = {}
        for spec in METADATA_LISTS:
            results[spec.name] = self._fetch(spec.name, lambda: self.http.metadata_list(spec, self._stop, wait))
        results["usage-statistics-enabled"] = self._check_recording(wait)
        results["queue-retention"] = self._check_retention(wait)
        results["models"] = self._fetch("models", self._models)
        return results

    def _note_results(self, results: dict[str, str]) -> None:
        """What /status tells of this sync: when it ran, the lists this CPA lacks, and
        the failures (or the time of the last complete sync)."""
        now = now_ms()
        self.last_run_at = now
        self.absent = [name for name, result in results.items() if result == "absent"]
        error = "; ".join(f"{name}: {result}" for name, result in results.items()
                          if result not in ("ok", "absent")) or None
        if error:
            self.last_error, self.last_error_at = error, now
            self._incomplete.failed(_failures_text(results), f"metadata sync of CPA {self.instance} incomplete "
                                    "(the last good copies stay): ")
        else:
            self.last_success_at = now
            self._incomplete.recovered()

    def _fetch(self, name: str, fetch: Callable[[], Any]) -> str:
        try:
            listed = fetch()
        except CpaHttpError as exc:
            return str(exc)
        if listed is None:
            self.store.put_metadata(name, [], self.instance)  # what it does not have, it has none of
            return "absent"
        self.store.put_metadata(name, listed, self.instance)
        return "ok"

    def _models(self) -> list:
        keys = (self.store.get_metadata("api-keys", self.instance) or (None, []))[1]
        answer = self.http.client("/v1/models", keys[0] if keys else "")
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise CpaHttpError("unexpected answer from /v1/models")
        return answer["data"]

    def _check_recording(self, wait: bool) -> str:
        try:
            enabled = self.http.recording(self._stop, wait)
        except CpaHttpError as exc:
            return str(exc)
        if enabled is False and self.usage_statistics_enabled is not False:
            log.error("CPA %s does not record usage: its usage-statistics-enabled is false, so every record is "
                      "dropped. Set it to true in CPA's config.yaml, or POST /api/v1/cpa/usage-statistics "
                      '{"enabled": true}', self.instance)
        self.usage_statistics_enabled, self.usage_statistics_checked_at = enabled, now_ms()
        return "ok"

    def _check_retention(self, wait: bool) -> str:
        try:
            self.queue_retention_s = self.http.queue_retention(self._stop, wait)
        except CpaHttpError as exc:
            return str(exc)
        if self.status is not None:
            self.status.set(queue_retention_s=self.queue_retention_s)
        return "ok"

    def set_recording(self, enabled: bool) -> bool:
        """Turn CPA's usage-statistics-enabled on or off through its management API."""
        self.http.set_recording(enabled, self._stop)
        self._check_recording(wait=False)
        return bool(self.usage_statistics_enabled)

    def snapshot(self) -> dict:
        recording = self.usage_statistics_enabled
        return {
            "metadata": {"last_run_at": iso_ms(self.last_run_at), "last_success_at": iso_ms(self.last_success_at),
                         "last_error": self.last_error, "last_error_at": iso_ms(self.last_error_at),
                         "lists": {name: iso_ms(fetched)
                                   for name, fetched in self.store.metadata_times(self.instance).items()},
                         "absent": self.absent},
            "cpa": {"version": self.http.version, "management_api": self.http.api,
                    "usage_statistics_enabled": recording,
                    "checked_at": iso_ms(self.usage_statistics_checked_at),
                    "queue_retention_s": self.queue_retention_s,
                    "fix": None if recording is not False else
                    "CPA drops every usage record while usage-statistics-enabled is false (its default). Set it "
                    "to true in CPA's config.yaml, or POST /api/v1/cpa/usage-statistics {\"enabled\": true}."},
        }


class Maintenance(Worker):
    """The daily sweep at 03:00 in TZ, and at start when the last one was missed (the
    host was down at 03:00): raw events and dead letters past USAGE_RETENTION_DAYS
    go, rollups past ROLLUP_RETENTION_DAYS go (0 keeps them, so long ranges and the
    year view stay whole), then freed pages go back to the file system and the
    planner's statistics are refreshed. What it did is kept in the database, for
    /status and for knowing at the next start whether a sweep was missed."""

    def __init__(self, store: Store, zone: zoneinfo.ZoneInfo, usage_retention_days: int,
                 rollup_retention_days: int = 0, clock: Callable[[], int] = now_ms):
        self.store, self.zone, self.clock = store, zone, clock
        self.usage_retention_days, self.rollup_retention_days = usage_retention_days, rollup_retention_days
        super().__init__("maintenance")

    def _at_three(self, day: dt.date) -> int:
        return int(dt.datetime.combine(day, dt.time(3), tzinfo=self.zone).timestamp() * 1000)

    def next_run_after(self, ms: int) -> int:
        """The first local 03:00 strictly after ``ms`` (DST-aware)."""
        day = dt.datetime.fromtimestamp(ms / 1000, self.zone).date()
        candidate = self._at_three(day)
        return candidate if candidate > ms else self._at_three(day + dt.timedelta(days=1))

    def last_due_at(self, ms: int) -> int:
        """The latest local 03:00 at or before ``ms``."""
        day = dt.datetime.fromtimestamp(ms / 1000, self.zone).date()
        candidate = self._at_three(day)
        return candidate if candidate <= ms else self._at_three(day - dt.timedelta(days=1))

    @property
    def last_report(self) -> dict | None:
        text = self.store.get_meta("maintenance.last")
        return None if text is None else json.loads(text)

    def missed(self, ms: int) -> bool:
        """Whether the sweep of the latest 03:00 before ``ms`` has not run."""
        report = self.last_report
        return report is None or report["at_ms"] < self.last_due_at(ms)

    def sweep(self, at_ms: int) -> dict:
        """One sweep as of ``at_ms``; returns (and keeps) what it removed."""
        began = time.monotonic()
        report = {"at_ms": at_ms, "events": 0, "dead_letters": 0, "credential_errors": 0, "rollup_rows": 0}
        if self.usage_retention_days:
            report["events"], report["dead_letters"], report["credential_errors"] = self.store.delete_events_before(
                at_ms - self.usage_retention_days * DAY_MS)
        if self.rollup_retention_days:
            report["rollup_rows"] = self.store.delete_rollups_before(at_ms - self.rollup_retention_days * DAY_MS)
        self.store.prune_rollup_changes(at_ms - DAY_MS)
        self.store.prune_revoked_sessions(at_ms)
        report["bytes_freed"] = self.store.compact()
        report["seconds"] = round(time.monotonic() - began, 3)
        self.store.set_meta("maintenance.last", json.dumps(report))
        log.info("maintenance: removed %d raw events and %d dead letters older than %s, %d rollup rows older "
                 "than %s; freed %.1f MB in %.1f s", report["events"], report["dead_letters"],
                 f"{self.usage_retention_days} days" if self.usage_retention_days else "forever (kept)",
                 report["rollup_rows"],
                 f"{self.rollup_retention_days} days" if self.rollup_retention_days else "forever (kept)",
                 report["bytes_freed"] / 2**20, report["seconds"])
        return report

    def snapshot(self) -> dict:
        report = self.last_report
        return {"maintenance": {
            "last_run_at": iso_ms(report["at_ms"]) if report else None,
            "last_removed": {k: report.get(k, 0) for k in ("events", "dead_letters", "credential_errors",
                                                           "rollup_rows")} if report else None,
            "last_bytes_freed": report["bytes_freed"] if report else None,
            "last_seconds": report["seconds"] if report else None,
            "next_run_at": iso_ms(self.next_run_after(self.clock())),
            "usage_retention_days": self.usage_retention_days,
            "rollup_retention_days": self.rollup_retention_days}}

    def run(self) -> None:
        due = self.clock() if self.missed(self.clock()) else self.next_run_after(self.clock())
        while not self._stop.wait(max(0.0, (due - self.clock()) / 1000)):
            try:
                self.sweep(self.clock())
            except Exception:  # noqa: BLE001 - tomorrow is another day
                log.exception("maintenance sweep failed")
            due = self.next_run_after(self.clock())


class Rebanding(Worker):
    """Works off the rebanding job a price change notes (Store._start_rebanding): an
    hour of raw events at a time (Store.reband_step), each in a transaction of its own,
    so ingest waits at most one hour's sums (measured: 10,500-12,100 events/s on one
    core, README) and readers see every hour either as it was or banded again, never
    half. The job is in the database: a restart goes on with it. Woken by the price
    routes; asleep without a job."""

    def __init__(self, store: Store):
        super().__init__("rebanding")
        self.store = store

    def run(self) -> None:
        while not self._stop.is_set():
            job = self.store.reband_step()
            if job is None:
                self._wake.wait()
                self._wake.clear()
            elif job["done"]:
                log.info("pricing: the rollups of %s are banded again up to %s", ", ".join(job["models"]),
                         iso_ms(job["next_ms"]))

    def snapshot(self) -> dict:
        """/status: the job under way, or null."""
        job = self.store.rebanding()
        return {"rebanding": None if job is None else {
            "models": job["models"], "done_until": iso_ms(job["next_ms"]), "until": iso_ms(job["end_ms"])}}


class Watchdog(Worker):
    """Watches the others: a worker that died (and is being started again), ingest that
    does not move, a database or spool that refuses writes, records dropped, a CPA not
    connected. ``problems()`` is what /status and /readyz tell; each problem is
    logged when it begins and when it ends (a CPA's connection is logged by its drainer)."""

    EVERY_S = 5.0
    DROP_NEWS_MS = 600_000  # dropped records stay a problem this long after the last one

    def __init__(self, writer: IngestWriter, workers: list[Worker], drains: list[tuple[str, DrainStatus]]):
        super().__init__("watchdog")
        self.writer, self.workers, self.drains = writer, workers, drains

    def problems(self) -> dict[str, str]:
        """{what: the problem in words}, empty when all is well."""
        return {**self._worker_problems(), **self._writer_problems(), **self._drain_problems()}

    def _worker_problems(self) -> dict[str, str]:
        """Workers started and not running: crashed (and being started again) or ended."""
        return {f"worker:{w.name}": f"{w.name} is not running ({w.last_crash or 'it ended'}); "
                f"{'it starts again' if w.crashed else 'restart cpa-usage'}"
                for w in self.workers if w.started and not w.alive}

    def _writer_problems(self) -> dict[str, str]:
        """The ingest writer's: a database refusing writes, ingest that does not move, a
        spool that cannot be written, records dropped lately."""
        writer, now, found = self.writer, now_ms(), {}
        if writer.stalled:
            found["database"] = f"the database refuses writes ({writer.stall_reason}); {writer.pending:,} records wait"
        since = writer.stalled_since()
        if since is not None:
            found["ingest"] = f"ingest has not moved since {iso_ms(since)}: {writer.pending:,} records wait"
        if writer.spool_error:
            found["spool"] = (f"the spool cannot be written ({writer.spool_error}); {writer.in_memory:,} records wait "
                              "in memory and polling pauses")
        if writer.last_drop_at is not None and now - writer.last_drop_at < self.DROP_NEWS_MS:
            found["dropped"] = (f"{writer.dropped:,} records taken from CPA were dropped (memory and spool full), "
                                f"the last at {iso_ms(writer.last_drop_at)}")
        return found

    def _drain_problems(self) -> dict[str, str]:
        """Every CPA not connected."""
        return {f"cpa:{name}": f"CPA {name} is not connected ({status.last_error or 'connecting'})"
                for name, status in self.drains if status.mode == "down"}

    def run(self) -> None:
        known: set[str] = set()
        while not self._stop.wait(self.EVERY_S):
            problems = {key: text for key, text in self.problems().items() if not key.startswith("cpa:")}
            for key in sorted(problems.keys() - known):
                log.warning("problem: %s", problems[key])
            for key in sorted(known - problems.keys()):
                log.info("solved: %s", key)
            known = set(problems)


class ImportFileError(ValueError):
    """A file that is not valid as a whole: nothing of it is imported."""


class ImportReport:
    """What an import did: records read, added, already there, rejected (and why)."""

    def __init__(self, name: str) -> None:
        self.name, self.read, self.added, self.duplicates, self.rejected = name, 0, 0, 0, 0
        self.reasons: dict[str, int] = {}
        self.error: str | None = None

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def json(self) -> dict:
        return {"file": self.name, "read": self.read, "added": self.added, "duplicates": self.duplicates,
                "rejected": self.rejected, "reasons": self.reasons, "error": self.error}

    def summary(self) -> str:
        if self.error:
            return f"{self.name}: not imported: {self.error}"
        reasons = "".join(f"\n  {n} x {reason}" for reason, n in sorted(self.reasons.items(), key=lambda r: -r[1]))
        return (f"{self.name}: {self.read:,} read, {self.added:,} added, {self.duplicates:,} already there, "
                f"{self.rejected:,} rejected (kept in dead_letters){reasons}")


class Importer:
    """Files of usage records into the store: CPA's legacy usage export (one JSON
    document), JSON Lines of queue payloads of any era, our own JSONL export, or a mix
    of the last two. Events get the identity they get when drained, so importing
    twice, or importing what was also drained, adds nothing.

    A file is checked whole before anything is written (constant memory: a second
    pass reads it again), so one that is not valid JSON or JSON Lines changes nothing;
    within a valid file, a record that cannot be decoded is rejected with its reason
    and kept in dead_letters like a malformed record from the queue."""

    BATCH = 1000

    def __init__(self, store: Store, clock: Callable[[], int] = now_ms):
        self.store, self.clock = store, clock

    def run(self, stream: Any, name: str, progress: Callable[[int], None] | None = None) -> ImportReport:
        """Import one seekable binary stream; ``progress`` gets the bytes read so far."""
        report = ImportReport(name)
        try:
            records = self._records(stream, name)
            batch: list[tuple[str, bytes]] = []
            for where, payload in records:
                batch.append((where, payload))
                if len(batch) == self.BATCH:
                    self._write(batch, report)
                    batch = []
                    if progress:
                        progress(stream.tell())
            self._write(batch, report)
        except ImportFileError as exc:
            report.error = str(exc)
        return report

    def _records(self, stream: Any, name: str) -> Iterable[tuple[str, bytes]]:
        """(where, payload) of every record, after checking that the file is valid as a whole."""
        first = self._first_line(stream)
        if not first:
            return []  # nothing in it: nothing to import (read 0), as for any other file
        stream.seek(0)
        if not self._is_json_lines(first):
            return self._legacy_document(stream)
        self._check_lines(stream)
        stream.seek(0)
        return self._lines(stream, name)

    @staticmethod
    def _first_line(stream: Any) -> bytes:
        """The first line that is not blank (empty when there is none)."""
        for line in stream:
            if line.strip():
                return line
        return b""

    @staticmethod
    def _is_json_lines(first: bytes) -> bool:
        """Whether a file whose first line is ``first`` is JSON Lines: that line is a whole
        JSON value. Else the file is one (legacy) document."""
        try:
            json.loads(first)
        except RecursionError:
            return True  # a whole value, nested too deep to read: a record to reject, not the file
        except ValueError:
            return False  # the first line is not a whole value: one (legacy) document
        return True

    @staticmethod
    def _legacy_document(stream: Any) -> list[tuple[str, bytes]]:
        """The records of a file that is one JSON document: CPA's legacy usage export."""
        try:
            document = json.load(stream)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ImportFileError(f"neither JSON Lines nor a JSON document ({exc})") from None
        try:
            return list(legacy_export_payloads(document))
        except ValueError as exc:
            raise ImportFileError(str(exc)) from None

    def _check_lines(self, stream: Any) -> None:
        """The first pass over JSON Lines: every line is JSON, and a legacy export on one
        line is a valid one (else ImportFileError, naming the line)."""
        for number, line in enumerate(stream, 1):
            if line.strip():
                self._check_line(number, line)

    def _check_line(self, number: int, line: bytes) -> None:
        """Line ``number`` of JSON Lines is JSON, and valid if it is a legacy export."""
        try:
            value = json.loads(line)
        except RecursionError:
            return  # a record nested too deep to read: rejected with its reason when imported
        except ValueError as exc:
            raise ImportFileError(f"line {number} is not JSON ({exc})") from None
        if not self._is_legacy_export(value):
            return
        try:
            for _ in legacy_export_payloads(value):
                pass
        except ValueError as exc:
            raise ImportFileError(f"line {number}: {exc}") from None

    @staticmethod
    def _is_legacy_export(value: Any) -> bool:
        return isinstance(value, dict) and "usage" in value and "version" in value and "tokens" not in value

    def _lines(self, stream: Any, name: str) -> Iterable[tuple[str, bytes]]:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            if line.lstrip().startswith(b'{"version"') or b'"usage"' in line:
                try:
                    value = json.loads(line)
                except RecursionError:
                    value = None
                if self._is_legacy_export(value):  # a legacy export on one line
                    yield from legacy_export_payloads(value)
                    continue
            yield f"{name}:{number}", line.strip()

    def _write(self, batch: list[tuple[str, bytes]], report: ImportReport) -> None:
        received = self.clock()
        items, dead = [], []
        for where, payload in batch:
            report.read += 1
            try:
                event = self._event_of(payload, received)
            except DecodeError as exc:
                report.reject(str(exc))
                dead.append(DeadLetter(received, "import", f"{where}: {exc}", payload))
                continue
            items.append((event, DeadLetter(received, "import", f"{where}: ", payload)))
        if items or dead:
            result, refused = self.store.write_isolating(items, dead, received=0)
            report.added += result.inserted
            report.duplicates += result.duplicates
            for letter in refused:  # refused by the database: told as rejected
                report.reject(letter.reason.split(": ", 1)[1])

    @staticmethod
    def _event_of(payload: bytes, received: int) -> UsageEvent | CredentialError:
        """A record as the event it is: a row of our JSONL export (it has an event_key), else
        a queue payload of any era. DecodeError for a control message: no usage record."""
        value = parse_json(payload) if b'"event_key"' in payload else None
        if isinstance(value, dict) and "event_key" in value:
            return event_from_export_row(value)
        event = decode_payload(payload, received)
        if isinstance(event, ControlMessage):
            raise DecodeError("a control message, not a usage record")
        return event


class Alerts(Worker):
    """Budget and anomaly alerts per client key.

    Every minute: a key whose spend in this local day or month reaches 80% or 100%
    of a budget limit (USD or tokens), and a key whose spend in the last hour exceeds
    ALERT_ANOMALY_FACTOR times the median of its active hours in the week before (at
    least MIN_ACTIVE_HOURS of them), get an alert, recorded once per key, period and
    condition (an anomaly once per key and local day). Alerts are POSTed to
    ALERT_WEBHOOK_URL by this thread, retried with growing pauses; a slow or dead
    receiver holds up nothing else (ingest has its own threads)."""

    CHECK_EVERY_MS = 60_000
    THRESHOLDS = (80, 100)
    MIN_ACTIVE_HOURS = 6
    RETRY_DELAYS_MS = (10_000, 60_000, 300_000, 1_800_000, 3_600_000)  # then it is given up
    GIVEN_UP = 2**62

    def __init__(self, analytics: Analytics, webhook_url: str, anomaly_factor: float,
                 clock: Callable[[], int] = now_ms, timeout: float = 10.0):
        self.analytics, self.store = analytics, analytics.store
        self.webhook_url, self.factor, self.clock, self.timeout = webhook_url, anomaly_factor, clock, timeout
        super().__init__("alerts")

    def check(self, now: int) -> int:
        """Raise the alerts due at ``now``; returns how many are new."""
        periods = self.analytics.periods(now)
        return self._budget_alerts(now, periods) + self._anomaly_alerts(now, periods)

    def _budget_alerts(self, now: int, periods: dict[str, tuple[int, int, str]]) -> int:
        """An alert for every threshold of every budget limit reached in this local day
        or month; returns how many are new."""
        conditions = list(itertools.product(periods.items(), ("usd", "tokens"), self.THRESHOLDS))
        new = 0
        for key, limits in self.store.budgets().items():
            status = self.analytics.budget_status(key, limits, now)
            for (period, (_, _, label)), unit, percent in conditions:
                limit, spent = limits.get(f"{period}_{unit}"), status[period][unit]["spent"]
                if limit and spent >= limit * percent / 100:
                    new += self.store.add_alert(key, "budget", f"{period}:{label}", f"{unit}_{percent}",
                                                spent, limit * percent / 100, unit, now)
        return new

    def _anomaly_alerts(self, now: int, periods: dict[str, tuple[int, int, str]]) -> int:
        """An alert for every key whose spend in the last hour exceeds ``factor`` times the
        median of its active hours (at least MIN_ACTIVE_HOURS) in the week before; returns
        how many are new (one per key and local day)."""
        history = self._active_hours(now - now % HOUR_MS)
        new = 0
        for (key,), acc in self.analytics.with_cost(Query(now - HOUR_MS, now, open_end=True), ("api_key",)).items():
            past = sorted(history.get(key, []))
            if len(past) < self.MIN_ACTIVE_HOURS:
                continue
            usual = (past[(len(past) - 1) // 2] + past[len(past) // 2]) / 2
            if acc.cost_usd > self.factor * usual:
                new += self.store.add_alert(key, "anomaly", f"day:{periods['daily'][2]}", "last_hour_usd",
                                            round(acc.cost_usd, 6), round(self.factor * usual, 6), "usd", now)
        return new

    def _active_hours(self, hour: int) -> dict[str, list[float]]:
        """Each key's spend in every hour it spent anything, over the seven days that end
        an hour before ``hour`` (the start of this hour)."""
        history: dict[str, list[float]] = {}
        for (_, key), acc in self.analytics.with_cost(Query(hour - 7 * DAY_MS - HOUR_MS, hour - HOUR_MS),
                                                      ("api_key",), HOUR_MS).items():
            if acc.cost_usd > 0:
                history.setdefault(key, []).append(acc.cost_usd)
        return history

    def json(self, alert: dict, aliases: dict[str, str] | None = None) -> dict:
        """An alert as the API and the webhook show it."""
        return {"id": alert["id"], "kind": alert["kind"], "period": alert["period"], "condition": alert["condition"],
                "value": alert["value"], "threshold": alert["threshold"], "unit": alert["unit"],
                **self.analytics.named("api_key", alert["api_key"], aliases), "created_at": iso_ms(alert["created_ms"]),
                "delivered_at": iso_ms(alert["delivered_ms"]), "attempts": alert["attempts"],
                "last_error": alert["last_error"]}

    def deliver_due(self, now: int) -> int:
        """POST every alert due for (another) attempt; returns how many were delivered."""
        if not self.webhook_url:
            return 0
        delivered, aliases = 0, self.store.aliases()
        for alert in reversed(self.store.alerts(limit=100, undelivered_before=now)):
            shown = self.json(alert, aliases)
            body = {"event": "cpa_usage.alert", "sent_at": iso_ms(now), "alert": {
                k: v for k, v in shown.items() if k not in ("delivered_at", "attempts", "last_error")},
                "text": alert_text(shown)}
            try:
                self._post(body)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                self._not_delivered(alert, exc, now)
                continue
            self.store.alert_attempted(alert["id"], now, now, None)
            delivered += 1
        return delivered

    def _post(self, body: dict) -> None:
        """POST one alert to the webhook (its userinfo sent as Basic auth)."""
        url, credentials = webhook_target(self.webhook_url)
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "User-Agent": f"cpa-usage/{__version__}",
                     **({"Authorization": f"Basic {credentials}"} if credentials else {})})
        with urllib.request.urlopen(request, timeout=self.timeout):
            pass

    def _not_delivered(self, alert: dict, exc: Exception, now: int) -> None:
        """Note a failed delivery and when to try again (RETRY_DELAYS_MS, then given up)."""
        attempt = alert["attempts"]
        retry = now + self.RETRY_DELAYS_MS[attempt] if attempt < len(self.RETRY_DELAYS_MS) else self.GIVEN_UP
        error = str(getattr(exc, "reason", exc)) if not isinstance(exc, urllib.error.HTTPError) \
            else f"HTTP {exc.code}"
        self.store.alert_attempted(alert["id"], None, retry, error)
        log.warning("alert %d not delivered to the webhook (%s); %s", alert["id"], error,
                    "given up" if retry == self.GIVEN_UP else f"next attempt at {iso_ms(retry)}")

    def run(self) -> None:
        next_check = 0
        while not self._stop.wait(5.0):
            try:
                if self.clock() >= next_check:
                    new = self.check(self.clock())
                    if new:
                        log.info("%d new usage alert(s)", new)
                    next_check = self.clock() + self.CHECK_EVERY_MS
                self.deliver_due(self.clock())
            except Exception:  # noqa: BLE001 - the next minute is another try
                log.exception("alert check failed")


def webhook_target(url: str) -> tuple[str, str | None]:
    """(the URL without user and password, base64 ``user:password`` for HTTP Basic auth or
    None): a URL with userinfo (https://user:pass@host/hook) sends it as Basic auth, which
    urllib would not."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:  # no userinfo at all (a password comes only after a user, even an empty one)
        return url, None
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), base64.b64encode(pair.encode()).decode()


def alert_text(alert: dict) -> str:
    """One line a person reads in a chat channel."""
    def amount(value: float) -> str:
        return f"${value:,.2f}" if alert["unit"] == "usd" else f"{value:,.0f} tokens"

    who = alert.get("alias") or alert["api_key"]
    if alert["kind"] == "anomaly":
        return (f"cpa-usage: {who} spent {amount(alert['value'])} in the last hour, more than "
                f"{amount(alert['threshold'])} (unusual for this key)")
    period, _, label = alert["period"].partition(":")
    percent = int(alert["condition"].rsplit("_", 1)[1])
    return (f"cpa-usage: {who} reached {percent}% of its {period} budget for {label}: "
            f"{amount(alert['value'])} of {amount(alert['threshold'] * 100 / percent)}")


###############################################################################
# 6. Pricing ###################################################################
###############################################################################
#
# Cost is computed when asked, from the normalized token sums and the prices in force
# when each event happened: a price has an effective date (effective_from, 0: since
# always), and a model may have several, so a price cut applies from its date on and
# last year keeps last year's price; a price set since always re-prices all history.
# Prices are USD per million tokens. The built-in table (default_prices.json, a dated
# snapshot of the open genai-prices data: tools/price_snapshot.py) covers the models of
# the makers CPA serves, with their price history; where and when the user's own prices
# are in force, they win. A model without any price is shown as unpriced, not free.


class Price(NamedTuple):
    """USD per 1M tokens of each kind (COST_TERMS says which tokens each one bills)."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    reasoning: float | None = None  # None: reasoning is billed as output
    long_context: LongContext | None = None  # its long-context tier, if it has one

    def rate(self, field: str) -> float:
        """The price of one field, reasoning at the output price when it has none."""
        return self.output if field == "reasoning" and self.reasoning is None else getattr(self, field)

    def figures(self) -> dict[str, float | None]:
        """The price per kind of token (PRICE_FIELDS), as the API shows it."""
        return {field: getattr(self, field) for field in PRICE_FIELDS}

    def for_band(self, band: int) -> Price:
        """The price that bills every token of a request of this prompt band (prompt_band)."""
        long = self.long_context
        return long.price if long is not None and band >= long.first_band else self

    def band_ranges(self) -> list[tuple[int, int, Price]]:
        """[(first band, band after the last, the price that bills them)]: every band at
        one price, or the bands up to the long-context threshold and those above it."""
        long = self.long_context
        if long is None:
            return [(0, PROMPT_BANDS, self)]
        return [(0, long.first_band, self), (long.first_band, PROMPT_BANDS, long.price)]


class LongContext(NamedTuple):
    """A long-context tier, as providers bill it (Anthropic's and Google's "over 200k
    tokens", OpenAI's "over 272k"): a request whose prompt (PROMPT_TOKENS: input, cache
    reads, cache writes and unclassified tokens, all it sent) has MORE than ``above``
    tokens pays ``price`` for ALL its tokens, output too. The snapshot's "tiers"
    (tools/price_snapshot.py) give it, a kind without a tier of its own keeping its base
    price, or the owner's price (parse_long_context); ``above`` is one of PROMPT_BAND_EDGES."""

    above: int
    price: Price

    @property
    def first_band(self) -> int:
        """The first prompt band above the threshold."""
        return prompt_band(self.above) + 1


PRICE_FIELDS = ("input", "output", "cache_read", "cache_write", "reasoning")
# The columns of a price segment as a priced read joins it (PRICE_JOIN_ON): of a model,
# in force in [from, to), for the requests of a served tier and of a range of prompt
# bands, whether it is the standard tier's price standing in for the tier's own, and the
# price of each kind of token.
PRICE_ROW = ("price_model", "price_from", "price_to", "price_tier", "price_band_from", "price_band_to",
             "price_tier_fallback", *(f"p_{field}" for field in PRICE_FIELDS))
PRICE_FOREVER_MS = 2**62  # the end of the segment of a price in force now


DEFAULT_PRICES_FILE = "default_prices.json"


class DefaultPrices(NamedTuple):
    """The built-in price table: a snapshot of an open, maintained price source, made by
    tools/price_snapshot.py and shipped beside this module (in the zipapp too).

    ``prices``: each pattern's dated prices [(from_ms, Price)], oldest first; ``models``:
    the source's models as the API lists them; ``first_bands``: each model's bands where a
    long-context price of its pattern begins, filled as models are asked for
    (first_bands_of); ``error``: why there are none (a missing or broken file: the
    service runs on, every model without a price of the owner's unpriced, never free)."""

    about: dict  # source, version, url, date
    prices: dict[str, list[tuple[int, Price]]]
    models: list[dict]
    first_bands: dict[str, tuple[int, ...]]
    error: str | None = None

    def pattern_for(self, model: str) -> str | None:
        """The most specific of the patterns that match a model, or None."""
        matching = [pattern for pattern in self.prices if pattern_matches(pattern, model)]
        return max(matching, key=specificity) if matching else None

    def first_bands_of(self, model: str) -> tuple[int, ...]:
        """The prompt bands at which one of the model's built-in long-context prices
        begins (LongContext.first_band): what the rollups keep of it (Store.kept_first_bands)."""
        firsts = self.first_bands.get(model)
        if firsts is None:
            dated = self.prices.get(self.pattern_for(model) or "", [])
            firsts = self.first_bands[model] = tuple(sorted({price.long_context.first_band for _, price in dated
                                                              if price.long_context is not None}))
        return firsts


def load_default_prices(path: str) -> DefaultPrices:
    """The snapshot at ``path`` (in the zipapp or the checkout: the loader reads both),
    checked as the owner's prices are (parse_price), or an empty table that says what
    is wrong with it."""
    try:
        table = json.loads(__loader__.get_data(path))  # type: ignore[name-defined]
        prices: dict[str, list[tuple[int, Price]]] = {}
        for model in table["models"]:
            dated = [(parse_effective_from(entry["from"] and f"{entry['from']}T00:00:00Z"),
                      snapshot_price(model["id"], entry)) for entry in model["prices"]]
            if not dated or [start for start, _ in dated] != sorted({start for start, _ in dated}):
                raise ValueError(f"{model['id']}: its prices are not in the order they took effect")
            for pattern in model["match"]:
                if not valid_model_name(pattern) or pattern in prices:
                    raise ValueError(f"{model['id']}: pattern {pattern!r} is no name, or another model's")
                prices[pattern] = dated
        about = {key: table[key] for key in ("source", "version", "url", "date")}
    except ApiError as error:
        return DefaultPrices({}, {}, [], {}, f"no default prices: {path}: {error.message}: {error.detail}")
    except (OSError, ValueError, LookupError, TypeError) as error:
        return DefaultPrices({}, {}, [], {}, f"no default prices: {path}: {error!r}")
    return DefaultPrices(about, prices, table["models"], {})


def snapshot_price(model: str, entry: dict) -> Price:
    """One dated price of the snapshot, checked as the owner's are (price_value), with its
    long-context tier: the snapshot's "tiers" have one threshold per price (every model of
    genai-prices has one: 100k, 128k, 200k, 272k or 512k), which all its kinds share."""
    base = Price(*(price_value(model, field, entry.get(field)) for field in PRICE_FIELDS))
    tiers = entry.get("tiers") or {}
    if not tiers:
        return base
    thresholds = {threshold for steps in tiers.values() for threshold, _ in steps}
    if len(thresholds) != 1 or any(len(steps) != 1 for steps in tiers.values()) or not set(tiers) <= set(PRICE_FIELDS):
        raise ValueError(f"{model}: its tiers are not one long-context threshold: {tiers!r}")
    above = int(thresholds.pop())
    if above not in PROMPT_BAND_EDGES:
        raise ValueError(f"{model}: its long-context threshold {above} is none of the prompt bands' edges "
                         f"{PROMPT_BAND_EDGES} (another needs the bands of the stored events again)")
    long = base._replace(**{field: price_value(model, field, steps[0][1]) for field, steps in tiers.items()})
    # A cache kind the source leaves unpriced is billed as input (the snapshot gives it
    # the input price): above the threshold, at the long input price.
    long = long._replace(**{field: long.input for field in ("cache_read", "cache_write")
                            if field not in tiers and getattr(base, field) == base.input})
    return base._replace(long_context=LongContext(above, long))


@functools.cache
def default_prices() -> DefaultPrices:
    """The table shipped with the program, read once."""
    return load_default_prices(os.path.join(os.path.dirname(__file__), DEFAULT_PRICES_FILE))


def pattern_matches(pattern: str, model: str) -> bool:
    """``*`` stands for any run of characters; everything else matches itself."""
    return _pattern_regex(pattern).fullmatch(model) is not None


@functools.lru_cache(maxsize=8192)
def _pattern_regex(pattern: str) -> re.Pattern:
    """A pattern compiled once: a model's price looks at each of the ~700 default
    patterns, more than re's own cache keeps (measured: 14 ms a model uncached, 0.15 ms
    compiled once)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def specificity(pattern: str) -> tuple[int, int]:
    """Which of several matching patterns wins: an exact name, then the most literal
    characters, then the fewest wildcards."""
    return ("*" not in pattern, len(pattern.replace("*", "")) * 100 - pattern.count("*"))


class DatedPrice(NamedTuple):
    """One of the user's prices of a pattern: in force from ``effective_from_ms`` until
    the pattern's next one."""

    effective_from_ms: int
    price: Price
    updated_ms: int


class Pricing:
    """The effective price table: the user's dated prices over the built-in defaults, for
    each service tier.

    At an instant, a model is priced by the most specific of the user's patterns that
    match it and have a price in force then (one from that instant or before), else by
    the most specific default pattern's price in force then: before a pattern's first
    dated price, the defaults (or a less specific pattern of the user's) still price its
    models. That is the standard tier's price. A request served at another tier
    (priority, flex, ...) is priced by the user's prices of that tier the same way (the
    built-in table has none); without one in force, at the standard tier's price, and
    the answers count it (tier_fallback_requests): providers bill those tiers at other
    prices (OpenAI: priority about twice standard, flex half), which this program does
    not make up."""

    def __init__(self, store: Store, defaults: DefaultPrices | None = None):
        self.store = store
        self.defaults = defaults or default_prices()
        # tier ("" the standard one): {pattern: its prices, in the order they took effect}
        self.user: dict[str, dict[str, list[DatedPrice]]] = {}
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], list[tuple[int, tuple[Price, str, str] | None]]] = {}
        self.reload()

    def reload(self) -> None:
        with self._lock:
            user: dict[str, dict[str, list[DatedPrice]]] = {}
            for model, effective_from_ms, *rates, tier, updated_ms in self.store.load_prices():
                user.setdefault(tier, {}).setdefault(model, []).append(
                    DatedPrice(effective_from_ms, stored_price(rates), updated_ms))
            self.user = user
            self._cache = {}

    def history(self, model: str, tier: str = "") -> list[tuple[int, tuple[Price, str, str] | None]]:
        """The segments of a model's price of a tier: [(from_ms, (price, "user" or
        "default", the pattern) or None unpriced)], the first from 0, each until the next.
        Another tier than the standard one has the user's prices of it only."""
        cached = self._cache.get((model, tier))
        if cached is not None:
            return cached
        mine = {pattern: dated for pattern, dated in self.user.get(tier, {}).items() if pattern_matches(pattern, model)}
        default_pattern = self.defaults.pattern_for(model) if not tier else None
        default_dated = self.defaults.prices[default_pattern] if default_pattern else []
        segments: list[tuple[int, tuple[Price, str, str] | None]] = []
        for start in sorted({0} | {d.effective_from_ms for dated in mine.values() for d in dated}
                            | {start for start, _ in default_dated}):
            in_force = [(pattern, [d for d in dated if d.effective_from_ms <= start][-1])
                        for pattern, dated in mine.items() if dated[0].effective_from_ms <= start]
            if in_force:
                pattern, dated = max(in_force, key=lambda item: specificity(item[0]))
                found = (dated.price, "user", pattern)
            else:
                default = [price for since, price in default_dated if since <= start]
                found = (default[-1], "default", default_pattern) if default else None
            if not segments or segments[-1][1] != found:
                segments.append((start, found))
        self._cache[(model, tier)] = segments
        return segments

    def billed_history(self, model: str, tier: str) -> list[tuple[int, tuple[Price, str, str] | None, bool]]:
        """What bills a model's requests of a served tier: history's segments, each with
        whether it is the standard tier's price standing in for the tier's own."""
        standard = self.history(model)
        if not tier:
            return [(start, found, False) for start, found in standard]
        own = self.history(model, tier)
        segments: list[tuple[int, tuple[Price, str, str] | None, bool]] = []
        for start in sorted({start for start, _ in standard} | {start for start, _ in own}):
            own_price, standard_price = _in_force(own, start), _in_force(standard, start)
            segment = ((start, own_price, False) if own_price is not None
                       else (start, standard_price, standard_price is not None))
            if not segments or segments[-1][1:] != segment[1:]:
                segments.append(segment)
        return segments

    def lookup(self, model: str, at_ms: int) -> tuple[Price, str, str] | None:
        """(price, "user" or "default", the pattern that matched) of the standard tier in
        force at ``at_ms``, or None."""
        return _in_force(self.history(model), at_ms)

    def bills_reasoning_apart(self, model: str, start_ms: int, end_ms: int) -> bool:
        """Whether a price of the model (of any tier) in force in [start_ms, end_ms) has a
        reasoning price of its own (else reasoning tokens are output at the output price)."""
        for tier in {"", *self.user}:
            segments = self.history(model, tier)
            ends = [start for start, _ in segments[1:]] + [PRICE_FOREVER_MS]
            if any(found is not None and found[0].reasoning is not None and start < end_ms and start_ms < end
                   for (start, found), end in zip(segments, ends)):
                return True
        return False

    def rows(self, served: Iterable[tuple[str, str]]) -> list[tuple]:
        """The price segments (PRICE_ROW) of each (model, served tier) pair, for the SQL
        that computes cost (COST_SQL, PRICE_JOIN_ON): a row per segment of billed_history
        and per range of prompt bands of its price; a time without a price has no row."""
        rows = []
        for model, tier in served:
            segments = self.billed_history(model, tier)
            for (start, found, fallback), (until, *_) in zip(segments, [*segments[1:], (PRICE_FOREVER_MS,)]):
                if found is None:
                    continue
                rows.extend((model, start, until, tier, band_from, band_to, int(fallback),
                             *map(price.rate, PRICE_FIELDS)) for band_from, band_to, price in found[0].band_ranges())
        return rows

    def event_cost(self, row: dict) -> float | None:
        """USD of one raw event (COST_TERMS over its token columns) at the price in force
        at its time for its served tier and prompt band, or None unpriced."""
        billed = self.billed_history(row["model"], row["served_tier"])
        found = _in_force([(start, found) for start, found, _ in billed], row["ts_ms"])
        if found is None:
            return None
        return round(tokens_cost(row.__getitem__, found[0].for_band(row["prompt_band"])), 8)


def stored_price(rates: Sequence[float | None]) -> Price:
    """A price as the store keeps it: Store.PRICE_COLUMNS from input to long_reasoning."""
    base, above, long = Price(*rates[:5]), rates[5], rates[6:11]
    return base if above is None else base._replace(long_context=LongContext(int(above), Price(*long)))


def _in_force(segments: list[tuple[int, Any]], at_ms: int) -> Any:
    """What the segment in force at ``at_ms`` holds: [(from_ms, what)], each until the next."""
    found = None
    for start, segment in segments:
        if start > at_ms:
            break
        found = segment
    return found


###############################################################################
# 7. Analytics #################################################################
###############################################################################
#
# Every usage endpoint answers from Store.aggregate (rollups, plus raw events at
# unaligned edges), grouped by model so that cost can be priced, and folds the UTC
# buckets into local hours and days of TZ in Python with zoneinfo: right for every
# zone, half-hour and 45-minute offsets and DST included. Budgets are spend in the
# local day and month (Alerts, among the workers, watches them and unusual hours).
# /metrics is the Prometheus text of the same sums.

QUARTER_MS = 900_000
ROLLING_RANGES = {"4h": 4 * HOUR_MS, "8h": 8 * HOUR_MS, "12h": 12 * HOUR_MS, "24h": DAY_MS,
                  **{f"{days}d": days * DAY_MS for days in (2, 3, 4, 5, 6, 7, 30)}}
RANGE_NAMES = ("all", "today", *ROLLING_RANGES, "custom")
OPEN_END_SLACK_MS = 10_000  # a custom range that ends within this of now ends at the present (Query.open_end)
SERIES_WINDOW_MS = 31 * DAY_MS  # hourly series and the 15-minute grid cover at most this much
DAILY_LATENCY_FROM_MS = 3 * DAY_MS  # a latency series of a range this long is by day (the overview's daily chart too)
DAILY_WINDOW_MS = 3660 * DAY_MS  # the daily series, at most ten years (a range of millennia is one request)
# Query instants are held to [0, this] (year 5138): a local calendar can still be
# computed at either end, and no event lies outside it.
MAX_INSTANT_MS = 10**14
# What the event filters list (Analytics.event_filters): {field of the answer: column}, in this order.
EVENT_FILTERS = {"models": "model", "sources": "source", "auth_indexes": "auth_index", "api_keys": "api_key",
                 "instances": "instance"}
ANALYSIS_GROUPS = {"api": ("api_key",), "model": ("model",), "both": ("api_key", "model")}  # group=: the dimensions
ANALYSIS_SORTS = ("requests", "success", "failed", "success_rate", "tokens", "input", "output", "cost",
                  "avg_latency", "avg_ttft", "first_seen", "last_seen", "name")


def looks_like_secret(value: str) -> bool:
    """An upstream API key used as a credential's name (CPA puts it in ``source``)."""
    return bool(value) and "@" not in value and (
        value.startswith(("sk-", "AIza", "xai-", "key-")) or bool(re.fullmatch(r"[A-Za-z0-9_\-.]{24,}", value)))


class Totals:
    """Events summed, with their cost: what every analytics row and summary reports."""

    __slots__ = ("measures", "failed", "first_ms", "last_ms", "cost", "unpriced_requests", "unpriced_models",
                 "tier_fallback_requests", "assumed_cache_write_tokens")

    def __init__(self) -> None:
        self.measures = Measures([0] * len(ROLLUP_MEASURES))  # the sums only: first and last seen apart
        self.failed = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.cost = 0.0
        self.unpriced_requests = 0
        self.unpriced_models: set[str] = set()
        self.tier_fallback_requests = 0
        self.assumed_cache_write_tokens = 0

    def add(self, failed: int, acc: Measures, model: str | None = None) -> None:
        """Add one aggregate row (Store.aggregate; priced: with its cost and unpriced
        requests). Tokens without a price are counted and shown as unpriced, never as
        free; ``model`` names them."""
        self.measures = Measures(mine + theirs for mine, theirs in zip(self.measures, acc))  # zip: the sums only
        if failed:
            self.failed += acc.requests
        self._seen(acc.first_ms, acc.last_ms)
        if len(acc) > len(MEASURE_FIELDS):
            self.cost += acc.cost_usd
            self.unpriced_requests += acc.unpriced_requests
            if acc.unpriced_requests and model is not None:
                self.unpriced_models.add(model)
            self.tier_fallback_requests += acc.tier_fallback_requests
            self.assumed_cache_write_tokens += acc.assumed_cache_write_tokens

    def merge(self, other: "Totals") -> None:
        """Add another Totals of the same answer (a row into the sum over every row)."""
        self.measures = Measures(mine + theirs for mine, theirs in zip(self.measures, other.measures))
        self.failed += other.failed
        if other.first_ms is not None:  # it holds events: first and last seen are both known (add sets both)
            self._seen(other.first_ms, other.last_ms)
        self.cost += other.cost
        self.unpriced_requests += other.unpriced_requests
        self.unpriced_models |= other.unpriced_models
        self.tier_fallback_requests += other.tier_fallback_requests
        self.assumed_cache_write_tokens += other.assumed_cache_write_tokens

    def _seen(self, first_ms: int, last_ms: int) -> None:
        """Widen first and last seen to hold events seen from ``first_ms`` to ``last_ms``."""
        self.first_ms = first_ms if self.first_ms is None else min(self.first_ms, first_ms)
        self.last_ms = last_ms if self.last_ms is None else max(self.last_ms, last_ms)

    @property
    def requests(self) -> int:
        return self.measures.requests

    def sort_key(self, name: str) -> Any:
        m = self.measures
        return {"requests": m.requests, "success": m.requests - self.failed, "failed": self.failed,
                "success_rate": (m.requests - self.failed) / m.requests if m.requests else -1,
                "tokens": m.total_tokens, "input": m.input_tokens, "output": m.output_tokens, "cost": self.cost,
                "avg_latency": m.latency_ms_sum / m.latency_count if m.latency_count else -1,
                "avg_ttft": m.ttft_ms_sum / m.ttft_count if m.ttft_count else -1, "first_seen": self.first_ms or 0,
                "last_seen": self.last_ms or 0}[name]

    def json(self) -> dict:
        m = self.measures
        requests, success = m.requests, m.requests - self.failed
        inputs = m.input_tokens + m.cache_read_tokens + m.cache_write_tokens
        return {
            "requests": requests, "success": success, "failed": self.failed,
            "success_rate": round(success / requests, 4) if requests else None,
            "tokens": {"input": m.input_tokens, "cache_read": m.cache_read_tokens, "cache_write": m.cache_write_tokens,
                       "output": m.output_tokens, "reasoning": m.reasoning_tokens,
                       "unclassified": m.unclassified_tokens, "total": m.total_tokens},
            "cost": {"usd": round(self.cost, 8), "unpriced_requests": self.unpriced_requests,
                     "unpriced_models": sorted(self.unpriced_models),
                     "tier_fallback_requests": self.tier_fallback_requests,
                     "assumed_cache_write_tokens": self.assumed_cache_write_tokens},
            "cache_hit_rate": round(m.cache_read_tokens / inputs, 4) if inputs else None,
            "avg_latency_ms": round(m.latency_ms_sum / m.latency_count) if m.latency_count else None,
            "avg_ttft_ms": round(m.ttft_ms_sum / m.ttft_count) if m.ttft_count else None,
            "flagged_requests": m.flagged,
            "first_seen": iso_ms(self.first_ms), "last_seen": iso_ms(self.last_ms),
        }


def merged_histograms(histograms: Iterable[dict[str, dict[int, int]]]) -> dict[str, dict[int, int]]:
    """Histograms ({metric: {bin: events}}) added together."""
    merged: dict[str, dict[int, int]] = {}
    for histogram in histograms:
        for metric, bins in histogram.items():
            into = merged.setdefault(metric, {})
            for b, events in bins.items():
                into[b] = into.get(b, 0) + events
    return merged


def latency_json(histogram: dict[str, dict[int, int]]) -> dict:
    """Each metric's percentiles (ms, within 9.05%: histogram_percentile) and the number
    of events they come from; null percentiles of none."""
    return {metric: {**{f"p{p}": histogram_percentile(histogram.get(metric, {}), p) for p in HISTOGRAM_PERCENTILES},
                     "count": sum(histogram.get(metric, {}).values())} for metric in HISTOGRAM_METRICS}


def _by_events(item: tuple[tuple, dict[str, dict[int, int]]]) -> tuple:
    """The order of latency rows: most events measured first, then by name."""
    key, histogram = item
    return -sum(histogram.get("latency", {}).values()), key


def csv_line(values: Iterable[Any]) -> str:
    """One CSV record (RFC 4180 quoting, CRLF); None is an empty field."""
    out = io.StringIO()
    csv.writer(out).writerow(["" if v is None else v for v in values])
    return out.getvalue()


def cpa_client_keys(store: Store) -> list[str]:
    """CPA's client API keys as its metadata sync last listed them (what is not text left out)."""
    return [key for key in (store.get_metadata("api-keys") or (None, []))[1] if isinstance(key, str)]


def shown_source(row: dict) -> str:
    """A credential's name as shown: masked when it is an upstream API key."""
    source = row["source"]
    return mask_key(source) if row["auth_type"] == "apikey" or looks_like_secret(source) else source


def plan_json(plan: dict) -> dict:
    """A credential's plan as the API shows it; usd_rate null: priced in USD."""
    return {**{name: plan[name] for name in Store.PLAN_FIELDS[:-1]}, "updated_at": iso_ms(plan["updated_ms"])}


def plan_month_json(plan: dict, acc: Measures | None) -> dict:
    """One month of a plan: its price in USD (at the owner's rate for another currency)
    against the credential's API-equivalent spend, and how many times the price that is."""
    price_usd = plan["monthly_price"] * (plan["usd_rate"] or 1.0)
    spent = round(acc.cost_usd, 6) if acc else 0.0
    return {"plan": plan_json(plan), "price_usd": round(price_usd, 6), "api_equivalent_usd": spent,
            "ratio": round(spent / price_usd, 4) if price_usd else None,  # None: a price too small to divide by
            "requests": acc.requests if acc else 0, "tokens": acc.total_tokens if acc else 0,
            **priced_counts_json(acc)}


def billed_month_json(rule: dict, acc: Measures | None) -> dict:
    """One month of a billed client key: its API cost, and what it is billed: the cost
    times ``markup``, or its total tokens at ``usd_per_million_tokens``."""
    cost, tokens = (acc.cost_usd, acc.total_tokens) if acc else (0.0, 0)
    billed = cost * rule["markup"] if rule["markup"] is not None else tokens / 1e6 * rule["usd_per_million_tokens"]
    return {"requests": acc.requests if acc else 0, "tokens": tokens, "cost_usd": round(cost, 6),
            "billed_usd": round(billed, 6), **priced_counts_json(acc)}


def priced_counts_json(acc: Sequence | None) -> dict:
    """What of a cost is unpriced or assumed (PRICED_FIELDS after the cost, in order
    after it in ``acc``) as the answers show it: 0 of each without events."""
    return {name: acc[_COST_AT + i] if acc else 0 for i, name in enumerate(PRICED_FIELDS[1:], start=1)}


def grid_cell(start_ms: int, requests: int, failed: int) -> dict:
    """The small form of the grids: start, requests, failed."""
    return {"start": iso_ms(start_ms), "start_ms": start_ms, "requests": requests, "failed": failed}


class LocalTime:
    """Local hours and days of one time zone, as UTC instants (epoch ms)."""

    def __init__(self, zone: zoneinfo.ZoneInfo):
        self.zone = zone
        self._hours: dict[int, int] = {}
        self._days: dict[int, int] = {}
        self._labels: dict[int, str] = {}

    def local(self, ms: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ms / 1000, self.zone)

    @staticmethod
    def instant(moment: dt.datetime) -> int:
        return int(moment.timestamp() * 1000)

    def hour_start(self, ms: int) -> int:
        """The start of the local hour holding ``ms`` (the repeated hour of a DST
        change is two hours, told apart by their UTC instants)."""
        key = ms - ms % QUARTER_MS  # every offset is a multiple of 15 minutes
        start = self._hours.get(key)
        if start is None:
            start = self._hours[key] = self.instant(self.local(key).replace(minute=0, second=0, microsecond=0))
        return start

    def day_start(self, ms: int) -> int:
        key = self.hour_start(ms)  # every day starts at an hour start
        start = self._days.get(key)
        if start is None:
            start = self._days[key] = self.midnight(self.local(key).date())
        return start

    def midnight(self, day: dt.date) -> int:
        """The first instant of a local calendar day (where midnight does not exist, the
        first instant after the DST jump)."""
        return self.instant(dt.datetime.combine(day, dt.time(0), tzinfo=self.zone))

    def hours(self, start_ms: int, end_ms: int) -> list[int]:
        """Every local hour that overlaps [start, end), in order."""
        first = self.hour_start(start_ms)
        if self.hourly_step(start_ms, end_ms) == HOUR_MS:  # every local hour is a UTC hour
            return list(range(first, end_ms, HOUR_MS))
        return sorted(set(map(self.hour_start, range(first, end_ms, QUARTER_MS))))

    def months(self, start_ms: int, end_ms: int) -> list[tuple[str, int, int]]:
        """Every local calendar month that overlaps [start, end), in order: (YYYY-MM, its
        first instant, the next month's)."""
        month, last = self.local(start_ms).date().replace(day=1), self.local(end_ms - 1).date().replace(day=1)
        result = []
        while month <= last:
            following = (month + dt.timedelta(days=32)).replace(day=1)
            result.append((month.strftime("%Y-%m"), self.midnight(month), self.midnight(following)))
            month = following
        return result

    def days(self, start_ms: int, end_ms: int) -> list[int]:
        day, last = self.local(start_ms).date(), self.local(end_ms - 1).date()
        result = []
        while day <= last:
            result.append(self.midnight(day))
            day += dt.timedelta(days=1)
        return result

    def hourly_step(self, start_ms: int, end_ms: int) -> int:
        """UTC hours map onto local hours where every offset in the range is a whole
        number of hours; elsewhere (India, Nepal, Adelaide ...) quarter hours do."""
        for day in range(start_ms - start_ms % DAY_MS, end_ms + DAY_MS, DAY_MS):
            if (self.local(min(day, end_ms)).utcoffset() or dt.timedelta()).total_seconds() % 3600:
                return QUARTER_MS
        return HOUR_MS

    def label(self, ms: int) -> str:
        """An hour as the series show it (kept: a month of them at every refresh)."""
        label = self._labels.get(ms)
        if label is None:
            if len(self._labels) >= 100_000:
                self._labels.clear()
            label = self._labels[ms] = self.local(ms).isoformat(timespec="minutes")
        return label


class Analytics:
    """The answers behind the usage endpoints, computed from Store aggregates."""

    ZONES_KEPT = 64

    def __init__(self, store: Store, pricing: "Pricing", zone: zoneinfo.ZoneInfo, clock: Callable[[], int] = now_ms):
        self.store, self.pricing, self.clock = store, pricing, clock
        self.time = LocalTime(zone)
        self._zones: dict[str, Analytics] = {}

    def in_zone(self, zone: zoneinfo.ZoneInfo) -> "Analytics":
        """These answers in another zone's local hours and days (a viewer's): the same
        store, prices and clock. Kept per zone (its LocalTime learns its hours and days)."""
        if zone.key == self.time.zone.key:
            return self
        zoned = self._zones.get(zone.key)
        if zoned is None:
            if len(self._zones) >= self.ZONES_KEPT:
                self._zones.clear()
            zoned = self._zones[zone.key] = Analytics(self.store, self.pricing, zone, self.clock)
        return zoned

    # -- ranges and filters --------------------------------------------------

    def resolve_range(self, name: str, start: int | None, end: int | None) -> tuple[int, int, bool]:
        """[start, end) of a named range, and whether it ends at the present."""
        now = self.clock()
        if name == "custom":  # ending a few seconds ago is ending now: the asking clock differs a little
            return start, end, end >= now - OPEN_END_SLACK_MS
        if name == "today":
            return self.time.day_start(now), now, True
        if name == "all":
            first = self.store.first_event_ms()
            return (first if first is not None else now), now, True
        return now - ROLLING_RANGES[name], now, True

    def key_ids(self, column: str) -> dict[str, str]:
        """Every value of api_key or source known, by its id (a salted hash the API shows
        instead of the secret, and accepts back): seen in events, or for client keys
        also listed by CPA, given a budget, an alias or a billing rule before any use."""
        values = set(self.store.distinct_values(column))
        if column == "api_key":
            values |= (set(cpa_client_keys(self.store)) | set(self.store.budgets()) | set(self.store.aliases())
                       | set(self.store.key_billing()))
        return {self.store.fingerprint(value): value for value in values}

    def resolve_keys(self, wanted: str) -> list[str]:
        """The client keys a text names: the key itself, its alias (maybe several keys),
        or the api_key_id the API shows."""
        aliased = [key for key, alias in self.store.aliases().items() if alias == wanted]
        return aliased or [self.key_ids("api_key").get(wanted, wanted)]

    def resolve_sources(self, wanted: list[str]) -> list[str]:
        """The credentials texts name: each the source itself or the source_id the API
        shows (the ids are worked out only when a source is asked for)."""
        if not wanted:
            return wanted
        ids = self.key_ids("source")
        return [ids.get(value, value) for value in wanted]

    def named(self, column: str, value: str, ids: dict[str, str] | None = None) -> dict:
        """How the API shows an api_key or source: masked when secret, with id and alias."""
        secret = column == "api_key" or looks_like_secret(value)
        shown = {column: mask_key(value) if secret else value, f"{column}_id": self.store.fingerprint(value)}
        if column == "api_key":
            shown["alias"] = (ids if ids is not None else self.store.aliases()).get(value)
        return shown

    # -- the endpoints ---------------------------------------------------------

    def prices_of_seen_models(self) -> list[tuple]:
        """The price of every model ever seen, for each tier it was served at: the same
        list for every question, which SQLite loads into a connection once
        (SqliteDialect.price_join)."""
        return self.served_and_prices()[1]

    def served_and_prices(self) -> tuple[list[tuple], list[tuple]]:
        """Every (model, tier) seen and prices_of_seen_models() of them, from one read of
        the pairs (10 ms at 500 models: an analysis needs both)."""
        served = self.store.distinct_combinations(("model", "served_tier"))
        return served, self.pricing.rows(served)

    @staticmethod
    def models_maybe_unpriced(query: Query, served: list[tuple], prices: list[tuple]) -> tuple[str, ...]:
        """The models of ``served`` (every (model, tier) seen; of the query's models, if it
        names any) with a tier whose price segments (``prices``: Pricing.rows of them)
        leave a time of the range without a price: none at all, or one in force only
        from a date inside it. Only their requests can be unpriced, and most owners'
        prices leave none."""
        covered: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for model, start, until, tier, *_ in prices:
            covered.setdefault((model, tier), []).append((start, until))
        models = set()
        for model, tier in served:
            if query.models and model not in query.models:
                continue
            reach = query.start_ms  # how far from the start of the range prices reach without a gap
            for start, until in sorted(covered.get((model, tier), ())):
                if start > reach:
                    break
                reach = max(reach, until)
            if reach < query.end_ms:
                models.add(model)
        return tuple(sorted(models))

    def with_cost(self, query: Query, group: tuple[str, ...], step_ms: int | None = None,
                  prices: list[tuple] | None = None) -> dict[tuple, Measures]:
        """Store.aggregate with the cost of every row; ``prices``: prices_of_seen_models(),
        when a caller asks several questions."""
        prices = self.prices_of_seen_models() if prices is None else prices
        return self.store.aggregate(query, group, step_ms, prices)

    def cost_by_kind(self, query: Query) -> dict[str, dict]:
        """Each model's cost in ``query``, each event at the price of its time, split by
        the kind of token it pays for: {model: {"usd", the counts of PRICED_FIELDS after it,
        "by_kind": {kind of COST_KINDS: USD}}}. Input includes the unclassified tokens;
        reasoning is a kind of its own (else null, inside output) where a price in force in
        the range bills it apart."""
        answer = {}
        for (model,), row in self.store.cost_by_kind(query, ("model",), self.prices_of_seen_models()).items():
            costs, counts = row[:len(COST_KINDS)], row[len(COST_KINDS):]
            by_kind = dict(zip(COST_KINDS, costs))
            if not self.pricing.bills_reasoning_apart(model, query.start_ms, query.end_ms):
                by_kind["output"] += by_kind["reasoning"]
                by_kind["reasoning"] = None
            answer[model] = {"usd": round(sum(costs), 8), **dict(zip(PRICED_FIELDS[1:], counts)),
                             "by_kind": {kind: None if usd is None else round(usd, 8) for kind, usd in by_kind.items()}}
        return answer

    def overview(self, query: Query, since_first_event: bool) -> dict:
        """Summary, local hourly and daily series (with cost) and the 15-minute grid
        (counts). Hourly series and grid cover the last SERIES_WINDOW_MS of a longer
        range, the daily series its last DAILY_WINDOW_MS (whole local days) of one
        longer still; the summary covers all of it. ``since_first_event`` (range=all): rpm and tpm count from the first
        event, not from the start of the range."""
        prices = self.prices_of_seen_models()  # one read of the models for both priced questions
        summary = self._summary(query, prices)
        window, recent, series = self._series_windows(query)
        # The grid is read before the hourly sums: their failures may come from it, and
        # the sums read after it then hold at least those events.
        quarters = self.store.count(recent, (), QUARTER_MS, failures=True)
        hours, days = self._hours_and_days(series, recent, quarters, prices)
        nothing = Totals().json()  # the hours and days without events: one answer, shared
        return {
            "summary": self._summary_json(summary, query, since_first_event),
            "hourly": [{"start": self.time.label(h), "start_ms": h, **(hours[h].json() if h in hours else nothing)}
                       for h in self.time.hours(recent.start_ms, query.end_ms)],
            "daily": [{"date": self.time.local(d).date().isoformat(), "start_ms": d,
                       **(days[d].json() if d in days else nothing)}
                      for d in self.time.days(series.start_ms, series.end_ms)],
            "health_grid": [grid_cell(q, *quarters.get((q,), (0, 0)))
                            for q in range(window, query.end_ms, QUARTER_MS)],
        }

    def _summary(self, query: Query, prices: list[tuple]) -> Totals:
        """The whole range summed, read by model so that unpriced models are named."""
        summary = Totals()
        for (model, failed), acc in self.with_cost(query, ("model", "failed"), prices=prices).items():
            summary.add(failed, acc, model)
        return summary

    def _summary_json(self, summary: Totals, query: Query, since_first_event: bool) -> dict:
        """The summary as the overview shows it, with requests and tokens a minute."""
        first = summary.first_ms if since_first_event and summary.first_ms is not None else query.start_ms
        minutes = (query.end_ms - first) / 60000
        summary_json = summary.json()
        summary_json["rpm"] = round(summary.requests / minutes, 4) if minutes > 0 else 0
        summary_json["tpm"] = round(summary.measures.total_tokens / minutes, 2) if minutes > 0 else 0
        return summary_json

    def _series_windows(self, query: Query) -> tuple[int, Query, Query]:
        """Where the 15-minute grid starts, the query of the hourly series and grid (the
        last SERIES_WINDOW_MS, from a quarter hour) and that of the daily series (the last
        DAILY_WINDOW_MS, from a local midnight): bounded answers for any range."""
        window = max(query.start_ms, query.end_ms - SERIES_WINDOW_MS)
        window -= window % QUARTER_MS
        recent = query._replace(start_ms=max(window, query.start_ms))
        series = query._replace(start_ms=max(query.start_ms, self.time.day_start(
            max(query.start_ms, query.end_ms - DAILY_WINDOW_MS))))
        return window, recent, series

    def _hours_and_days(self, series: Query, recent: Query, quarters: dict[tuple, tuple[int, int]],
                        prices: list[tuple]) -> tuple[dict[int, Totals], dict[int, Totals]]:
        """The local hours of ``recent`` and the local days of ``series``. The whole local
        days before the hours' window come from UTC days where the zone's midnights are
        whole hours (_days_from_utc_days); the rest from the series' hours (_hours_into)."""
        first_hour = self.time.hour_start(recent.start_ms)
        old_lo = self.time.day_start(series.start_ms)
        if old_lo < series.start_ms:  # a range from within a day: its whole days begin at the next midnight
            old_lo = self.time.midnight(self.time.local(old_lo).date() + dt.timedelta(days=1))
        old_hi = self.time.day_start(first_hour)
        hours: dict[int, Totals] = {}
        if old_lo < old_hi and self.time.hourly_step(old_lo, old_hi) == HOUR_MS:
            days = self._days_from_utc_days(series._replace(start_ms=old_lo, end_ms=old_hi, open_end=False), prices)
            parts = [series._replace(start_ms=old_hi)]
            if series.start_ms < old_lo:  # that first day's hours
                parts.insert(0, series._replace(end_ms=old_lo, open_end=False))
        else:
            days, parts = {}, [series]
        for part in parts:
            self._hours_into(hours, days, part, first_hour, recent, quarters, prices)
        return hours, days

    def _hours_into(self, hours: dict[int, Totals], days: dict[int, Totals], part: Query, first_hour: int,
                    recent: Query, quarters: dict[tuple, tuple[int, int]], prices: list[tuple]) -> None:
        """Add the local hours of ``part`` from ``first_hour`` to ``hours`` and its local
        days to ``days``, from one read of its hours, summed whole, not per (hour,
        failed): in index order, with no sort, which halves the cost of a month's hours.
        An hour before ``first_hour`` goes into its day's sums as it is read, without
        Totals of its own (26,000 hours of three years, made and merged, were a third of
        the answer). The failures come from the grid's ``quarters`` when it spans the part
        (else from a count), read before the sums."""
        step = self.time.hourly_step(part.start_ms, part.end_ms)
        failures = quarters if recent.start_ms == part.start_ms else self.store.count(part, (), step, failures=True)
        failed_by_hour = self._failed_by_hour(failures)
        day_sums: dict[int, Measures] = {}
        for (start,), acc in self.with_cost(part, (), step, prices).items():
            hour = self.time.hour_start(start)
            if hour >= first_hour:
                totals = hours.get(hour)
                if totals is None:
                    totals = hours[hour] = Totals()
                    totals.failed = failed_by_hour.get(hour, 0)
                totals.add(0, acc)
            day = self.time.day_start(hour)
            if day in day_sums:
                day_sums[day].merge(acc)
            else:
                day_sums[day] = Measures(acc)
        failed_by_day: dict[int, int] = {}
        for hour, failed in failed_by_hour.items():
            day = self.time.day_start(hour)
            failed_by_day[day] = failed_by_day.get(day, 0) + failed
        for day, acc in day_sums.items():
            totals = days.setdefault(day, Totals())
            totals.failed += failed_by_day.get(day, 0)
            totals.add(0, acc)

    def _days_from_utc_days(self, old: Query, prices: list[tuple]) -> dict[int, Totals]:
        """The local days of ``old`` (from midnight to midnight, each a whole hour) from the
        UTC days' sums, each corrected by the hours between its midnights and the local
        ones: a local day [m, m') is the UTC days from u (the UTC midnight nearest m) to
        u', plus the hours from m to u, less those from m' to u' (signed: hours after u
        are taken away). A day in Shanghai is a UTC day and 8 hours, not 24 hours: three
        years of the overview's daily series read a third of the hourly rows. First and
        last seen do not subtract: they come, with the failures, from a count of the
        narrowest rollup by the hour, read after the sums (so it holds at least their days)."""
        midnights = [*self.time.days(old.start_ms, old.end_ms), old.end_ms]
        nearest = [(m + DAY_MS // 2) // DAY_MS * DAY_MS for m in midnights]
        edges = self.store.aggregate(old, (), None, prices, spans=[(min(m, u), max(m, u))
                                                                   for m, u in zip(midnights, nearest)])
        utc_days = self.with_cost(old._replace(start_ms=nearest[0], end_ms=nearest[-1]), (), DAY_MS, prices)
        seen: dict[int, list[int]] = {}  # local day: [failed, first seen, last seen]
        for (hour,), (_, failed, first_ms, last_ms) in self.store.count(old, (), HOUR_MS, seen=True).items():
            day = midnights[bisect.bisect_right(midnights, hour) - 1]  # the days are at hand: no LocalTime lookup
            known = seen.get(day)
            if known is None:
                seen[day] = [failed, first_ms, last_ms]
            else:
                known[0], known[1], known[2] = known[0] + failed, min(known[1], first_ms), max(known[2], last_ms)
        days: dict[int, Totals] = {}
        for i, day in enumerate(midnights[:-1]):
            acc = Measures([0] * len(MEASURE_FIELDS) + [0.0] + [0] * (len(PRICED_FIELDS) - 1))
            for utc_day in range(nearest[i], nearest[i + 1], DAY_MS):
                _add_sums(acc, utc_days.get((utc_day,)), 1)
            _add_sums(acc, edges.get((i,)), 1 if day < nearest[i] else -1)
            _add_sums(acc, edges.get((i + 1,)), -1 if midnights[i + 1] < nearest[i + 1] else 1)
            if acc.requests:
                acc[_COST_AT] = max(0.0, acc[_COST_AT])  # a difference of sums: no -0.0 of rounding
                totals = days[day] = Totals()
                totals.failed, acc[_FIRST_AT], acc[_FIRST_AT + 1] = seen.get(day, (0, None, None))
                totals.add(0, acc)
        return days

    def _failed_by_hour(self, counts: dict[tuple, tuple[int, int]]) -> dict[int, int]:
        """Failed requests by local hour, from counts of any step."""
        failed_by_hour: dict[int, int] = {}
        for (start,), (_, failed) in counts.items():
            if failed:
                hour = self.time.hour_start(start)
                failed_by_hour[hour] = failed_by_hour.get(hour, 0) + failed
        return failed_by_hour

    REALTIME_MINUTES = 60

    def realtime(self, query: Query) -> dict:
        """The last hour minute by minute, the current minute last (still filling):
        requests, failures and tokens, and their sums. Read from raw events (no rollup is
        finer than 5 minutes): an hour of them, which a live panel asks for every few
        seconds."""
        end = self.clock() // MINUTE_MS * MINUTE_MS + MINUTE_MS
        start = end - self.REALTIME_MINUTES * MINUTE_MS
        window = query._replace(start_ms=start, end_ms=end)
        counts = self.store.count(window, (), MINUTE_MS, failures=True)
        tokens = {key: sums.total_tokens for key, sums in self.store.aggregate(window, (), MINUTE_MS).items()}
        minutes = [{"start_ms": t, "requests": counts.get((t,), (0, 0))[0], "failed": counts.get((t,), (0, 0))[1],
                    "tokens": tokens.get((t,), 0)} for t in range(start, end, MINUTE_MS)]
        return {"start": iso_ms(start), "start_ms": start, "end": iso_ms(end), "end_ms": end, "minutes": minutes,
                **{field: sum(minute[field] for minute in minutes) for field in ("requests", "failed", "tokens")}}

    def health(self, query: Query, day: dt.date | None) -> dict:
        """The last 365 local days, one cell each; with ``day``, its 5-minute cells."""
        now = self.clock()
        today = self.time.local(now).date()
        first = self.time.midnight(today - dt.timedelta(days=364))
        per_day: dict[int, list[int]] = {}
        for (hour,), (requests, failed) in self.store.count(query._replace(start_ms=first, end_ms=now), (),
                                                            self.time.hourly_step(first, now), failures=True).items():
            cell = per_day.setdefault(self.time.day_start(hour), [0, 0])
            cell[0] += requests
            cell[1] += failed
        answer: dict[str, Any] = {
            "year": [{"date": self.time.local(d).date().isoformat(), **grid_cell(d, *per_day.get(d, (0, 0)))}
                     for d in self.time.days(first, now)],
            "day": None}
        if day is not None:
            start, end = self.time.midnight(day), self.time.midnight(day + dt.timedelta(days=1))
            step = ROLLUPS[0].bucket_ms
            cells = self.store.count(query._replace(start_ms=start, end_ms=end), (), step, failures=True)
            answer["day"] = {"date": day.isoformat(), "start_ms": start, "end_ms": end,
                             "cells": [grid_cell(t, *cells.get((t,), (0, 0))) for t in range(start, end, step)]}
        return answer

    def latency(self, query: Query, credentials: bool) -> dict:
        """Percentiles of latency and TTFT (latency_json) over the range, per model, per
        credential (``credentials``: the owner's question), and over time: per UTC hour
        (a local hour where the offset is whole hours), or per local day for a range of
        DAILY_LATENCY_FROM_MS or more, over the last SERIES_WINDOW_MS of it."""
        models = self.store.histograms(query, ("model",))
        answer: dict[str, Any] = {
            "summary": latency_json(merged_histograms(models.values())),
            "models": [{"model": model, **latency_json(histogram)}
                       for (model,), histogram in sorted(models.items(), key=_by_events)],
            "credentials": None}
        if credentials:
            answer["credentials"] = [
                {**self.named("source", source), "auth_index": auth_index, **latency_json(histogram)}
                for (source, auth_index), histogram in sorted(
                    self.store.histograms(query, ("source", "auth_index")).items(), key=_by_events)]
        window = query._replace(start_ms=max(query.start_ms, query.end_ms - SERIES_WINDOW_MS))
        if query.end_ms - query.start_ms < DAILY_LATENCY_FROM_MS:
            hours = {start: histogram for (start,), histogram in self.store.histograms(window, (), HOUR_MS).items()}
            first = window.start_ms - window.start_ms % HOUR_MS
            answer["series"] = {"step": "hour", "points": [
                {"start": self.time.label(h), "start_ms": h, **latency_json(hours.get(h, {}))}
                for h in range(first, window.end_ms, HOUR_MS)]}
            return answer
        # Day by day, each its own question: its pieces' rows are its bins, kept by RollupCache
        # (a month of hours by bin is ~70,000 rows, more than it keeps); a day is exact in
        # every zone (a half-hour offset's midnight inside an hour: raw events, or the whole hour).
        days = self.time.days(window.start_ms, window.end_ms)
        answer["series"] = {"step": "day", "points": [
            {"start": self.time.local(day).date().isoformat(), "start_ms": day, **latency_json(self.store.histograms(
                window._replace(start_ms=max(day, window.start_ms), end_ms=min(end, window.end_ms),
                                open_end=window.open_end and end >= window.end_ms)).get((), {}))}
            for day, end in zip(days, [*days[1:], window.end_ms])]}
        return answer

    def analysis(self, query: Query, group: str, sort: str, descending: bool, page: int, page_size: int) -> dict:
        """Totals by client key, model or both (``group``): one page of the rows in the
        order asked for, and the totals over every row."""
        dimensions = ANALYSIS_GROUPS[group]
        served, prices = self.served_and_prices()
        rows = self._analysis_rows(query, dimensions, prices)
        aliases = self.store.aliases()
        ordered = self._analysis_order(rows, dimensions, aliases, sort, descending)
        shown = ordered[(page - 1) * page_size:page * page_size]
        totals = Totals()
        for row in rows.values():
            totals.merge(row)
        unpriced = () if "model" in dimensions else self.models_maybe_unpriced(query, served, prices)
        if unpriced:
            self._name_unpriced_models(query, {(): totals}, unpriced, prices)
            self._name_unpriced_models(query, dict(shown), unpriced, prices)
        items = [{**self._analysis_names(dimensions, key, aliases), **totals.json()} for key, totals in shown]
        return {"group": group, "sort": sort, "order": "desc" if descending else "asc", "items": items,
                "total": len(rows), "totals": totals.json(), "page": page, "page_size": page_size}

    def _analysis_rows(self, query: Query, dimensions: tuple[str, ...], prices: list[tuple]) -> dict[tuple, Totals]:
        """The range summed by the values of ``dimensions``, read by failed, not by model
        as well: three years of 500 keys were 24,000 rows to sum in Python instead of
        1,000 (bench/HISTORY.md, part 8). Without the model among the dimensions, the
        unpriced models are not named yet (_name_unpriced_models)."""
        model_at = dimensions.index("model") if "model" in dimensions else None
        rows: dict[tuple, Totals] = {}
        for (*key, failed), acc in self.with_cost(query, dimensions + ("failed",), prices=prices).items():
            rows.setdefault(tuple(key), Totals()).add(failed, acc, None if model_at is None else key[model_at])
        return rows

    def _name_unpriced_models(self, query: Query, rows: dict[tuple, Totals], unpriced: tuple[str, ...],
                              prices: list[tuple]) -> None:
        """Name in ``rows`` (the totals of client keys, {(api_key,): Totals}, or of the
        whole query, {(): Totals}) the models whose requests had no price, by one read of
        those keys and of only the ``unpriced`` models, which may lack a price in the
        range (models_maybe_unpriced): a page of the analysis names its own rows only (of all
        10,000 keys of a relay, three years named 55,000 pairs, more than RollupCache keeps)."""
        if not rows:
            return
        whole = () in rows
        keys = query.api_keys if whole else tuple(api_key for api_key, in rows)
        for *key, model in self.store.unpriced_requests(query._replace(models=unpriced, api_keys=keys),
                                                        ("model",) if whole else ("api_key", "model"), prices):
            rows[tuple(key)].unpriced_models.add(model)

    @staticmethod
    def _analysis_order(rows: dict[tuple, Totals], dimensions: tuple[str, ...], aliases: dict[str, str], sort: str,
                        descending: bool) -> list[tuple[tuple, Totals]]:
        """The rows in the order asked for; ties, and sort=name, by name (a key's alias
        where it has one), whatever the order."""
        def name_of(key: tuple) -> str:
            return " ".join(aliases.get(k, k) if d == "api_key" else k for d, k in zip(dimensions, key)).lower()

        ordered = sorted(rows.items(), key=lambda item: name_of(item[0]))
        if sort != "name":
            ordered.sort(key=lambda item: item[1].sort_key(sort), reverse=descending)
        elif descending:
            ordered.reverse()
        return ordered

    def _analysis_names(self, dimensions: tuple[str, ...], key: tuple, aliases: dict[str, str]) -> dict:
        """What names a row of the analysis: its client key as named() shows it, its model."""
        item: dict[str, Any] = {}
        for dimension, value in zip(dimensions, key):
            item.update(self.named("api_key", value, aliases) if dimension == "api_key" else {"model": value})
        return item

    def credentials(self, query: Query) -> dict:
        rows: dict[tuple, Totals] = {}
        last: dict[tuple, list] = {}
        for (source, auth_index, provider, model, failed), acc in self.with_cost(
                query, ("source", "auth_index", "provider", "model", "failed")).items():
            rows.setdefault((source, auth_index), Totals()).add(failed, acc, model)
            seen = last.setdefault((source, auth_index), [None, None, provider])
            seen[failed] = max(seen[failed] or 0, acc.last_ms)
        states = {index: {**credential_error_json(state), "errors_24h": state["errors_24h"]}
                  for index, state in self.store.credential_states().items()}
        items = []
        for (source, auth_index), totals in sorted(rows.items(), key=lambda item: -item[1].requests):
            last_success, last_failure, provider = last[(source, auth_index)]
            items.append({
                **self.named("source", source), "auth_index": auth_index, "provider": provider, **totals.json(),
                "last_success_at": iso_ms(last_success), "last_failure_at": iso_ms(last_failure),
                "last_failure_status": self.store.last_status(last_failure, source, auth_index)
                if last_failure else None, "cpa_state": states.get(auth_index)})
        # the state CPA last reported of every credential with errors (CPA's errors channel)
        return {"items": items, "total": len(items), "states": states}

    def event_filters(self, query: Query) -> dict:
        """The values each filter can take within the range, with their request counts."""
        aliases = self.store.aliases()
        found = {column: sorted((key[0], n) for key, n in self.store.count(query, (column,)).items())
                 for column in EVENT_FILTERS.values()}
        return {field: [{**self._filter_value(column, value, aliases), "requests": n} for value, n in found[column]]
                for field, column in EVENT_FILTERS.items()}

    def _filter_value(self, column: str, value: str, aliases: dict[str, str]) -> dict:
        """A value a filter can take: a credential or a client key as named() shows it,
        a model, auth index or instance as it is."""
        return self.named(column, value, aliases) if column in ("source", "api_key") else {column: value}

    # -- budgets and idle keys -------------------------------------------------

    def periods(self, now: int) -> dict[str, tuple[int, int, str]]:
        """This local day and month (in TZ, DST days included): {name: (start, end, label)}."""
        today = self.time.local(now).date()
        month, start, end = self.time.months(now, now + 1)[0]
        return {"daily": (self.time.midnight(today), self.time.midnight(today + dt.timedelta(days=1)),
                          today.isoformat()),
                "monthly": (start, end, month)}

    def spend(self, api_key: str, start: int, end: int) -> tuple[float, int]:
        """(USD, tokens) one client key spent in [start, end)."""
        acc = self.with_cost(Query(start, end, api_keys=(api_key,)), ()).get(())
        return (acc.cost_usd, acc.total_tokens) if acc else (0.0, 0)

    def budget_status(self, api_key: str, limits: dict, now: int) -> dict:
        """Spend against each limit of a budget, in this local day and month."""
        status: dict[str, Any] = {"limits": limits}
        for period, (start, end, label) in self.periods(now).items():
            usd, tokens = self.spend(api_key, start, end)
            status[period] = {"period": label, "start": iso_ms(start), "end": iso_ms(end)}
            for unit, spent in (("usd", round(usd, 6)), ("tokens", tokens)):
                limit = limits.get(f"{period}_{unit}")
                status[period][unit] = {"spent": spent, "limit": limit,
                                        "ratio": round(spent / limit, 4) if limit else None}
        return status

    def budgets(self, only: str | None = None) -> list[dict]:
        """Every budget (or one key's) with its spend now."""
        aliases, now = self.store.aliases(), self.clock()
        return [{**self.named("api_key", key, aliases), **self.budget_status(key, limits, now)}
                for key, limits in sorted(self.store.budgets().items()) if only is None or key == only]

    def idle_keys(self, days: int) -> list[dict]:
        """Client keys CPA knows or that were ever used, unused for ``days``: oldest use first."""
        now, aliases = self.clock(), self.store.aliases()
        last_used = self.store.keys_last_used()
        configured = cpa_client_keys(self.store)
        return [{**self.named("api_key", key, aliases), "last_used_at": iso_ms(last),
                 "idle_days": None if last is None else (now - last) // DAY_MS, "configured_in_cpa": key in configured}
                for last, key in self._unused_since(now - days * DAY_MS, last_used, configured)]

    @staticmethod
    def _unused_since(cutoff: int, last_used: dict[str, int], configured: list[str]) -> list[tuple[int | None, str]]:
        """(last use, key) of every key used or configured but not used since ``cutoff``:
        those never used first, then the oldest use first."""
        idle = [(last_used.get(key), key) for key in set(last_used) | set(configured)
                if (last_used.get(key) or 0) < cutoff]
        return sorted(idle, key=lambda item: (item[0] is not None, item[0] or 0))

    # -- subscriptions: plans per credential, billing per client key ----------

    def plans(self, start: int, end: int) -> list[dict]:
        """Every credential with a plan (named as CPA's auth files name it; ``oauth``: an
        OAuth login, whose cost is what its use would have cost through the API) and,
        newest first, each local month overlapping [start, end) that one of its plans
        holds: the API-equivalent spend of the whole month (to now) against the price."""
        plans = self.store.plans()
        if not plans:  # the owner's every overview asks: then no list of auth files is read
            return []
        files = {entry.get("auth_index"): entry for entry in (self.store.get_metadata("auth-files") or (None, []))[1]
                 if isinstance(entry, dict)}
        months = self._months_so_far(start, end)
        spent = self._by_month(months, "auth_index", tuple(plans))
        items = []
        for auth_index, held in sorted(plans.items()):
            file = files.get(auth_index, {})
            compared = []
            for head in months:
                plan = next((plan for plan in reversed(held) if plan["from_month"] <= head["month"]), None)
                if plan is not None:
                    compared.append({**head, **plan_month_json(plan, spent.get((head["month"], auth_index)))})
            items.append({"auth_index": auth_index, "label": file.get("label") or file.get("email") or file.get("name"),
                          "oauth": file.get("account_type") == "oauth", "plans": [plan_json(plan) for plan in held],
                          "months": compared})
        return items

    def key_billing(self, start: int, end: int, only: str | None = None) -> list[dict]:
        """Every client key the owner bills (or ``only`` that one), with each local month
        overlapping [start, end), newest first: its API cost and what it is billed (the
        cost times the markup, or its tokens at the fixed rate)."""
        rules = {key: rule for key, rule in self.store.key_billing().items() if only is None or key == only}
        months = self._months_so_far(start, end)
        spent = self._by_month(months, "api_key", tuple(rules))
        aliases = self.store.aliases()
        return [{**self.named("api_key", key, aliases), **rule,
                 "months": [{**head, **billed_month_json(rule, spent.get((head["month"], key)))} for head in months]}
                for key, rule in sorted(rules.items())]

    def _months_so_far(self, start: int, end: int) -> list[dict]:
        """The local months overlapping [start, end) that have begun, newest first."""
        now = self.clock()
        return [{"month": label, "start": iso_ms(lo), "end": iso_ms(hi), "start_ms": lo, "end_ms": hi,
                 "current": now < hi} for label, lo, hi in reversed(self.time.months(start, end)) if lo < now]

    def _by_month(self, months: list[dict], column: str, values: tuple[str, ...]) -> dict[tuple[str, str], Measures]:
        """{(month, value): priced sums} of each of ``values`` of ``column`` (auth_index or
        api_key) in each of ``months``, the month whole up to now."""
        if not values:
            return {}
        now, prices = self.clock(), self.prices_of_seen_models()
        filters = {"auth_index": "auth_indexes", "api_key": "api_keys"}[column]
        found = {}
        for head in months:
            query = Query(head["start_ms"], min(head["end_ms"], now), open_end=head["current"], **{filters: values})
            for (value,), acc in self.with_cost(query, (column,), prices=prices).items():
                found[(head["month"], value)] = acc
        return found

    # -- exports -------------------------------------------------------------

    EVENT_CSV_COLUMNS = ("timestamp", "ts_ms", "model", "alias", "provider", "endpoint", "source", "auth_index",
                         "api_key", "api_key_alias", "failed", "status_code", "latency_ms", "ttft_ms", "input",
                         "cache_read", "cache_write", "output", "reasoning", "unclassified", "total_tokens",
                         "cost_usd", "token_quality", "request_id", "event_key", "stream", "resolved_client_ip",
                         "execution_id")

    def export_events(self, query: Query, fmt: str, hide_credentials: bool = False) -> Iterable[str]:
        """The events of ``query``, oldest first, in pieces of text: ``jsonl`` has every
        stored column, keys in clear (it imports back losslessly: a backup or a move);
        ``csv`` is for spreadsheets: keys masked, with alias and cost (and without the
        upstream credential for a member)."""
        aliases = self.store.aliases()
        rows = self.store.iter_events(query)
        if fmt == "jsonl":
            lines = (_COMPACT_JSON.encode(row) + "\n" for row in rows)
        else:
            lines = itertools.chain([csv_line(self.EVENT_CSV_COLUMNS)],
                                    (csv_line(self._event_csv_values(row, aliases, hide_credentials)) for row in rows))
        for piece in _chunks(lines, 500):  # 500 lines a piece
            yield "".join(piece)

    def _event_csv_values(self, row: dict, aliases: dict[str, str], hide_credentials: bool) -> tuple:
        """One event as a record of the CSV export, EVENT_CSV_COLUMNS in order."""
        credential = (None, None) if hide_credentials else (shown_source(row), row["auth_index"])
        return (iso_ms(row["ts_ms"]), row["ts_ms"], row["model"], row["alias"], row["provider"], row["endpoint"],
                *credential, mask_key(row["api_key"]), aliases.get(row["api_key"]),
                row["failed"], row["status_code"], row["latency_ms"], row["ttft_ms"], row["input_tokens"],
                row["cache_read_tokens"], row["cache_write_tokens"], row["output_tokens"], row["reasoning_tokens"],
                row["unclassified_tokens"], row["total_tokens"], self.pricing.event_cost(row),
                row["token_quality"], row["request_id"], row["event_key"],
                None if row["stream"] is None else bool(row["stream"]), row["resolved_client_ip"],
                row["execution_id"])

    def export_analysis(self, query: Query, group: str, sort: str, descending: bool) -> Iterable[str]:
        """Every row of the analysis as CSV, in the order asked for."""
        answer = self.analysis(query, group, sort, descending, 1, 10**9)
        names = {"api": ("api_key", "api_key_alias"), "model": ("model",),
                 "both": ("api_key", "api_key_alias", "model")}
        yield csv_line((*names[group], "requests", "success", "failed", "success_rate", "input", "cache_read",
                        "cache_write", "output", "reasoning", "unclassified", "total_tokens", "cost_usd",
                        "unpriced_requests", "cache_hit_rate", "avg_latency_ms", "avg_ttft_ms", "first_seen",
                        "last_seen"))
        for item in answer["items"]:
            shown = {"api_key": item.get("api_key"), "api_key_alias": item.get("alias"), "model": item.get("model")}
            tokens, cost = item["tokens"], item["cost"]
            yield csv_line((*(shown[name] for name in names[group]), item["requests"], item["success"],
                            item["failed"], item["success_rate"], tokens["input"], tokens["cache_read"],
                            tokens["cache_write"], tokens["output"], tokens["reasoning"], tokens["unclassified"],
                            tokens["total"], cost["usd"], cost["unpriced_requests"], item["cache_hit_rate"],
                            item["avg_latency_ms"], item["avg_ttft_ms"], item["first_seen"], item["last_seen"]))

    def events(self, query: Query, page: int, page_size: int) -> dict:
        rows, total = self.store.list_events(query, page, page_size)
        aliases = self.store.aliases()
        items = []
        for row in rows:
            item = event_json(row)
            item["api_key_alias"] = aliases.get(row["api_key"])
            item["cost_usd"] = self.pricing.event_cost(row)
            items.append(item)
        return {"items": items, "total": total, "page": page, "page_size": page_size}


METRICS_TOP = 50  # label values kept per dimension; the rest are summed as "other"


def prometheus_metrics(service: "Service") -> str:
    """The Prometheus text exposition (format 0.0.4): the drain's counters, the age of
    the newest event, the queue mode, and usage counters by model and client key
    (alias, or the masked key) for rate(). At most METRICS_TOP models and keys are
    named, by requests; the others are summed under "other", so cardinality is
    bounded whatever CPA serves. A key without an alias is its masked form and the
    start of its id (masked forms alone can be alike)."""
    return "\n".join([*_totals_families(service.store), *_drain_families(service),
                      *_credential_and_ingest_families(service), *_usage_families(service)]) + "\n"


def prometheus_family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict, float]]) -> str:
    """One metric family of the text format: its HELP and TYPE lines, then a line per sample."""
    lines = [f"# HELP {name} {help_text}\n# TYPE {name} {kind}"]
    for labels, value in samples:
        shown = ",".join(f'{k}="{prometheus_escape(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{shown}}} {value}" if shown else f"{name} {value}")
    return "\n".join(lines)


def _totals_families(store: Store) -> list[str]:
    """The running totals of what the drain took in."""
    totals = store.load_totals()
    return [prometheus_family(f"cpa_usage_{name}_total", "counter", help_text, [({}, value)])
            for name, help_text, value in (
                ("records_received", "Records received from CPA's queue.", totals["received"]),
                ("events_inserted", "Usage events stored (imports included).", totals["inserted"]),
                ("duplicates", "Records already stored, skipped.", totals["duplicates"]),
                ("dead_letters", "Records that could not be decoded, kept aside.", totals["dead_letters"]))]


def _drain_families(service: "Service") -> list[str]:
    """Per CPA (the label is "cpa": Prometheus keeps "instance" for the scraped target)."""
    drains = [(instance.name, status.snapshot(), gate) for instance, status, gate in
              zip(service.config.cpas, service.statuses, service.gates)]
    return [
        prometheus_family("cpa_usage_reconnects_total", "counter", "Reconnections to CPA since the start.",
                          [({"cpa": name}, drain["reconnects"]) for name, drain, _ in drains]),
        prometheus_family("cpa_usage_auth_rejections_total", "counter",
                          "Management key rejections by CPA since the start.",
                          [({"cpa": name}, gate.rejections) for name, _, gate in drains]),
        prometheus_family("cpa_usage_subscription_drops_total", "counter",
                          "Subscriptions CPA closed while it kept running (a full 256-message buffer): records "
                          "were lost.", [({"cpa": name}, drain["subscription_drops"]) for name, drain, _ in drains]),
        prometheus_family("cpa_usage_queue_mode", "gauge", "How each CPA is drained (1 for the current mode).",
                          [({"cpa": name, "mode": mode}, int(drain["mode"] == mode)) for name, drain, _ in drains
                           for mode in ("subscribe", "http", "lpop", "down")])]


def _credential_and_ingest_families(service: "Service") -> list[str]:
    """The credential errors CPA reported, the age of the newest event (when there is
    one) and what waits for its commit."""
    families = [prometheus_family(
        "cpa_usage_credential_errors_total", "counter",
        "Credential errors CPA reported (its errors channel), by provider and HTTP status.",
        [({"provider": provider, "status": status}, n)
         for (provider, status), n in sorted(service.store.credential_error_counts().items())])]
    newest = service.store.newest_event_ms()
    if newest is not None:
        families.append(prometheus_family("cpa_usage_last_event_age_seconds", "gauge",
                                          "Seconds since the newest stored event.",
                                          [({}, round(max(0, now_ms() - newest) / 1000, 3))]))
    families.append(prometheus_family("cpa_usage_pending_records", "gauge", "Records received but not committed yet.",
                                      [({}, service.writer.pending)]))
    return families


def _usage_by_model_and_key(service: "Service") -> list[tuple[tuple[str, str], Totals]]:
    """Every event summed by (model, client key label), in label order: the METRICS_TOP
    models and keys by requests are named, the others summed as "other"."""
    rows = service.analytics.with_cost(Query(0, now_ms() + 1), ("api_key", "model", "failed"))
    aliases = service.store.aliases()
    key_labels = {api_key: aliases.get(api_key)
                  or (f"{mask_key(api_key)}#{service.store.fingerprint(api_key)[:8]}" if api_key else "none")
                  for api_key in _most_requested(rows, 0)}
    models = _most_requested(rows, 1)
    summed: dict[tuple[str, str], Totals] = {}
    for (api_key, model, failed), acc in rows.items():
        summed.setdefault((model if model in models else "other", key_labels.get(api_key, "other")),
                          Totals()).add(failed, acc)
    return sorted(summed.items())


def _usage_families(service: "Service") -> list[str]:
    """Requests, failures, tokens and cost by model and client key, for rate()."""
    usage = _usage_by_model_and_key(service)
    kinds = ("input", "cache_read", "cache_write", "output", "reasoning", "unclassified")
    return [
        prometheus_family("cpa_usage_requests_total", "counter", "Requests by model and client key.",
                          [({"model": m, "api_key": k}, v.requests) for (m, k), v in usage]),
        prometheus_family("cpa_usage_failed_requests_total", "counter", "Failed requests by model and client key.",
                          [({"model": m, "api_key": k}, v.failed) for (m, k), v in usage]),
        prometheus_family("cpa_usage_tokens_total", "counter",
                          "Tokens by model, client key and kind (reasoning is part of output).",
                          [({"model": m, "api_key": k, "kind": kind}, getattr(v.measures, f"{kind}_tokens"))
                           for (m, k), v in usage for kind in kinds]),
        prometheus_family("cpa_usage_cost_usd_total", "counter",
                          "Cost in USD at the prices in force at each event's time, by model and client key.",
                          [({"model": m, "api_key": k}, round(v.cost, 8)) for (m, k), v in usage])]


def _most_requested(rows: dict[tuple, Measures], position: int) -> set[str]:
    """The METRICS_TOP values of the dimension at ``position`` of ``rows``' keys, by requests."""
    requests: dict[str, int] = {}
    for key, acc in rows.items():
        requests[key[position]] = requests.get(key[position], 0) + acc.requests
    return set(sorted(requests, key=lambda value: -requests[value])[:METRICS_TOP])


def prometheus_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


###############################################################################
# 8. Auth ######################################################################
###############################################################################
#
# With AUTH_ENABLED=true only the owner gets in: a password checked in constant
# time, then an HS256 JWT in an HttpOnly, SameSite=Strict cookie. The signing key is
# random, generated once and kept in the database, mixed with the password, so a new
# LOGIN_PASSWORD ends every old session. Failed logins are limited per client address.
# With KEY_LOGIN_ENABLED=true a member of a shared CPA signs in with their own client
# API key (one of CPA's api-keys): their session names the key by its id in a signed
# claim, every usage answer is limited to that key, and the owner's routes answer 403.

SESSION_COOKIE = "cpa_usage_session"
LOGIN_LIMIT, LOGIN_WINDOW_S = 5, 60.0
LOGIN_LIMIT_ALL = 30  # failed logins a minute from all addresses together
# Who may call a route (each route says it in the route table, section 9): anyone; the
# owner or a member (answers limited to the member's key); the owner alone.
PUBLIC, MEMBER, OWNER = "public", "member", "owner"
MEMBER_ENVIRON = "cpa_usage.member"
CLIENT_ENVIRON = "cpa_usage.client"  # the client behind a trusted proxy


class Session(NamedTuple):
    expires: int  # epoch seconds
    member: str | None = None  # the client key of a member's session; None: the owner's
    sid: str = ""  # the session's id: a logout revokes it


def member_key() -> str | None:
    """The client key this request is limited to (a member's session), or None."""
    return bottle.request.environ.get(MEMBER_ENVIRON)


def member_scoped(query: "Query") -> "Query":
    """The query as this session may ask it: a member's is about their own key, whatever
    key was asked for, and may not filter by upstream credential (403); the owner's
    is as asked."""
    member = member_key()
    if member is None:
        return query
    if query.sources or query.auth_indexes:
        raise ApiError(403, "a member's session cannot filter by upstream credential", {"member": True})
    return query._replace(api_keys=(member,))


class Auth:
    """Sessions (the owner's, and members' with KEY_LOGIN_ENABLED) and the login rate limit."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], float] = time.time):
        self.enabled, self.ttl, self.clock = config.auth_enabled, config.auth_session_ttl, clock
        self.key_login, self.store = config.key_login_enabled, store
        self.cookie_path = config.app_base_path or "/"
        self._password = config.login_password.encode()
        secret = store.get_meta("session_secret")
        if secret is None:
            secret = os.urandom(32).hex()
            store.set_meta("session_secret", secret)
        # Mixed with the password: changing LOGIN_PASSWORD invalidates every session.
        self._key = hashlib.sha256(bytes.fromhex(secret) + b"\0" + self._password).digest()
        self._failures: dict[str, list[float]] = {}
        self._failures_all: list[float] = []
        self._lock = threading.Lock()

    def check_password(self, password: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(password.encode()).digest(),
                                   hashlib.sha256(self._password).digest())

    def member_keys(self) -> dict[str, str]:
        """CPA's client API keys (from the metadata sync) by their id."""
        return {self.store.fingerprint(key, 32): key for key in cpa_client_keys(self.store) if key}

    def check_member_key(self, candidate: str) -> str | None:
        """The CPA client key equal to ``candidate``, compared in constant time with each."""
        wanted, found = hashlib.sha256(candidate.encode()).digest(), None
        for key in self.member_keys().values():
            if hmac.compare_digest(wanted, hashlib.sha256(key.encode()).digest()):
                found = key
        return found

    def issue(self, member: str | None = None) -> tuple[str, int]:
        now = int(self.clock())
        expires = now + int(self.ttl)
        claims = {"sub": "owner"} if member is None else {"sub": "member", "kid": self.store.fingerprint(member, 32)}
        claims["sid"] = os.urandom(16).hex()
        return jwt.encode({**claims, "iat": now, "exp": expires}, self._key, algorithm="HS256"), expires

    def session(self, token: str | None) -> Session | None:
        """The session of a valid token, else None. A session ends when it expires, when
        it was signed out (its id is revoked, checked at every request: several processes
        may share the database), when the password changes; a member's also when key
        login is turned off or CPA no longer lists the key."""
        claims = self._live_claims(token)
        if claims is None:
            return None
        if claims.get("sub") == "owner":
            return Session(claims["exp"], sid=claims["sid"])
        if claims.get("sub") == "member" and self.key_login:
            key = self.member_keys().get(claims.get("kid"))
            return Session(claims["exp"], key, claims["sid"]) if key else None
        return None

    def _live_claims(self, token: str | None) -> dict | None:
        """The claims of a token we signed (with the key of this password), not expired
        and not signed out; else None."""
        if not token or len(token) > 4096:
            return None
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"], options={"require": ["exp", "iat", "sid"]},
                                leeway=0)
        except jwt.PyJWTError:
            return None
        sid = claims["sid"]
        if claims["exp"] <= self.clock() or not isinstance(sid, str) or self.store.session_revoked(sid):
            return None
        return claims

    def revoke(self, session: Session) -> None:
        """Sign a session out for good: its cookie no longer works, wherever it is kept."""
        self.store.revoke_session(session.sid, session.expires * 1000)

    def retry_after(self, address: str) -> int:
        """Seconds until this address may try again (0: now): LOGIN_LIMIT failures a
        minute per address, and LOGIN_LIMIT_ALL from all addresses together (however many
        addresses a guesser has)."""
        with self._lock:
            now = self.clock()
            recent = self._failures[address] = self._in_window(self._failures.get(address, []), now)
            self._failures_all = self._in_window(self._failures_all, now)
            for times, limit in ((recent, LOGIN_LIMIT), (self._failures_all, LOGIN_LIMIT_ALL)):
                if len(times) >= limit:
                    return max(1, math.ceil(times[-limit] + LOGIN_WINDOW_S - self.clock()))
            return 0

    @staticmethod
    def _in_window(times: list[float], now: float) -> list[float]:
        """The failed logins of ``times`` that count at ``now``: those of the last LOGIN_WINDOW_S."""
        return [t for t in times if t > now - LOGIN_WINDOW_S]

    def failed(self, address: str) -> None:
        """A failed login from ``address``, counted for it and for all addresses together."""
        with self._lock:
            now = self.clock()
            self._failures[address] = self._in_window(self._failures.get(address, []), now)
            self._failures[address].append(now)
            self._failures_all.append(now)
            if len(self._failures) > 10_000:  # forget idle addresses rather than grow without end
                self._failures = {a: f for a, f in self._failures.items() if f and f[-1] > now - LOGIN_WINDOW_S}

    def cookie(self, token: str, max_age: int) -> str:
        """The session cookie; Secure when the request came over HTTPS (behind a trusted
        proxy: when the proxy says so, see PrefixMount)."""
        secure = bottle.request.environ.get("wsgi.url_scheme") == "https"
        return (f"{SESSION_COOKIE}={token}; Path={self.cookie_path}; Max-Age={max_age}; HttpOnly; SameSite=Strict"
                + ("; Secure" if secure else ""))

    def require(self, access: str) -> Session | None:
        """This request's session for a route that is not PUBLIC: 401 without one (when
        auth is on), 403 when a member's session asks for an OWNER route."""
        if not self.enabled:
            return None
        session = self.session(bottle.request.get_cookie(SESSION_COOKIE))
        if session is None:
            raise ApiError(401, "sign in first", {"login": "POST /api/v1/auth/login"})
        if session.member is not None:
            bottle.request.environ[MEMBER_ENVIRON] = session.member
            if access == OWNER:
                raise ApiError(403, "this is for the owner of this cpa-usage; a member sees their own key's usage",
                               {"member": True})
        return session


def security_headers(is_page: bool) -> list[tuple[str, str]]:
    """Headers on every response; the dashboard also gets a strict CSP (no inline script)."""
    headers = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
               ("X-Frame-Options", "DENY")]
    if is_page:
        headers.append(("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "
                        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                        "form-action 'self'; frame-ancestors 'none'"))
    else:
        headers.append(("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"))
    return headers


def client_address() -> str:
    """The client: the TCP peer, or behind a trusted proxy (TRUSTED_PROXIES) the address
    it forwarded for (PrefixMount). Never X-Forwarded-For from anyone else: anyone could
    write it to dodge the login limit."""
    environ = bottle.request.environ
    return environ.get(CLIENT_ENVIRON) or environ.get("REMOTE_ADDR", "") or "unknown"


###############################################################################
# 9. HTTP routes ###############################################################
###############################################################################
#
# Every route is declared once, with route(): its method and path, who may call it,
# its OpenAPI operation (and so the query parameters it takes), and its handler, a
# plain function of the Service. build_app serves ROUTES, answer() wraps each handler
# (session, query check, JSON answers and errors, never an HTML traceback), and
# openapi_document describes them. The app is mounted under APP_BASE_PATH by a small
# prefix-stripping WSGI middleware (Bottle's own mount() copies routes and lets the
# parent's HTML error pages win). Static files are read through the module's loader,
# so they work from the zipapp as from a checkout.

API = "/api/v1"
ALIAS_EXPORT_VERSION = 1
# What a member is not shown of their own events: which upstream credential served them
# (its name, CPA's id, the hash of its access token, which names it across key rotations),
# and what the upstream answered about the owner's account (rate limits in its headers).
MEMBER_HIDDEN_EVENT_FIELDS = ("source", "auth_index", "access_token_sha256", "response_headers")


class ApiError(Exception):
    """An answer other than 200 for an API client: status, message, details."""

    def __init__(self, status: int, message: str, detail: Any = None):
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail


def json_response(data: Any, status: int = 200) -> str:
    """Encode explicitly: Bottle does not JSON-encode lists, nor an error handler's dict.
    Answers are trees built here, never circular: not checking saves a tenth of the
    time a 30-day overview (4,000 objects) takes to encode."""
    bottle.response.status = status
    bottle.response.content_type = "application/json"
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), check_circular=False)


def mask_key(key: str | None) -> str | None:
    """``sk-team-alpha-7f3c`` -> ``sk-te…7f3c``: enough to tell keys apart, not to use one."""
    if not key:
        return key
    if len(key) >= 12:
        return f"{key[:5]}…{key[-4:]}"
    if len(key) >= 6:
        return f"{key[:2]}…{key[-2:]}"
    return "…"


def request_query() -> bottle.MultiDict:
    """The query's parameters as text. WSGI hands them over as Latin-1 (PEP 3333), and
    browsers and curl send UTF-8: read so, a model, an alias or a tier of other characters
    than ASCII matches. Bytes that are not UTF-8 are a 400. Read once per request."""
    environ = bottle.request.environ
    if "cpa_usage.query" not in environ:
        query = bottle.MultiDict()
        for key, value in bottle.request.query.allitems():
            try:
                query.append(key.encode("latin-1").decode(), value.encode("latin-1").decode())
            except UnicodeError:
                raise ApiError(400, "the query is not UTF-8", {"parameter": key}) from None
        environ["cpa_usage.query"] = query
    return environ["cpa_usage.query"]


def query_int(name: str, default: int, low: int, high: int) -> int:
    text = request_query().get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ApiError(400, f"invalid query parameter {name}",
                       {"parameter": name, "value": text, "expected": f"an integer from {low} to {high}"})
    return value


def reject_unknown_query(known: frozenset[str]) -> None:
    unknown = sorted(set(request_query().keys()) - known)
    if unknown:
        raise ApiError(400, f"unknown query parameter {unknown[0]}",
                       {"parameter": unknown[0], "known": sorted(known)})


def bad_parameter(name: str, value: Any, expected: str, depends_on: tuple[str, ...] = ()) -> ApiError:
    """A refused query value; ``depends_on`` names the other parameters of a rule that
    joins several (an OpenAPI document cannot say those), as "with" in the answer."""
    detail = {"parameter": name, "value": value, "expected": expected}
    return ApiError(400, f"invalid query parameter {name}", {**detail, "with": list(depends_on)} if depends_on
                    else detail)


# Spaces (Python's and JavaScript's alike, spelt out: their \s differ) and control characters.
_SPACE_OR_CONTROL = r"\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_VISIBLE = re.compile(f"[^{_SPACE_OR_CONTROL}]")


def blank(text: str) -> bool:
    """Only whitespace and control characters: refused wherever the API wants a value
    (the OpenAPI document's pattern for such text is _VISIBLE's)."""
    return _VISIBLE.search(text) is None


def query_values(name: str) -> list[str]:
    """Every value of a repeatable parameter; an empty one is an error, not "all"."""
    values = request_query().getall(name)
    for value in values:
        if blank(value):
            raise bad_parameter(name, value, "a non-empty value")
    return values


def query_single(name: str) -> str | None:
    values = query_values(name)
    if len(values) > 1:
        raise bad_parameter(name, values, "one value")
    return values[0] if values else None


def query_choice(name: str, choices: Sequence[str | None], expected: str, default: str | None = None) -> str | None:
    """A parameter that takes one of ``choices`` (``default`` when it is absent); any
    other value is a 400 that says what is ``expected``."""
    value = query_single(name) or default
    if value not in choices:
        raise bad_parameter(name, value, expected)
    return value


def parse_instant(name: str, text: str | None) -> int | None:
    """RFC 3339 text or epoch milliseconds."""
    if text is None:
        return None
    value = int(text) if re.fullmatch(r"\d{1,14}", text) else parse_rfc3339_ms(text)
    if value is None:
        raise bad_parameter(name, text, "an RFC 3339 time such as 2026-11-28T00:00:00+08:00, or epoch milliseconds")
    return value


def parse_range(analytics: "Analytics", default_range: str) -> tuple[int, int, bool, str]:
    """range, start and end, validated: [start, end), whether it ends now, and its name."""
    start, end = parse_instant("start", query_single("start")), parse_instant("end", query_single("end"))
    bounded = start is not None or end is not None
    name = query_choice("range", RANGE_NAMES, " | ".join(RANGE_NAMES), "custom" if bounded else default_range)
    if name == "custom":
        start, end = custom_range(start, end)
    elif bounded:
        raise bad_parameter("start" if start is not None else "end", query_single("start") or query_single("end"),
                            "start and end only with range=custom", ("range",))
    return (*analytics.resolve_range(name, start, end), name)


def custom_range(start: int | None, end: int | None) -> tuple[int, int]:
    """range=custom: start and end both given, end after start; both held to
    [0, MAX_INSTANT_MS], which may leave the range empty."""
    for parameter, value in (("start", start), ("end", end)):
        if value is None:
            raise bad_parameter(parameter, None, f"{parameter} is required with range=custom", ("range",))
    if end <= start:
        raise bad_parameter("end", query_single("end"), "a time after start", ("start",))
    return min(max(start, 0), MAX_INSTANT_MS), min(max(end, 0), MAX_INSTANT_MS)


# What the instance filter calls the events without an instance: rows imported from CPA's
# legacy export, which does not say which CPA made them (an empty value is refused, and no
# instance name can hold a ~).
NO_INSTANCE = "~"


def parse_query(analytics: "Analytics", default_range: str) -> tuple[Query, str]:
    """The shared filters of every usage endpoint, validated: (Query as asked, range
    name). What a member may ask of it is member_scoped's business."""
    start_ms, end_ms, open_end, name = parse_range(analytics, default_range)
    stream = query_switch("stream", ("true", "false"), "true")
    failed = query_switch("result", ("success", "failed"), "failed")
    sources = analytics.resolve_sources(query_values("source"))
    api_keys = [key for wanted in query_values("api_key") for key in analytics.resolve_keys(wanted)]
    auth_index = query_single("auth_index")
    return Query(start_ms, end_ms, models=tuple(query_values("model")), sources=tuple(sources),
                 auth_indexes=(auth_index,) if auth_index else (), api_keys=tuple(dict.fromkeys(api_keys)),
                 failed=failed, instances=tuple("" if value == NO_INSTANCE else value for value in query_values("instance")),
                 open_end=open_end, stream=stream), name



def viewer_analytics(service: Service) -> "Analytics":
    """The analytics a usage answer is computed with: in the zone its tz parameter names
    (the dashboard sends the viewer's own zone when they choose it), else in TZ."""
    name = query_single("tz")
    if name is None:
        return service.analytics
    try:
        return service.analytics.in_zone(zoneinfo.ZoneInfo(_time_zone(name)))
    except ValueError:
        raise bad_parameter("tz", name, "an IANA time zone name, such as Europe/Berlin") from None


def query_switch(name: str, choices: tuple[str, str], yes: str) -> int | None:
    """A parameter that takes one of two ``choices`` (query_choice), as a flag of the
    Query: 1 for ``yes``, 0 for the other, None when it is absent."""
    value = query_choice(name, (None, *choices), " or ".join(choices))
    return None if value is None else int(value == yes)


def read_json_body(when_empty: Any = None, limit: int | None = None) -> Any:
    """The request's JSON body (``when_empty`` if it has no bytes), at most ``limit``
    bytes (HTTP_LIMITS.json_body_bytes). Only application/json is accepted, so that a
    plain HTML form on another site cannot post to a state-changing route."""
    limit = limit or HTTP_LIMITS.json_body_bytes
    require_media_type(("application/json",), "the body must be application/json")
    # The server refuses more before reading it (create_http_server); this is the same rule here.
    data = bottle.request.body.read(limit + 1)
    if len(data) > limit or bottle.request.content_length > limit:
        raise ApiError(413, "the body is too large", {"max_bytes": limit})
    try:
        return parse_json(data, "body") if data else when_empty
    except DecodeError as exc:
        raise ApiError(400, "the body is not valid JSON", {"error": str(exc)}) from None


def require_media_type(accepted: Sequence[str], refusal: str) -> None:
    """A body of a media type not ``accepted`` is a 415 that says ``refusal``: never a
    form, which a plain HTML page on another site could post."""
    content_type = (bottle.request.content_type or "").split(";")[0].strip().lower()
    if content_type not in accepted:
        raise ApiError(415, refusal, {"content_type": content_type or None})


def read_empty_body() -> None:
    """The body of a route that takes no fields: nothing, or {} (what the dashboard
    sends), still as application/json (the same guard against forms)."""
    body = read_json_body(when_empty={})
    if body != {}:
        raise ApiError(400, "this route takes no fields: send {}", {"got": body})


@contextlib.contextmanager
def errors_at_index(position: int) -> Iterable[None]:
    """A refusal of one entry of a list in a body names the entry: its index comes
    first in the detail."""
    try:
        yield
    except ApiError as exc:
        exc.detail = {"index": position, **(exc.detail or {})}
        raise


def validate_alias(api_key: Any, alias: Any) -> tuple[str, str]:
    """A client key (up to 500 characters) and its alias (up to 100, kept without the
    spaces around it), neither of them blank."""
    if not visible_text(api_key, 500):
        raise ApiError(400, "invalid api_key", {"field": "api_key", "expected": "a non-empty string"})
    if not visible_text(alias, 100):
        raise ApiError(400, "invalid alias", {"field": "alias", "expected": "1-100 characters"})
    return api_key, alias.strip()


def visible_text(value: Any, most: int) -> bool:
    """Text of at most ``most`` characters that is not blank."""
    return isinstance(value, str) and not blank(value) and len(value) <= most


# The dearest models cost hundreds of USD per 1M tokens; more than this is a typo (and 1e308
# made every cost Infinity, which is no JSON). NaN fails the range check too.
MAX_PRICE = 10_000
MAX_PLAN_PRICE, MAX_MARKUP = 10**7, 1000  # a month of a plan (in its currency, or a rate); a key's markup
MAX_BUDGET_USD, MAX_BUDGET_TOKENS = 10**9, 10**15
# What a budget limit takes, by the unit its name ends in: (types, the most, what a refusal says is expected).
BUDGET_UNITS = {"usd": ((int, float), MAX_BUDGET_USD, f"an amount of USD above 0, at most {MAX_BUDGET_USD:,}"),
                "tokens": (int, MAX_BUDGET_TOKENS, f"a whole number of tokens from 1 to {MAX_BUDGET_TOKENS:,}")}


_MODEL_NAME_TEXT = re.compile(f"[^{_SPACE_OR_CONTROL}]{{1,200}}")


def valid_model_name(name: Any) -> bool:
    """A model name or pattern a price may have (the OpenAPI document says the same)."""
    return isinstance(name, str) and _MODEL_NAME_TEXT.fullmatch(name) is not None


def object_body(body: Any, fields: Sequence[str], what: str) -> dict:
    """A request body that must be an object of ``fields`` only: the 400 says what it is
    instead, or which field is not one."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be an object", {"got": type(body).__name__})
    reject_unknown_fields(body, fields, what, list(fields))
    return body


def reject_unknown_fields(body: dict, allowed: Iterable[str], what: str, known: list[str]) -> None:
    """A body field not ``allowed`` is a 400 naming the first of them and the ``known`` ones."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"unknown {what} field {unknown[0]}", {"field": unknown[0], "known": known})


def parse_price(entry: Any, model: str | None = None) -> tuple[tuple, bool]:
    """One price from the API: (its row of Store.PRICE_COLUMNS, whether it replaces the
    model's other prices of the tier)."""
    if not isinstance(entry, dict):
        raise ApiError(400, "a price must be an object", {"got": type(entry).__name__})
    known = [*PRICE_FIELDS, "long_context", "tier", "effective_from", "replace_history"]
    reject_unknown_fields(entry, {*known, "model"}, "price", known)
    name = entry.get("model", model)
    if model is not None and name != model:
        raise ApiError(400, "the model in the body differs from the one in the path",
                       {"path": model, "body": name, "with": ["model"]})
    if not valid_model_name(name):
        raise ApiError(400, "invalid model name", {"field": "model", "value": name,
                                                    "expected": "1-200 characters without spaces"})
    replace = entry.get("replace_history", False)
    if not isinstance(replace, bool):
        raise ApiError(400, "invalid price field replace_history", {"model": name, "field": "replace_history",
                                                                    "value": replace, "expected": "true or false"})
    return (name, parse_effective_from(entry.get("effective_from")),
            *(price_value(name, field, entry.get(field)) for field in PRICE_FIELDS),
            *parse_long_context(name, entry.get("long_context")),
            parse_tier(entry.get("tier"), lambda: ApiError(400, "invalid price field tier", {
                "model": name, "field": "tier", "value": entry.get("tier"), "expected": _TIER_EXPECTED}))), replace


def parse_long_context(model: str, value: Any) -> tuple:
    """A price's long-context tier from the API: (above, its rates of PRICE_FIELDS), or
    Nones without one. ``above`` must be one of PROMPT_BAND_EDGES, where the stored
    events' bands can tell requests apart (every threshold of the built-in table is one);
    the rates are required as the base price's are, reasoning as output when left out."""
    if value is None:
        return Store.NO_LONG_CONTEXT
    if not isinstance(value, dict):
        raise ApiError(400, "invalid price field long_context", {
            "model": model, "field": "long_context", "value": value,
            "expected": "an object: above (tokens) and the prices of all the tokens of a longer request"})
    reject_unknown_fields(value, {"above", *PRICE_FIELDS}, "long_context", ["above", *PRICE_FIELDS])
    above = value.get("above")
    if isinstance(above, bool) or above not in PROMPT_BAND_EDGES:
        raise ApiError(400, "invalid price field long_context.above", {
            "model": model, "field": "long_context.above", "value": above,
            "expected": f"one of {', '.join(map(str, PROMPT_BAND_EDGES))} (prompt tokens)"})
    rates = []
    for field in PRICE_FIELDS:
        try:
            rates.append(price_value(model, field, value.get(field)))
        except ApiError as error:
            raise ApiError(400, f"invalid price field long_context.{field}",
                           {**error.detail, "field": f"long_context.{field}"}) from None
    return (above, *rates)


_TIER_EXPECTED = "a service tier as CPA reports it (priority, flex, ...), 1-200 characters without spaces"


def parse_tier(value: Any, refusal: Callable[[], ApiError]) -> str:
    """The tier a price is for ("" the standard one: absent, null, or its names in
    STANDARD_TIER_NAMES), as served_tier names the tier of a request; else ``refusal()``."""
    if value is None or (isinstance(value, str) and value in STANDARD_TIER_NAMES):
        return ""
    if not valid_model_name(value):
        raise refusal()
    return value


def parse_effective_from(value: Any) -> int:
    """When a price takes effect, as UTC epoch ms: a date from its UTC midnight (as
    providers' bills count days), an RFC 3339 time from the start of its 5 minutes (where
    rollup buckets begin: see PRICE_JOIN_ON; the answer shows it); absent, null or
    before 1970: since always (0)."""
    if value is None:
        return 0
    at = None
    if isinstance(value, str):
        at = parse_rfc3339_ms(value) if "T" in value.upper() else parse_rfc3339_ms(f"{value}T00:00:00Z")
    if at is None:
        raise ApiError(400, "invalid price field effective_from", {
            "field": "effective_from", "value": value, "expected": "a date (YYYY-MM-DD) or an RFC 3339 time"})
    return max(0, at - at % 300_000)


def price_value(model: str, field: str, value: Any) -> float | None:
    """One field of a price: USD per 1M tokens, from 0 to MAX_PRICE; reasoning may be
    left out (None: reasoning tokens cost the output price)."""
    if value is None and field == "reasoning":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_PRICE:
        raise ApiError(400, f"invalid price field {field}", {
            "model": model, "field": field, "value": value,
            "expected": f"a number from 0 to {MAX_PRICE:,} (USD per 1M tokens)"})
    return float(value)


def price_json(model: str, price: Price, source: str, updated_ms: int | None = None,
               effective_from_ms: int = 0, tier: str = "") -> dict:
    """A price as the API shows it; effective_from null: in force since always; tier
    null: the standard tier's."""
    long = price.long_context
    return {"model": model, "tier": tier or None, "effective_from": iso_ms(effective_from_ms or None),
            **price.figures(), "long_context": None if long is None else {"above": long.above, **long.price.figures()},
            "source": source, "updated_at": iso_ms(updated_ms)}


def _json_column(text: str | None) -> Any:
    """A JSON column as its value; what cannot be read back (stored by an older release,
    nested past the parser) is shown as the text it is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


_SECRET_FIELD = re.compile(r"(^|[-_])(api[-_]?key|key|secret|token|password|authorization)$", re.IGNORECASE)


def redact(value: Any, secret: bool = False) -> Any:
    """A copy of CPA metadata with every key-like value masked (and every custom
    header value, which can carry credentials)."""
    if isinstance(value, dict):
        return {k: redact(v, secret or _secret_metadata_field(k, v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, secret) for item in value]
    return mask_key(value) if secret and isinstance(value, str) else value


def _secret_metadata_field(key: str, value: Any) -> bool:
    """Whether a field of CPA metadata is masked, whatever it holds: custom headers (they
    can carry credentials), and text in a field named like a key, token or password."""
    return key.lower() == "headers" or (bool(_SECRET_FIELD.search(key)) and isinstance(value, str))


_KEY_LIKE = re.compile(r"\b(?:sk-|AIza|xai-)[A-Za-z0-9_\-.]{6,}")


def mask_secrets(text: str) -> str:
    """A payload as the API shows it (dead letters): the client key, an upstream key named
    as the source, and every key-like field masked where they stand, the rest as received.
    What cannot be read as JSON gets key-like tokens masked."""
    try:
        value = parse_json(text, "payload")
    except DecodeError:
        value = None
    for secret in sorted(_secrets_in(value), key=len, reverse=True):
        text = text.replace(json.dumps(secret, ensure_ascii=False)[1:-1], mask_key(secret) or "")
    return _KEY_LIKE.sub(lambda match: mask_key(match.group()) or "", text)


def _secrets_in(value: Any) -> set[str]:
    """The secret strings of a decoded payload (see _is_secret_field), a thousand at most,
    found without recursion: a dead letter may be nested deep."""
    secrets: set[str] = set()
    stack = [value]
    while stack and len(secrets) < 1000:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(_take_secrets(item, secrets))
    return secrets


def _take_secrets(fields: dict, secrets: set[str]) -> list:
    """The secret strings among one object's fields added to ``secrets``; the objects and
    lists it holds returned, in their order, for the walk to visit."""
    nested = []
    for key, child in fields.items():
        if isinstance(child, str) and child and _is_secret_field(key, child):
            secrets.add(child)
        elif isinstance(child, (dict, list)):
            nested.append(child)
    return nested


def _is_secret_field(key: str, value: str) -> bool:
    """Whether a field of a payload holds a secret: the client key, an upstream key named
    as the source (looks_like_secret), or any field named like a key, token or password."""
    return key == "api_key" or (key == "source" and looks_like_secret(value)) or bool(_SECRET_FIELD.search(key))


def range_json(query: Query, name: str) -> dict:
    return {"name": name, "start": iso_ms(query.start_ms), "end": iso_ms(query.end_ms),
            "start_ms": query.start_ms, "end_ms": query.end_ms}


def event_json(row: dict) -> dict:
    """A stored event as the API shows it: keys masked, JSON columns parsed."""
    return {
        "id": row["id"], "event_key": row["event_key"], "timestamp": iso_ms(row["ts_ms"]), "ts_ms": row["ts_ms"],
        "timestamp_raw": row["ts_raw"], "timestamp_estimated": bool(row["ts_estimated"]),
        "received_at": iso_ms(row["received_ms"]), "request_id": row["request_id"], "model": row["model"],
        "alias": row["alias"], "provider": row["provider"], "executor_type": row["executor_type"],
        "endpoint": row["endpoint"], "auth_type": row["auth_type"],
        "source": shown_source(row),
        "auth_index": row["auth_index"], "api_key": mask_key(row["api_key"]), "instance": row["instance"],
        "failed": bool(row["failed"]),
        "status_code": row["status_code"], "fail_body": row["fail_body"], "latency_ms": row["latency_ms"],
        "ttft_ms": row["ttft_ms"],
        "tokens": {"input": row["input_tokens"], "cache_read": row["cache_read_tokens"],
                   "cache_write": row["cache_write_tokens"], "output": row["output_tokens"],
                   "reasoning": row["reasoning_tokens"], "unclassified": row["unclassified_tokens"],
                   "total": row["total_tokens"]},
        "token_family": row["token_family"], "token_quality": row["token_quality"],
        "raw_tokens": {"input_tokens": row["raw_input_tokens"], "output_tokens": row["raw_output_tokens"],
                       "reasoning_tokens": row["raw_reasoning_tokens"], "cached_tokens": row["raw_cached_tokens"],
                       "cache_read_tokens": row["raw_cache_read_tokens"],
                       "cache_creation_tokens": row["raw_cache_creation_tokens"],
                       "total_tokens": row["raw_total_tokens"]},
        "token_breakdown": _json_column(row["token_breakdown"]),
        "generate": None if row["generate"] is None else bool(row["generate"]),
        "reasoning_effort": row["reasoning_effort"], "service_tier": row["service_tier"],
        "response_service_tier": row["response_service_tier"], "client_ip": row["client_ip"],
        "x_forwarded_for": row["x_forwarded_for"], "user_agent": row["user_agent"],
        "access_token_sha256": row["access_token_sha256"], "accounting_version": row["accounting_version"],
        "response_headers": _json_column(row["response_headers"]), "extra": _json_column(row["extra"]),
        "resolved_client_ip": row["resolved_client_ip"],
        "stream": None if row["stream"] is None else bool(row["stream"]), "execution_id": row["execution_id"],
        "truncated": row["truncated"].split(",") if row["truncated"] else [],
    }


def credential_error_json(row: dict) -> dict:
    """A credential error event as the API shows it."""
    def flag(value: int | None) -> bool | None:
        return None if value is None else bool(value)

    return {"timestamp": iso_ms(row["ts_ms"]), "ts_ms": row["ts_ms"], "instance": row["instance"],
            "provider": row["provider"], "model": row["model"], "auth_id": row["auth_id"],
            "auth_index": row["auth_index"], "status_code": row["status_code"], "code": row["code"],
            "retryable": bool(row["retryable"]), "state": row["state"], "state_message": row["state_message"],
            "disabled": flag(row["disabled"]), "unavailable": flag(row["unavailable"]),
            "next_retry_at": iso_ms(row["next_retry_ms"]),
            "quota": {"exceeded": flag(row["quota_exceeded"]), "reason": row["quota_reason"],
                      "next_recover_at": iso_ms(row["next_recover_ms"])},
            "body": row["body"]}


def read_static(name: str) -> bytes | None:
    """A file of static/, from the zipapp or the checkout (the loader reads both)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\.[A-Za-z0-9]+", name):
        return None
    path = os.path.join(os.path.dirname(__file__), "static", *name.split("/"))
    try:
        return __loader__.get_data(path)  # type: ignore[name-defined]
    except OSError:
        return None


def _schema_object(properties: dict, required: tuple[str, ...] = (), closed: bool = False) -> dict:
    """An object schema; ``closed`` for a request body whose other fields are refused."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


_INT, _NUM, _STR, _BOOL = {"type": "integer"}, {"type": "number"}, {"type": "string"}, {"type": "boolean"}
_POSITIVE = {"type": "number", "minimum": 0, "exclusiveMinimum": True}
_TIME = {"type": "string", "format": "date-time", "nullable": True}
_NULLABLE_STR = {"type": "string", "nullable": True}
# Free-form text in a query or a body: empty or blank values are refused (in a query
# they would read as "all").
_NONBLANK = {"type": "string", "minLength": 1, "pattern": _VISIBLE.pattern}
_INSTANT = {"anyOf": [{"type": "string", "format": "date-time"},
                      {"type": "string", "pattern": r"^[0-9]{1,14}$", "description": "epoch milliseconds"}]}
_MODEL_NAME_TEXT_SCHEMA = {"type": "string", "pattern": f"^{_MODEL_NAME_TEXT.pattern}$"}
_MODEL_NAME = {**_MODEL_NAME_TEXT_SCHEMA, "description": "may contain / : . and *"}
_EMPTY_BODY = _schema_object({}, closed=True)
_ALIAS_INPUT = _schema_object({"api_key": {**_NONBLANK, "maxLength": 500},
                               "alias": {**_NONBLANK, "maxLength": 100}}, ("api_key", "alias"), closed=True)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(schema: dict, **extra: dict) -> dict:
    return _schema_object({"items": {"type": "array", "items": schema}, **extra})


# A price to set: in a list it names its model; PUT /pricing/{model} may leave it out.
_EFFECTIVE_FROM = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
_TIER = {"type": "string", "pattern": f"^(?:{_MODEL_NAME_TEXT.pattern})?$", "nullable": True, "description":
         "the service tier that served the requests a price is for, as CPA reports it (priority, flex, ...); "
         f"null, empty or one of {', '.join(sorted(name for name in STANDARD_TIER_NAMES if name))}: the standard "
         "tier"}
# What of a cost is unpriced or assumed (PRICED_FIELDS after the cost).
_PRICED_COUNTS = {
    "unpriced_requests": {**_INT, "description": "requests with tokens of a model without a price: not in usd"},
    "tier_fallback_requests": {**_INT, "description": "requests served at a tier (priority, flex, ...) without a "
                                                      "price of its own, priced at the standard tier's price"},
    "assumed_cache_write_tokens": {**_INT, "description": "cache-write tokens priced at the model's cache_write "
                                                          "(5-minute) price: CPA does not say whether a write was "
                                                          "a 5-minute or a 1-hour one (Anthropic: 1.25x or 2x input)"}}
_PRICE_RATES = {f: {"type": "number", "minimum": 0, "maximum": MAX_PRICE, "nullable": f == "reasoning",
                    "description": "USD per 1M tokens"} for f in PRICE_FIELDS}
_LONG_CONTEXT_ABOVE = {"type": "integer", "enum": list(PROMPT_BAND_EDGES), "description":
                       "a request whose prompt (input, cache reads and writes) has more tokens than this is priced "
                       "at these rates for all its tokens, output too"}
_PRICE_INPUT = {"model": _MODEL_NAME, "tier": _TIER, **_PRICE_RATES,
    "long_context": {**_schema_object({"above": _LONG_CONTEXT_ABOVE, **_PRICE_RATES},
                                      ("above", "input", "output", "cache_read", "cache_write"), closed=True),
                     "nullable": True, "description": "the price's long-context tier; null: none"},
    "effective_from": {**_EFFECTIVE_FROM, "nullable": True, "description":
                       "a date (from its UTC midnight) or an RFC 3339 time (from the start of its 5 minutes); "
                       "absent or null: since always"},
    "replace_history": {"type": "boolean", "description": "remove the model's other prices of the tier first"}}

OPENAPI_SCHEMAS: dict[str, dict] = {
    "Error": _schema_object({"error": _STR, "detail": {}}, ("error",)),
    "Range": _schema_object({"name": {"type": "string", "enum": list(RANGE_NAMES)}, "start": _TIME, "end": _TIME,
                             "start_ms": _INT, "end_ms": _INT}),
    "Tokens": _schema_object({k: _INT for k in ("input", "cache_read", "cache_write", "output", "reasoning",
                                                "unclassified", "total")}),
    "Cost": _schema_object({"usd": _NUM, **_PRICED_COUNTS, "unpriced_models": {"type": "array", "items": _STR}}),
    "Totals": _schema_object({
        "requests": _INT, "success": _INT, "failed": _INT, "success_rate": {"type": "number", "nullable": True},
        "tokens": _ref("Tokens"), "cost": _ref("Cost"), "cache_hit_rate": {"type": "number", "nullable": True},
        "avg_latency_ms": {"type": "integer", "nullable": True}, "avg_ttft_ms": {"type": "integer", "nullable": True},
        "flagged_requests": _INT, "first_seen": _TIME, "last_seen": _TIME}),
    "Cell": _schema_object({"start": _TIME, "start_ms": _INT, "requests": _INT, "failed": _INT}),
    "Percentiles": _schema_object({**{f"p{p}": {"type": "integer", "nullable": True, "description": "ms"}
                                      for p in HISTOGRAM_PERCENTILES}, "count": _INT}),
    "Latency": _schema_object({metric: _ref("Percentiles") for metric in HISTOGRAM_METRICS}),
    "Event": _schema_object({
        "id": _INT, "event_key": _STR, "timestamp": _TIME, "ts_ms": _INT, "model": _STR, "alias": _STR,
        "provider": _STR, "endpoint": _STR, "source": {**_NULLABLE_STR, "description": "null for a member"},
        "auth_index": {**_NULLABLE_STR, "description": "null for a member"}, "instance": _STR,
        "api_key": {"type": "string", "description": "masked"}, "api_key_alias": {"type": "string", "nullable": True},
        "failed": _BOOL, "status_code": {"type": "integer", "nullable": True},
        "latency_ms": {"type": "integer", "nullable": True}, "ttft_ms": {"type": "integer", "nullable": True},
        "tokens": _ref("Tokens"), "token_quality": _STR, "cost_usd": {"type": "number", "nullable": True},
        "stream": {"type": "boolean", "nullable": True}, "resolved_client_ip": _NULLABLE_STR,
        "execution_id": _NULLABLE_STR}),
    "CredentialError": _schema_object({
        "timestamp": _TIME, "ts_ms": _INT, "instance": _STR, "provider": _STR, "model": _STR, "auth_id": _STR,
        "auth_index": _STR, "status_code": _INT, "code": _NULLABLE_STR, "retryable": _BOOL,
        "state": _NULLABLE_STR, "state_message": _NULLABLE_STR, "disabled": {"type": "boolean", "nullable": True},
        "unavailable": {"type": "boolean", "nullable": True}, "next_retry_at": _TIME,
        "quota": _schema_object({"exceeded": {"type": "boolean", "nullable": True}, "reason": _NULLABLE_STR,
                                 "next_recover_at": _TIME}),
        "body": _NULLABLE_STR}),
    "Budget": _schema_object({
        "api_key": _STR, "api_key_id": _STR, "alias": {"type": "string", "nullable": True},
        "limits": _schema_object({name: {"type": "number", "nullable": True} for name in Store.BUDGET_LIMITS}),
        **{period: _schema_object({"period": _STR, "start": _TIME, "end": _TIME, **{
            unit: _schema_object({"spent": _NUM, "limit": {"type": "number", "nullable": True},
                                  "ratio": {"type": "number", "nullable": True}}) for unit in ("usd", "tokens")}})
           for period in ("daily", "monthly")}}),
    "CredentialPlans": _schema_object({
        "auth_index": _STR, "label": _NULLABLE_STR, "oauth": {
            **_BOOL, "description": "an OAuth login (CPA's auth files): its cost is API-equivalent"},
        "plans": {"type": "array", "items": _schema_object({
            "from_month": _STR, "name": _STR, "monthly_price": _NUM, "currency": _STR,
            "usd_rate": {**_NUM, "nullable": True}, "updated_at": _TIME})},
        "months": {"type": "array", "items": _schema_object({
            "month": _STR, "start": _TIME, "end": _TIME, "start_ms": _INT, "end_ms": _INT, "current": _BOOL,
            "plan": {"type": "object"}, "price_usd": _NUM, "api_equivalent_usd": _NUM,
            "ratio": {**_NUM, "nullable": True, "description": "API-equivalent spend / price"},
            "requests": _INT, "tokens": _INT, **_PRICED_COUNTS})}}),
    "KeyBilling": _schema_object({
        "api_key": _STR, "api_key_id": _STR, "alias": _NULLABLE_STR, "markup": {**_NUM, "nullable": True},
        "usd_per_million_tokens": {**_NUM, "nullable": True}, "months": {"type": "array", "items": _schema_object({
            "month": _STR, "start": _TIME, "end": _TIME, "start_ms": _INT, "end_ms": _INT, "current": _BOOL,
            "requests": _INT, "tokens": _INT, "cost_usd": _NUM, "billed_usd": _NUM, **_PRICED_COUNTS})}}),
    "Alert": _schema_object({
        "id": _INT, "kind": {"type": "string", "enum": ["budget", "anomaly"]}, "period": _STR, "condition": _STR,
        "value": _NUM, "threshold": _NUM, "unit": {"type": "string", "enum": ["usd", "tokens"]}, "api_key": _STR,
        "api_key_id": _STR, "alias": {"type": "string", "nullable": True}, "created_at": _TIME,
        "delivered_at": _TIME, "attempts": _INT, "last_error": {"type": "string", "nullable": True}}),
    "Price": _schema_object({"model": _STR, "tier": _TIER, "effective_from": {
        **_TIME, "description": "from when the price is in force, until the model's next one of the tier; null: "
                                "since always"},
        **{f: _NUM for f in PRICE_FIELDS}, "reasoning": {
        **_NUM, "nullable": True, "description": "null: reasoning tokens cost the output price"},
        "long_context": {**_schema_object({"above": _LONG_CONTEXT_ABOVE, **{f: _NUM for f in PRICE_FIELDS},
                                           "reasoning": {**_NUM, "nullable": True}}),
                         "nullable": True, "description": "the rates of every token of a longer request; null: none"},
        "source": _STR, "updated_at": _TIME}),
    "DefaultPrices": _schema_object({
        "source": _NULLABLE_STR, "version": _NULLABLE_STR, "url": _NULLABLE_STR,
        "date": {**_NULLABLE_STR, "description": "when the snapshot was taken (YYYY-MM-DD)"}, "models": _INT,
        "error": {**_NULLABLE_STR, "description": "why there are no default prices (a missing or broken snapshot)"}}),
    # the zones this host knows (its tzdata): the tz parameter's values
    "TimeZone": {"type": "string", "enum": sorted(zoneinfo.available_timezones()), "example": "America/New_York"},
    "PriceInput": _schema_object(_PRICE_INPUT, ("model", "input", "output", "cache_read", "cache_write"),
                                 closed=True),
}


def _parameter(name: str, description: str, schema: dict | None = None, repeat: bool = False,
               where: str = "query") -> dict:
    schema = schema or _NONBLANK
    return {"name": name, "in": where, "required": where == "path", "description": description,
            "schema": {"type": "array", "items": schema} if repeat else schema,
            **({"style": "form", "explode": True} if repeat else {})}


FILTER_DOCS = [
    _parameter("range", "time range; today and days follow TZ", {"type": "string", "enum": list(RANGE_NAMES)}),
    _parameter("start", "range=custom: RFC 3339 time or epoch ms (inclusive)", _INSTANT),
    _parameter("end", "range=custom: RFC 3339 time or epoch ms (exclusive), after start", _INSTANT),
    _parameter("model", "upstream model", repeat=True),
    _parameter("source", "credential (or its source_id)", repeat=True),
    _parameter("auth_index", "CPA's credential id"),
    _parameter("api_key", "client key, its alias, or its api_key_id", repeat=True),
    _parameter("instance", f"the CPA (INSTANCE_NAME or a CPA_INSTANCES name; {NO_INSTANCE} for events without one, "
                           "imported from CPA's legacy export)", repeat=True),
    _parameter("result", "success or failed", {"type": "string", "enum": ["success", "failed"]}),
    _parameter("stream", "streamed requests (true) or not (false), as CPA v8 records say; counted from raw "
                         "events (within USAGE_RETENTION_DAYS)", {"type": "string", "enum": ["true", "false"]}),
]
# The zone of an answer's local hours and days (today, the hourly and daily series, the
# year of days): the viewer's own when the dashboard is set to it. Budgets keep TZ.
ZONE_DOC = _parameter("tz", "an IANA time zone for the answer's local hours and days (today, hourly, daily); "
                            "default TZ", _ref("TimeZone"))
FILTER_DOCS.append(ZONE_DOC)
PAGE_DOCS = [_parameter("page", "from 1", {"type": "integer", "minimum": 1, "maximum": 10**9}),
             _parameter("page_size", "1-500, default 50", {"type": "integer", "minimum": 1, "maximum": 500})]


def _operation(summary: str, response: dict, parameters: list | None = None, body: dict | None = None,
               produces: tuple[str, ...] = ("application/json",),
               consumes: tuple[str, ...] = ("application/json",),
               errors: dict[str, tuple[str, str]] | None = None,
               named_errors: dict[str, str] | None = None) -> dict:
    """An operation: its answer, and errors as JSON (``errors``: {status: (description,
    media type)} for those that are not, with a text body; ``named_errors``: {status:
    description} for JSON errors a client acts on, such as readiness's 503)."""
    operation: dict[str, Any] = {
        "summary": summary, "parameters": parameters or [],
        "responses": {"200": {"description": "OK", "content": {media: {"schema": response} for media in produces}},
                      **{status: {"description": text, "content": {media: {"schema": {"type": "string"}}}}
                         for status, (text, media) in (errors or {}).items()},
                      **{status: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
                         for status, text in (named_errors or {}).items()},
                      "default": {"description": "error",
                                  "content": {"application/json": {"schema": _ref("Error")}}}}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {media: {"schema": body} for media in consumes}}
    return operation


def _required(parameter: dict) -> dict:
    return {**parameter, "required": True}


def _list_or_items(field: str, item: dict, min_items: int = 0) -> dict:
    """A body that is a list, or an object holding it under ``field``."""
    items = {"type": "array", "items": item, **({"minItems": min_items} if min_items else {})}
    return {"anyOf": [items, _schema_object({field: items}, (field,), closed=True)]}


def _budget_input() -> dict:
    """PUT /budgets: the key and at least one limit (null or absent: no limit of that kind)."""
    def limit(name: str, nullable: bool) -> dict:
        tokens = name.endswith("_tokens")
        return {"type": "integer" if tokens else "number", "minimum": 0, "exclusiveMinimum": True,
                "maximum": MAX_BUDGET_TOKENS if tokens else MAX_BUDGET_USD, "nullable": nullable}

    return {**_schema_object({"api_key": _NONBLANK, **{name: limit(name, True) for name in Store.BUDGET_LIMITS}},
                             ("api_key",), closed=True),
            "anyOf": [_schema_object({name: limit(name, False)}, (name,)) for name in Store.BUDGET_LIMITS]}


IMPORT_MAX_BYTES = 256 * 2**20
IMPORT_TYPES = ("application/json", "application/x-ndjson", "application/jsonl")
_WITH_RANGE = {"range": _ref("Range")}
_MODEL_PATH = [_parameter("model", "model name or pattern with *; may contain / : .", _MODEL_NAME, where="path")]


class Route(NamedTuple):
    """One route, declared once: who may call it (PUBLIC, MEMBER or OWNER), what the
    OpenAPI document says of it (an operation, or a function of the CPAs' names), and
    so which query parameters it takes: the documented ones, others are a 400, unless
    it ``ignores_query``. ``json``: its answers and errors are JSON (not a page, a
    file or Prometheus text)."""

    method: str
    path: str  # relative to APP_BASE_PATH, in Bottle's syntax
    handler: Callable[..., Any]  # handler(service, **path arguments)
    access: str
    doc: dict | Callable[[list[str]], dict] | None
    ignores_query: bool
    json: bool

    def operation(self, instances: list[str]) -> dict | None:
        return self.doc(instances) if callable(self.doc) else self.doc

    def query_parameters(self) -> frozenset[str] | None:
        """The query parameters it takes; None: it does not look."""
        if self.ignores_query or self.doc is None:
            return None
        return frozenset(p["name"] for p in self.operation(["-"])["parameters"] if p["in"] == "query")


ROUTES: list[Route] = []


def route(method: str, path: str, access: str, doc: dict | Callable[[list[str]], dict] | None = None,
          ignores_query: bool = False, json: bool = True) -> Callable[[Callable], Callable]:
    """Declare a handler in ROUTES (build_app serves them, openapi_document describes them)."""
    def declare(handler: Callable) -> Callable:
        ROUTES.append(Route(method, path, handler, access, doc, ignores_query, json))
        return handler

    return declare


def analysis_parameters() -> tuple[str, str, bool]:
    """group, sort and descending of the analysis routes, validated."""
    group = query_choice("group", tuple(ANALYSIS_GROUPS), "api, model or both", "model")
    sort = query_choice("sort", ANALYSIS_SORTS, " | ".join(ANALYSIS_SORTS), "requests")
    order = query_choice("order", ("asc", "desc"), "asc or desc", "asc" if sort == "name" else "desc")
    return group, sort, order == "desc"


def download(chunks: Iterable[str], fmt: str, stem: str) -> Iterable[bytes]:
    """A streamed file answer: the body is produced while it is sent."""
    bottle.response.content_type = {"csv": "text/csv; charset=utf-8",
                                    "jsonl": "application/x-ndjson; charset=utf-8"}[fmt]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    bottle.response.set_header("Content-Disposition", f'attachment; filename="{stem}-{stamp}.{fmt}"')
    return (chunk.encode("utf-8") for chunk in chunks)


# -- Health and status ---------------------------------------------------------------------

_NOT_READY = {"503": "not ready: detail.problems says why (a worker down, ingest stalled, the database or the "
                     "spool refusing writes, a CPA not connected)"}


@route("GET", "/healthz", PUBLIC, doc=_operation(
    "liveness, also at the root; with ready=1 readiness, as /readyz",
    _schema_object({"status": {"type": "string", "enum": ["ok", "ready"]}}),
    [_parameter("ready", "1: answer readiness", {"type": "string", "enum": ["1", "true"]})],
    named_errors=_NOT_READY))
def healthz(service: Service) -> dict:
    """Liveness: the process answers (a restart would not help otherwise). With
    ready=1, readiness as /readyz answers it."""
    if query_choice("ready", (None, "1", "true"), "1 or true") is None:
        return {"status": "ok"}
    return readyz(service)


@route("GET", "/readyz", PUBLIC, ignores_query=True, doc=_operation(
    "readiness, also at the root: 503 with the reasons while the service does not do its job",
    _schema_object({"status": {"type": "string", "enum": ["ready"]}}), named_errors=_NOT_READY))
def readyz(service: Service) -> dict:
    """Readiness: records reach the database now. 503 with the reasons while a worker
    is down, ingest stalls, the database or the spool refuses writes, or a CPA is not
    connected (for a load balancer or a monitor; systemd restarts on liveness only)."""
    health = service.health()
    if not health["ready"]:
        raise ApiError(503, "not ready", {"problems": health["problems"]})
    return {"status": "ready"}


@route("GET", API + "/ping", PUBLIC, ignores_query=True, doc=_operation(
    "liveness and version", _schema_object({"ok": _BOOL, "version": _STR})))
def ping(service: Service) -> dict:
    return {"ok": True, "version": __version__}


@route("GET", API + "/status", OWNER, ignores_query=True, doc=_operation(
    "drain status: mode, key, last pop, errors, totals", _schema_object({
        "mode": {"type": "string", "enum": ["subscribe", "http", "lpop", "down"]}, "connected": _BOOL,
        "transport": _schema_object({"setting": {"type": "string", "enum": list(QUEUE_TRANSPORTS)},
                                     "reason": _NULLABLE_STR}),
        "auth": {"type": "string", "enum": ["ok", "rejected", "unknown"]}, "last_pop_at": _TIME,
        "last_event_at": _TIME, "last_error": {"type": "string", "nullable": True}, "last_error_at": _TIME,
        "pending": _INT, "spool_error": _NULLABLE_STR, "dropped_records": _INT,
        "health": _schema_object({"ready": _BOOL, "problems": {"type": "array", "items": _STR}}),
        "workers": {"type": "array", "items": _schema_object({
            "name": _STR, "alive": _BOOL, "restarts": _INT, "last_crash": _NULLABLE_STR,
            "last_crash_at": _TIME})},
        "totals": _schema_object({k: _INT for k in TOTAL_COUNTERS}), "default_prices": _ref("DefaultPrices")})))
def status(service: Service) -> dict:
    return service.status_report()


@route("GET", "/metrics", PUBLIC, ignores_query=True, json=False, doc=_operation(
    "Prometheus text exposition; with login on, a session or the login password by HTTP Basic auth, "
    "unless METRICS_PUBLIC=true", {"type": "string"}, produces=("text/plain",),
    errors={"401": ("sign in, or the login password by HTTP Basic auth", "text/plain")}))
def metrics(service: Service) -> str:
    if service.auth.enabled and not service.config.metrics_public and not metrics_allowed(service):
        bottle.response.status = 401
        bottle.response.content_type = "text/plain; charset=utf-8"  # what Prometheus reads; not a page
        bottle.response.set_header("WWW-Authenticate", 'Basic realm="cpa-usage metrics"')
        return "sign in, or send the login password with HTTP Basic auth (any user name)\n"
    bottle.response.content_type = "text/plain; version=0.0.4; charset=utf-8"
    return prometheus_metrics(service)


def metrics_allowed(service: Service) -> bool:
    """A session cookie, or the login password by HTTP Basic auth (what Prometheus
    can send); failures count against the login limit."""
    session = service.auth.session(bottle.request.get_cookie(SESSION_COOKIE))
    if session is not None and session.member is None:
        return True
    address, credentials = client_address(), bottle.request.auth
    if credentials is None or service.auth.retry_after(address):
        return False
    if service.auth.check_password(credentials[1] or ""):
        return True
    service.auth.failed(address)
    log.warning("failed metrics login from %s", address)
    return False


# -- Usage ---------------------------------------------------------------------------------

@route("GET", API + "/usage/overview", MEMBER, doc=_operation(
    "summary, hourly and daily series (local time), 15-minute grid", _schema_object({
        **_WITH_RANGE, "summary": _ref("Totals"),
        "hourly": {"type": "array", "items": _ref("Totals")},
        "daily": {"type": "array", "items": _ref("Totals")},
        "health_grid": {"type": "array", "items": _ref("Cell")},
        "plans": {"type": "array", "nullable": True, "items": _ref("CredentialPlans"), "description":
                  "the owner's: this month of every credential with a plan (the filters do not apply)"}}),
    FILTER_DOCS))
def usage_overview(service: Service) -> dict:
    analytics = viewer_analytics(service)
    query, name = parse_query(analytics, "24h")
    query = member_scoped(query)
    budgets = service.store.budgets()
    one_key = query.api_keys[0] if len(query.api_keys) == 1 else None
    now = analytics.clock()
    return {"range": range_json(query, name), **analytics.overview(query, name == "all"),
            "budget": service.analytics.budget_status(one_key, budgets[one_key], now) if one_key in budgets else None,
            "plans": None if member_key() is not None  # months of TZ, as budgets
            else [item for item in service.analytics.plans(now, now + 1) if item["months"]]}


@route("GET", API + "/usage/realtime", MEMBER, doc=_operation(
    "the last 60 minutes by the minute (the current one last): requests, failed, tokens; from raw events",
    _schema_object({"start": _TIME, "start_ms": _INT, "end": _TIME, "end_ms": _INT, "requests": _INT, "failed": _INT,
                    "tokens": _INT, "minutes": {"type": "array", "items": _schema_object(
                        {"start_ms": _INT, "requests": _INT, "failed": _INT, "tokens": _INT})}}),
    FILTER_DOCS[3:]))
def usage_realtime(service: Service) -> dict:
    analytics = viewer_analytics(service)
    query, _ = parse_query(analytics, "24h")
    return analytics.realtime(member_scoped(query))


@route("GET", API + "/usage/health", MEMBER, doc=_operation(
    "a year of daily cells; with day, that day's 5-minute cells", _schema_object({
        "tz": _STR, "year": {"type": "array", "items": _ref("Cell")},
        "day": {"type": "object", "nullable": True}}),
    FILTER_DOCS[3:] + [_parameter("day", "YYYY-MM-DD", {"type": "string", "format": "date"})]))
def usage_health(service: Service) -> dict:
    analytics = viewer_analytics(service)
    query, _ = parse_query(analytics, "24h")
    query = member_scoped(query)
    day_text = query_single("day")
    try:
        day = dt.date.fromisoformat(day_text) if day_text is not None else None
    except ValueError:
        raise bad_parameter("day", day_text, "a date YYYY-MM-DD") from None
    return {"tz": analytics.time.zone.key, **analytics.health(query, day)}


@route("GET", API + "/usage/latency", MEMBER, doc=_operation(
    "latency and TTFT percentiles (p50, p95, p99, within 9.05%) with their counts: over the range, per model, "
    "per credential (null for a member) and per hour (per local day from 3 days; the last 31 days)",
    _schema_object({**_WITH_RANGE, "summary": _ref("Latency"),
                    "models": {"type": "array", "items": _ref("Latency")},
                    "credentials": {"type": "array", "items": _ref("Latency"), "nullable": True},
                    "series": _schema_object({"step": {"type": "string", "enum": ["hour", "day"]},
                                              "points": {"type": "array", "items": _ref("Latency")}})}),
    FILTER_DOCS))
def usage_latency(service: Service) -> dict:
    analytics = viewer_analytics(service)
    query, name = parse_query(analytics, "24h")
    query = member_scoped(query)
    return {"range": range_json(query, name), **analytics.latency(query, credentials=member_key() is None)}


@route("GET", API + "/usage/analysis", MEMBER, doc=_operation(
    "totals by client key, model or both, and over every row",
    _list_of(_ref("Totals"), **_WITH_RANGE, total=_INT, totals=_ref("Totals")),
    FILTER_DOCS + PAGE_DOCS + [
        _parameter("group", "api, model or both", {"type": "string", "enum": ["api", "model", "both"]}),
        _parameter("sort", "the order of rows", {"type": "string", "enum": list(ANALYSIS_SORTS)}),
        _parameter("order", "asc or desc", {"type": "string", "enum": ["asc", "desc"]})]))
def usage_analysis(service: Service) -> dict:
    analytics = viewer_analytics(service)
    query, name = parse_query(analytics, "24h")
    query = member_scoped(query)
    group, sort, descending = analysis_parameters()
    page, page_size = query_int("page", 1, 1, 10**9), query_int("page_size", 50, 1, 500)
    return {"range": range_json(query, name), **analytics.analysis(query, group, sort, descending, page, page_size)}


@route("GET", API + "/usage/analysis/export", MEMBER, doc=_operation(
    "every row of the analysis as CSV", {"type": "string"},
    FILTER_DOCS + [_parameter("group", "api, model or both",
                              {"type": "string", "enum": ["api", "model", "both"]}),
                   _parameter("sort", "the order of rows", {"type": "string", "enum": list(ANALYSIS_SORTS)}),
                   _parameter("order", "asc or desc", {"type": "string", "enum": ["asc", "desc"]}),
                   _parameter("format", "csv", {"type": "string", "enum": ["csv"]})],
    produces=("text/csv",)))
def usage_analysis_export(service: Service) -> Iterable[bytes]:
    analytics = viewer_analytics(service)
    query, _ = parse_query(analytics, "24h")
    query = member_scoped(query)
    query_choice("format", ("csv",), "csv", "csv")
    return download(analytics.export_analysis(query, *analysis_parameters()), "csv", "cpa-usage-analysis")


@route("GET", API + "/usage/credentials", OWNER, doc=_operation(
    "totals per credential with last success and failure", _list_of(_ref("Totals"), **_WITH_RANGE),
    FILTER_DOCS))
def usage_credentials(service: Service) -> dict:
    analytics = viewer_analytics(service)
    query, name = parse_query(analytics, "24h")
    return {"range": range_json(query, name), **analytics.credentials(query)}


@route("GET", API + "/credential-errors", OWNER, doc=_operation(
    "credential errors CPA reported on its errors channel (RESP only), newest first; owner only",
    _list_of(_ref("CredentialError"), **_WITH_RANGE, total=_INT, page=_INT, page_size=_INT),
    [*FILTER_DOCS[:3], ZONE_DOC,
     _parameter("auth_index", "CPA's credential id", repeat=True),
     _parameter("provider", "the provider", repeat=True),
     _parameter("model", "the model", repeat=True),
     _parameter("instance", "the CPA", repeat=True), *PAGE_DOCS]))
def credential_errors(service: Service) -> dict:
    start_ms, end_ms, _, name = parse_range(viewer_analytics(service), "24h")
    page, page_size = query_int("page", 1, 1, 10**9), query_int("page_size", 50, 1, 500)
    rows, total = service.store.credential_errors(
        start_ms, end_ms, {column: tuple(query_values(column))
                           for column in ("auth_index", "provider", "model", "instance")},
        limit=page_size, offset=(page - 1) * page_size)
    return {"range": range_json(Query(start_ms, end_ms), name), "items": [credential_error_json(r) for r in rows],
            "total": total, "page": page, "page_size": page_size}


@route("GET", API + "/usage/events", MEMBER, doc=_operation(
    "raw events, newest first", _list_of(_ref("Event"), **_WITH_RANGE, total=_INT, page=_INT, page_size=_INT),
    FILTER_DOCS + PAGE_DOCS))
def usage_events(service: Service) -> dict:
    analytics = viewer_analytics(service)
    query, name = parse_query(analytics, "all")
    query = member_scoped(query)
    page, page_size = query_int("page", 1, 1, 10**9), query_int("page_size", 50, 1, 500)
    answer = analytics.events(query, page, page_size)
    if member_key() is not None:  # upstream credentials stay the owner's business
        for item in answer["items"]:
            item.update(dict.fromkeys(MEMBER_HIDDEN_EVENT_FIELDS))
    return {"range": range_json(query, name), **answer}


@route("GET", API + "/usage/events/filters", MEMBER, doc=_operation(
    "the models, sources, auth indexes and client keys seen in the range", _schema_object({
        **_WITH_RANGE, **{k: {"type": "array", "items": {"type": "object"}}
                         for k in ("models", "sources", "auth_indexes", "api_keys", "instances")}}),
    FILTER_DOCS))
def usage_event_filters(service: Service) -> dict:
    analytics = viewer_analytics(service)
    query, name = parse_query(analytics, "all")
    query = member_scoped(query)
    answer = analytics.event_filters(query)
    if member_key() is not None:
        answer["sources"], answer["auth_indexes"] = [], []
    return {"range": range_json(query, name), **answer}


@route("GET", API + "/usage/events/export", MEMBER, doc=_operation(
    "every event of the filters, oldest first, streamed: jsonl has every stored column with keys in clear "
    "(it imports back losslessly), csv has keys masked, alias and cost", {"type": "string"},
    FILTER_DOCS + [_parameter("format", "jsonl (default) or csv",
                              {"type": "string", "enum": ["jsonl", "csv"]})],
    produces=("application/x-ndjson", "text/csv")))
def usage_events_export(service: Service) -> Iterable[bytes]:
    analytics = viewer_analytics(service)
    query, _ = parse_query(analytics, "all")
    query = member_scoped(query)
    member = member_key()
    fmt = query_choice("format", ("csv", "jsonl"), "csv or jsonl", "csv" if member else "jsonl")
    if member and fmt == "jsonl":
        raise ApiError(403, "a member's export is csv (jsonl has every column, credentials included)",
                       {"member": True})
    return download(analytics.export_events(query, fmt, hide_credentials=bool(member)), fmt, "cpa-usage-events")


# -- CPA's log of one request ------------------------------------------------------------

_REQUEST_ID_PATH = [_parameter("request_id", "the event's request_id: 1-128 letters, digits, _ or -",
                               {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"}, where="path")]
_LOG_BODY = _schema_object({"text": _STR, "bytes": _INT, "truncated": _BOOL})
_LOG_HEADERS = {"type": "array", "items": {"type": "array", "items": _STR}}



def log_events(service: Service, request_id: str) -> list[dict]:
    """The stored events of a request whose log is asked for, after the checks: a valid
    request_id (400); a member only with REQUEST_LOG_MEMBERS and only for their own key
    (403, else 404 as for a request that is not theirs: prompts are private)."""
    if not REQUEST_ID.fullmatch(request_id):
        raise ApiError(400, "request_id must be 1-128 letters, digits, _ or -", {"got": request_id[:200]})
    events = service.store.request_events(request_id)
    member = member_key()
    if member is not None:
        if not service.config.request_log_members:
            raise ApiError(403, "CPA's request logs hold prompts and answers: only the owner reads them "
                           "(REQUEST_LOG_MEMBERS=true lets a member read those of their own key)", {"member": True})
        if not any(row["api_key"] == member for row in events):
            raise ApiError(404, "no request of your key has this request_id", {"request_id": request_id})
    return events


def opened_log(service: Service, request_id: str, events: list[dict], stack: contextlib.ExitStack
               ) -> tuple[Any, str, int]:
    """The request's log, open in ``stack``; 404 with a hint, or 502 with CPA's reason."""
    instances = list(dict.fromkeys(row["instance"] for row in events))
    try:
        return stack.enter_context(service.request_logs.opened(request_id, instances))
    except RequestLogNotFound as exc:
        raise ApiError(404, str(exc), {"request_id": request_id, "hint": REQUEST_LOG_NOT_FOUND}) from None
    except (CpaHttpError, AuthRejected) as exc:
        raise ApiError(502, "CPA's management API could not give the log", {"reason": str(exc)}) from None


@route("GET", API + "/usage/events/<request_id>/log", MEMBER, doc=_operation(
    "CPA's log of one request, parsed: request info, headers (credentials masked) and body, each upstream "
    "attempt, the final response, inline assets; bodies capped (REQUEST_LOG_BODY_BYTES). Owner only, unless "
    "REQUEST_LOG_MEMBERS=true (a member's own key), else 403. Read from CPA_LOG_DIR, else CPA's management API; "
    "nothing is stored. A request_id not of 1-128 letters, digits, _ or - is a 400; no log, a 404 with a "
    "hint; a CPA that cannot be asked, a 502 with the reason",
    _schema_object({"file": _schema_object({"name": _STR, "size": _INT}), "info": {"type": "object"},
                    "request": _schema_object({"headers": _LOG_HEADERS, "body": _LOG_BODY}),
                    "attempts": {"type": "array", "items": {"type": "object"}},
                    "api_errors": {"type": "array", "items": {"type": "object"}},
                    "response": {"type": "object", "nullable": True}, "websocket": {"type": "object"},
                    "other_sections": {"type": "array", "items": {"type": "object"}},
                    "assets": {"type": "array", "items": _schema_object(
                        {"index": _INT, "offset": _INT, "length": _INT, "type": _STR})},
                    "truncated": {"type": "array", "items": _STR},
                    "events": {"type": "array", "items": _ref("Event")}}),
    _REQUEST_ID_PATH))
def request_log(service: Service, request_id: str) -> dict:
    events = log_events(service, request_id)
    with contextlib.ExitStack() as stack:
        stream, name, size = opened_log(service, request_id, events, stack)
        answer = service.request_logs.parser.parse(stream, name, size)
    shown = [event_json(row) for row in events]
    if member_key() is not None:
        for item in shown:
            item.update(dict.fromkeys(MEMBER_HIDDEN_EVENT_FIELDS))
    return {**answer, "events": shown}


@route("GET", API + "/usage/events/<request_id>/log/raw", MEMBER, doc=_operation(
    "CPA's log of one request as it is, as a download (same access as the parsed log)", {"type": "string"},
    _REQUEST_ID_PATH, produces=("text/plain",)))
def request_log_raw(service: Service, request_id: str) -> Iterable[bytes]:
    events = log_events(service, request_id)
    stack = contextlib.ExitStack()
    stream, name, size = opened_log(service, request_id, events, stack)
    bottle.response.content_type = "text/plain; charset=utf-8"
    bottle.response.set_header("Content-Length", str(size))
    bottle.response.set_header("Content-Disposition", f'attachment; filename="{_download_name(name, request_id)}"')
    bottle.response.set_header("Cache-Control", "no-store")

    def chunks() -> Iterable[bytes]:
        with stack:
            while chunk := stream.read(1024 * 1024):
                yield chunk

    return chunks()


def _download_name(name: str, request_id: str) -> str:
    """The log's file name for a Content-Disposition: CPA's, when it is a plain one."""
    return name if re.fullmatch(r"[A-Za-z0-9._-]{1,255}", name) else f"{request_id}.log"


@route("GET", API + "/usage/events/<request_id>/log/asset", MEMBER, doc=_operation(
    "an image or PDF inlined in the request's log (base64 in a body), as bytes: offset and length as the "
    "parsed log's assets give them; its type from its magic bytes (PNG, JPEG, GIF, WebP, PDF)",
    {"type": "string", "format": "binary"},
    _REQUEST_ID_PATH + [_required(_parameter("offset", "where the base64 starts in the file",
                                             {"type": "integer", "minimum": 0})),
                        _required(_parameter("length", "how many base64 characters",
                                             {"type": "integer", "minimum": 16, "maximum": ASSET_MAX_BYTES}))],
    produces=("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")))
def request_log_asset(service: Service, request_id: str) -> bytes:
    events = log_events(service, request_id)
    offset, length = query_int("offset", -1, 0, 2**62), query_int("length", -1, 16, ASSET_MAX_BYTES)
    if offset < 0 or length < 0:
        raise ApiError(400, "offset and length are required", {"offset": offset, "length": length})
    with contextlib.ExitStack() as stack:
        stream, _, size = opened_log(service, request_id, events, stack)
        if offset + length > size:
            raise ApiError(400, "offset and length go past the end of the log", {"size": size})
        stream.seek(offset)
        text = stream.read(length)
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise ApiError(400, "no base64 asset at this offset and length", {"offset": offset}) from None
    kind = asset_type(data[:16])
    if kind is None:
        raise ApiError(400, "the data there is not an image or PDF", {"offset": offset})
    bottle.response.content_type = kind
    bottle.response.set_header("Content-Disposition", "inline")
    bottle.response.set_header("Cache-Control", "private, max-age=3600")
    return data


# -- CPA's lists and its recording switch --------------------------------------------------

@route("GET", API + "/auth-files", OWNER, doc=_operation(
    "CPA's credential files (last good copy) with their usage in the range",
    _list_of({"type": "object"}, **_WITH_RANGE, fetched_at=_TIME), FILTER_DOCS))
def auth_files(service: Service) -> dict:
    query, name = parse_query(viewer_analytics(service), "24h")
    fetched_ms, files = service.store.get_metadata("auth-files") or (None, [])
    usage = service.store.count(query, ("auth_index",), failures=True)
    items = []
    for entry in files:
        index = entry.get("auth_index", "") if isinstance(entry, dict) else ""
        requests, failed = usage.get((index,), (0, 0))
        items.append({**redact(entry), "usage": {"requests": requests, "failed": failed}})
    return {"range": range_json(query, name), "fetched_at": iso_ms(fetched_ms), "items": items}


@route("GET", API + "/provider-metadata", OWNER, doc=_operation(
    "CPA's provider key lists and openai-compatibility entries, keys masked",
    _schema_object({"providers": {"type": "object"}, "fetched_at": {"type": "object"}})))
def provider_metadata(service: Service) -> dict:
    providers, fetched = {}, {}
    for list_name in PROVIDER_LISTS:
        fetched_ms, listed = service.store.get_metadata(list_name) or (None, None)
        providers[list_name] = redact(listed)
        fetched[list_name] = iso_ms(fetched_ms)
    return {"providers": providers, "fetched_at": fetched}


@route("GET", API + "/models/used", OWNER, doc=_operation(
    "models CPA offers and models seen in events, with requests, whether they have a price, and their cost in "
    "the range split by the kind of token it pays for",
    _list_of(_schema_object({"model": _STR, "in_cpa": _BOOL, "in_events": _BOOL, "requests": _INT,
                             "priced": _BOOL, "price_source": _NULLABLE_STR, "price_pattern": _NULLABLE_STR,
                             "price": {**_schema_object({f: {**_NUM, "nullable": True} for f in PRICE_FIELDS}),
                                       "nullable": True, "description": "USD per 1M tokens, in force now"},
                             "cost": _schema_object({
                                 "usd": _NUM, **_PRICED_COUNTS, "by_kind": {**_schema_object(
                                     {kind: {**_NUM, "nullable": True} for kind in COST_KINDS}), "description":
                                     "USD of each kind of token, each event at the price of its time: input with "
                                     "the unclassified tokens; reasoning null (inside output) unless a price in "
                                     "force in the range bills it apart"}})}),
             **_WITH_RANGE), FILTER_DOCS))
def models_used(service: Service) -> dict:
    query, name = parse_query(viewer_analytics(service), "all")
    fetched_ms, listed = service.store.get_metadata("models") or (None, [])
    offered = {m.get("id"): m for m in listed if isinstance(m, dict)}
    seen = {key[0]: requests for key, requests in service.store.count(query, ("model",)).items()}
    costs = service.analytics.cost_by_kind(query)
    nothing = {"usd": 0.0, **dict.fromkeys(PRICED_FIELDS[1:], 0),
               "by_kind": {**dict.fromkeys(COST_KINDS, 0.0), "reasoning": None}}
    items = []
    for model in sorted(set(offered) | set(seen)):
        price = service.pricing.lookup(model, service.analytics.clock())  # the price in force now
        in_force, price_source, price_pattern = price or (None, None, None)
        items.append({"model": model, "in_cpa": model in offered, "in_events": model in seen,
                      "owned_by": offered.get(model, {}).get("owned_by"), "requests": seen.get(model, 0),
                      "priced": price is not None, "price_source": price_source, "price_pattern": price_pattern,
                      "price": in_force.figures() if in_force else None, "cost": costs.get(model, nothing)})
    return {"range": range_json(query, name), "cpa_models_fetched_at": iso_ms(fetched_ms), "items": items}


@route("POST", API + "/usage/events/backfill-logs", OWNER, ignores_query=True, doc=_operation(
    "give the events imported without a request_id (CPA's legacy export) the one of their log in CPA_LOG_DIR: "
    "the log named within [T-5 s, T+10 min] of the event, whose Timestamp is within 1 s, then by model; one log "
    "claimed once. 409 without CPA_LOG_DIR",
    _schema_object({k: _INT for k in ("total", "matched", "ambiguous", "missing", "logs_indexed")}),
    body=_EMPTY_BODY))
def backfill_logs(service: Service) -> dict:
    read_empty_body()
    if not service.config.cpa_log_dir:
        raise ApiError(409, "CPA_LOG_DIR is not set: the backfill matches events to CPA's log files on this host",
                       {"setting": "CPA_LOG_DIR"})
    return backfill_request_ids(service.store, service.config.cpa_log_dir)


@route("POST", API + "/sync", OWNER, ignores_query=True, doc=_operation(
    "refresh CPA's lists now", _schema_object({"at": _TIME, "results": {"type": "object"},
                                               "instances": {"type": "object"}}),
    body=_EMPTY_BODY))
def sync(service: Service) -> dict:
    """Every CPA's lists now. With one CPA a refusal is the answer (409); with
    several, each CPA's outcome is told beside the others'."""
    read_empty_body()
    outcomes: dict[str, Any] = {}
    for instance, metadata in zip(service.config.cpas, service.metadatas):
        try:
            outcomes[instance.name] = metadata.sync(wait=False)
        except AuthRejected as exc:
            if len(service.metadatas) == 1:
                raise ApiError(409, "CPA rejected the management key", {"reason": str(exc)}) from None
            outcomes[instance.name] = {"error": f"CPA rejected the management key: {exc}"}
        except SyncBusy as exc:
            if len(service.metadatas) == 1:
                raise ApiError(409, str(exc)) from None
            outcomes[instance.name] = {"error": str(exc)}
    return {"at": iso_ms(service.metadata.last_run_at), "results": outcomes[service.config.cpas[0].name],
            "instances": outcomes}


@route("POST", API + "/cpa/usage-statistics", OWNER, ignores_query=True, doc=lambda instances: _operation(
    "turn CPA's usage-statistics-enabled on or off, in every CPA or the one named",
    _schema_object({"usage_statistics_enabled": _BOOL, "instances": {
        "type": "object", "additionalProperties": _BOOL}}),
    body=_schema_object({"enabled": _BOOL, "instance": {"type": "string", "enum": list(instances)}},
                        ("enabled",), closed=True)))
def cpa_usage_statistics(service: Service) -> dict:
    """Turn usage-statistics-enabled on or off in every CPA, or in the one named."""
    body = read_json_body()
    names = [instance.name for instance in service.config.cpas]
    check_recording_switch(body, names)
    chosen = [(name, metadata) for name, metadata in zip(names, service.metadatas)
              if body.get("instance", name) == name]
    states = {name: set_cpa_recording(name, metadata, body["enabled"]) for name, metadata in chosen}
    return {"usage_statistics_enabled": states[chosen[0][0]], "instances": states}


def check_recording_switch(body: Any, names: list[str]) -> None:
    """The body of the recording switch: {"enabled": true or false}, and optionally
    "instance", one of the CPAs ``names``; else a 400."""
    if not isinstance(body, dict) or not set(body) <= {"enabled", "instance"} \
            or not isinstance(body.get("enabled"), bool) or body.get("instance", names[0]) not in names:
        raise ApiError(400, 'expected {"enabled": true} or {"enabled": false}, and optionally "instance": one '
                       "of the CPAs", {"got": body, "instances": names})


def set_cpa_recording(name: str, metadata: MetadataSync, enabled: bool) -> bool:
    """Turn one CPA's usage-statistics-enabled on or off; its state after. A rejected
    key is a 409, a change CPA does not accept a 502."""
    try:
        return metadata.set_recording(enabled)
    except AuthRejected as exc:
        raise ApiError(409, "CPA rejected the management key", {"instance": name, "reason": str(exc)}) from None
    except CpaHttpError as exc:
        raise ApiError(502, "CPA did not accept the change", {"instance": name, "reason": str(exc)}) from None


# -- Client keys: aliases, budgets, alerts -------------------------------------------------

@route("GET", API + "/aliases", OWNER, doc=_operation(
    "every client key seen (unmasked: this is where they are managed), with alias",
    _list_of(_schema_object({"api_key": _STR, "alias": {"type": "string", "nullable": True},
                             "requests": _INT, "first_seen": _TIME, "last_seen": _TIME}))))
def aliases_list(service: Service) -> dict:
    aliases = service.store.aliases()
    seen = service.store.aggregate(Query(0, now_ms() + DAY_MS), ("api_key",))
    items = []
    for api_key in sorted(set(seen) | {(k,) for k in aliases}):
        measures = seen.get(api_key)
        requests, first_ms, last_ms = ((measures.requests, measures.first_ms, measures.last_ms) if measures
                                       else (0, None, None))  # a key with an alias, never used
        items.append({"api_key": api_key[0], "alias": aliases.get(api_key[0]),
                      "api_key_id": service.store.fingerprint(api_key[0]),
                      "requests": requests, "first_seen": iso_ms(first_ms), "last_seen": iso_ms(last_ms)})
    return {"items": items}


@route("PUT", API + "/aliases", OWNER, ignores_query=True, doc=_operation(
    "set an alias", _schema_object({"api_key": _STR, "alias": _STR}), body=_ALIAS_INPUT))
def aliases_put(service: Service) -> dict:
    body = read_json_body()
    if not isinstance(body, dict) or set(body) != {"api_key", "alias"}:
        raise ApiError(400, 'expected {"api_key": "...", "alias": "..."}', {"got": body})
    api_key, alias = validate_alias(body["api_key"], body["alias"])
    service.store.set_aliases({api_key: alias}, replace=False)
    return {"api_key": api_key, "alias": alias}


@route("DELETE", API + "/aliases", OWNER, doc=_operation(
    "remove an alias", _schema_object({"deleted": _STR}),
    [_required(_parameter("api_key", "the key whose alias to remove"))]))
def aliases_delete(service: Service) -> dict:
    api_key = query_single("api_key")
    if api_key is None:
        raise bad_parameter("api_key", None, "the api_key whose alias to remove")
    if not service.store.delete_alias(api_key):
        raise ApiError(404, "no alias for this api_key")
    return {"deleted": api_key}


@route("GET", API + "/aliases/export", OWNER, doc=_operation(
    "every alias as a versioned document", _schema_object({
        "version": _INT, "exported_at": _TIME, "aliases": {"type": "array", "items": {"type": "object"}}})))
def aliases_export(service: Service) -> dict:
    bottle.response.set_header("Content-Disposition", 'attachment; filename="cpa-usage-aliases.json"')
    return {"version": ALIAS_EXPORT_VERSION, "exported_at": iso_ms(now_ms()),
            "aliases": [{"api_key": k, "alias": v} for k, v in sorted(service.store.aliases().items())]}


@route("POST", API + "/aliases/import", OWNER, doc=_operation(
    "load an export document, checked whole before anything changes",
    _schema_object({k: _INT for k in ("added", "updated", "unchanged", "removed")}),
    [_parameter("mode", "merge (default) or replace", {"type": "string", "enum": ["merge", "replace"]})],
    body=_schema_object({"version": {"type": "integer", "enum": [ALIAS_EXPORT_VERSION]},
                         "aliases": {"type": "array", "items": _ALIAS_INPUT,
                                     "description": "each api_key once"}}, ("version", "aliases"))))
def aliases_import(service: Service) -> dict:
    mode = query_choice("mode", ("merge", "replace"), "merge or replace", "merge")
    wanted = imported_aliases(read_json_body())  # validate everything before changing anything
    before = service.store.aliases()
    service.store.set_aliases(wanted, replace=mode == "replace")
    return {"mode": mode, **alias_changes(before, wanted, replace=mode == "replace")}


def imported_aliases(body: Any) -> dict[str, str]:
    """The aliases of an export document, {api_key: alias}, each entry checked (and
    each key once): a document with one bad entry changes nothing."""
    if not isinstance(body, dict) or body.get("version") != ALIAS_EXPORT_VERSION \
            or not isinstance(body.get("aliases"), list):
        raise ApiError(400, f"expected an alias export document (version {ALIAS_EXPORT_VERSION})",
                       {"expected": {"version": ALIAS_EXPORT_VERSION, "aliases": [{"api_key": "", "alias": ""}]}})
    wanted: dict[str, str] = {}
    for position, entry in enumerate(body["aliases"]):
        with errors_at_index(position):
            api_key, alias = imported_alias(entry)
            if api_key in wanted:
                raise ApiError(400, "the same api_key appears twice", {"with": ["aliases"]})
        wanted[api_key] = alias
    return wanted


def imported_alias(entry: Any) -> tuple[str, str]:
    """One entry of an alias export document: (api_key, alias), checked by validate_alias."""
    if not isinstance(entry, dict) or not set(entry) <= {"api_key", "alias"}:
        raise ApiError(400, 'each alias must be an object {"api_key": "...", "alias": "..."}')
    return validate_alias(entry.get("api_key"), entry.get("alias"))


def alias_changes(before: dict[str, str], wanted: dict[str, str], replace: bool) -> dict[str, int]:
    """How many aliases an import adds, changes, leaves as they were and (replacing) removes."""
    changes = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0}
    for api_key, alias in wanted.items():
        if api_key not in before:
            changes["added"] += 1
        elif before[api_key] == alias:
            changes["unchanged"] += 1
        else:
            changes["updated"] += 1
    if replace:
        changes["removed"] = len(before.keys() - wanted.keys())
    return changes


@route("GET", API + "/budgets", MEMBER, doc=_operation(
    "budgets with this local day's and month's spend (a member: their own)", _list_of(_ref("Budget"), tz=_STR)))
def budgets_list(service: Service) -> dict:
    return {"items": service.analytics.budgets(only=member_key()), "tz": service.config.tz}


@route("PUT", API + "/budgets", OWNER, ignores_query=True, doc=_operation(
    "set a key's budget (USD and/or tokens, daily and/or monthly; at least one limit)",
    _ref("Budget"), body=_budget_input()))
def budgets_put(service: Service) -> dict:
    body = object_body(read_json_body(), ["api_key", *Store.BUDGET_LIMITS], "budget")
    key = one_client_key(service, body.get("api_key"))
    limits = {name: budget_limit(name, body.get(name)) for name in Store.BUDGET_LIMITS}
    if not any(limits.values()):
        raise ApiError(400, "a budget needs at least one limit", {"fields": list(Store.BUDGET_LIMITS)})
    service.store.set_budget(key, limits)
    return service.analytics.budgets(only=key)[0]


@route("DELETE", API + "/budgets", OWNER, doc=_operation(
    "remove a key's budget", _schema_object({"deleted": {"type": "object"}}),
    [_required(_parameter("api_key", "the key, its alias or its api_key_id"))]))
def budgets_delete(service: Service) -> dict:
    analytics = service.analytics
    key = one_client_key(service, request_query().get("api_key"))
    if not service.store.delete_budget(key):
        raise ApiError(404, "this key has no budget", analytics.named("api_key", key))
    return {"deleted": analytics.named("api_key", key)}


def budget_limit(name: str, value: Any) -> int | float | None:
    """One limit of a budget, as BUDGET_UNITS has it for the unit its name ends in; None:
    no limit of that kind."""
    types, most, expected = BUDGET_UNITS[name.rsplit("_", 1)[1]]
    if value is not None and (isinstance(value, bool) or not isinstance(value, types) or not 0 < value <= most):
        raise ApiError(400, f"invalid budget field {name}", {"field": name, "value": value, "expected": expected})
    return value


def one_client_key(service: Service, wanted: Any) -> str:
    """The one client key a request names (the key, its alias or its id)."""
    analytics = service.analytics
    if not isinstance(wanted, str) or blank(wanted):
        raise ApiError(400, "api_key is required: the key, its alias or its api_key_id", {"field": "api_key"})
    keys = analytics.resolve_keys(wanted)
    if len(keys) > 1:
        raise ApiError(409, "this alias names several keys; use the api_key_id", {"field": "api_key",
                       "keys": [analytics.named("api_key", key) for key in keys]})
    return keys[0]


@route("GET", API + "/alerts", MEMBER, doc=_operation(
    "budget (80% and 100%) and anomaly alerts, newest first (a member: their own, without the "
    "webhook's delivery state)",
    _schema_object({"items": {"type": "array", "items": _ref("Alert")}, "webhook": _BOOL}),
    [_parameter("limit", "1-1000, default 100", {"type": "integer", "minimum": 1, "maximum": 1000})]))
def alerts_list(service: Service) -> dict:
    aliases = service.store.aliases()
    member = member_key()
    rows = service.store.alerts(api_key=member, limit=query_int("limit", 100, 1, 1000))
    items = [service.alerts.json(row, aliases) for row in rows]
    if member is not None:  # how the owner's webhook fares is the owner's business
        items = [{**item, "attempts": 0, "delivered_at": None, "last_error": None} for item in items]
    return {"items": items, "webhook": bool(service.config.alert_webhook_url) and member is None}


@route("GET", API + "/keys/idle", OWNER, doc=_operation(
    "client keys unused for IDLE_KEY_DAYS (or never), oldest use first",
    _schema_object({"days": _INT, "items": {"type": "array", "items": {"type": "object"}}})))
def idle_keys(service: Service) -> dict:
    return {"days": service.config.idle_key_days, "items": service.analytics.idle_keys(service.config.idle_key_days)}


# -- Subscriptions: plans per credential, billing per client key ---------------------------

_MONTH = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$", "description": "a local month (TZ), YYYY-MM"}
_MONTHS_OF_RANGE = "; every local month the range overlaps, newest first, each whole up to now"


@route("GET", API + "/plans", OWNER, doc=_operation(
    "credentials' plans, and per month their API-equivalent spend against the plan's price" + _MONTHS_OF_RANGE,
    _list_of(_ref("CredentialPlans"), **_WITH_RANGE, tz=_STR), [*FILTER_DOCS[:3], ZONE_DOC]))
def plans_list(service: Service) -> dict:
    query, name = parse_query(viewer_analytics(service), "30d")  # the range in the viewer's zone, the months in TZ
    return {"range": range_json(query, name), "tz": service.config.tz,
            "items": service.analytics.plans(query.start_ms, query.end_ms)}


@route("PUT", API + "/plans", OWNER, ignores_query=True, doc=_operation(
    "set a credential's plan from a month on (replacing one from the same month)", _ref("CredentialPlans"),
    body={**_schema_object({
        "auth_index": {**_NONBLANK, "maxLength": 200, "description": "CPA's credential id"},
        "name": {**_NONBLANK, "maxLength": 100}, "monthly_price": {**_POSITIVE, "maximum": MAX_PLAN_PRICE},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217; default USD"},
        "usd_rate": {**_POSITIVE, "maximum": MAX_PLAN_PRICE, "nullable": True,
                     "description": "USD per unit of the currency: required unless USD, refused for USD"},
        "from_month": _MONTH}, ("auth_index", "name", "monthly_price", "from_month"), closed=True),
        "anyOf": [_schema_object({"currency": {"type": "string", "enum": ["USD"]},
                                  "usd_rate": {"type": "number", "nullable": True, "enum": [None]}}),
                  _schema_object({"currency": {"type": "string", "not": {"enum": ["USD"]}},
                                  "usd_rate": {**_POSITIVE, "maximum": MAX_PLAN_PRICE}}, ("currency", "usd_rate"))]}))
def plans_put(service: Service) -> dict:
    auth_index, plan = parse_plan(read_json_body())
    service.store.set_plan(auth_index, plan)
    now = service.analytics.clock()
    return next(item for item in service.analytics.plans(now, now + 1) if item["auth_index"] == auth_index)


@route("DELETE", API + "/plans", OWNER, doc=_operation(
    "remove a credential's plans, or with from_month the one held from then",
    _schema_object({"deleted": _INT}),
    [_required(_parameter("auth_index", "CPA's credential id")), _parameter("from_month", "YYYY-MM", _MONTH)]))
def plans_delete(service: Service) -> dict:
    auth_index, from_month = request_query().get("auth_index"), request_query().get("from_month")
    if not visible_text(auth_index, 200):
        raise bad_parameter("auth_index", auth_index, "CPA's credential id")
    if from_month is not None and not PLAN_MONTH.fullmatch(from_month):
        raise bad_parameter("from_month", from_month, "a month YYYY-MM")
    deleted = service.store.delete_plans(auth_index, from_month)
    if not deleted:
        raise ApiError(404, "this credential has no plan" + (" from then" if from_month else ""),
                       {"auth_index": auth_index, **({"from_month": from_month} if from_month else {})})
    return {"deleted": deleted}


PLAN_INPUT_FIELDS = ("auth_index", "name", "monthly_price", "currency", "usd_rate", "from_month")
PLAN_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
PLAN_CURRENCY = re.compile(r"[A-Z]{3}")


def parse_plan(body: Any) -> tuple[str, dict]:
    """(auth_index, plan) from PUT /plans. A plan is priced in its currency; one not in USD
    carries the owner's usd_rate (USD per unit: what their card was charged), because the
    spend it is compared with is in USD."""
    object_body(body, PLAN_INPUT_FIELDS, "plan")
    auth_index, name, month = body.get("auth_index"), body.get("name"), body.get("from_month")
    for field, value, most, expected in (("auth_index", auth_index, 200, "CPA's credential id (auth_index)"),
                                         ("name", name, 100, "1-100 characters")):
        if not visible_text(value, most):
            raise ApiError(400, f"invalid plan field {field}", {"field": field, "value": value, "expected": expected})
    if not isinstance(month, str) or not PLAN_MONTH.fullmatch(month):
        raise ApiError(400, "invalid plan field from_month", {"field": "from_month", "value": month,
                                                              "expected": "a month YYYY-MM (in TZ)"})
    currency, rate = body.get("currency", "USD"), body.get("usd_rate")
    if not isinstance(currency, str) or not PLAN_CURRENCY.fullmatch(currency):
        raise ApiError(400, "invalid plan field currency", {"field": "currency", "value": currency,
                                                            "expected": "an ISO 4217 code in capitals (USD, EUR, CNY)"})
    if currency == "USD" and rate is not None:
        raise ApiError(400, "a plan in USD takes no usd_rate", {"field": "usd_rate", "value": rate,
                                                                "expected": "null or absent"})
    return auth_index, {
        "from_month": month, "name": name.strip(),
        "monthly_price": positive_amount("plan", "monthly_price", body.get("monthly_price"), MAX_PLAN_PRICE,
                                         f"an amount in {currency}"),
        "currency": currency,
        "usd_rate": None if currency == "USD" else positive_amount(
            "plan", "usd_rate", rate, MAX_PLAN_PRICE, f"the USD one {currency} is worth")}


def positive_amount(what: str, field: str, value: Any, most: float, unit: str) -> float:
    """A number above 0, at most ``most``, from a body (not a boolean, not NaN), or a 400 naming its field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= most:
        raise ApiError(400, f"invalid {what} field {field}", {"field": field, "value": value,
                                                              "expected": f"{unit}, above 0, at most {most:,}"})
    return float(value)


@route("GET", API + "/key-billing", OWNER, doc=_operation(
    "what the owner bills client keys (a markup on the API cost, or a rate per 1M tokens), per month beside "
    "the API cost" + _MONTHS_OF_RANGE, _list_of(_ref("KeyBilling"), **_WITH_RANGE, tz=_STR), FILTER_DOCS[:3]))
def key_billing_list(service: Service) -> dict:
    query, name = parse_query(service.analytics, "30d")
    return {"range": range_json(query, name), "tz": service.config.tz,
            "items": service.analytics.key_billing(query.start_ms, query.end_ms)}


@route("PUT", API + "/key-billing", OWNER, ignores_query=True, doc=_operation(
    "bill a client key: markup (times its API cost) or usd_per_million_tokens (its total tokens), one of them",
    _ref("KeyBilling"), body={**_schema_object({
        "api_key": _NONBLANK, "markup": {**_POSITIVE, "maximum": MAX_MARKUP, "nullable": True},
        "usd_per_million_tokens": {**_POSITIVE, "maximum": MAX_PRICE, "nullable": True}}, ("api_key",), closed=True),
        "oneOf": [_schema_object({"markup": {**_POSITIVE, "maximum": MAX_MARKUP}}, ("markup",)),
                  _schema_object({"usd_per_million_tokens": {**_POSITIVE, "maximum": MAX_PRICE}},
                                 ("usd_per_million_tokens",))]}))
def key_billing_put(service: Service) -> dict:
    body = object_body(read_json_body(), ["api_key", *Store.BILLING_RULES], "key billing")
    key = one_client_key(service, body.get("api_key"))
    given = [name for name in Store.BILLING_RULES if body.get(name) is not None]
    if len(given) != 1:
        raise ApiError(400, "key billing takes one of markup or usd_per_million_tokens",
                       {"fields": list(Store.BILLING_RULES)})
    rule = dict.fromkeys(Store.BILLING_RULES)
    rule[given[0]] = (positive_amount("key billing", "markup", body["markup"], MAX_MARKUP, "a factor")
                      if given[0] == "markup" else positive_amount(
                          "key billing", "usd_per_million_tokens", body["usd_per_million_tokens"], MAX_PRICE,
                          "USD per 1M tokens"))
    service.store.set_key_billing(key, rule)
    now = service.analytics.clock()
    return service.analytics.key_billing(now, now + 1, only=key)[0]


@route("DELETE", API + "/key-billing", OWNER, doc=_operation(
    "stop billing a client key", _schema_object({"deleted": {"type": "object"}}),
    [_required(_parameter("api_key", "the key, its alias or its api_key_id"))]))
def key_billing_delete(service: Service) -> dict:
    key = one_client_key(service, request_query().get("api_key"))
    if not service.store.delete_key_billing(key):
        raise ApiError(404, "this key is not billed", service.analytics.named("api_key", key))
    return {"deleted": service.analytics.named("api_key", key)}


# -- Prices --------------------------------------------------------------------------------

@route("GET", API + "/pricing", MEMBER, ignores_query=True, doc=_operation(
    "the user's prices and the built-in defaults (each of the source's models with its match patterns, one item "
    "per dated price)", _list_of(_ref("Price"), defaults={"allOf": [_ref("DefaultPrices"), _schema_object({
        "items": {"type": "array", "items": {"allOf": [_ref("Price"), _schema_object({
            "provider": _STR, "match": {"type": "array", "items": _STR}})]}}})]})))
def pricing_list(service: Service) -> dict:
    return {"items": [price_json(model, dated.price, "user", dated.updated_ms, dated.effective_from_ms, tier)
                      for tier, patterns in sorted(service.pricing.user.items())
                      for model, history in sorted(patterns.items()) for dated in history],
            "defaults": {**default_prices_about(service.pricing.defaults), "items": [
                {**price_json(model["id"], price, "default", None, since), "provider": model["provider"],
                 "match": model["match"]}
                for model in service.pricing.defaults.models
                for since, price in service.pricing.defaults.prices[model["match"][0]]]}}


def default_prices_about(defaults: DefaultPrices) -> dict:
    """Where the built-in prices come from (/pricing, /status): source, version, url,
    date, how many models, and why there are none when there are none."""
    return {**dict.fromkeys(("source", "version", "url", "date")), **defaults.about,
            "models": len(defaults.models), "error": defaults.error}


@route("PUT", API + "/pricing", OWNER, ignores_query=True, doc=_operation(
    "set prices, all or none", _schema_object({"saved": {"type": "array", "items": _STR}}),
    body=_list_or_items("items", _ref("PriceInput"), min_items=1)))
def pricing_put_many(service: Service) -> dict:
    entries = listed_in_body(read_json_body(), "items")
    if not isinstance(entries, list) or not entries:
        raise ApiError(400, "expected a non-empty list of prices", {"got": type(entries).__name__})
    rows, replaced = [], set()
    for position, entry in enumerate(entries):
        with errors_at_index(position):
            row, replace = parse_price(entry)
        rows.append(row)
        if replace:
            replaced.add((row[0], row[-1]))
    service.store.upsert_prices(rows, replaced)
    service.pricing.reload()
    service.rebanding.wake()
    return {"saved": [row[0] for row in rows]}


def listed_in_body(body: Any, field: str) -> Any:
    """What a body that is a list, or an object holding it under ``field`` alone
    (_list_or_items), holds: the list; any other body as it is, for the caller to refuse."""
    return body.get(field) if isinstance(body, dict) and set(body) == {field} else body


@route("PUT", API + "/pricing/<model:path>", OWNER, ignores_query=True, doc=_operation(
    "set one price", _ref("Price"), _MODEL_PATH, body=_schema_object(
        _PRICE_INPUT, ("input", "output", "cache_read", "cache_write"), closed=True)))
def pricing_put_one(service: Service, model: str) -> dict:
    row, replace = parse_price(read_json_body(), model)
    tier = row[-1]
    service.store.upsert_prices([row], [(model, tier)] if replace else [])
    service.pricing.reload()
    service.rebanding.wake()
    saved = next(dated for dated in service.pricing.user[tier][model] if dated.effective_from_ms == row[1])
    return price_json(model, saved.price, "user", saved.updated_ms, saved.effective_from_ms, tier)


@route("DELETE", API + "/pricing", OWNER, ignores_query=True, doc=_operation(
    "remove prices", _schema_object({"deleted": {"type": "array", "items": _STR},
                                     "not_found": {"type": "array", "items": _STR}}),
    body=_list_or_items("models", _MODEL_NAME)))
def pricing_delete_many(service: Service) -> dict:
    body = read_json_body()
    models = listed_in_body(body, "models")
    if not isinstance(models, list) or not all(valid_model_name(m) for m in models):
        raise ApiError(400, "expected a list of model names", {"got": body})
    deleted = service.store.delete_prices(models)
    service.pricing.reload()
    return {"deleted": deleted, "not_found": [m for m in models if m not in deleted]}


@route("DELETE", API + "/pricing/<model:path>", OWNER, doc=_operation(
    "remove a model's prices (of every tier), or with effective_from only the one from then, with tier only "
    "that tier's", _schema_object({"deleted": {"type": "array", "items": _STR}}),
    [*_MODEL_PATH, _parameter("effective_from", "the date or time of the one price to remove", _EFFECTIVE_FROM),
     _parameter("tier", "only the prices of this service tier (default, standard or auto: the standard tier's)",
                _MODEL_NAME_TEXT_SCHEMA)]))
def pricing_delete_one(service: Service, model: str) -> dict:
    text, tier_text = request_query().get("effective_from"), query_single("tier")
    effective_from_ms = None
    if text is not None:
        try:
            effective_from_ms = parse_effective_from(text)
        except ApiError:
            raise bad_parameter("effective_from", text, "a date (YYYY-MM-DD) or an RFC 3339 time") from None
    tier = None if tier_text is None else parse_tier(tier_text, lambda: bad_parameter("tier", tier_text,
                                                                                       _TIER_EXPECTED))
    if not service.store.delete_prices([model], effective_from_ms, tier):
        given = {name: value for name, value in (("effective_from", text), ("tier", tier_text)) if value is not None}
        raise ApiError(404, "no price set for this model" + (" from then" if text is not None else "")
                       + (" of this tier" if tier_text is not None else ""), {"model": model, **given})
    service.pricing.reload()
    return {"deleted": [model]}


# -- History in, and what could not be read ------------------------------------------------

@route("POST", API + "/import", OWNER, doc=_operation(
    "import a file: CPA's legacy usage export (JSON), JSON Lines of queue payloads, or our jsonl export; "
    f"at most {IMPORT_MAX_BYTES // 2**20} MiB; a file not valid as a whole changes nothing (400)",
    _schema_object({"file": _STR, "read": _INT, "added": _INT, "duplicates": _INT, "rejected": _INT,
                    "reasons": {"type": "object", "additionalProperties": _INT},
                    "error": {"type": "string", "nullable": True}}),
    [_parameter("name", "a name for the file in the report and the log")],
    body={"description": "the file (any JSON document, or JSON Lines): what is not a record is counted "
                         "in rejected, with its reason"}, consumes=IMPORT_TYPES))
def import_records(service: Service) -> dict:
    require_media_type(IMPORT_TYPES, "the body must be the file, as application/json or application/x-ndjson")
    length = bottle.request.content_length  # -1 without the header: no body (a chunked one is read whole)
    if length > IMPORT_MAX_BYTES:
        raise ApiError(413, "the file is too big for an upload; use the import command on the host",
                       {"max_bytes": IMPORT_MAX_BYTES, "bytes": length})
    name = _CONTROL_CHARS.sub("", query_single("name") or "")[:200] or "upload"  # it names dead letters too
    report = Importer(service.store).run(bottle.request.body, name)
    log.info("import through the API: %s", report.summary().replace("\n", ";"))
    if report.error:
        raise ApiError(400, f"the file is not valid as a whole; nothing was imported: {report.error}",
                       report.json())
    return report.json()


@route("GET", API + "/dead-letters", OWNER, doc=_operation(
    "records that could not be decoded, newest first", _list_of({"type": "object"}, total=_INT),
    [_parameter("limit", "1-500, default 50", {"type": "integer", "minimum": 1, "maximum": 500})]))
def dead_letters(service: Service) -> dict:
    limit = query_int("limit", 50, 1, 500)
    return {"items": [{"received_at": iso_ms(d.received_ms), "via": d.via, "reason": d.reason,
                       "payload": mask_secrets(bytes(d.payload).decode("utf-8", "replace")),
                       "size": d.size, "truncated": d.size is not None and d.size > len(d.payload)}
                      for d in service.store.list_dead_letters(limit)],
            "total": service.store.load_totals()["dead_letters"]}


# -- Sessions ------------------------------------------------------------------------------

@route("GET", API + "/auth/session", PUBLIC, ignores_query=True, doc=_operation(
    "whether login is on, and whether this request is signed in (until when)",
    _schema_object({"auth_enabled": _BOOL, "key_login_enabled": _BOOL, "tz": _STR, "signed_in": _BOOL,
                    "expires_at": _TIME, "member": {"type": "object", "nullable": True}})))
def auth_session(service: Service) -> dict:
    session = service.auth.session(bottle.request.get_cookie(SESSION_COOKIE))
    member = session.member if session else None
    return {"auth_enabled": service.auth.enabled, "key_login_enabled": service.auth.key_login,
            "tz": service.config.tz,
            "signed_in": not service.auth.enabled or session is not None,
            "expires_at": iso_ms(session.expires * 1000) if session else None,
            "member": member_json(service, member)}


@route("POST", API + "/auth/login", PUBLIC, ignores_query=True, doc=_operation(
    "sign in: sets an HttpOnly session cookie; 429 with Retry-After after 5 failures a minute",
    _schema_object({"signed_in": _BOOL, "expires_at": _TIME}),
    body=_schema_object({"password": _STR}, ("password",))))
def auth_login(service: Service) -> dict:
    auth, address = service.auth, client_address()
    if not auth.enabled:
        raise ApiError(400, "login is not enabled (AUTH_ENABLED=false)")
    wait = auth.retry_after(address)
    if wait:
        bottle.response.set_header("Retry-After", str(wait))
        raise ApiError(429, "too many failed logins; try again later", {"retry_after_s": wait})
    body = read_json_body(limit=HTTP_LIMITS.login_body_bytes)
    body = body if isinstance(body, dict) else {}
    if "api_key" in body and auth.key_login:  # a member, with their own CPA client key
        token, expires, member = member_login(auth, address, body["api_key"])
    else:
        token, expires, member = owner_login(auth, address, body.get("password"))
    bottle.response.set_header("Set-Cookie", auth.cookie(token, int(auth.ttl)))
    return {"signed_in": True, "expires_at": iso_ms(expires * 1000),
            "member": member_json(service, member)}


def member_json(service: Service, member: str | None) -> dict | None:
    """A member's client key as the session answers show it (named); None for the owner."""
    return service.analytics.named("api_key", member) if member else None


def member_login(auth: Auth, address: str, candidate: Any) -> tuple[str, int, str]:
    """A member's session, for one of CPA's client keys: (token, expiry, the key). Any
    other key is a 401, counted against the login limit."""
    member = auth.check_member_key(candidate) if isinstance(candidate, str) else None
    if member is None:
        auth.failed(address)
        log.warning("failed key login from %s", address)
        raise ApiError(401, "this is not one of CPA's client API keys")
    token, expires = auth.issue(member)
    log.info("key login from %s (%s)", address, mask_key(member))
    return token, expires, member


def owner_login(auth: Auth, address: str, password: Any) -> tuple[str, int, None]:
    """The owner's session, for the login password: (token, expiry, None). A wrong one is
    a 401, counted against the login limit."""
    if not isinstance(password, str) or not auth.check_password(password):
        auth.failed(address)
        log.warning("failed login from %s", address)
        raise ApiError(401, "wrong password")
    token, expires = auth.issue()
    log.info("login from %s", address)
    return token, expires, None


@route("POST", API + "/auth/logout", MEMBER, ignores_query=True, doc=_operation(
    "sign out: the session ends (every copy of its cookie) and the cookie is cleared",
    _schema_object({"signed_in": _BOOL}), body=_EMPTY_BODY))
def auth_logout(service: Service) -> dict:
    """Sign out: the session is revoked (its cookie, wherever a copy of it is, no
    longer works) and the cookie cleared."""
    read_empty_body()
    session = service.auth.session(bottle.request.get_cookie(SESSION_COOKIE))
    if session is not None:
        service.auth.revoke(session)
    bottle.response.set_header("Set-Cookie", service.auth.cookie("", 0))
    return {"signed_in": False}


# -- This document and the dashboard -------------------------------------------------------

@route("GET", API + "/openapi.json", MEMBER, doc=_operation("this document", {"type": "object"}))
def openapi(service: Service) -> dict:
    return openapi_document(service.config.app_base_path, [i.name for i in service.config.cpas])


SESSION_META = b'<meta name="cpa-usage-session" content="">'  # static/index.html's, filled by index()


@route("GET", "/", PUBLIC, json=False)
def index(service: Service) -> Any:
    """The dashboard's page with the session's answer (GET /auth/session) in it: the page
    asks for its data at once instead of first asking who is there (the round trip and the
    first frame it waited behind were 60-100 ms of a cold first render on loopback).
    Private: the answer is the cookie holder's."""
    page = static_file(service, "index.html")
    answer = html.escape(json.dumps(auth_session(service), separators=(",", ":")), quote=True)
    bottle.response.set_header("Cache-Control", "private, no-cache")
    return page.replace(SESSION_META, SESSION_META.replace(b'content=""', f'content="{answer}"'.encode()))


@route("GET", "/static/<name:path>", PUBLIC, json=False)
def static_file(service: Service, name: str) -> Any:
    data = read_static(name)
    if data is None:
        raise bottle.HTTPError(404, "no such file")
    bottle.response.content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if bottle.response.content_type.startswith("text/") or name.endswith(".js"):
        bottle.response.content_type += "; charset=utf-8"
    bottle.response.set_header("Cache-Control", "no-cache")
    return data


def openapi_document(base_path: str, instances: Iterable[str]) -> dict:
    """The API described for tools (OpenAPI 3.0), from ROUTES: every documented route,
    its parameters and answers."""
    names, paths = list(instances), {}
    for entry in ROUTES:
        operation = entry.operation(names)
        if operation is not None:
            paths.setdefault(re.sub(r"<(\w+)(:\w+)?>", r"{\1}", entry.path), {})[entry.method.lower()] = operation
    return {"openapi": "3.0.3", "info": {"title": "cpa-usage", "version": __version__,
                                         "description": "Persistent usage analytics for CLIProxyAPI."},
            "servers": [{"url": base_path or "/"}], "paths": paths, "components": {"schemas": OPENAPI_SCHEMAS}}


def build_app(service: "Service") -> bottle.Bottle:
    """The Bottle app of ROUTES, with paths relative to APP_BASE_PATH."""
    app = bottle.Bottle()
    app.config["json.enable"] = False  # answer() encodes JSON itself

    def default_error(error: bottle.HTTPError) -> str:
        if bottle.request.path.startswith(API + "/") or bottle.request.path == API:
            return json_response({"error": error.body or error.status_line, "detail": None}, error.status_code)
        bottle.response.content_type = "text/plain; charset=utf-8"
        return f"{error.status_line}\n"

    app.default_error_handler = default_error
    for entry in ROUTES:
        app.route(entry.path, entry.method, answer(service, entry), access=entry.access)
    return app


def answer(service: "Service", entry: Route) -> Callable[..., Any]:
    """The Bottle callback of one route: the session its access needs (401, or 403 for a
    member on an owner's route), its query checked against what it takes, then the
    handler; dict and list answers become JSON, and so do ApiError and surprises on a
    JSON route (never an HTML traceback)."""
    known = entry.query_parameters()

    def call(**arguments: Any) -> Any:
        try:
            if entry.access != PUBLIC:
                service.auth.require(entry.access)
            if known is not None:
                reject_unknown_query(known)
            result = entry.handler(service, **arguments)
        except ApiError as exc:
            if not entry.json:
                raise
            return json_response({"error": exc.message, "detail": exc.detail}, exc.status)
        except bottle.HTTPResponse:
            raise
        except Exception:  # noqa: BLE001
            if not entry.json:
                raise
            log.exception("error answering %s %s", bottle.request.method, bottle.request.path)
            return json_response({"error": "internal error", "detail": "see the cpa-usage log"}, 500)
        return json_response(result) if isinstance(result, (dict, list)) else result

    return call


FORWARDED_HEADERS = frozenset({"HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                               "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_BY", "HTTP_X_REAL_IP", "HTTP_FORWARDED"})


class PrefixMount:
    """Serves ``app`` under ``base_path``; ``/healthz`` and ``/readyz`` answer at the root as well,
    ``/`` and the bare base path redirect to the dashboard. Adds the security headers
    to every response, whoever wrote it.

    A proxy's X-Forwarded-* headers are believed only from a peer in TRUSTED_PROXIES:
    then the client is the right-most address of X-Forwarded-For that is not itself a
    trusted proxy (what the login limit counts), and X-Forwarded-Proto is the scheme
    (a cookie over HTTPS is Secure). From anyone else they are removed before the app
    sees them."""

    def __init__(self, app: Callable, base_path: str, trusted_proxies: tuple = ()):
        self.app, self.base, self.trusted = app, base_path, trusted_proxies

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
        except ValueError:
            return False
        ip = ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip
        return any(ip in network for network in self.trusted)

    def _forwarded(self, environ: dict) -> None:
        """Every X-Forwarded-* header taken out of ``environ``; from a trusted proxy, the
        client and the scheme they tell put in its place."""
        headers = {name: environ.pop(name) for name in FORWARDED_HEADERS & environ.keys()}
        if not headers or not self.trusted or not self._trusted(environ.get("REMOTE_ADDR", "")):
            return
        client = self._forwarded_client(headers.get("HTTP_X_FORWARDED_FOR", ""))
        if client is not None:
            environ[CLIENT_ENVIRON] = client
        proto = headers.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            environ["wsgi.url_scheme"] = proto

    def _forwarded_client(self, forwarded_for: str) -> str | None:
        """The client a trusted proxy forwarded for: the right-most address of
        X-Forwarded-For that is not itself a trusted proxy (the left-most when they all
        are); None when it names none."""
        chain = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        for address in reversed(chain):
            if not self._trusted(address):
                return address
        return chain[0] if chain else None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def with_headers(status: str, headers: list, exc_info: Any = None) -> Any:
            page = any(k.lower() == "content-type" and v.startswith("text/html") for k, v in headers)
            return start_response(status, headers + security_headers(page), exc_info)

        self._forwarded(environ)
        path = environ.get("PATH_INFO", "") or "/"
        base = self.base
        if base and path.startswith(base + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + base
            environ["PATH_INFO"] = path[len(base):]
            return self.app(environ, with_headers)
        if not base or path in ("/healthz", "/readyz"):
            return self.app(environ, with_headers)
        if path in ("/", base):
            with_headers("302 Found", [("Location", base + "/"), ("Content-Length", "0")])
            return [b""]
        body = json.dumps({"error": "not found", "detail": f"cpa-usage is served under {base}/"}).encode()
        with_headers("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class HttpLimits(NamedTuple):
    """What the HTTP server allows a client, so that idle, slow or huge requests cannot
    take the dashboard and API down for everyone (README: "Limits")."""

    connections: int = 4096        # open at once; idle ones cost a socket, not a thread
    idle_s: int = 60               # a kept-alive connection silent this long is closed
    header_s: float = 20.0         # the request line and headers must have come by then
    body_grace_s: float = 30.0     # after this long a body must have averaged ...
    min_body_rate: int = 16 * 1024  # ... this many bytes a second (a slow upload is not cut)
    json_body_bytes: int = 64 * 1024  # the body of any route but the import, checked from its headers
    login_body_bytes: int = 4 * 1024  # the sign-in routes' (a password or a key)
    upload_bytes: int = IMPORT_MAX_BYTES + 1  # the import's, spooled to disk by waitress
    header_bytes: int = 64 * 1024
    check_every_s: int = 5         # how often the limits above are enforced


HTTP_LIMITS = HttpLimits()


def create_http_server(app: Callable, host: str, port: int, base_path: str, limits: HttpLimits = HTTP_LIMITS,
                       threads: int = 8) -> Any:
    """waitress with HttpLimits. waitress buffers a request whole before a thread sees
    it (bodies over 512 KB in a temporary file, not in memory) and closes idle
    connections; what it lacks is added here, reaching into waitress 3.0 (pinned in
    requirements.txt; tests/test_http_limits.py guards it): a parser that refuses a body
    larger than its route takes as soon as the headers say so (413, before any of it is
    read), and a check that closes connections whose headers or body come too slowly.
    poll() instead of select(), which cannot watch more than 1,024 sockets."""
    import waitress.channel
    import waitress.parser
    import waitress.server
    import waitress.utilities

    uploads, sign_in = {f"{base_path}{API}/import"}, f"{base_path}{API}/auth/"

    class GuardedParser(waitress.parser.HTTPRequestParser):
        def __init__(self, adj: Any):
            super().__init__(adj)
            self.started = time.monotonic()

        def received(self, data: bytes) -> int:
            consumed = super().received(data)
            if self.headers_finished and self.error is None and self.path not in uploads:
                size = self.body_bytes_received if self.chunked else self.content_length
                limit = limits.login_body_bytes if self.path.startswith(sign_in) else limits.json_body_bytes
                if size > limit:
                    self.error = waitress.utilities.RequestEntityTooLarge(f"a body of at most {limit} bytes here")
                    self.completed = True
            return consumed

    class GuardedChannel(waitress.channel.HTTPChannel):
        parser_class = GuardedParser

    server = waitress.server.create_server(
        app, host=host, port=port, threads=threads, ident="cpa-usage", connection_limit=limits.connections,
        channel_timeout=limits.idle_s, cleanup_interval=limits.check_every_s, max_request_body_size=limits.upload_bytes,
        max_request_header_size=limits.header_bytes, asyncore_use_poll=True, clear_untrusted_proxy_headers=False)
    server.channel_class = GuardedChannel
    idle_check = server.maintenance

    def maintenance(now: float) -> None:
        idle_check(now)
        clock = time.monotonic()
        for channel in list(server.active_channels.values()):
            request = channel.request
            if request is None or request.completed or not hasattr(request, "started"):
                continue
            elapsed = clock - request.started
            if (not request.headers_finished and elapsed > limits.header_s) or (
                    request.headers_finished and elapsed > limits.body_grace_s
                    and request.body_bytes_received < limits.min_body_rate * elapsed):
                channel.will_close = True

    server.maintenance = maintenance
    return server


###############################################################################
# 10. Command line #############################################################
###############################################################################


class Service:
    """The composition root: store, key gate, workers and web app, started and
    stopped in the right order."""

    def __init__(self, config: Config, **drainer_options: Any):
        self.config = config
        self.started_ms = now_ms()
        self.store = Store(config.database, config.cpas[0].name)
        self._open_cpas()
        self.pricing = Pricing(self.store)
        self.analytics = Analytics(self.store, self.pricing, config.zone)
        self.auth = Auth(config, self.store)
        self.request_logs = RequestLogs(config.cpa_log_dir, {i.name: c for i, c in zip(config.cpas, self.cpa_clients)},
                                        config.request_log_body_bytes, config.request_log_header_bytes)
        self.warnings = self._exposure_warnings(config)
        if self.pricing.defaults.error:  # the service runs on; what the owner has not priced is unpriced
            self.warnings.append(self.pricing.defaults.error)
        self._make_workers(drainer_options)
        self.app = PrefixMount(build_app(self), config.app_base_path, config.trusted_proxies)

    def _open_cpas(self) -> None:
        """Each CPA has its own drain status, key gate (CPA bans per host), HTTP client
        and metadata sync; the first one's are also the top level of /status."""
        config = self.config
        self.statuses = [DrainStatus(config.redis_queue_transport) for _ in config.cpas]
        self.gates = [KeyGate(instance.management_key, self.store, cpa=None if i == 0 else instance.name)
                      for i, instance in enumerate(config.cpas)]
        self.cpa_clients = [CpaHttp(instance.base_url, instance.management_key, gate)
                            for instance, gate in zip(config.cpas, self.gates)]
        self.metadatas = [MetadataSync(self.store, http, config.metadata_sync_interval, instance.name, status)
                          for instance, http, status in zip(config.cpas, self.cpa_clients, self.statuses)]
        self.status, self.gate, self.cpa, self.metadata = self.statuses[0], self.gates[0], self.cpa_clients[0], \
            self.metadatas[0]

    @staticmethod
    def _exposure_warnings(config: Config) -> list[str]:
        """What the start warns of: login off on an address others can reach."""
        if config.auth_enabled or config.listen_host in ("127.0.0.1", "::1", "localhost"):
            return []
        return [f"login is off (AUTH_ENABLED=false) and the dashboard listens on {config.listen_host}: anyone who "
                f"reaches port {config.app_port} sees every usage record and can change prices. Set "
                "AUTH_ENABLED=true and LOGIN_PASSWORD, or leave APP_HOST unset (127.0.0.1 while login is off)."]

    def _make_workers(self, drainer_options: dict[str, Any]) -> None:
        """The background workers: the writer, a drainer per CPA (a CPA's refresh cue
        wakes its metadata sync), the daily maintenance, the alerts, and the watchdog over
        them all."""
        config = self.config
        by_name = {instance.name: metadata for instance, metadata in zip(config.cpas, self.metadatas)}
        self.writer = IngestWriter(self.store, self.status, config.redis_queue_batch_size,
                                   spool_path=config.sqlite_path + ".spool",
                                   on_refresh=lambda name: by_name[name].wake() if name in by_name else None)
        self.drainers = [Drainer(config, self.writer, gate, status, http, instance=instance, **drainer_options)
                         for instance, gate, status, http in zip(config.cpas, self.gates, self.statuses,
                                                                  self.cpa_clients)]
        self.drainer = self.drainers[0]
        self.maintenance = Maintenance(self.store, config.zone, config.usage_retention_days,
                                       config.rollup_retention_days)
        self.alerts = Alerts(self.analytics, config.alert_webhook_url, config.alert_anomaly_factor)
        self.rebanding = Rebanding(self.store)
        self.workers: list[Worker] = [self.writer, *self.drainers, *self.metadatas, self.maintenance,
                                      self.rebanding, self.alerts]
        self.watchdog = Watchdog(self.writer, self.workers,
                                 [(instance.name, status) for instance, status in zip(config.cpas, self.statuses)])

    def start(self) -> None:
        self.writer.start()
        for drainer in self.drainers:
            drainer.start()
        for metadata in self.metadatas:
            metadata.start()
        self.maintenance.start()
        self.rebanding.start()
        self.alerts.start()
        self.watchdog.start()

    def stop(self) -> bool:
        """Stop receiving, commit what was received (or spool it), close the store.
        Returns whether everything received was committed."""
        for drainer in self.drainers:  # all at once, then wait for each
            drainer.stop()
        for drainer in self.drainers:
            drainer.close(1.0)
        for metadata in self.metadatas:
            metadata.stop()
        self.maintenance.stop()
        self.rebanding.stop()
        self.alerts.stop()
        self.watchdog.stop()
        flushed = self.writer.stop(1.5)
        self.store.close()
        return flushed

    def health(self) -> dict:
        """Whether the service does its job now (/readyz), and if not, why."""
        problems = self.watchdog.problems()
        return {"ready": not problems, "problems": list(problems.values())}

    def status_report(self) -> dict:
        instances = []
        for instance, status, gate, metadata in zip(self.config.cpas, self.statuses, self.gates,
                                                    self.metadatas):
            endpoint = instance.queue_endpoint()
            instances.append({"name": instance.name, "base_url": instance.base_url,
                              "queue": {"addr": endpoint_text(endpoint), "tls": bool(endpoint and endpoint[2])},
                              **status.snapshot(), **gate.snapshot(), **metadata.snapshot()})
        endpoint = self.config.queue_endpoint()
        return {
            "version": __version__, "started_at": iso_ms(self.started_ms), "warnings": self.warnings,
            "tz": self.config.tz, "instance": self.config.cpas[0].name, "instances": instances,
            **self.status.snapshot(), **self.gate.snapshot(),
            "queue": {"addr": endpoint_text(endpoint), "tls": bool(endpoint and endpoint[2]),
                      "key": self.config.redis_queue_key},
            **self.metadata.snapshot(),
            "pending": self.writer.pending, "spooled": self.writer.spooled, "database_stalled": self.writer.stalled,
            "spool_error": self.writer.spool_error, "dropped_records": self.writer.dropped,
            "ingest_stalled_since": iso_ms(self.writer.stalled_since()),
            "health": self.health(), "workers": [worker.worker_status() for worker in self.workers],
            "totals": self.store.load_totals(), "default_prices": default_prices_about(self.pricing.defaults),
            **self.maintenance.snapshot(), **self.rebanding.snapshot(),
        }


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class LineFormatter(logging.Formatter):
    """One log line per message: control characters in a message (a file name from an
    upload, text from CPA) are shown escaped, so that nobody can forge or break lines of
    the log; a traceback keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = _CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", record.message)
        return super().formatMessage(record)


def setup_logging(config: Config) -> None:
    """Log to stderr (journald) and, unless disabled, to daily files kept LOG_RETENTION_DAYS."""
    level = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
             "warning": logging.WARNING, "error": logging.ERROR}[config.log_level]
    formatter = LineFormatter("%(asctime)s.%(msecs)03dZ %(levelname)s [%(threadName)s] %(message)s",
                              "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.log_file_enabled:
        os.makedirs(config.log_dir, exist_ok=True)
        handlers.append(logging.handlers.TimedRotatingFileHandler(
            os.path.join(config.log_dir, "cpa-usage.log"), when="midnight",
            backupCount=config.log_retention_days, encoding="utf-8"))
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)


# Python collects cycles after every 700 new objects by default, and a full collection
# walks every object alive. A 30-day overview builds some 30,000 objects (3,600 hourly
# rows and grid cells as dicts): at the default, collections in the middle of it added
# 15 ms to one answer in twenty (p95 41 ms, p50 24 ms, 3.2M events); at 20,000 they do
# not (p95 26 ms). Nothing here makes cycles in bulk, so they wait a little longer.
GC_THRESHOLDS = (20_000, 10, 10)


def raise_open_files_limit(wanted: int) -> None:
    """Let this process hold ``wanted`` files (sockets of idle clients, mostly), as far as
    the hard limit allows (systemd's default soft limit is 1,024)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def serve(config: Config) -> int:
    """Run until SIGTERM or SIGINT, then commit what was received and exit 0."""
    gc.set_threshold(*GC_THRESHOLDS)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service = open_service(config)
    if service is None:
        return 1
    raise_open_files_limit(HTTP_LIMITS.connections + 256)
    try:
        server = create_http_server(service.app, config.listen_host, config.app_port, config.app_base_path)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.listen_host, config.app_port, exc.strerror or exc)
        service.store.close()
        return 1
    start_serving(service, server)
    while not stop.wait(0.5):
        pass
    log.info("stopping: committing what was received")
    flushed = service.stop()
    server.close()
    log.info("stopped%s", "" if flushed else " (uncommitted records were spooled for the next start)")
    return 0


def open_service(config: Config) -> Service | None:
    """The Service, or None when its database cannot be opened (said in one line of the
    log, with the password of a database URL left out); any other error is raised."""
    try:
        return Service(config)
    except Exception as exc:  # noqa: BLE001 - sorted out below
        if not isinstance(exc, (sqlite3.Error, OSError, RuntimeError)) \
                and not type(exc).__module__.startswith("psycopg"):
            raise
        log.error("cannot open the database %s: %s", re.sub(r"//[^@/]*@", "//", config.database), exc)
        return None


def start_serving(service: Service, server: Any) -> None:
    """Tell the service's warnings, start its workers and the HTTP server, and log what runs
    with which configuration."""
    config = service.config
    for warning in service.warnings:
        log.warning("%s", warning)
    service.start()
    threading.Thread(target=server.run, name="http", daemon=True).start()
    log.info("cpa-usage %s: dashboard and API on http://%s:%d%s/, draining %s (REDIS_QUEUE_TRANSPORT=%s)",
             __version__, config.listen_host, config.app_port, config.app_base_path,
             ", ".join(f"CPA {i.name} at {i.base_url} (RESP: {endpoint_text(i.queue_endpoint())})"
                       for i in config.cpas), config.redis_queue_transport)
    log.info("configuration: %s", " ".join(f"{name}={value}" for name, value in config.describe()))


def database_missing(database: str) -> bool:
    """Whether ``database`` is a SQLite file that is not there (and said so): a command that
    reads one must not start an empty one instead."""
    if is_postgres_url(database) or os.path.isfile(database):
        return False
    print(f"cpa-usage: no database at {database}", file=sys.stderr)
    return True


def backup(database: str, target: str) -> int:
    """Write a consistent copy of the database to ``target`` while the service runs.

    SQLite's online backup API copies every page inside one read transaction: a
    snapshot, and in WAL mode the service keeps writing meanwhile. The copy is a
    single self-contained file (no -wal beside it), checked before it is named. A
    PostgreSQL database is backed up with pg_dump."""
    if is_postgres_url(database):
        print("cpa-usage: the database is PostgreSQL: back it up with pg_dump", file=sys.stderr)
        return 1
    if database_missing(database):
        return 1
    if os.path.exists(target):
        print(f"cpa-usage: {target} exists; choose a new name for the backup", file=sys.stderr)
        return 1
    partial = target + ".partial"
    source, copy = sqlite3.connect(database), sqlite3.connect(partial)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
        version = copy.execute("PRAGMA user_version").fetchone()[0]
        events = copy.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0]
    except sqlite3.Error as exc:
        print(f"cpa-usage: backup of {database} failed: {exc}", file=sys.stderr)
        return 1
    finally:
        source.close()
        copy.close()
    if check != "ok":
        print(f"cpa-usage: the copy of {database} does not check out ({check}); kept as {partial}",
              file=sys.stderr)
        return 1
    os.replace(partial, target)
    print(f"backed up {database} to {target}: {os.path.getsize(target) / 2**20:.1f} MB, "
          f"{events:,} raw events, schema version {version}")
    return 0


def offline_command(args: argparse.Namespace, database: str, zone: zoneinfo.ZoneInfo) -> int:
    """backup, import and export: work on the database beside (or without) the service."""
    if args.command == "backup":
        return backup(database, args.path)
    if args.command == "export" and database_missing(database):
        return 1
    store = Store(database)  # an import may start a new one
    try:
        if args.command == "import":
            return import_files(store, args.files)
        return export_rows(Analytics(store, Pricing(store), zone), args)
    finally:
        store.close()


def migrate(args: argparse.Namespace) -> int:
    """The migrate command: copy_store between two databases given as sqlite:PATH or postgres:URL."""
    def target_of(spec: str) -> str:
        kind, _, rest = spec.partition(":")
        if kind == "sqlite" and rest:
            return rest
        if kind == "postgres" and is_postgres_url(rest):
            return rest
        if is_postgres_url(spec):
            return spec
        raise ValueError(spec)

    try:
        source_target, destination = target_of(args.source), target_of(args.target)
    except ValueError as exc:
        print(f"cpa-usage: {exc} is not sqlite:PATH or postgres:postgresql://...", file=sys.stderr)
        return 2
    if database_missing(source_target):
        return 1
    instance = args.instance or os.environ.get("INSTANCE_NAME") or default_instance_name("")
    try:
        source = Store(source_target, instance)
        target = Store(destination, instance)
    except Exception as exc:  # noqa: BLE001 - a wrong URL, a refused login: say which, briefly
        print(f"cpa-usage: cannot open the database: {exc}", file=sys.stderr)
        return 1
    report = copy_with_progress(source, target)
    print(f"copied {source.name} into {target.name}:")
    for table, count in report.items():
        print(f"  {table}: {count:,} added")
    return 0


def copy_with_progress(source: Store, target: Store) -> dict[str, int]:
    """copy_store with a progress bar of each table on a terminal (cleared after); both
    stores are closed after. Returns what was added to each table."""
    shown: dict[str, Callable[[int], None] | None] = {}

    def progress(table: str, done: int, total: int) -> None:
        if table not in shown:
            shown[table] = terminal_progress(table, total)
        if shown[table]:
            shown[table](done)

    try:
        report = copy_store(source, target, progress)
    finally:
        source.close()
        target.close()
    if any(shown.values()):
        sys.stderr.write("\r\x1b[K")
    return report


def terminal_progress(name: str, size: int) -> Callable[[int], None] | None:
    """A one-line progress bar on stderr, only when it is a terminal."""
    if not size or not sys.stderr.isatty():
        return None

    def show(done: int) -> None:
        filled = 30 * min(done, size) // size
        sys.stderr.write(f"\r{name} [{'#' * filled}{'.' * (30 - filled)}] {100 * min(done, size) // size:3d}%")
        sys.stderr.flush()

    return show


def import_files(store: Store, paths: list[str]) -> int:
    """The import command: each file whole or not at all, a summary of each (every file
    is tried, whatever came of the one before)."""
    imported = [import_file(store, path) for path in paths]
    return 0 if all(imported) else 1


def import_file(store: Store, path: str) -> bool:
    """One file of the import command, with a progress bar on a terminal; whether it was
    imported (its summary on stdout) or not (why on stderr)."""
    try:
        with open(path, "rb") as stream:
            progress = terminal_progress(os.path.basename(path), os.path.getsize(path))
            report = Importer(store).run(stream, path, progress)
    except OSError as exc:
        print(f"{path}: cannot be read ({exc.strerror})", file=sys.stderr)
        return False
    if progress:
        sys.stderr.write("\r\x1b[K")
    print(report.summary(), file=sys.stderr if report.error else sys.stdout)
    return not report.error


EXPORT_FORMATS = {"events": "jsonl", "analysis": "csv"}  # what the export command writes without --format
EXPORT_FILTERS = ("range", "start", "end", "auth_index", "api_key", "result", "group", "sort", "order")
EXPORT_REPEATED_FILTERS = ("model", "source")  # --model and --source may be given more than once


def export_rows(analytics: Analytics, args: argparse.Namespace) -> int:
    """The export command: the API's export routes, written to a file or stdout. The
    filters are read by the same code as the routes' query strings."""
    args.format = args.format or EXPORT_FORMATS[args.what]
    bottle.request.bind({"QUERY_STRING": export_query_string(args), "REQUEST_METHOD": "GET", "PATH_INFO": "/"})
    try:
        write_export(export_chunks(analytics, args), args.output)
    except BrokenPipeError:  # `export ... | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except ApiError as exc:
        print(f"cpa-usage: {exc.message} ({exc.detail.get('expected', '') if exc.detail else ''})", file=sys.stderr)
        return 2
    return 0


def export_query_string(args: argparse.Namespace) -> str:
    """The export command's filters as the query string of the export routes."""
    pairs = [(name, value) for name in EXPORT_FILTERS if (value := getattr(args, name, None)) is not None]
    pairs += [(name, value) for name in EXPORT_REPEATED_FILTERS for value in getattr(args, name) or []]
    return urllib.parse.urlencode(pairs)


def export_chunks(analytics: Analytics, args: argparse.Namespace) -> Iterable[str]:
    """What the export command writes, in pieces of text: the events, or the analysis as
    CSV (ApiError for filters the routes would refuse)."""
    if args.what == "events":
        query, _ = parse_query(analytics, "all")
        return analytics.export_events(query, args.format)
    query, _ = parse_query(analytics, "24h")
    if args.format != "csv":
        raise bad_parameter("format", args.format, "csv")
    return analytics.export_analysis(query, *analysis_parameters())


def write_export(chunks: Iterable[str], output: str | None) -> None:
    """Write the pieces to the file ``output`` (closed after), else to standard output."""
    with open(output, "w", encoding="utf-8", newline="") if output else contextlib.nullcontext(sys.stdout) as out:
        for chunk in chunks:
            out.write(chunk)


OFFLINE_COMMANDS = ("backup", "import", "export")  # they work on the database, beside or without the service


def main(argv: list[str] | None = None) -> int:
    """Run the command of the command line, or the service."""
    args = command_line_parser().parse_args(argv)
    if args.command == "migrate":
        return migrate(args)
    if args.command in OFFLINE_COMMANDS and args.db:  # the database is given: no configuration is read
        return offline_command(args, args.db, environment_zone())
    if args.systemd and not args.check_config:
        command_line_parser().error("--systemd goes with --check-config")
    try:
        config = load_config(systemd_environment(dict(os.environ)) if args.systemd else None)
    except ConfigError as exc:
        print(f"cpa-usage: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print_config(config)
        return check_systemd_reading(config) if args.systemd else 0
    if args.command in OFFLINE_COMMANDS:
        return offline_command(args, config.database, config.zone)
    if args.command == "backfill-logs":
        return backfill_command(config)
    return run_service(config)


def environment_zone() -> zoneinfo.ZoneInfo:
    """The zone of TZ in the environment (or its default), for a command that reads no configuration."""
    return zoneinfo.ZoneInfo(os.environ.get("TZ") or SETTING_DEFAULTS["TZ"])


def print_config(config: Config) -> None:
    """--check-config: the effective configuration, a setting a line (secrets masked)."""
    for name, value in config.describe():
        print(f"{name}={value}")


def check_systemd_reading(config: Config) -> int:
    """--check-config --systemd: 3 where systemd would read lines of .env differently
    from cpa-usage (install.sh then refuses an upgrade), each named on stderr."""
    differences = systemd_env_differences(config.env_file) if config.env_file else []
    if not differences:
        return 0
    print(f"cpa-usage: systemd (EnvironmentFile=) and cpa-usage read these lines of {config.env_file} differently; "
          "write them as KEY=value or KEY='value', without a trailing # comment:", file=sys.stderr)
    for difference in differences:
        print(f"  {difference}", file=sys.stderr)
    return 3


def backfill_command(config: Config) -> int:
    """backfill-logs: the request_ids of imported events from CPA_LOG_DIR, as POST
    /usage/events/backfill-logs does; 2 without CPA_LOG_DIR."""
    if not config.cpa_log_dir:
        print("cpa-usage: backfill-logs needs CPA_LOG_DIR (CPA's log directory on this host)", file=sys.stderr)
        return 2
    store = Store(config.database)
    try:
        report = backfill_request_ids(store, config.cpa_log_dir)
    finally:
        store.close()
    print(", ".join(f"{key.replace('_', ' ')} {value}" for key, value in report.items()))
    return 0


def run_service(config: Config) -> int:
    """The service, once its log is set up: a LOG_DIR that cannot be used is a configuration error."""
    try:
        setup_logging(config)
    except OSError as exc:
        print(f"cpa-usage: configuration error: LOG_DIR={config.log_dir!r} cannot be used ({exc.strerror}); "
              "expected a writable directory, or LOG_FILE_ENABLED=false", file=sys.stderr)
        return 2
    return serve(config)


def _default_text(setting: Setting) -> str:
    """A setting's default as --help says it: what an empty one stands for, not ''."""
    if setting.default is None:
        return "(required)"
    if not setting.default:
        return f"({setting.worked_out or 'none'})"
    return repr(setting.default)


def command_line_parser() -> argparse.ArgumentParser:
    """The commands and their options; the help ends with every setting and its default."""
    settings = "\n".join(f"  {s.name:<26} {_default_text(s):<16} {s.help}" for s in SETTINGS)
    parser = argparse.ArgumentParser(
        prog="cpa-usage", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Persistent usage analytics for CLIProxyAPI: drains CPA's usage queue into SQLite "
                    "and serves an API and dashboard. Without a command: run the service.",
        epilog="Configuration comes from the environment and from a .env file (ENV_FILE, default ./.env; "
               "the environment wins):\n\n" + settings)
    parser.add_argument("--version", action="version", version=f"cpa-usage {__version__}")
    parser.add_argument("--check-config", action="store_true",
                        help="print the effective configuration (secrets masked) and exit")
    parser.add_argument("--systemd", action="store_true",
                        help="with --check-config: read .env as systemd's EnvironmentFile= does, and exit with 3 "
                             "where that differs from cpa-usage's own reading (install.sh's upgrade check)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="run the service (the default)")
    backup_command = commands.add_parser(
        "backup", help="write a consistent copy of the database while the service runs",
        description="Write a consistent copy of the live database (SQLite's online backup API) to PATH. "
                    "To restore: stop the service, replace SQLITE_PATH with the copy (removing its -wal "
                    "and -shm files), start the service.")
    backup_command.add_argument("path", help="the file to create")
    import_command = commands.add_parser(
        "import", help="import usage records from files",
        description="Import CPA's legacy usage export (/v0/management/usage/export, CPA v6.9 and older), JSON "
                    "Lines of queue payloads of any era, or a jsonl export of cpa-usage. Records already stored "
                    "are skipped; a file that is not valid as a whole changes nothing. Safe while the service runs.")
    import_command.add_argument("files", nargs="+", metavar="FILE")
    export_command = commands.add_parser(
        "export", help="export events (jsonl or csv) or the analysis (csv)",
        description="The same as GET /api/v1/usage/events/export and /usage/analysis/export, with the same "
                    "filters. jsonl has every stored column, client keys in clear, and imports back losslessly.")
    export_command.add_argument("what", choices=("events", "analysis"))
    export_command.add_argument("--format", choices=("jsonl", "csv"), help="jsonl (events) or csv (the default "
                                "for analysis)")
    export_command.add_argument("-o", "--output", help="the file to write (default: standard output)")
    export_command.add_argument("--range", help=" | ".join(RANGE_NAMES))
    export_command.add_argument("--start", help="with --range custom: RFC 3339 or epoch ms")
    export_command.add_argument("--end", help="with --range custom: RFC 3339 or epoch ms")
    export_command.add_argument("--model", action="append", help="repeatable")
    export_command.add_argument("--source", action="append", help="repeatable")
    export_command.add_argument("--auth-index", dest="auth_index")
    export_command.add_argument("--api-key", dest="api_key", help="the key, its alias or its id")
    export_command.add_argument("--result", choices=("success", "failed"))
    export_command.add_argument("--group", choices=("api", "model", "both"), help="analysis only")
    export_command.add_argument("--sort", choices=ANALYSIS_SORTS, help="analysis only")
    export_command.add_argument("--order", choices=("asc", "desc"), help="analysis only")
    for command in (backup_command, import_command, export_command):
        command.add_argument("--db", help="the database (default: SQLITE_PATH of the configuration)")
    commands.add_parser(
        "backfill-logs", help="give imported events the request_id of their log in CPA_LOG_DIR",
        description="Events imported from CPA's legacy export have no request_id. Each is matched to a log file "
                    "of CPA_LOG_DIR: named within [T-5 s, T+10 min] of the event, its Timestamp within 1 s, then "
                    "its model; one log is claimed once. Prints total, matched, ambiguous, missing and the logs "
                    "indexed. Safe while the service runs, and to run again.")
    migrate_command = commands.add_parser(
        "migrate", help="copy a whole database into another (SQLite to PostgreSQL, or back)",
        description="Copy events, rollups, dead letters, totals, prices, aliases, budgets, plans, key billing, alerts "
                    "and CPA metadata. Safe to run again (nothing is copied twice) and into a PostgreSQL database "
                    "that other instances already write to.")
    migrate_command.add_argument("--from", dest="source", required=True, metavar="sqlite:PATH|postgres:URL")
    migrate_command.add_argument("--to", dest="target", required=True, metavar="sqlite:PATH|postgres:URL")
    migrate_command.add_argument("--instance", help="the name of the CPA whose events an older database "
                                 "holds (default: INSTANCE_NAME, else this machine's name)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
