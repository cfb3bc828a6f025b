"""Read-side views over the store for people browsing it (the web app and the notebook API):
the overview per category, one theme with its evidence and review state, one report's sentences
with their categories."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from ..categories import CATEGORIES
from ..errors import Errors, NotFoundError, ReviewError
from ..evidence.confidence import GRADES, reviewed
from ..evidence.outputs import bar_chart
from ..evidence.table import CLAIMING_KINDS, kind_order, shown_label
from ..ingest import visible_controls
from ..ingest.metadata import entries_to_check

SPANS_PER_PAGE = 300


#: How the overview's theme tables can be ordered: the SQL after the category.
SORTS = {"size": kind_order() + ", n_sentences DESC, theme_id",
         "grade": "confidence IS NULL, CASE confidence " + " ".join(f"WHEN '{g}' THEN {i}" for i, g in enumerate(GRADES))
                  + " END, n_reports DESC, n_sentences DESC, theme_id",
         "reports": "n_reports IS NULL, n_reports DESC, n_sentences DESC, theme_id"}


def overview(con: sqlite3.Connection, *, sort: str = "size") -> list[dict]:
    """Per category: its themes (largest first; or by ``sort``: confidence grade, supporting
    reports), sentence total and a bar chart of theme sizes. Each theme says whether its quotes
    were reviewed enough to judge precision."""
    if sort not in SORTS:
        raise ReviewError(Errors.E104.format(sort=sort, sorts=", ".join(SORTS)))
    themes = con.execute(f"SELECT theme_id, category, kind, {shown_label('t')} AS label, n_sentences, n_reports,"
                         " confidence, single_report,"
                         " confidence_reasons FROM themes t ORDER BY category, " + SORTS[sort]).fetchall()
    out = []
    for category in CATEGORIES:
        rows = [dict(t) for t in themes if t["category"] == category]
        for t in rows:
            t["reviewed"] = reviewed(json.loads(t.pop("confidence_reasons") or "[]"))
        by_size = sorted(rows, key=lambda t: (t["kind"] not in CLAIMING_KINDS, -t["n_sentences"], t["theme_id"]))
        chart = bar_chart([(t["label"], t["n_sentences"]) for t in by_size], label_width=LABEL_WIDTH)
        for bar, t in zip(chart["bars"], by_size):
            bar["theme_id"] = t["theme_id"]   # each bar links to its theme
        out.append({"name": category, "themes": rows, "n_sentences": sum(t["n_sentences"] for t in rows),
                    "chart": chart})
    return out


#: Pixels for a bar's label: theme names are shown whole (the longest frame name is ~45 characters).
LABEL_WIDTH = 330


def theme_gone(con: sqlite3.Connection, theme_id: str) -> NotFoundError:
    """The error for a theme id that is not in the store: where a run recorded the theme's end
    (merged into another theme, or retired), it says
    which run and where its sentences are now — an analyst's bookmark or an exported link to it
    then leads on instead of stopping at a bare 404."""
    ends = "SELECT c.kind, c.detail, r.started, c.run_id FROM changes c JOIN runs r USING (run_id)" \
           " WHERE c.subject = ? AND c.kind IN ('theme_merged', 'theme_retired')"
    end = con.execute(ends + " ORDER BY r.started DESC, c.rowid DESC LIMIT 1", (theme_id,)).fetchone()
    if end is None:
        return NotFoundError(Errors.E089.format(theme_id=theme_id))
    kind, detail, started, run_id = end
    category = theme_id.split("-", 1)[0]
    successor = (detail or "").removeprefix("merged into ").strip() if kind == "theme_merged" else ""
    # A cluster's id can be given again to a new cluster once its own theme has ended: the
    # successor is only the theme of that id if that theme has not ended since.
    row = (con.execute(f"SELECT {shown_label()} AS name FROM themes t WHERE t.theme_id = ?", (successor,)).fetchone()
           if successor and con.execute(ends + " AND r.started >= ? AND c.run_id != ? LIMIT 1",
                                        (successor, started, run_id)).fetchone() is None
           else None)
    if row is not None:
        what = f"merged it into \"{row[0]}\""
        where, link = f"Its sentences are under theme {successor!r} (/themes/{successor}).", f"/themes/{successor}"
    else:
        is_cluster = theme_id.rsplit("-", 1)[-1].isdigit()  # clusters are numbered; frame themes keep their key
        what = ("merged it into a theme that has since gone too" if kind == "theme_merged" else
                "retired it: its category was clustered afresh and no new theme took most of its sentences"
                if is_cluster else "retired it: no sentence is in it now (the frame or the assignment changed)")
        where = (f"The {category} themes now: `collabmine themes --category {category}` or the overview (/)."
                 if category in CATEGORIES else "`collabmine themes` lists the current themes.")
        link = "/"
    return NotFoundError(Errors.E105.format(theme_id=theme_id, when=str(started)[:16].replace("T", " "),
                                            what=what, where=where), link=link)


def theme_detail(con: sqlite3.Connection, theme_id: str, *, report: str | None = None) -> dict:
    """The theme, its evidence rows (key quotes first, interleaved across reports; only
    ``report``'s when given) each with the current decision on the theme's category, the
    supporting reports (for the filter) and the other themes of the category (move targets)."""
    theme = con.execute("SELECT * FROM themes WHERE theme_id = ?", (theme_id,)).fetchone()
    if theme is None:
        raise theme_gone(con, theme_id)
    rows = [dict(r) for r in con.execute(
        'SELECT e.rank, e.key_quote, e.span_id, e.doc_id, e.file, e.start, e."end", e.quote, s.text AS sentence,'
        ' e.citation, d.action AS decision,'
        " d.reviewer, d.created AS reviewed_at FROM evidence e LEFT JOIN spans s ON s.span_id = e.span_id"
        " LEFT JOIN label_decisions d"
        " ON d.span_id = e.span_id AND d.category = ? WHERE e.theme_id = ? AND (? IS NULL OR e.doc_id = ?)"
        " ORDER BY e.rank", (theme["category"], theme_id, report, report))]
    supporting = [dict(r) for r in con.execute(
        "SELECT e.doc_id, COALESCE(d.citation, d.file_name) AS citation, COUNT(*) AS n FROM evidence e"
        " JOIN documents d ON d.doc_id = e.doc_id AND d.path = e.file WHERE e.theme_id = ?"
        " GROUP BY e.doc_id ORDER BY citation", (theme_id,))]
    labels: dict[str, list[str]] = {}
    for span_id, category in con.execute("SELECT t.span_id, t.category FROM effective_tags t JOIN evidence e"
                                         " ON e.span_id = t.span_id AND e.theme_id = ?", (theme_id,)):
        labels.setdefault(span_id, []).append(category)
    notes = comments(con, [r["span_id"] for r in rows])
    for r in rows:
        r["quote"] = visible_controls(r["quote"])
        r["categories"] = sorted(labels.get(r["span_id"], []), key=CATEGORIES.index)
        r["comments"] = notes.get(r["span_id"], [])
    others = [dict(r) for r in con.execute(f"SELECT theme_id, {shown_label('themes')} AS label FROM themes"
                                           " WHERE category = ? AND theme_id <> ?"
                                           " ORDER BY theme_id", (theme["category"], theme_id))]
    lists = {k: json.loads(theme[k] or "[]") for k in ("keywords", "confidence_reasons", "supporting")}
    edits = [dict(r) for r in con.execute(
        "SELECT created, reviewer, action, theme_id, name, target_theme_id, comment FROM theme_edits"
        " WHERE theme_id = ? OR target_theme_id = ? ORDER BY edit_id", (theme_id, theme_id))]
    return {"theme": {k: theme[k] for k in theme.keys() if k != "centroid"} | lists,
            "rows": rows, "others": others, "reports": supporting, "report": report, "edits": edits,
            "reviewed": reviewed(lists["confidence_reasons"])}


def reports(con: sqlite3.Connection) -> list[dict]:
    """Every report, by citation then title (how a researcher knows them), with its file; a report
    cited from inferred metadata carries the ``sources.yaml`` lines to check (``to_check``)."""
    rows = [dict(r) for r in con.execute(
        "SELECT d.doc_id, d.path, d.file_name, d.citation, d.title, d.status, d.error, d.n_spans,"
        " (SELECT COUNT(DISTINCT t.span_id) FROM effective_tags t JOIN spans s USING (span_id)"
        "  WHERE s.doc_id = d.doc_id) AS n_tagged FROM documents d"
        " ORDER BY d.citation IS NULL, d.citation, d.title, d.path")]
    to_check = entries_to_check([dict(r) for r in con.execute("SELECT * FROM documents")])
    return [r | {"to_check": to_check.get(r["path"])} for r in rows]


def report_by_name(con: sqlite3.Connection, name: str) -> str | None:
    """The id of the report whose corpus path or file name is ``name`` (None if none)."""
    row = con.execute("SELECT doc_id FROM documents WHERE status = 'ok' AND (path = ? OR file_name = ?)"
                      " ORDER BY path LIMIT 1", (name, name)).fetchone()
    return row["doc_id"] if row else None


def comments(con: sqlite3.Connection, span_ids: list[str]) -> dict[str, list[dict]]:
    """Analysts' comments on each sentence (oldest first), matched by the sentence's text and
    offsets as decisions are, so a comment follows its sentence across runs."""
    out: dict[str, list[dict]] = {}
    for i in range(0, len(span_ids), 500):
        chunk = span_ids[i:i + 500]
        for r in con.execute(
                "SELECT s.span_id, r.reviewer, r.comment, r.created FROM anchored_reviews r JOIN spans s"
                ' ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end" AND s.text_hash = r.text_hash'
                f" WHERE r.action = 'comment' AND s.span_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY r.review_id", chunk):
            out.setdefault(r["span_id"], []).append(dict(r))
    return out


@dataclass
class ReportPage:
    doc: dict
    spans: list[dict]       # span_id, text, kind, section, categories, start, end
    page: int
    pages: int
    focus: str | None       # the span asked for (highlighted), if on this page


def report_page(con: sqlite3.Connection, doc_id: str, *, page: int = 1, focus: str | None = None,
                per_page: int = SPANS_PER_PAGE) -> ReportPage:
    """One page of a report's sentences in reading order with their (effective) categories. With
    ``focus``, the page holding that sentence."""
    doc = con.execute("SELECT * FROM documents WHERE doc_id = ? AND status = 'ok' ORDER BY path LIMIT 1",
                      (doc_id,)).fetchone()
    if doc is None:
        raise NotFoundError(Errors.E093.format(doc_id=doc_id))
    total = con.execute("SELECT COUNT(*) FROM spans WHERE doc_id = ?", (doc_id,)).fetchone()[0]
    pages = max(1, -(-total // per_page))
    if focus:
        position = con.execute("SELECT COUNT(*) FROM spans WHERE doc_id = ? AND start < (SELECT start FROM spans"
                               " WHERE span_id = ? AND doc_id = ?)", (doc_id, focus, doc_id)).fetchone()[0]
        found = con.execute("SELECT 1 FROM spans WHERE span_id = ? AND doc_id = ?", (focus, doc_id)).fetchone()
        page = position // per_page + 1 if found else page
    page = min(max(1, page), pages)
    rows = con.execute('SELECT span_id, text, kind, section, start, "end", excluded FROM spans WHERE doc_id = ?'
                       " ORDER BY start LIMIT ? OFFSET ?", (doc_id, per_page, (page - 1) * per_page)).fetchall()
    ids = [r["span_id"] for r in rows]
    labels: dict[str, list[str]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for span_id, category in con.execute(
                f"SELECT span_id, category FROM effective_tags WHERE span_id IN ({','.join('?' * len(chunk))})", chunk):
            labels.setdefault(span_id, []).append(category)
    spans = [dict(r) | {"categories": sorted(labels.get(r["span_id"], []), key=CATEGORIES.index)} for r in rows]
    return ReportPage(dict(doc), spans, page, pages, focus if focus in ids else None)


def theme_options(con: sqlite3.Connection) -> dict[str, list[dict]]:
    """Themes per category (for move menus)."""
    out: dict[str, list[dict]] = {c: [] for c in CATEGORIES}
    for r in con.execute(f"SELECT theme_id, category, {shown_label('themes')} AS label FROM themes ORDER BY theme_id"):
        out[r["category"]].append({"theme_id": r["theme_id"], "label": r["label"]})
    return out

