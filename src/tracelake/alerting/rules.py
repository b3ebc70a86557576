"""Alert and recording rules: Prometheus rule files, plus log and breaker rules in the
same files.

A rule file is Prometheus's (``groups:`` → ``name``, ``interval``, ``rules:`` → ``alert``,
``expr``, ``for``, ``keep_firing_for``, ``labels``, ``annotations``, or ``record``,
``expr``, ``labels``), so files move between Prometheus and tracelake unchanged. Two
kinds of alerting rule are tracelake's own and take the place of ``expr``:

* a **log rule** counts the log records a search query matches over a sliding window
  (``log_query``, ``window``, ``threshold``, optional ``group_by``), active while the
  count is at least the threshold;
* a **breaker rule** watches the circuit opens and closes the Turbine hub records
  (``breaker``, optional ``service``, ``open_for``, optional ``lookback``), active
  while a circuit has been open for at least ``open_for``.

Files are checked whole when the server starts; the first problem stops it with a
``ConfigError`` naming the file, the group and the rule. docs/alerting.md has the
format.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from tracelake.durations import format_duration, parse_duration
from tracelake.errors import ConfigError, QueryError
from tracelake.query import compile_query
from tracelake.query.lexer import FIELD_RE
from tracelake.query.promql import parse as parse_promql

#: Largest rule file read; a rule file is hand-written text, not data.
MAX_FILE_BYTES = 1024 * 1024
#: How far back a breaker rule looks for flips when it first runs.
DEFAULT_LOOKBACK_S = 86400.0
#: Column a log rule's count comes back in.
COUNT_COLUMN = "tl_count"

_COMMON = {"alert", "for", "keep_firing_for", "labels", "annotations"}
_KIND_KEYS = {
    "promql": {"expr"},
    "log": {"log_query", "window", "threshold", "group_by"},
    "breaker": {"breaker", "service", "open_for", "lookback"},
}
_RECORD_KEYS = {"record", "expr", "labels"}
#: A metric name, as Prometheus checks a recording rule's ``record``.
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True, slots=True)
class PromQLQuery:
    """An instant PromQL query; every series it returns is an active alert."""

    expr: str


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Matches of ``query`` in the last ``window_s``, per ``group_by`` values."""

    query: str
    window_s: float
    threshold: float
    group_by: tuple[str, ...] = ()

    def text(self) -> str:
        """The search-language query that counts the matches."""
        by = f" by {', '.join(self.group_by)}" if self.group_by else ""
        return f"{self.query} | stats count() as {COUNT_COLUMN}{by}"


@dataclass(frozen=True, slots=True)
class BreakerQuery:
    """Circuits named ``breaker`` (``*``: any) open for at least ``open_for_s``."""

    breaker: str
    service: str | None
    open_for_s: float
    lookback_s: float = DEFAULT_LOOKBACK_S


Query = PromQLQuery | LogQuery | BreakerQuery


@dataclass(frozen=True, slots=True)
class Rule:
    """One alerting rule; ``labels`` and ``annotations`` are templates."""

    name: str
    query: Query
    for_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    #: How long a firing alert keeps firing once its condition is gone (Prometheus's).
    keep_firing_for_s: float = 0.0

    @property
    def kind(self) -> Literal["promql", "log", "breaker"]:
        if isinstance(self.query, PromQLQuery):
            return "promql"
        return "log" if isinstance(self.query, LogQuery) else "breaker"

    def describe(self) -> str:
        """The rule's query in one line, for the rules API (Prometheus's ``query``)."""
        q = self.query
        if isinstance(q, PromQLQuery):
            return q.expr
        if isinstance(q, LogQuery):
            return f"count({q.query}) over {format_duration(q.window_s)} >= {q.threshold:g}" + (
                f" by {', '.join(q.group_by)}" if q.group_by else ""
            )
        where = f" of {q.service}" if q.service else ""
        return f"circuit {q.breaker}{where} open for {format_duration(q.open_for_s)}"


@dataclass(frozen=True, slots=True)
class RecordingRule:
    """A recording rule: ``expr``'s series written to ``metrics`` as ``name`` with ``labels``.

    Unlike an alerting rule's, the labels are not templates (as in Prometheus).
    """

    name: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Literal["promql"]:
        return "promql"

    def describe(self) -> str:
        return self.expr


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """Rules evaluated together, one after another, every ``interval_s``."""

    name: str
    file: str
    interval_s: float
    rules: tuple[Rule | RecordingRule, ...]

    @property
    def records(self) -> tuple[RecordingRule, ...]:
        return tuple(r for r in self.rules if isinstance(r, RecordingRule))


def load_rule_files(patterns: list[str], default_interval_s: float) -> list[RuleGroup]:
    """Every group of every file the paths or globs name (relative: to the working directory).

    A plain path that does not exist is an error; a glob may match nothing.
    """
    groups: list[RuleGroup] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            paths = sorted(Path(p) for p in glob.glob(pattern))
        else:
            path = Path(pattern)
            if not path.is_file():
                raise ConfigError(
                    f"alert rule file {pattern} not found: fix alert_rule_files (relative to the working directory)"
                )
            paths = [path]
        for path in paths:
            groups.extend(load_rule_file(path, default_interval_s))
    return groups


def load_rule_file(path: Path, default_interval_s: float) -> list[RuleGroup]:
    """The groups of one file; ConfigError naming file, group and rule on any mistake."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{path}: {size} bytes is over the {MAX_FILE_BYTES} byte limit of a rule file: split it"
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the rule file ({e})") from e
    return parse_rule_text(text, str(path), default_interval_s)


def parse_rule_text(text: str, file: str, default_interval_s: float) -> list[RuleGroup]:
    """Parse and check rule-file text; ``file`` names it in errors and in the rules API."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{file}: not valid YAML{where}: {problem}") from e
    if doc is None:
        return []
    if not isinstance(doc, dict) or set(doc) - {"groups"}:
        raise ConfigError(f"{file}: a rule file is a mapping with one key, groups")
    raw_groups = doc.get("groups") or []
    if not isinstance(raw_groups, list):
        raise ConfigError(f"{file}: groups must be a list")
    seen: set[str] = set()
    groups = []
    for i, raw in enumerate(raw_groups):
        group = _group(raw, file, i, default_interval_s)
        if group.name in seen:
            raise ConfigError(f"{file}: group {group.name!r} appears twice: rename one")
        seen.add(group.name)
        groups.append(group)
    return groups


def _group(raw: Any, file: str, index: int, default_interval_s: float) -> RuleGroup:
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: group {index + 1} must be a mapping with name and rules")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{file}: group {index + 1} needs a name")
    where = f"{file}: group {name!r}"
    unknown = sorted(set(raw) - {"name", "interval", "rules", "labels"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: name, interval, labels, rules)"
        )
    interval_s = default_interval_s
    if raw.get("interval") is not None:
        interval_s = _duration(raw["interval"], f"{where}: interval")
        if interval_s <= 0:
            raise ConfigError(f"{where}: interval must be more than 0")
    group_labels = _string_map(raw.get("labels"), f"{where}: labels", label_names=True)
    rules_raw = raw.get("rules") or []
    if not isinstance(rules_raw, list):
        raise ConfigError(f"{where}: rules must be a list")
    rules = tuple(
        _rule(r, f"{where} rule {_rule_name(r, i)}", group_labels) for i, r in enumerate(rules_raw)
    )
    return RuleGroup(name, file, interval_s, rules)


def _rule_name(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("alert"), str):
        return repr(raw["alert"])
    if isinstance(raw, dict) and isinstance(raw.get("record"), str):
        return repr(raw["record"])
    return f"#{index + 1}"


def _rule(raw: Any, where: str, group_labels: dict[str, str]) -> Rule | RecordingRule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a rule must be a mapping with alert and expr")
    if "record" in raw:
        return _recording_rule(raw, where, group_labels)
    name = raw.get("alert")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: needs an alert name (alert: NAME)")
    kinds = [kind for kind, keys in _KIND_KEYS.items() if keys & set(raw)]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where}: give exactly one of expr (PromQL), log_query (log rule) or breaker (breaker rule)"
        )
    kind = kinds[0]
    unknown = sorted(set(raw) - _COMMON - _KIND_KEYS[kind])
    if unknown:
        known = ", ".join(sorted(_COMMON | _KIND_KEYS[kind]))
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} for a {kind} rule (known: {known})")
    for_s = _duration(raw["for"], f"{where}: for") if raw.get("for") is not None else 0.0
    keep_s = 0.0
    if raw.get("keep_firing_for") is not None:
        keep_s = _duration(raw["keep_firing_for"], f"{where}: keep_firing_for")
    labels = {
        **group_labels,
        **_string_map(raw.get("labels"), f"{where}: labels", label_names=True),
    }
    annotations = _string_map(raw.get("annotations"), f"{where}: annotations", label_names=False)
    query: Query
    if kind == "promql":
        query = PromQLQuery(_text(raw.get("expr"), f"{where}: expr"))
    elif kind == "log":
        query = _log_query(raw, where)
    else:
        query = _breaker_query(raw, where)
    return Rule(name, query, for_s, labels, annotations, keep_s)


def _recording_rule(raw: dict[str, Any], where: str, group_labels: dict[str, str]) -> RecordingRule:
    if "alert" in raw:
        raise ConfigError(f"{where}: a rule has either alert or record, not both")
    unknown = sorted(set(raw) - _RECORD_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} for a recording rule (known: expr, labels, record)"
        )
    name = raw["record"]
    if not isinstance(name, str) or not _METRIC_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: record must be a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got {name!r}"
        )
    expr = _text(raw.get("expr"), f"{where}: expr")
    try:
        parse_promql(expr)
    except QueryError as e:
        raise ConfigError(f"{where}: expr {expr!r}: {e.message}") from e
    labels = {
        **group_labels,
        **_string_map(raw.get("labels"), f"{where}: labels", label_names=True),
    }
    return RecordingRule(name, expr, labels)


def _log_query(raw: dict[str, Any], where: str) -> LogQuery:
    text = raw.get("log_query")
    if not isinstance(text, str):
        raise ConfigError(
            f"{where}: log_query must be a search query string ('*' for every record)"
        )
    if "window" not in raw or "threshold" not in raw:
        raise ConfigError(f"{where}: a log rule needs window (e.g. 5m) and threshold (a count)")
    window_s = _duration(raw["window"], f"{where}: window")
    if window_s <= 0:
        raise ConfigError(f"{where}: window must be more than 0")
    threshold = raw["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
        raise ConfigError(f"{where}: threshold must be a number above 0, got {threshold!r}")
    group_by = raw.get("group_by") or []
    if isinstance(group_by, str):
        group_by = [group_by]
    if not isinstance(group_by, list) or not all(
        isinstance(f, str) and FIELD_RE.fullmatch(f) for f in group_by
    ):
        raise ConfigError(f"{where}: group_by must be a list of field names, got {group_by!r}")
    query = LogQuery(text.strip() or "*", window_s, float(threshold), tuple(group_by))
    try:
        compile_query(query.query, limit=1)  # first alone: error columns are the user's
    except QueryError as e:
        raise ConfigError(f"{where}: log_query {text!r}: {e.message}") from e
    try:
        compile_query(query.text(), start=datetime.now(UTC), limit=1)
    except QueryError as e:
        raise ConfigError(
            f"{where}: log_query {text!r} must be a search without pipes (the rule counts its matches)"
        ) from e
    return query


def _breaker_query(raw: dict[str, Any], where: str) -> BreakerQuery:
    breaker = _text(raw.get("breaker"), f"{where}: breaker")
    service = raw.get("service")
    if service is not None and (not isinstance(service, str) or not service):
        raise ConfigError(f"{where}: service must be a service name")
    if "open_for" not in raw:
        raise ConfigError(f"{where}: a breaker rule needs open_for (e.g. 30s)")
    open_for_s = _duration(raw["open_for"], f"{where}: open_for")
    lookback_s = DEFAULT_LOOKBACK_S
    if raw.get("lookback") is not None:
        lookback_s = _duration(raw["lookback"], f"{where}: lookback")
        if lookback_s <= 0:
            raise ConfigError(f"{where}: lookback must be more than 0")
    return BreakerQuery(breaker, service, open_for_s, lookback_s)


def _duration(value: Any, where: str) -> float:
    if value == 0 and not isinstance(value, bool):
        return 0.0
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a duration like 30s or 5m, got {value!r}")
    try:
        return parse_duration(value)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from e


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a non-empty string")
    return value.strip()


def _string_map(value: Any, where: str, *, label_names: bool) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of names to strings")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or (label_names and not _is_label_name(key)):
            raise ConfigError(
                f"{where}: {key!r} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"
            )
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ConfigError(f"{where}: value of {key} must be a string, got {item!r}")
        out[key] = str(item)
    return out


def _is_label_name(name: str) -> bool:
    return (
        bool(name)
        and not name[0].isdigit()
        and all(c.isascii() and (c.isalnum() or c == "_") for c in name)
        and not name.startswith("__")
    )
