"""Floats printed the way Prometheus (Go) prints them, so texts and API values match.

``go_float`` is Go's ``%v`` (what ``{{ $value }}`` renders); ``go_exponent`` is
``strconv.FormatFloat(v, 'e', -1, 64)``, the ``value`` string of Prometheus's alerts API.
"""

from __future__ import annotations

import math


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def go_float(value: float) -> str:
    """``3``, ``0.25``, ``1e+21``, ``NaN``, ``+Inf``."""
    special = _special(value)
    if special is not None:
        return special
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if not e:
        return text
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{abs(int(exponent)):02d}"


def go_exponent(value: float) -> str:
    """The shortest exponent form that reads back exactly: ``1e+00``, ``4.25e+01``."""
    special = _special(value)
    if special is not None:
        return special
    for digits in range(17):
        text = f"{value:.{digits}e}"
        if float(text) == value:
            return text
    return f"{value:.17e}"
