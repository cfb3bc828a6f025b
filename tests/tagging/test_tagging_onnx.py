"""Models under ONNX Runtime: the same vectors, tags and relevance scores as PyTorch's, a graph
exported once and reused, and PyTorch whenever ONNX Runtime cannot stand in for it."""

import copy
import sys

import numpy as np
import pytest

from collabmine.explore import reranker
from collabmine import onnx_encoder
from collabmine.tagging import model as model_lib
from collabmine.tagging.data import Context, read_coded
from conftest import GOLD, ROOT


@pytest.fixture(scope="module")
def tagger():
    return model_lib.load(ROOT / "models" / "tagger")


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """A cache folder the tests of this module share (one export of the shipped tagger)."""
    return tmp_path_factory.mktemp("onnx")


def _gold_sentences(n: int) -> tuple[list[str], list[Context]]:
    """The first ``n`` dev-gold sentences, each read after the one before it, under one heading."""
    texts = [row.text for row in read_coded(GOLD)[:n]]
    return texts, [Context("Findings", previous) for previous in ["", *texts[:-1]]]


def test_the_shipped_models_run_under_onnx_runtime(tagger):
    assert tagger.text_encoder is not None
    assert reranker.load_reranker(ROOT / "models" / "reranker").pooled is not None


def test_onnx_runtime_gives_pytorchs_vectors_and_tags(tagger, graphs, monkeypatch):
    monkeypatch.setenv(onnx_encoder.CACHE_VARIABLE, str(graphs))
    encode = model_lib.onnx_text_encoder(tagger.network, "test", threads=2)
    assert encode is not None and (graphs / "tagger-test.onnx").is_file()
    texts, contexts = _gold_sentences(60)
    by_torch, torch_vectors = model_lib.forward(tagger.network, texts, contexts)
    by_onnx, onnx_vectors = model_lib.forward(tagger.network, texts, contexts, encode=encode)
    assert np.abs(by_torch - by_onnx).max() < 1e-4 and np.abs(torch_vectors - onnx_vectors).max() < 1e-4
    thresholds = tagger.row_thresholds([None] * len(texts))
    decided = [model_lib.calibrate(z, tagger.temperatures) >= thresholds for z in (by_torch, by_onnx)]
    assert (decided[0] == decided[1]).all() and decided[0].any()


def test_the_reranker_scores_the_same_under_onnx_runtime():
    model = reranker.load_reranker(ROOT / "models" / "reranker")
    texts, _ = _gold_sentences(12)
    question = ["what gets in the way of schools working together?"] * len(texts)
    by_torch = reranker.relevance_logits(model.network, question, texts)
    by_onnx = reranker.relevance_logits(model.network, question, texts, pooled=model.pooled)
    assert np.abs(by_torch - by_onnx).max() < 1e-4 and by_torch.std() > 0.1


def test_the_exported_graph_is_reused(tagger, graphs, monkeypatch):
    monkeypatch.setenv(onnx_encoder.CACHE_VARIABLE, str(graphs))
    assert model_lib.onnx_text_encoder(tagger.network, "test", threads=2) is not None

    def no_export(*_):
        raise AssertionError("exported twice")

    monkeypatch.setattr(onnx_encoder, "_export", no_export)
    assert model_lib.onnx_text_encoder(tagger.network, "test", threads=2) is not None


def test_a_graph_that_does_not_reproduce_pytorch_is_exported_again_or_not_used(tagger, tmp_path, monkeypatch):
    """A graph left in the cache under the model's name by other weights (a mistaken or damaged
    file) encodes differently: it is exported again; a graph that still differs is not used."""
    import torch

    monkeypatch.setenv(onnx_encoder.CACHE_VARIABLE, str(tmp_path))
    other = copy.deepcopy(tagger.network)
    with torch.no_grad():
        other.encoder.embeddings.word_embeddings.weight.mul_(1.01)
    assert model_lib.onnx_text_encoder(other, "same-name", threads=2) is not None
    assert model_lib.onnx_text_encoder(tagger.network, "same-name", threads=2) is not None   # re-exported
    texts, contexts = _gold_sentences(5)
    by_torch, _ = model_lib.forward(tagger.network, texts, contexts)
    by_onnx, _ = model_lib.forward(tagger.network, texts, contexts,
                                   encode=model_lib.onnx_text_encoder(tagger.network, "same-name", threads=2))
    assert np.abs(by_torch - by_onnx).max() < 1e-4

    real_export = onnx_encoder._export

    def export_other_weights(encoder, path, check):
        real_export(other.encoder, path, check)

    (tmp_path / "tagger-same-name.onnx").unlink()
    monkeypatch.setattr(onnx_encoder, "_export", export_other_weights)
    assert model_lib.onnx_text_encoder(tagger.network, "same-name", threads=2) is None


def test_a_batch_onnx_runtime_fails_on_is_computed_by_pytorch(tagger, graphs, monkeypatch):
    monkeypatch.setenv(onnx_encoder.CACHE_VARIABLE, str(graphs))
    encode = model_lib.onnx_text_encoder(tagger.network, "test", threads=2)
    texts, contexts = _gold_sentences(8)
    expected, _ = model_lib.forward(tagger.network, texts, contexts)

    def broken(self, *_args, **_kwargs):
        raise RuntimeError("simulated ONNX Runtime failure")

    monkeypatch.setattr("onnxruntime.InferenceSession.run", broken)
    got, _ = model_lib.forward(tagger.network, texts, contexts, encode=encode)
    assert np.abs(got - expected).max() < 1e-6


def test_pytorch_computes_without_onnx_runtime(tagger, tmp_path, monkeypatch):
    monkeypatch.setenv(onnx_encoder.CACHE_VARIABLE, str(tmp_path))
    monkeypatch.setenv(onnx_encoder.SWITCH_VARIABLE, "0")
    assert model_lib.onnx_text_encoder(tagger.network, "off", threads=2) is None
    monkeypatch.delenv(onnx_encoder.SWITCH_VARIABLE)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # not installed
    monkeypatch.setattr(onnx_encoder.importlib.util, "find_spec", lambda name: None)
    assert not onnx_encoder.wanted()
    assert model_lib.onnx_text_encoder(tagger.network, "off", threads=2) is None
    assert not list(tmp_path.iterdir())
