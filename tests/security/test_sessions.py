"""UI sessions end at logout, at expiry, and the oldest make room for new ones."""

from __future__ import annotations

from tracelake.security.sessions import Sessions
from tracelake.security.tokens import Token

READER = Token("grafana", frozenset({"read"}), "0" * 64)


def test_a_session_lives_until_its_ttl_passes() -> None:
    now = [1000.0]
    sessions = Sessions(ttl_s=60, clock=lambda: now[0])
    sid = sessions.create(READER)
    assert len(sid) >= 40 and sessions.get(sid) is READER
    now[0] += 59.9
    assert sessions.get(sid) is READER
    now[0] += 0.2
    assert sessions.get(sid) is None and len(sessions) == 0


def test_logout_ends_a_session_and_unknown_ids_find_nothing() -> None:
    sessions = Sessions()
    sid = sessions.create(READER)
    sessions.end(sid)
    sessions.end("never-existed")
    assert sessions.get(sid) is None


def test_the_table_is_bounded_and_drops_the_oldest() -> None:
    sessions = Sessions(max_sessions=3)
    ids = [sessions.create(READER) for _ in range(5)]
    assert len(sessions) == 3
    assert [sessions.get(i) for i in ids] == [None, None, READER, READER, READER]
