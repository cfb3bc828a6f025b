"""Evaluation against double-coded gold sentences, matched to spans by raw-offset overlap."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

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

    def as_dict(self) -> dict:
        return {"per_category": self.per_category, "macro_f1": self.macro_f1, "n": self.n,
                "unmatched": self.unmatched, "errors": self.errors}


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


def evaluate(gold: list[GoldItem], predictions: dict[str, tuple[set[str], bool]]) -> Report:
    counts = {c: {"tp": 0, "fp": 0, "fn": 0} for c in CATEGORIES}
    errors, unmatched = [], []
    for item in gold:
        pred, matched = predictions.get(item.id, (set(), False))
        if not matched:
            unmatched.append(item.id)
        for c in CATEGORIES:
            if c in pred and c in item.labels:
                counts[c]["tp"] += 1
            elif c in pred:
                counts[c]["fp"] += 1
            elif c in item.labels:
                counts[c]["fn"] += 1
        if pred != item.labels:
            errors.append({"id": item.id, "source": item.source, "text": item.text,
                           "missed": sorted(item.labels - pred), "false": sorted(pred - item.labels)})
    per = {}
    for c, k in counts.items():
        p = k["tp"] / (k["tp"] + k["fp"]) if k["tp"] + k["fp"] else 0.0
        r = k["tp"] / (k["tp"] + k["fn"]) if k["tp"] + k["fn"] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        per[c] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": k["tp"] + k["fn"]}
    macro = round(sum(v["f1"] for v in per.values()) / len(per), 4)
    return Report(per, macro, len(gold), unmatched, errors)
