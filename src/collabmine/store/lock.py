"""One run at a time per output folder: an advisory lock file (``fcntl.flock``).

The kernel releases the lock when its holder dies, even by SIGKILL, so a killed run never
leaves a stale lock behind. A second run waits up to ``wait`` seconds, then stops with E060.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..errors import Errors, StoreError

LOCK_NAME = ".collabmine.lock"


@contextmanager
def run_lock(out_dir: Path, *, wait: float = 0.0, poll: float = 0.5) -> Iterator[Path]:
    """Hold the output folder's lock for the duration of the ``with`` block."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_NAME
    handle = open(path, "a+", encoding="utf-8")
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(Errors.E060.format(path=path, holder=_holder(path), wait=int(wait))) from None
                time.sleep(poll)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
        handle.flush()
        yield path
    finally:
        handle.close()  # closing the descriptor releases the lock


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        return f"pid {info.get('pid')}, since {info.get('since')}"
    except (OSError, ValueError):
        return "unknown process"
