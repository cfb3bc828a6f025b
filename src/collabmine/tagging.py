"""The tagging stage over the store: train the tagger, tag every argument span, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import store, tag
from .embed import default_embedder, embed_cached, embed_missing
from .errors import Errors, ModelError
from .evaluate import Report, best_span, evaluate, load_gold, predicted_labels
from .lexicon import CATEGORIES
from .settings import Settings


def tagger_dir(settings: Settings) -> Path:
    return settings.models_dir / "tagger"


def taggable_texts(con, *, doc_id: str | None = None) -> tuple[list, list[str], list[list[str]]]:
    """Taggable spans (of every report, or of ``doc_id``), their texts and section paths."""
    rows = store.taggable_spans(con, doc_id=doc_id)
    return rows, [r["text"] for r in rows], [json.loads(r["section_path"] or "[]") for r in rows]


def train_tagger(settings: Settings, *, gold_path: Path | None = None) -> tag.TaggerModel:
    """Train on weak labels from the corpus in the store; tune thresholds on ``gold_path`` if given."""
    con = store.connect(settings.store_path, create=False)
    try:
        rows, texts, paths = taggable_texts(con)
        embedder = default_embedder()
        vectors = embed_cached(texts, embedder=embedder, con=con)
        model = tag.train(texts, paths, vectors, example_vectors=embedder.encode(tag.example_texts()),
                          prototype_vectors=embedder.encode(tag.prototype_texts()), embedder_name=embedder.name)
        if gold_path is not None:
            gold = load_gold(gold_path)
            index = _gold_rows(con, rows, gold)
            gold_scores = _gold_scores(texts, paths, vectors, model, index, _heading_vectors(paths, con))
            model.thresholds = tag.tune_thresholds(gold_scores, _gold_matrix(gold))
            model.manifest["thresholds_tuned_on"] = {"file": gold_path.name, "sentences": len(gold)}
    finally:
        con.close()
    if gold_path is not None:
        # The model card says how well it does: in-sample (its thresholds were tuned on this gold)
        # and with each report held out (the estimate for a report it has not seen).
        labels = tag.above_thresholds(gold_scores, model.thresholds)
        in_sample = evaluate(gold, {item.id: (pred, True) for item, pred in zip(gold, labels)}, bootstrap=0)
        measured = {"gold": gold_path.name, "macro_f1": in_sample.macro_f1,
                    "f1": {c: v["f1"] for c, v in in_sample.per_category.items()}}
        try:
            held_out = evaluate_held_out(settings, gold_path, model=model)
            measured |= {"macro_f1_each_report_held_out": held_out.macro_f1,
                         "f1_each_report_held_out": {c: v["f1"] for c, v in held_out.per_category.items()}}
        except ModelError:  # gold from a single report: nothing to hold out
            pass
        model.manifest["measured"] = measured
    tag.save(model, tagger_dir(settings))
    return model


def _heading_vectors(paths: list[list[str]], con=None) -> dict:
    """Each heading's embedding (cached in the store like the sentences', when ``con`` is given)."""
    return tag.heading_vector_map(paths, lambda headings: embed_cached(headings, con=con))


def _gold_rows(con, rows, gold: list) -> list[int | None]:
    """For each gold sentence, the index in ``rows`` of the taggable span overlapping it most (None
    where no taggable span does)."""
    names = {r["doc_id"]: Path(r["path"]).name for r in store.documents(con) if r["status"] == "ok"}
    by_file: dict[str, list[dict]] = {}
    for i, row in enumerate(rows):
        by_file.setdefault(names[row["doc_id"]], []).append({"start": row["start"], "end": row["end"], "row": i})
    return [best["row"] if (best := best_span(item, by_file.get(item.source, []))) is not None else None
            for item in gold]


def _gold_scores(texts: list[str], paths: list[list[str]], vectors: np.ndarray, model: tag.TaggerModel,
                 index: list[int | None], headings: dict) -> np.ndarray:
    """Each gold sentence's scores: those of its span in ``index`` (zeros where none). Only those
    spans are scored — a span's scores do not depend on the others."""
    rows = sorted({i for i in index if i is not None})
    scores = tag.raw_scores([texts[i] for i in rows], [paths[i] for i in rows], vectors[rows], model,
                            heading_vectors=headings)
    at = {i: scores[k] for k, i in enumerate(rows)}
    out = np.zeros((len(index), len(CATEGORIES)))
    for k, i in enumerate(index):
        if i is not None:
            out[k] = at[i]
    return out


def _gold_matrix(gold: list) -> np.ndarray:
    return np.array([[int(c in item.labels) for c in CATEGORIES] for item in gold]).reshape(len(gold), len(CATEGORIES))


def evaluate_held_out(settings: Settings, gold_path: Path, *, model: tag.TaggerModel | None = None) -> Report:
    """Leave-one-report-out estimate of how the tagger does on a report it has not seen: for each
    report with gold sentences, the classifier is retrained on the weak labels of the *other*
    reports and the thresholds are tuned on the other reports' gold sentences, then that report's
    sentences are tagged. The codebook examples and heading prototypes are those of ``model`` (by
    default the committed tagger; they are written from the codebook, not from any report). Reads
    the store's embedding cache; the store is not changed."""
    model = model or load_tagger(settings)
    con = store.connect(settings.store_path, create=False)
    try:
        gold = load_gold(gold_path)
        rows, texts, paths = taggable_texts(con)
        vectors = embed_cached(texts, con=con)
        headings = _heading_vectors(paths, con)
        names = {Path(r["path"]).name: r["doc_id"] for r in store.documents(con) if r["status"] == "ok"}
        docs = np.array([r["doc_id"] for r in rows], dtype=object)
        # Matched as in ``evaluate_store``: to any span, excluded ones (which carry no tags) too.
        all_spans = {name: [dict(r) for r in con.execute('SELECT start, "end" FROM spans WHERE doc_id=?', (doc_id,))]
                     for name, doc_id in names.items()}
        matched = [best_span(item, all_spans.get(item.source, [])) is not None for item in gold]
        index = _gold_rows(con, rows, gold)
        sources = sorted({item.source for item in gold} & set(names))
        if len(sources) < 2:  # with one report there is nothing to tune its thresholds on
            raise ModelError(Errors.E044.format(gold=gold_path, found=", ".join(sources) or "none"))
        fold_scores = {}
        for source in sources:
            keep = docs != names[source]
            fold = tag.train([t for t, k in zip(texts, keep) if k], [p for p, k in zip(paths, keep) if k],
                             vectors[keep], example_vectors=model.examples,
                             prototype_vectors=model.heading_prototypes, embedder_name=model.manifest.get("embedder", ""))
            fold_scores[source] = _gold_scores(texts, paths, vectors, fold, index, headings)
    finally:
        con.close()
    labels = tag.held_out_labels(fold_scores, _gold_matrix(gold), [item.source for item in gold])
    return evaluate(gold, {item.id: (pred, hit) for item, pred, hit in zip(gold, labels, matched)})


def embed_report(settings: Settings, doc_id: str) -> int:
    """Embed one report's taggable sentences and section headings (cached by text hash); returns
    how many were new."""
    con = store.connect(settings.store_path, create=False)
    try:
        _, texts, paths = taggable_texts(con, doc_id=doc_id)
        return embed_missing(texts + tag.headings_to_embed(paths), con=con)
    finally:
        con.close()


def report_tags(settings: Settings, doc_id: str, *, model: tag.TaggerModel | None = None) -> list[tuple]:
    """Tag rows (span_id, category, score, method, explanation) for one report's spans."""
    model = model or load_tagger(settings)
    con = store.connect(settings.store_path, create=False)
    try:
        rows, texts, paths = taggable_texts(con, doc_id=doc_id)
        vectors = embed_cached(texts, con=con)
        headings = _heading_vectors(paths, con)
    finally:
        con.close()
    results = tag.score_spans(texts, paths, vectors, model, heading_vectors=headings)
    return [(row["span_id"], t.category, t.score, t.method, t.explanation) for row, tags in zip(rows, results) for t in tags]


def load_tagger(settings: Settings) -> tag.TaggerModel:
    return tag.load(tagger_dir(settings))


def tag_store(settings: Settings, *, model: tag.TaggerModel | None = None) -> int:
    """Tag every report in the store (replacing all tags); returns the number of tags written."""
    model = model or load_tagger(settings)
    con = store.connect(settings.store_path, create=False)
    try:
        doc_ids = sorted({r["doc_id"] for r in store.documents(con) if r["status"] == "ok"})
        tag_rows = [row for doc_id in doc_ids for row in report_tags(settings, doc_id, model=model)]
        store.write_tags(con, tag_rows)
        return len(tag_rows)
    finally:
        con.close()


def tag_text(text: str, *, heading: str | None, settings: Settings) -> list[tag.Tag]:
    """Tag one piece of text (the `collabmine tag` command); threshold-free tags are not shown."""
    model = load_tagger(settings)
    paths = [[heading] if heading else []]
    return tag.score_spans([text], paths, embed_cached([text]), model, heading_vectors=_heading_vectors(paths))[0]


def evaluate_store(settings: Settings, gold_path: Path) -> Report:
    """Per-category P/R/F1 of the stored tags against a gold file (matched by raw-offset overlap)."""
    con = store.connect(settings.store_path, create=False)
    try:
        gold = load_gold(gold_path)
        docs = {Path(r["path"]).name: r["doc_id"] for r in store.documents(con) if r["status"] == "ok"}
        labels: dict[str, set[str]] = {}
        for span_id, category in con.execute("SELECT span_id, category FROM tags"):
            labels.setdefault(span_id, set()).add(category)
        predictions: dict[str, tuple[set[str], bool]] = {}
        cache: dict[str, list[dict]] = {}
        for item in gold:
            doc_id = docs.get(item.source)
            if doc_id is None:
                predictions[item.id] = (set(), False)
                continue
            if doc_id not in cache:
                cache[doc_id] = [{"start": r["start"], "end": r["end"], "labels": labels.get(r["span_id"], set())}
                                 for r in con.execute('SELECT span_id, start, "end" FROM spans WHERE doc_id=?', (doc_id,))]
            predictions[item.id] = predicted_labels(item, cache[doc_id])
        return evaluate(gold, predictions)
    finally:
        con.close()
