"""What the stages write to and read from the store: reports and their sentences, tags,
themes, evidence and run state. Documents are keyed by their path in the corpus (two files may
share bytes: the second is a ``duplicate``); ``doc_id`` is the sha256 of the bytes and is what
spans reference.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple

from ..embed import text_hash
from ..ingest import Span
from .connection import transaction


def write_document(con: sqlite3.Connection, record: dict, spans: Iterable[Span]) -> None:
    """Replace one report's row and spans atomically; spans identical to the stored ones stay, with
    their tags."""
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
            rows = [(s.span_id, s.doc_id, s.start, s.end, s.text, s.kind, s.section, json.dumps(s.section_path),
                     s.para_index, s.sent_index, s.page, s.page_start, s.page_end, int(s.excluded), s.reason or None,
                     text_hash(s.text)) for s in spans]
            # The same sentences again (only the citation metadata changed): the tags on them stand,
            # so a new title never re-tags a report.
            if _stored_spans(con, record["doc_id"]) == rows:
                return
            _delete_doc_rows(con, record["doc_id"])
            con.executemany(f"INSERT INTO spans ({_SPAN_COLUMNS}) VALUES ({','.join('?' * 16)})", rows)


_SPAN_COLUMNS = ('span_id, doc_id, start, "end", text, kind, section, section_path, para_index, sent_index, page,'
                 " page_start, page_end, excluded, exclude_reason, text_hash")


def _stored_spans(con: sqlite3.Connection, doc_id: str) -> list[tuple]:
    return [tuple(r) for r in con.execute(f"SELECT {_SPAN_COLUMNS} FROM spans WHERE doc_id=? ORDER BY rowid", (doc_id,))]


def label_citations(con: sqlite3.Connection) -> int:
    """Make the processed reports' citation labels unique ("Smith (2004a)", "Smith (2004b)");
    returns how many changed."""
    from ..ingest.metadata import distinct_citations

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
    clear_report_tags(con, doc_id)
    con.execute("DELETE FROM spans WHERE doc_id=?", (doc_id,))


def clear_report_tags(con: sqlite3.Connection, doc_id: str) -> None:
    """A report's tags, probabilities, "tagged with" record (``mark_tagged``) and partial progress
    (``note_tagging_progress``) go."""
    _forget_state(con, _tags_key(doc_id), _progress_key(doc_id))
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


def taggable_spans(con: sqlite3.Connection, *, doc_id: str | None = None, after: tuple[int, str] | None = None,
                   limit: int | None = None) -> list[sqlite3.Row]:
    """Spans eligible for tagging (argument sentences plus ``TAGGABLE_EXCLUSIONS``), of every
    report or of one, in a deterministic order. ``after`` (one report's (start, span_id) of the last
    row read) and ``limit`` read that report a page at a time."""
    where, args = "", []
    if doc_id:
        where, args = "AND s.doc_id=? ", [doc_id]
    if after is not None:
        where += "AND (s.start > ? OR (s.start = ? AND s.span_id > ?)) "
        args += [after[0], after[0], after[1]]
    return con.execute('SELECT span_id, doc_id, start, "end", text, section_path, page_start, page_end FROM spans s '
                       f"WHERE {TAGGABLE_WHERE} {where}"
                       "AND EXISTS (SELECT 1 FROM documents d WHERE d.doc_id=s.doc_id AND d.status='ok') "
                       "ORDER BY doc_id, start, span_id" + (f" LIMIT {int(limit)}" if limit else ""), args).fetchall()


def taggable_count(con: sqlite3.Connection, *, doc_id: str, upto: tuple[int, str] | None = None) -> int:
    """A report's taggable spans; with ``upto`` ((start, span_id)), those up to and including it."""
    where, args = "", [doc_id]
    if upto is not None:
        where, args = "AND (s.start < ? OR (s.start = ? AND s.span_id <= ?))", args + [upto[0], upto[0], upto[1]]
    return con.execute(f"SELECT count(*) FROM spans s WHERE {TAGGABLE_WHERE} AND s.doc_id=? {where}", args).fetchone()[0]


def _tags_key(doc_id: str) -> str:
    return f"tagged:{doc_id}"


def _progress_key(doc_id: str) -> str:
    return f"tagging:{doc_id}"


class TaggingProgress(NamedTuple):
    """How far a report's tagging got before it stopped: what it was tagged with
    (``versions.tag_key``), the (start, span_id) of the last span committed, the tags committed."""
    tagged_with: str
    after: tuple[int, str]
    tags: int


def add_report_tags(con: sqlite3.Connection, rows: list[tuple], probabilities: list[tuple]) -> None:
    """Insert tags (span_id, category, score, method, explanation) and probabilities (span_id,
    p per category, margin); a report tagged a chunk at a time calls this once per chunk."""
    con.executemany("INSERT INTO tags VALUES (?,?,?,?,?)", rows)
    con.executemany("INSERT INTO tag_probabilities VALUES (?,?,?,?,?,?)", probabilities)


def note_tagging_progress(con: sqlite3.Connection, doc_id: str, progress: TaggingProgress) -> None:
    """Call in the transaction that commits a chunk's tags: a run killed mid-report resumes after
    the last chunk committed instead of starting the report again."""
    set_state(con, _progress_key(doc_id), json.dumps(progress._asdict()))


def tagging_progress(con: sqlite3.Connection, doc_id: str) -> TaggingProgress | None:
    """How far an unfinished tagging of the report got; None when none is under way."""
    value = get_state(con, _progress_key(doc_id))
    if value is None:
        return None
    saved = json.loads(value)
    return TaggingProgress(saved["tagged_with"], tuple(saved["after"]), saved["tags"])


def mark_tagged(con: sqlite3.Connection, doc_id: str, tagged_with: str) -> None:
    """Record that every taggable span of a report is tagged, and with what (``versions.tag_key``);
    call once its last chunk is committed, so a run killed mid-report leaves no record (only its
    progress, which this ends)."""
    _forget_state(con, _progress_key(doc_id))
    set_state(con, _tags_key(doc_id), tagged_with)


def span_text(con: sqlite3.Connection, span_id: str) -> str:
    row = con.execute("SELECT text FROM spans WHERE span_id=?", (span_id,)).fetchone()
    return row[0] if row else ""


def tagged_with(con: sqlite3.Connection, doc_id: str) -> str | None:
    """What a report's stored tags were computed with, if they are complete; else None."""
    return get_state(con, _tags_key(doc_id))


def report_tag_count(con: sqlite3.Connection, doc_id: str) -> int:
    """How many model tags a report's sentences carry."""
    return con.execute("SELECT COUNT(*) FROM tags WHERE span_id IN (SELECT span_id FROM spans WHERE doc_id=?)",
                       (doc_id,)).fetchone()[0]


def get_state(con: sqlite3.Connection, key: str) -> str | None:
    row = con.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def set_state(con: sqlite3.Connection, key: str, value: str) -> None:
    """Call inside the transaction that writes the results ``value`` describes."""
    con.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))


def _forget_state(con: sqlite3.Connection, *keys: str) -> None:
    """Call inside the transaction that removes the results the keys describe."""
    con.executemany("DELETE FROM state WHERE key=?", [(key,) for key in keys])


#: Every effective tag (model tags with analysts' decisions applied) on a report in the corpus.
_TAGGED = (" FROM effective_tags t JOIN spans s USING (span_id)"
           " WHERE EXISTS (SELECT 1 FROM documents d WHERE d.doc_id=s.doc_id AND d.status='ok')")


#: The taggable sentence before ``s`` in its report (what the tagger read as context), or NULL.
PREVIOUS_TEXT_SQL = ("(SELECT p.text FROM spans p WHERE p.doc_id = s.doc_id AND " + TAGGABLE_WHERE.replace("s.", "p.")
             + " AND (p.start < s.start OR (p.start = s.start AND p.span_id < s.span_id))"
             " ORDER BY p.start DESC, p.span_id DESC LIMIT 1) AS previous")


def tagged_spans(con: sqlite3.Connection, *, category: str | None = None) -> list[sqlite3.Row]:
    """(category, span) pairs of every effective tag (model tags with analysts' decisions applied)
    on a report that is in the corpus, in a fixed order, each with the sentence before it
    (``previous``); one category's with ``category``."""
    where, args = (" AND t.category = ?", (category,)) if category else ("", ())
    return con.execute('SELECT t.category, s.span_id, s.doc_id, s.start, s."end", s.text, s.section_path,'
                       " s.page_start, s.page_end, " + PREVIOUS_TEXT_SQL + _TAGGED + where + " ORDER BY t.category, s.span_id",
                       args).fetchall()


def tagged_keys(con: sqlite3.Connection) -> list[sqlite3.Row]:
    """(category, span_id) of every row ``tagged_spans`` gives, in its order — without the text."""
    return con.execute("SELECT t.category, s.span_id" + _TAGGED + " ORDER BY t.category, s.span_id").fetchall()


def write_themes(con: sqlite3.Connection, themes: list[dict], members: list[tuple], *,
                 input_hash: str | None = None, fit_keys: dict[str, str] | None = None) -> None:
    """Replace all themes and memberships (span_id, category, theme_id, similarity, fitted,
    probability) in one
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
        con.executemany("INSERT INTO theme_members (span_id, category, theme_id, similarity, fitted, probability)"
                        " VALUES (?,?,?,?,?,?)", members)


@dataclass(frozen=True)
class EvidenceChange:
    """The evidence table after a rewrite: its rows, and (theme, sentence) rows new or gone."""
    rows: int
    added: int
    removed: int


def write_evidence(con: sqlite3.Connection, rows: Iterable[dict], *, input_hash: str | None = None,
                   claims: Mapping[str, dict] | None = None) -> EvidenceChange:
    """Replace the evidence rows and, in the same transaction, set each theme's claim columns
    (``claims``: theme_id -> column -> value).

    ``rows`` is inserted as it comes and may be a generator that fills ``claims`` theme by theme:
    ``claims`` is read after the last row. A 50 MB report has 380,000 rows; holding them, and the
    previous table's keys, in Python took ~1 GB, so the comparison with the previous table is
    made in SQL too."""
    with transaction(con):
        con.execute("DROP TABLE IF EXISTS temp.previous_evidence")
        con.execute("CREATE TEMP TABLE previous_evidence AS SELECT theme_id, span_id FROM evidence")
        con.execute("DELETE FROM evidence")
        iterator = iter(rows)
        first = next(iterator, None)
        if first is not None:
            cols = list(first)
            insert = f"INSERT INTO evidence ({','.join(_q(c) for c in cols)}) VALUES ({','.join('?' * len(cols))})"
            con.executemany(insert, (tuple(r[c] for c in cols) for r in itertools.chain([first], iterator)))
        for theme_id, values in (claims or {}).items():
            con.execute(f"UPDATE themes SET {', '.join(f'{_q(c)}=?' for c in values)} WHERE theme_id=?",
                        [json.dumps(v) if isinstance(v, list) else v for v in values.values()] + [theme_id])
        if input_hash is not None:
            set_state(con, "evidence_input", input_hash)
        change = EvidenceChange(*con.execute(
            "SELECT (SELECT COUNT(*) FROM evidence),"
            " (SELECT COUNT(*) FROM (SELECT theme_id, span_id FROM evidence"
            "  EXCEPT SELECT theme_id, span_id FROM temp.previous_evidence)),"
            " (SELECT COUNT(*) FROM (SELECT theme_id, span_id FROM temp.previous_evidence"
            "  EXCEPT SELECT theme_id, span_id FROM evidence))").fetchone())
        con.execute("DROP TABLE temp.previous_evidence")
    return change


def _q(column: str) -> str:
    return f'"{column}"'


# --- reviews, as later stages read them (the explore package writes them) ---------------------

#: Every review ever made, in order; ``applies`` is 0 when its sentence is no longer in the corpus
#: as reviewed.
REVIEW_LOG_SQL = ('SELECT r.review_id, r.created, r.reviewer, r.action, r.category, r.theme_id, r.comment, r.span_id,'
                  ' r.file, r.doc_sha, r.start, r."end", r.text_hash, r.queue,'
                  ' EXISTS (SELECT 1 FROM spans s WHERE s.doc_id = COALESCE(a.doc_sha, r.doc_sha)'
                  '   AND s.start = COALESCE(a.start, r.start) AND s."end" = COALESCE(a."end", r."end")'
                  '   AND s.text_hash = r.text_hash) AS applies,'
                  ' a.doc_sha AS carried_to'
                  ' FROM reviews r LEFT JOIN review_anchors a USING (review_id) ORDER BY r.review_id')


def reanchor_reviews(con: sqlite3.Connection) -> int:
    """Carry every review whose sentence is gone to the same sentence (same text) of its report's
    current version, the one nearest the old offsets; returns how many were carried. Reviews of a
    sentence the new version no longer has stay unapplied (kept, shown as such). Call inside the
    transaction that wrote the new version."""
    docs = dict(con.execute("SELECT path, doc_id FROM documents WHERE status = 'ok'").fetchall())
    carried = 0
    for r in con.execute('SELECT r.review_id, r.file, r.text_hash, COALESCE(a.start, r.start) AS start'
                         f' FROM ({REVIEW_LOG_SQL}) l JOIN reviews r USING (review_id)'
                         ' LEFT JOIN review_anchors a USING (review_id) WHERE NOT l.applies').fetchall():
        doc_id = docs.get(r["file"])
        if doc_id is None:
            continue
        same = con.execute('SELECT start, "end" FROM spans WHERE doc_id = ? AND text_hash = ?',
                           (doc_id, r["text_hash"])).fetchall()
        if not same:
            continue
        best = min(same, key=lambda s: (abs(s["start"] - r["start"]), s["start"]))
        con.execute('INSERT OR REPLACE INTO review_anchors (review_id, doc_sha, start, "end") VALUES (?, ?, ?, ?)',
                    (r["review_id"], doc_id, best["start"], best["end"]))
        carried += 1
    return carried


def theme_moves(con: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(span_id, category, theme_id) of the latest move of each sentence."""
    return [tuple(r) for r in con.execute(
        "SELECT span_id, category, theme_id FROM theme_moves ORDER BY span_id, category")]


def applied(con: sqlite3.Connection) -> dict[str, int]:
    """How many decisions the current run applies: label decisions and moves matching a current
    sentence, and reviews whose sentence is gone (kept, not applied)."""
    log = con.execute(f"SELECT COUNT(*), SUM(NOT applies) FROM ({REVIEW_LOG_SQL})").fetchone()
    return {"decisions": con.execute("SELECT COUNT(*) FROM label_decisions").fetchone()[0],
            "moves": con.execute("SELECT COUNT(*) FROM theme_moves").fetchone()[0],
            "reviews": log[0], "orphaned": log[1] or 0}
