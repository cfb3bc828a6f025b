"""The evidence table: one claim per theme, each backed by verbatim quotes with citations, and
``verify``, which re-opens every cited report and checks every quote at its offsets.

A quote is the source text exactly as it stands at ``[start, end)`` (markdown asterisks, line
breaks and all), so that anyone can re-open the file and find it; the cleaned sentence the
pipeline worked on is the span's ``text``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import store
from .errors import Errors
from .ingest import sha256_bytes, source_text
from .normalise import normalise_text
from .settings import Settings
from .versions import digest, stage_code

_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+(.*)$")


def section_reference(section_path: list[str]) -> str:
    """"§6.4 Staff training and professional development" for a numbered heading, else the
    heading in quotes; empty when the sentence sits under no heading."""
    if not section_path:
        return ""
    heading = " ".join(section_path[-1].split())
    m = _NUMBERED.match(heading)
    return f"§{m.group(1)} {m.group(2)}" if m else f"“{heading}”"


def page_reference(page_start: str | None, page_end: str | None) -> str:
    if not page_start:
        return ""
    if not page_end or page_end == page_start:
        return f"p. {page_start}"
    return f"pp. {page_start}–{page_end}"


def format_citation(citation: str, section_path: list[str], page_start: str | None, page_end: str | None) -> str:
    """"Rudd et al. (2004), §6.4 Staff training and professional development, p. 25"."""
    return ", ".join(p for p in (citation, section_reference(section_path), page_reference(page_start, page_end)) if p)


def _documents(con) -> dict[str, dict]:
    return {r["doc_id"]: dict(r) for r in store.documents(con) if r["status"] == "ok"}


def _source(doc: dict, settings: Settings) -> str:
    return source_text(settings.corpus_dir / doc["path"], encoding=doc["encoding"], text_path=doc["text_path"])


@dataclass
class EvidenceOutcome:
    rows: int
    added: int          # (theme, sentence) rows new since the previous table
    removed: int
    skipped: bool       # themes and reports unchanged: the table in the store is current


def build_evidence(settings: Settings, *, force: bool = False) -> EvidenceOutcome:
    """Materialise the evidence rows of every theme."""
    con = store.connect(settings.store_path, create=False)
    try:
        docs = _documents(con)
        input_hash = digest({"themes": store.get_state(con, "themes_input"), "code": stage_code("evidence"),
                             "docs": sorted((d["doc_id"], d["path"], d["citation"]) for d in docs.values())})
        if not force and store.get_state(con, "evidence_input") == input_hash:
            n = con.execute("SELECT COUNT(*) FROM evidence").fetchone()[0]
            return EvidenceOutcome(n, 0, 0, True)
        before = {(r[0], r[1]) for r in con.execute("SELECT theme_id, span_id FROM evidence")}
        texts: dict[str, str] = {}
        rows = []
        members = con.execute(
            'SELECT m.theme_id, m.similarity, s.span_id, s.doc_id, s.start, s."end", s.section_path, s.page_start,'
            " s.page_end FROM theme_members m JOIN spans s USING (span_id) WHERE m.theme_id IS NOT NULL"
            " ORDER BY m.theme_id, m.similarity DESC, s.span_id").fetchall()
        rank: dict[str, int] = {}
        for m in members:
            doc = docs[m["doc_id"]]
            if m["doc_id"] not in texts:
                texts[m["doc_id"]] = _source(doc, settings)
            rank[m["theme_id"]] = rank.get(m["theme_id"], 0) + 1
            path = json.loads(m["section_path"] or "[]")
            rows.append({
                "theme_id": m["theme_id"], "rank": rank[m["theme_id"]], "span_id": m["span_id"],
                "doc_id": m["doc_id"], "file": doc["path"], "start": m["start"], "end": m["end"],
                "quote": texts[m["doc_id"]][m["start"]:m["end"]],
                "citation": format_citation(doc["citation"] or doc["file_name"], path, m["page_start"], m["page_end"]),
                "section": path[-1] if path else None,
                "page": page_reference(m["page_start"], m["page_end"]) or None,
            })
        store.write_evidence(con, rows, input_hash=input_hash)
        after = {(r["theme_id"], r["span_id"]) for r in rows}
        return EvidenceOutcome(len(rows), len(after - before), len(before - after), False)
    finally:
        con.close()


# --- reading the table ---------------------------------------------------------------------

CLAIM_COLUMNS = ["theme_id", "category", "label", "claim", "quote", "citation", "n_sentences", "n_reports",
                 "strength", "single_report"]


def claims(con) -> pd.DataFrame:
    """One row per claim, with its most representative quote and that quote's citation."""
    return pd.read_sql_query(
        "SELECT t.theme_id, t.category, t.label, t.claim, e.quote, e.citation, t.n_sentences, t.n_reports,"
        " t.strength, t.single_report FROM themes t JOIN evidence e ON e.theme_id=t.theme_id"
        " AND e.span_id=t.representative_span_id ORDER BY t.category, t.theme_id", con)


def evidence_rows(con) -> pd.DataFrame:
    return pd.read_sql_query(
        'SELECT e.theme_id, t.category, t.label, e.rank, e.span_id, e.quote, e.citation, e.file, e.start, e."end",'
        " e.section, e.page FROM evidence e JOIN themes t USING (theme_id) ORDER BY t.category, e.theme_id, e.rank", con)


# --- verification --------------------------------------------------------------------------

@dataclass
class Verification:
    checked: int = 0
    reports: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def verify(settings: Settings) -> Verification:
    """Re-open every cited report (checking its sha256) and compare every quote with the text at
    its offsets, and with the sentence the pipeline stored."""
    con = store.connect(settings.store_path, create=False)
    result = Verification()
    try:
        docs = _documents(con)
        rows = con.execute('SELECT e.theme_id, e.span_id, e.doc_id, e.file, e.start, e."end", e.quote, s.text'
                           " FROM evidence e LEFT JOIN spans s USING (span_id) ORDER BY e.doc_id, e.start").fetchall()
        texts: dict[str, str | None] = {}
        for r in rows:
            result.checked += 1
            where = f"theme {r['theme_id']} span {r['span_id']} ({r['file']} [{r['start']}:{r['end']}])"
            if r["doc_id"] not in texts:
                texts[r["doc_id"]] = _reopen(docs.get(r["doc_id"]), r["file"], r["doc_id"], settings, result)
            text = texts[r["doc_id"]]
            if text is None:
                result.mismatches.append(Errors.E050.format(where=where, problem="the report cannot be re-opened "
                                                            "or its bytes changed"))
                continue
            if text[r["start"]:r["end"]] != r["quote"]:
                result.mismatches.append(Errors.E050.format(where=where, problem="the quote differs from the text at its offsets"))
            elif r["text"] is None or normalise_text(r["quote"]) != r["text"]:
                result.mismatches.append(Errors.E050.format(where=where, problem="the quote no longer matches the stored sentence"))
        result.reports = sum(1 for t in texts.values() if t is not None)
        return result
    finally:
        con.close()


def _reopen(doc: dict | None, file: str, doc_id: str, settings: Settings, result: Verification) -> str | None:
    path = settings.corpus_dir / file
    if doc is None or not path.exists() or sha256_bytes(path.read_bytes()) != doc_id:
        return None
    try:
        return _source(doc, settings)
    except (OSError, UnicodeDecodeError):
        return None
