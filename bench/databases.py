"""Where the benchmarks keep their data: a SQLite file, or a schema of its own in a
PostgreSQL database (--driver postgres --postgres-url URL)."""

from __future__ import annotations

import os
import urllib.parse

DEFAULT_POSTGRES_URL = os.environ.get("CPA_USAGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def schema_url(base_url: str, schema: str, fresh: bool) -> str:
    """A URL whose connections work in ``schema`` (created; emptied first when ``fresh``)."""
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    separator = "&" if urllib.parse.urlsplit(base_url).query else "?"
    return f"{base_url}{separator}options=-csearch_path%3D{schema}"


def built(url: str) -> bool:
    """Whether a build into this schema finished (it leaves meta 'bench.built')."""
    import psycopg

    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT COUNT(*) FROM information_schema.tables "
                            "WHERE table_schema = current_schema() AND table_name = 'meta'").fetchone()[0]:
            return False
        return conn.execute("SELECT COUNT(*) FROM meta WHERE key = 'bench.built'").fetchone()[0] > 0


def drop_schema(base_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def size_mb(target: str) -> float:
    """The size of a SQLite file, or of every table and index of a PostgreSQL schema."""
    if not target.startswith("postgresql://"):
        return os.path.getsize(target) / 2**20
    import psycopg

    with psycopg.connect(target) as conn:
        size = conn.execute("SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = current_schema() AND c.relkind = 'r'").fetchone()[0]
    return int(size) / 2**20
