"""Multi-label evidence tagger: codebook rules, codebook examples, heading cues and an embedding
classifier.

score(category) = W_CLF * p_classifier + W_EXAMPLE * p_example + W_RULE * rule_score
+ W_HEADING * heading_cue, in [0, 1]; a category is tagged when its score reaches the category's
threshold (tuned on the dev gold, stored in the manifest).

- p_classifier: a logistic regression per category on all-MiniLM-L6-v2 sentence embeddings,
  trained on *weak* labels from section headings of the corpus — never on the gold;
- p_example: a softmax (over the four categories and "none") of the sentence's similarity to the
  nearest example sentence of each class written from the codebook (``CODEBOOK_EXAMPLES``);
- rule_score: the codebook's vocabulary, aware of absence and negation;
- heading_cue: the section's heading is close (cosine >= ``HEADING_MIN_SIMILARITY``) to a heading
  prototype of the category (``HEADING_PROTOTYPES``); the deepest heading with a close prototype
  decides, and a "none" prototype (Methodology, References, ...) gives no cue.

Every tag keeps its explanation: the rule or phrase that matched, the closest codebook example,
the heading cue and the classifier probability.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import Errors, ModelError
from .lexicon import (ABSENCE, ABSENT_BARRIER, CATEGORIES, CODEBOOK_EXAMPLES, HEADING_PROTOTYPES,
                      compiled_patterns, heading_categories, heading_words)

#: Weights of the four kinds of evidence. With the codebook examples added (v4) the weak-label
#: classifier carries less: alone it reached macro-F1 0.47 when each report was held out (its
#: weak labels are section-level), the examples with rules and headings 0.59, all four 0.61.
W_CLF, W_EXAMPLE, W_RULE, W_HEADING = 0.2, 0.4, 0.2, 0.2
#: Softmax temperature over cosine similarities to the codebook examples (cosines of related
#: sentences differ by a few hundredths, so a low temperature is needed to separate classes).
EXAMPLE_TEMPERATURE = 0.05
EXAMPLE_CLASSES = (*CATEGORIES, "none")
#: Embedding evidence (classifier and examples) for a category whose absence the sentence states
#: is halved.
NEGATION_DAMPING = 0.5
#: Strong L2 regularisation: the weak labels are section-level and noisy, and leave-one-report-out
#: evaluation on the dev gold gave macro-F1 0.58 at C=0.1 against 0.54 at C=1.0.
CLASSIFIER_C = 0.1
#: A heading cues a category when its nearest prototype is at least this similar. Measured on the
#: dev gold (in-sample / leave-one-report-out macro-F1): 0.65 → 0.662/0.597, 0.7 → 0.675/0.618,
#: 0.75 → 0.682/0.615, 0.8 → 0.674/0.602 (the regular-expression cues of v4: 0.673/0.608).
HEADING_MIN_SIMILARITY = 0.7
MODEL_FILE = "tagger.safetensors"
MANIFEST_FILE = "manifest.json"
TAGGER_VERSION = "5"  # bump when scoring logic changes; a stale artefact is then refused

_PATTERNS = compiled_patterns()


@dataclass
class Tag:
    category: str
    score: float
    method: str
    explanation: str


@dataclass
class TaggerModel:
    coef: np.ndarray                      # (4, dim)
    intercept: np.ndarray                 # (4,)
    examples: np.ndarray                  # (n_examples, dim): embedded CODEBOOK_EXAMPLES, in order
    thresholds: dict[str, float] = field(default_factory=lambda: {c: 0.5 for c in CATEGORIES})
    manifest: dict = field(default_factory=dict)
    #: (n_prototypes, dim): embedded HEADING_PROTOTYPES, in ``prototype_texts()`` order (None: no cues)
    heading_prototypes: np.ndarray | None = None

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        z = vectors @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def example_evidence(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per span: p over the four categories (softmax with "none"), the nearest example of each
        category (index into ``example_texts()``) and its cosine similarity."""
        sims = vectors @ self.examples.T
        classes = example_classes()
        best = np.zeros((len(vectors), len(EXAMPLE_CLASSES)))
        nearest = np.zeros((len(vectors), len(EXAMPLE_CLASSES)), dtype=int)
        for k, name in enumerate(EXAMPLE_CLASSES):
            columns = np.flatnonzero(classes == name)
            arg = sims[:, columns].argmax(axis=1)
            nearest[:, k] = columns[arg]
            best[:, k] = sims[np.arange(len(vectors)), nearest[:, k]]
        z = (best - best.max(axis=1, keepdims=True)) / EXAMPLE_TEMPERATURE
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        k4 = len(CATEGORIES)
        return p[:, :k4], nearest[:, :k4], best[:, :k4]

    def heading_cues(self, section_paths: list[list[str]],
                     heading_vectors: dict[str, np.ndarray] | None) -> list[tuple[str, str, str, float] | None]:
        """Per span: (class, heading, prototype, cosine) of the deepest heading with a prototype at
        least ``HEADING_MIN_SIMILARITY`` close (class may be "none"), or None. ``heading_vectors``
        maps each heading (as in the section path) to its embedding."""
        if self.heading_prototypes is None or not heading_vectors:
            return [None] * len(section_paths)
        texts, classes = prototype_texts(), prototype_classes()
        decided: dict[tuple[str, ...], tuple[str, str, str, float] | None] = {}
        out = []
        for path in section_paths:
            key = tuple(path)
            if key not in decided:
                decided[key] = None
                for heading in reversed(path):
                    sims = self.heading_prototypes @ heading_vectors[heading]
                    best = int(sims.argmax())
                    if sims[best] >= HEADING_MIN_SIMILARITY:
                        decided[key] = (str(classes[best]), heading, texts[best], float(sims[best]))
                        break
            out.append(decided[key])
        return out


def _texts(table: dict[str, list[str]]) -> list[str]:
    """A lexicon table's texts, class by class in ``EXAMPLE_CLASSES`` order (the stored vectors' order)."""
    return [text for name in EXAMPLE_CLASSES for text in table[name]]


def _classes(table: dict[str, list[str]]) -> np.ndarray:
    return np.array([name for name in EXAMPLE_CLASSES for _ in table[name]])


def prototype_texts() -> list[str]:
    return _texts(HEADING_PROTOTYPES)


def prototype_classes() -> np.ndarray:
    return _classes(HEADING_PROTOTYPES)


def headings_to_embed(section_paths: list[list[str]]) -> list[str]:
    """The distinct headings of these paths, as their prototypes are compared with (no numbers)."""
    return sorted({heading_words(h) for path in section_paths for h in path})


def heading_vector_map(section_paths: list[list[str]],
                       vectors_of: Callable[[list[str]], np.ndarray]) -> dict[str, np.ndarray]:
    """Heading (as in the paths) -> embedding, with ``vectors_of(list[str]) -> ndarray`` embedding
    each distinct heading once."""
    words = headings_to_embed(section_paths)
    if not words:
        return {}
    by_words = dict(zip(words, vectors_of(words)))
    return {h: by_words[heading_words(h)] for path in section_paths for h in path}


def example_texts() -> list[str]:
    return _texts(CODEBOOK_EXAMPLES)


def example_classes() -> np.ndarray:
    return _classes(CODEBOOK_EXAMPLES)


def examples_hash() -> str:
    """The codebook examples and heading prototypes the stored vectors were computed from."""
    return hashlib.sha256(json.dumps([example_texts(), list(example_classes()), prototype_texts(),
                                      list(prototype_classes())]).encode()).hexdigest()


# --- rules ---------------------------------------------------------------------------------

def rule_evidence(text: str) -> dict[str, tuple[float, list[str]]]:
    """Per category: a score in {0, 0.5, 1} (one or several distinct cues) and the cues."""
    lower = text.lower()
    found: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for category, patterns in _PATTERNS.items():
        for name, pattern in patterns:
            m = pattern.search(lower)
            if m:
                found[category].append(f'{name}: "{m.group(0)}"')
    absence = ABSENCE.search(lower)
    if absence:
        # "lack of trust" names a condition only to say it is missing: that is a barrier.
        found["barrier"].append(f'absence of a condition: "{absence.group(0)}"')
        missing = absence.group(0).split()[-1]
        found["condition"] = [r for r in found["condition"] if missing not in r]
    absent_barrier = ABSENT_BARRIER.search(lower)
    if absent_barrier:
        found["condition"].append(f'absence of a barrier given as a reason: "{absent_barrier.group(0)}"')
        found["barrier"] = [r for r in found["barrier"] if not re.search(r"compet|rival|threat|judg|isolat", r)]
    return {c: (min(1.0, 0.5 * len(v)), v) for c, v in found.items()}


def negated_categories(text: str) -> set[str]:
    """Categories whose classifier evidence is damped because the sentence states their absence:
    "lack of trust" is not a condition; "because we are not competing" is not a barrier."""
    lower = text.lower()
    out = set()
    if ABSENCE.search(lower):
        out.add("condition")
    if ABSENT_BARRIER.search(lower):
        out.add("barrier")
    return out


# --- scoring -------------------------------------------------------------------------------

def _score_parts(texts: list[str], section_paths: list[list[str]], vectors: np.ndarray, model: TaggerModel,
                 heading_vectors: dict[str, np.ndarray] | None):
    """Per span and category: (score, classifier p, example p, nearest example, rule reasons,
    heading cue or None); both p after damping."""
    if not len(texts):
        return
    probs = model.probabilities(vectors)
    example_p, nearest, similarity = model.example_evidence(vectors)
    examples = example_texts()
    cues = model.heading_cues(section_paths, heading_vectors)
    for i, text in enumerate(texts):
        rules = rule_evidence(text)
        negated = negated_categories(text)
        parts = []
        for k, category in enumerate(CATEGORIES):
            damping = NEGATION_DAMPING if category in negated else 1.0
            p, q = float(probs[i, k]) * damping, float(example_p[i, k]) * damping
            rule_score, reasons = rules[category]
            heading = cues[i] if cues[i] is not None and cues[i][0] == category else None
            score = round(W_CLF * p + W_EXAMPLE * q + W_RULE * rule_score + W_HEADING * (heading is not None), 4)
            example = (examples[nearest[i, k]], float(similarity[i, k]))
            parts.append((score, p, q, example, reasons, heading))
        yield parts


def score_spans(texts: list[str], section_paths: list[list[str]], vectors: np.ndarray, model: TaggerModel, *,
                heading_vectors: dict[str, np.ndarray] | None = None) -> list[list[Tag]]:
    """Tags for each span (only those at or above their category threshold). ``heading_vectors``
    (see ``heading_vector_map``) gives the heading cues; without it there are none."""
    out: list[list[Tag]] = []
    for parts in _score_parts(texts, section_paths, vectors, model, heading_vectors):
        tags = []
        for category, (score, p, q, (example, similarity), reasons, heading) in zip(CATEGORIES, parts):
            if score < model.thresholds[category]:
                continue
            explanation = [f"classifier p={p:.2f}",
                           f'codebook example p={q:.2f} (cosine {similarity:.2f}): "{example}"']
            if reasons:
                explanation.append("rules: " + "; ".join(reasons))
            if heading:
                _, text, prototype, cosine = heading
                explanation.append(f'heading cue: "{text}" ≈ "{prototype}" (cosine {cosine:.2f})')
            method = "+".join(m for m, on in (("classifier", True), ("example", True), ("rule", bool(reasons)),
                                              ("heading", heading is not None)) if on)
            tags.append(Tag(category, score, method, " | ".join(explanation)))
        out.append(tags)
    return out


def raw_scores(texts: list[str], section_paths: list[list[str]], vectors: np.ndarray, model: TaggerModel, *,
               heading_vectors: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Scores for every category (no threshold): used to tune thresholds."""
    rows = [[score for score, *_ in parts]
            for parts in _score_parts(texts, section_paths, vectors, model, heading_vectors)]
    return np.array(rows, dtype=float).reshape(len(texts), len(CATEGORIES))


# --- training ------------------------------------------------------------------------------

def weak_labels(section_paths: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Labels from heading cues: (labels (n, 4) in {0,1}, known (n,) bool — sections with a cue)."""
    labels = np.zeros((len(section_paths), len(CATEGORIES)), dtype=np.int8)
    known = np.zeros(len(section_paths), dtype=bool)
    for i, path in enumerate(section_paths):
        cues = heading_categories(path)
        if cues:
            known[i] = True
            for k, category in enumerate(CATEGORIES):
                labels[i, k] = category in cues
    return labels, known


def training_hash(texts: list[str], labels: np.ndarray) -> str:
    h = hashlib.sha256()
    for text, row in zip(texts, labels):
        h.update(text.encode())
        h.update(bytes(row.tolist()))
    return h.hexdigest()


def train(texts: list[str], section_paths: list[list[str]], vectors: np.ndarray, *,
          example_vectors: np.ndarray, prototype_vectors: np.ndarray, embedder_name: str,
          seed: int = 0) -> TaggerModel:
    """Fit the classifier on weak labels (the heading rules); ``example_vectors`` and
    ``prototype_vectors`` embed ``example_texts()`` and ``prototype_texts()`` in order."""
    from sklearn.linear_model import LogisticRegression

    labels, known = weak_labels(section_paths)
    x, y = vectors[known], labels[known]
    coef = np.zeros((len(CATEGORIES), vectors.shape[1]), dtype=np.float32)
    intercept = np.zeros(len(CATEGORIES), dtype=np.float32)
    counts = {}
    for k, category in enumerate(CATEGORIES):
        clf = LogisticRegression(C=CLASSIFIER_C, class_weight="balanced", max_iter=2000, random_state=seed)
        clf.fit(x, y[:, k])
        coef[k], intercept[k] = clf.coef_[0], clf.intercept_[0]
        counts[category] = {"positive": int(y[:, k].sum()), "negative": int(len(y) - y[:, k].sum())}
    import sklearn
    manifest = {
        "tagger_version": TAGGER_VERSION,
        "training_data_sha256": training_hash([t for t, k in zip(texts, known) if k], y),
        "training_examples": int(known.sum()), "weak_label_counts": counts,
        "embedder": embedder_name, "classifier_C": CLASSIFIER_C,
        "weights": {"classifier": W_CLF, "example": W_EXAMPLE, "rule": W_RULE, "heading": W_HEADING},
        "codebook_examples": len(example_texts()), "codebook_examples_sha256": examples_hash(),
        "example_temperature": EXAMPLE_TEMPERATURE,
        "heading_prototypes": len(prototype_texts()), "heading_min_similarity": HEADING_MIN_SIMILARITY,
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__},
    }
    return TaggerModel(coef, intercept, example_vectors.astype(np.float32), manifest=manifest,
                       heading_prototypes=prototype_vectors.astype(np.float32))


def tune_thresholds(scores: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """Per-category threshold maximising F1 on the dev gold (scores/gold: (n, 4))."""
    thresholds = {}
    for k, category in enumerate(CATEGORIES):
        best = (-1.0, 0.5)
        for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
            pred = scores[:, k] >= t
            tp = int((pred & (gold[:, k] == 1)).sum())
            fp = int((pred & (gold[:, k] == 0)).sum())
            fn = int((~pred & (gold[:, k] == 1)).sum())
            f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
            if f1 > best[0] + 1e-9:
                best = (f1, float(t))
        thresholds[category] = best[1]
    return thresholds


def above_thresholds(scores: np.ndarray, thresholds: dict[str, float]) -> list[set[str]]:
    """The categories each row of ``scores`` (n, 4) reaches at ``thresholds``."""
    return [{c for k, c in enumerate(CATEGORIES) if row[k] >= thresholds[c]} for row in scores]


def held_out_labels(fold_scores: dict[str, np.ndarray], gold: np.ndarray, groups: list[str]) -> list[set[str]]:
    """Leave-one-group-out predictions for gold items. ``fold_scores[g]`` scores every item (n, 4)
    with the tagger trained without group ``g`` (a report); an item of ``g`` is tagged with
    thresholds tuned only on the *other* groups' items, so neither its words nor its label reach
    the model that judges it. Items of a group missing from ``fold_scores`` get no labels."""
    labels: list[set[str]] = [set() for _ in groups]
    members = np.array(groups, dtype=object)
    for group, scores in fold_scores.items():
        inside = members == group
        if not inside.any() or inside.all():
            continue
        thresholds = tune_thresholds(scores[~inside], gold[~inside])
        for i, predicted in zip(np.flatnonzero(inside), above_thresholds(scores[inside], thresholds)):
            labels[i] = predicted
    return labels


# --- artefacts -----------------------------------------------------------------------------

def save(model: TaggerModel, directory: Path) -> None:
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    tensors = {"coef": model.coef.astype(np.float32), "intercept": model.intercept.astype(np.float32),
               "examples": model.examples.astype(np.float32)}
    if model.heading_prototypes is not None:
        tensors["heading_prototypes"] = model.heading_prototypes.astype(np.float32)
    save_file(tensors, str(directory / MODEL_FILE))
    manifest = dict(model.manifest, thresholds=model.thresholds)
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load(directory: Path) -> TaggerModel:
    from safetensors.numpy import load_file

    weights, manifest_path = directory / MODEL_FILE, directory / MANIFEST_FILE
    if not weights.exists() or not manifest_path.exists():
        raise ModelError(Errors.E040.format(directory=directory))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("tagger_version") != TAGGER_VERSION:
        raise ModelError(Errors.E042.format(directory=directory, found=manifest.get("tagger_version"),
                                            expected=TAGGER_VERSION))
    if manifest.get("codebook_examples_sha256") != examples_hash():
        # The examples were edited since training: their stored vectors no longer match the text.
        raise ModelError(Errors.E043.format(directory=directory))
    tensors = load_file(str(weights))
    thresholds = {c: float(manifest["thresholds"][c]) for c in CATEGORIES}
    return TaggerModel(tensors["coef"], tensors["intercept"], tensors["examples"], thresholds, manifest,
                       tensors.get("heading_prototypes"))
