"""Prometheus remote_write 1.0 (``POST /prometheus/api/v1/write``) in, metric samples out.

The body is a ``prompb.WriteRequest`` in protobuf, compressed with snappy's *block*
format (never the framed one). Its declared length is checked against the body limit
before anything is inflated, so a small body cannot claim gigabytes. Parsing runs in
protobuf's C core through the message classes of ``prompb.py``. A request shaped as
Prometheus sends it (one sample per series, nothing to reject) is turned into columns
without a Python loop over protobuf objects; any other request goes series by series.
Both give the same rows.

Every series must carry ``__name__`` and stay within the label limits; a series that
breaks a rule is rejected with its reason (``line`` = its 1-based position in the
request) and the others are kept. Sample values are stored as sent, NaN, ±Inf and the
staleness marker included. Native histograms are refused per series (the lake stores
float samples); exemplars and metadata are not stored.
"""

from __future__ import annotations

import snappy
from google.protobuf.message import DecodeError as ProtobufDecodeError

from tracelake.errors import DecodeError, PayloadTooLarge
from tracelake.ingest.decoders.prompb import (
    FlatRequest,
    Label,
    LabelsRequest,
    RawWriteRequest,
    SeriesLabels,
    ShapeRequest,
)
from tracelake.ingest.decoders.sample_rows import (
    DEFAULT_LIMITS,
    MAX_US,
    MIN_US,
    InvalidSeries,
    SampleRows,
    Series,
    SeriesLimits,
    series_of,
)
from tracelake.model import RecordError

#: The message type remote_write 2.0 names in Content-Type; 1.0 is ``prometheus.WriteRequest``.
V2_MESSAGE = "io.prometheus.write.v2.Request"
V1_MESSAGE = "prometheus.WriteRequest"


def protocol_of(content_type: str | None) -> str | None:
    """``"1.0"`` for a remote_write 1.0 Content-Type, else ``None`` (→ 415).

    A missing Content-Type counts as 1.0 (older senders omit it); 2.0's
    ``proto=io.prometheus.write.v2.Request`` is not accepted, which its spec allows.
    """
    if not content_type:
        return "1.0"
    media, _, params = content_type.partition(";")
    if media.strip().lower() not in ("application/x-protobuf", "application/protobuf"):
        return None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "proto" and value.strip().strip('"') != V1_MESSAGE:
            return None
    return "1.0"


def snappy_length(body: bytes) -> int:
    """The uncompressed length a snappy block declares in its leading varint."""
    length = shift = 0
    for i, byte in enumerate(body[:10]):
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            return length
        shift += 7
        if i == 4:  # snappy lengths are 32-bit: five bytes at most
            break
    raise DecodeError("body is not snappy block data: bad length header")


def decompress(body: bytes, content_encoding: str | None, max_body_bytes: int) -> bytes:
    """The protobuf bytes of a remote_write body, bounded by ``max_body_bytes``."""
    encoding = (content_encoding or "snappy").strip().lower()
    if encoding != "snappy":
        raise DecodeError(
            f"unsupported Content-Encoding {content_encoding!r}: remote_write bodies are snappy"
        )
    declared = snappy_length(body)
    if declared > max_body_bytes:
        raise PayloadTooLarge(
            f"body inflates to {declared} bytes, over the limit of {max_body_bytes}: "
            "lower max_samples_per_send in remote_write's queue_config"
        )
    try:
        data: bytes = snappy.uncompress(body)
    except snappy.UncompressError as e:
        raise DecodeError(
            "body is not valid snappy block data (remote_write uses the block format, "
            "not the framed one)"
        ) from e
    return data


def decode_write_request(
    body: bytes,
    *,
    content_encoding: str | None = "snappy",
    max_body_bytes: int = 64 << 20,
    limits: SeriesLimits = DEFAULT_LIMITS,
) -> tuple[SampleRows, list[RecordError]]:
    """Decode a snappy-compressed ``WriteRequest`` into samples and rejected series.

    Raises :class:`DecodeError` for a body that is not snappy or not a WriteRequest,
    :class:`PayloadTooLarge` when it would inflate past ``max_body_bytes``.
    """
    data = decompress(body, content_encoding, max_body_bytes)
    cache = _SERIES.get(limits)
    rows = _one_sample_per_series(data, cache, limits)
    if rows is not None:
        return rows, []
    return _series_by_series(data, cache, limits)


def _one_sample_per_series(data: bytes, cache: _Bucket, limits: SeriesLimits) -> SampleRows | None:
    """The samples of a request whose every series has one sample and nothing is wrong.

    That is what Prometheus sends (each queued sample is its own ``TimeSeries``), and
    it needs no Python loop over protobuf objects: three parses in protobuf's C core
    give one label key per series and every sample in order (``prompb``'s views), so
    the i-th sample belongs to the i-th series. ``None`` means "not that shape, or
    something to reject": the series-by-series decoder then gives the exact answer.
    """
    try:
        shape = ShapeRequest.FromString(data)
        shape.DiscardUnknownFields()
        count = len(shape.timeseries)
        # 4 bytes per series ⇔ every series has samples and none has histograms
        if shape.ByteSize() != 4 * count:
            return None
        samples = FlatRequest.FromString(data).timeseries.samples
        if len(samples) != count:  # some series has more than one sample
            return None
        keyed = LabelsRequest.FromString(data)
        keyed.DiscardUnknownFields()
    except ProtobufDecodeError:
        return None
    series = []
    known = cache.get
    for key in [s.SerializeToString() for s in keyed.timeseries]:
        identity = known(key)
        if identity is None:
            identity = _identity(tuple(SeriesLabels.FromString(key).labels), limits)
            cache.put(key, identity)
        if type(identity) is not Series:
            return None
        series.append(identity)
    millis = [sample.timestamp for sample in samples]
    if millis and (min(millis) < MIN_US // 1000 or max(millis) > MAX_US // 1000):
        return None
    rows = SampleRows()
    rows.timestamp = [ms * 1000 for ms in millis]
    rows.value = [sample.value for sample in samples]
    rows.series = series
    return rows


def _series_by_series(
    data: bytes, cache: _Bucket, limits: SeriesLimits
) -> tuple[SampleRows, list[RecordError]]:
    """Any request, one series at a time: rejects are named, the rest is kept."""
    request = RawWriteRequest()
    try:
        request.ParseFromString(data)
    except ProtobufDecodeError as e:
        raise DecodeError(f"body is not a valid remote_write WriteRequest protobuf: {e}") from e
    rows = SampleRows()
    errors: list[RecordError] = []
    for index, series in enumerate(request.timeseries, 1):
        key = tuple(series.labels)
        identity = cache.get(key)
        if identity is None:
            identity = _identity(key, limits)
            cache.put(key, identity)
        try:
            if type(identity) is str:
                raise InvalidSeries(identity)
            assert isinstance(identity, Series)
            if series.histograms:
                raise InvalidSeries(
                    f"{identity.name}: native histograms are not supported; "
                    "send classic histograms (_bucket/_sum/_count)"
                )
            for sample in series.samples:
                rows.add(identity, sample.timestamp * 1000, sample.value)
        except InvalidSeries as e:
            errors.append(RecordError(index, str(e)))
    return rows, errors


def _identity(encoded_labels: tuple[bytes, ...], limits: SeriesLimits) -> Series | str:
    """The series of a label set seen for the first time, or why it is invalid."""
    try:
        labels = {}
        for raw in encoded_labels:
            label = Label.FromString(raw)
            labels[label.name] = label.value
        if len(labels) != len(encoded_labels):
            raise InvalidSeries("a label name is repeated")
        return series_of(labels, limits)
    except InvalidSeries as e:
        return str(e)
    except ProtobufDecodeError as e:
        return f"a label is not a valid prompb.Label: {e}"


#: A series' labels as encoded on the wire (see ``SeriesCache``).
SeriesKey = tuple[bytes, ...] | bytes


class SeriesCache:
    """Label sets already turned into series, per worker process and limits.

    A Prometheus sends the same series at every interval, so in steady state nearly
    every series is a hit and costs a key and a dict lookup instead of a decode,
    checks and JSON. The key is the series' labels as encoded on the wire: a tuple of
    encoded labels, or (on the fast path) one ``SeriesLabels`` serialisation; both are
    exact, and the two kinds never compare equal. Bounded: cleared when full (a cheap
    reset; it refills at once).
    """

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._by_limits: dict[SeriesLimits, dict[SeriesKey, Series | str]] = {}

    def get(self, limits: SeriesLimits) -> _Bucket:
        return _Bucket(self._by_limits.setdefault(limits, {}), self.size)


class _Bucket:
    __slots__ = ("entries", "get", "size")

    def __init__(self, entries: dict[SeriesKey, Series | str], size: int) -> None:
        self.entries = entries
        self.size = size
        self.get = entries.get

    def put(self, key: SeriesKey, value: Series | str) -> None:
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[key] = value


_SERIES = SeriesCache()


def rejection_message(rejected: list[RecordError], shown: int = 5) -> str:
    """One line naming the first few rejected series and why."""
    first = "; ".join(f"series {e.line}: {e.error}" for e in rejected[:shown])
    more = f"; and {len(rejected) - shown} more" if len(rejected) > shown else ""
    return f"{len(rejected)} series rejected: {first}{more}"
