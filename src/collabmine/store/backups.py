"""Snapshots of the store and the analysts' reviews kept outside it: losing or damaging the store
never loses a decision.

- Before a run writes, the store is checked (SQLite's ``quick_check``) and copied with SQLite's
  online backup API into ``<out>/backups/`` (the last ``Settings.snapshots_kept``).
- Every review is also appended to ``<out>/reviews.jsonl``, a plain-text audit log beside the store.
- :func:`restore` puts a sound snapshot (or an empty store) in place — the replaced file is kept,
  never deleted — and replays every review of the log that the store does not hold.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import Errors, StoreError
from .connection import check_header, check_identity, connect, health, require_healthy, transaction

BACKUPS_DIR = "backups"
AUDIT_LOG = "reviews.jsonl"
#: A review's fields as logged and replayed (the store's review_id is not: it is renumbered).
REVIEW_FIELDS = ("doc_sha", "start", "end", "text_hash", "span_id", "file", "action", "category", "theme_id",
                 "comment", "reviewer", "created", "queue")
_COLUMNS = ", ".join(f'"{f}"' for f in REVIEW_FIELDS)


def backups_dir(store_path: Path) -> Path:
    return store_path.parent / BACKUPS_DIR


def audit_log_path(store_path: Path) -> Path:
    return store_path.parent / AUDIT_LOG


def store_path_of(con: sqlite3.Connection) -> Path:
    """The file a connection has open (its audit log sits beside it); Path("") in memory."""
    return Path(con.execute("PRAGMA database_list").fetchone()[2] or "")


# --- the audit log ------------------------------------------------------------------------------

def _identity(row: dict, fields=REVIEW_FIELDS) -> tuple:
    return tuple(row.get(f) for f in fields)


def append_reviews(log_path: Path, rows: list[dict]) -> None:
    """Append reviews to the log, one JSON object per line, flushed to disk before returning."""
    append_jsonl(log_path, rows, REVIEW_FIELDS)


def append_jsonl(log_path: Path, rows: list[dict], fields) -> None:
    """Append rows (their ``fields``) to a JSON-lines log, flushed to disk before returning."""
    if not rows or not log_path.parent.name:
        return  # an in-memory store has no folder and no log
    with open(log_path, "a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({f: row.get(f) for f in fields}, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_audit_log(log_path: Path) -> tuple[list[dict], int]:
    """The logged reviews, and how many lines could not be read (a line cut by a crash)."""
    if not log_path.exists():
        return [], 0
    rows, bad = [], 0
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(row, dict) and all(f in row for f in ("doc_sha", "start", "end", "action", "reviewer")):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def store_reviews(con: sqlite3.Connection) -> list[dict]:
    return [dict(r) for r in con.execute(f"SELECT {_COLUMNS} FROM reviews ORDER BY review_id")]


def _missing(wanted: list[dict], present: list[dict], fields=REVIEW_FIELDS) -> list[dict]:
    """``wanted`` rows not in ``present`` (compared on ``fields``), counted as a multiset (two
    equal decisions stay two)."""
    have = Counter(_identity(r, fields) for r in present)
    out = []
    for row in wanted:
        key = _identity(row, fields)
        if have[key]:
            have[key] -= 1
        else:
            out.append(row)
    return out


def sync_audit_log(con: sqlite3.Connection) -> int:
    """Append to the log every review the store holds and the log does not (a store from before
    the log existed, or an append lost to a crash); returns how many were added."""
    log_path = audit_log_path(store_path_of(con))
    logged, _ = read_audit_log(log_path)
    missing = _missing(store_reviews(con), logged)
    append_reviews(log_path, missing)
    return len(missing)


def replay_reviews(con: sqlite3.Connection) -> int:
    """Insert every logged review the store does not hold (in log order); returns how many."""
    logged, _ = read_audit_log(audit_log_path(store_path_of(con)))
    missing = _missing(logged, store_reviews(con))
    with transaction(con):
        con.executemany(f"INSERT INTO reviews ({_COLUMNS}) VALUES ({','.join('?' * len(REVIEW_FIELDS))})",
                        [tuple(r.get(f) if f != "queue" else (r.get(f) or "random") for f in REVIEW_FIELDS)
                         for r in missing])
    return len(missing)


#: Analysts' theme edits beside the store (themes.curation writes them), replayed like reviews.
THEME_EDITS_LOG = "theme_edits.jsonl"
THEME_EDIT_FIELDS = ("created", "reviewer", "action", "category", "theme_id", "target_theme_id", "name", "description",
                     "members", "comment")


def replay_theme_edits(con: sqlite3.Connection) -> int:
    """Insert every logged theme edit (rename, merge, promote, dismiss) the store does not hold,
    in log order; returns how many. Unreadable lines are skipped (a line cut by a crash)."""
    path = store_path_of(con).parent / THEME_EDITS_LOG
    if not path.exists():
        return 0
    logged = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and all(row.get(f) for f in ("created", "reviewer", "action", "theme_id")):
            logged.append(row)
    columns = ", ".join(f'"{f}"' for f in THEME_EDIT_FIELDS)
    present = [dict(r) for r in con.execute(f"SELECT {columns} FROM theme_edits ORDER BY edit_id")]
    missing = _missing(logged, present, THEME_EDIT_FIELDS)
    with transaction(con):
        con.executemany(f"INSERT INTO theme_edits ({columns}) VALUES ({','.join('?' * len(THEME_EDIT_FIELDS))})",
                        [_identity(row, THEME_EDIT_FIELDS) for row in missing])
    return len(missing)


# --- snapshots ----------------------------------------------------------------------------------

@dataclass
class Snapshot:
    path: Path
    size: int
    #: SQLite's quick_check found nothing wrong and it is a collabmine store.
    sound: bool
    problem: str | None
    reviews: int | None

    @property
    def taken(self) -> str:
        stamp = self.path.stem.removeprefix("collabmine-")[:16]
        try:
            return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).isoformat(timespec="seconds")
        except ValueError:
            return stamp


def take_snapshot(con: sqlite3.Connection, *, keep: int) -> Path | None:
    """Copy the open store into ``backups/`` with SQLite's online backup API (a consistent copy
    even while others read it); keep the newest ``keep``. None when ``keep`` is 0."""
    if keep <= 0:
        return None
    folder = backups_dir(store_path_of(con))
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    k = 1
    while (folder / f"collabmine-{stamp}-{k:03d}.sqlite").exists():   # names sort in the order taken
        k += 1
    dest = folder / f"collabmine-{stamp}-{k:03d}.sqlite"
    partial = dest.with_suffix(".partial")
    target = sqlite3.connect(partial)
    try:
        con.backup(target)
        # A snapshot is one self-contained file: no WAL beside it, and reading it (a check, a
        # restore) creates none.
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
    partial.rename(dest)  # never a half-written snapshot under a snapshot's name
    for old in sorted(folder.glob("collabmine-*.sqlite"))[:-keep]:
        for part in (old, Path(f"{old}-wal"), Path(f"{old}-shm")):
            part.unlink(missing_ok=True)
    return dest


def inspect_snapshot(path: Path) -> Snapshot:
    size = path.stat().st_size
    try:
        check_header(path)
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check_identity(con, path)
            problems = health(con)
            reviews = con.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] if not problems else None
        finally:
            con.close()
    except (StoreError, sqlite3.DatabaseError) as exc:
        return Snapshot(path, size, False, str(exc).split(" (", 1)[-1][:200], None)
    return Snapshot(path, size, not problems, "; ".join(problems[:2]) or None, reviews)


def list_snapshots(store_path: Path) -> list[Snapshot]:
    """The snapshots beside a store, newest first, each checked."""
    return [inspect_snapshot(p) for p in sorted(backups_dir(store_path).glob("collabmine-*.sqlite"), reverse=True)]


def before_run(store_path: Path, *, keep: int) -> Path | None:
    """What a run does before it writes: stop with E024 if the store is damaged (so a damaged
    store is never built upon, nor a sound snapshot rotated out by it), bring the audit log up to
    date, and snapshot the store. Nothing to do for a first run (no store yet)."""
    if not store_path.exists():
        return None
    con = connect(store_path, create=False)
    try:
        require_healthy(con, store_path)
        sync_audit_log(con)
        return take_snapshot(con, keep=keep)
    finally:
        con.close()


# --- restore ------------------------------------------------------------------------------------

@dataclass
class RestoreOutcome:
    source: Path | None          # the snapshot restored; None: a fresh, empty store
    replaced: Path | None        # where the store that was there was moved (never deleted)
    replayed: int                # reviews from the audit log added to the restored store
    reviews: int                 # reviews the store holds now
    unreadable_log_lines: int


def _move_aside(store_path: Path, stamp: str) -> Path | None:
    if not store_path.exists():
        return None
    kept = store_path.with_name(f"{store_path.name}.replaced-{stamp}")
    for suffix in ("", "-wal", "-shm"):   # the WAL travels with its database: the pair stays readable
        part = Path(str(store_path) + suffix)
        if part.exists():
            part.rename(Path(str(kept) + suffix))
    return kept


def restore(store_path: Path, *, cache_dir: Path, snapshot: Path | None = None, empty: bool = False) -> RestoreOutcome:
    """Put a sound snapshot (the newest, or ``snapshot``) in place of the store, or with
    ``empty`` a fresh store, and replay the audit log's reviews into it. The store that was there
    is moved aside, not deleted. Prefect's cached task results described the old store, so they
    are cleared: the next run recomputes what the snapshot lacks. Hold the run lock."""
    out = store_path.parent
    log = audit_log_path(store_path)
    source = None
    if not empty:
        if snapshot is not None:
            if not snapshot.exists():
                raise StoreError(Errors.E027.format(path=snapshot, detail="no such file", out=out))
            found = inspect_snapshot(snapshot)
            if not found.sound:
                raise StoreError(Errors.E027.format(path=snapshot, detail=found.problem, out=out))
            source = snapshot
        else:
            source = next((s.path for s in list_snapshots(store_path) if s.sound), None)
            if source is None:
                raise StoreError(Errors.E026.format(backups=backups_dir(store_path), log=log, out=out))
    replaced = _move_aside(store_path, datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    if source is not None:
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        writer = sqlite3.connect(store_path)
        try:
            reader.backup(writer)
        finally:
            writer.close()
            reader.close()
    con = connect(store_path)      # an empty store is created; an older snapshot is migrated
    try:
        _, bad = read_audit_log(log)
        replayed = replay_reviews(con)
        replay_theme_edits(con)       # analysts' theme curation is kept like their reviews
        reviews = con.execute("SELECT COUNT(*) FROM reviews").fetchone()[0]
    finally:
        con.close()
    shutil.rmtree(cache_dir, ignore_errors=True)
    return RestoreOutcome(source, replaced, replayed, reviews, bad)


__all__ = ["before_run", "take_snapshot", "list_snapshots", "inspect_snapshot", "Snapshot", "restore", "RestoreOutcome",
           "append_reviews", "read_audit_log", "sync_audit_log", "replay_reviews", "replay_theme_edits", "audit_log_path",
           "backups_dir", "THEME_EDITS_LOG", "THEME_EDIT_FIELDS"]
