"""One settings table: defaults < ``tracelake.toml`` < ``TRACELAKE_*`` environment < flags.

Every setting is declared once in ``SETTINGS`` with its default and help text; the
CLI reference and docs/configuration.md are checked against this table by a test, and
nothing below ``server``/``cli`` reads the environment.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tracelake.errors import ConfigError
from tracelake.security.networks import parse_networks
from tracelake.security.tokens import Token, parse_tokens


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name (also the toml key), default and one-line help."""

    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "data", "Directory holding the WAL, the lake (unless lake_dir) and state"),
    Setting(
        "lake_dir",
        "",
        "Directory of the lake's Delta tables; several writers may share one (default: DATA/lake)",
    ),
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
        "udp_receive_buffer_bytes",
        8 * 1024 * 1024,
        "Kernel receive buffer of each UDP listener: the burst it absorbs (0: kernel default)",
    ),
    Setting(
        "idle_timeout_s", 600.0, "Seconds a stream connection may stay silent before it is closed"
    ),
    Setting("http_max_connections", 1024, "Open connections of the HTTP port; more are closed"),
    Setting(
        "http_header_timeout_s",
        10.0,
        "Seconds a new HTTP connection has to send its request headers before it is closed",
    ),
    Setting(
        "http_body_timeout_s",
        60.0,
        "Seconds a request has to send its whole body after its headers; then 408 and closed",
    ),
    Setting(
        "http_max_header_bytes", 64 * 1024, "Bytes of one request's headers; more: 431 and closed"
    ),
    Setting("http_max_headers", 100, "Header fields of one request; more: 431 and closed"),
    Setting("forward_shared_key", "", "Fluentd forward shared key; empty: no handshake"),
    Setting(
        "tokens",
        [],
        "API tokens [{name, scopes, sha256}]; none: loopback only and no checks (security.md)",
    ),
    Setting(
        "stream_allow_from",
        ["127.0.0.0/8", "::1/128"],
        "Networks the JSON lines, syslog and forward (without shared key) ports accept",
    ),
    Setting("tls_cert_file", "", "PEM certificate chain: TLS on HTTP and TCP listeners"),
    Setting("tls_key_file", "", "PEM private key of tls_cert_file"),
    Setting("max_body_bytes", 64 * 1024 * 1024, "Largest accepted HTTP body, after decompression"),
    Setting("max_line_bytes", 1024 * 1024, "Largest accepted log line or record"),
    Setting("max_event_bytes", 64 * 1024, "Largest accepted event payload, as JSON"),
    Setting(
        "ingest_max_pending_bytes",
        128 * 1024 * 1024,
        "Bytes of ingest waiting for the WAL before new requests get 503",
    ),
    Setting(
        "disk_free_floor_bytes",
        100 * 1024 * 1024,
        "Free disk bytes below which ingest answers 503 and listeners pause (0: no floor)",
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
    Setting(
        "dedup_window_hours",
        24,
        "Hours a record id (_bulk _id, Loki entry, forward chunk, event key) is remembered",
    ),
    Setting(
        "dedup_max_ids",
        1_000_000,
        "Record ids remembered per table at most; the oldest are forgotten first",
    ),
    Setting("compaction_interval_s", 60.0, "How often small segments of a partition are merged"),
    Setting("compaction_min_segments", 4, "Segments in a partition that make it worth compacting"),
    Setting(
        "lake_vacuum_hours",
        24,
        "Hours files compaction or retention removed stay on disk (running queries, time travel)",
    ),
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
    Setting(
        "query_max_answer_bytes",
        64 * 1024 * 1024,
        "Bytes of JSON one query may answer (SQL, search, traces); more is a 413",
    ),
    Setting("query_threads", 2, "DuckDB threads per query"),
    Setting("query_memory_limit", "2GB", "DuckDB memory limit per query connection"),
    Setting("query_concurrency", 4, "Queries running at once; more wait their turn"),
    Setting(
        "promql_lookback_delta_s",
        300.0,
        "How far back a PromQL instant selector looks for a series' latest sample",
    ),
    Setting(
        "promql_max_samples", 50_000_000, "Samples one PromQL query may load; more is an error"
    ),
    Setting("pipeline", {}, "Processors of every log record: parse, enrich, drop, sample, redact"),
    Setting(
        "level_numbering",
        {},
        "How an input's numeric levels read, by input name: python or node (else auto-detected)",
    ),
    Setting(
        "turbine_clusters",
        {},
        "Clusters of /turbine.stream: name to host:port or stream URLs, e.g. {orders = [...]}",
    ),
    Setting(
        "registry_ttl_s",
        30.0,
        "Seconds without a heartbeat before a registered instance is marked down",
    ),
    Setting(
        "registry_evict_after_s",
        300.0,
        "Seconds without a heartbeat before a registered instance is removed (>= the TTL)",
    ),
    Setting(
        "scrape_targets",
        {},
        "Static metrics targets: service to host:port or URLs, e.g. {orders = [...]}",
    ),
    Setting(
        "scrape_interval_s",
        15.0,
        "How often every metrics target is scraped; 0 turns the scraper off",
    ),
    Setting(
        "scrape_timeout_s", 10.0, "Time limit of one scrape; a target slower than that is down"
    ),
    Setting("max_series_labels", 64, "Labels of one metric series, __name__ included"),
    Setting("max_label_length", 2048, "Characters of one metric label name or value"),
    Setting(
        "continuous_queries",
        [],
        "Continuous queries: [[continuous_queries]] tables of name, source, filter, window ...",
    ),
    Setting(
        "stream_lateness_s",
        5.0,
        "Seconds a window stays open for late records before it is computed and committed",
    ),
    Setting("stream_max_groups", 10_000, "Groups one window of a continuous query may produce"),
    Setting(
        "alert_rule_files",
        [],
        "Alert rule files (Prometheus format, globs allowed), relative to the working directory",
    ),
    Setting("alert_eval_interval_s", 15.0, "How often alert rule groups without interval run"),
    Setting("alert_webhooks", [], "URLs sent an Alertmanager webhook message per alert change"),
    Setting("alertmanager_urls", [], "Alertmanager base URLs; alerts go to /api/v2/alerts"),
    Setting("alert_resend_delay_s", 60.0, "How often firing alerts are re-sent to Alertmanagers"),
    Setting("alert_notify_attempts", 5, "Tries of one alert notification before it is given up"),
    Setting("alert_notify_backoff_s", 1.0, "Wait before a notification's first retry; doubles"),
    Setting("alert_notify_max_backoff_s", 30.0, "Longest wait between two notification retries"),
    Setting("alert_notify_timeout_s", 10.0, "Time limit of one notification request"),
)

_DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved, validated settings of one server."""

    data_dir: str
    lake_dir: str
    host: str
    http_port: int
    tcp_port: int
    syslog_port: int
    forward_port: int
    max_connections: int
    udp_receive_buffer_bytes: int
    idle_timeout_s: float
    http_max_connections: int
    http_header_timeout_s: float
    http_body_timeout_s: float
    http_max_header_bytes: int
    http_max_headers: int
    forward_shared_key: str
    tokens: tuple[Token, ...]
    stream_allow_from: list[str]
    tls_cert_file: str
    tls_key_file: str
    max_body_bytes: int
    max_line_bytes: int
    max_event_bytes: int
    ingest_max_pending_bytes: int
    disk_free_floor_bytes: int
    ingest_workers: int
    wal_fsync: bool
    flush_interval_s: float
    memtable_max_rows: int
    dedup_window_hours: int
    dedup_max_ids: int
    compaction_interval_s: float
    compaction_min_segments: int
    lake_vacuum_hours: int
    retention_days: int
    retention_days_by_table: dict[str, int]
    query_timeout_s: float
    query_max_rows: int
    query_max_answer_bytes: int
    query_threads: int
    query_memory_limit: str
    query_concurrency: int
    promql_lookback_delta_s: float
    promql_max_samples: int
    pipeline: dict[str, Any]
    level_numbering: dict[str, str]
    turbine_clusters: dict[str, list[str]]
    registry_ttl_s: float
    registry_evict_after_s: float
    scrape_targets: dict[str, list[str]]
    scrape_interval_s: float
    scrape_timeout_s: float
    max_series_labels: int
    max_label_length: int
    continuous_queries: list[dict[str, Any]]
    stream_lateness_s: float
    stream_max_groups: int
    alert_rule_files: list[str]
    alert_eval_interval_s: float
    alert_webhooks: list[str]
    alertmanager_urls: list[str]
    alert_resend_delay_s: float
    alert_notify_attempts: int
    alert_notify_backoff_s: float
    alert_notify_max_backoff_s: float
    alert_notify_timeout_s: float

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def lake_path(self) -> Path:
        return Path(self.lake_dir) if self.lake_dir else self.data_path / "lake"

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


#: ``TRACELAKE_*`` variables that are not settings: what the CLI's client commands and the
#: SDK read (the server's address, a token). They are never reported as unknown.
CLIENT_VARIABLES = frozenset({"TRACELAKE_URL", "TRACELAKE_TOKEN", "TRACELAKE_ENDPOINT"})


def unknown_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """One line per ``TRACELAKE_*`` variable that names no setting, with the closest name.

    ``Settings.load`` cannot refuse them (the environment is shared with the CLI and the
    SDK), but a misspelt variable must not be ignored without a word: ``serve`` says so.
    """
    lines = []
    for key in sorted(os.environ if env is None else env):
        name = key[len("TRACELAKE_") :].lower()
        if not key.startswith("TRACELAKE_") or key in CLIENT_VARIABLES or name in _DEFAULTS:
            continue
        close = difflib.get_close_matches(name, list(_DEFAULTS), n=1, cutoff=0.6)
        hint = (
            f"did you mean TRACELAKE_{close[0].upper()}?"
            if close
            else "docs/configuration.md lists the names"
        )
        lines.append(f"{key} is not a setting: {hint}")
    return lines


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
    if isinstance(default, list) and raw.lstrip().startswith("["):
        try:
            return tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"TRACELAKE_{name.upper()} is not a TOML array: {e}") from e
    return raw  # lists: comma-separated, split by their own parser


def _coerce(name: str, value: Any) -> Any:
    default = _DEFAULTS[name]
    kind = type(default)
    if name == "tokens":
        return parse_tokens(value)
    if name == "stream_allow_from":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ConfigError('stream_allow_from must be a list like ["10.0.0.0/8"]')
        return parse_networks(items)
    try:
        if name in ("alert_rule_files", "alert_webhooks", "alertmanager_urls"):
            return _string_list(value.split(",") if isinstance(value, str) else value)
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise TypeError
            if name == "retention_days_by_table":
                return {str(k): int(v) for k, v in value.items()}
            if name == "level_numbering":  # its values: checked by pipeline/normalise.py
                return {str(k): str(v) for k, v in value.items()}
            if name in ("turbine_clusters", "scrape_targets"):
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
