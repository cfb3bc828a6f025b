"""Progress of long stages: counts and an estimated time left, one line on stderr now and then.

A stage that finishes within ``QUIET_SECONDS`` prints nothing (the bundled corpus stays quiet);
a long one — a 50 MB report's sentences to embed — says how far it is every ``EVERY_SECONDS``:

    embed: 12,288 of 38,744 sentences (32%), about 3 min left

Off unless the CLI turns it on (``collabmine run --progress``, the default); library calls and
tests stay silent.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

QUIET_SECONDS = 10.0
EVERY_SECONDS = 15.0

_enabled = False
_guard = threading.Lock()


def enable(on: bool = True) -> None:
    global _enabled
    _enabled = on


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Tracker:
    """Counts done out of ``total``; prints a line when enough time has passed since the last."""

    def __init__(self, stage: str, total: int, unit: str, *, stream: TextIO | None = None,
                 quiet: float = QUIET_SECONDS, every: float = EVERY_SECONDS, enabled: bool | None = None,
                 done: int = 0) -> None:
        self.stage, self.total, self.unit = stage, total, unit
        self.stream = stream or sys.stderr
        self.quiet, self.every = quiet, every
        self.enabled = _enabled if enabled is None else enabled
        # ``done``: counted before this process started (a resumed stage); the rate, and so the
        # time left, is of what this process does.
        self.done = self.resumed_at = done
        self.started = self.last = time.monotonic()
        self.lines = 0

    def advance(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < self.quiet or now - self.last < self.every or self.done >= self.total:
            return
        self.last = now
        rate = (self.done - self.resumed_at) / (now - self.started)
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        with _guard:
            self.stream.write(f"{self.stage}: {self.done:,} of {self.total:,} {self.unit} "
                              f"({100 * self.done / self.total:.0f}%), about {_duration(left)} left\n")
            self.stream.flush()
        self.lines += 1


def track(stage: str, total: int, unit: str, *, done: int = 0) -> Tracker:
    return Tracker(stage, total, unit, done=done)
