"""The evidence table: one claim per theme, each backed by verbatim quotes with citations, and
``verify``, which re-opens every cited report and checks every quote at its offsets.

A quote is the source text exactly as it stands at ``[start, end)`` (markdown asterisks, line
breaks and all), so that anyone can re-open the file and find it; the cleaned sentence the
pipeline worked on is the span's ``text``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .. import store
from ..embed import embed_cached
from ..errors import Errors
from ..ingest import normalise_text, sha256_bytes, source_text, visible_controls
from ..settings import Settings
from ..versions import digest, stage_code
from .claim import KEY_QUOTES, Candidate, claim_text, has_verbs, interleave, quotable
from .confidence import Evidence, grade

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
    skipped: bool       # themes, reports and decisions unchanged: the table in the store is current


def _decisions_digest(con) -> str:
    return digest([tuple(r) for r in con.execute(
        "SELECT d.span_id, d.category, d.action, r.queue FROM label_decisions d JOIN reviews r USING (review_id)"
        " ORDER BY d.span_id, d.category")])


def build_evidence(settings: Settings, *, force: bool = False) -> EvidenceOutcome:
    """Materialise every theme's evidence rows (key quotes first, interleaved across reports) and
    its claim and confidence (they also depend on analysts' decisions)."""
    con = store.connect(settings.store_path, create=False)
    try:
        docs = _documents(con)
        input_hash = digest({"themes": store.get_state(con, "themes_input"), "code": stage_code("evidence"),
                             "docs": sorted((d["doc_id"], d["path"], d["citation"]) for d in docs.values()),
                             "decisions": _decisions_digest(con)})
        # Skipped only when the stored claims are complete: a theme without its claim is work to do
        # (a refit rewrites the themes without claims), never a no-op.
        if not force and store.get_state(con, "evidence_input") == input_hash and claims_complete(con):
            n = con.execute("SELECT COUNT(*) FROM evidence").fetchone()[0]
            return EvidenceOutcome(n, 0, 0, True)
        claims: dict[str, dict] = {}
        # One theme at a time, straight into the store: memory holds the largest theme, not the table.
        change = store.write_evidence(con, _evidence_rows(con, docs, settings, claims=claims),
                                      input_hash=input_hash, claims=claims)
        return EvidenceOutcome(change.rows, change.added, change.removed, False)
    finally:
        con.close()


def claims_complete(con) -> bool:
    """Every theme that makes a claim (frame and named emergent themes) has one."""
    return con.execute("SELECT COUNT(*) FROM themes WHERE kind IN ('frame', 'emergent') AND claim = ''").fetchone()[0] == 0


def _evidence_rows(con, docs: dict[str, dict], settings: Settings, *, claims: dict[str, dict]) -> Iterator[dict]:
    """Every theme's rows, theme by theme; each theme's claim goes into ``claims`` as it is done."""
    texts: dict[str, str] = {}
    for theme in supported_themes(con, docs):
        claims[theme.theme_id] = theme.claim
        for rank, m in enumerate(theme.ordered, start=1):
            doc = docs[m["doc_id"]]
            if m["doc_id"] not in texts:
                texts[m["doc_id"]] = _source(doc, settings)
            path = json.loads(m["section_path"] or "[]")
            yield {
                "theme_id": theme.theme_id, "rank": rank, "span_id": m["span_id"],
                "doc_id": m["doc_id"], "file": doc["path"], "start": m["start"], "end": m["end"],
                "quote": texts[m["doc_id"]][m["start"]:m["end"]],
                "citation": format_citation(_cited(doc), path, m["page_start"], m["page_end"]),
                "section": path[-1] if path else None,
                "page": page_reference(m["page_start"], m["page_end"]) or None,
                "key_quote": int(m["span_id"] in theme.key),
            }


def _cited(doc: dict) -> str:
    return doc["citation"] or doc["file_name"]


@dataclass
class ThemeSupport:
    theme_id: str
    ordered: list                       # member rows, key quotes first
    key: set[str]                       # span ids of its key quotes
    claim: dict                         # claim columns of ``themes``


_MEMBERS_SQL = (
    'SELECT m.theme_id, m.category, m.similarity, m.probability, s.span_id, s.doc_id, s.start, s."end", s.section_path,'
    " s.page_start, s.page_end, s.kind, s.exclude_reason, s.text, p.structure, p.impact, p.condition, p.barrier, e.review,"
    " t.kind AS theme_kind FROM theme_members m JOIN themes t USING (theme_id) JOIN spans s USING (span_id)"
    " LEFT JOIN tag_probabilities p USING (span_id)"
    " LEFT JOIN effective_tags e ON e.span_id = m.span_id AND e.category = m.category"
    " WHERE m.theme_id = ? ORDER BY m.similarity DESC, s.span_id")
#: Themes that make a claim; an unnamed cluster ('cluster') or a dismissed one shows its quotes only.
CLAIMING_KINDS = ("frame", "emergent")
#: A frame theme's sentence counts towards the claim's reports when the assignment model gives
#: its theme at least this probability (or an analyst put it there).
CONFIDENT = 0.5


def supported_themes(con, docs: dict[str, dict]) -> Iterator[ThemeSupport]:
    """For every theme with members, one at a time: its members in quote order, its key quotes,
    its claim and confidence (none for a theme that makes no claim)."""
    themes = con.execute("SELECT theme_id, category, label, kind, centroid FROM themes ORDER BY theme_id").fetchall()
    decisions = _random_queue_decisions(con)
    centroids = {t["theme_id"]: np.frombuffer(t["centroid"], dtype=np.float32) for t in themes}
    rejected_in = _attribute_rejections(con, decisions, themes, centroids)
    total = len(docs)
    for t in themes:
        rows = con.execute(_MEMBERS_SQL, (t["theme_id"],)).fetchall()
        if not rows:
            continue
        texts = [m["text"] for m in rows]
        verbs = has_verbs(texts, con=con)
        vectors = dict(zip([m["span_id"] for m in rows], embed_cached(texts, con=con)))
        candidates = [Candidate(m["span_id"], m["doc_id"], _sureness(m) * _confidence_of(m),
                                quotable(m["text"], m["kind"], has_verb=verb) and m["exclude_reason"] != "template",
                                " ".join(m["text"].lower().split())) for m, verb in zip(rows, verbs)]
        ordered = interleave(candidates)
        row_of = {m["span_id"]: m for m in rows}
        confident = [m for m in rows if _confident(m)] or rows
        reports = sorted({m["doc_id"] for m in confident})
        citations = sorted({_cited(docs[d]) for d in reports if d in docs})
        accepted = sum(decisions.get((m["span_id"], t["category"])) == "accept" for m in rows)
        rejected = rejected_in.get(t["theme_id"], 0)
        coherence = _report_coherence(confident, vectors, centroids[t["theme_id"]])
        confidence = grade(Evidence(len(confident), len(reports), total, coherence, reviewed=accepted + rejected,
                                    accepted=accepted, members=len(rows)))
        key = [c for c in ordered[:KEY_QUOTES] if c.quotable]
        claiming = t["kind"] in CLAIMING_KINDS
        yield ThemeSupport(
            t["theme_id"], [row_of[c.span_id] for c in ordered], {c.span_id for c in key},
            {"claim": claim_text(t["category"], t["label"], citations=citations, total_reports=total,
                                 one_report_quotes=len({c.report for c in key}) == 1) if claiming else "",
             "confidence": confidence.grade if claiming else None,
             "confidence_reasons": confidence.reasons if claiming else [], "supporting": citations,
             "n_reports": len(citations), "single_report": int(len(citations) == 1),
             "representative_span_id": ordered[0].span_id})


def _sureness(member) -> float:
    """How sure the assignment is that the sentence is evidence of its theme: the model's
    probability for a frame theme's sentence (1 when an analyst moved it there), the centrality
    (cosine to the centroid) for a cluster's."""
    if member["theme_kind"] == "frame":
        return 1.0 if member["probability"] is None else float(member["probability"])
    return float(member["similarity"] or 0.0)


def _confident(member) -> bool:
    return member["theme_kind"] != "frame" or member["probability"] is None or member["probability"] >= CONFIDENT


def _confidence_of(member) -> float:
    """How confidently the sentence carries the theme's category: 1 when an analyst accepted or
    added it, else the tagger's calibrated probability (1 when none is stored)."""
    if member["review"] in ("accepted", "added"):
        return 1.0
    value = member[member["category"]]
    return float(value) if value is not None else 1.0


def _random_queue_decisions(con) -> dict[tuple[str, str], str]:
    """(span id, category) -> accept | reject, from the random-order queue only (an unbiased sample)."""
    return {(r["span_id"], r["category"]): r["action"] for r in con.execute(
        "SELECT d.span_id, d.category, d.action FROM label_decisions d JOIN reviews r USING (review_id)"
        " WHERE r.queue = 'random'")}


def _attribute_rejections(con, decisions, themes, centroids) -> dict[str, int]:
    """A rejected sentence left its theme; it counts against the theme of its category whose
    centroid is nearest (where it was quoted before the rejection, as a rule)."""
    rejected = [(span, category) for (span, category), action in decisions.items() if action == "reject"]
    if not rejected:
        return {}
    text = dict(con.execute(f"SELECT span_id, text FROM spans WHERE span_id IN ({','.join('?' * len(rejected))})",
                            [s for s, _ in rejected]).fetchall())
    rejected = [(s, c) for s, c in rejected if s in text]
    vectors = embed_cached([text[s] for s, _ in rejected], con=con) if rejected else []
    counts: dict[str, int] = {}
    for (span, category), vector in zip(rejected, vectors):
        own = [t["theme_id"] for t in themes if t["category"] == category]
        if own:
            best = max(own, key=lambda theme_id: (float(np.dot(vector, centroids[theme_id])), theme_id))
            counts[best] = counts.get(best, 0) + 1
    return counts


def _report_coherence(rows, vectors, centroid) -> float | None:
    """The lowest cosine similarity of a supporting report's own centroid (its sentences of the
    theme) to the theme's centroid; None with a single report."""
    per_report: dict[str, list] = {}
    for m in rows:
        per_report.setdefault(m["doc_id"], []).append(vectors[m["span_id"]])
    if len(per_report) < 2:
        return None
    unit = centroid / (np.linalg.norm(centroid) or 1.0)
    lowest = 1.0
    for vs in per_report.values():
        c = np.mean(vs, axis=0)
        lowest = min(lowest, float(np.dot(c / (np.linalg.norm(c) or 1.0), unit)))
    return round(lowest, 4)


# --- reading the table ---------------------------------------------------------------------

def kind_order(column: str = "t.kind") -> str:
    """SQL ordering themes by kind: frame themes first, then named emergent themes, then unnamed
    clusters, then dismissed ones."""
    return f"CASE {column} WHEN 'frame' THEN 0 WHEN 'emergent' THEN 1 WHEN 'cluster' THEN 2 ELSE 3 END"


def shown_label(alias: str = "t") -> str:
    """SQL for a theme's name as people see it: a cluster's keyword label is not a name (a
    researcher would not recognise "Amazing two years"), so it shows as "(unnamed cluster ID)"."""
    return (f"CASE WHEN {alias}.kind IN ('frame', 'emergent') THEN {alias}.label"
            f" ELSE '(unnamed cluster ' || {alias}.theme_id || ')' END")


CLAIM_COLUMNS = ["theme_id", "category", "kind", "label", "keywords", "why_unnamed", "claim", "confidence", "confidence_reasons", "supporting",
                 "sentence", "quote", "citation", "n_sentences", "n_reports", "single_report"]
# ``sentence`` is the clean sentence for reading (markup removed, line breaks joined: the
# pipeline's normalisation of the quote); ``quote`` is the verbatim source text at
# ``file[start:end]`` for checking. ``verify`` checks that one is the normalisation of the other.


def claims(con) -> pd.DataFrame:
    """One row per theme, with its first key quote and that quote's citation; the confidence
    reasons and supporting reports as lists (keywords as JSON text, as spreadsheets hold them).
    A theme that makes no claim (an unnamed or dismissed cluster) has an empty ``claim``."""
    frame = pd.read_sql_query(
        "SELECT t.theme_id, t.category, t.kind, t.label, t.keywords, t.why_unnamed, t.claim, t.confidence,"
        " t.confidence_reasons, t.supporting,"
        " s.text AS sentence, e.quote, e.citation, t.n_sentences, t.n_reports, t.single_report FROM themes t"
        " JOIN evidence e ON e.theme_id=t.theme_id AND e.span_id=t.representative_span_id"
        " LEFT JOIN spans s ON s.span_id=e.span_id ORDER BY t.category, " + kind_order() + ", t.n_sentences DESC,"
        " t.theme_id", con)
    for column in ("confidence_reasons", "supporting"):
        frame[column] = [json.loads(v) if v else [] for v in frame[column]]
    return frame


def key_quotes(con) -> pd.DataFrame:
    """Every claim's key quotes, in order, with citations."""
    return pd.read_sql_query(
        'SELECT e.theme_id, e.rank, s.text AS sentence, e.quote, e.citation, e.file, e.start, e."end" FROM evidence e'
        " LEFT JOIN spans s USING (span_id) WHERE e.key_quote = 1 ORDER BY e.theme_id, e.rank", con)


_EVIDENCE_ROWS_SQL = (
    'SELECT e.theme_id, t.category, t.label, e.rank, e.key_quote, e.span_id, s.text AS sentence, e.quote, e.citation,'
    ' e.file, e.start, e."end", e.section, e.page FROM evidence e JOIN themes t USING (theme_id)'
    ' LEFT JOIN spans s ON s.span_id = e.span_id {where} ORDER BY t.category, e.theme_id, e.rank')


def evidence_rows(con, *, upto_rank: int | None = None) -> pd.DataFrame:
    """Every cited sentence (or each theme's first ``upto_rank``): its clean ``sentence`` and its
    verbatim ``quote`` (control characters shown as control pictures, "␀": the offsets re-open
    the exact raw text)."""
    where, params = ("WHERE e.rank <= ?", (upto_rank,)) if upto_rank is not None else ("", ())
    return _visible(pd.read_sql_query(_EVIDENCE_ROWS_SQL.format(where=where), con, params=params, dtype=_TEXT))


def evidence_row_chunks(con, *, rows: int = 20_000) -> Iterator[pd.DataFrame]:
    """``evidence_rows`` ``rows`` at a time, in the same order (a 50 MB report has 380,000: as one
    frame, with the copies writing makes, they took ~2 GB). Yields at least one, maybe empty, frame."""
    for chunk in pd.read_sql_query(_EVIDENCE_ROWS_SQL.format(where=""), con, chunksize=rows, dtype=_TEXT):
        yield _visible(chunk)


#: The columns of ``evidence_rows`` (``_EVIDENCE_ROWS_SQL``'s order) and those that are integers.
EVIDENCE_ROW_COLUMNS = ("theme_id", "category", "label", "rank", "key_quote", "span_id", "sentence", "quote",
                        "citation", "file", "start", "end", "section", "page")
EVIDENCE_ROW_INTEGERS = frozenset({"rank", "key_quote", "start", "end"})
#: The rest are read as text whatever a chunk holds: a chunk whose pages are all unknown would
#: otherwise read as objects (None) where the whole table has text (NaN).
_TEXT = {c: "str" for c in EVIDENCE_ROW_COLUMNS if c not in EVIDENCE_ROW_INTEGERS}


def _visible(rows: pd.DataFrame) -> pd.DataFrame:
    rows["quote"] = rows["quote"].map(visible_controls)
    return rows


def evidence_counts(con) -> pd.DataFrame:
    """How many evidence rows each (theme, report file) has, with the theme's category."""
    return pd.read_sql_query("SELECT e.theme_id, t.category, e.file, COUNT(*) AS n FROM evidence e"
                             " JOIN themes t USING (theme_id) GROUP BY e.theme_id, t.category, e.file", con)


# --- verification --------------------------------------------------------------------------

#: The store's record of the corpus folder its reports were read from (absolute path).
CORPUS_STATE = "corpus_dir"


def record_corpus(con, settings: Settings) -> None:
    """Remember where the reports were read from, so `verify` re-opens the same folder."""
    store.set_state(con, CORPUS_STATE, str(settings.corpus_dir.resolve()))


def recorded_corpus(con) -> Path | None:
    """The corpus folder the store was last built from (None for a store older than this record)."""
    value = store.get_state(con, CORPUS_STATE)
    return Path(value) if value else None


@dataclass
class Verification:
    checked: int = 0
    reports: int = 0
    #: (report file, where in the evidence table, what is wrong) for every quote that failed.
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    #: Quotes checked per report file.
    per_report: dict[str, int] = field(default_factory=dict)
    #: Reports whose bytes differ from the ones the run read (their quotes were checked one by one).
    changed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verified(self) -> int:
        return self.checked - len(self.problems)

    @property
    def mismatches(self) -> list[str]:
        """Every failure as its own E050 message."""
        return [Errors.E050.format(where=where, problem=problem) for _, where, problem in self.problems]

    def summary(self, *, first: int = 5) -> list[str]:
        """One line per changed report that still verifies, and one E050 line per report that
        failed: how many quotes, why, the first few, what to do."""
        lines = []
        files = dict.fromkeys(f for f, _, _ in self.problems)
        for file in self.changed:
            if file not in files:
                lines.append(f"{file} changed since the run, but all {self.per_report.get(file, 0)} of its quotes still "
                             "stand verbatim at their offsets. Run `collabmine run` to take in the new version.")
        for file in files:
            mine = [(w, p) for f, w, p in self.problems if f == file]
            reasons = ", ".join(f"{p} ({n})" for p, n in Counter(p for _, p in mine).most_common())
            shown = "; ".join(w for w, _ in mine[:first]) + (f"; … {len(mine) - first} more" if len(mine) > first else "")
            total = self.per_report.get(file, len(mine))
            still = (f" (changed since the run; the other {total - len(mine)} quotes still verify)"
                     if file in self.changed else "")
            lines.append(Errors.E050.format(
                where=f"{file}: {len(mine)} of {total} quotes{still}", problem=reasons)
                + f" First {min(first, len(mine))}: {shown}.")
        return lines


def verify(settings: Settings) -> Verification:
    """Re-open every cited report in ``settings.corpus_dir`` and compare every quote with the
    text at its offsets, and with the sentence the pipeline stored. A report whose bytes changed
    since the run is still checked quote by quote when its text can be read directly (.txt,
    .md): an edit breaks the quotes it touches, not the whole report."""
    con = store.connect(settings.store_path, create=False)
    result = Verification()
    try:
        docs = _documents(con)
        # Read as a cursor, not fetched whole: a 50 MB report has 380,000 quotes.
        rows = con.execute('SELECT e.theme_id, e.span_id, e.doc_id, e.file, e.start, e."end", e.quote, s.text'
                           " FROM evidence e LEFT JOIN spans s USING (span_id) ORDER BY e.doc_id, e.start")
        texts: dict[str, tuple[str | None, str]] = {}
        for r in rows:
            result.checked += 1
            file = r["file"]
            result.per_report[file] = result.per_report.get(file, 0) + 1
            where = f"theme {r['theme_id']} span {r['span_id']} ({file} [{r['start']}:{r['end']}])"
            if r["doc_id"] not in texts:
                texts[r["doc_id"]] = _reopen(docs.get(r["doc_id"]), file, r["doc_id"], settings)
                if texts[r["doc_id"]][1] == "changed":
                    result.changed.append(file)
            text, state = texts[r["doc_id"]]
            if text is None:
                result.problems.append((file, where, state))
                continue
            if text[r["start"]:r["end"]] != r["quote"]:
                result.problems.append((file, where, "the quote differs from the text at its offsets"))
            elif r["text"] is None or normalise_text(r["quote"]) != r["text"]:
                result.problems.append((file, where, "the quote no longer matches the stored sentence"))
        result.reports = sum(1 for t, _ in texts.values() if t is not None)
        return result
    finally:
        con.close()


def _reopen(doc: dict | None, file: str, doc_id: str, settings: Settings) -> tuple[str | None, str]:
    """The report's text and its state: "same" (the bytes the run read), "changed" (other bytes,
    text still readable at the offsets), or the reason it cannot be checked (text None)."""
    path = settings.corpus_dir / file
    if doc is None:
        return None, "the report is not in the store"
    if not path.exists():
        return None, f"the report is not in {settings.corpus_dir}"
    try:
        data = path.read_bytes()
        if sha256_bytes(data) == doc_id:
            return _source(doc, settings), "same"
        if doc["text_path"]:
            # The offsets index text extracted from the old bytes (PDF, DOCX, HTML): nothing to compare.
            return None, "the report's bytes changed since the run"
        return data.decode(doc["encoding"] or "utf-8"), "changed"
    except (OSError, UnicodeDecodeError, LookupError):
        return None, "the report cannot be re-opened"
