"""Names Prometheus accepts that ``promql-parser`` does not: rewritten before parsing.

Prometheus 2 calls ``double_exponential_smoothing`` ``holt_winters``; the parser knows
only the Prometheus 3 name, and would refuse the old one as an unknown function. So a
call of ``holt_winters(`` — outside strings, ``{…}`` matchers and comments, and only as
a call, never a metric named so — is renamed in the text; nothing else changes.
"""

from __future__ import annotations

import re

RENAMED = {"holt_winters": "double_exponential_smoothing"}

_CALL = re.compile(r"\b(" + "|".join(RENAMED) + r")(\s*\()")
_SKIPPED = re.compile(r'"(?:\\.|[^"\\])*"?|\'(?:\\.|[^\'\\])*\'?|`[^`]*`?|\{[^}]*\}?|#[^\n]*')


def rewrite(query: str) -> str:
    """``query`` with the Prometheus 2 names of functions in their Prometheus 3 spelling."""
    if not any(name in query for name in RENAMED):
        return query
    out, last = [], 0
    for skipped in _SKIPPED.finditer(query):
        out.append(_rename(query[last : skipped.start()]))
        out.append(skipped.group())
        last = skipped.end()
    out.append(_rename(query[last:]))
    return "".join(out)


def _rename(code: str) -> str:
    return _CALL.sub(lambda m: RENAMED[m.group(1)] + m.group(2), code)
