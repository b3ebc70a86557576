"""The fault schedule of the demo: a small table of phases, read as a timeline.

Why a table: the story the demo tells (steady traffic, payments degrades, its circuit
in orders opens and fallbacks answer, payments recovers, the circuit closes) should be
readable and changeable in one place. Nothing here does I/O; the runner asks which
phase a moment falls in, and ``--speed`` compresses the same story for tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tracelake.demo.faults import Fault


@dataclass(frozen=True, slots=True)
class Phase:
    """From ``at`` seconds into a cycle, payments behaves as ``fault`` says."""

    at: float
    name: str
    fault: Fault = field(default_factory=Fault)
    note: str = ""


#: One cycle of the story, in seconds at ``--speed 1``; it repeats every ``CYCLE_S``.
PHASES: tuple[Phase, ...] = (
    Phase(0, "steady", Fault(), "all four services healthy"),
    Phase(
        20,
        "payments degraded",
        Fault(error_rate=0.6, latency_ms=800),
        "payments fails 60% of charges and answers 800 ms late: its circuit in orders "
        "opens and orders answers with its fallback (payment pending)",
    ),
    Phase(80, "payments recovered", Fault(), "the circuit half-opens, its trial succeeds, closes"),
)
CYCLE_S = 180.0


@dataclass(frozen=True, slots=True)
class Schedule:
    """A cycle of phases, with every time divided by ``speed``."""

    phases: tuple[Phase, ...] = PHASES
    cycle: float = CYCLE_S
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not self.phases or self.phases[0].at != 0:
            raise ValueError("a schedule starts with a phase at 0 s")
        times = [p.at for p in self.phases]
        if times != sorted(times) or len(set(times)) != len(times):
            raise ValueError("phases must be in increasing order of time")
        if self.cycle <= times[-1]:
            raise ValueError(f"the cycle ({self.cycle} s) must be longer than the last phase")
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, got {self.speed}")

    def phase_at(self, elapsed: float) -> Phase:
        """The phase in force ``elapsed`` (wall-clock, scaled) seconds after the start."""
        into = (max(0.0, elapsed) * self.speed) % self.cycle
        current = self.phases[0]
        for phase in self.phases:
            if phase.at <= into:
                current = phase
        return current

    def changes(self) -> Iterator[tuple[float, Phase]]:
        """Every phase change, forever: (wall-clock seconds after the start, phase)."""
        start = 0.0
        while True:
            for phase in self.phases:
                yield (start + phase.at) / self.speed, phase
            start += self.cycle
