"""Run every benchmark in turn (``make bench``); figures go to stdout.

Each benchmark is a plain script that measures its own baseline in the same run and
reports ratios against it, because this machine is shared and noisy: absolute numbers
move from run to run, ratios much less. ``BENCH_LINES`` scales the lake benchmark down
for a quick look (default: 10 million lines); ``BENCH_DELTA_FLUSHES`` and
``BENCH_DELTA_ROWS`` the Delta commit benchmark (default 100 flushes of 20,000 rows).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = (
    "bench_ingest",
    "bench_decode_stall",
    "bench_access",
    "bench_lake",
    "bench_delta",
    "bench_stream_decoders",
    "bench_breaker",
    "bench_sdk_logging",
    "bench_tracing",
    "bench_remote_write",
    "bench_scrape",
    "bench_promql",
    "bench_logql",
    "bench_events",
    "bench_streams",
)


def main() -> int:
    failed = []
    for name in ORDER:
        script = HERE / f"{name}.py"
        if not script.exists():
            continue
        print(f"\n== {name} ==", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"-- {name}: {time.perf_counter() - started:.0f} s, exit {code}", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
