"""The ``runs`` and ``changes`` tables: what each run did, with what, and what it changed.

Every function opens its own short connection, so tasks on other threads or Dask workers can
report without sharing one.
"""

from __future__ import annotations

import json
import resource
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import store
from .errors import Errors, StoreError
from .settings import Settings
from .versions import code_version, config_hash, model_versions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Run:
    """A run in progress: its id and the wall time spent per stage."""

    run_id: str
    store_path: Path
    durations: dict[str, float] = field(default_factory=dict)
    #: The process's peak resident memory (MB) when each stage ended: where it jumps is the stage
    #: that needed it (worker processes of a Dask cluster are not included).
    peak_mb: dict[str, float] = field(default_factory=dict)
    _stage: str | None = None
    _since: float = 0.0

    def stage(self, name: str) -> None:
        """Close the current stage's clock and start ``name`` (also recorded in the store, so a
        killed run shows where it stopped)."""
        self._close()
        self._stage, self._since = name, time.perf_counter()
        con = store.connect(self.store_path)
        try:
            con.execute("UPDATE runs SET stage=? WHERE run_id=?", (name, self.run_id))
        finally:
            con.close()

    def _close(self) -> None:
        if self._stage is not None:
            self.durations[self._stage] = round(self.durations.get(self._stage, 0.0)
                                                + time.perf_counter() - self._since, 3)
            self.peak_mb[self._stage] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            self._stage = None


def start_run(settings: Settings, *extra_config) -> Run:
    """Record a new run; runs still marked running were killed (the lock proves they are gone)."""
    run = Run(uuid.uuid4().hex[:12], settings.store_path)
    con = store.connect(settings.store_path)
    try:
        with store.transaction(con):
            con.execute("UPDATE runs SET status='abandoned', error='the process stopped before the run ended "
                        "(killed or crashed); its partial work was kept only where complete' WHERE status='running'")
            con.execute("INSERT INTO runs (run_id, started, status, code_version, model_versions, config_hash)"
                        " VALUES (?,?,?,?,?,?)",
                        (run.run_id, _now(), "running", code_version(), json.dumps(model_versions(settings.models_dir)),
                         config_hash(settings, *extra_config)))
    finally:
        con.close()
    return run


def finish_run(run: Run, *, status: str, counts: dict | None = None, corpus_hash: str | None = None,
               error: str | None = None) -> None:
    run._close()
    con = store.connect(run.store_path)
    try:
        con.execute("UPDATE runs SET finished=?, status=?, counts=?, durations=?, corpus_hash=?, error=?"
                    " WHERE run_id=?", (_now(), status, json.dumps(counts or {}, default=str),
                                        json.dumps(run.durations), corpus_hash, error, run.run_id))
        if run.peak_mb:
            counts = json.loads(con.execute("SELECT counts FROM runs WHERE run_id=?", (run.run_id,)).fetchone()[0])
            con.execute("UPDATE runs SET counts=? WHERE run_id=?",
                        (json.dumps(counts | {"peak_mb_after_stage": run.peak_mb}, default=str), run.run_id))
    finally:
        con.close()


def record_changes(run: Run, changes: list[tuple[str, str, str]]) -> None:
    """(kind, subject, detail) rows for this run."""
    con = store.connect(run.store_path)
    try:
        with store.transaction(con):
            con.executemany("INSERT INTO changes VALUES (?,?,?,?)", [(run.run_id, *c) for c in changes])
    finally:
        con.close()


def list_runs(settings: Settings, *, limit: int = 20) -> list[dict]:
    con = store.connect(settings.store_path, create=False)
    try:
        return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY started DESC, rowid DESC LIMIT ?", (limit,))]
    finally:
        con.close()


def last_changes(settings: Settings, *, run_id: str | None = None) -> tuple[dict, list[dict]]:
    """The last finished run (or ``run_id``) and what it changed."""
    con = store.connect(settings.store_path, create=False)
    try:
        query = ("SELECT * FROM runs WHERE run_id=?", (run_id,)) if run_id else \
            ("SELECT * FROM runs WHERE status='ok' ORDER BY started DESC, rowid DESC LIMIT 1", ())
        run = con.execute(*query).fetchone()
        if run is None:
            raise StoreError(Errors.E061.format(path=settings.store_path))
        changes = [dict(r) for r in con.execute("SELECT kind, subject, detail FROM changes WHERE run_id=?"
                                                " ORDER BY rowid", (run["run_id"],))]
        return dict(run), changes
    finally:
        con.close()
