"""How far can these parts go? A measurement, not a tagger: the gold is used here to *fit* models,
which the shipped tagger never does, to see where its accuracy is limited.

For the dev gold's sentences it takes the four kinds of evidence the tagger combines (classifier,
codebook examples, rules, heading cue) and compares, in-sample and with each report held out
(thresholds always tuned on the sentences scored):
- the shipped fixed weights;
- a logistic regression per category fitted to the gold on the four (the best weighting there is);
- a logistic regression per category fitted to the gold on the sentence embeddings and the four.
If the fitted combinations do no better held out than the fixed weights, the limit is what the
evidence can tell apart, not the weights or the thresholds.

    .venv/bin/python bench/tagger_ceiling.py --out out --gold ../shared/gold/dev.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from collabmine.runtime import configure_environment  # noqa: E402

configure_environment()

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GroupKFold, cross_val_predict  # noqa: E402

from collabmine import store, tag, tagging  # noqa: E402
from collabmine.embed import embed_cached  # noqa: E402
from collabmine.evaluate import load_gold  # noqa: E402
from collabmine.lexicon import CATEGORIES  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402


def _f1(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    tp = (pred & (gold == 1)).sum(0)
    fp = (pred & (gold == 0)).sum(0)
    fn = (~pred & (gold == 1)).sum(0)
    return np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(len(tp)), where=(2 * tp + fp + fn) > 0)


def _scored(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    thresholds = tag.tune_thresholds(scores, gold)
    return _f1(scores >= np.array([thresholds[c] for c in CATEGORIES]), gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--gold", type=Path, required=True)
    args = parser.parse_args()
    settings = load_settings(out_dir=args.out)
    model = tagging.load_tagger(settings)
    con = store.connect(settings.store_path, create=False)
    rows, texts, paths = tagging.taggable_texts(con)
    vectors = embed_cached(texts, con=con)
    headings = tag.heading_vector_map(paths, lambda h: embed_cached(h, con=con))
    gold = load_gold(args.gold)
    rows_of_gold = tagging._gold_rows(con, rows, gold)
    con.close()

    parts = list(tag._score_parts(texts, paths, vectors, model, headings))
    rules = np.array([[tag.rule_evidence(t)[c][0] for c in CATEGORIES] for t in texts])
    evidence = np.hstack([np.array([[p[k][i] for k in range(len(CATEGORIES))] for p in parts]) for i in (1, 2)]
                         + [rules, np.array([[p[k][5] is not None for k in range(len(CATEGORIES))] for p in parts], float)])
    shipped = np.array([[p[k][0] for k in range(len(CATEGORIES))] for p in parts])

    # Gold sentences on no taggable span are excluded material (none): left out here.
    gold_items = [(g, i) for g, i in zip(gold, rows_of_gold) if i is not None]
    index = np.array([i for _, i in gold_items])
    y = np.array([[int(c in g.labels) for c in CATEGORIES] for g, _ in gold_items])
    groups = np.array([g.source for g, _ in gold_items])

    def fitted(features: np.ndarray, *, held_out: bool) -> np.ndarray:
        out = np.zeros(y.shape)
        for k in range(len(CATEGORIES)):
            clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
            if held_out:
                out[:, k] = cross_val_predict(clf, features, y[:, k], groups=groups,
                                              cv=GroupKFold(len(set(groups))), method="predict_proba")[:, 1]
            else:
                out[:, k] = clf.fit(features, y[:, k]).predict_proba(features)[:, 1]
        return out

    four = evidence[index]
    with_vectors = np.hstack([vectors[index], four])
    held_out = tagging.evaluate_held_out(settings, args.gold)
    print(f"{len(y)} gold sentences on taggable spans, {len(set(groups))} reports\n")
    print(f"{'':52s} {'in-sample':>10s} {'report held out':>16s}")
    rows_out = [
        ("shipped weights (held out: collabmine eval --held-out)", _scored(shipped[index], y).mean(), held_out.macro_f1),
        ("four kinds of evidence, weights fitted to the gold", _scored(fitted(four, held_out=False), y).mean(),
         _scored(fitted(four, held_out=True), y).mean()),
        ("embeddings + the four, fitted to the gold", _scored(fitted(with_vectors, held_out=False), y).mean(),
         _scored(fitted(with_vectors, held_out=True), y).mean()),
    ]
    for name, inside, outside in rows_out:
        print(f"{name:52s} {inside:10.3f} {outside:16.3f}")


if __name__ == "__main__":
    main()
