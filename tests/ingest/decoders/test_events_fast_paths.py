"""The column-at-a-time fast paths of event ingest give exactly what the per-event rules give.

``decode_events`` checks a chunk of events a column at a time and falls back to ``_add``
(one event at a time, the rules with their reasons) when anything in the chunk is off;
``events_batch`` converts epoch integers of one unit in one vector operation and falls
back to ``parse_timestamps``. Here both are compared with the slow path they replace,
on generated events, good and bad.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelake.ingest.decoders.events import (
    CHUNK,
    EventColumns,
    EventError,
    _add,
    _all_valid,
    _split,
    decode_events,
)
from tracelake.ingest.tables.events import events_batch
from tracelake.pipeline.timestamps import EARLIEST_US, MAX_FUTURE_US, parse_timestamps

LIMIT = 4096  # above any payload ``good_event`` makes
NOW_US = int(time.time() * 1e6)

hex_id = st.text("0123456789abcdefABCDEF", min_size=16, max_size=16)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
good_fields: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(["order_placed", "Order.Placed-v2", "refund", "x" * 128]),
    "payload": st.dictionaries(st.text(max_size=8), json_value, max_size=3),
    "key": st.none() | st.text(max_size=40) | st.integers(-(2**63), 2**63 - 1),
    "service": st.none() | st.text(max_size=30),
    "trace_id": st.none() | st.just("") | hex_id | hex_id.map(lambda h: h + h) | st.just("0" * 32),
    "span_id": st.none() | st.just("") | hex_id | st.just("0" * 16),
    "timestamp": st.none()
    | st.integers(EARLIEST_US, NOW_US)
    | st.integers(EARLIEST_US // 1000, NOW_US // 1000)
    | st.floats(1e9, 2e9)
    | st.just("2026-01-02T03:04:05Z"),
}
bad_fields: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(["../etc", "a b", "", 7, None, ["a"], {"a": 1}, "y" * 129]),
    "payload": st.sampled_from([None, [1], "text", 3, {"blob": "z" * LIMIT}]),
    "key": st.sampled_from([True, 1.5, {"k": 1}, ["k"], "k" * 513]),
    "service": st.sampled_from([7, True, ["s"], "s" * 257]),
    "trace_id": st.sampled_from(["xyz", "abc", "a" * 20, 0, False, {}, [], "g" * 32]),
    "span_id": st.sampled_from(["a" * 32, "zz" * 8, 0, {}, []]),
    "timestamp": st.sampled_from([True, [1], {"t": 1}]),
    "amount": st.integers(-(2**63), 2**63 - 1),
}


@st.composite
def good_event(draw: st.DrawFn) -> dict[str, Any]:
    event = {"type": draw(good_fields["type"]), "payload": draw(good_fields["payload"])}
    for name in draw(
        st.sets(st.sampled_from(["key", "service", "trace_id", "span_id", "timestamp"]))
    ):
        event[name] = draw(good_fields[name])
    return event


@st.composite
def bad_item(draw: st.DrawFn) -> Any:
    """An item the rules refuse: not an object, a field missing, or one bad field."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["a string", 3, None, True]))
    event = draw(good_event())
    name = draw(st.sampled_from(sorted(bad_fields)))
    if name in ("type", "payload") and draw(st.booleans()):
        del event[name]
    else:
        event[name] = draw(bad_fields[name])
    return event


def one_by_one(body: bytes) -> tuple[EventColumns, list[EventError]]:
    """The reference: every item through the per-event rules alone."""
    indexes, items, errors = _split(body, LIMIT)
    cols = EventColumns()
    for index, item in zip(indexes, items, strict=True):
        reason = _add(cols, index, item, LIMIT)
        if reason is not None:
            errors.append(EventError(index, reason))
    errors.sort(key=lambda e: e.index)
    return cols, errors


def ndjson(items: list[Any]) -> bytes:
    return b"\n".join(orjson.dumps(i) for i in items) + b"\n"


@settings(max_examples=150, deadline=None)
@given(st.lists(good_event(), min_size=1, max_size=40))
def test_every_good_event_takes_the_fast_path_with_the_same_columns(events: list[Any]) -> None:
    body = ndjson(events)
    indexes, items, _ = _split(body, LIMIT)
    assert _all_valid(indexes, items, LIMIT) is not None
    assert decode_events(body, LIMIT) == one_by_one(body)


@settings(max_examples=300, deadline=None)
@given(st.lists(good_event(), max_size=20), bad_item(), st.integers(0, 20), st.booleans())
def test_one_bad_item_among_good_events_gets_its_reason_and_the_rest_are_kept(
    events: list[Any], bad: Any, at: int, array: bool
) -> None:
    items = [*events[:at], bad, *events[at:]]
    body = orjson.dumps(items) if array else ndjson(items)
    cols, errors = decode_events(body, LIMIT)
    assert (cols, errors) == one_by_one(body)
    assert [e.index for e in errors] == [min(at, len(events))]


@settings(max_examples=100, deadline=None)
@given(st.lists(good_event() | bad_item(), min_size=1, max_size=30))
def test_any_mix_of_items_gets_the_same_columns_and_reasons(items: list[Any]) -> None:
    body = ndjson(items)
    assert decode_events(body, LIMIT) == one_by_one(body)


def test_one_bad_event_in_a_large_batch_costs_only_its_own_chunk() -> None:
    events = [{"type": "a", "payload": {"n": i}, "key": f"k{i}"} for i in range(2 * CHUNK + 5)]
    events[CHUNK + 3]["type"] = "a b"
    body = ndjson(events)
    cols, errors = decode_events(body, LIMIT)
    assert (cols, errors) == one_by_one(body)
    assert [e.index for e in errors] == [CHUNK + 3] and len(cols) == len(events) - 1


def test_a_line_holding_two_events_is_read_line_by_line_not_shifted() -> None:
    body = b'{"type":"a","payload":{}}, {"type":"b","payload":{}}\n{"type":"c","payload":{}}\n'
    cols, errors = decode_events(body, LIMIT)
    assert cols.type == ["c"] and cols.index == [1]
    assert [(e.index, e.reason.split(":")[0]) for e in errors] == [(0, "not JSON")]


def columns(timestamps: list[Any]) -> EventColumns:
    n = len(timestamps)
    return EventColumns(
        index=list(range(n)),
        timestamp=timestamps,
        type=["a"] * n,
        key=[None] * n,
        service=[None] * n,
        trace_id=[None] * n,
        span_id=[None] * n,
        payload=[b"{}"] * n,
    )


high = NOW_US + MAX_FUTURE_US
epoch_ints = (
    st.sampled_from(
        [
            EARLIEST_US,
            high,
            high + 1,
            EARLIEST_US - 1,
            EARLIEST_US // 1_000_000,
            10**11 - 1,
            10**11,
            10**14 - 1,
            10**14,
            10**17 - 1,
            10**17,
            NOW_US * 1000,
            0,
            -5,
        ]
    )
    | st.integers(EARLIEST_US // 1_000_000, high // 1_000_000)
    | st.integers(EARLIEST_US // 1000, high // 1000)
    | st.integers(EARLIEST_US, high)
)


@settings(max_examples=150, deadline=None)
@given(st.lists(epoch_ints, min_size=1, max_size=20))
def test_epoch_integers_become_the_times_parse_timestamps_gives(raw: list[int]) -> None:
    errors: list[EventError] = []
    batch = events_batch(columns(raw), errors, NOW_US)
    expected, bad = parse_timestamps(raw, NOW_US)
    keep = [i for i in range(len(raw)) if i not in bad]
    assert batch.column("timestamp").equals(expected.take(pa.array(keep, pa.int64())))
    assert [(e.index, e.reason) for e in errors] == sorted(bad.items())
