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
from .embed import text_hash
from .segment import Span

SCHEMA_VERSION = 9

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
        strength TEXT NOT NULL,     -- strong | moderate | limited (dropped in v8: see confidence)
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
    5: """
    -- A span's identity for reviews: the report's sha256 (doc_id), its raw offsets and the hash
    -- of the sentence the analyst saw. Span ids can be recomputed; this can be checked.
    ALTER TABLE spans ADD COLUMN text_hash TEXT;
    UPDATE spans SET text_hash = collabmine_text_hash(text);
    CREATE INDEX spans_identity ON spans(doc_id, start, "end");
    -- Analysts' decisions: an append-only log. The current decision on (sentence, category) is
    -- the latest accept/reject; a move places the sentence in another theme of that category.
    CREATE TABLE reviews (
        review_id INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_sha TEXT NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        text_hash TEXT NOT NULL,
        span_id TEXT NOT NULL,      -- the span id when the review was made (informational)
        file TEXT NOT NULL,         -- the report's path when the review was made
        action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'move', 'comment')),
        category TEXT,
        theme_id TEXT,              -- move: the theme the sentence belongs in
        comment TEXT,
        reviewer TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE INDEX reviews_identity ON reviews(doc_sha, start, "end", category);
    CREATE TRIGGER reviews_never_updated BEFORE UPDATE ON reviews
        BEGIN SELECT RAISE(ABORT, 'reviews are an append-only log: add a new review instead'); END;
    CREATE TRIGGER reviews_never_deleted BEFORE DELETE ON reviews
        BEGIN SELECT RAISE(ABORT, 'reviews are an append-only log: add a new review instead'); END;
    -- The latest label decision per sentence and category, joined to the current spans.
    CREATE VIEW label_decisions AS
        SELECT s.span_id, r.category, r.action, r.reviewer, r.created, r.review_id
        FROM reviews r JOIN spans s ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end"
            AND s.text_hash = r.text_hash
        WHERE r.review_id = (SELECT MAX(r2.review_id) FROM reviews r2 WHERE r2.doc_sha = r.doc_sha
            AND r2.start = r.start AND r2."end" = r."end" AND r2.text_hash = r.text_hash
            AND r2.category = r.category AND r2.action IN ('accept', 'reject'));
    -- What every later stage uses: model tags minus rejected ones, plus categories analysts added.
    -- ``review`` is accepted | added | NULL (not reviewed).
    CREATE VIEW effective_tags AS
        SELECT t.span_id, t.category, t.score, t.method, t.explanation,
            CASE WHEN d.action = 'accept' THEN 'accepted' END AS review
        FROM tags t LEFT JOIN label_decisions d ON d.span_id = t.span_id AND d.category = t.category
        WHERE d.action IS NULL OR d.action = 'accept'
        UNION ALL
        SELECT d.span_id, d.category, 1.0, 'review', 'added by ' || d.reviewer || ' on ' || d.created, 'added'
        FROM label_decisions d
        WHERE d.action = 'accept' AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.span_id = d.span_id
            AND t.category = d.category);
    -- The latest move per sentence and category.
    CREATE VIEW theme_moves AS
        SELECT s.span_id, r.category, r.theme_id, r.reviewer, r.created
        FROM reviews r JOIN spans s ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end"
            AND s.text_hash = r.text_hash
        WHERE r.review_id = (SELECT MAX(r2.review_id) FROM reviews r2 WHERE r2.doc_sha = r.doc_sha
            AND r2.start = r.start AND r2."end" = r."end" AND r2.text_hash = r.text_hash
            AND r2.category = r.category AND r2.action = 'move');
    -- Full-text index over sentences (BM25), kept in step with ``spans`` by triggers.
    CREATE VIRTUAL TABLE spans_fts USING fts5(text, content='spans', content_rowid='rowid',
        tokenize='porter unicode61');
    CREATE TRIGGER spans_fts_insert AFTER INSERT ON spans
        BEGIN INSERT INTO spans_fts(rowid, text) VALUES (new.rowid, new.text); END;
    CREATE TRIGGER spans_fts_delete AFTER DELETE ON spans
        BEGIN INSERT INTO spans_fts(spans_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END;
    CREATE TRIGGER spans_fts_update AFTER UPDATE OF text ON spans BEGIN
        INSERT INTO spans_fts(spans_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
        INSERT INTO spans_fts(rowid, text) VALUES (new.rowid, new.text);
    END;
    INSERT INTO spans_fts(spans_fts) VALUES ('rebuild');
    """,
    6: """
    -- 1: the sentence was in its category when the category's themes were last fitted; 0: a later
    -- run placed it by nearest centroid (see themes.stage.reuse_fit). Stores before v6 held full fits.
    ALTER TABLE theme_members ADD COLUMN fitted INTEGER NOT NULL DEFAULT 1;
    """,
    7: """
    -- Tagger v6: every taggable sentence's calibrated probability for each category (tags hold
    -- only those at or above a threshold) and its margin, the smallest distance of any category's
    -- probability from its threshold: the active-learning queue asks about small margins first.
    CREATE TABLE tag_probabilities (
        span_id TEXT PRIMARY KEY,
        structure REAL NOT NULL,
        impact REAL NOT NULL,
        condition REAL NOT NULL,
        barrier REAL NOT NULL,
        margin REAL NOT NULL
    );
    CREATE INDEX tag_probabilities_margin ON tag_probabilities(margin);
    -- Which queue a decision came from: 'random' (the default order, whose decisions measure
    -- precision without bias) or 'learn' (uncertain sentences first: training data, not a sample).
    ALTER TABLE reviews ADD COLUMN queue TEXT NOT NULL DEFAULT 'random';
    """,
    8: """
    -- Themes from a frame (framework analysis): 'frame' themes are the codebook's named factors
    -- (id "<category>-<key>" for good), 'emergent' ones were found by clustering. Claims carry a
    -- GRADE-CERQual-style confidence with its reasons instead of a breadth-only "strength".
    ALTER TABLE themes ADD COLUMN kind TEXT NOT NULL DEFAULT 'emergent';
    ALTER TABLE themes ADD COLUMN description TEXT;
    ALTER TABLE themes ADD COLUMN confidence TEXT;
    ALTER TABLE themes ADD COLUMN confidence_reasons TEXT;   -- JSON list of sentences
    ALTER TABLE themes ADD COLUMN supporting TEXT;           -- JSON list of the reports' citations
    ALTER TABLE themes DROP COLUMN strength;
    -- 1: one of the claim's key quotes (ranked first): full sentences, central and confidently tagged.
    ALTER TABLE evidence ADD COLUMN key_quote INTEGER NOT NULL DEFAULT 0;
    DELETE FROM state WHERE key = 'themes_input' OR key = 'evidence_input' OR key LIKE 'themes_fit:%';
    """,
    9: """
    -- Where each citation field came from and how far to trust it (JSON: field -> {origin,
    -- confidence}), and the BibTeX entry type ('report' or 'book').
    ALTER TABLE documents ADD COLUMN metadata_fields TEXT;
    ALTER TABLE documents ADD COLUMN entry_type TEXT;
    """,
}


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
    if path.exists():
        check_header(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
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
        raise damaged(path, exc) from exc
    except BaseException:
        con.close()
        raise
    return con


def check_header(path: Path) -> None:
    """E024 for a file that cannot be a SQLite database: empty, or without SQLite's header."""
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
            for statement in _statements(_MIGRATIONS[target]):
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
                " sent_index, page, page_start, page_end, excluded, exclude_reason, text_hash)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(s.span_id, s.doc_id, s.start, s.end, s.text, s.kind, s.section, json.dumps(s.section_path),
                  s.para_index, s.sent_index, s.page, s.page_start, s.page_end, int(s.excluded), s.reason or None,
                  text_hash(s.text)) for s in spans])


def label_citations(con: sqlite3.Connection) -> int:
    """Make the processed reports' citation labels unique ("Smith (2004a)", "Smith (2004b)");
    returns how many changed."""
    from .metadata import distinct_citations

    rows = {r["path"]: r["citation"] for r in con.execute(
        "SELECT path, citation FROM documents WHERE status = 'ok' AND citation IS NOT NULL")}
    labelled = distinct_citations(rows)
    changed = {path: label for path, label in labelled.items() if rows[path] != label}
    with transaction(con):
        con.executemany("UPDATE documents SET citation = ? WHERE path = ?", [(v, k) for k, v in changed.items()])
    return len(changed)


def _delete_doc_spans_if_orphan(con: sqlite3.Connection, doc_id: str, except_path: str) -> None:
    other = con.execute("SELECT 1 FROM documents WHERE doc_id=? AND path<>? AND status='ok'",
                        (doc_id, except_path)).fetchone()
    if other is None:
        _delete_doc_rows(con, doc_id)


#: Per-span tables a report's tagging writes (cleared with its spans or when it is re-tagged).
_TAG_TABLES = ("tags", "tag_probabilities")


def _delete_doc_rows(con: sqlite3.Connection, doc_id: str) -> None:
    """A report's spans and the tags on them."""
    _delete_doc_tags(con, doc_id)
    con.execute("DELETE FROM spans WHERE doc_id=?", (doc_id,))


def _delete_doc_tags(con: sqlite3.Connection, doc_id: str) -> None:
    for table in _TAG_TABLES:
        con.execute(f"DELETE FROM {table} WHERE span_id IN (SELECT span_id FROM spans WHERE doc_id=?)", (doc_id,))


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
#: SQL condition on a span aliased ``s``: is it taggable (and searchable)?
TAGGABLE_WHERE = ("(s.excluded=0 OR (s.exclude_reason IN ({}) AND s.kind!='heading'))"
                  .format(",".join(f"'{r}'" for r in TAGGABLE_EXCLUSIONS)))


def taggable_spans(con: sqlite3.Connection, *, doc_id: str | None = None) -> list[sqlite3.Row]:
    """Spans eligible for tagging (argument sentences plus ``TAGGABLE_EXCLUSIONS``), of every
    report or of one, in a deterministic order."""
    one = "AND s.doc_id=? " if doc_id else ""
    return con.execute('SELECT span_id, doc_id, start, "end", text, section_path, page_start, page_end FROM spans s '
                       f"WHERE {TAGGABLE_WHERE} {one}"
                       "AND EXISTS (SELECT 1 FROM documents d WHERE d.doc_id=s.doc_id AND d.status='ok') "
                       "ORDER BY doc_id, start", (doc_id,) if doc_id else ()).fetchall()


def replace_report_tags(con: sqlite3.Connection, doc_id: str, rows: list[tuple],
                        probabilities: list[tuple] = ()) -> None:
    """Replace the tags on one report's spans (span_id, category, score, method, explanation)
    and their probabilities (span_id, p per category, margin), in one transaction."""
    with transaction(con):
        _delete_doc_tags(con, doc_id)
        con.executemany("INSERT INTO tags VALUES (?,?,?,?,?)", rows)
        con.executemany("INSERT INTO tag_probabilities VALUES (?,?,?,?,?,?)", probabilities)


def get_state(con: sqlite3.Connection, key: str) -> str | None:
    row = con.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def set_state(con: sqlite3.Connection, key: str, value: str) -> None:
    """Call inside the transaction that writes the results ``value`` describes."""
    con.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))


def tagged_spans(con: sqlite3.Connection) -> list[sqlite3.Row]:
    """(category, span) pairs of every effective tag (model tags with analysts' decisions applied)
    on a report that is in the corpus, in a fixed order."""
    return con.execute('SELECT t.category, s.span_id, s.doc_id, s.start, s."end", s.text, s.section_path,'
                       " s.page_start, s.page_end FROM effective_tags t JOIN spans s USING (span_id)"
                       " WHERE EXISTS (SELECT 1 FROM documents d WHERE d.doc_id=s.doc_id AND d.status='ok')"
                       " ORDER BY t.category, s.span_id").fetchall()


def write_themes(con: sqlite3.Connection, themes: list[dict], members: list[tuple], *,
                 input_hash: str | None = None, fit_keys: dict[str, str] | None = None) -> None:
    """Replace all themes and memberships (span_id, category, theme_id, similarity, fitted) in one
    transaction; ``fit_keys`` records what each refitted category's fit depended on."""
    with transaction(con):
        if input_hash is not None:
            set_state(con, "themes_input", input_hash)
        for category, key in (fit_keys or {}).items():
            set_state(con, f"themes_fit:{category}", key)
        con.execute("DELETE FROM themes")
        con.execute("DELETE FROM theme_members")
        for t in themes:
            con.execute(f"INSERT INTO themes ({','.join(t)}) VALUES ({','.join('?' * len(t))})",
                        [json.dumps(v) if isinstance(v, list) else v for v in t.values()])
        con.executemany("INSERT INTO theme_members VALUES (?,?,?,?,?)", members)


def write_evidence(con: sqlite3.Connection, rows: list[dict], *, input_hash: str | None = None,
                   claims: dict[str, dict] | None = None) -> None:
    """Replace the evidence rows and, in the same transaction, set each theme's claim columns
    (``claims``: theme_id -> column -> value)."""
    with transaction(con):
        if input_hash is not None:
            set_state(con, "evidence_input", input_hash)
        for theme_id, values in (claims or {}).items():
            con.execute(f"UPDATE themes SET {', '.join(f'{_q(c)}=?' for c in values)} WHERE theme_id=?",
                        [json.dumps(v) if isinstance(v, list) else v for v in values.values()] + [theme_id])
        con.execute("DELETE FROM evidence")
        if rows:
            cols = list(rows[0])
            con.executemany(f"INSERT INTO evidence ({','.join(_q(c) for c in cols)}) VALUES ({','.join('?' * len(cols))})",
                            [tuple(r[c] for c in cols) for r in rows])


def _q(column: str) -> str:
    return f'"{column}"'
