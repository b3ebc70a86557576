"""Functions of instant vectors and scalars (the range-vector ones are in
``rangefuncs``): math, clamping, rounding, sorting, label_replace/label_join,
scalar/vector and absent. Every function here drops the metric name except
label_replace, label_join, sort and sort_desc, which only move or relabel samples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np

from tracelake.errors import QueryError
from tracelake.query.promql.values import (
    LABEL_NAME,
    Floats,
    Ints,
    Labels,
    Scalar,
    Series,
    Vector,
    drop_name,
    get,
    with_label,
)

_MATH: dict[str, Callable[[Floats], Floats]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "sgn": np.sign,
    "acos": np.arccos,
    "acosh": np.arccosh,
    "asin": np.arcsin,
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "cos": np.cos,
    "cosh": np.cosh,
    "sin": np.sin,
    "sinh": np.sinh,
    "tan": np.tan,
    "tanh": np.tanh,
    "deg": np.degrees,
    "rad": np.radians,
}

MATH_FUNCTIONS = set(_MATH)


def math_function(name: str, v: Vector) -> Vector:
    fn = _MATH[name]
    with np.errstate(all="ignore"):
        return Vector([Series(drop_name(s.labels), fn(s.values), s.present) for s in v.series])


def round_(v: Vector, to_nearest: Floats) -> Vector:
    """Round half up to a multiple of ``to_nearest``, as Prometheus (not banker's)."""
    with np.errstate(all="ignore"):
        inverse = 1.0 / to_nearest
        return Vector(
            [
                Series(drop_name(s.labels), np.floor(s.values * inverse + 0.5) / inverse, s.present)
                for s in v.series
            ]
        )


def clamp(v: Vector, low: Floats, high: Floats) -> Vector:
    out = []
    for s in v.series:
        present = s.present & ~(high < low)  # an empty range leaves nothing
        if present.any():
            values = np.maximum(low, np.minimum(high, s.values))
            out.append(Series(drop_name(s.labels), values, present))
    return Vector(out)


def scalar(v: Vector, steps: int) -> Scalar:
    """The value of the only sample at each step, NaN where there is not exactly one."""
    count = np.zeros(steps, dtype=np.int64)
    value = np.full(steps, math.nan)
    for s in v.series:
        count += s.present
        value = np.where(s.present, s.values, value)
    return Scalar(np.where(count == 1, value, math.nan))


def vector(s: Scalar) -> Vector:
    return Vector([Series((), s.values, np.ones(len(s.values), dtype=bool))])


def sort_by_value(v: Vector, *, descending: bool) -> Vector:
    """sort/sort_desc: by value, NaN last either way, as Prometheus. The order means
    something in an instant query only: a range query's series are ordered by labels."""

    def key(s: Series) -> tuple[bool, float]:
        value = float(s.values[0])
        return math.isnan(value), -value if descending else value

    return Vector(sorted(v.series, key=key))


def absent(v: Vector, labels: Labels, steps: int) -> Vector:
    """1 with the selector's equality labels where the vector has no sample."""
    seen = np.zeros(steps, dtype=bool)
    for s in v.series:
        seen |= s.present
    if seen.all():
        return Vector([])
    return Vector([Series(labels, np.ones(steps), ~seen)])


def _go_template(template: str, match: re.Match[str]) -> str:
    """Expand ``$1``, ``${1}``, ``$name`` and ``${name}`` as Go's Regexp.Expand does."""

    def group(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(2)
        try:
            got = match.group(int(name) if name.isdigit() else name)
        except IndexError:  # no such group: empty, as in Go
            return ""
        return got or ""

    return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", group, template)


def compile_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as e:
        raise QueryError(f"invalid regular expression in label_replace(): {pattern!r}: {e}") from e
    except RecursionError as e:  # Python's re parser recurses once per nested group
        raise QueryError(
            f"the regular expression of label_replace() nests too deeply to compile "
            f"({pattern[:40]!r}…): use fewer nested groups"
        ) from e


def label_replace(v: Vector, dst: str, replacement: str, src: str, regex: str) -> Vector:
    _check_label_name(dst, "destination", "label_replace")
    pattern = compile_regex(regex)
    out = []
    for s in v.series:
        match = pattern.fullmatch(get(s.labels, src))
        labels = s.labels
        if match is not None:
            labels = with_label(labels, dst, _go_template(replacement, match))
        out.append(Series(labels, s.values, s.present))
    return Vector(out)


def _check_label_name(name: str, which: str, function: str) -> None:
    if not LABEL_NAME.fullmatch(name):
        raise QueryError(
            f"invalid {which} label name in {function}(): {name!r}: use letters, "
            "digits and underscores, not starting with a digit"
        )


def label_join(v: Vector, dst: str, separator: str, sources: list[str]) -> Vector:
    _check_label_name(dst, "destination", "label_join")
    for name in sources:
        _check_label_name(name, "source", "label_join")
    return Vector(
        [
            Series(
                with_label(s.labels, dst, separator.join(get(s.labels, n) for n in sources)),
                s.values,
                s.present,
            )
            for s in v.series
        ]
    )


def _natural_key(value: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order: runs of digits compare as numbers, the rest as text."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|\D+", value)
    )


def sort_by_label(v: Vector, names: list[str], *, descending: bool) -> Vector:
    """sort_by_label/_desc: by the named labels' values in natural order, then by the
    whole label set, as Prometheus 3 (an instant query's order only)."""

    def key(s: Series) -> tuple[tuple[tuple[tuple[int, int | str], ...], ...], Labels]:
        return tuple(_natural_key(get(s.labels, n)) for n in names), s.labels

    return Vector(sorted(v.series, key=key, reverse=descending))


def timestamps(v: Vector, times: Ints) -> Vector:
    """timestamp(): each sample's time in seconds; ``times`` (ms, series x steps or one
    row for all) is where each sample was taken."""
    out = []
    for i, s in enumerate(v.series):
        row = times[i] if times.ndim == 2 else times
        out.append(Series(drop_name(s.labels), row / 1000.0, s.present))
    return Vector(out)


def _parts(seconds: Floats) -> dict[str, Floats]:
    """The UTC calendar fields of unix times, truncated to whole seconds as Go's
    ``time.Unix(int64(v), 0)`` does; a non-finite time gives NaN fields."""
    finite = np.isfinite(seconds)
    whole = np.trunc(np.where(finite, seconds, 0.0)).astype(np.int64)
    moment = whole.astype("datetime64[s]")
    day = moment.astype("datetime64[D]")
    month = moment.astype("datetime64[M]")
    year = moment.astype("datetime64[Y]")
    in_day = (moment - day).astype(np.int64)
    fields = {
        "year": year.astype(np.int64) + 1970,
        "month": month.astype(np.int64) % 12 + 1,
        "day_of_month": (day - month.astype("datetime64[D]")).astype(np.int64) + 1,
        "day_of_year": (day - year.astype("datetime64[D]")).astype(np.int64) + 1,
        "day_of_week": (day.astype(np.int64) + 4) % 7,
        "days_in_month": (
            (month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")
        ).astype(np.int64),
        "hour": in_day // 3600,
        "minute": in_day // 60 % 60,
    }
    return {k: np.where(finite, f.astype(np.float64), np.nan) for k, f in fields.items()}


DATE_FUNCTIONS = {
    "year",
    "month",
    "day_of_month",
    "day_of_year",
    "day_of_week",
    "days_in_month",
    "hour",
    "minute",
}


def date_function(name: str, v: Vector) -> Vector:
    """A date function of each sample's value read as unix seconds, in UTC."""
    return Vector(
        [Series(drop_name(s.labels), _parts(s.values)[name], s.present) for s in v.series]
    )


#: Functions of native histograms: the lake holds float samples only, and Prometheus
#: skips float samples in these, so their answer is always empty.
NATIVE_HISTOGRAM_FUNCTIONS = {
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
}
