"""Hybrid retrieval over the corpus's sentences: SQLite FTS5 (BM25) fused with embedding
similarity by reciprocal rank fusion, each hit with its categories, themes and citation.

Lexical search finds the exact words a researcher uses ("cover", "federation"); the embedding
finds the same idea in other words ("no time released for staff" for "workload"). Reciprocal rank
fusion needs no score calibration between the two, so it stays sound on reports we have not seen.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from .. import store
from ..categories import CATEGORIES
from ..embed import Embedder, default_embedder, question_vector
from ..errors import Errors, ReviewError
from ..evidence import format_citation, has_verbs, is_signposting, quotable, shown_label
from .reranker import RERANK_DEPTH, Reranker, default_reranker
from .theme_match import ThemeMatch, match_theme

MODES = ("hybrid", "lexical", "semantic")
#: A hit must be at least this similar to the question (cosine of MiniLM embeddings): unrelated
#: sentences sit near 0.1–0.2, so below this a search says "no good match" instead of listing
#: noise. Set before the judged questions of bench/search_quality.py were read.
SIMILARITY_FLOOR = 0.3
#: A hit this similar to a better-ranked hit is a near-duplicate (the same sentence reworded or
#: repeated in another report) and is left out.
DUPLICATE_SIMILARITY = 0.9
#: Fused candidates re-ranked for readability and duplicates.
RERANK_POOL = 100
#: Words in a question that say which category it asks about; its sentences get a third ranking
#: in the fusion (the question's semantic ranking within that category).
INTENT_CUES: dict[str, str] = {
    "barrier": r"\b(?:barriers?|obstacles?|get(?:s)? in the way|hinder\w*|challenges?|difficult\w*|problems?|"
               r"prevent\w*|risks?|tensions?|less engaged|fail\w*|lack of|competition)\b",
    "condition": r"\b(?:conditions?|what helps|help\w* .* succeed|succeed|success\w*|make\w* .* work|enabl\w*|"
                 r"key to|factors?|sustainab\w*|need(?:s|ed)?|requires?|effective)\b",
    "impact": r"\b(?:impacts?|effects?|improv\w*|outcomes?|results?|benefits?|gain\w*|raise\w*|attainment|"
              r"achievement|difference|change\w*)\b",
    "structure": r"\b(?:how (?:are|is) .* (?:organised|governed|run|led|structured)|governed|governance|structures?|"
                 r"federations?|coordinators?|executive head\w*|share staff)\b",
}
#: Candidates taken from each retriever before fusion.
POOL = 200
#: Reciprocal rank fusion constant (Cormack et al. 2009): 60 damps the top ranks of either list.
RRF_K = 60
MAX_TOP = 200
#: Hits taken from a matched theme's members before the general ranking.
FROM_THEME = 5
#: The similarity floor for those members ("The two prime-moving heads have now moved on." is a
#: member of *Turnover of headteachers* at 0.26 from "what happens when the headteacher who set up the
#: partnership leaves").
THEME_SIMILARITY_FLOOR = 0.15

# Words that carry no topic; left in, they would make BM25 match most of the corpus.
_STOP = {"a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has",
         "have", "how", "in", "is", "it", "its", "of", "on", "or", "say", "says", "that", "the", "their",
         "there", "these", "this", "to", "was", "were", "what", "when", "where", "which", "who", "why",
         "with", "evidence", "reports", "report"}


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    doc_ids: tuple[str, ...] | None = None   # None: every report


def fts_query(question: str) -> str | None:
    """An FTS5 expression OR-ing the question's words, each quoted: user text can never be read
    as FTS syntax (NEAR, column filters, unbalanced quotes)."""
    words = [w for w in re.findall(r"\w+", question.lower()) if w not in _STOP and len(w) > 1]
    words = list(dict.fromkeys(words))
    return " OR ".join(f'"{w}"' for w in words) or None


def resolve_report(con: sqlite3.Connection, report: str) -> tuple[str, ...]:
    """Doc ids of the reports ``report`` names: part of a path, file name, citation or title
    (case-insensitive), or a sha256 prefix (≥ 6 hex characters)."""
    needle = report.strip().lower()
    if not needle:
        raise ReviewError(Errors.E091.format(report=report))
    hits = []
    for d in store.documents(con):
        if d["status"] != "ok":
            continue
        names = (d["path"], d["file_name"], d["citation"] or "", d["title"] or "")
        if any(needle in n.lower() for n in names) or (len(needle) >= 6 and d["doc_id"].startswith(needle)):
            hits.append(d["doc_id"])
    if not hits:
        raise ReviewError(Errors.E091.format(report=report))
    return tuple(dict.fromkeys(hits))


def _filter_sql(filters: Filters) -> tuple[str, list]:
    sql, args = [store.TAGGABLE_WHERE,
                 "EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = s.doc_id AND d.status = 'ok')"], []
    if filters.category:
        sql.append("EXISTS (SELECT 1 FROM effective_tags t WHERE t.span_id = s.span_id AND t.category = ?)")
        args.append(filters.category)
    if filters.doc_ids is not None:
        sql.append(f"s.doc_id IN ({','.join('?' * len(filters.doc_ids))})")
        args += list(filters.doc_ids)
    return " AND ".join(sql), args


def lexical_ranking(con: sqlite3.Connection, question: str, filters: Filters, *, pool: int = POOL) -> list[str]:
    expression = fts_query(question)
    if expression is None:
        return []
    where, args = _filter_sql(filters)
    rows = con.execute("SELECT s.span_id FROM spans_fts JOIN spans s ON s.rowid = spans_fts.rowid"
                       f" WHERE spans_fts MATCH ? AND {where} ORDER BY bm25(spans_fts), s.span_id LIMIT ?",
                       [expression, *args, pool]).fetchall()
    return [r[0] for r in rows]


@dataclass
class SemanticRanking:
    ids: list[str]                       # the ``pool`` most similar, best first
    similarity: dict[str, float]         # every filtered sentence's cosine to the question
    vectors: dict[str, np.ndarray]       # unit vectors of the ranked ones (duplicate check)


def semantic_ranking(con: sqlite3.Connection, question: str, filters: Filters, *, embedder: Embedder,
                     pool: int = POOL) -> SemanticRanking:
    """Sentences by cosine similarity to the question (vectors from the store's cache: every
    taggable sentence was embedded by the pipeline)."""
    where, args = _filter_sql(filters)
    rows = con.execute(f"SELECT s.span_id, e.vector FROM spans s JOIN embeddings e ON e.text_hash = s.text_hash"
                       f" AND e.model = ? WHERE {where} ORDER BY s.span_id", [embedder.name, *args]).fetchall()
    if not rows:
        return SemanticRanking([], {}, {})
    matrix = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
    matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    similarity = matrix @ question_vector(embedder, question)
    order = np.lexsort((np.arange(len(rows)), -similarity))[:pool]  # ties: store order, never random
    ids = [rows[i][0] for i in order]
    return SemanticRanking(ids, {r[0]: float(x) for r, x in zip(rows, similarity)},
                           {rows[i][0]: matrix[i] for i in order})


def intent(question: str) -> str | None:
    """The category a question asks about ("what gets in the way" → barrier), when exactly one
    category's cues are in it; None when none or several are."""
    found = [c for c, cue in INTENT_CUES.items() if re.search(cue, question.lower())]
    return found[0] if len(found) == 1 else None


def fuse(rankings: list[list[str]], *, k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion: score(d) = Σ 1 / (k + rank of d in each list)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, span_id in enumerate(ranking, start=1):
            scores[span_id] = scores.get(span_id, 0.0) + 1.0 / (k + rank)
    return scores


COLUMNS = ["rank", "score", "span_id", "text", "categories", "themes", "theme_ids", "citation", "file", "start", "end",
           "lexical_rank", "similarity", "doc_id", "from_theme"]


def search(con: sqlite3.Connection, question: str, *, category: str | None = None, report: str | None = None,
           top: int = 10, mode: str = "hybrid", embedder: Embedder | None = None,
           reranker: Reranker | None | Literal["default"] = "default") -> pd.DataFrame:
    """The ``top`` sentences answering ``question``, best first, as a DataFrame (``COLUMNS``).
    In hybrid mode the top of the ranking is reordered by ``reranker`` (the shipped cross-encoder
    by default; None: the hybrid order as it is)."""
    if not question or not question.strip():
        raise ReviewError(Errors.E090)
    if category is not None and category not in CATEGORIES:
        raise ReviewError(Errors.E082.format(category=category, categories=", ".join(CATEGORIES)))
    if mode not in MODES:
        raise ReviewError(Errors.E092.format(mode=mode, modes=", ".join(MODES)))
    top = max(1, min(int(top), MAX_TOP))
    # Loaded before the snapshot: a first load takes seconds, which a read transaction need not span.
    reranker = (default_reranker() if reranker == "default" else reranker) if mode == "hybrid" else None
    # One state of the store for every read below: a run committing between them once left a
    # candidate without its details (KeyError in the web app while a run wrote).
    with store.snapshot(con):
        return _search(con, question, category=category, report=report, top=top, mode=mode, embedder=embedder,
                       reranker=reranker)


def _search(con: sqlite3.Connection, question: str, *, category: str | None, report: str | None, top: int, mode: str,
            embedder: Embedder | None, reranker: Reranker | None) -> pd.DataFrame:
    filters = Filters(category, resolve_report(con, report) if report else None)
    lexical = lexical_ranking(con, question, filters) if mode != "semantic" else []
    embedder = embedder or default_embedder()
    # The similarity floor needs every candidate's similarity, whatever the mode.
    semantic = semantic_ranking(con, question, filters, embedder=embedder)
    rankings = [r for r in (lexical, semantic.ids if mode != "lexical" else []) if r]
    asked = intent(question) if category is None and mode == "hybrid" else None
    if asked:
        within = semantic_ranking(con, question, Filters(asked, filters.doc_ids), embedder=embedder)
        rankings.append(within.ids)
        semantic.vectors.update(within.vectors)
    scores = fuse(rankings)
    candidates = sorted(scores, key=lambda s: (-scores[s], s))[:max(RERANK_POOL, top)]
    # A question that names a theme is answered first from that theme's members (hybrid mode).
    matched = (match_theme(con, question, embedder=embedder, category=category or asked)
               if mode == "hybrid" else None)
    theme_scores = theme_ranking(con, matched, semantic, filters) if matched else {}
    members = sorted(theme_scores, key=lambda s: (-theme_scores[s], s))
    details = _details(con, list(dict.fromkeys(members + candidates)))
    # A member of the theme the question names is on topic by the theme model's word: a lower floor.
    # The cross-encoder reorders the general ranking only: a matched theme's members are already
    # ranked by how sure the theme model is, and reranking them too doubled a query's cost for one
    # lenient hit in 110 on the judged questions not held out.
    first = rerank(members, details, semantic, top=min(top, FROM_THEME), floor=THEME_SIMILARITY_FLOOR)
    best = rerank([s for s in candidates if s not in first], details, semantic, top=top, after=first,
                  answers=Answers(question, reranker))
    lexical_rank = {s: i for i, s in enumerate(lexical, start=1)}
    similarity = semantic.similarity
    rows = []
    for rank, span_id in enumerate(best, start=1):
        d = details[span_id]
        # A hit from the matched theme carries its score in the theme's own ranking.
        score = theme_scores[span_id] if span_id in first else scores[span_id]
        rows.append({"rank": rank, "score": round(score, 6), "span_id": span_id, "text": d["text"],
                     "categories": d["categories"], "themes": d["themes"], "theme_ids": d["theme_ids"], "citation": d["citation"],
                     "file": d["file"], "start": d["start"], "end": d["end"],
                     "lexical_rank": lexical_rank.get(span_id), "similarity": similarity.get(span_id),
                     "doc_id": d["doc_id"]})
    hits = pd.DataFrame(rows, columns=COLUMNS)
    hits["from_theme"] = hits["span_id"].isin(first)
    hits.attrs["theme"] = matched.__dict__ if matched is not None and first else None
    hits.attrs["reranked"] = reranker is not None      # the page says how its order was made
    return hits


def theme_ranking(con: sqlite3.Connection, matched: ThemeMatch, semantic: SemanticRanking,
                  filters: Filters) -> dict[str, float]:
    """The matched theme's members (within the filters) with their reciprocal-rank fusion of how
    sure the theme model is that each belongs and how close each is to the question."""
    where, args = _filter_sql(filters)
    rows = con.execute(f"SELECT m.span_id, COALESCE(m.probability, m.similarity, 0) FROM theme_members m"
                       f" JOIN spans s ON s.span_id = m.span_id WHERE m.theme_id = ? AND {where}",
                       [matched.theme_id, *args]).fetchall()
    sure = [r[0] for r in sorted(rows, key=lambda r: (-r[1], r[0]))]
    close = sorted(sure, key=lambda s: (-semantic.similarity.get(s, 0.0), s))
    return fuse([sure, close])


@dataclass(frozen=True)
class Answers:
    """How surely a sentence answers the question, by the cross-encoder (``reranker``)."""
    question: str
    reranker: Reranker | None

    def order(self, ranked: list[str], details: dict[str, dict], groups: dict[str, int]) -> list[str]:
        """The first ``RERANK_DEPTH`` of ``ranked`` by reciprocal-rank fusion of their order and
        the cross-encoder's (ties: their order), within their readability ``groups`` (a fragment
        or a question never rises above a full sentence), the rest as they are; ``ranked``
        unchanged without a reranker. Fused rather than replaced: on the judged questions not held
        out, the cross-encoder's order alone lost answers the hybrid order had (``BENCHMARKS.md``)."""
        if self.reranker is None or not ranked:
            return ranked
        head = ranked[:RERANK_DEPTH]
        score = dict(zip(head, self.reranker.score(self.question, [details[s]["text"] for s in head])))
        position = {s: i for i, s in enumerate(head)}
        fused = fuse([head, sorted(head, key=lambda s: (-score[s], position[s]))])
        return sorted(head, key=lambda s: (groups[s], -fused[s], position[s])) + ranked[RERANK_DEPTH:]


def rerank(candidates: list[str], details: dict[str, dict], semantic: SemanticRanking, *, top: int,
           floor: float = SIMILARITY_FLOOR, after: Sequence[str] = (), answers: Answers | None = None) -> list[str]:
    """The fused candidates as answers: below the similarity floor, signposting and lead-ins left
    out; full sentences before fragments, headings and the reports' own questions (kept in fused
    order within each); the top of that reordered by how surely each answers the question
    (``answers``: the cross-encoder); a near-duplicate of a better hit left out. ``after``: hits
    already chosen, kept first as they are (the matched theme's)."""
    # Signposting and lead-ins ("A number of other issues were identified.") are not answers.
    kept = [s for s in candidates if s in details and semantic.similarity.get(s, 0.0) >= floor
            and not is_signposting(details[s]["text"])]
    texts = [details[s]["text"] for s in kept]
    readable = {s: quotable(t, details[s]["kind"], has_verb=v) and not t.rstrip().endswith("?")
                for s, t, v in zip(kept, texts, has_verbs(texts))}
    # A sentence the tagger found evidence in states something about collaboration; an untagged
    # one (context, method, description) rarely answers a question: it follows the tagged ones.
    rank = {s: (0 if readable[s] and details[s]["categories"] else 1 if readable[s] else 2) for s in kept}
    ordered = sorted(kept, key=lambda s: rank[s])   # stable: fused order within each group
    if answers is not None:
        ordered = answers.order(ordered, details, rank)

    def wording(s: str) -> str:   # the same words, case and punctuation aside
        return re.sub(r"\W+", " ", details[s]["text"].lower()).strip()

    chosen: list[str] = list(after)
    seen_text = {wording(s) for s in after}
    if len(chosen) >= top:
        return chosen[:top]
    for s in ordered:
        key = wording(s)
        vector = semantic.vectors.get(s)
        if key in seen_text or (vector is not None and any(
                c in semantic.vectors and float(vector @ semantic.vectors[c]) >= DUPLICATE_SIMILARITY for c in chosen)):
            continue
        seen_text.add(key)
        chosen.append(s)
        if len(chosen) == top:
            break
    return chosen


def _details(con: sqlite3.Connection, span_ids: list[str]) -> dict[str, dict]:
    if not span_ids:
        return {}
    marks = ",".join("?" * len(span_ids))
    out = {}
    for r in con.execute('SELECT s.span_id, s.doc_id, s.start, s."end", s.text, s.kind, s.section_path, s.page_start,'
                         " s.page_end, d.path, d.citation, d.file_name FROM spans s JOIN documents d"
                         f" ON d.doc_id = s.doc_id AND d.status = 'ok' WHERE s.span_id IN ({marks})", span_ids):
        out[r["span_id"]] = {
            "text": r["text"], "kind": r["kind"], "doc_id": r["doc_id"], "start": r["start"], "end": r["end"],
            "file": r["path"],
            "citation": format_citation(r["citation"] or r["file_name"], json.loads(r["section_path"] or "[]"),
                                        r["page_start"], r["page_end"]),
            "categories": [], "themes": [], "theme_ids": []}
    for r in con.execute(f"SELECT span_id, category FROM effective_tags WHERE span_id IN ({marks})", span_ids):
        out[r[0]]["categories"].append(r[1])
    for r in con.execute(f"SELECT m.span_id, t.theme_id, {shown_label('t')} FROM theme_members m JOIN themes t USING (theme_id)"
                         f" WHERE m.span_id IN ({marks}) ORDER BY t.category", span_ids):
        out[r[0]]["themes"].append(r[2])
        out[r[0]]["theme_ids"].append(r[1])
    for d in out.values():
        d["categories"] = sorted(d["categories"], key=CATEGORIES.index)
    return out

