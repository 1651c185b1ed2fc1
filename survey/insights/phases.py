"""Time and memory of each phase of an analysis run, so a slow or big run says where it spent them.

:class:`PhaseLog` wraps each step of :func:`survey.insights.service.run_analysis`
(reading, labelling, grouping, writing the report, storing the run) and keeps,
per phase, its wall time, CPU time and the process's peak resident memory
*during that phase*. On Linux the peak is reset at the start of every phase
(``/proc/self/clear_refs``), so each phase reports its own high-water mark;
elsewhere it is the peak of the process so far. Each phase is also logged at
INFO on ``survey.insights``; ``flask analyze --json`` prints them
(``benchmarks/analyze_speed.py`` reads them from there).
"""

from __future__ import annotations

import contextlib
import logging
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("survey.insights")

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Start a new high-water mark of resident memory (Linux ≥ 4.0); whether it worked."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _peak_kb() -> int:
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, kilobytes elsewhere


class PhaseLog:
    """The phases of one run, in the order they ran."""

    def __init__(self) -> None:
        self.phases: list[dict] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        own_peak = _reset_peak()
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            entry = {"phase": name, "seconds": round(time.perf_counter() - wall, 2),
                     "cpu_seconds": round(time.process_time() - cpu, 2),
                     "peak_mb": round(_peak_kb() / 1024), "peak_is_phase_own": own_peak}
            rss = _status_kb("VmRSS")
            if rss is not None:
                entry["rss_after_mb"] = round(rss / 1024)
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            if children.ru_maxrss:  # labelling child processes (flask analyze --workers), once they ended
                entry["children_peak_mb"] = round(children.ru_maxrss / 1024)
                entry["children_cpu_seconds"] = round(children.ru_utime + children.ru_stime, 2)
            self.phases.append(entry)
            log.info("analysis phase %s: %.1f s wall, %.1f s CPU, peak %d MB", name, entry["seconds"],
                     entry["cpu_seconds"], entry["peak_mb"])


def no_phase(name: str) -> contextlib.AbstractContextManager:
    """For callers that keep no phases."""
    return contextlib.nullcontext()
