"""Where a run's time goes: named sections of wall time, summed over the run.

Costs a ``perf_counter`` call per section. ``suite run --timings FILE`` writes
the sums, and ``make bench`` turns them into the per-trial cost breakdown.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

_seconds: dict[str, float] = defaultdict(float)
_calls: dict[str, int] = defaultdict(int)


@contextmanager
def section(name: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        _seconds[name] += time.perf_counter() - start
        _calls[name] += 1


def snapshot() -> dict[str, dict]:
    return {name: {"seconds": round(_seconds[name], 4), "calls": _calls[name]} for name in sorted(_seconds)}


def reset() -> None:
    _seconds.clear()
    _calls.clear()


def write(path: Path) -> None:
    Path(path).write_text(json.dumps(snapshot(), indent=1) + "\n")
