"""The SQLite store: one file (WAL), versioned schema, transactional writes.

Documents are keyed by their path in the corpus (two files may share bytes: the second is a
``duplicate``); ``doc_id`` is the sha256 of the bytes and is what spans reference.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from .errors import Errors, StoreError
from .segment import Span

SCHEMA_VERSION = 4

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE documents (
        path TEXT PRIMARY KEY,
        doc_id TEXT NOT NULL,
        file_name TEXT NOT NULL,
        format TEXT,
        encoding TEXT,
        n_chars INTEGER,
        title TEXT,
        authors TEXT,           -- JSON list
        year INTEGER,
        publisher TEXT,
        isbn TEXT,
        url TEXT,
        series TEXT,
        citation TEXT,          -- author-year form, e.g. "Rudd et al. (2004)"
        metadata_source TEXT,   -- "sources.yaml" or "inferred"
        text_path TEXT,         -- the text that offsets index (the file itself for .txt/.md)
        status TEXT NOT NULL,   -- ok | error | duplicate
        error TEXT,
        warnings TEXT,          -- JSON list
        n_spans INTEGER DEFAULT 0,
        updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE INDEX documents_doc_id ON documents(doc_id);
    CREATE TABLE spans (
        span_id TEXT PRIMARY KEY,
        doc_id TEXT NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        text TEXT NOT NULL,
        kind TEXT NOT NULL,
        section TEXT,
        section_path TEXT,      -- JSON list
        para_index INTEGER,
        sent_index INTEGER,
        page TEXT,
        page_start TEXT,
        page_end TEXT,
        excluded INTEGER NOT NULL,
        exclude_reason TEXT
    );
    CREATE INDEX spans_doc ON spans(doc_id, start);
    """,
    2: """
    CREATE TABLE tags (
        span_id TEXT NOT NULL,
        category TEXT NOT NULL,
        score REAL NOT NULL,
        method TEXT NOT NULL,       -- classifier, rule, heading, joined by +
        explanation TEXT NOT NULL,  -- matched rules/phrases, heading cue, classifier probability
        PRIMARY KEY (span_id, category)
    );
    CREATE TABLE IF NOT EXISTS embeddings (text_hash TEXT, model TEXT, vector BLOB, PRIMARY KEY (text_hash, model));
    """,
    3: """
    CREATE TABLE themes (
        theme_id TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        topic INTEGER NOT NULL,     -- topic number inside the category's BERTopic model
        label TEXT NOT NULL,
        keywords TEXT NOT NULL,     -- JSON list
        claim TEXT NOT NULL,
        n_sentences INTEGER NOT NULL,
        n_reports INTEGER NOT NULL,
        strength TEXT NOT NULL,     -- strong | moderate | limited
        single_report INTEGER NOT NULL,
        representative_span_id TEXT NOT NULL,
        centroid BLOB NOT NULL
    );
    CREATE TABLE theme_members (
        span_id TEXT NOT NULL,
        category TEXT NOT NULL,
        theme_id TEXT,              -- NULL: an outlier that joined no theme
        similarity REAL,            -- cosine similarity to the theme centroid
        PRIMARY KEY (span_id, category)
    );
    CREATE TABLE evidence (
        theme_id TEXT NOT NULL,
        rank INTEGER NOT NULL,      -- 1 = the most representative quote
        span_id TEXT NOT NULL,
        doc_id TEXT NOT NULL,
        file TEXT NOT NULL,         -- the report's path in the corpus
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        quote TEXT NOT NULL,        -- verbatim: exactly the source text at [start, end)
        citation TEXT NOT NULL,
        section TEXT,
        page TEXT,
        PRIMARY KEY (theme_id, span_id)
    );
    """,
    4: """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT,
        status TEXT NOT NULL,       -- running | ok | failed | abandoned (killed: found running by a later run)
        stage TEXT,                 -- the stage in progress (or the last one reached)
        code_version TEXT NOT NULL,
        model_versions TEXT NOT NULL,   -- JSON
        config_hash TEXT NOT NULL,
        corpus_hash TEXT,
        counts TEXT,                -- JSON: reports processed/cached, texts embedded, themes fitted, ...
        durations TEXT,             -- JSON: seconds per stage
        error TEXT
    );
    CREATE TABLE changes (
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,         -- report_added | report_changed | report_removed | theme_new | theme_grown | ...
        subject TEXT NOT NULL,      -- a report path or a theme id
        detail TEXT
    );
    CREATE INDEX changes_run ON changes (run_id);
    -- What a corpus-wide stage was last computed from (a hash of its inputs), written in the same
    -- transaction as its results, so an interrupted run can never make stale results look fresh.
    CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    -- Vectors are now encoded in canonical batches (embed.py); older ones differ by ~1e-7 and
    -- would make themes depend on the order reports were embedded in.
    DELETE FROM embeddings;
    """,
}


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    if not path.exists() and not create:
        raise StoreError(Errors.E021.format(path=path, out=path.parent))
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    migrate(con)
    return con


def migrate(con: sqlite3.Connection) -> None:
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"store schema v{version} is newer than this collabmine (v{SCHEMA_VERSION}); upgrade collabmine.")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        with transaction(con):
            for statement in _statements(_MIGRATIONS[target]):
                con.execute(statement)
            con.execute(f"PRAGMA user_version={target}")


def _statements(script: str) -> list[str]:
    # Whole-line comments go first, so a statement preceded by a comment is not mistaken for one.
    code = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in code.split(";") if s.strip()]


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


def write_document(con: sqlite3.Connection, record: dict, spans: Iterable[Span]) -> None:
    """Replace one report's row and spans atomically."""
    spans = list(spans)
    with transaction(con):
        old = con.execute("SELECT doc_id FROM documents WHERE path=?", (record["path"],)).fetchone()
        if old is not None and old["doc_id"] != record["doc_id"]:
            _delete_doc_spans_if_orphan(con, old["doc_id"], record["path"])
        con.execute("DELETE FROM documents WHERE path=?", (record["path"],))
        columns = ",".join(record)
        con.execute(f"INSERT INTO documents ({columns}) VALUES ({','.join('?' * len(record))})",
                    [json.dumps(v) if isinstance(v, list) else v for v in record.values()])
        if record["status"] == "ok":
            _delete_doc_rows(con, record["doc_id"])
            con.executemany(
                'INSERT INTO spans (span_id, doc_id, start, "end", text, kind, section, section_path, para_index,'
                " sent_index, page, page_start, page_end, excluded, exclude_reason)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(s.span_id, s.doc_id, s.start, s.end, s.text, s.kind, s.section, json.dumps(s.section_path),
                  s.para_index, s.sent_index, s.page, s.page_start, s.page_end, int(s.excluded), s.reason or None)
                 for s in spans])


def _delete_doc_spans_if_orphan(con: sqlite3.Connection, doc_id: str, except_path: str) -> None:
    other = con.execute("SELECT 1 FROM documents WHERE doc_id=? AND path<>? AND status='ok'",
                        (doc_id, except_path)).fetchone()
    if other is None:
        _delete_doc_rows(con, doc_id)


def _delete_doc_rows(con: sqlite3.Connection, doc_id: str) -> None:
    """A report's spans and the tags on them."""
    con.execute("DELETE FROM tags WHERE span_id IN (SELECT span_id FROM spans WHERE doc_id=?)", (doc_id,))
    con.execute("DELETE FROM spans WHERE doc_id=?", (doc_id,))


def remove_missing(con: sqlite3.Connection, present_paths: set[str]) -> list[str]:
    """Forget reports that are no longer in the corpus; returns their paths."""
    rows = con.execute("SELECT path, doc_id FROM documents").fetchall()
    gone = [r for r in rows if r["path"] not in present_paths]
    with transaction(con):
        for r in gone:
            con.execute("DELETE FROM documents WHERE path=?", (r["path"],))
            _delete_doc_spans_if_orphan(con, r["doc_id"], r["path"])
    return [r["path"] for r in gone]


def documents(con: sqlite3.Connection) -> list[sqlite3.Row]:
    return con.execute("SELECT * FROM documents ORDER BY path").fetchall()


#: Excluded material that still makes claims about collaboration and is tagged: a glossary entry
#: defining "Teaching School Alliance", an MoU template or a table row describe structures (the dev
#: gold codes them). Contents, references, front matter, footnotes and headings are never tagged.
TAGGABLE_EXCLUSIONS = ("glossary", "template", "table", "appendix")


def taggable_spans(con: sqlite3.Connection, *, doc_id: str | None = None) -> list[sqlite3.Row]:
    """Spans eligible for tagging (argument sentences plus ``TAGGABLE_EXCLUSIONS``), of every
    report or of one, in a deterministic order."""
    reasons = ",".join(f"'{r}'" for r in TAGGABLE_EXCLUSIONS)
    one = "AND s.doc_id=? " if doc_id else ""
    return con.execute('SELECT span_id, doc_id, start, "end", text, section_path FROM spans s '
                       f"WHERE (excluded=0 OR (exclude_reason IN ({reasons}) AND kind!='heading')) {one}"
                       "AND EXISTS (SELECT 1 FROM documents d WHERE d.doc_id=s.doc_id AND d.status='ok') "
                       "ORDER BY doc_id, start", (doc_id,) if doc_id else ()).fetchall()


def write_tags(con: sqlite3.Connection, rows: list[tuple]) -> None:
    """Replace all tags (span_id, category, score, method, explanation) in one transaction."""
    with transaction(con):
        con.execute("DELETE FROM tags")
        con.executemany("INSERT INTO tags VALUES (?,?,?,?,?)", rows)


def replace_report_tags(con: sqlite3.Connection, doc_id: str, rows: list[tuple]) -> None:
    """Replace the tags on one report's spans (span_id, category, score, method, explanation)."""
    with transaction(con):
        con.execute("DELETE FROM tags WHERE span_id IN (SELECT span_id FROM spans WHERE doc_id=?)", (doc_id,))
        con.executemany("INSERT INTO tags VALUES (?,?,?,?,?)", rows)


def get_state(con: sqlite3.Connection, key: str) -> str | None:
    row = con.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def set_state(con: sqlite3.Connection, key: str, value: str) -> None:
    """Call inside the transaction that writes the results ``value`` describes."""
    con.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))


def tagged_spans(con: sqlite3.Connection) -> list[sqlite3.Row]:
    """(category, span) pairs of every tag on a report that is in the corpus, in a fixed order."""
    return con.execute('SELECT t.category, s.span_id, s.doc_id, s.start, s."end", s.text, s.section_path,'
                       " s.page_start, s.page_end FROM tags t JOIN spans s USING (span_id)"
                       " WHERE EXISTS (SELECT 1 FROM documents d WHERE d.doc_id=s.doc_id AND d.status='ok')"
                       " ORDER BY t.category, s.span_id").fetchall()


def write_themes(con: sqlite3.Connection, themes: list[dict], members: list[tuple], *,
                 input_hash: str | None = None) -> None:
    """Replace all themes and memberships (span_id, category, theme_id, similarity) in one transaction."""
    with transaction(con):
        if input_hash is not None:
            set_state(con, "themes_input", input_hash)
        con.execute("DELETE FROM themes")
        con.execute("DELETE FROM theme_members")
        for t in themes:
            con.execute(f"INSERT INTO themes ({','.join(t)}) VALUES ({','.join('?' * len(t))})",
                        [json.dumps(v) if isinstance(v, list) else v for v in t.values()])
        con.executemany("INSERT INTO theme_members VALUES (?,?,?,?)", members)


def write_evidence(con: sqlite3.Connection, rows: list[dict], *, input_hash: str | None = None) -> None:
    with transaction(con):
        if input_hash is not None:
            set_state(con, "evidence_input", input_hash)
        con.execute("DELETE FROM evidence")
        if rows:
            cols = list(rows[0])
            con.executemany(f"INSERT INTO evidence ({','.join(_q(c) for c in cols)}) VALUES ({','.join('?' * len(cols))})",
                            [tuple(r[c] for c in cols) for r in rows])


def _q(column: str) -> str:
    return f'"{column}"'
