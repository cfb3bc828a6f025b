"""Evaluation against double-coded gold sentences, matched to spans by raw-offset overlap."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .lexicon import CATEGORIES


@dataclass
class GoldItem:
    id: str
    source: str
    start: int
    end: int
    text: str
    labels: set[str]


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

    def as_dict(self) -> dict:
        return {"per_category": self.per_category, "macro_f1": self.macro_f1, "n": self.n,
                "unmatched": self.unmatched, "errors": self.errors,
                "intervals": {k: list(v) for k, v in self.intervals.items()}}


def load_gold(path: Path) -> list[GoldItem]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            items.append(GoldItem(d["id"], d["source"], int(d["start"]), int(d["end"]), d["text"], set(d["labels"])))
    return items


def match_spans(item: GoldItem, spans: list[dict]) -> list[dict]:
    """Spans of the same report that overlap the gold sentence's raw range."""
    return [s for s in spans if s["start"] < item.end and s["end"] > item.start]


def best_span(item: GoldItem, spans: list[dict]) -> dict | None:
    """The span overlapping the gold sentence most, if any."""
    overlapping = match_spans(item, spans)
    if not overlapping:
        return None
    return max(overlapping, key=lambda s: min(s["end"], item.end) - max(s["start"], item.start))


def predicted_labels(item: GoldItem, spans: list[dict]) -> tuple[set[str], bool]:
    """Labels of the best-overlapping span (excluded spans carry none)."""
    best = best_span(item, spans)
    return (set(best.get("labels", ())), True) if best is not None else (set(), False)


def evaluate(gold: list[GoldItem], predictions: dict[str, tuple[set[str], bool]], *,
             bootstrap: int = 1000, seed: int = 0) -> Report:
    """Per-category precision, recall and F1, macro-F1, the errors, and ``bootstrap`` resamples
    of the gold sentences (fixed ``seed``: the same figures every time) for 95% intervals."""
    errors, unmatched = [], []
    hits = np.zeros((len(gold), len(CATEGORIES), 3), dtype=np.int64)   # per sentence: tp, fp, fn
    for i, item in enumerate(gold):
        pred, matched = predictions.get(item.id, (set(), False))
        if not matched:
            unmatched.append(item.id)
        for k, c in enumerate(CATEGORIES):
            hits[i, k] = (c in pred and c in item.labels, c in pred and c not in item.labels,
                          c not in pred and c in item.labels)
        if pred != item.labels:
            errors.append({"id": item.id, "source": item.source, "text": item.text,
                           "missed": sorted(item.labels - pred), "false": sorted(pred - item.labels)})
    per = {}
    totals = hits.sum(axis=0)                                           # (categories, 3)
    for k, (c, f1) in enumerate(zip(CATEGORIES, _f1(totals))):
        tp, fp, fn = (int(x) for x in totals[k])
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        per[c] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(float(f1), 4), "support": tp + fn}
    macro = round(sum(v["f1"] for v in per.values()) / len(per), 4)
    return Report(per, macro, len(gold), unmatched, errors, _intervals(hits, bootstrap, seed))


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
