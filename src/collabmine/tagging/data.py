"""Coded sentences ↔ the store's spans: reading coded files (JSONL or CSV), matching rows to
taggable spans by raw-offset overlap, and folding analysts' decisions in on top.

A label matrix has one row per span and one column per category: 1 (the category applies),
0 (it does not) or ``UNKNOWN`` — an analyst who rejected only *barrier* on a sentence said
nothing about its other categories, so those are left out of that category's training.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .. import store
from ..categories import CATEGORIES
from ..errors import DataError, Errors

UNKNOWN = -1
#: How many unmatched rows a summary shows (all are counted).
SHOW_UNMATCHED = 5


@dataclass(frozen=True)
class CodedRow:
    """One coded sentence: a report file name, raw character offsets and its categories."""
    source: str
    start: int
    end: int
    labels: frozenset[str]
    origin: str                 # "file:line", for messages
    text: str = ""
    id: str = ""


@dataclass
class Context:
    """What the tagger reads of a span besides its own words: the deepest section heading and the
    previous taggable sentence of the same report (the codebook's unit of reading)."""
    heading: str = ""
    previous: str = ""


@dataclass
class Spans:
    """The taggable spans of the store, in document order, with their context."""
    span_ids: list[str]
    doc_ids: list[str]
    files: list[str]            # the report's file name (what coded rows name as ``source``)
    starts: list[int]
    ends: list[int]
    texts: list[str]
    contexts: list[Context]
    citations: list[str]        # "Rudd et al. (2004), §7.1 ..." for explanations

    def __len__(self) -> int:
        return len(self.span_ids)


@dataclass
class TrainingSet:
    index: np.ndarray                   # (n,) rows of ``Spans``
    labels: np.ndarray                  # (n, 4) in {1, 0, UNKNOWN}
    origins: list[str]                  # "coded" | "review" | "coded+review"
    unmatched: list[CodedRow] = field(default_factory=list)
    reviewed: int = 0                   # spans with at least one analyst decision used

    def counts(self) -> dict[str, dict[str, int]]:
        return {c: {"positive": int((self.labels[:, k] == 1).sum()), "negative": int((self.labels[:, k] == 0).sum())}
                for k, c in enumerate(CATEGORIES)}


# --- reading coded files ---------------------------------------------------------------------

def _labels(value, origin: str) -> frozenset[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.replace(",", ";").split(";") if v.strip()]
    if not isinstance(value, list):
        raise DataError(Errors.E046.format(where=origin, problem="labels must be a list (JSONL) or ';'-separated (CSV)"))
    labels = frozenset(str(v).strip().lower() for v in value)
    unknown = sorted(labels - set(CATEGORIES) - {"none"})
    if unknown:
        raise DataError(Errors.E047.format(where=origin, category=", ".join(unknown), categories=", ".join(CATEGORIES)))
    return labels - {"none"}


def _row(record: dict, origin: str) -> CodedRow:
    missing = [k for k in ("source", "start", "end", "labels") if k not in record]
    if missing:
        raise DataError(Errors.E046.format(where=origin, problem=f"missing field(s) {', '.join(missing)}"))
    try:
        start, end = int(record["start"]), int(record["end"])
    except (TypeError, ValueError):
        raise DataError(Errors.E046.format(where=origin, problem="start and end must be whole numbers")) from None
    if start < 0 or end <= start:
        raise DataError(Errors.E046.format(where=origin, problem=f"offsets {start}–{end} are not a range"))
    source = Path(str(record["source"]).strip()).name
    if not source:
        raise DataError(Errors.E046.format(where=origin, problem="source (the report's file name) is empty"))
    return CodedRow(source, start, end, _labels(record["labels"], origin), origin, str(record.get("text") or ""),
                    str(record.get("id") or origin))


def read_coded(path: Path) -> list[CodedRow]:
    """Coded rows from a JSONL file (``source, start, end, labels`` as in ../shared/gold/) or a CSV
    file (``source,start,end,labels`` with labels separated by ';'). Raises ``DataError`` naming
    the file and line of anything it cannot read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(Errors.E045.format(path=path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(Errors.E046.format(where=path, problem=f"unreadable ({exc})")) from None
    rows = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        header = [h.strip().lower() for h in reader.fieldnames or []]
        missing = [k for k in ("source", "start", "end", "labels") if k not in header]
        if missing:
            raise DataError(Errors.E046.format(where=f"{path}:1", problem=f"the header lacks {', '.join(missing)}"))
        for number, record in enumerate(reader, start=2):
            record = {(k or "").strip().lower(): v for k, v in record.items()}
            rows.append(_row(record, f"{path}:{number}"))
        return rows
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(Errors.E046.format(where=f"{path}:{number}", problem=f"not JSON ({exc.msg})")) from None
        if not isinstance(record, dict):
            raise DataError(Errors.E046.format(where=f"{path}:{number}", problem="not a JSON object"))
        rows.append(_row(record, f"{path}:{number}"))
    return rows


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- spans and matching ------------------------------------------------------------------------

def taggable_spans(con: sqlite3.Connection, *, doc_id: str | None = None) -> Spans:
    """Taggable spans (of every report, or of ``doc_id``) in document order, with context."""
    docs = {r["doc_id"]: r for r in store.documents(con) if r["status"] == "ok"}
    return _spans(store.taggable_spans(con, doc_id=doc_id), docs, previous="", citations=True)


def taggable_chunks(con: sqlite3.Connection, *, doc_id: str, size: int,
                    after: tuple[int, str] | None = None) -> Iterator[Spans]:
    """One report's taggable spans, ``size`` at a time in document order, so that a report of
    any length is never all in memory (a 50 MB report has ~400,000 sentences, ~2 KB each as
    ``Spans``); from the span after ``after`` ((start, span_id)) where given. The previous
    sentence carries over a chunk's edge; citations are the report's label only (training's
    explanations cite sections and pages)."""
    docs = {r["doc_id"]: r for r in store.documents(con) if r["status"] == "ok"}
    previous = store.span_text(con, after[1]) if after else ""
    while True:
        rows = store.taggable_spans(con, doc_id=doc_id, after=after, limit=size)
        if not rows:
            return
        yield _spans(rows, docs, previous=previous, citations=False)
        previous, after = rows[-1]["text"], (rows[-1]["start"], rows[-1]["span_id"])


def _spans(rows: list[sqlite3.Row], docs: dict[str, sqlite3.Row], *, previous: str, citations: bool) -> Spans:
    """``previous``: the text before the first row, when it continues the same report."""
    from ..evidence import format_citation

    contexts, cited = [], []
    for i, row in enumerate(rows):
        path = json.loads(row["section_path"] or "[]")
        if i > 0:
            previous = rows[i - 1]["text"] if rows[i - 1]["doc_id"] == row["doc_id"] else ""
        contexts.append(Context(path[-1] if path else "", previous))
        doc = docs[row["doc_id"]]
        label = doc["citation"] or doc["file_name"]
        # Without full citations, the report's label alone: an explanation prefers examples from
        # other reports than the sentence's own.
        cited.append(format_citation(label, path, row["page_start"], row["page_end"]) if citations else label)
    return Spans([r["span_id"] for r in rows], [r["doc_id"] for r in rows],
                 [docs[r["doc_id"]]["file_name"] for r in rows], [r["start"] for r in rows],
                 [r["end"] for r in rows], [r["text"] for r in rows], contexts, cited)


def best_overlap(row: CodedRow, candidates: Iterable[tuple]):
    """The key of the (key, start, end) candidate overlapping the row's raw range most (the
    first of equals), or None where none overlaps."""
    best, overlap = None, 0
    for key, start, end in candidates:
        o = min(end, row.end) - max(start, row.start)
        if o > overlap:
            best, overlap = key, o
    return best


def match_rows(rows: list[CodedRow], spans: Spans) -> tuple[list[int | None], list[CodedRow]]:
    """For each coded row, the span (index into ``spans``) overlapping its raw range most, or None;
    and the rows that match none."""
    by_file: dict[str, list[tuple[int, int, int]]] = {}
    for i, name in enumerate(spans.files):
        by_file.setdefault(name, []).append((i, spans.starts[i], spans.ends[i]))
    found = [best_overlap(row, by_file.get(row.source, ())) for row in rows]
    return found, [row for row, i in zip(rows, found) if i is None]


def review_decisions(con: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """span_id -> {category: 1 (accepted or added) | 0 (rejected)}: each sentence's latest
    decision per category, as every run applies them."""
    out: dict[str, dict[str, int]] = {}
    for span_id, category, action in con.execute("SELECT span_id, category, action FROM label_decisions"):
        out.setdefault(span_id, {})[category] = int(action == "accept")
    return out


def training_set(rows: list[CodedRow], spans: Spans, *, reviews: dict[str, dict[str, int]] | None = None) -> TrainingSet:
    """Labels per matched span: coded rows first (a span coded twice takes the union), then
    analysts' decisions, which override a coded label for the same sentence and category."""
    found, unmatched = match_rows(rows, spans)
    labels: dict[int, np.ndarray] = {}
    origin: dict[int, str] = {}
    for row, i in zip(rows, found):
        if i is None:
            continue
        vector = labels.setdefault(i, np.zeros(len(CATEGORIES), dtype=np.int8))
        vector |= np.array([c in row.labels for c in CATEGORIES], dtype=np.int8)
        origin[i] = "coded"
    reviewed = 0
    position = {span_id: i for i, span_id in enumerate(spans.span_ids)}
    for span_id, decided in (reviews or {}).items():
        i = position.get(span_id)
        if i is None:
            continue
        reviewed += 1
        vector = labels.setdefault(i, np.full(len(CATEGORIES), UNKNOWN, dtype=np.int8))
        for k, category in enumerate(CATEGORIES):
            if category in decided:
                vector[k] = decided[category]
        origin[i] = "coded+review" if origin.get(i) == "coded" else "review"
    index = np.array(sorted(labels), dtype=int)
    matrix = np.array([labels[i] for i in index], dtype=np.int8).reshape(len(index), len(CATEGORIES))
    return TrainingSet(index, matrix, [origin[i] for i in index], unmatched, reviewed)
