"""The remote_write 1.0 messages of Prometheus's ``prompb`` package, as protobuf classes.

Declared in code through ``protoschema`` (why: see there); parsing happens in
protobuf's C core (upb), which is what makes 200,000 samples/s possible — a
hand-written wire decoder in Python was 10x slower.

Field names and numbers are those of ``prompb/types.proto`` and ``prompb/remote.proto``
in github.com/prometheus/prometheus (Apache-2.0)::

    message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2;
                           repeated MetricMetadata metadata = 3; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
                           repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }

``RawWriteRequest`` reads the same bytes with each label left encoded, which makes a
cheap, exact key for the receiver's cache of series (Prometheus sends the same series
at every scrape interval). ``exemplars`` and ``metadata`` are left undeclared (the parser skips them);
``histograms`` (native histograms) is declared as opaque ``bytes``, which has the same
wire type as an embedded message, so a series carrying them can be counted and
rejected without decoding them.

Three more views of the same bytes let the receiver skip the per-series Python loop
when, as Prometheus sends it, every series carries exactly one sample (see
``remote_write.decode_write_request``); each relies only on protobuf's own rules:

- ``LabelsRequest``: each series with only its labels (the rest discarded), so
  ``SerializeToString()`` of one series is one exact, length-prefixed cache key.
- ``ShapeRequest``: per series, whether it has samples and histograms (empty marker
  messages). Serialised, a series with samples and no histograms is 4 bytes exactly.
- ``FlatRequest``: ``timeseries`` declared *singular*, so the parser merges every
  series into one and appends all samples of the request, in order, to one list.
"""

from __future__ import annotations

from typing import Any

from tracelake.ingest.decoders.protoschema import OPTIONAL, REPEATED, F, message, message_classes

_PACKAGE = "tracelake.prompb"

_CLASSES = message_classes(
    "tracelake/prompb/remote.proto",
    _PACKAGE,
    [
        message(
            "Label",
            ("name", 1, OPTIONAL, F.TYPE_STRING, ""),
            ("value", 2, OPTIONAL, F.TYPE_STRING, ""),
        ),
        message(
            "Sample",
            ("value", 1, OPTIONAL, F.TYPE_DOUBLE, ""),
            ("timestamp", 2, OPTIONAL, F.TYPE_INT64, ""),
        ),
        message(
            "TimeSeries",
            ("labels", 1, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.Label"),
            ("samples", 2, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.Sample"),
            ("histograms", 4, REPEATED, F.TYPE_BYTES, ""),
        ),
        message(
            "WriteRequest",
            ("timeseries", 1, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.TimeSeries"),
        ),
        # The same wire format, with each Label left as its encoded bytes: the
        # receiver's key into its cache of series it has seen before.
        message(
            "RawTimeSeries",
            ("labels", 1, REPEATED, F.TYPE_BYTES, ""),
            ("samples", 2, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.Sample"),
            ("histograms", 4, REPEATED, F.TYPE_BYTES, ""),
        ),
        message(
            "RawWriteRequest",
            ("timeseries", 1, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.RawTimeSeries"),
        ),
        message("SeriesLabels", ("labels", 1, REPEATED, F.TYPE_BYTES, "")),
        message(
            "LabelsRequest",
            ("timeseries", 1, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.SeriesLabels"),
        ),
        message("Present"),
        message(
            "SeriesShape",
            ("samples", 2, OPTIONAL, F.TYPE_MESSAGE, f".{_PACKAGE}.Present"),
            ("histograms", 4, OPTIONAL, F.TYPE_MESSAGE, f".{_PACKAGE}.Present"),
        ),
        message(
            "ShapeRequest",
            ("timeseries", 1, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.SeriesShape"),
        ),
        message("AllSamples", ("samples", 2, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.Sample")),
        message(
            "FlatRequest",
            ("timeseries", 1, OPTIONAL, F.TYPE_MESSAGE, f".{_PACKAGE}.AllSamples"),
        ),
    ],
)

Label: Any = _CLASSES["Label"]
Sample: Any = _CLASSES["Sample"]
TimeSeries: Any = _CLASSES["TimeSeries"]
WriteRequest: Any = _CLASSES["WriteRequest"]
RawTimeSeries: Any = _CLASSES["RawTimeSeries"]
RawWriteRequest: Any = _CLASSES["RawWriteRequest"]
SeriesLabels: Any = _CLASSES["SeriesLabels"]
LabelsRequest: Any = _CLASSES["LabelsRequest"]
ShapeRequest: Any = _CLASSES["ShapeRequest"]
FlatRequest: Any = _CLASSES["FlatRequest"]
