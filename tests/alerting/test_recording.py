"""Recording rules in-process: a real store and PromQL engine, a hand-moved clock.

What is checked: the samples a rule writes (name, labels, value, time), a later rule
reading an earlier rule's output of the same evaluation, staleness markers for series
that vanish, the refusal of two series with one label set, and that an evaluation a
crash cut short is finished at the next start, never written twice.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import orjson

from tracelake.alerting.manager import AlertManager, RecordRuntime
from tracelake.alerting.recording import next_evaluation_ms
from tracelake.ingest.decoders.sample_rows import SampleRows, series_of
from tracelake.ingest.tables.samples import samples_batch
from tracelake.query.promql import PromQLEngine
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.ipc import to_ipc

T0 = 1_700_000_000.0
RULES = """\
groups:
  - name: rec
    interval: 10s
    rules:
      - record: job:load:sum
        expr: sum by (job) (load)
        labels: {team: core}
      - record: job:load:double
        expr: job:load:sum * 2
"""


class Lake:
    """A store, its PromQL engine and an alert manager over one data directory."""

    def __init__(self, tmp_path: Path, rules: str = RULES) -> None:
        path = tmp_path / "rules.yml"
        path.write_text(rules)
        self.settings = Settings.load(
            env={},
            overrides={"data_dir": str(tmp_path / "data"), "alert_rule_files": [str(path)]},
        )
        self.now = T0
        self.open()

    def open(self) -> None:
        self.store = Store(self.settings)
        self.store.open()
        engine = PromQLEngine(self.store, self.settings)
        self.manager = AlertManager(
            self.settings, self.store, engine.vector, clock=lambda: self.now
        )
        self.group = self.manager.groups[0]

    def crash(self) -> None:
        self.store.wal.close()  # frames stay in the WAL; nothing is flushed

    def write(self, labels: dict[str, str], at_s: float, value: float) -> None:
        rows = SampleRows()
        rows.add(series_of(dict(labels), self.manager.limits), int(at_s * 1e6), value)
        asyncio.run(self.store.append("metrics", to_ipc(samples_batch(rows))))

    def samples(self, name: str) -> list[tuple[int, dict[str, str], float]]:
        rows = self.store.query(
            'SELECT epoch_ms("timestamp"), labels, value FROM metrics WHERE name = ? '
            'ORDER BY "timestamp", labels',
            [name],
            tables=["metrics"],
        ).rows
        return [(int(t), orjson.loads(labels), float(v)) for t, labels, v in rows]


def test_a_group_writes_each_rule_and_a_later_rule_reads_the_earlier_ones_output(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path)
    for inst, value in (("a", 1.0), ("b", 2.5)):
        lake.write({"__name__": "load", "job": "api", "instance": inst}, T0 - 5, value)
    asyncio.run(lake.manager.evaluate_group(lake.group, T0))
    at = int(T0 * 1000)
    assert lake.samples("job:load:sum") == [(at, {"job": "api", "team": "core"}, 3.5)]
    assert lake.samples("job:load:double") == [(at, {"job": "api", "team": "core"}, 7.0)]
    sums = lake.group.rules[0]
    assert isinstance(sums, RecordRuntime) and sums.health == "ok"
    assert sums.last_evaluation == T0


def test_a_series_that_vanishes_gets_a_staleness_marker(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write({"__name__": "load", "job": "api"}, T0 - 5, 1.0)
    lake.write({"__name__": "load", "job": "db"}, T0 - 5, 2.0)
    lake.write({"__name__": "load", "job": "api"}, T0 + 5 * 60, 1.0)  # db's is out of reach
    asyncio.run(lake.manager.evaluate_group(lake.group, T0))
    asyncio.run(lake.manager.evaluate_group(lake.group, T0 + 6 * 60))
    db = [s for s in lake.samples("job:load:sum") if s[1]["job"] == "db"]
    assert [t for t, _, _ in db] == [int(T0 * 1000), int((T0 + 360) * 1000)]
    assert db[0][2] == 2.0 and math.isnan(db[1][2])


def test_two_series_with_one_label_set_fail_the_rule_and_write_nothing(tmp_path: Path) -> None:
    lake = Lake(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - record: flat\n        expr: load\n"
        "        labels: {job: all}\n",
    )
    lake.write({"__name__": "load", "job": "api"}, T0 - 5, 1.0)
    lake.write({"__name__": "load", "job": "db"}, T0 - 5, 2.0)
    asyncio.run(lake.manager.evaluate_group(lake.group, T0))
    [rule] = lake.group.rules
    assert rule.health == "err"
    assert "same labelset after applying rule labels" in rule.last_error
    assert lake.samples("flat") == []


def test_an_evaluation_cut_short_by_a_crash_is_finished_at_start_not_repeated(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path)
    lake.write({"__name__": "load", "job": "api"}, T0 - 5, 4.0)
    first = lake.group.rules[0]
    assert isinstance(first, RecordRuntime)
    asyncio.run(lake.manager._evaluate_record(first, T0))  # then the process dies
    lake.crash()
    lake.now = T0 + 3
    lake.open()
    assert asyncio.run(lake.manager._recover(lake.group)) == int(T0 * 1000)
    at = int(T0 * 1000)
    assert lake.samples("job:load:sum") == [(at, {"job": "api", "team": "core"}, 4.0)]
    assert lake.samples("job:load:double") == [(at, {"job": "api", "team": "core"}, 8.0)]
    lake.crash()
    lake.open()  # checkpointed now: nothing to finish, nothing written again
    assert asyncio.run(lake.manager._recover(lake.group)) == at
    assert len(lake.samples("job:load:sum")) == len(lake.samples("job:load:double")) == 1


def test_evaluations_fall_on_the_interval_grid_after_the_last_written_one() -> None:
    assert next_evaluation_ms(T0 + 3.2, 10.0, None) == int(T0 * 1000) + 10_000
    assert next_evaluation_ms(T0 - 50, 10.0, int(T0 * 1000)) == int(T0 * 1000) + 10_000
    assert next_evaluation_ms(T0 + 0.0, 10.0, int(T0 * 1000)) == int(T0 * 1000) + 10_000
