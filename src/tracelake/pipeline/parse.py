"""Parsers: structure pulled out of text fields of a log object, in place.

* ``json_message`` — a message that is a JSON object is merged into the record (its
  keys win; the JSON text itself is not kept, every part of it is now a field).
* parse rules — a built-in ``format`` (``FORMATS``) or grok ``patterns`` over a field
  (the message by default); captured fields are merged into the record. A captured
  ``message`` (or ``msg``) replaces the message, which is how a syslog line or a logfmt
  ``msg=`` becomes the message proper. A rule that finds nothing tags the record
  ``_grokparsefailure``, as Logstash does.
* timestamp rules — a field read with strptime formats becomes ``@timestamp``.

Levels need no parser here: whatever a parser captures as ``level`` is normalised by
``pipeline.normalise`` like any other level.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from tracelake.model import LogObject
from tracelake.pipeline.grok import compile_grok
from tracelake.pipeline.normalise import MESSAGE_KEYS

GROK_FAILURE_TAG = "_grokparsefailure"
TIMESTAMP_FAILURE_TAG = "_timestampparsefailure"

Fields = dict[str, Any]
TextParser = Callable[[str], Fields | None]
Predicate = Callable[[LogObject], bool]


# --- JSON in the message -----------------------------------------------------------


def message_key(obj: LogObject) -> str | None:
    """The key ``normalise`` will take the message from."""
    for key in MESSAGE_KEYS:
        if key in obj:
            return key
    return None


def merge_json_message(obj: LogObject) -> None:
    """Merge a message holding a JSON object into ``obj`` (cheap when it does not)."""
    key = "message" if "message" in obj else "msg" if "msg" in obj else None
    if key is None:
        return
    text = obj[key]
    if type(text) is not str:
        return
    first = text[:1]
    if first != "{" and not (first.isspace() and text.lstrip()[:1] == "{"):
        return
    try:
        inner = orjson.loads(text)
    except orjson.JSONDecodeError:
        return
    if type(inner) is dict:
        del obj[key]
        obj.update(inner)


# --- text parsers ------------------------------------------------------------------

_TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]*)(?::[ \t]?(.*))?")


def parse_traceback(text: str) -> Fields | None:
    """A Python traceback → ``error.type``, ``error.message``, ``stack_trace``.

    The message becomes the text before the traceback, or the final exception line
    when there is none; with chained exceptions the last one raised is the error.
    """
    start = text.find(_TRACEBACK)
    if start < 0:
        return None
    stack = text[start:].rstrip()
    last = next(
        (line for line in reversed(stack.splitlines()) if line and not line[0].isspace()), ""
    )
    m = _EXCEPTION_LINE.fullmatch(last.rstrip())
    if m is None or last == _TRACEBACK:
        return None
    head = text[:start].rstrip()
    return {
        "message": head or last.rstrip(),
        "error.type": m.group(1),
        "error.message": m.group(2) or "",
        "stack_trace": stack,
    }


_KV = re.compile(r'(?:^|(?<=\s))([\w.@/\-\[\]]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_key_values(text: str) -> Fields | None:
    """``key=value key2="quoted value"`` (logfmt) → fields; None when there is no pair."""
    out: Fields = {}
    for key, raw in _KV.findall(text):
        if raw.startswith('"') and len(raw) > 1:
            try:
                raw = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raw = raw[1:-1]
        out[key] = raw
    return out or None


def _grok(pattern: str) -> TextParser:
    return compile_grok(pattern).match


@dataclass(frozen=True, slots=True)
class Format:
    """A built-in parser: how to read the text, and which captured field is the time."""

    parse: TextParser
    guard: str | None = None  # a substring without which the format does not apply
    time_field: str | None = None
    time_formats: tuple[str, ...] = ()


_HTTPDATE = ("%d/%b/%Y:%H:%M:%S %z",)
FORMATS: dict[str, Format] = {
    "nginx": Format(_grok("^%{COMBINEDAPACHELOG}"), None, "time_local", _HTTPDATE),
    "apache_combined": Format(_grok("^%{COMBINEDAPACHELOG}"), None, "time_local", _HTTPDATE),
    "apache_common": Format(_grok("^%{COMMONAPACHELOG}"), None, "time_local", _HTTPDATE),
    "syslog": Format(_grok("^%{SYSLOGLINE}"), None, "syslog_timestamp", ("%b %d %H:%M:%S",)),
    "python_traceback": Format(parse_traceback, _TRACEBACK),
    "logfmt": Format(parse_key_values),
    "key_value": Format(parse_key_values),
}


# --- timestamps --------------------------------------------------------------------


class TimestampParser:
    """Time text in strptime ``formats`` → ISO 8601 UTC text for ``@timestamp``.

    A format without a year (syslog's ``Oct 11 22:14:15``) gets the current year, or
    the previous one when that would put the time more than a day ahead. Times without
    an offset are in ``timezone``. Results are cached: log lines share their seconds.
    """

    _CACHE_MAX = 4096

    def __init__(self, formats: tuple[str, ...], timezone: str = "UTC") -> None:
        self.formats = formats
        self.tz: tzinfo = UTC if timezone == "UTC" else ZoneInfo(timezone)
        self._cache: dict[str, str | None] = {}

    def __call__(self, text: str) -> str | None:
        cached = self._cache.get(text, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        iso = self._parse(text)
        if len(self._cache) >= self._CACHE_MAX:
            self._cache.clear()
        self._cache[text] = iso
        return iso

    def _parse(self, text: str) -> str | None:
        text = " ".join(text.split())  # syslog pads single-digit days with two spaces
        for fmt in self.formats:
            try:
                moment = (
                    datetime.strptime(text, fmt)
                    if "%Y" in fmt or "%y" in fmt
                    else self._without_year(text, fmt)
                )
            except ValueError:
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.tz)
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return None

    def _without_year(self, text: str, fmt: str) -> datetime:
        now = datetime.now(self.tz)
        moment = datetime.strptime(f"{now.year} {text}", f"%Y {fmt}")
        if moment.replace(tzinfo=self.tz) > now + timedelta(days=1):
            moment = moment.replace(year=now.year - 1)
        return moment


# --- steps -------------------------------------------------------------------------


def add_tag(obj: LogObject, tag: str) -> None:
    tags = obj.get("tags")
    if type(tags) is list:
        if tag not in tags:
            tags.append(tag)
    elif tags is None:
        obj["tags"] = [tag]
    else:
        obj["tags"] = [tags, tag]


class ParseStep:
    """One ``[[pipeline.parse]]`` rule, applied to one record in place."""

    def __init__(
        self,
        parsers: list[TextParser],
        *,
        field: str | None = None,
        guard: str | None = None,
        when: Predicate | None = None,
        tag_on_failure: bool = True,
        timestamp: tuple[str, TimestampParser] | None = None,
    ) -> None:
        self.parsers = parsers
        self.field = field
        self.guard = guard
        self.when = when
        self.tag_on_failure = tag_on_failure
        self.timestamp = timestamp

    def __call__(self, obj: LogObject) -> None:
        if self.when is not None and not self.when(obj):
            return
        key = self.field or message_key(obj)
        text = obj.get(key) if key is not None else None
        if type(text) is not str or (self.guard is not None and self.guard not in text):
            return
        for parser in self.parsers:
            fields = parser(text)
            if fields is not None:
                break
        else:
            if self.tag_on_failure:
                add_tag(obj, GROK_FAILURE_TAG)
            return
        merge_fields(obj, fields, source=key)
        if self.timestamp is not None:
            apply_timestamp(obj, *self.timestamp)


def merge_fields(obj: LogObject, fields: Mapping[str, Any], source: str | None) -> None:
    """Captured ``fields`` into ``obj``; a captured message replaces the message key."""
    captured = dict(fields)
    if "message" not in captured and "msg" in captured:
        captured["message"] = captured.pop("msg")
    if "message" in captured and source in MESSAGE_KEYS and source != "message":
        del obj[source]  # "msg" would otherwise linger beside the new "message"
    obj.update(captured)


class TimestampStep:
    """One ``[[pipeline.timestamp]]`` rule."""

    def __init__(self, field: str, parse: TimestampParser, when: Predicate | None = None) -> None:
        self.field = field
        self.parse = parse
        self.when = when

    def __call__(self, obj: LogObject) -> None:
        if self.field in obj and (self.when is None or self.when(obj)):
            apply_timestamp(obj, self.field, self.parse)


def apply_timestamp(obj: LogObject, field: str, parse: TimestampParser) -> None:
    """``obj[field]`` → ``@timestamp`` (the source field removed), or a failure tag."""
    text = obj.get(field)
    if type(text) is not str:
        return
    iso = parse(text)
    if iso is None:
        add_tag(obj, TIMESTAMP_FAILURE_TAG)
        return
    if field != "@timestamp":
        del obj[field]
    obj["@timestamp"] = iso
