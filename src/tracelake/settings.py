"""One settings table: defaults < ``tracelake.toml`` < ``TRACELAKE_*`` environment < flags.

Every setting is declared once in ``SETTINGS`` with its default and help text; the
CLI reference and docs/configuration.md are checked against this table by a test, and
nothing below ``server``/``cli`` reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tracelake.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name (also the toml key), default and one-line help."""

    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "data", "Directory holding the WAL, the lake's Parquet segments and state"),
    Setting(
        "host", "127.0.0.1", "Address every listener binds; loopback unless you mean otherwise"
    ),
    Setting(
        "http_port",
        7700,
        "Port of the HTTP API, the ingest endpoints and the UI (0: any free port)",
    ),
    Setting(
        "tcp_port",
        4560,
        "JSON lines over TCP and UDP (Logstash json_lines); 0: any free port, -1: off",
    ),
    Setting(
        "syslog_port",
        5514,
        "Syslog over UDP and TCP (RFC 5424/3164/6587); 0: any free port, -1: off",
    ),
    Setting(
        "forward_port",
        24224,
        "Fluentd forward protocol (TCP, UDP heartbeat); 0: any free port, -1: off",
    ),
    Setting("max_connections", 1024, "Open connections per stream listener"),
    Setting(
        "idle_timeout_s", 600.0, "Seconds a stream connection may stay silent before it is closed"
    ),
    Setting("forward_shared_key", "", "Fluentd forward shared key; empty: no handshake"),
    Setting("max_body_bytes", 64 * 1024 * 1024, "Largest accepted HTTP body, after decompression"),
    Setting("max_line_bytes", 1024 * 1024, "Largest accepted log line or record"),
    Setting(
        "ingest_max_pending_bytes",
        128 * 1024 * 1024,
        "Bytes of ingest waiting for the WAL before new requests get 503",
    ),
    Setting(
        "ingest_workers", 2, "Processes decoding HTTP log bodies beside the server (0: in-process)"
    ),
    Setting(
        "wal_fsync",
        True,
        "fsync each WAL group commit before acknowledging (turn off only for tests)",
    ),
    Setting(
        "flush_interval_s",
        10.0,
        "Longest time a record stays in the memtable before its segment is written",
    ),
    Setting("memtable_max_rows", 200_000, "Rows in the memtable that trigger a segment flush"),
    Setting("compaction_interval_s", 60.0, "How often small segments of a partition are merged"),
    Setting("compaction_min_segments", 4, "Segments in a partition that make it worth compacting"),
    Setting(
        "retention_days",
        30,
        "Days of data kept per table; whole hourly partitions older are dropped",
    ),
    Setting(
        "retention_days_by_table", {}, "Per-table overrides of retention_days, e.g. {logs = 7}"
    ),
    Setting("query_timeout_s", 30.0, "Time limit of one query"),
    Setting(
        "query_max_rows", 10_000, "Row cap of one query; responses say truncated when it is hit"
    ),
    Setting("query_threads", 2, "DuckDB threads per query"),
    Setting("query_memory_limit", "2GB", "DuckDB memory limit per query connection"),
    Setting("query_concurrency", 4, "Queries running at once; more wait their turn"),
    Setting("pipeline", {}, "Processors of every log record: parse, enrich, drop, sample, redact"),
    Setting(
        "turbine_clusters",
        {},
        "Clusters of /turbine.stream: name to host:port or stream URLs, e.g. {orders = [...]}",
    ),
)

_DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved, validated settings of one server."""

    data_dir: str
    host: str
    http_port: int
    tcp_port: int
    syslog_port: int
    forward_port: int
    max_connections: int
    idle_timeout_s: float
    forward_shared_key: str
    max_body_bytes: int
    max_line_bytes: int
    ingest_max_pending_bytes: int
    ingest_workers: int
    wal_fsync: bool
    flush_interval_s: float
    memtable_max_rows: int
    compaction_interval_s: float
    compaction_min_segments: int
    retention_days: int
    retention_days_by_table: dict[str, int]
    query_timeout_s: float
    query_max_rows: int
    query_threads: int
    query_memory_limit: str
    query_concurrency: int
    pipeline: dict[str, Any]
    turbine_clusters: dict[str, list[str]]

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    def retention_for(self, table: str) -> int:
        return int(self.retention_days_by_table.get(table, self.retention_days))

    @classmethod
    def load(
        cls,
        config_file: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Resolve defaults < toml file < ``TRACELAKE_*`` env < explicit overrides."""
        values = dict(_DEFAULTS)
        if config_file is not None:
            values.update(_read_toml(Path(config_file)))
        for key, raw in (os.environ if env is None else env).items():
            if key.startswith("TRACELAKE_"):
                name = key[len("TRACELAKE_") :].lower()
                if name in _DEFAULTS:
                    values[name] = _from_env(name, raw)
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls(**{f.name: _coerce(f.name, values[f.name]) for f in fields(cls)})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"config file {path} not found: pass an existing file to --config") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
    section = data.get("tracelake", data)
    unknown = sorted(set(section) - set(_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in {path}: see docs/configuration.md for the names"
        )
    return dict(section)


def _from_env(name: str, raw: str) -> Any:
    default = _DEFAULTS[name]
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, dict):
        try:
            return tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(
                f"TRACELAKE_{name.upper()} must be an inline table like {{logs = 7}}"
            ) from e
    return raw


def _coerce(name: str, value: Any) -> Any:
    default = _DEFAULTS[name]
    kind = type(default)
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise TypeError
            if name == "retention_days_by_table":
                return {str(k): int(v) for k, v in value.items()}
            if name == "turbine_clusters":
                return {str(k): _string_list(v) for k, v in value.items()}
            return value  # e.g. pipeline: validated by its own module
        return kind(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"setting {name} must be a {kind.__name__}, got {value!r}: fix it in the config or environment"
        ) from e


def _string_list(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise TypeError
    return [str(v) for v in value]
