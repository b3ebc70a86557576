"""The values an expression evaluates to, over all the steps of a query at once.

A query is evaluated at ``S`` steps (one for an instant query). An instant vector is a
list of ``Series``, each a label set with one value per step and a mask of the steps
where it has a sample — a series may be present at some steps and absent at others,
and NaN is a value, not an absence. A scalar is one value per step. A range vector
(``m[5m]``) is only ever an argument of a function, so it stays raw: the samples of each
series plus the window they are read through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tracelake.query.promql.errors import EvaluationError

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

#: A label set as sorted (name, value) pairs: hashable, so series can be grouped by it.
Labels = tuple[tuple[str, str], ...]

NAME = "__name__"

#: A valid label name (Prometheus's classic rule), for names a query makes up.
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def labels_of(mapping: Mapping[str, str]) -> Labels:
    """A label set from a mapping; empty values mean "no such label" in PromQL."""
    return tuple(sorted((k, v) for k, v in mapping.items() if v != ""))


def without(labels: Labels, names: Iterable[str]) -> Labels:
    drop = set(names)
    return tuple(item for item in labels if item[0] not in drop)


def only(labels: Labels, names: Iterable[str]) -> Labels:
    keep = set(names)
    return tuple(item for item in labels if item[0] in keep)


def drop_name(labels: Labels) -> Labels:
    return tuple(item for item in labels if item[0] != NAME)


def with_label(labels: Labels, name: str, value: str) -> Labels:
    """``labels`` with ``name`` set to ``value`` (removed when ``value`` is empty)."""
    rest = [item for item in labels if item[0] != name]
    if value != "":
        rest.append((name, value))
    return tuple(sorted(rest))


def get(labels: Labels, name: str) -> str:
    for key, value in labels:
        if key == name:
            return value
    return ""


@dataclass(slots=True)
class Series:
    """One series of an instant vector: a value at each step where ``present``."""

    labels: Labels
    values: Floats
    present: Mask


@dataclass(slots=True)
class Scalar:
    """A scalar: one value at every step."""

    values: Floats


@dataclass(slots=True)
class Vector:
    """An instant vector: at most one series per label set (``unique_labels``)."""

    series: list[Series]


@dataclass(slots=True)
class String:
    """A string literal: only ever an argument (label_replace) or a query's answer."""

    value: str


@dataclass(slots=True)
class RawSeries:
    """The stored samples of one series, sorted by time (milliseconds)."""

    labels: Labels
    times: Ints
    values: Floats


@dataclass(slots=True)
class Matrix:
    """A range vector: raw series read through a window of ``range_ms`` ending at
    each of ``ends`` (the step times moved by offset and ``@``)."""

    series: list[RawSeries]
    range_ms: int
    ends: Ints
    #: The evaluation time of each step, which ``predict_linear`` predicts from: the
    #: step itself, whatever offset moved the window (``None``: the same as ``ends``).
    evals: Ints | None = None


Value = Scalar | Vector | String | Matrix


def unique_labels(series: list[Series]) -> list[Series]:
    """One series per label set, as Prometheus builds a result step by step.

    Series that an operation left with the same labels (it dropped the metric name or
    the label that told them apart) are one series where they are present at different
    steps; present at the same step they are Prometheus's "same labelset" error.
    """
    by_labels: dict[Labels, Series] = {}
    for s in series:
        seen = by_labels.setdefault(s.labels, s)
        if seen is s:
            continue
        if np.any(seen.present & s.present):
            raise EvaluationError(
                f"vector cannot contain metrics with the same labelset {format_labels(s.labels)}: "
                "keep a label that tells them apart (by, on, ignoring or label_replace)"
            )
        by_labels[s.labels] = Series(
            s.labels, np.where(s.present, s.values, seen.values), seen.present | s.present
        )
    return list(by_labels.values())


def format_labels(labels: Labels) -> str:
    """``{a="1", b="2"}``, as Prometheus prints a label set in its messages."""
    inner = ", ".join(f'{k}="{v}"' for k, v in labels)
    return "{" + inner + "}"
