"""Sentences: spaCy sentence segmentation on cleaned units, mapped back to raw offsets.

Only spaCy's ``senter`` runs (it has its own small tok2vec), which is all that sentence
boundaries need. Its boundaries are then corrected for what it gets wrong in these reports:
a quotation stays whole, "Smith et al. (2003)" and "e.g." do not end a sentence, and a
sentence never starts in lower case. Headings, bullets and other units never merge with
their neighbours: every unit is segmented on its own.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Iterator

from .. import progress
from ..errors import Errors, ModelError
from .normalise import MappedText, normalise_span, normalise_text
from .structure import Unit

#: Abbreviations after which spaCy's senter wrongly ends a sentence.
_ABBREVIATION_END = re.compile(
    r"(?:\bet al|\be\.g|\bi\.e|\bcf|\bpp?|\bNo|\bDr|\bMr|\bMrs|\bMs|\bProf|\bSt|\bvs|\bviz|\bc|\bca|\bfig|\bEd|\bEds|\bVol)\.$",
    re.I)
_OPEN_SINGLE = re.compile(r"(?:^|(?<=[\s(\[—–-]))'(?=\w)")
_CLOSE_SINGLE = re.compile(r"(?<=[\w.,;:!?…])'(?=[\s.,;:!?)\]—–-]|$)")
#: A merge never grows a sentence beyond this (a stray quote mark must not swallow a page).
_MAX_MERGED_CHARS = 1500

SEGMENTED_KINDS = ("paragraph", "bullet")


@dataclass
class Span:
    span_id: str
    doc_id: str
    start: int
    end: int
    text: str
    kind: str
    section_path: list[str]
    para_index: int
    sent_index: int
    excluded: bool
    reason: str
    page_start: str | None
    page_end: str | None
    #: Cut out of a longer "sentence" (no full stop for more than ``max_sentence_chars``).
    split: bool = False

    @property
    def section(self) -> str:
        return " > ".join(self.section_path)

    @property
    def page(self) -> str | None:
        if not self.page_start:
            return None
        if self.page_end and self.page_end != self.page_start:
            return f"{self.page_start}–{self.page_end}"
        return self.page_start


def make_span_id(doc_id: str, start: int, end: int) -> str:
    """Stable across runs: depends only on the report's bytes and the raw offsets."""
    return hashlib.sha256(f"{doc_id}:{start}:{end}".encode()).hexdigest()[:20]


_lock = threading.Lock()


@lru_cache(maxsize=2)
def load_sentencizer(name: str):
    """Load spaCy with only ``senter`` (loaded once per process)."""
    import spacy

    try:
        nlp = spacy.load(name, exclude=["parser", "ner", "lemmatizer", "attribute_ruler", "tagger", "tok2vec"])
    except OSError as exc:
        raise ModelError(Errors.E022.format(name=name)) from exc
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    return nlp


def _quote_balance(text: str) -> int:
    double = text.count('"') % 2
    curly = text.count("“") - text.count("”")
    single = len(_OPEN_SINGLE.findall(text)) - len(_CLOSE_SINGLE.findall(text))
    curly_single = text.count("‘") - len(re.findall(r"’(?!\w)", text))
    return double + max(curly, 0) + max(single, 0) + max(curly_single, 0)


def _should_merge(prev: str, nxt: str) -> bool:
    if not nxt:
        return False
    if len(prev) + len(nxt) > _MAX_MERGED_CHARS:
        return False
    first = nxt.lstrip()[:1]
    if first.islower() or first in ",;:)]":
        return True
    if _ABBREVIATION_END.search(prev.rstrip()):
        return True
    if re.match(r"\(\d{4}[a-z]?\)", nxt):            # "... et al. (2003) found"
        return True
    if not re.search(r"[.!?…:;\"'”’)\]]$", prev.rstrip()):  # senter cut mid-clause
        return True
    return _quote_balance(prev) > 0


def sentence_bounds(text: str, cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Apply the merge rules to spaCy's sentence ``cuts`` (character offsets in ``text``)."""
    merged: list[list[int]] = []
    for s, e in cuts:
        if merged and _should_merge(text[merged[-1][0]:merged[-1][1]], text[s:e]):
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


#: Where an over-long sentence is cut, best first: after a clause's punctuation, then at any space.
_CLAUSE_END = re.compile(r"[;:,)\]]\s|\s[-–—]\s")


def split_long(text: str, bounds: list[tuple[int, int]], limit: int) -> list[tuple[int, int, bool]]:
    """Cut every sentence longer than ``limit`` characters at the last clause boundary (``;``,
    ``:``, ``,``, a dash) in its second half-window, else the last space, else at ``limit``;
    each piece is marked as split. Offsets stay offsets into ``text``."""
    out: list[tuple[int, int, bool]] = []
    for s, e in bounds:
        if e - s <= limit:
            out.append((s, e, False))
            continue
        while e - s > limit:
            window = text[s + limit // 2:s + limit]
            clauses = list(_CLAUSE_END.finditer(window))
            if clauses:
                cut = s + limit // 2 + clauses[-1].start() + 1
            else:
                space = window.rfind(" ")
                cut = s + limit // 2 + space if space >= 0 else s + limit
            out.append((s, cut, True))
            s = cut
            while s < e and text[s] == " ":
                s += 1
        if s < e:
            out.append((s, e, True))
    return out


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s] == " ":
        s += 1
    while e > s and text[e - 1] == " ":
        e -= 1
    return s, e


def _keep_markup_whole(raw: str, mt: MappedText, bounds: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """Merge a sentence with the next when a boundary cuts a markup construct (a markdown link
    whose text holds a full stop, say): every span must satisfy
    ``normalise_text(raw[start:end]) == text``."""
    out: list[tuple[int, int, bool]] = []
    pending: tuple[int, int, bool] | None = None
    for s, e, split in bounds:
        s, e = _trim(mt.text, s, e)
        if s >= e:
            continue
        if pending is not None:
            s, split = pending[0], split or pending[2]
        start, end = mt.raw_span(s, e)
        if normalise_text(raw[start:end]) != mt.text[s:e]:
            pending = (s, e, split)
            continue
        pending = None
        out.append((s, e, split))
    if pending is not None:
        # Nothing follows: merge with the sentence before instead (or keep it as it is).
        if out:
            out[-1] = (out[-1][0], pending[1], out[-1][2] or pending[2])
        else:
            out.append(pending)
    return out


def _chunks(mt: MappedText, limit: int) -> list[MappedText]:
    """Cut an over-long unit (e.g. megabytes on one line) at spaces so spaCy can take it."""
    if len(mt.text) <= limit:
        return [mt]
    out, pos = [], 0
    while pos < len(mt.text):
        end = min(len(mt.text), pos + limit)
        if end < len(mt.text):
            space = mt.text.rfind(" ", pos + limit // 2, end)
            end = space if space > pos else end
        out.append(mt.slice(pos, end))
        pos = end
        while pos < len(mt.text) and mt.text[pos] == " ":
            pos += 1
    return out


#: Units normalised and parsed at a time: memory holds one batch of offset maps and spaCy docs,
#: not a whole report's (a 50 MB report's all at once took several GB).
UNITS_PER_BATCH = 512


def _pieces(raw: str, units: list[Unit], max_chars: int) -> Iterator[tuple[Unit, MappedText]]:
    for unit in units:
        mt = normalise_span(raw, unit.start, unit.end)
        if not mt.text:
            continue
        if unit.kind in SEGMENTED_KINDS:
            yield from ((unit, chunk) for chunk in _chunks(mt, max_chars))
        else:
            yield unit, mt


def segment(raw: str, units: list[Unit], doc_id: str, *, nlp, batch_size: int = 64,
            max_chars: int = 20_000, max_sentence_chars: int = 1_000) -> list[Span]:
    """Cut units into spans (sentences for prose, whole units otherwise), a batch of units at a
    time. A prose "sentence" longer than ``max_sentence_chars`` (a line without full stops) is
    cut at clause boundaries and its pieces marked ``split``."""
    spans: list[Span] = []
    sent_counter: dict[int, int] = {}
    pieces = _pieces(raw, units, max_chars)
    tracker = progress.track("ingest", len(units), "paragraphs and headings")
    while batch := list(islice(pieces, UNITS_PER_BATCH)):
        tracker.advance(len({id(unit) for unit, _ in batch}))
        to_parse = [mt.text for unit, mt in batch if unit.kind in SEGMENTED_KINDS]
        with _lock:  # spaCy pipelines are not guaranteed thread-safe; Prefect tasks run in threads
            docs = iter(list(nlp.pipe(to_parse, batch_size=batch_size)))
        for unit, mt in batch:
            if unit.kind in SEGMENTED_KINDS:
                doc = next(docs)
                cuts = [(s.start_char, s.end_char) for s in doc.sents]
                bounds = split_long(mt.text, sentence_bounds(mt.text, cuts), max_sentence_chars)
            else:
                bounds = [(0, len(mt.text), False)]
            for s, e, split in _keep_markup_whole(raw, mt, bounds):
                start, end = mt.raw_span(s, e)
                k = sent_counter.get(unit.para_index, 0)
                sent_counter[unit.para_index] = k + 1
                spans.append(Span(make_span_id(doc_id, start, end), doc_id, start, end, mt.text[s:e], unit.kind,
                                  list(unit.section_path), unit.para_index, k, unit.excluded, unit.reason,
                                  unit.page_start, unit.page_end, split))
    return spans
