"""Binary operators: arithmetic, comparison (filtering or ``bool``) and set operators,
between scalars and vectors, with Prometheus's vector matching.

Two vectors match on a signature: all labels but the metric name, or only the ``on``
labels, or all but the ``ignoring`` ones. One-to-one matching needs each signature at
most once per side and step; ``group_left``/``group_right`` allow many on one side and
copy the listed labels from the "one" side. Arithmetic and ``bool`` drop the metric
name; a comparison without ``bool`` keeps the left-hand sample (or the vector's, when
the scalar is on the left) where it holds and drops it where it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracelake.query.promql.errors import EvaluationError
from tracelake.query.promql.values import (
    Floats,
    Labels,
    Mask,
    Scalar,
    Series,
    Vector,
    drop_name,
    format_labels,
    get,
    only,
    with_label,
    without,
)

ARITHMETIC = {"+", "-", "*", "/", "%", "^", "atan2"}
COMPARISON = {"==", "!=", ">", "<", ">=", "<="}
SET = {"and", "or", "unless"}


@dataclass(frozen=True, slots=True)
class Matching:
    """How two vectors meet: ``card`` is one-to-one, many-to-one (group_left),
    one-to-many (group_right) or many-to-many (set operators)."""

    card: str = "one-to-one"
    on: bool = False
    labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    return_bool: bool = False


def arithmetic(op: str, a: Floats, b: Floats) -> Floats:
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.true_divide(a, b)
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return np.power(a, b)
        if op == "atan2":
            return np.arctan2(a, b)
    raise EvaluationError(f"operator {op} is not supported by tracelake's PromQL")


def compare(op: str, a: Floats, b: Floats) -> Mask:
    with np.errstate(invalid="ignore"):
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == ">":
            return a > b
        if op == "<":
            return a < b
        if op == ">=":
            return a >= b
        return a <= b


def scalars(op: str, a: Scalar, b: Scalar) -> Scalar:
    if op in COMPARISON:
        return Scalar(compare(op, a.values, b.values).astype(np.float64))
    return Scalar(arithmetic(op, a.values, b.values))


def vector_scalar(op: str, v: Vector, s: Scalar, *, scalar_left: bool, bool_: bool) -> Vector:
    out = []
    for series in v.series:
        lhs, rhs = (s.values, series.values) if scalar_left else (series.values, s.values)
        if op in COMPARISON:
            hold = compare(op, lhs, rhs)
            if bool_:
                out.append(
                    Series(drop_name(series.labels), hold.astype(np.float64), series.present)
                )
            elif (present := series.present & hold).any():
                out.append(Series(series.labels, series.values, present))
        else:
            out.append(Series(drop_name(series.labels), arithmetic(op, lhs, rhs), series.present))
    return Vector(out)


def signature(labels: Labels, matching: Matching) -> Labels:
    if matching.on:
        return only(labels, matching.labels)
    return without(drop_name(labels), matching.labels)


def _by_signature(v: Vector, matching: Matching) -> dict[Labels, list[Series]]:
    groups: dict[Labels, list[Series]] = {}
    for s in v.series:
        groups.setdefault(signature(s.labels, matching), []).append(s)
    return groups


def _presence(v: Vector, matching: Matching, steps: int) -> dict[Labels, Mask]:
    """The steps at which each signature has a sample in ``v``."""
    out: dict[Labels, Mask] = {}
    for s in v.series:
        sig = signature(s.labels, matching)
        out[sig] = out.get(sig, np.zeros(steps, dtype=bool)) | s.present
    return out


def _where(
    v: Vector, other: dict[Labels, Mask], matching: Matching, steps: int, *, matched: bool
) -> list[Series]:
    """The samples of ``v`` whose signature ``other`` has (``matched``) or lacks at the
    same step, as they are."""
    none = np.zeros(steps, dtype=bool)
    out = []
    for s in v.series:
        found = other.get(signature(s.labels, matching), none)
        present = s.present & (found if matched else ~found)
        if present.any():
            out.append(Series(s.labels, s.values, present))
    return out


def set_operation(op: str, lhs: Vector, rhs: Vector, matching: Matching, steps: int) -> Vector:
    """``and``: lhs where rhs has the signature; ``unless``: where it has not; ``or``:
    all of lhs, and rhs where lhs has not."""
    if op == "or":
        added = _where(rhs, _presence(lhs, matching, steps), matching, steps, matched=False)
        return Vector(lhs.series + added)
    right = _presence(rhs, matching, steps)
    return Vector(_where(lhs, right, matching, steps, matched=op == "and"))


def _result_labels(many: Labels, one: Labels, op: str, matching: Matching) -> Labels:
    labels = drop_name(many) if op in ARITHMETIC or matching.return_bool else many
    if matching.card == "one-to-one":
        return only(labels, matching.labels) if matching.on else without(labels, matching.labels)
    for name in matching.include:
        labels = with_label(labels, name, get(one, name))
    return labels


def vectors(op: str, lhs: Vector, rhs: Vector, matching: Matching, steps: int) -> Vector:
    """Arithmetic or comparison between two vectors, matched per signature and step."""
    swapped = matching.card == "one-to-many"
    many_side, one_side = (rhs, lhs) if swapped else (lhs, rhs)
    ones = _by_signature(one_side, matching)
    many = _by_signature(many_side, matching)
    out: list[Series] = []
    for sig, members in many.items():
        partners = ones.get(sig)
        if not partners:
            continue
        _unique_per_step(partners, sig, "right" if not swapped else "left", matching)
        if matching.card == "one-to-one":
            _unique_per_step(members, sig, "left", matching)
        for partner in partners:
            for m in members:
                present = m.present & partner.present
                if not present.any():
                    continue
                a, b = (partner.values, m.values) if swapped else (m.values, partner.values)
                labels = _result_labels(m.labels, partner.labels, op, matching)
                if op in COMPARISON:
                    hold = compare(op, a, b)
                    if matching.return_bool:
                        out.append(Series(labels, hold.astype(np.float64), present))
                    elif (kept := present & hold).any():
                        out.append(Series(labels, a, kept))
                else:
                    out.append(Series(labels, arithmetic(op, a, b), present))
    return Vector(out)


def _unique_per_step(members: Sequence[Series], sig: Labels, side: str, m: Matching) -> None:
    if len(members) < 2:
        return
    if (np.sum([s.present for s in members], axis=0) > 1).any():
        if m.card == "one-to-one" and side == "left":
            raise EvaluationError(
                f"multiple matches for labels {format_labels(sig)}: "
                "many-to-one matching must be explicit (group_left/group_right)"
            )
        raise EvaluationError(
            f"found duplicate series for the match group {format_labels(sig)} on the {side} "
            "hand-side of the operation: many-to-many matching not allowed: "
            "matching labels must be unique on one side"
        )
