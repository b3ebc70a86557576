"""OTLP/HTTP metrics (``POST /v1/metrics``) in, Prometheus-style samples out.

Every OpenTelemetry SDK exports ``ExportMetricsServiceRequest``: protobuf through the
generated classes of ``opentelemetry-proto``, JSON walked by hand with the helpers the
logs and traces decoders use (``otlp_common``). Both encodings become the same few
point shapes, and one translation turns those into series the way Prometheus's own
OTLP receiver does, so a PromQL query reads them as if Prometheus had stored them:

* names: non-alphanumerics become ``_``, the unit becomes a suffix (``s`` →
  ``_seconds``, ``By`` → ``_bytes``, ``1/s`` → ``_per_second``; a gauge of unit ``1``
  gets ``_ratio``), and monotonic sums are counters named ``…_total``;
* histograms become ``_bucket{le=…}`` (cumulative, ``le="+Inf"`` = count), ``_sum``
  and ``_count``; summaries ``{quantile=…}``, ``_sum``, ``_count``;
* labels: point attributes with invalid characters replaced by ``_``; the resource's
  ``service.name`` (with ``service.namespace/`` before it) becomes ``job`` and
  ``service.instance.id`` becomes ``instance``; the other resource attributes go to
  one ``target_info`` series per resource, as Prometheus does;
* a point flagged "no recorded value" is the staleness marker.

Delta temporality, exponential histograms and metrics without a name are refused per
data point (Prometheus refuses them too) and reported in ``partial_success``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from tracelake.errors import DecodeError
from tracelake.ingest.decoders.otlp_common import (
    JSON,
    UINT64,
    Invalid,
    ValueReader,
    array,
    expect_object,
    get,
    integer,
    kind_of,
    open_body,
    partial_success,
    string,
    sub_object,
    to_float,
    to_int,
)
from tracelake.ingest.decoders.sample_rows import (
    DEFAULT_LIMITS,
    STALE_NAN,
    InvalidSeries,
    SampleRows,
    SeriesLimits,
    series_of,
)
from tracelake.model import RecordError

DELTA, CUMULATIVE = 1, 2
NO_RECORDED_VALUE = 1

#: UCUM units → the words Prometheus's OTLP translation puts in names.
UNIT_WORDS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes",
    "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tebibytes", "KBy": "kilobytes",
    "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes", "m": "meters", "V": "volts",
    "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius",
    "Hz": "hertz", "%": "percent",
}  # fmt: skip
PER_UNIT_WORDS = {
    "s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month",
    "y": "year",
}  # fmt: skip
RESOURCE_LABELS = frozenset({"service.name", "service.namespace", "service.instance.id"})

_NOT_NAME = re.compile(r"[^a-zA-Z0-9]+")
_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_ANNOTATION = re.compile(r"\{[^}]*\}")


def decode_metrics(
    body: bytes,
    content_type: str | None,
    *,
    content_encoding: str | None = None,
    max_body_bytes: int = 64 << 20,
    limits: SeriesLimits = DEFAULT_LIMITS,
    max_points: int = 1_000_000,
    max_attributes: int = 256,
) -> tuple[SampleRows, list[RecordError]]:
    """Decode an ``ExportMetricsServiceRequest`` in the encoding ``content_type`` names.

    Returns the samples and the rejected data points (``line`` = the point's 1-based
    position in the request). Raises :class:`DecodeError` for an unknown content type or
    an unreadable body, :class:`PayloadTooLarge` over ``max_body_bytes`` (after
    decompression) or ``max_points``.
    """
    media, body = open_body(body, content_type, content_encoding, max_body_bytes)
    translator = _Translator(limits, max_points, max_attributes)
    if media == JSON:
        translator.json(body)
    else:
        translator.protobuf(body)
    return translator.rows, translator.errors


def export_response(rejected: Sequence[RecordError], *, as_json: bool) -> bytes:
    """``ExportMetricsServiceResponse``: ``partial_success`` only when some were rejected."""
    return partial_success(
        ExportMetricsServiceResponse(),
        rejected,
        as_json=as_json,
        count_field="rejected_data_points",
        unit="data point",
    )


# -- names ------------------------------------------------------------------------------


def metric_name(name: str, unit: str, *, counter: bool, gauge: bool) -> str:
    """The Prometheus name of an OTLP metric (the translation of the module docstring)."""
    tokens = [t for t in _NOT_NAME.split(name) if t]
    main, _, per = unit.partition("/")
    main = _ANNOTATION.sub("", main).strip()
    per = _ANNOTATION.sub("", per).strip()
    main_word = "" if main == "1" else _clean(UNIT_WORDS.get(main, main))
    per_word = _clean(PER_UNIT_WORDS.get(per, per))
    if main_word and main_word not in tokens:
        tokens.append(main_word)
    if per_word and per_word not in tokens:
        tokens += ["per", per_word]
    if counter:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if gauge and not counter and main == "1" and not per and "ratio" not in tokens:
        tokens.append("ratio")
    out = "_".join(tokens)
    if not name or not out or out == "total":
        raise Invalid(f"metric name {name!r} has no letters or digits")
    return f"_{out}" if out[0].isdigit() else out


def _clean(word: str) -> str:
    return "_".join(t for t in _NOT_NAME.split(word) if t)


def label_name(key: str) -> str:
    """An attribute key as a Prometheus label name: invalid characters become ``_``."""
    out = _NOT_LABEL.sub("_", key)
    if out[:1].isdigit():
        return f"key_{out}"
    if out.startswith("_") and not out.startswith("__"):
        return f"key{out}"
    return out


def label_value(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is float:
        return format_float(value)
    if value is None:
        return ""
    return str(value) if type(value) is int else orjson.dumps(value).decode()


def format_float(value: float) -> str:
    """A float the way Prometheus writes ``le`` and ``quantile``: ``0.005``, ``10``, ``+Inf``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def labels_of(attributes: dict[str, Any]) -> dict[str, str]:
    """Attributes as labels; keys that sanitise to one name join their values with ``;``."""
    out: dict[str, str] = {}
    for key in sorted(attributes):
        name = label_name(key)
        value = label_value(attributes[key])
        out[name] = f"{out[name]};{value}" if name in out else value
    return out


# -- the shapes both encodings come to --------------------------------------------------


@dataclass(slots=True)
class _Number:
    attributes: dict[str, Any]
    time_ns: int
    value: float
    flags: int


@dataclass(slots=True)
class _Histogram:
    attributes: dict[str, Any]
    time_ns: int
    count: int
    sum: float | None
    bucket_counts: list[int]
    bounds: list[float]
    flags: int


@dataclass(slots=True)
class _Summary:
    attributes: dict[str, Any]
    time_ns: int
    count: int
    sum: float
    quantiles: list[tuple[float, float]]
    flags: int


_Point = _Number | _Histogram | _Summary


class _Resource:
    """``job``/``instance`` from a resource's service attributes, and its ``target_info``."""

    def __init__(self, attributes: dict[str, Any]) -> None:
        name = attributes.get("service.name")
        namespace = attributes.get("service.namespace")
        instance = attributes.get("service.instance.id")
        self.labels: dict[str, str] = {}
        if name:
            job = label_value(name)
            self.labels["job"] = f"{label_value(namespace)}/{job}" if namespace else job
        if instance:
            self.labels["instance"] = label_value(instance)
        self.info = labels_of({k: v for k, v in attributes.items() if k not in RESOURCE_LABELS})
        self.latest_ns = 0


class _Translator(ValueReader):
    """Walks resources → scopes → metrics → points, appending samples, collecting rejects."""

    def __init__(self, limits: SeriesLimits, max_points: int, max_attributes: int) -> None:
        super().__init__(max_attributes, 16, max_points, "data points")
        self.limits = limits
        self.rows = SampleRows()

    # -- protobuf -------------------------------------------------------------------

    def protobuf(self, body: bytes) -> None:
        request = ExportMetricsServiceRequest()
        try:
            request.ParseFromString(body)
        except ProtobufDecodeError as e:
            raise DecodeError(
                f"body is not a valid ExportMetricsServiceRequest protobuf: {e}"
            ) from e
        for r, resource_metrics in enumerate(request.resource_metrics):
            where_r = f"resourceMetrics[{r}]"
            try:
                resource = _Resource(
                    self.pb_attributes(resource_metrics.resource.attributes, "resource")
                )
            except Invalid as e:
                total = sum(
                    _pb_points(m)[1] for s in resource_metrics.scope_metrics for m in s.metrics
                )
                self._reject_all(total, where_r, str(e))
                continue
            for s, scope_metrics in enumerate(resource_metrics.scope_metrics):
                for i, metric in enumerate(scope_metrics.metrics):
                    where = f"{where_r}.scopeMetrics[{s}].metrics[{i}]"
                    self._pb_metric(metric, resource, where)
            self._target_info(resource)

    def _pb_metric(self, metric: Metric, resource: _Resource, where: str) -> None:
        kind, count = _pb_points(metric)
        try:
            name = self._name(metric.name, metric.unit, kind, metric)
        except Invalid as e:
            self._reject_all(count, where, str(e))
            return
        points: Iterable[Any] = getattr(metric, kind).data_points if kind else ()
        for p, point in enumerate(points):
            self._next()
            try:
                attributes = self.pb_attributes(point.attributes, "data point")
                if kind == "histogram":
                    shape: _Point = _Histogram(
                        attributes, point.time_unix_nano, point.count,
                        point.sum if point.HasField("sum") else None,
                        list(point.bucket_counts), list(point.explicit_bounds), point.flags,
                    )  # fmt: skip
                elif kind == "summary":
                    shape = _Summary(
                        attributes, point.time_unix_nano, point.count, point.sum,
                        [(q.quantile, q.value) for q in point.quantile_values], point.flags,
                    )  # fmt: skip
                else:
                    which = point.WhichOneof("value")
                    value = float(point.as_int) if which == "as_int" else point.as_double
                    shape = _Number(attributes, point.time_unix_nano, value, point.flags)
                self._point(name, kind, shape, resource)
            except (Invalid, InvalidSeries) as e:
                self._reject(f"{where}.dataPoints[{p}] ({metric.name})", str(e))

    def _name(self, name: str, unit: str, kind: str, metric: Any) -> str:
        """Check a metric's type and temporality; its Prometheus name."""
        if not kind:
            raise Invalid(f"metric {name!r} has no data (gauge, sum, histogram or summary)")
        if kind == "exponential_histogram":
            raise Invalid(
                f"{name}: exponential histograms are not supported; "
                "configure explicit bucket histograms"
            )
        data = getattr(metric, kind) if not isinstance(metric, dict) else metric
        temporality = _temporality(data) if kind in ("sum", "histogram") else CUMULATIVE
        monotonic = kind == "sum" and _monotonic(data)
        if temporality != CUMULATIVE and (kind == "histogram" or monotonic):
            raise Invalid(
                f"{name}: {'delta' if temporality == DELTA else 'unspecified'} temporality is "
                "not supported; export cumulative (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_"
                "PREFERENCE=cumulative)"
            )
        return metric_name(name, unit, counter=monotonic, gauge=kind in ("gauge", "sum"))

    # -- JSON -----------------------------------------------------------------------

    def json(self, body: bytes) -> None:
        try:
            request: Any = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"body is not valid JSON: {e}") from e
        if type(request) is not dict:
            raise DecodeError("body must be a JSON ExportMetricsServiceRequest object")
        for r, resource_metrics in enumerate(
            array(request, "resourceMetrics", "resource_metrics", "")
        ):
            where_r = f"resourceMetrics[{r}]"
            expect_object(resource_metrics, where_r)
            scopes = array(resource_metrics, "scopeMetrics", "scope_metrics", where_r)
            for s, scope in enumerate(scopes):
                expect_object(scope, f"{where_r}.scopeMetrics[{s}]")
            metrics = [
                (f"{where_r}.scopeMetrics[{s}].metrics[{i}]", metric)
                for s, scope in enumerate(scopes)
                for i, metric in enumerate(array(scope, "metrics", "metrics", where_r))
            ]
            try:
                resource = _Resource(
                    self.json_attributes(
                        sub_object(resource_metrics, "resource", where_r), "resource"
                    )
                )
            except Invalid as e:
                total = sum(len(_json_kind(m)[1]) for _, m in metrics if type(m) is dict)
                self._reject_all(total, where_r, str(e))
                continue
            for where, metric in metrics:
                expect_object(metric, where)
                self._json_metric(metric, resource, where)
            self._target_info(resource)

    def _json_metric(self, metric: dict[str, Any], resource: _Resource, where: str) -> None:
        kind, points = _json_kind(metric)
        try:
            name = string(metric, "name", "name")
            data = get(metric, _CAMEL.get(kind, kind), kind) if kind else None
            name = self._name(name, string(metric, "unit", "unit"), kind, data or {})
        except Invalid as e:
            self._reject_all(len(points), where, str(e))
            return
        for p, point in enumerate(points):
            self._next()
            try:
                if type(point) is not dict:
                    raise Invalid(f"must be an object, got {kind_of(point)}")
                self._point(name, kind, _json_point(self, kind, point), resource)
            except (Invalid, InvalidSeries) as e:
                self._reject(f"{where}.dataPoints[{p}]", str(e))

    # -- shared ---------------------------------------------------------------------

    def _point(self, name: str, kind: str, point: _Point, resource: _Resource) -> None:
        """Append the samples of one point (several for histograms and summaries)."""
        if not point.time_ns:
            raise Invalid("timeUnixNano is missing")
        if point.time_ns >= 1 << 63:
            raise Invalid(f"timeUnixNano {point.time_ns} is past the year 2262")
        stale = point.flags & NO_RECORDED_VALUE
        base = {**labels_of(point.attributes), **resource.labels}
        time_us = point.time_ns // 1000
        resource.latest_ns = max(resource.latest_ns, point.time_ns)
        samples: list[tuple[str, dict[str, str], float]]
        if isinstance(point, _Number):
            samples = [(name, {}, point.value)]
        elif isinstance(point, _Histogram):
            samples = self._buckets(name, point)
        else:
            samples = [(name, {"quantile": format_float(q)}, v) for q, v in point.quantiles]
            samples += [(f"{name}_sum", {}, point.sum), (f"{name}_count", {}, float(point.count))]
        # check every series first, so a bad point adds no samples at all
        checked = [
            (series_of({**base, **extra, "__name__": sample_name}, self.limits), value)
            for sample_name, extra, value in samples
        ]
        for series, value in checked:
            self.rows.add(series, time_us, STALE_NAN if stale else value)

    @staticmethod
    def _buckets(name: str, point: _Histogram) -> list[tuple[str, dict[str, str], float]]:
        counts, bounds = point.bucket_counts, point.bounds
        if counts and len(counts) != len(bounds) + 1:
            raise Invalid(
                f"{len(counts)} bucketCounts for {len(bounds)} explicitBounds; "
                "there must be one more count than bounds"
            )
        out: list[tuple[str, dict[str, str], float]] = []
        running = 0
        for bound, count in zip(bounds, counts, strict=False):
            running += count
            out.append((f"{name}_bucket", {"le": format_float(bound)}, float(running)))
        out.append((f"{name}_bucket", {"le": "+Inf"}, float(point.count)))
        if point.sum is not None:
            out.append((f"{name}_sum", {}, point.sum))
        out.append((f"{name}_count", {}, float(point.count)))
        return out

    def _target_info(self, resource: _Resource) -> None:
        """``target_info`` at the resource's latest point, when it has more than service.*."""
        if not resource.info or not resource.latest_ns:
            return
        labels = {**resource.info, **resource.labels, "__name__": "target_info"}
        # its resource's own points are stored either way; the info series is a courtesy
        with contextlib.suppress(InvalidSeries):
            self.rows.add(series_of(labels, self.limits), resource.latest_ns // 1000, 1.0)


_CAMEL = {"exponential_histogram": "exponentialHistogram"}
_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


def _pb_points(metric: Metric) -> tuple[str, int]:
    """The data field a metric has set, and how many points it carries."""
    kind = metric.WhichOneof("data") or ""
    return kind, len(getattr(metric, kind).data_points) if kind else 0


def _json_kind(metric: dict[str, Any]) -> tuple[str, list[Any]]:
    for kind in _KINDS:
        data = get(metric, _CAMEL.get(kind, kind), kind)
        if data is not None:
            if type(data) is not dict:
                raise DecodeError(f"metric {kind} must be an object, got {kind_of(data)}")
            return kind, array(data, "dataPoints", "data_points", kind)
    return "", []


def _temporality(data: Any) -> int:
    if isinstance(data, dict):
        value = get(data, "aggregationTemporality", "aggregation_temporality")
        names = {"AGGREGATION_TEMPORALITY_DELTA": DELTA, "AGGREGATION_TEMPORALITY_CUMULATIVE": 2}
        if type(value) is str and value in names:
            return names[value]
        return 0 if value is None else to_int(value, "aggregationTemporality", (0, 2))
    return int(data.aggregation_temporality)


def _monotonic(data: Any) -> bool:
    if isinstance(data, dict):
        value = get(data, "isMonotonic", "is_monotonic")
        if value is not None and type(value) is not bool:
            raise Invalid(f"isMonotonic must be true or false, got {value!r:.40}")
        return bool(value)
    return bool(data.is_monotonic)


def _json_point(reader: ValueReader, kind: str, point: dict[str, Any]) -> _Point:
    attributes = reader.json_attributes(point, "data point")
    time_ns = integer(point, "timeUnixNano", "time_unix_nano", UINT64)
    flags = integer(point, "flags", "flags", (0, (1 << 32) - 1))
    if kind == "histogram":
        raw_sum = get(point, "sum", "sum")
        return _Histogram(
            attributes, time_ns, integer(point, "count", "count", UINT64),
            None if raw_sum is None else to_float(raw_sum, "sum"),
            [to_int(c, "bucketCounts", UINT64)
             for c in array(point, "bucketCounts", "bucket_counts", "dataPoint")],
            [to_float(b, "explicitBounds")
             for b in array(point, "explicitBounds", "explicit_bounds", "dataPoint")],
            flags,
        )  # fmt: skip
    if kind == "summary":
        quantiles = []
        for q in array(point, "quantileValues", "quantile_values", "dataPoint"):
            if type(q) is not dict:
                raise Invalid("quantileValues must be objects")
            quantiles.append(
                (to_float(q.get("quantile", 0), "quantile"), to_float(q.get("value", 0), "value"))
            )
        return _Summary(
            attributes, time_ns, integer(point, "count", "count", UINT64),
            to_float(get(point, "sum", "sum") or 0, "sum"), quantiles, flags,
        )  # fmt: skip
    as_int = get(point, "asInt", "as_int")
    if as_int is not None:
        value = float(to_int(as_int, "asInt", (-(1 << 63), (1 << 63) - 1)))
    else:
        value = to_float(get(point, "asDouble", "as_double") or 0, "asDouble")
    return _Number(attributes, time_ns, value, flags)
