"""The rows every metrics decoder yields, and the one set of rules a series' labels obey.

Why one shape: scraped exposition text, remote_write and OTLP metrics must land in one
``metrics`` table and read back the same whichever protocol carried them, so each
decoder turns a label set into a series identity here (``name`` + canonical ``labels``
JSON + ``service``, encoded once per label set, not per sample) and appends samples
column-wise (cheap to turn into an Arrow batch, no per-sample dict). Pure Python:
decoders stay sans-IO and free of pyarrow.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

#: Prometheus's staleness marker: a NaN with this exact bit pattern means "the series
#: ended here". It is stored as is, so a PromQL engine can tell it from a plain NaN.
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]

#: Earliest and latest sample time accepted, µs since the epoch (1970 .. 2262).
MIN_US, MAX_US = 0, (1 << 63) - 1


class InvalidSeries(ValueError):
    """A series (label set) or sample breaks a rule; the message says which and why."""


@dataclass(frozen=True, slots=True)
class SeriesLimits:
    """Bounds on one series' label set: huge label sets are refused, not stored."""

    max_labels: int = 64  # labels of one series, ``__name__`` included
    max_label_length: int = 2048  # characters of one label name or value


DEFAULT_LIMITS = SeriesLimits()


@dataclass(slots=True)
class SampleRows:
    """Samples in arrival order: a time, a value and the series each belongs to.

    The series is kept by reference (one ``Series`` object per label set, shared by
    its samples) rather than copied into ``name``/``labels``/``service`` columns:
    that is one list append per sample instead of three, and the columns of
    ``schema.METRICS`` are read off the series when the Arrow batch is built.
    """

    timestamp: list[int] = field(default_factory=list)  # µs since the epoch
    value: list[float] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.series)

    @property
    def name(self) -> list[str]:
        return [s.name for s in self.series]

    @property
    def labels(self) -> list[bytes]:
        """Canonical JSON (UTF-8) of each sample's labels other than ``__name__``."""
        return [s.labels for s in self.series]

    @property
    def service(self) -> list[str | None]:
        return [s.service for s in self.series]

    def columns(self) -> list[Sequence[object]]:
        """The columns of ``metrics`` in storage order (see ``schema.METRICS``)."""
        return [self.timestamp, self.name, self.labels, self.value, self.service]

    def add(self, series: Series, timestamp_us: int, value: float) -> None:
        """One sample of ``series``; the time is checked, the value taken as is (NaN, ±Inf)."""
        if not MIN_US <= timestamp_us <= MAX_US:
            raise InvalidSeries(f"timestamp {timestamp_us} µs is outside 1970..2262")
        self.timestamp.append(timestamp_us)
        self.value.append(value)
        self.series.append(series)

    def extend(self, other: SampleRows) -> None:
        self.timestamp.extend(other.timestamp)
        self.value.extend(other.value)
        self.series.extend(other.series)


@dataclass(frozen=True, slots=True)
class Series:
    """A series' identity as the table stores it."""

    name: str
    labels: bytes  # the labels other than ``__name__``, canonical JSON
    service: str | None


def series_of(labels: dict[str, str], limits: SeriesLimits) -> Series:
    """The identity of a label set that includes ``__name__``; ``labels`` is consumed.

    Empty label values are dropped (in Prometheus an empty value is the same as no
    label). ``service`` repeats the ``service`` label, else ``job``.
    """
    if len(labels) > limits.max_labels:
        raise InvalidSeries(f"{len(labels)} labels, over max_series_labels ({limits.max_labels})")
    name = labels.pop("__name__", "")
    if not name:
        raise InvalidSeries("no metric name (__name__ label)")
    longest = limits.max_label_length
    if labels:
        # C-level scans first: one series in millions breaks a rule, so find it only then
        if "" in labels:
            raise InvalidSeries(f"{name}: a label has an empty name")
        if max(map(len, labels)) > longest or max(map(len, labels.values())) > longest:
            key = next(k for k, v in labels.items() if len(k) > longest or len(v) > longest)
            raise InvalidSeries(
                f"{name}: label {key[:40]!r} is over max_label_length ({longest} characters)"
            )
        if "" in labels.values():
            labels = {key: value for key, value in labels.items() if value}
    if len(name) > longest:
        raise InvalidSeries(f"metric name {name[:40]!r}... is over max_label_length ({longest})")
    service = labels.get("service") or labels.get("job")
    return Series(name, orjson.dumps(labels, option=orjson.OPT_SORT_KEYS), service)
