"""Measuring the tagger against coded sentences: per-category precision, recall and F1 with
bootstrap intervals, and how well its probabilities are calibrated."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..categories import CATEGORIES
from .data import CodedRow

#: Equal-width probability bins of the calibration table.
CALIBRATION_BINS = 10


@dataclass
class Calibration:
    """Reliability of probabilities over every (sentence, category) pair: per bin, how many pairs,
    their mean probability and how often the category was really coded; and the expected
    calibration error (the pair-weighted mean gap)."""
    bins: list[dict]
    ece: float

    def as_dict(self) -> dict:
        return {"bins": self.bins, "ece": self.ece}


@dataclass
class Report:
    per_category: dict[str, dict[str, float]]
    macro_f1: float
    n: int
    unmatched: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)   # missed and false tags, per gold sentence
    #: 95% bootstrap interval of each category's F1 and of macro-F1 (key "macro"): with a gold set
    #: of ~140 sentences (15 of them barriers), F1 moves by several points with the sample.
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    calibration: Calibration | None = None

    def as_dict(self) -> dict:
        return {"per_category": self.per_category, "macro_f1": self.macro_f1, "n": self.n,
                "unmatched": self.unmatched, "errors": self.errors,
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "calibration": self.calibration.as_dict() if self.calibration else None}


def evaluate(gold: list[CodedRow], predictions: dict[str, tuple[set[str], bool]], *,
             probabilities: dict[str, np.ndarray] | None = None, bootstrap: int = 1000, seed: int = 0) -> Report:
    """Per-category precision, recall and F1, macro-F1, the errors, ``bootstrap`` resamples of the
    gold sentences (fixed ``seed``: the same figures every time) for 95% intervals, and — given
    each sentence's (4,) ``probabilities`` — the calibration table."""
    errors, unmatched = [], []
    hits = np.zeros((len(gold), len(CATEGORIES), 3), dtype=np.int64)   # per sentence: tp, fp, fn
    for i, item in enumerate(gold):
        pred, matched = predictions.get(item.id, (set(), False))
        if not matched:
            unmatched.append(item.id)
        for k, c in enumerate(CATEGORIES):
            hits[i, k] = (c in pred and c in item.labels, c in pred and c not in item.labels,
                          c not in pred and c in item.labels)
        if pred != set(item.labels):
            errors.append({"id": item.id, "source": item.source, "text": item.text,
                           "missed": sorted(set(item.labels) - pred), "false": sorted(pred - set(item.labels))})
    per = {}
    totals = hits.sum(axis=0)                                           # (categories, 3)
    for k, (c, f1) in enumerate(zip(CATEGORIES, _f1(totals))):
        tp, fp, fn = (int(x) for x in totals[k])
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        per[c] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(float(f1), 4), "support": tp + fn}
    macro = round(sum(v["f1"] for v in per.values()) / len(per), 4)
    calibration = None
    if probabilities is not None:
        scored = [item for item in gold if item.id in probabilities]
        if scored:
            calibration = calibration_table(np.array([probabilities[item.id] for item in scored]),
                                            np.array([[c in item.labels for c in CATEGORIES] for item in scored]))
    return Report(per, macro, len(gold), unmatched, errors, _intervals(hits, bootstrap, seed), calibration)


def category_f1(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """F1 per category of (n, 4) boolean predictions against (n, 4) boolean truth."""
    counts = np.stack([(truth & predicted).sum(0), (~truth & predicted).sum(0), (truth & ~predicted).sum(0)], axis=-1)
    return _f1(counts)


def calibration_table(probabilities: np.ndarray, truth: np.ndarray, *, bins: int = CALIBRATION_BINS) -> Calibration:
    p, y = probabilities.ravel(), truth.ravel().astype(float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows, gap = [], 0.0
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        if not n:
            continue
        mean_p, observed = float(p[inside].mean()), float(y[inside].mean())
        gap += n * abs(mean_p - observed)
        rows.append({"from": b / bins, "to": (b + 1) / bins, "pairs": n, "mean_probability": round(mean_p, 4),
                     "observed": round(observed, 4)})
    return Calibration(rows, round(gap / max(1, len(p)), 4))


def _f1(counts: np.ndarray) -> np.ndarray:
    """F1 = 2·tp / (2·tp + fp + fn) from (..., 3) counts of tp, fp, fn (0 where there is nothing
    to find or claim)."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)


def _intervals(hits: np.ndarray, resamples: int, seed: int) -> dict[str, tuple[float, float]]:
    if not resamples or not len(hits):
        return {}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(hits), size=(resamples, len(hits)))
    f1 = _f1(hits[draws].sum(axis=1))                       # (resamples, categories)
    columns = {c: f1[:, k] for k, c in enumerate(CATEGORIES)} | {"macro": f1.mean(axis=1)}
    return {name: (round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4))
            for name, v in columns.items()}
