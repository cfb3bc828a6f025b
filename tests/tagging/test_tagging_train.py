"""Training on coded sentences with tiny models (one epoch on a few dozen real sentences): the
shipped artefact is trained by `collabmine train-tagger`, not by the suite."""

import json

import numpy as np
import pytest

from collabmine import store, tagging
from collabmine.explore import review
from collabmine.errors import DataError
from collabmine.tagging import data, train
from conftest import R001, R004, ROOT, copy_store

TINY = train.TrainConfig(epochs=1, batch_size=8)
CODED = ROOT / "models" / "tagger" / "coded" / "train.jsonl"


def _coded(per_report: int = 12) -> list[dict]:
    rows = [json.loads(line) for line in CODED.read_text(encoding="utf-8").splitlines()]
    return [r for source in (R001, R004) for r in [r for r in rows if r["source"] == source][:per_report]]


@pytest.fixture(scope="module")
def spans(ingested_store):
    con = store.connect(ingested_store.store_path, create=False)
    try:
        return data.taggable_spans(con)
    finally:
        con.close()


def test_fine_tuning_is_deterministic(spans):
    rows = [data.CodedRow(r["source"], r["start"], r["end"], frozenset(r["labels"]), "t") for r in _coded(6)]
    training = data.training_set(rows, spans)
    texts, contexts = [spans.texts[i] for i in training.index], [spans.contexts[i] for i in training.index]
    first = train.fit_network(texts, contexts, training.labels, config=TINY)
    second = train.fit_network(texts, contexts, training.labels, config=TINY)
    a, b = train.forward(first, texts, contexts)[0], train.forward(second, texts, contexts)[0]
    assert np.array_equal(a, b)


def test_held_out_report_never_reaches_its_own_model(spans):
    """Flip every label of one report: the predictions for that report, made by the model trained
    without it, do not change; the other report's (whose model saw the flipped labels) do."""
    rows = [data.CodedRow(r["source"], r["start"], r["end"], frozenset(r["labels"]), "t") for r in _coded(8)]
    flipped = [data.CodedRow(r.source, r.start, r.end,
                             frozenset(tagging.CATEGORIES) - r.labels if r.source == R004 else r.labels, "t")
               for r in rows]
    first = train.leave_one_report_out(spans, data.training_set(rows, spans), config=TINY)
    second = train.leave_one_report_out(spans, data.training_set(flipped, spans), config=TINY)
    files = np.array([spans.files[i] for i in data.training_set(rows, spans).index])
    assert first.reports == [R001, R004]
    assert np.array_equal(first.logits[files == R004], second.logits[files == R004])
    assert not np.array_equal(first.logits[files == R001], second.logits[files == R001])


def test_train_tagger_from_jsonl_and_csv_with_reviews(ingested_store, tmp_path, monkeypatch):
    monkeypatch.setenv("COLLABMINE_ONNX", "0")   # a model trained for one test: no graph to export
    settings = copy_store(ingested_store, tmp_path / "out")
    coded = _coded(6)
    jsonl, csv = tmp_path / "coded.jsonl", tmp_path / "coded.csv"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in coded[:6]) + json.dumps(
        {"source": R001, "start": 10_000_000, "end": 10_000_050, "labels": ["impact"]}) + "\n", encoding="utf-8")
    csv.write_text("source,start,end,labels\n" + "".join(f"{r['source']},{r['start']},{r['end']},{';'.join(r['labels'])}\n"
                                                          for r in coded[6:]), encoding="utf-8")
    # An analyst says the first coded sentence is a barrier and nothing else: that wins.
    assert coded[0]["labels"] != ["barrier"]
    con = store.connect(settings.store_path, create=False)
    spans = data.taggable_spans(con)
    first = data.match_rows([data.CodedRow(coded[0]["source"], coded[0]["start"], coded[0]["end"], frozenset(), "")],
                            spans)[0][0]
    span_id = spans.span_ids[first]
    review.label_sentence(con, span_id=span_id, categories={"barrier"}, reviewer="Ana")
    con.close()
    directory = tmp_path / "tagger"
    outcome = tagging.train_tagger(settings, [jsonl, csv], config=TINY, directory=directory)
    card = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert [f["name"] for f in card["training_data"]["files"]] == ["coded.jsonl", "coded.csv"]
    assert card["training_data"]["sentences"] == 12 and card["training_data"]["from_reviews"] == 1
    assert card["training_data"]["unmatched_rows"] == 1 and outcome.unmatched[0].origin == f"{jsonl}:7"
    assert "coded_each_report_held_out" in card["measured"]
    labels = dict(zip(outcome.training.index.tolist(), outcome.training.labels.tolist()))
    assert labels[first] == [0, 0, 0, 1]
    tagger = tagging.model.load(directory)
    assert set(tagger.thresholds) == set(tagging.CATEGORIES) and len(tagger.neighbours.texts) == 12


def test_training_without_matching_rows_says_why(ingested_store, tmp_path):
    path = tmp_path / "elsewhere.jsonl"
    path.write_text(json.dumps({"source": "not-in-corpus.txt", "start": 0, "end": 9, "labels": []}) + "\n")
    with pytest.raises(DataError, match="E052"):
        tagging.train_tagger(ingested_store, [path], config=TINY, directory=tmp_path / "tagger")
    with pytest.raises(DataError, match="E049"):
        tagging.train_tagger(ingested_store, [], config=TINY, directory=tmp_path / "tagger")


def test_training_twice_writes_the_same_bytes(ingested_store, tmp_path):
    """Retraining on the same data leaves the artefact byte-identical (git shows no change and no
    report is re-tagged)."""
    coded = tmp_path / "coded.jsonl"
    coded.write_text("".join(json.dumps(r) + "\n" for r in _coded(5)), encoding="utf-8")
    first, second = tmp_path / "a", tmp_path / "b"
    tagging.train_tagger(ingested_store, [coded], config=TINY, directory=first)
    tagging.train_tagger(ingested_store, [coded], config=TINY, directory=second)
    for name in tagging.model.ARTEFACT_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_retraining_with_float_noise_rewrites_nothing(tmp_path):
    """Fine-tuning on two threads is not bit-reproducible (~1e-7 apart); such a model is the same
    model: `save` keeps the artefact in place byte for byte (no git change, no re-tagging)."""
    import shutil

    import torch

    from collabmine.settings import PROJECT_ROOT

    directory = tmp_path / "tagger"
    shutil.copytree(PROJECT_ROOT / "models" / "tagger", directory, ignore=shutil.ignore_patterns("coded"))
    before = {n: (directory / n).read_bytes() for n in tagging.model.ARTEFACT_FILES}
    model = tagging.model.load(directory)
    with torch.no_grad():
        for tensor in model.network.state_dict().values():
            if tensor.dtype.is_floating_point:
                tensor.mul_(1 + 1e-7)
    assert tagging.model.save(model, directory) is False
    assert {n: (directory / n).read_bytes() for n in tagging.model.ARTEFACT_FILES} == before
    with torch.no_grad():
        next(t for t in model.network.state_dict().values() if t.dtype.is_floating_point).add_(0.05)
    assert tagging.model.save(model, directory) is True
    assert (directory / tagging.model.MODEL_FILE).read_bytes() != before[tagging.model.MODEL_FILE]


def test_damaged_tagger_weights_are_a_coded_error(tmp_path):
    """A Git LFS pointer (or a truncated file) where the weights should be: E048, saying how to
    rebuild or restore them — not a safetensors traceback."""
    import shutil

    from collabmine.errors import ModelError
    from collabmine.settings import PROJECT_ROOT
    from collabmine.tagging import model as tagger_model

    directory = tmp_path / "tagger"
    shutil.copytree(PROJECT_ROOT / "models" / "tagger", directory)
    (directory / tagger_model.MODEL_FILE).write_text("version https://git-lfs.github.com/spec/v1\n", encoding="utf-8")
    with pytest.raises(ModelError, match="E048.*unreadable.*train-tagger"):
        tagger_model.load(directory)
