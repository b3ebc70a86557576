"""The subset of Go's text/template that ``line_format`` and ``label_format`` use.

Loki runs Go templates with Sprig-like functions; the part its documentation shows is
covered: ``{{.label}}`` (``{{ .label }}``), ``{{__line__}}``, ``{{__timestamp__}}``,
pipelines ``{{ .a | upper }}``, function calls ``{{ printf "%s-%s" .a .b }}``,
``{{ if .a }}…{{ else if .b }}…{{ else }}…{{ end }}`` and the functions in ``FUNCTIONS``.
Anything else is refused when the query is planned, never half-rendered.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tracelake.query.logql.errors import unsupported


def _printf(fmt: str, *args: Any) -> str:
    # Go's verbs %s %d %v %q %f are enough for line templates
    out, i, n = [], 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            verb = fmt[i + 1]
            if verb == "%":
                out.append("%")
            else:
                arg = args[n] if n < len(args) else ""
                n += 1
                if verb == "q":
                    out.append('"' + str(arg).replace("\\", "\\\\").replace('"', '\\"') + '"')
                elif verb == "d":
                    out.append(str(int(float(arg))) if _is_number(arg) else str(arg))
                elif verb == "f":
                    out.append(f"{float(arg):f}" if _is_number(arg) else str(arg))
                else:
                    out.append(str(arg))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _fmt_num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


#: Functions by the name templates call them; arguments come first, the piped value last,
#: as in Go's templates (``{{ .a | replace "x" "y" }}`` is ``replace "x" "y" .a``).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ToUpper": lambda s: str(s).upper(),
    "ToLower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(),
    "trim": lambda s: str(s).strip(),
    "trimAll": lambda cut, s: str(s).strip(str(cut)),
    "trimPrefix": lambda prefix, s: str(s).removeprefix(str(prefix)),
    "trimSuffix": lambda suffix, s: str(s).removesuffix(str(suffix)),
    "TrimSpace": lambda s: str(s).strip(),
    "TrimPrefix": lambda s, prefix: str(s).removeprefix(str(prefix)),
    "TrimSuffix": lambda s, suffix: str(s).removesuffix(str(suffix)),
    "replace": lambda old, new, s: str(s).replace(str(old), str(new)),
    "Replace": lambda s, old, new, n: str(s).replace(str(old), str(new), int(n)),
    "substr": lambda start, end, s: str(s)[int(start) : int(end)],
    "trunc": lambda n, s: str(s)[: int(n)] if int(n) >= 0 else str(s)[int(n) :],
    "contains": lambda sub, s: str(sub) in str(s),
    "hasPrefix": lambda prefix, s: str(s).startswith(str(prefix)),
    "hasSuffix": lambda suffix, s: str(s).endswith(str(suffix)),
    "default": lambda default, value="": value if value not in ("", None) else default,
    "len": lambda s: len(s),
    "repeat": lambda n, s: str(s) * int(n),
    "regexReplaceAll": lambda regex, s, repl: re.sub(regex, _go_replacement(str(repl)), str(s)),
    "regexReplaceAllLiteral": lambda regex, s, repl: re.sub(regex, lambda _: str(repl), str(s)),
    "urlencode": lambda s: urllib.parse.quote_plus(str(s)),
    "urldecode": lambda s: urllib.parse.unquote_plus(str(s)),
    "printf": _printf,
    "add": lambda *xs: _fmt_num(sum(_num(x) for x in xs)),
    "sub": lambda a, b: _fmt_num(_num(a) - _num(b)),
    "mul": lambda a, b: _fmt_num(_num(a) * _num(b)),
    "div": lambda a, b: _fmt_num(_num(a) // _num(b)) if _num(b) else "0",
    "addf": lambda *xs: _fmt_num(sum(_num(x) for x in xs)),
    "subf": lambda a, b: _fmt_num(_num(a) - _num(b)),
    "mulf": lambda a, b: _fmt_num(_num(a) * _num(b)),
    "divf": lambda a, b: _fmt_num(_num(a) / _num(b)) if _num(b) else "0",
    "eq": lambda a, b: str(a) == str(b),
    "ne": lambda a, b: str(a) != str(b),
    "unixEpoch": lambda t: str(int(t.timestamp())) if isinstance(t, datetime) else str(t),
    "unixEpochMillis": lambda t: (
        str(int(t.timestamp() * 1000)) if isinstance(t, datetime) else str(t)
    ),
    "unixEpochNanos": lambda t: (
        str(int(t.timestamp() * 1e9)) if isinstance(t, datetime) else str(t)
    ),
    "toDateInZone": lambda *a: unsupported_call("toDateInZone"),
    "alignLeft": lambda n, s: str(s)[: int(n)].ljust(int(n)),
    "alignRight": lambda n, s: str(s)[-int(n) :].rjust(int(n)),
    "fromJson": lambda s: unsupported_call("fromJson"),
}


def unsupported_call(name: str) -> Any:
    raise unsupported(f"the template function {name}")


def _go_replacement(repl: str) -> str:
    """Go's ``$1``/``${name}`` replacement syntax to Python's ``\\1``/``\\g<name>``."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: f"\\g<{m.group(1)}>", repl.replace("\\", "\\\\"))


# --- parsing -------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_ARG = re.compile(
    r'\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`|(\.[A-Za-z0-9_.]*)|([A-Za-z_][A-Za-z0-9_]*)|(-?\d+(?:\.\d+)?)|(\|)|(\()|(\)))'
)


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Action:
    pipeline: tuple[tuple[tuple[str, str], ...], ...]  # commands of (kind, value) args


@dataclass(frozen=True, slots=True)
class _If:
    branches: tuple[tuple[_Action | None, tuple[Any, ...]], ...]  # (condition, body); None: else


Node = _Text | _Action | _If


class Template:
    """A parsed template; ``render(labels, line, ts_ns)`` fills it in."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = _parse(source)

    def render(self, labels: Mapping[str, str], line: str, ts_ns: int) -> str:
        out: list[str] = []
        _render(self.nodes, labels, line, ts_ns, out)
        return "".join(out)


def _parse(source: str) -> tuple[Node, ...]:
    pos = 0
    stack: list[
        tuple[list[Node], list[tuple[_Action | None, tuple[Any, ...]]], _Action | None]
    ] = []
    current: list[Node] = []
    for m in _ACTION.finditer(source):
        text = source[pos : m.start()]
        if m.group(0).startswith("{{-"):
            text = text.rstrip()
        if text:
            current.append(_Text(text))
        pos = m.end()
        body = m.group(1)
        word = body.split(None, 1)[0] if body else ""
        if word == "if":
            stack.append((current, [], _action(body[2:])))
            current = []
        elif word == "else":
            if not stack:
                raise unsupported("{{else}} outside {{if}} in a template")
            parent, branches, cond = stack[-1]
            branches.append((cond, tuple(current)))
            rest = body[4:].strip()
            next_cond = _action(rest[2:]) if rest.startswith("if") else None
            stack[-1] = (parent, branches, next_cond)
            current = []
        elif word == "end":
            if not stack:
                raise unsupported("{{end}} without {{if}} in a template")
            parent, branches, cond = stack.pop()
            branches.append((cond, tuple(current)))
            parent.append(_If(tuple(branches)))
            current = parent
        elif word in ("range", "with", "define", "template", "block"):
            raise unsupported(f"{{{{{word}}}}} in templates")
        elif body.startswith("/*"):
            continue
        else:
            current.append(_action(body))
    if stack:
        raise unsupported("an {{if}} without {{end}} in a template")
    tail = source[pos:]
    if tail:
        current.append(_Text(tail))
    return tuple(current)


def _action(body: str) -> _Action:
    commands: list[tuple[tuple[str, str], ...]] = []
    args: list[tuple[str, str]] = []
    pos = 0
    body = body.strip()
    while pos < len(body):
        m = _ARG.match(body, pos)
        if m is None or m.end() == pos:
            raise unsupported(f"the template action {{{{{body}}}}}")
        pos = m.end()
        dq, raw, field, name, number, pipe, lpar, rpar = m.groups()
        if pipe:
            commands.append(tuple(args))
            args = []
        elif lpar or rpar:
            continue  # (a b) grouping: evaluated left to right, as the simple cases need
        elif dq is not None:
            args.append(("str", bytes(dq, "utf-8").decode("unicode_escape")))
        elif raw is not None:
            args.append(("str", raw))
        elif field is not None:
            args.append(("field", field[1:]))
        elif number is not None:
            args.append(("str", number))
        elif name in ("__line__", "__timestamp__"):
            args.append(("special", name))
        else:
            if name not in FUNCTIONS:
                raise unsupported(f"the template function {name}")
            args.append(("func", name))
    commands.append(tuple(args))
    return _Action(tuple(commands))


# --- rendering -----------------------------------------------------------------------


def _value(arg: tuple[str, str], labels: Mapping[str, str], line: str, ts_ns: int) -> Any:
    kind, value = arg
    if kind == "field":
        return labels.get(value, "") if value else dict(labels)
    if kind == "special":
        return line if value == "__line__" else datetime.fromtimestamp(ts_ns / 1e9, UTC)
    return value


def _evaluate(action: _Action, labels: Mapping[str, str], line: str, ts_ns: int) -> Any:
    result: Any = None
    for i, command in enumerate(action.pipeline):
        if not command:
            raise unsupported("an empty template command")
        head, rest = command[0], command[1:]
        piped = () if i == 0 else (result,)
        if head[0] == "func":
            args = [_value(a, labels, line, ts_ns) for a in rest]
            result = FUNCTIONS[head[1]](*args, *piped)
        elif rest or piped:
            raise unsupported("calling a value in a template")
        else:
            result = _value(head, labels, line, ts_ns)
    return result


def _truthy(value: Any) -> bool:
    return bool(value) and value != "0" if isinstance(value, str) else bool(value)


def _render(
    nodes: tuple[Node, ...], labels: Mapping[str, str], line: str, ts_ns: int, out: list[str]
) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Action):
            value = _evaluate(node, labels, line, ts_ns)
            if isinstance(value, datetime):
                out.append(value.strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC"))
            elif isinstance(value, bool):
                out.append("true" if value else "false")
            elif value is not None:
                out.append(str(value))
        else:
            for cond, body in node.branches:
                if cond is None or _truthy(_evaluate(cond, labels, line, ts_ns)):
                    _render(body, labels, line, ts_ns, out)
                    break
