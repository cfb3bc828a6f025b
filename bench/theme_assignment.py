"""Theme assignment measured: leave-one-report-out over the theme-coded pairs (what predicts a
report the model has not seen), and themes_dev as a check (never trained or tuned on).

Variants, all in this one run on the same vectors (the store's embedding cache):

- ``baseline``: a logistic regression on frozen MiniLM vectors of the sentence and the sentence
  before it, trained on frame-v1 keys (the issue's baseline);
- ``shipped``: the shipped model's parameters (``AssignParams()``), frame v2, trained on the
  re-coded pairs (models/themes/coded/);
- the run's own themes in the store (``--out``): which theme each dev pair's sentence sits in
  for its category, tagging errors included;
- any ``--try`` JSON of AssignParams fields, e.g. ``--try '{"C": 3}'``;
- the shipped parameters with another frame file, ``--frame path/to/frame.toml`` (its examples).

Scores are given in frame-v1 terms (a v2 key counts as ``other``: comparable with the baseline
and the v1-coded dev set) and, for LORO, in v2 terms too. Themes that only one report discusses
are listed: a model trained without that report cannot learn them.

    .venv/bin/python bench/theme_assignment.py --out out --dev ../shared/gold/themes_dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from collabmine.runtime import configure_environment  # noqa: E402

configure_environment()

from collabmine import store  # noqa: E402
from collabmine.embed import default_embedder, embed_cached  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402
from collabmine.themes import assign, examples, measure  # noqa: E402
from collabmine.themes.frame import default_frame, load_frame  # noqa: E402

BASELINE = assign.AssignParams(C=1.0, previous_weight=1.0, heading_weight=0.0, zeroshot_weight=0.0, tfidf_weight=0.0,
                               description_examples=0, second_keys=False, frame_examples=0, example_queries=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument("--dev", type=Path, default=None)
    parser.add_argument("--try", dest="variants", action="append", default=[])
    parser.add_argument("--frame", dest="frames", type=Path, action="append", default=[],
                        help="also the shipped parameters with this frame file (e.g. more example sentences)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    settings = load_settings(out_dir=args.out)
    con = store.connect(settings.store_path, create=False)
    embedder = default_embedder()

    def encode(texts):
        return embed_cached(texts, embedder=embedder, con=con)

    frame = default_frame()
    coded = examples.read_coded(examples.coded_file(settings))
    dev = examples.with_context(examples.read_coded(args.dev), con) if args.dev else []
    variants = [("baseline", BASELINE, frame.as_of(1)), ("shipped", assign.AssignParams(), frame)]
    variants += [(v, assign.AssignParams(**json.loads(v)), frame) for v in args.variants]
    variants += [(f"frame {path.name}", assign.AssignParams(), load_frame(path)) for path in args.frames]
    figures = {}
    for name, params, used in variants:
        started = time.perf_counter()
        train = examples.examples_of(coded, used)
        held = measure.leave_one_report_out(train, used, encode=encode, params=params)
        gold_v2 = [r["themes"] for r in coded]
        categories = [r["category"] for r in coded]
        sources = [r["source"] for r in coded]
        loro_v1 = measure.score([r.get("themes_v1", r["themes"]) for r in coded], held.predicted, categories, frame,
                                sources=sources, version=1)
        loro_v2 = measure.score(gold_v2, held.predicted, categories, frame, sources=sources)
        row = {"loro_v1": loro_v1.summary(), "loro_v2": loro_v2.summary(), "temperatures": held.temperatures}
        if dev:
            model = assign.train(train, used, encode=encode, params=params, temperatures=held.temperatures)
            predicted = []
            for record in dev:
                inputs = assign.read_inputs([record["text"]], [record["previous"]], [record["heading"]], encode)
                predicted.append(model.assign(record["category"], inputs).keys[0])
            row["dev_v1"] = measure.score([r["themes"] for r in dev], predicted, [r["category"] for r in dev], frame,
                                          version=1).summary()
        row["seconds"] = round(time.perf_counter() - started, 1)
        figures[name] = row
        dev_text = (f" | dev acc {row['dev_v1']['accuracy']:.3f} F1 {row['dev_v1']['macro_f1']:.3f}" if dev else "")
        print(f"{name:10s} LORO v1 acc {loro_v1.accuracy:.3f} F1 {loro_v1.macro_f1:.3f} | LORO v2 acc "
              f"{loro_v2.accuracy:.3f} F1 {loro_v2.macro_f1:.3f}{dev_text} ({row['seconds']} s)", flush=True)
        for category, d in loro_v1.per_category.items():
            print(f"    {category:9s} LORO v1 acc {d['accuracy']:.3f} F1 {d['macro_f1']:.3f} ({d['themes']} themes)"
                  + (f" | dev acc {row['dev_v1']['per_category'].get(category, {}).get('accuracy', 0):.3f} "
                     f"F1 {row['dev_v1']['per_category'].get(category, {}).get('macro_f1', 0):.3f}" if dev else ""))
        if name == "shipped":
            single = [k for k, d in loro_v2.per_theme.items() if d["reports"] == 1 and not k.endswith("/other")]
            row["single_report_themes"] = single
            print("    themes coded in one report only:", ", ".join(single))
    if dev:
        # The run itself (tagging errors included): what the store's themes did with each dev pair.
        done = measure.run_assignments(con, dev)
        untagged = sum(d is None for d in done)
        scored = measure.score([r["themes"] for r in dev], ["<untagged>" if d is None else d for d in done],
                               [r["category"] for r in dev], frame, version=1)
        figures["run_dev_v1"] = scored.summary() | {"untagged": untagged}
        print(f"the run's themes (tagging errors included): dev acc {scored.accuracy:.3f} F1 {scored.macro_f1:.3f}"
              f" ({untagged} of {len(dev)} pairs not tagged with their category)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
