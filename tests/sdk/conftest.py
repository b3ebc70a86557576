"""Fixtures of the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sdk.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local intake on a free port, stopped (and released) after the test."""
    r = Receiver()
    yield r
    r.stop()
