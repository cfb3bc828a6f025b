"""Analysts' decisions on tagged sentences: accept, reject, change categories, move to another
theme, comment. Kept in the ``reviews`` table, an append-only log keyed by span identity (report
sha256 + raw offsets + text hash), so a decision outlives re-runs, re-tagging and refits.

Later stages read the decisions through the store's ``effective_tags`` and ``theme_moves`` views:
a rejected tag never reaches themes or evidence again, an added category does, and a moved
sentence sits in the theme the analyst chose (while that theme exists).
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd

from .. import store
from ..categories import CATEGORIES
from ..errors import Errors, NotFoundError, ReviewError
from ..evidence import format_citation, shown_label
from ..store import backups

ACTIONS = ("accept", "reject", "move", "comment")
#: Appended only by ``undo``, when no decision stood before the one undone: "no decision" on the
#: category, "no move" (the store's views let the latest row win, so these restore the default).
UNDO_ACTIONS = ("clear", "unmove")
#: 'random': the default queue order, whose decisions estimate precision without bias; 'learn':
#: the active-learning order (uncertain sentences first), kept out of the precision estimate.
QUEUES = ("random", "learn")
MAX_REVIEWER = 100
MAX_COMMENT = 2000


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _span(con: sqlite3.Connection, span_id: str) -> sqlite3.Row:
    row = con.execute('SELECT s.span_id, s.doc_id, s.start, s."end", s.text_hash, d.path FROM spans s'
                      " JOIN documents d ON d.doc_id = s.doc_id AND d.status = 'ok' WHERE s.span_id = ?",
                      (span_id,)).fetchone()
    if row is None:
        raise NotFoundError(Errors.E080.format(span_id=span_id))
    return row


def clean_reviewer(reviewer: str | None) -> str:
    """The reviewer's name, whitespace collapsed; ``ReviewError`` (E083) when empty or too long."""
    name = " ".join((reviewer or "").split())
    if not name or len(name) > MAX_REVIEWER:
        raise ReviewError(Errors.E083.format(limit=MAX_REVIEWER))
    return name


def record_review(con: sqlite3.Connection, *, span_id: str, action: str, reviewer: str,
                  category: str | None = None, theme_id: str | None = None, comment: str | None = None,
                  queue: str = "random") -> int:
    """Validate and append one decision; returns its review id. Raises ``ReviewError`` (with a
    code and what to do) on anything invalid, and then writes nothing."""
    if action not in ACTIONS:
        raise ReviewError(Errors.E081.format(action=action, actions=", ".join(ACTIONS)))
    if queue not in QUEUES:
        raise ReviewError(Errors.E094.format(queue=queue, queues=", ".join(QUEUES)))
    reviewer = clean_reviewer(reviewer)
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ReviewError(Errors.E085.format(limit=MAX_COMMENT))
    if action == "comment" and comment is None:
        raise ReviewError(Errors.E086)
    if action in ("accept", "reject", "move") and category not in CATEGORIES:
        raise ReviewError(Errors.E082.format(category=category, categories=", ".join(CATEGORIES)))
    if category is not None and category not in CATEGORIES:
        raise ReviewError(Errors.E082.format(category=category, categories=", ".join(CATEGORIES)))
    span = _span(con, span_id)
    if action == "move":
        theme = con.execute("SELECT category FROM themes WHERE theme_id = ?", (theme_id,)).fetchone()
        if theme is None or theme["category"] != category:
            raise ReviewError(Errors.E084.format(theme_id=theme_id, category=category))
    else:
        theme_id = None
    row = {"doc_sha": span["doc_id"], "start": span["start"], "end": span["end"], "text_hash": span["text_hash"],
           "span_id": span_id, "file": span["path"], "action": action, "category": category, "theme_id": theme_id,
           "comment": comment, "reviewer": reviewer, "created": _now(), "queue": queue}
    return _append(con, row)


def _append(con: sqlite3.Connection, row: dict) -> int:
    with store.transaction(con):
        cursor = con.execute(
            'INSERT INTO reviews (doc_sha, start, "end", text_hash, span_id, file, action, category, theme_id,'
            " comment, reviewer, created, queue) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", tuple(row.values()))
    # Also in the plain-text audit log beside the store (after the commit: a decision the store
    # refused is never logged); a lost store or a restore never loses it (backups.replay_reviews).
    backups.append_reviews(backups.audit_log_path(backups.store_path_of(con)), [row])
    return int(cursor.lastrowid)


def undo(con: sqlite3.Connection, *, review_ids: list[int], reviewer: str) -> list[int]:
    """Undo decisions (accept, reject, move) by appending, for each, the decision that stood
    before it on the same sentence and category — or "no decision" when none did. Comments are
    kept (they are notes, not decisions). Refuses (E103, nothing written) a review that is not a
    decision or that a later decision on the same sentence has overtaken. Returns the ids written."""
    reviewer = clean_reviewer(reviewer)
    undone = []
    for review_id in review_ids:
        r = con.execute("SELECT * FROM anchored_reviews WHERE review_id = ?", (review_id,)).fetchone()
        if r is None:
            raise ReviewError(Errors.E103.format(review_id=review_id, why="no such review"))
        if r["action"] == "comment":
            continue
        if r["action"] not in ("accept", "reject", "move"):
            raise ReviewError(Errors.E103.format(review_id=review_id, why=f"it is {r['action']!r}, not a decision"))
        kinds = ("accept", "reject", "clear") if r["action"] != "move" else ("move", "unmove")
        same = ('doc_sha = :doc_sha AND start = :start AND "end" = :end AND text_hash = :text_hash'
                " AND category IS :category AND action IN (" + ",".join(f"'{k}'" for k in kinds) + ")")
        key = {k: r[k] for k in ("doc_sha", "start", "end", "text_hash", "category")} | {"id": review_id}
        later = con.execute(f"SELECT reviewer FROM anchored_reviews WHERE {same} AND review_id > :id"
                            " ORDER BY review_id DESC LIMIT 1", key).fetchone()
        if later is not None:
            raise ReviewError(Errors.E103.format(review_id=review_id,
                                                 why=f"a later decision by {later['reviewer']} stands"))
        before = con.execute(f"SELECT action, theme_id FROM anchored_reviews WHERE {same} AND review_id < :id"
                             " ORDER BY review_id DESC LIMIT 1", key).fetchone()
        restored = before["action"] if before else ("clear" if r["action"] != "move" else "unmove")
        undone.append({"doc_sha": r["doc_sha"], "start": r["start"], "end": r["end"], "text_hash": r["text_hash"],
                       "span_id": r["span_id"], "file": r["file"], "action": restored, "category": r["category"],
                       "theme_id": before["theme_id"] if before else None, "comment": f"undo of review {review_id}",
                       "reviewer": reviewer, "created": _now(), "queue": r["queue"]})
    return [_append(con, row) for row in undone]


def decide(con: sqlite3.Connection, *, span_id: str, category: str, action: str, reviewer: str,
           categories: list[str] | None = None, theme_id: str | None = None, comment: str | None = None) -> list[int]:
    """One review form's submit: the decision on the item's ``category`` (``accept``, ``reject``,
    or ``categories`` — the sentence's categories set to ``categories``), then a move to
    ``theme_id`` and a comment when given. Everything is checked before anything is written.
    Returns the review ids written (what an undo takes back)."""
    reviewer = clean_reviewer(reviewer)
    _span(con, span_id)
    comment = (comment or "").strip() or None
    if action not in ("accept", "reject", "categories"):
        raise ReviewError(Errors.E081.format(action=action, actions="accept, reject, categories"))
    if category not in CATEGORIES:
        raise ReviewError(Errors.E082.format(category=category, categories=", ".join(CATEGORIES)))
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ReviewError(Errors.E085.format(limit=MAX_COMMENT))
    if theme_id:
        theme = con.execute("SELECT category FROM themes WHERE theme_id = ?", (theme_id,)).fetchone()
        if theme is None or theme["category"] != category:
            raise ReviewError(Errors.E084.format(theme_id=theme_id, category=category))
    if action == "categories":
        ids = set_categories(con, span_id=span_id, categories=categories or [], reviewer=reviewer)
    else:
        ids = [record_review(con, span_id=span_id, action=action, category=category, reviewer=reviewer)]
    if theme_id and action != "reject" and (action != "categories" or category in (categories or [])):
        ids.append(record_review(con, span_id=span_id, action="move", category=category, theme_id=theme_id,
                                 reviewer=reviewer))
    if comment:
        ids.append(record_review(con, span_id=span_id, action="comment", category=category, comment=comment,
                                 reviewer=reviewer))
    return ids


def describe(con: sqlite3.Connection, review_ids: list[int]) -> list[dict]:
    """What the reviews ``review_ids`` recorded, for a confirmation: action, category, theme and
    the sentence (text of the sentence it is anchored to, when it is still in the corpus)."""
    out = []
    for i in range(0, len(review_ids), 500):
        chunk = review_ids[i:i + 500]
        out += [dict(r) for r in con.execute(
            "SELECT r.review_id, r.action, r.category, r.theme_id, r.span_id, s.text FROM anchored_reviews r"
            ' LEFT JOIN spans s ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end"'
            f" AND s.text_hash = r.text_hash WHERE r.review_id IN ({','.join('?' * len(chunk))}) ORDER BY r.review_id",
            chunk)]
    return out


def current_categories(con: sqlite3.Connection, span_id: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT category FROM effective_tags WHERE span_id = ?", (span_id,))}


def _checked_labelling(con: sqlite3.Connection, span_id: str, categories: set[str] | list[str],
                       reviewer: str) -> set[str]:
    """The categories, once the whole decision is known to be valid (nothing is written before)."""
    wanted = set(categories)
    unknown = wanted - set(CATEGORIES)
    if unknown:
        raise ReviewError(Errors.E082.format(category=", ".join(sorted(unknown)), categories=", ".join(CATEGORIES)))
    clean_reviewer(reviewer)
    _span(con, span_id)
    return wanted


def set_categories(con: sqlite3.Connection, *, span_id: str, categories: set[str] | list[str], reviewer: str,
                   comment: str | None = None) -> list[int]:
    """Make ``categories`` the sentence's labels: accept every one of them (added or kept — the
    analyst decided a kept one too, and its queue item is then done), reject the dropped ones;
    each a separate, logged decision, none repeated when it already stands. Returns the review
    ids written."""
    wanted = _checked_labelling(con, span_id, categories, reviewer)
    now = current_categories(con, span_id)
    decided = {r["category"]: r["action"] for r in con.execute(
        "SELECT category, action FROM label_decisions WHERE span_id = ?", (span_id,))}
    ids = [record_review(con, span_id=span_id, action="accept", category=c, reviewer=reviewer, comment=comment)
           for c in CATEGORIES if c in wanted and decided.get(c) != "accept"]
    ids += [record_review(con, span_id=span_id, action="reject", category=c, reviewer=reviewer, comment=comment)
            for c in CATEGORIES if c in now - wanted]
    return ids


def label_sentence(con: sqlite3.Connection, *, span_id: str, categories: set[str] | list[str], reviewer: str,
                   queue: str = "learn") -> list[int]:
    """Teach: code the sentence fully — accept each category in ``categories`` and reject every
    other one (a rejected category the model never gave has no effect on the tags, but tells
    the next `train-tagger` that it does not apply). Returns the review ids written."""
    wanted = _checked_labelling(con, span_id, categories, reviewer)
    return [record_review(con, span_id=span_id, action="accept" if c in wanted else "reject", category=c,
                          reviewer=reviewer, queue=queue) for c in CATEGORIES]


# --- the active-learning queue -----------------------------------------------------------------

@dataclass
class LearnItem:
    span_id: str
    text: str
    probabilities: dict[str, float]   # calibrated, per category
    margin: float                     # smallest distance of a probability from its threshold
    categories: list[str]             # current (effective) categories
    citation: str
    file: str
    doc_id: str


def learning_queue(con: sqlite3.Connection, *, category: str | None = None, limit: int = 20,
                   offset: int = 0, thresholds: dict[str, float] | None = None) -> list[LearnItem]:
    """Sentences no analyst has coded yet, the model's least certain first (smallest margin;
    with ``category``, that category's probability closest to its threshold in ``thresholds``,
    the tagger's). Decisions made from this queue are training data, not a sample: they stay out
    of the precision estimate."""
    if category is not None and category not in CATEGORIES:
        raise ReviewError(Errors.E082.format(category=category, categories=", ".join(CATEGORIES)))
    # ``category`` is one of CATEGORIES (checked above), so it can name a column.
    order = ("p.margin" if category is None
             else f"ABS(p.{category} - {float((thresholds or {}).get(category, 0.5))!r})")
    rows = con.execute(
        "SELECT p.*, s.text, s.doc_id, s.section_path, s.page_start, s.page_end, doc.path AS file, doc.citation,"
        " doc.file_name FROM tag_probabilities p JOIN spans s USING (span_id)"
        " JOIN documents doc ON doc.doc_id = s.doc_id AND doc.status = 'ok'"
        " WHERE NOT EXISTS (SELECT 1 FROM label_decisions d WHERE d.span_id = p.span_id)"
        f" ORDER BY {order}, collabmine_text_hash(p.span_id) LIMIT ? OFFSET ?",
        (max(0, int(limit)), max(0, int(offset)))).fetchall()
    return [LearnItem(
        span_id=r["span_id"], text=r["text"], probabilities={c: r[c] for c in CATEGORIES}, margin=r["margin"],
        categories=sorted(current_categories(con, r["span_id"]), key=CATEGORIES.index),
        citation=format_citation(r["citation"] or r["file_name"], json.loads(r["section_path"] or "[]"),
                                 r["page_start"], r["page_end"]),
        file=r["file"], doc_id=r["doc_id"]) for r in rows]


# --- the queue ---------------------------------------------------------------------------------

STATUSES = ("unreviewed", "reviewed", "accepted", "rejected", "added", "all")


@dataclass
class QueueItem:
    span_id: str
    category: str
    text: str
    score: float | None          # None: a category an analyst added
    method: str
    explanation: str
    decision: str | None         # accept | reject | None
    reviewer: str | None
    reviewed_at: str | None
    theme_id: str | None
    theme_label: str | None
    citation: str
    file: str
    doc_id: str
    categories: list[str]        # the sentence's current (effective) categories


_QUEUE_SQL = """
WITH pairs AS (
    SELECT span_id, category, score, method, explanation FROM tags
    UNION ALL
    SELECT d.span_id, d.category, NULL, 'review', 'added by an analyst' FROM label_decisions d
    WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.span_id = d.span_id AND t.category = d.category)
)
SELECT p.span_id, p.category, p.score, p.method, p.explanation, s.text, s.doc_id, s.section_path,
       s.page_start, s.page_end, doc.path AS file, doc.citation, doc.file_name,
       d.action AS decision, d.reviewer, d.created AS reviewed_at,
       m.theme_id, """ + shown_label("th") + """ AS theme_label
FROM pairs p
JOIN spans s ON s.span_id = p.span_id
JOIN documents doc ON doc.doc_id = s.doc_id AND doc.status = 'ok'
LEFT JOIN label_decisions d ON d.span_id = p.span_id AND d.category = p.category
LEFT JOIN theme_members m ON m.span_id = p.span_id AND m.category = p.category
LEFT JOIN themes th ON th.theme_id = m.theme_id
WHERE (:category IS NULL OR p.category = :category)
  AND (:theme_id IS NULL OR m.theme_id = :theme_id)
  AND (:span_id IS NULL OR p.span_id = :span_id)
  AND CASE :status
        WHEN 'unreviewed' THEN d.action IS NULL
        WHEN 'reviewed' THEN d.action IS NOT NULL
        WHEN 'accepted' THEN d.action = 'accept' AND p.score IS NOT NULL
        WHEN 'rejected' THEN d.action = 'reject'
        WHEN 'added' THEN p.score IS NULL
        ELSE 1 END
-- A fixed pseudo-random order (hash of sentence and category), not score order: precision
-- measured on the first N reviewed items is then an unbiased estimate for the whole category.
ORDER BY collabmine_text_hash(p.span_id || p.category)
LIMIT :limit OFFSET :offset
"""


def queue(con: sqlite3.Connection, *, category: str | None = None, status: str = "unreviewed",
          theme_id: str | None = None, span_id: str | None = None, limit: int = 20, offset: int = 0) -> list[QueueItem]:
    """Tagged sentences to review, one per (sentence, category)."""
    if category is not None and category not in CATEGORIES:
        raise ReviewError(Errors.E082.format(category=category, categories=", ".join(CATEGORIES)))
    if status not in STATUSES:
        raise ReviewError(Errors.E087.format(status=status, statuses=", ".join(STATUSES)))
    rows = con.execute(_QUEUE_SQL, {"category": category, "status": status, "theme_id": theme_id,
                                    "span_id": span_id, "limit": max(0, int(limit)),
                                    "offset": max(0, int(offset))}).fetchall()
    labels: dict[str, list[str]] = {}
    for span in {r["span_id"] for r in rows}:
        labels[span] = sorted(current_categories(con, span), key=CATEGORIES.index)
    return [QueueItem(
        span_id=r["span_id"], category=r["category"], text=r["text"], score=r["score"], method=r["method"],
        explanation=r["explanation"], decision=r["decision"], reviewer=r["reviewer"], reviewed_at=r["reviewed_at"],
        theme_id=r["theme_id"], theme_label=r["theme_label"], file=r["file"], doc_id=r["doc_id"],
        citation=format_citation(r["citation"] or r["file_name"], json.loads(r["section_path"] or "[]"),
                                 r["page_start"], r["page_end"]),
        categories=labels[r["span_id"]]) for r in rows]


# --- progress and precision --------------------------------------------------------------------

@dataclass
class CategoryProgress:
    category: str
    model_tags: int      # tags the model gave
    reviewed: int        # of those, with a decision
    accepted: int
    rejected: int
    added: int           # categories analysts added that the model missed

    @property
    def precision(self) -> float | None:
        """The model's precision measured on reviewed items (None before any review)."""
        return self.accepted / self.reviewed if self.reviewed else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """95% Wilson interval of ``precision`` (wide when few items are reviewed)."""
        n = self.reviewed
        if not n:
            return None
        z, p = 1.96, self.accepted / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)


def progress(con: sqlite3.Connection) -> list[CategoryProgress]:
    """Per category: model tags, and the decisions on them from the random-order queue (the
    unbiased sample precision is measured on; the learning queue's decisions are left out)."""
    rows = {r["category"]: r for r in con.execute(
        "SELECT t.category, COUNT(*) AS n, SUM(r.queue = 'random') AS reviewed,"
        " SUM(r.queue = 'random' AND d.action = 'accept') AS accepted,"
        " SUM(r.queue = 'random' AND d.action = 'reject') AS rejected FROM tags t JOIN spans s USING (span_id)"
        " JOIN documents doc ON doc.doc_id = s.doc_id AND doc.status = 'ok'"
        " LEFT JOIN label_decisions d ON d.span_id = t.span_id AND d.category = t.category"
        " LEFT JOIN reviews r ON r.review_id = d.review_id GROUP BY t.category")}
    added = dict(con.execute(
        "SELECT category, COUNT(*) FROM effective_tags WHERE review = 'added' GROUP BY category").fetchall())
    return [CategoryProgress(c, rows[c]["n"] if c in rows else 0, (rows[c]["reviewed"] or 0) if c in rows else 0,
                             (rows[c]["accepted"] or 0) if c in rows else 0,
                             (rows[c]["rejected"] or 0) if c in rows else 0, added.get(c, 0))
            for c in CATEGORIES]


# --- reading and exporting ---------------------------------------------------------------------

def review_log(con: sqlite3.Connection) -> pd.DataFrame:
    """Every review ever made, in order; ``applies`` is 0 when its sentence is no longer in the
    corpus as reviewed (the report changed or was removed) — kept, never deleted."""
    return pd.read_sql_query(store.REVIEW_LOG_SQL, con)


def decisions(con: sqlite3.Connection) -> pd.DataFrame:
    """The current decision per (sentence, category) with the sentence text."""
    return pd.read_sql_query(
        "SELECT d.span_id, d.category, d.action AS decision, d.reviewer, d.created, s.text, doc.path AS file,"
        ' s.start, s."end" FROM label_decisions d JOIN spans s USING (span_id)'
        " JOIN documents doc ON doc.doc_id = s.doc_id AND doc.status = 'ok' ORDER BY doc.path, s.start, d.category",
        con)
