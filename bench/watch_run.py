"""Sample a running ``collabmine run``'s resident memory and current stage every few seconds.

``peak_mb_after_stage`` in the runs table is the process's high-water mark when each stage
ended, so a stage that stays below an earlier one is invisible there; this shows each stage's own
peak, and how memory moves within a stage (flat, or growing with the sentences done).

    .venv/bin/python bench/watch_run.py OUT_DIR LOG_FILE    # start it beside the run

One line per sample (time, stage, RSS MB); on the run's end, one line with each stage's peak.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path


def _rss_mb(pid: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) // 1024


def _stage(out: Path) -> str:
    con = sqlite3.connect(f"file:{out}/collabmine.sqlite?mode=ro", uri=True, timeout=1)
    try:
        row = con.execute("SELECT stage FROM runs ORDER BY started DESC LIMIT 1").fetchone()
    finally:
        con.close()
    return row[0] if row and row[0] else "start"


def _running_pid(out: Path) -> str | None:
    # The run's lock file names its process, however the run was started (relative or absolute
    # paths, another interpreter); a lock left by a killed run names a process that is gone.
    try:
        pid = str(json.loads((out / ".collabmine.lock").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def main(out: Path, log_path: Path, every: float = 10.0) -> None:
    peaks: dict[str, int] = {}
    with open(log_path, "a", encoding="utf-8") as log:
        while True:
            pid = _running_pid(out)
            if pid is None:
                if peaks:  # the run has ended
                    print("peaks", json.dumps(peaks), file=log, flush=True)
                    return
                time.sleep(every)
                continue
            try:
                rss, stage = _rss_mb(pid), _stage(out)
            except (OSError, sqlite3.Error, StopIteration):
                time.sleep(every)  # the run is starting or ending, or the store is busy
                continue
            peaks[stage] = max(peaks.get(stage, 0), rss)
            print(time.strftime("%H:%M:%S"), stage, rss, file=log, flush=True)
            time.sleep(every)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
