"""Training the shipped assignment model (``collabmine train-themes``): the coded pairs of
``models/themes/coded/``, leave-one-report-out for its calibration and its figures, and — with
``gold_path`` — a coded set it is only scored on (themes_dev)."""

from __future__ import annotations

from pathlib import Path

from .. import store
from ..embed import default_embedder, embed_cached
from ..settings import Settings
from . import assign, measure
from .assigners import save_coded_vectors, save_frame_vectors, shipped_dir
from .examples import coded_file, examples_of, read_coded, with_context
from .frame import default_frame


def train_themes(settings: Settings, *, gold_path: Path | None = None,
                 params: assign.AssignParams = assign.AssignParams()) -> dict:
    """Train, measure and save the model in ``models/themes/``; returns its card."""
    frame = default_frame()
    con = store.connect(settings.store_path, create=False) if settings.store_path.exists() else None
    try:
        embedder = default_embedder()

        def encode(texts: list[str]):
            return embed_cached(texts, embedder=embedder, con=con)

        records = read_coded(coded_file(settings))
        examples = examples_of(records, frame)
        held = measure.leave_one_report_out(examples, frame, encode=encode, params=params)
        categories = [r["category"] for r in records]
        sources = [r.get("source", "") for r in records]
        loro = measure.score([r["themes"] for r in records], held.predicted, categories, frame, sources=sources)
        loro_v1 = measure.score([r.get("themes_v1", r["themes"]) for r in records], held.predicted, categories, frame,
                                sources=sources, version=1)
        model = assign.train(examples, frame, encode=encode, params=params, temperatures=held.temperatures)
        card = {"trained_on": {"pairs": len(examples), "reports": len(set(sources)),
                               "file": str(coded_file(settings).relative_to(settings.models_dir.parent))
                               if coded_file(settings).is_relative_to(settings.models_dir.parent)
                               else str(coded_file(settings))},
                "calibration": "one temperature per category, fitted on leave-one-report-out logits",
                "measured": {"leave_one_report_out": loro.summary(), "leave_one_report_out_v1": loro_v1.summary(),
                             "single_report_themes": sorted(k for k, d in loro.per_theme.items()
                                                            if d["reports"] == 1 and not k.endswith("/other"))}}
        if gold_path is not None and con is not None:
            gold = with_context(read_coded(gold_path), con)
            predicted = []
            for record in gold:
                inputs = assign.read_inputs([record["text"]], [record.get("previous", "")],
                                            [record.get("heading", "")], encode)
                predicted.append(model.assign(record["category"], inputs).keys[0])
            card["measured"]["gold_v1"] = measure.score([r["themes"] for r in gold], predicted,
                                                        [r["category"] for r in gold], frame, version=1).summary()
            card["measured"]["gold_file"] = gold_path.name
        model.card = card
        assign.save(model, shipped_dir(settings))
        save_frame_vectors(settings, frame, encode, model=embedder.name)
        save_coded_vectors(settings, examples, encode, model=embedder.name)
        return card
    finally:
        if con is not None:
            con.close()
