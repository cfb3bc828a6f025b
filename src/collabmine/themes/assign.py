"""Frame-theme assignment: which frame theme a tagged sentence is evidence of, learned from
coded sentences instead of guessed from one line of description.

One multinomial logistic regression per category. Its classes are the category's frame keys that
have coded examples plus ``other`` (evidence of the category that fits no frame theme: the pool
the emergent themes are clustered from). It reads, for a (sentence, category) pair:

- the sentence's MiniLM vector, and the previous sentence's and the section heading's (context:
  "This was helped by two things." says nothing alone);
- the sentence's similarity to each frame theme's name and description (a prior that does not
  depend on the reports it was trained on);
- the sentence's words and word pairs (TF-IDF over the training sentences).

Chosen by leave-one-report-out over the coded pairs (``bench/theme_assignment.py``; README).
Probabilities are calibrated by one temperature per category fitted on leave-one-report-out
predictions; a sentence whose best frame theme is less likely than ``other`` or than
``AssignParams.min_probability`` goes to the pool. Deterministic: lbfgs on fixed inputs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..categories import CATEGORIES
from ..errors import DataError, Errors
from .frame import Frame

OTHER = "other"
#: Vectors are passed in by the caller (the store's embedding cache); this is what it encodes.
Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Example:
    """One (sentence, category) pair coded with the frame theme it is evidence of."""
    category: str
    key: str                    # a frame key of ``category``, or ``other``
    text: str
    previous: str = ""
    heading: str = ""
    source: str = ""            # the report's file name (leave-one-report-out folds by it)
    origin: str = "coded"       # coded | move | promoted
    also: tuple[str, ...] = ()  # further frame keys the coder gave the pair (a second theme)


@dataclass(frozen=True)
class AssignParams:
    #: Inverse regularisation of the logistic regression.
    C: float = 10.0
    previous_weight: float = 0.5
    heading_weight: float = 0.5
    zeroshot_weight: float = 3.0
    tfidf_weight: float = 1.0
    #: A frame theme needs at least this calibrated probability, else the sentence joins the pool.
    min_probability: float = 0.0
    #: "balanced": classes weighted by inverse frequency (chosen by leave-one-report-out: frame-v1
    #: macro-F1 0.280 against 0.260 with every example weighing one); None: every example weighs one.
    class_weight: str | None = "balanced"
    #: Examples a frame key needs to be a class (fewer: the model cannot learn it; they count as other).
    min_examples: int = 2
    #: Each frame theme's name and description joins its training examples this many times: a
    #: prior that does not depend on the training reports (leave-one-report-out frame-v1 macro-F1
    #: 0.351 with 2, 0.348 with 4, 0.293 with none; bench/theme_assignment.py).
    description_examples: int = 2
    #: A pair coded with two themes also teaches its second one (as an extra example): 219 of the
    #: 1,982 coded pairs have two. Leave-one-report-out frame-v2 macro-F1 0.307 against 0.290
    #: without (v1 0.356 / 0.351; bench/theme_assignment.py).
    second_keys: bool = True
    #: Each frame theme's example sentences (``examples`` in frame.toml, written from its
    #: definition) join its training examples this many times. Leave-one-report-out frame-v1
    #: macro-F1 with 8 examples a theme: 0.459 with 1 against 0.356 with none; with 16 examples
    #: (and ``example_queries``) 0.505 (session 18); with 24 (frame version 4) 0.519 (session 22;
    #: bench/theme_assignment.py).
    frame_examples: int = 1
    #: A frame theme's similarity feature compares a sentence with its name and description plus
    #: the mean of its example sentences (True) or with the name and description alone. With 8
    #: examples and ``frame_examples=1``: 0.472 against 0.459; counted twice, 0.473.
    example_queries: bool = True

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Inputs:
    """What the model reads of n pairs: texts and their context, with vectors."""
    texts: list[str]
    sentence: np.ndarray        # (n, dim)
    previous: np.ndarray        # (n, dim)
    heading: np.ndarray         # (n, dim)

    def take(self, rows: Sequence[int]) -> "Inputs":
        """These rows, in this order (repeats allowed)."""
        rows = list(rows)
        return Inputs([self.texts[i] for i in rows], self.sentence[rows], self.previous[rows], self.heading[rows])

    def then(self, other: "Inputs") -> "Inputs":
        """These rows followed by ``other``'s."""
        return Inputs(self.texts + other.texts, np.vstack([self.sentence, other.sentence]),
                      np.vstack([self.previous, other.previous]), np.vstack([self.heading, other.heading]))


def read_inputs(texts: Sequence[str], previous: Sequence[str], headings: Sequence[str], encode: Encode) -> Inputs:
    """Vectors for the pairs (an empty context is encoded as a blank, like any text)."""
    return Inputs(list(texts), encode(list(texts)), encode([p or " " for p in previous]),
                  encode([h or " " for h in headings]))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass
class CategoryModel:
    category: str
    classes: list[str]
    coef: np.ndarray            # (classes, features)
    intercept: np.ndarray       # (classes,)
    vocabulary: list[str]       # TF-IDF terms, in column order
    idf: np.ndarray
    queries: np.ndarray         # (frame themes, dim): unit vectors of each theme's name + description
    query_keys: list[str]
    temperature: float = 1.0

    def features(self, inputs: Inputs, params: AssignParams):
        from scipy import sparse

        unit = _unit(inputs.sentence)
        dense = np.hstack([unit, params.previous_weight * _unit(inputs.previous),
                           params.heading_weight * _unit(inputs.heading),
                           params.zeroshot_weight * (unit @ self.queries.T)])
        words = params.tfidf_weight * _tfidf(self.vocabulary, self.idf).transform(inputs.texts)
        return sparse.hstack([sparse.csr_matrix(dense), words]).tocsr()

    def logits(self, inputs: Inputs, params: AssignParams) -> np.ndarray:
        if not inputs.texts:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        return np.asarray(self.features(inputs, params) @ self.coef.T) + self.intercept

    def probabilities(self, inputs: Inputs, params: AssignParams) -> np.ndarray:
        return softmax(self.logits(inputs, params) / self.temperature)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _tfidf(vocabulary: list[str], idf: np.ndarray | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english",
                                 vocabulary=vocabulary or None, min_df=1 if vocabulary else 2)
    if idf is not None:
        # A fitted vectorizer without refitting: the vocabulary and idf weights are the model's.
        vectorizer.fit(["x"])
        vectorizer.idf_ = idf
    return vectorizer


def fit_category(category: str, examples: Sequence[Example], inputs: Inputs, frame: Frame, *,
                 encode: Encode, params: AssignParams = AssignParams()) -> CategoryModel | None:
    """The model of one category, trained on its examples (rows of ``inputs``); None with no
    frame key to learn."""
    from sklearn.linear_model import LogisticRegression

    keys = [t.key for t in frame.of(category)]
    if params.second_keys:
        extra_rows = [(i, k) for i, e in enumerate(examples) for k in e.also if k != e.key]
        if extra_rows:
            rows = [i for i, _ in extra_rows]
            examples = list(examples) + [replace(examples[i], key=k, origin="second", also=()) for i, k in extra_rows]
            inputs = inputs.then(inputs.take(rows))
    if params.description_examples:
        described = [t for t in frame.of(category) for _ in range(params.description_examples)]
        examples = list(examples) + [Example(category, t.key, t.query, origin="frame") for t in described]
        extra = read_inputs([t.query for t in described], [""] * len(described), [""] * len(described), encode)
        inputs = inputs.then(extra)
    if params.frame_examples:
        written = [(t, x) for t in frame.of(category) for x in t.examples for _ in range(params.frame_examples)]
        examples = list(examples) + [Example(category, t.key, x, origin="frame") for t, x in written]
        inputs = inputs.then(read_inputs([x for _, x in written], [""] * len(written), [""] * len(written), encode))
    counts = {k: sum(e.key == k for e in examples) for k in keys}
    labels = [e.key if counts.get(e.key, 0) >= params.min_examples else OTHER for e in examples]
    if len(set(labels) - {OTHER}) < 1 or len(set(labels)) < 2:
        return None
    vectorizer = _tfidf([])
    vectorizer.fit(inputs.texts)
    vocabulary = list(vectorizer.get_feature_names_out())
    queries = _unit(encode([t.query for t in frame.of(category)]))
    if params.example_queries:
        queries = _unit(np.stack([q + _unit(encode(list(t.examples))).mean(axis=0) if t.examples else q
                                  for q, t in zip(queries, frame.of(category))]))
    model = CategoryModel(category, [], np.zeros(0), np.zeros(0), vocabulary, vectorizer.idf_.astype(np.float64),
                          queries, keys)
    classifier = LogisticRegression(C=params.C, max_iter=5000, class_weight=params.class_weight)
    classifier.fit(model.features(inputs, params), labels)
    model.classes = [str(c) for c in classifier.classes_]
    model.coef, model.intercept = classifier.coef_.astype(np.float64), classifier.intercept_.astype(np.float64)
    if len(model.classes) == 2:
        # scikit-learn keeps one row for two classes (the second's logit); softmax wants both.
        model.coef = np.vstack([-model.coef / 2, model.coef / 2])
        model.intercept = np.array([-model.intercept[0] / 2, model.intercept[0] / 2])
    return model


def fit_temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of held-out predictions
    (``truth``: the class index of each row)."""
    if not len(truth):
        return 1.0
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 161))
    losses = [-np.log(softmax(logits / t)[np.arange(len(truth)), truth] + 1e-12).mean() for t in grid]
    return float(round(grid[int(np.argmin(losses))], 4))


@dataclass
class Assignment:
    """One category's pairs: the frame key each is assigned (None: the pool), the calibrated
    probability of that key (of ``other`` for the pool), and the full distribution."""
    keys: list[str | None]
    probability: np.ndarray
    classes: list[str]
    distribution: np.ndarray


@dataclass
class ThemeAssigner:
    models: dict[str, CategoryModel]
    params: AssignParams = field(default_factory=AssignParams)
    frame_version: str = ""
    card: dict = field(default_factory=dict)

    def assign(self, category: str, inputs: Inputs) -> Assignment:
        model = self.models.get(category)
        n = len(inputs.texts)
        if model is None:
            return Assignment([None] * n, np.ones(n), [OTHER], np.ones((n, 1)))
        p = model.probabilities(inputs, self.params)
        decided = [decide(row, model.classes, self.params) for row in p]
        return Assignment([k for k, _ in decided], np.array([q for _, q in decided]), model.classes, p)


def decide(p: np.ndarray, classes: list[str], params: AssignParams) -> tuple[str | None, float]:
    """The frame key a distribution assigns (None: the pool) and its probability (the pool's:
    that of ``other``, or what the best frame theme leaves)."""
    frame_columns = [k for k, c in enumerate(classes) if c != OTHER]
    if not frame_columns:
        return None, 1.0
    best = max(frame_columns, key=lambda k: (p[k], -k))
    other = float(p[classes.index(OTHER)]) if OTHER in classes else None
    if (other is None or p[best] > other) and p[best] >= params.min_probability:
        return classes[best], float(p[best])
    return None, other if other is not None else 1.0 - float(p[best])


def train(examples: Sequence[Example], frame: Frame, *, encode: Encode, params: AssignParams = AssignParams(),
          temperatures: dict[str, float] | None = None) -> ThemeAssigner:
    """A model per category from ``examples``; ``temperatures`` (per category) from an earlier
    leave-one-report-out calibration, else 1."""
    models = {}
    for category in CATEGORIES:
        own = [e for e in examples if e.category == category]
        if not own:
            continue
        inputs = read_inputs([e.text for e in own], [e.previous for e in own], [e.heading for e in own], encode)
        model = fit_category(category, own, inputs, frame, encode=encode, params=params)
        if model is not None:
            model.temperature = (temperatures or {}).get(category, 1.0)
            models[category] = model
    return ThemeAssigner(models, params, frame.version)


# --- saving ------------------------------------------------------------------------------------

ARRAYS_FILE = "assigner.npz"
CARD_FILE = "card.json"


def save(assigner: ThemeAssigner, directory: Path) -> None:
    """Weights in ``assigner.npz``, everything else (classes, vocabulary, temperatures, params,
    measured figures) in ``card.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays, models = {}, {}
    for category, m in assigner.models.items():
        arrays |= {f"{category}.coef": m.coef, f"{category}.intercept": m.intercept,
                   f"{category}.idf": m.idf, f"{category}.queries": m.queries}
        models[category] = {"classes": m.classes, "vocabulary": m.vocabulary, "query_keys": m.query_keys,
                            "temperature": m.temperature}
    # numpy's savez stamps no time: the same model gives the same bytes.
    with (directory / ARRAYS_FILE).open("wb") as f:
        np.savez_compressed(f, **arrays)
    card = dict(assigner.card, params=asdict(assigner.params), frame_version=assigner.frame_version, models=models)
    (directory / CARD_FILE).write_text(json.dumps(card, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load(directory: Path) -> ThemeAssigner:
    from ..errors import ModelError

    card_path, arrays_path = directory / CARD_FILE, directory / ARRAYS_FILE
    if not card_path.exists() or not arrays_path.exists():
        raise ModelError(Errors.E055.format(directory=directory))
    card = json.loads(card_path.read_text(encoding="utf-8"))
    arrays = np.load(arrays_path)
    models = {}
    for category, m in card["models"].items():
        models[category] = CategoryModel(category, m["classes"], arrays[f"{category}.coef"].astype(np.float64),
                                         arrays[f"{category}.intercept"].astype(np.float64), m["vocabulary"],
                                         arrays[f"{category}.idf"].astype(np.float64),
                                         arrays[f"{category}.queries"].astype(np.float32), m["query_keys"],
                                         float(m["temperature"]))
    params = AssignParams(**card["params"])
    extra = {k: v for k, v in card.items() if k not in ("models", "params", "frame_version")}
    return ThemeAssigner(models, params, card.get("frame_version", ""), extra)
