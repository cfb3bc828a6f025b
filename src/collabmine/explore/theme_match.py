"""Which theme a search question names, if one: "rural schools and the distance between them"
asks about *Distance and transport*. A question that names a theme is answered first from that
theme's members.

A theme is described two ways a researcher would recognise: its name and description, and (for a
frame theme) the example sentences the frame gives it (``frame.toml``). The question's closeness
by name is its cosine to the name and description; by examples, its mean cosine to the theme's two
closest example sentences (a theme without examples: its closeness by name). A theme is matched
when the question is very close to its name and description (``NAME_SIMILARITY``, clearly ahead of
the next theme's), or when both ways pick it, its closeness by examples reaches ``MATCH_SIMILARITY`` and leads the
next theme's by ``MATCH_MARGIN``. A broad question ("what makes collaboration last", "what gets
in the way of partnership work") sits close to many themes: the two ways disagree, or the lead is
small; a name alone ("Building on earlier collaboration") would claim it. Chosen on the half of
the judged questions that is not held out and on broad questions that must match nothing
(``bench/search_fresh.py``; 6 of those 22 questions match, each the theme it asks about). Only named themes (frame and named emergent) match: an unnamed cluster
has no name a question could use.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

import numpy as np

from ..embed import DIM, Embedder, cached_vectors, question_vector, text_hash
from ..themes import named_theme_texts as theme_texts

#: A question at least this close to a theme names it (cosine; see the module docstring).
MATCH_SIMILARITY = 0.6
#: ... and at least this much closer to it than to any other theme.
MATCH_MARGIN = 0.05
#: A question this close to a theme's name and description names it outright ("paperwork and
#: bureaucracy", "headteacher turnover"): short questions sit far from long example sentences.
#: Broad questions stay below it (the closest, "what makes collaboration last", at 0.70).
NAME_SIMILARITY = 0.75
#: Example sentences averaged for a theme's closeness (the closest ones).
CLOSEST_EXAMPLES = 2


@dataclass(frozen=True)
class ThemeMatch:
    theme_id: str
    name: str
    category: str
    similarity: float


_VECTORS: dict[tuple[str, str], np.ndarray] = {}
_VECTORS_LOCK = threading.Lock()


def _vectors(texts: list[str], con: sqlite3.Connection, embedder: Embedder) -> np.ndarray:
    """Unit vectors of ``texts``: from the store's embedding cache where the run put them (the
    themes stage embeds every named theme's texts), else encoded once per process."""
    hashes = [text_hash(t) for t in texts]
    with _VECTORS_LOCK:
        missing = {h for h in hashes if (embedder.name, h) not in _VECTORS}
    if missing:
        found = cached_vectors(con, sorted(missing), embedder.name)
        rest = list(dict.fromkeys(t for t, h in zip(texts, hashes) if h in missing and h not in found))
        if rest:
            found |= dict(zip((text_hash(t) for t in rest), embedder.encode(rest)))
        with _VECTORS_LOCK:
            for h, v in found.items():
                _VECTORS[(embedder.name, h)] = v / (np.linalg.norm(v) or 1.0)
    with _VECTORS_LOCK:
        return np.stack([_VECTORS[(embedder.name, h)] for h in hashes]) if hashes else np.zeros((0, DIM), np.float32)


def closeness(con: sqlite3.Connection, question: str, *, embedder: Embedder,
              category: str | None = None) -> list[tuple[str, str, str, float, float]]:
    """Every named theme (of ``category``) with the question's closeness to it:
    (theme id, name, category, by name, by examples), in theme id order."""
    themes = {k: v for k, v in theme_texts(con).items() if category is None or v[0] == category}
    # Every theme's texts in one matrix: one cache read and one product per question.
    sims = _vectors([t for _, _, texts in themes.values() for t in texts], con, embedder) @ question_vector(embedder, question)
    out, at = [], 0
    for theme_id, (cat, name, texts) in themes.items():
        own, at = sims[at:at + len(texts)], at + len(texts)
        closest = np.sort(own[1:])[::-1][:CLOSEST_EXAMPLES]
        out.append((theme_id, name, cat, float(own[0]), float(closest.mean()) if len(closest) else float(own[0])))
    return out


def match_theme(con: sqlite3.Connection, question: str, *, embedder: Embedder,
                category: str | None = None) -> ThemeMatch | None:
    """The theme the question names, or None when none stands out (see the module docstring)."""
    scored = closeness(con, question, embedder=embedder, category=category)
    if not scored:
        return None
    names = sorted(scored, key=lambda s: (-s[3], s[0]))
    if names[0][3] >= NAME_SIMILARITY and names[0][3] - (names[1][3] if len(names) > 1 else -1.0) >= MATCH_MARGIN:
        return ThemeMatch(names[0][0], names[0][1], names[0][2], round(names[0][3], 4))
    ranked = sorted(scored, key=lambda s: (-s[4], s[0]))
    best, runner_up = ranked[0], (ranked[1][4] if len(ranked) > 1 else -1.0)
    if best[0] != names[0][0] or best[4] < MATCH_SIMILARITY or best[4] - runner_up < MATCH_MARGIN:
        return None
    return ThemeMatch(best[0], best[1], best[2], round(best[4], 4))
