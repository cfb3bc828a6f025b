"""How well theme assignment puts a sentence in the theme a coder chose: leave-one-report-out
over the coded pairs (the figure that predicts a report the model has not seen) and scoring of
any coded set (themes_dev).

Scoring, per (sentence, category) pair with its coded theme(s): the prediction is right when it
is one of them. Per theme, a right prediction is a true positive of that theme; a wrong one is a
false positive of the predicted theme and a false negative of the coded (first) theme. Macro-F1
is over frame themes (never ``other``) with at least ``min_pairs`` coded pairs. ``version=1``
scores against frame version 1: keys added later count as ``other`` on both sides.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..categories import CATEGORIES
from .assign import OTHER, AssignParams, Encode, Example, decide, fit_category, fit_temperature, read_inputs, softmax
from .frame import Frame


@dataclass
class Scored:
    pairs: int
    accuracy: float
    macro_f1: float
    per_category: dict[str, dict]               # category -> {pairs, accuracy, macro_f1, themes}
    per_theme: dict[str, dict] = field(default_factory=dict)   # "category/key" -> {pairs, reports, f1}

    def summary(self) -> dict:
        return {"pairs": self.pairs, "accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "per_category": {c: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}
                                 for c, d in self.per_category.items()}}


def as_version(key: str | None, category: str, frame: Frame, version: int | None) -> str:
    """A key as scored: ``None`` (the pool) is ``other``; with ``version``, a key the frame added
    after that version is ``other`` too."""
    if key is None:
        return OTHER
    if version is None:
        return key
    theme = next((t for t in frame.of(category) if t.key == key), None)
    if theme is None:
        return key   # other stays other; anything else (a marker such as "<untagged>") is never right
    return key if int(theme.since) <= version else OTHER


def score(gold: Sequence[Sequence[str]], predicted: Sequence[str | None], categories: Sequence[str], frame: Frame, *,
          sources: Sequence[str] = (), version: int | None = None, min_pairs: int = 3) -> Scored:
    tp, fp, fn, n = Counter(), Counter(), Counter(), Counter()
    reports: dict[tuple, set] = {}
    right = Counter()
    totals = Counter()
    for k, (coded, guess, category) in enumerate(zip(gold, predicted, categories)):
        coded = [as_version(g, category, frame, version) for g in coded] or [OTHER]
        guess = as_version(guess, category, frame, version)
        n[(category, coded[0])] += 1
        if sources:
            reports.setdefault((category, coded[0]), set()).add(sources[k])
        totals[category] += 1
        if guess in coded:
            tp[(category, guess)] += 1
            right[category] += 1
        else:
            fp[(category, guess)] += 1
            fn[(category, coded[0])] += 1
    scored = [key for key in n if n[key] >= min_pairs and key[1] != OTHER]

    def f1(key) -> float:
        d = 2 * tp[key] + fp[key] + fn[key]
        return 2 * tp[key] / d if d else 0.0

    per_theme = {f"{c}/{k}": {"pairs": n[(c, k)], "reports": len(reports.get((c, k), ())), "f1": round(f1((c, k)), 4)}
                 for c, k in sorted(n)}
    per_category = {}
    for category in CATEGORIES:
        own = [key for key in scored if key[0] == category]
        if not totals[category]:
            continue
        per_category[category] = {"pairs": totals[category], "accuracy": right[category] / totals[category],
                                  "macro_f1": float(np.mean([f1(k) for k in own])) if own else 0.0, "themes": len(own)}
    total = sum(totals.values())
    return Scored(total, sum(right.values()) / total if total else 0.0,
                  float(np.mean([f1(k) for k in scored])) if scored else 0.0, per_category, per_theme)


@dataclass
class HeldOut:
    """Leave-one-report-out: each coded pair predicted by a model trained without its report."""
    predicted: list[str | None]
    temperatures: dict[str, float]
    logits: dict[str, np.ndarray]       # category -> out-of-fold logits over ``classes``
    classes: dict[str, list[str]]


def leave_one_report_out(examples: Sequence[Example], frame: Frame, *, encode: Encode,
                         params: AssignParams = AssignParams()) -> HeldOut:
    """For every report, a model trained on the other reports' examples predicts its own; the
    out-of-fold logits also fit each category's temperature."""
    predicted: list[str | None] = [None] * len(examples)
    reports = sorted({e.source for e in examples})
    temperatures, logits_of, classes_of = {}, {}, {}
    for category in CATEGORIES:
        rows = [i for i, e in enumerate(examples) if e.category == category]
        if not rows:
            continue
        inputs = read_inputs([examples[i].text for i in rows], [examples[i].previous for i in rows],
                             [examples[i].heading for i in rows], encode)
        everyone = fit_category(category, [examples[i] for i in rows], inputs, frame, encode=encode, params=params)
        if everyone is None:
            continue
        classes = everyone.classes
        logits = np.full((len(rows), len(classes)), -1e9)
        for report in reports:
            train = [k for k, i in enumerate(rows) if examples[i].source != report]
            test = [k for k, i in enumerate(rows) if examples[i].source == report]
            if not test or not train:
                continue
            model = fit_category(category, [examples[rows[k]] for k in train], inputs.take(train), frame,
                                 encode=encode, params=params)
            if model is None:
                continue
            z = model.logits(inputs.take(test), params)
            for j, c in enumerate(model.classes):
                logits[np.ix_(test, [classes.index(c)])] = z[:, [j]]
        truth = np.array([classes.index(examples[i].key) if examples[i].key in classes else classes.index(OTHER)
                          for i in rows]) if OTHER in classes else None
        temperatures[category] = fit_temperature(logits, truth) if truth is not None else 1.0
        logits_of[category], classes_of[category] = logits, classes
        probabilities = softmax(logits / temperatures[category])
        for k, i in enumerate(rows):
            predicted[i] = decide(probabilities[k], classes, params)[0]
    return HeldOut(predicted, temperatures, logits_of, classes_of)


def expected_calibration_error(probabilities: np.ndarray, correct: np.ndarray, *, bins: int = 10) -> float:
    """ECE of the chosen class's probability against whether it was right."""
    if not len(probabilities):
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (probabilities > lo) & (probabilities <= hi)
        if inside.any():
            total += inside.sum() / len(probabilities) * abs(probabilities[inside].mean() - correct[inside].mean())
    return float(total)


def run_assignments(con, records: Sequence[dict]) -> list[str | None]:
    """What a run did with each coded pair (report, offsets, category): the frame key of the theme
    its sentence sits in for that category; ``other`` for an emergent theme, a cluster or no
    theme; None when the run did not tag the sentence with the category (a tagging error)."""
    from ..tagging.data import CodedRow, match_rows, taggable_spans

    spans = taggable_spans(con)
    rows = [CodedRow(r["source"], int(r["start"]), int(r["end"]), frozenset(), "", r["text"]) for r in records]
    found, _ = match_rows(rows, spans)
    kinds = {r["theme_id"]: (r["kind"], r["theme_id"].split("-", 1)[1]) for r in con.execute(
        "SELECT theme_id, kind FROM themes")}
    member = {(r["span_id"], r["category"]): r["theme_id"] for r in con.execute(
        "SELECT span_id, category, theme_id FROM theme_members")}
    out: list[str | None] = []
    for record, i in zip(records, found):
        key = (spans.span_ids[i], record["category"]) if i is not None else None
        if key is None or key not in member:
            out.append(None)
            continue
        theme = member[key]
        kind, frame_key = kinds.get(theme, ("cluster", "")) if theme else ("cluster", "")
        out.append(frame_key if kind == "frame" else OTHER)
    return out
