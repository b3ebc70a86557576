"""The few Prometheus template actions that alert labels and annotations use.

Rule files copied from Prometheus write ``{{ $labels.instance }}``, ``{{ $value }}``,
``{{ humanize $value }}`` or ``{{ printf "%.2f" $value }}``; this renders those and
nothing more. It is a substitution, not a template engine: no ranges, no conditionals,
no calls into Python. Any action it does not understand is left in the text as written,
so a mistake shows in the notification instead of breaking it.

Understood inside ``{{ }}`` (with ``{{-``/``-}}`` trimming):

* operands ``$value``/``.Value``, ``$labels.NAME``/``.Labels.NAME``, ``index $labels "NAME"``,
  ``"quoted strings"`` and numbers;
* functions ``humanize``, ``humanize1024``, ``humanizePercentage``, ``humanizeDuration``,
  ``humanizeTimestamp`` (each exactly as Prometheus's ``template.go`` defines it),
  ``toUpper``, ``toLower``, ``title`` and ``printf "FORMAT" ARGS…``, called with
  arguments or at the end of a ``|`` pipe.

A missing label renders as the empty string, as in Prometheus.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from tracelake.alerting.numbers import go_float

Value = float | str

#: ``{{ body }}``; whitespace before is captured (for ``{{-``), after only with ``-}}``.
_ACTION = re.compile(r"(\s*)\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}((?(4)\s*))", re.DOTALL)
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[^\s"]+')
_VERB = re.compile(r"%([-+ 0#]*\d*(?:\.\d+)?)([dfFeEgGsvxq%])")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Unknown(Exception):
    """The action is not one this renderer knows: keep its text."""


def _text(value: Value) -> str:
    return value if isinstance(value, str) else go_float(value)


def _number(value: Value) -> float:
    try:
        return float(value)
    except ValueError as e:
        raise _Unknown from e


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SMALL = ("m", "u", "n", "p", "f", "a", "z", "y")


def _g4(v: float) -> str:
    """Go's ``%.4g``: as Python's, but NaN and infinities spelled as Go spells them."""
    return f"{v:.4g}" if math.isfinite(v) else go_float(v)


def _scaled(v: float, prefixes: tuple[str, ...], base: float, *, large: bool) -> str:
    """The prefix loop every humanize function shares: a ``large`` value is divided by
    ``base`` while it is at least ``base``, a small one multiplied while it is below 1."""
    prefix = ""
    for p in prefixes:
        if abs(v) < base if large else abs(v) >= 1:
            break
        prefix, v = p, v / base if large else v * base
    return _g4(v) + prefix


def humanize(value: Value) -> str:
    """Prometheus's ``humanize``: SI prefixes, four significant digits (1234567 → 1.235M)."""
    v = _number(value)
    if v == 0 or not math.isfinite(v):
        return _g4(v)
    if abs(v) >= 1:
        return _scaled(v, ("k", "M", "G", "T", "P", "E", "Z", "Y"), 1000, large=True)
    return _scaled(v, _SMALL, 1000, large=False)


def humanize1024(value: Value) -> str:
    """Binary prefixes: 1048576 → 1Mi."""
    v = _number(value)
    if abs(v) <= 1 or not math.isfinite(v):
        return _g4(v)
    return _scaled(v, ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"), 1024, large=True)


def humanize_percentage(value: Value) -> str:
    """A ratio as a percentage: 0.1234 → 12.34%."""
    return _g4(_number(value) * 100) + "%"


def humanize_duration(value: Value) -> str:
    """Seconds as Prometheus spells them: 93784 → ``1d 2h 3m 4s``, 0.25 → ``250ms``."""
    v = _number(value)
    if not math.isfinite(v):
        return _g4(v)
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        days, rest = divmod(int(v), 86400)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    return _scaled(v, _SMALL, 1000, large=False) + "s"


def humanize_timestamp(value: Value) -> str:
    """Epoch seconds as Go prints Prometheus's time: ``1435065584.128`` →
    ``2015-06-23 13:19:44.128 +0000 UTC`` (milliseconds, truncated, trailing zeros cut)."""
    v = _number(value)
    if not math.isfinite(v):
        return _g4(v)
    nanos = v * 1e9
    if not -(2.0**63) <= nanos <= 2.0**63:
        raise _Unknown  # Prometheus: overflows int64 nanoseconds
    whole = int(nanos)  # Go's int64(): toward zero, then to milliseconds, toward zero
    ms = abs(whole) // 1_000_000 * (1 if whole >= 0 else -1)
    try:
        moment = _EPOCH + timedelta(milliseconds=ms)
    except OverflowError as e:
        raise _Unknown from e
    fraction = f".{moment.microsecond // 1000:03d}".rstrip("0").rstrip(".")
    return f"{moment:%Y-%m-%d %H:%M:%S}{fraction} +0000 UTC"


def printf(fmt: Value, *args: Value) -> str:
    """Go's ``printf`` for the verbs alert texts use (``%.2f``, ``%d``, ``%s``, ``%v``…)."""
    if not isinstance(fmt, str):
        raise _Unknown
    queue = list(args)

    def verb(match: re.Match[str]) -> str:
        flags, kind = match.groups()
        if kind == "%":
            return "%"
        if not queue:
            raise _Unknown
        arg = queue.pop(0)
        if kind in "sv":
            return f"%{flags}s" % _text(arg)
        if kind == "q":
            return '"' + _text(arg).replace("\\", "\\\\").replace('"', '\\"') + '"'
        if kind in "dx":
            return f"%{flags}{kind}" % int(_number(arg))
        return f"%{flags}{kind}" % _number(arg)

    out = _VERB.sub(verb, fmt)
    if queue:
        raise _Unknown
    return out


_FUNCTIONS: dict[str, Callable[..., str]] = {
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
    "humanizeTimestamp": humanize_timestamp,
    "toUpper": lambda v: _text(v).upper(),
    "toLower": lambda v: _text(v).lower(),
    "title": lambda v: _text(v).title(),
    "printf": printf,
}


def render(text: str, labels: Mapping[str, str], value: float) -> str:
    """Substitute the understood actions of ``text``; leave the rest as written."""
    if "{{" not in text:
        return text

    def action(match: re.Match[str]) -> str:
        before, trim_left, body, trim_right, after = match.groups()
        try:
            rendered = _pipeline(body, labels, value)
        except _Unknown:
            return match.group(0)
        return ("" if trim_left else before) + rendered + ("" if trim_right else after)

    return _ACTION.sub(action, text)


def _pipeline(body: str, labels: Mapping[str, str], value: float) -> str:
    stages = _split_pipe(body)
    result = _command(_TOKEN.findall(stages[0]), labels, value, None)
    for stage in stages[1:]:
        result = _command(_TOKEN.findall(stage), labels, value, result)
    return _text(result)


def _split_pipe(body: str) -> list[str]:
    """Split on ``|`` outside quoted strings."""
    stages: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in body:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "|" and not quoted:
            stages.append("".join(current))
            current = []
            continue
        current.append(ch)
    stages.append("".join(current))
    return stages


def _command(
    tokens: list[str], labels: Mapping[str, str], value: float, piped: Value | None
) -> Value:
    if not tokens:
        raise _Unknown
    head, rest = tokens[0], tokens[1:]
    if head == "index" and len(rest) == 2 and rest[0] in ("$labels", ".Labels") and piped is None:
        name = _operand(rest[1], labels, value)
        return labels.get(_text(name), "")
    if head in _FUNCTIONS:
        args = [_operand(t, labels, value) for t in rest]
        if piped is not None:
            args.append(piped)
        try:
            return _FUNCTIONS[head](*args)
        except (TypeError, ValueError) as e:
            raise _Unknown from e
    if rest or piped is not None:
        raise _Unknown
    return _operand(head, labels, value)


def _operand(token: str, labels: Mapping[str, str], value: float) -> Value:
    if token in ("$value", ".Value"):
        return value
    for prefix in ("$labels.", ".Labels."):
        if token.startswith(prefix) and _LABEL_NAME.fullmatch(token[len(prefix) :]):
            return labels.get(token[len(prefix) :], "")
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    if _NUMBER.fullmatch(token):
        return float(token)
    raise _Unknown
