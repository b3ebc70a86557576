"""Window assignment: epoch-aligned tumbling and sliding windows, and which are due."""

from __future__ import annotations

import pytest

from tracelake.streams.windows import Window, WindowSpec

S = 1_000_000  # one second in µs


def test_tumbling_windows_hold_each_instant_once_and_are_epoch_aligned() -> None:
    spec = WindowSpec(60 * S, 60 * S)
    assert spec.containing(125 * S) == [Window(120 * S, 180 * S)]
    assert spec.containing(120 * S) == [Window(120 * S, 180 * S)]  # start is inclusive
    assert spec.containing(180 * S - 1) == [Window(120 * S, 180 * S)]  # end is exclusive


def test_sliding_windows_hold_each_instant_size_over_slide_times() -> None:
    spec = WindowSpec(60 * S, 20 * S)
    assert spec.containing(125 * S) == [
        Window(80 * S, 140 * S),
        Window(100 * S, 160 * S),
        Window(120 * S, 180 * S),
    ]


def test_due_yields_the_windows_after_the_committed_end_whose_lateness_has_passed() -> None:
    spec = WindowSpec(10 * S, 10 * S)
    due = list(spec.due(committed_end_us=100 * S, now_us=135 * S, lateness_us=5 * S))
    assert due == [Window(100 * S, 110 * S), Window(110 * S, 120 * S), Window(120 * S, 130 * S)]
    assert list(spec.due(130 * S, 139 * S, 5 * S)) == []  # [130, 140) closes at 145
    assert spec.next_due_us(130 * S, 5 * S) == 145 * S


def test_sliding_windows_come_due_in_order_of_their_end() -> None:
    spec = WindowSpec(30 * S, 10 * S)
    due = list(spec.due(committed_end_us=60 * S, now_us=90 * S, lateness_us=0))
    assert due == [Window(40 * S, 70 * S), Window(50 * S, 80 * S), Window(60 * S, 90 * S)]


def test_the_first_window_after_a_start_is_the_one_that_holds_the_start() -> None:
    spec = WindowSpec(60 * S, 60 * S)
    start = 125 * S
    first = spec.after(spec.ending_at_or_before(start).end_us)
    assert first == Window(120 * S, 180 * S)


def test_windows_before_the_epoch_are_cut_on_the_same_grid() -> None:
    spec = WindowSpec(60 * S, 60 * S)
    assert spec.containing(-1) == [Window(-60 * S, 0)]


@pytest.mark.parametrize(("size", "slide"), [(0, 1), (10, 0), (10, 20)])
def test_a_window_needs_a_positive_size_and_a_slide_no_longer_than_itself(
    size: int, slide: int
) -> None:
    with pytest.raises(ValueError):
        WindowSpec(size, slide)
