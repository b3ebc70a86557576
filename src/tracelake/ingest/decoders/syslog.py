"""Syslog messages (RFC 5424 and RFC 3164/BSD) to log objects.

One frame (a UDP datagram or a TCP frame cut by ``framing``) becomes one log object.
Real senders are sloppier than either RFC, so the parser is lenient the way rsyslog is:
no PRI means ``<13>``; Python's ``SysLogHandler`` sends only ``<PRI>message``; the BSD
timestamp slot may hold an RFC 3339 time or a year; the hostname may be missing. A
frame is never rejected for its content: text we cannot read as syslog is stored as
the message with the tag ``_syslogparsefailure`` (as Logstash does), so nothing
vanishes.

Syslog over TCP must keep up with well over 100k lines/s, so the usual RFC 5424 shape
(one SD-ELEMENT without escapes) is read by one regex match that also captures the first
params, and everything else by ``partition``/``split`` on ``str``. RFC 3164 has no year and no zone: the
year is inferred from the injected clock (a December line read in January belongs to
last year) and the zone is a fixed ``utc_offset`` (default UTC).
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable

from tracelake.model import LogObject

#: Severity 0..7 → the store's levels.
SEVERITY_LEVELS: tuple[str, ...] = (
    "FATAL",  # emerg
    "FATAL",  # alert
    "FATAL",  # crit
    "ERROR",  # err
    "WARN",  # warning
    "INFO",  # notice
    "INFO",  # info
    "DEBUG",  # debug
)
SEVERITY_NAMES: tuple[str, ...] = (
    "emerg",
    "alert",
    "crit",
    "err",
    "warning",
    "notice",
    "info",
    "debug",
)
FACILITY_NAMES: tuple[str, ...] = (
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "audit",
    "alert",
    "clock",
    *(f"local{i}" for i in range(8)),
)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_DEFAULT_PRI = 13  # user.notice, what RFC 3164 says to assume
_PARSE_FAILURE = "_syslogparsefailure"
_NS = 1_000_000_000
_DAY = 86_400
_TRACE_KEYS = {
    "trace_id": "trace_id",
    "traceId": "trace_id",
    "span_id": "span_id",
    "spanId": "span_id",
}


#: An SD-ELEMENT without escapes, and its params (the common case, matched in C).
_SD_ELEMENT = re.compile(r'\[([^ \]"=]+)((?: [^ \]"=]+="[^"\\]*")*)\]')
_SD_PARAM = re.compile(r' ([^ \]"=]+)="([^"\\]*)"')
_SD_NAME = r'([^ \]"=]+)'
_SD_PLAIN = rf' {_SD_NAME}="([^"]*)"'
#: A whole RFC 5424 line after its PRI in the shape nearly every sender uses: the six
#: header fields, then ``-`` or one SD-ELEMENT, then a space and the message (or
#: nothing). The first four params are captured by the match itself (a ``findall`` would
#: scan the element a second time); more are in the last group. PARAM-VALUEs are
#: ``[^"]*`` rather than ``[^"\\]*`` (one negated character matches several times faster);
#: structured data with a backslash, maybe an escape, goes back to the general path.
_RFC5424_LINE = re.compile(
    r"1 ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) "
    rf"(?:-|\[{_SD_NAME}(?:{_SD_PLAIN}(?:{_SD_PLAIN}(?:{_SD_PLAIN}(?:{_SD_PLAIN})?)?)?)?"
    r'((?: [^ \]"=]+="[^"]*")*)\])(?: |\Z)'
)
_SD_PLAIN_PARAM = re.compile(_SD_PLAIN)
#: RFC 3164 HOSTNAME and TAG as rsyslog reads them (``SyslogDecoder._host_and_tag``).
_HOST_PUNCT = str.maketrans("", "", "._-")
#: Words already judged by ``_host_word``: senders repeat their hostname line after line.
_HOST_WORDS: dict[str, bool] = {}
_TRACE_NAMES = frozenset(_TRACE_KEYS)


class _BadSD(ValueError):
    """Structured data that does not follow RFC 5424."""


class SyslogDecoder:
    """Decode syslog frames; holds the injected clock and a small per-day cache."""

    __slots__ = (
        "_bsd_cache",
        "_bsd_cache_until",
        "_day_cache",
        "_now",
        "_utc_offset",
        "_year",
        "_year_end",
        "_year_start",
    )

    def __init__(self, now: Callable[[], float] = time.time, utc_offset: int = 0) -> None:
        """``now`` returns epoch seconds; ``utc_offset`` (seconds) is the zone of BSD stamps."""
        self._now = now
        self._utc_offset = utc_offset
        self._day_cache: dict[tuple[int, int, int], int] = {}
        # "Mmm dd hh:mm:ss" → ns; lines of one second share it. Emptied every minute of
        # the injected clock, so the inferred year follows the clock.
        self._bsd_cache: dict[str, int | str] = {}
        self._bsd_cache_until = 0.0
        self._year = 0
        self._year_start = 0.0
        self._year_end = -1.0

    def decode(self, frame: bytes) -> LogObject:
        """One syslog message → one log object. Never raises for bad content."""
        if frame[-1:] in (b"\n", b"\x00", b"\r"):
            frame = frame.rstrip(b"\r\n\x00")
        text = frame.decode("utf-8", "replace")
        pri = _DEFAULT_PRI
        if text[:1] == "<":
            gt = text.find(">", 1, 5)
            digits = text[1:gt] if gt > 1 else ""
            if not (digits.isdigit() and digits.isascii()) or int(digits) > 191:
                obj: LogObject = {
                    "timestamp": self._now_ns(),
                    "message": text,
                    "tags": [_PARSE_FAILURE],
                }
                return obj
            pri = int(digits)
            text = text[gt + 1 :]
        sev = pri & 7
        if text[:2] == "1 ":
            line = _RFC5424_LINE.match(text)
            if line is not None:
                fast = self._common5424(line, text, pri)
                if fast is not None:
                    return fast
        obj = {
            "timestamp": None,
            "level": SEVERITY_LEVELS[sev],
            "message": "",
            "facility": FACILITY_NAMES[pri >> 3],
            "severity": SEVERITY_NAMES[sev],
        }
        if text[:2] == "1 ":
            try:
                self._rfc5424(text, obj)
            except _BadSD:
                obj["message"] = text
                obj["tags"] = [_PARSE_FAILURE]
        else:
            self._rfc3164(text, obj)
        if obj["timestamp"] is None:
            obj["timestamp"] = self._now_ns()
        return obj

    # -- RFC 5424 ------------------------------------------------------------------------

    def _common5424(self, line: re.Match[str], text: str, pri: int) -> LogObject | None:
        """The shape nearly every sender uses, from one ``_RFC5424_LINE`` match.

        Builds the same object, key for key and in the same order, as ``_rfc5424`` (the
        order is that of ``attributes``); None for a repeated PARAM-NAME (the general path
        turns it into a list) or a backslash in the structured data (maybe an escape).
        """
        ts, host, app, procid, msgid, sd_id, *pairs, more = line.groups()
        msg = text[line.end() :]
        if msg[:1] == "\ufeff":
            msg = msg[1:]
        sev = pri & 7
        obj: LogObject = {
            "timestamp": ts if ts != "-" else self._now_ns(),
            "level": SEVERITY_LEVELS[sev],
            "message": msg,
            "facility": FACILITY_NAMES[pri >> 3],
            "severity": SEVERITY_NAMES[sev],
        }
        _header_fields(obj, host, app, procid, msgid)
        if sd_id is None:
            return obj
        if text.find("\\", line.start(6), line.end()) != -1:
            return None
        if more:
            pairs += [p for pair in _SD_PLAIN_PARAM.findall(more) for p in pair]
        params: dict[str, object] = {}
        for i in range(0, len(pairs), 2):
            name = pairs[i]
            if name is None:
                break
            if name in params:
                return None
            value = params[name] = pairs[i + 1]
            column = _TRACE_KEYS.get(name)
            if column is not None and column not in obj:
                obj[column] = value
        obj[sd_id if sd_id not in obj else f"sd.{sd_id}"] = params
        return obj

    def _rfc5424(self, text: str, obj: LogObject) -> None:
        parts = text.split(" ", 6)
        if len(parts) < 6:
            raise _BadSD("truncated RFC 5424 header")
        _, ts, host, app, procid, msgid = parts[:6]
        rest = parts[6] if len(parts) == 7 else "-"
        if ts != "-":
            obj["timestamp"] = ts
        _header_fields(obj, host, app, procid, msgid)
        if rest[:1] == "[":
            end = _parse_sd(rest, obj)
            msg = rest[end + 1 :] if rest[end : end + 1] == " " else rest[end:]
        elif rest[:1] == "-":
            msg = rest[2:]
        else:
            raise _BadSD("structured data must be '-' or start with '['")
        if msg[:1] == "\ufeff":
            msg = msg[1:]
        obj["message"] = msg

    # -- RFC 3164 ------------------------------------------------------------------------

    def _rfc3164(self, text: str, obj: LogObject) -> None:
        body = text
        stamped = True
        if len(text) >= 15 and text[3] == " " and text[9] == ":" and text[:3] in _MONTHS:
            # "Mmm dd hh:mm:ss" (day space-padded)
            stamp = text[:15]
            ts_value = self._bsd_cache.get(stamp)
            if ts_value is None:
                ts_value = self._cached_bsd_time(stamp)
            obj["timestamp"] = ts_value
            body = text[16:] if text[15:16] == " " else text[15:]
        elif len(text) >= 20 and text[3] == " " and text[11] == " " and text[:3] in _MONTHS:
            # network gear: "Mmm dd yyyy hh:mm:ss"
            year = text[7:11]
            obj["timestamp"] = self._bsd_time(text, 12, int(year) if year.isdigit() else None)
            body = text[21:] if text[20:21] == " " else text[20:]
        elif text[:4].isdigit() and text[4:5] == "-" and text[10:11] == "T":
            # RFC 3339 in the BSD slot (rsyslog RSYSLOG_ForwardFormat)
            ts, _, body = text.partition(" ")
            obj["timestamp"] = ts
        else:
            stamped = False
        if stamped:
            body = self._host_and_tag(body, obj)
        else:
            # Python's SysLogHandler: "<14>message". Only "prog[pid]:" is taken as a tag,
            # so a message such as "ERROR: disk full" is not mistaken for one.
            first, _, rest = body.partition(" ")
            if first.endswith("]:") and "[" in first:
                body = self._tag(first, rest, obj)
        obj["message"] = body

    def _host_and_tag(self, body: str, obj: LogObject) -> str:
        """HOSTNAME and TAG after a BSD timestamp, read as rsyslog's ``pmrfc3164`` does.

        The first word is the host when it is made of letters, digits, ``.``, ``_`` and
        ``-``, ends with a letter or digit and is followed by a space (or ends the
        line); otherwise there is no host (``app: msg``, ``app[12]: msg``). The TAG runs
        to the first colon or space, whichever comes first: a colon belongs to the tag,
        a space to the message. So ``host app message`` is app ``app``, message
        ``message``, as in ``host app: message``.
        """
        first, sp, rest = body.partition(" ")
        is_host = _HOST_WORDS.get(first)
        if is_host is None:
            is_host = _host_word(first)
        if is_host:
            obj["host"] = first
            first, sp, rest = rest.partition(" ")
        colon = first.find(":")
        if colon != -1 and colon < len(first) - 1:  # "app:text": the tag ends at its colon
            rest = first[colon + 1 :] + sp + rest
            first = first[: colon + 1]
        return self._tag(first, rest, obj) if first else rest

    @staticmethod
    def _tag(tag: str, rest: str, obj: LogObject) -> str:
        tag = tag.rstrip(":")
        name, bracket, pid = tag.partition("[")
        if name:
            obj["service"] = name
        if bracket and pid.endswith("]"):
            obj["procid"] = pid[:-1]
        return rest

    def _cached_bsd_time(self, stamp: str) -> int | str:
        now = self._now()
        if now >= self._bsd_cache_until or len(self._bsd_cache) > 4096:
            self._bsd_cache.clear()
            self._bsd_cache_until = now + 60
        value = self._bsd_cache[stamp] = self._bsd_time(stamp, 7, None)
        return value

    def _bsd_time(self, text: str, clock_at: int, year: int | None) -> int | str:
        try:
            month = _MONTHS[text[:3]]
            day = int(text[4:6])
            hh = int(text[clock_at : clock_at + 2])
            mm = int(text[clock_at + 3 : clock_at + 5])
            ss = int(text[clock_at + 6 : clock_at + 8])
        except ValueError:
            return text[: clock_at + 8]
        if not (1 <= day <= 31 and hh < 24 and mm < 60 and ss < 61):
            return text[: clock_at + 8]
        secs = hh * 3600 + mm * 60 + ss - self._utc_offset
        if year is not None:
            return (self._day(year, month, day) + secs) * _NS
        now = self._now()
        this_year = self._year_of(now)
        ts = self._day(this_year, month, day) + secs
        if ts - now > 7 * _DAY:
            ts = self._day(this_year - 1, month, day) + secs
        elif now - ts > 358 * _DAY:
            ts = self._day(this_year + 1, month, day) + secs
        return ts * _NS

    def _day(self, year: int, month: int, day: int) -> int:
        key = (year, month, day)
        start = self._day_cache.get(key)
        if start is None:
            if len(self._day_cache) > 1024:
                self._day_cache.clear()
            start = calendar.timegm((year, month, day, 0, 0, 0, 0, 0, 0))
            self._day_cache[key] = start
        return start

    def _year_of(self, now: float) -> int:
        local = now + self._utc_offset
        if not (self._year_start <= local < self._year_end):
            year = time.gmtime(local).tm_year
            self._year = year
            self._year_start = calendar.timegm((year, 1, 1, 0, 0, 0, 0, 0, 0))
            self._year_end = calendar.timegm((year + 1, 1, 1, 0, 0, 0, 0, 0, 0))
        return self._year

    def _now_ns(self) -> int:
        return int(self._now() * _NS)


def _host_word(word: str) -> bool:
    """rsyslog's test of a HOSTNAME: letters, digits, ``.``, ``_``, ``-``, ending alnum."""
    verdict = word[-1:].isalnum() and word.isascii() and word.translate(_HOST_PUNCT).isalnum()
    if len(_HOST_WORDS) >= 4096:
        _HOST_WORDS.clear()
    _HOST_WORDS[word] = verdict
    return verdict


def _header_fields(obj: LogObject, host: str, app: str, procid: str, msgid: str) -> None:
    """The RFC 5424 header fields that are not NILVALUE ("-"), in ``attributes`` order."""
    if host != "-":
        obj["host"] = host
    if app != "-":
        obj["service"] = app
    if procid != "-":
        obj["procid"] = procid
    if msgid != "-":
        obj["msgid"] = msgid


def _parse_sd(s: str, obj: LogObject) -> int:
    """Parse SD-ELEMENTs at the start of ``s`` into ``obj``; return the index after them.

    Each element becomes a nested object under its SD-ID (``{"exampleSDID@32473":
    {"iut": "3"}}``); a repeated PARAM-NAME becomes a list. ``trace_id``/``span_id``
    params (and their camelCase forms) also fill the log object's trace columns.
    """
    n = len(s)
    i = 0
    while i < n and s[i] == "[":
        fast = _SD_ELEMENT.match(s, i)
        if fast is not None:  # no escapes: one C-level match per element
            sd_id, body = fast.group(1, 2)
            pairs = _SD_PARAM.findall(body)
            fast_params = dict(pairs)
            if len(fast_params) == len(pairs):  # no repeated names
                for name, value in pairs:
                    column = _TRACE_KEYS.get(name)
                    if column is not None and column not in obj:
                        obj[column] = value
                obj[sd_id if sd_id not in obj else f"sd.{sd_id}"] = fast_params
                i = fast.end()
                continue
        j = s.find(" ", i + 1)
        close = s.find("]", i + 1)
        if j == -1 or (close != -1 and close < j):
            j = n if close == -1 else close
        sd_id = s[i + 1 : j]
        if not sd_id:
            raise _BadSD("empty SD-ID")
        params: dict[str, object] = {}
        i = j
        while i < n and s[i] == " ":
            eq = s.find("=", i + 1)
            if eq == -1 or s[eq + 1 : eq + 2] != '"':
                raise _BadSD(f"bad SD-PARAM in [{sd_id}]")
            name = s[i + 1 : eq]
            k = s.find('"', eq + 2)
            if k == -1:
                raise _BadSD(f"unterminated PARAM-VALUE in [{sd_id}]")
            value = s[eq + 2 : k]
            if "\\" in value:  # escapes: rescan this value char by char
                value, k = _escaped_value(s, eq + 2, sd_id)
            old = params.get(name)
            if old is None:
                params[name] = value
            elif isinstance(old, list):
                old.append(value)
            else:
                params[name] = [old, value]
            column = _TRACE_KEYS.get(name)
            if column is not None and column not in obj:
                obj[column] = value
            i = k + 1
        if i >= n or s[i] != "]":
            raise _BadSD(f"unterminated SD-ELEMENT [{sd_id}]")
        i += 1
        key = sd_id if sd_id not in obj else f"sd.{sd_id}"
        obj[key] = params
    return i


def _escaped_value(s: str, start: int, sd_id: str) -> tuple[str, int]:
    """The PARAM-VALUE at ``start``, unescaped, and the index of its closing quote."""
    n = len(s)
    k = start
    chunks: list[str] = []
    while k < n:
        ch = s[k]
        if ch == "\\" and k + 1 < n and s[k + 1] in '"\\]':
            chunks.append(s[start:k])
            start = k + 1
            k += 2
            continue
        if ch == '"':
            chunks.append(s[start:k])
            return "".join(chunks), k
        k += 1
    raise _BadSD(f"unterminated PARAM-VALUE in [{sd_id}]")


def decode_syslog(frame: bytes, now: Callable[[], float] = time.time) -> LogObject:
    """Convenience one-shot form of ``SyslogDecoder(now).decode(frame)``."""
    return SyslogDecoder(now).decode(frame)
