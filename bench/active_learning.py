"""A simulated analyst teaching the tagger a report it has not seen: uncertainty order vs random.

The encoder is fine-tuned once on the coded sentences of the other three reports (as
`train-tagger` would, without the held-out report). The held-out report's coded sentences are
split once (seeded) into a pool (70%) and a test part (30%). Then, 50 at a time, pool sentences
are "coded by the analyst" (their coded labels revealed) — either those the current model is
least sure about (smallest margin of any category's probability from 0.5, the order of
`collabmine review --learn`), or at random (the audit queue's default) — and the classification
layer is refitted on the other reports' sentences plus those revealed so far (logistic regression
on the fine-tuned encoder's pooled vectors: a full fine-tune per step would take minutes each).
Macro-F1 on the test part is recorded after each step. Prints a table and writes an SVG plot.

    .venv/bin/python bench/active_learning.py --out out --report 000_47f8c43ff3c82b8a.txt   (~6 min)
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
from collabmine.tagging import stage, train  # noqa: E402
from collabmine.tagging.evaluate import category_f1  # noqa: E402

STEP = 50


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(category_f1(truth, predicted).mean())


def fit_head(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    models = [LogisticRegression(C=1.0, max_iter=2000, random_state=0).fit(x, y[:, k]) for k in range(len(CATEGORIES))]
    return lambda z: np.column_stack([m.predict_proba(z)[:, 1] for m in models])


def simulate(order: str, pool: np.ndarray, test: np.ndarray, base_x, base_y, x, y, steps: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    labelled: list[int] = []
    scores = []
    for step in range(steps + 1):
        head = fit_head(np.vstack([base_x, x[labelled]]), np.vstack([base_y, y[labelled]]))
        scores.append(macro_f1(y[test].astype(bool), head(x[test]) >= 0.5))
        left = np.array([i for i in pool if i not in set(labelled)])
        if step == steps or not len(left):
            break
        if order == "uncertainty":
            margin = np.abs(head(x[left]) - 0.5).min(axis=1)
            labelled += list(left[np.argsort(margin, kind="stable")[:STEP]])
        else:
            labelled += list(rng.choice(left, size=min(STEP, len(left)), replace=False))
    return scores


def svg(curves: dict[str, list[float]], path: Path, title: str) -> None:
    width, height, pad = 640, 360, 50
    n = max(len(v) for v in curves.values())
    low = min(min(v) for v in curves.values()) - 0.02
    high = max(max(v) for v in curves.values()) + 0.02

    def point(i, f):
        return pad + i * (width - 2 * pad) / max(1, n - 1), height - pad - (f - low) * (height - 2 * pad) / (high - low)

    colours = ["#1f77b4", "#d62728", "#999999", "#bbbbbb", "#dddddd"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
             f'<text x="{width / 2}" y="18" text-anchor="middle">{title}</text>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
             f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">coded sentences of the held-out report added</text>',
             f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" text-anchor="middle">macro-F1 on its test part</text>']
    for i in range(0, n, 2):
        x, _ = point(i, low)
        parts.append(f'<text x="{x:.0f}" y="{height - pad + 16}" text-anchor="middle">{i * STEP}</text>')
    for f in np.linspace(low, high, 5):
        _, y = point(0, f)
        parts.append(f'<text x="{pad - 6}" y="{y + 4:.0f}" text-anchor="end">{f:.2f}</text>')
    for k, (name, values) in enumerate(curves.items()):
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, f) for i, f in enumerate(values)))
        parts.append(f'<polyline fill="none" stroke="{colours[k % len(colours)]}" stroke-width="2" points="{coords}"/>')
        parts.append(f'<text x="{width - pad - 150}" y="{pad + 16 * k}" fill="{colours[k % len(colours)]}">{name}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "out", help="output folder holding an ingested corpus")
    parser.add_argument("--labels", type=Path, default=ROOT / "models" / "tagger" / "coded" / "train.jsonl")
    parser.add_argument("--report", default="000_47f8c43ff3c82b8a.txt", help="the report held out")
    parser.add_argument("--steps", type=int, default=14)
    parser.add_argument("--svg", type=Path, default=ROOT / "docs" / "active_learning.svg")
    args = parser.parse_args()
    spans, training = stage.training_data(load_settings(out_dir=args.out), [args.labels], use_reviews=False)
    files = np.array([spans.files[i] for i in training.index])
    inside = files == args.report
    rows = training.index[~inside]
    print(f"fine-tuning on {len(rows)} coded sentences of the other reports ...", flush=True)
    network = train.fit_network([spans.texts[i] for i in rows], [spans.contexts[i] for i in rows],
                                training.labels[~inside], config=train.TrainConfig(), progress=print)
    _, vectors = train.forward(network, [spans.texts[i] for i in training.index],
                               [spans.contexts[i] for i in training.index])
    base_x, base_y = vectors[~inside], training.labels[~inside]
    mine = np.flatnonzero(inside)
    x, y = vectors, training.labels
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(mine)
    test, pool = np.sort(shuffled[: int(0.3 * len(mine))]), np.sort(shuffled[int(0.3 * len(mine)):])
    curves = {"uncertainty": simulate("uncertainty", pool, test, base_x, base_y, x, y, args.steps, 0)}
    for seed in (1, 2, 3):
        curves[f"random (seed {seed})"] = simulate("random", pool, test, base_x, base_y, x, y, args.steps, seed)
    print(f"held out: {args.report}; pool {len(pool)}, test {len(test)} sentences")
    print("added  " + "  ".join(f"{name:>18}" for name in curves))
    for i in range(len(curves["uncertainty"])):
        print(f"{i * STEP:5d}  " + "  ".join(f"{v[i]:18.3f}" for v in curves.values()))
    svg(curves, args.svg, f"Teaching the tagger {args.report}: uncertainty order vs random")
    print(f"wrote {args.svg}")


if __name__ == "__main__":
    main()
