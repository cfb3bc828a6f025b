"""Opening the store: one check before anything is read or written (a damaged, foreign or newer
store stops with a coded error), then the schema brought up to date one migration at a time.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..embed import text_hash
from ..errors import Errors, StoreError
from .migrations import MIGRATIONS, SCHEMA_VERSION

#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: Tables every collabmine store has had since schema v1: a SQLite file without them is not ours.
OWN_TABLES = frozenset({"documents", "spans", "tags", "runs", "state"})


def is_damage(exc: BaseException) -> bool:
    """SQLite reports a damaged file as a bare DatabaseError ("database disk image is malformed",
    "file is not a database"); its subclasses (locked, constraint failed) are not damage."""
    return type(exc) is sqlite3.DatabaseError


def damaged(path: Path, detail: object) -> StoreError:
    """The coded error for a store that cannot be read (E024), naming the way back."""
    return StoreError(Errors.E024.format(path=path, detail=detail, out=path.parent))


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open the store through one check: a missing store (unless ``create``), an empty or
    damaged file (E024), someone else's database (E025) or a newer schema (E028) stop with a
    coded message naming the file and the way back, before anything is read or written."""
    if not path.exists() and not create:
        raise StoreError(Errors.E021.format(path=path, out=path.parent))
    # Never open() the store outside SQLite here: closing any descriptor of the file drops every
    # POSIX lock this process holds on it, including other threads' connections' — a reader in
    # another process then believes it is the last one, checkpoints and deletes the -shm, and this
    # run's next connection fails with "disk I/O error" (SQLITE_IOERR_SHORT_READ). So the header
    # is judged from the file's size (no descriptor) and SQLite's own "file is not a database".
    if path.exists() and path.stat().st_size == 0:
        raise damaged(path, "the file is empty (0 bytes)")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        con.row_factory = sqlite3.Row
        _set_wal(con)
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        # Used by the v5 migration and available to views/queries.
        con.create_function("collabmine_text_hash", 1, text_hash, deterministic=True)
        check_identity(con, path)
        migrate(con)
    except sqlite3.DatabaseError as exc:
        con.close()
        if not is_damage(exc):
            raise
        if "not a database" in str(exc):
            raise damaged(path, "the file does not start with SQLite's header: it was overwritten or damaged") from exc
        raise damaged(path, exc) from exc
    except BaseException:
        con.close()
        raise
    return con


def _set_wal(con: sqlite3.Connection) -> None:
    """WAL (many readers beside one writer) is a property of the file: set once, not by every
    connection (a reader never needs the write lock that changing it takes)."""
    if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        con.execute("PRAGMA journal_mode=WAL")


def check_header(path: Path) -> None:
    """E024 for a file that cannot be a SQLite database: empty, or without SQLite's header.
    Only for files no connection of this process has open (snapshots): see ``connect``."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise damaged(path, f"it cannot be read: {exc.strerror or exc}") from exc
    if not head:
        raise damaged(path, "the file is empty (0 bytes)")
    if head != SQLITE_HEADER:
        raise damaged(path, "the file does not start with SQLite's header: it was overwritten or damaged")


def check_identity(con: sqlite3.Connection, path: Path) -> None:
    """E025 for a SQLite database that is not a collabmine store; E028 for a newer schema."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version > SCHEMA_VERSION:
        raise StoreError(Errors.E028.format(path=path, found=version, expected=SCHEMA_VERSION))
    if (version == 0 and tables) or (version > 0 and not OWN_TABLES <= tables):
        raise StoreError(Errors.E025.format(path=path, out=path.parent, detail=(
            f"a SQLite database with tables {', '.join(sorted(tables)[:5])}" if tables else "an empty SQLite database")))


def health(con: sqlite3.Connection, *, full: bool = False) -> list[str]:
    """SQLite's own check of every page: ``quick_check`` (fast), or ``integrity_check`` with
    ``full`` (also indexes against their tables). Returns the problems found; [] when sound."""
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def require_healthy(con: sqlite3.Connection, path: Path, *, full: bool = False) -> None:
    """E024 unless the store passes SQLite's check (before a run writes, or `verify` reads)."""
    problems = health(con, full=full)
    if problems:
        raise damaged(path, "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""))


def migrate(con: sqlite3.Connection) -> None:
    """Bring the schema up to ``SCHEMA_VERSION`` (a newer one was refused by ``check_identity``)."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    for target in range(version + 1, SCHEMA_VERSION + 1):
        with transaction(con):
            for statement in _statements(MIGRATIONS[target]):
                con.execute(statement)
            con.execute(f"PRAGMA user_version={target}")


def _statements(script: str) -> list[str]:
    """Split a migration into statements; a trigger's body (``BEGIN ...; END``) stays whole."""
    statements, buffer = [], ""
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


@contextmanager
def snapshot(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Reads that see one state of the store: a deferred transaction, so a run committing in
    between cannot show a page half of the old and half of the new themes (in WAL mode it never
    blocks the writer). Inside a transaction already: that one."""
    if con.in_transaction:
        yield con
        return
    con.execute("BEGIN")
    try:
        yield con
    finally:
        if con.in_transaction:
            con.execute("ROLLBACK")   # nothing was written; ends the read


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")
