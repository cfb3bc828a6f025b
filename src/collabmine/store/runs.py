"""The ``runs`` and ``changes`` tables: what each run did, with what, and what it changed.

Every function opens its own short connection, so tasks on other threads or Dask workers can
report without sharing one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import resource
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import Errors, StoreError
from ..ingest import IGNORED_NAMES, list_reports
from ..runtime import fault_point
from ..settings import Settings
from ..versions import code_version, config_hash, digest, model_versions
from .connection import connect, require_healthy, transaction
from .records import get_state, set_state

#: State key: the last successful run, the fingerprint of its inputs and its summary.
LAST_OK_RUN = "last_ok_run"


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
        con = connect(self.store_path)
        try:
            con.execute("UPDATE runs SET stage=? WHERE run_id=?", (name, self.run_id))
        finally:
            con.close()
        fault_point(name)

    def _close(self) -> None:
        if self._stage is not None:
            self.durations[self._stage] = round(self.durations.get(self._stage, 0.0)
                                                + time.perf_counter() - self._since, 3)
            self.peak_mb[self._stage] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            self._stage = None


def start_run(settings: Settings, *extra_config) -> Run:
    """Record a new run; runs still marked running were killed (the lock proves they are gone)."""
    run = Run(uuid.uuid4().hex[:12], settings.store_path)
    con = connect(settings.store_path)
    try:
        with transaction(con):
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
    con = connect(run.store_path)
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
    con = connect(run.store_path)
    try:
        with transaction(con):
            con.executemany("INSERT INTO changes VALUES (?,?,?,?)", [(run.run_id, *c) for c in changes])
    finally:
        con.close()


def list_runs(settings: Settings, *, limit: int = 20) -> list[dict]:
    con = connect(settings.store_path, create=False)
    try:
        return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY started DESC, rowid DESC LIMIT ?", (limit,))]
    finally:
        con.close()


def last_changes(settings: Settings, *, run_id: str | None = None) -> tuple[dict, list[dict]]:
    """The last finished run (or ``run_id``) and what it changed."""
    con = connect(settings.store_path, create=False)
    try:
        query = ("SELECT * FROM runs WHERE run_id=?", (run_id,)) if run_id else \
            ("SELECT * FROM runs WHERE status='ok' ORDER BY started DESC, rowid DESC LIMIT 1", ())
        run = con.execute(*query).fetchone()
        if run is None:
            raise StoreError(Errors.E061.format(path=settings.store_path))
        # A run killed part-way (abandoned) or failed kept what it wrote, and recorded its changes
        # as it went; they are shown with the next run that completed, since nothing repeats them.
        earlier = con.execute("SELECT run_id FROM runs WHERE status IN ('abandoned', 'failed') AND started <= ?"
                              " AND started > COALESCE((SELECT MAX(started) FROM runs WHERE status = 'ok'"
                              " AND started < ?), '') ORDER BY started, rowid", (run["started"], run["started"])).fetchall()
        changes = []
        for run_id in [r[0] for r in earlier] + [run["run_id"]]:
            carried = run_id != run["run_id"]
            changes += [dict(r) | ({"carried_from": run_id} if carried else {}) for r in con.execute(
                "SELECT kind, subject, detail FROM changes WHERE run_id=? ORDER BY rowid", (run_id,))]
        return dict(run), changes
    finally:
        con.close()


# --- the no-op fast path ---------------------------------------------------------------------

def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def output_digests(out_dir: Path, files: list[Path]) -> dict[str, str]:
    """Each output file's sha256, by its path relative to the output folder (so a copied or
    moved folder is checked against its own files, never another folder's)."""
    return {str(Path(f).resolve().relative_to(out_dir.resolve())): file_digest(Path(f)) for f in files}


def outputs_intact(out_dir: Path, recorded: dict[str, str]) -> bool:
    """Every recorded output exists in ``out_dir`` with the bytes the last run wrote."""
    for name, sha in recorded.items():
        path = out_dir / name
        try:
            if file_digest(path) != sha:
                return False
        except OSError:
            return False
    return True


def edited_outputs(settings: Settings) -> list[str]:
    """Outputs the last successful run wrote that have other bytes now (edited by hand, or by a
    tool that saved them): named before a run rewrites them, so no one loses an edit unawares."""
    if not settings.store_path.exists():
        return []
    con = connect(settings.store_path, create=False)
    try:
        remembered = json.loads(get_state(con, LAST_OK_RUN) or "null")
    finally:
        con.close()
    recorded = (remembered or {}).get("summary", {}).get("outputs")
    edited = []
    for name, sha in (recorded if isinstance(recorded, dict) else {}).items():
        try:
            if file_digest(settings.out_dir / name) != sha:
                edited.append(name)
        except OSError:
            continue    # missing: simply written again
    return sorted(edited)


def keep_edited_outputs(settings: Settings, run_id: str) -> dict[str, Path]:
    """Copy each edited output (``edited_outputs``) to ``OUT/edited/RUN_ID/`` before the run
    rewrites it; returns name → the copy."""
    import shutil

    kept = {}
    for name in edited_outputs(settings):
        target = settings.out_dir / "edited" / run_id / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(settings.out_dir / name, target)
        kept[name] = target
    return kept


def inputs_fingerprint(settings: Settings, *extra_config) -> str:
    """Everything a run's results depend on: every corpus file's bytes (by path), the citation
    files, code and model versions, the configuration and the analysts' reviews."""
    files = []
    for path in list_reports(settings.corpus_dir) + sorted(settings.corpus_dir / n for n in IGNORED_NAMES):
        try:
            files.append((path.name, file_digest(path)))
        except FileNotFoundError:
            continue
        except OSError as exc:  # unreadable: the run reports it; the fingerprint notes it
            files.append((path.name, f"unreadable {exc.errno}"))
    # Settings that only change how a run executes, not what it produces, are left out.
    results_settings = dataclasses.replace(settings, lock_wait=0.0, refit_themes=False, task_threads=1)
    reviews = (0, None)  # as an empty store counts them, so a first run's fingerprint matches the next
    if settings.store_path.exists():
        con = connect(settings.store_path, create=False)
        try:
            reviews = tuple(con.execute("SELECT COUNT(*), MAX(rowid) FROM reviews").fetchone())
            # Analysts' theme edits change the results as reviews do.
            edits = tuple(con.execute("SELECT COUNT(*), MAX(edit_id) FROM theme_edits").fetchone())
            if edits[0]:
                reviews = reviews + edits
        finally:
            con.close()
    # The project's frame (the shipped one plus promoted themes), once a theme has been promoted.
    frame = settings.out_dir / "frame.toml"
    if frame.exists():
        files.append(("frame.toml", file_digest(frame)))
    return digest({"files": files, "code": code_version(), "models": model_versions(settings.models_dir),
                   "config": config_hash(results_settings, *extra_config), "reviews": reviews})


def remember_inputs(settings: Settings, run: Run, fingerprint: str, summary: dict) -> None:
    """After a successful run: what it was computed from, so an identical next run can be skipped."""
    con = connect(settings.store_path)
    try:
        with transaction(con):
            set_state(con, LAST_OK_RUN, json.dumps({"run_id": run.run_id, "fingerprint": fingerprint,
                                                          "summary": summary}, default=str))
    finally:
        con.close()


def repeat_if_unchanged(settings: Settings, fingerprint: str, *extra_config) -> dict | None:
    """When nothing the last run depended on has changed and its outputs are all in place, record
    a no-op run and return the last summary (with no work done); otherwise None. Call it holding
    the run lock. It saves starting Prefect and checking every stage's cache."""
    if not settings.store_path.exists():
        return None
    con = connect(settings.store_path, create=False)
    try:
        # "Nothing changed" is never said of a damaged store (E024 instead, with the way back).
        require_healthy(con, settings.store_path)
        last = con.execute("SELECT run_id, status FROM runs ORDER BY started DESC, rowid DESC LIMIT 1").fetchone()
        remembered = json.loads(get_state(con, LAST_OK_RUN) or "null")
        # A theme without its claim is a change to make, never a no-op.
        missing_claims = con.execute("SELECT COUNT(*) FROM themes WHERE kind IN ('frame', 'emergent') AND claim = ''"
                                     ).fetchone()[0]
    finally:
        con.close()
    if missing_claims:
        return None
    if (last is None or remembered is None or last["status"] != "ok" or remembered["run_id"] != last["run_id"]
            or remembered["fingerprint"] != fingerprint):
        return None
    previous = remembered["summary"]
    recorded = previous.get("outputs")
    if not isinstance(recorded, dict) or not recorded or not outputs_intact(settings.out_dir, recorded):
        return None  # an output is missing or was changed (or this folder is a copy): a full run rewrites them
    run = start_run(settings, *extra_config)
    run.stage("check")
    summary = previous | {"run_id": run.run_id, "store": str(settings.store_path),
                          "html": str(settings.out_dir / "report.html"), "ingested": [], "removed": [], "embedded_texts": 0,
                          "tagged_reports": 0, "themes_fitted": False, "themes_refitted": [], "themes_placed": 0,
                          "changes": 0, "unchanged_since": last["run_id"]}
    finish_run(run, status="ok", counts={k: summary[k] for k in ("reports", "ok", "spans", "tags", "claims", "evidence_rows",
                                                                 "unchanged_since") if k in summary},
               corpus_hash=summary.get("corpus_hash"))
    remember_inputs(settings, run, fingerprint, summary)
    return summary
