"""Which thresholds for sentences of reports the tagger was trained on? Measured on training data only.

The shipped thresholds are the F1-best on leave-one-report-out predictions: right for a report
the model has never seen, but those fold models (three reports each) are less sure than the final
model, so their thresholds are low and over-tag sentences of the reports it *was* trained on —
the bundled corpus, and most sentences a later run sees. This bench fine-tunes the tagger in a
sentence-level k-fold split of the coded data (each fold's sentences scored by a model trained on
the other folds: same reports, unseen sentences) and scores three rules on those predictions:

- ``report-level``: the committed card's thresholds (F1-best on report-level folds);
- ``0.5``: the classifier's own decision boundary (calibration never moves it);
- ``sentence-CV tuned``: for each fold, the F1-best thresholds on the *other* folds' predictions.

The dev gold is not read. Fold logits are cached in ``--cache`` (re-running only re-scores).

    .venv/bin/python bench/threshold_rule.py --out out     (~20 min: 4 fine-tunes on 3/4 of the data)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from collabmine.runtime import configure_environment  # noqa: E402

configure_environment()

import numpy as np  # noqa: E402

from collabmine.categories import CATEGORIES  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402
from collabmine.tagging import model, stage, train  # noqa: E402
from collabmine.tagging.evaluate import category_f1  # noqa: E402


def scores(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """F1 per category, then macro (last)."""
    f1 = category_f1(truth, predicted)
    return np.append(f1, f1.mean())


def sentence_folds(spans, training, *, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits of every coded row from a model trained without its fold; and each row's fold."""
    rng = np.random.RandomState(seed)
    fold_of = rng.permutation(len(training.index)) % folds
    logits = np.zeros((len(training.index), len(CATEGORIES)), np.float32)
    for f in range(folds):
        inside = fold_of == f
        rows = training.index[~inside]
        print(f"fold {f + 1}/{folds}: training on {len(rows)} sentences", flush=True)
        network = train.fit_network([spans.texts[i] for i in rows], [spans.contexts[i] for i in rows],
                                    training.labels[~inside], progress=print)
        held = training.index[inside]
        logits[inside], _ = model.forward(network, [spans.texts[i] for i in held], [spans.contexts[i] for i in held])
    return logits, fold_of


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "out", help="output folder holding an ingested corpus")
    parser.add_argument("--labels", type=Path, default=ROOT / "models" / "tagger" / "coded" / "train.jsonl")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--cache", type=Path, default=ROOT / ".work" / "bench" / "sentence_folds.npz")
    args = parser.parse_args()
    settings = load_settings(out_dir=args.out)
    spans, training = stage.training_data(settings, [args.labels], use_reviews=False)
    if args.cache.exists():
        cached = np.load(args.cache)
        logits, fold_of = cached["logits"], cached["fold_of"]
    else:
        logits, fold_of = sentence_folds(spans, training, folds=args.folds, seed=0)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.cache, logits=logits, fold_of=fold_of)
    card = model.read_card(settings.models_dir / "tagger")
    temperatures = np.array([card["temperatures"][c] for c in CATEGORIES])
    probabilities = model.calibrate(logits, temperatures)
    truth = training.labels == 1
    known = (training.labels >= 0).all(axis=1)
    rules = {
        "report-level (card)": np.tile([card["thresholds"][c] for c in CATEGORIES], (len(truth), 1)),
        "0.5": np.full(truth.shape, 0.5),
    }
    tuned = np.zeros(truth.shape)
    for f in np.unique(fold_of):
        other = fold_of != f
        tuned[fold_of == f] = model.tune_thresholds(probabilities[other], training.labels[other])
    rules["sentence-CV tuned (nested)"] = tuned
    print(f"\n{int(known.sum())} coded sentences, {len(np.unique(fold_of))} sentence-level folds "
          f"(each scored by a model trained on the other folds)")
    print(f"{'rule':28} " + " ".join(f"{c:>9}" for c in CATEGORIES) + "     macro  share tagged")
    for name, thresholds in rules.items():
        predicted = probabilities >= thresholds
        f1 = scores(truth[known], predicted[known])
        share = predicted[known].any(axis=1).mean()
        print(f"{name:28} " + " ".join(f"{v:9.3f}" for v in f1[:-1]) + f"  {f1[-1]:8.3f}  {share:11.0%}")
    print(f"{'coded data':28} " + " " * 50 + f"{truth[known].any(axis=1).mean():11.0%}")
    best = model.tune_thresholds(probabilities, training.labels)
    print("F1-best thresholds on all sentence-level folds: " +
          ", ".join(f"{c} {t:.2f}" for c, t in zip(CATEGORIES, best)))


if __name__ == "__main__":
    main()
