"""The embedding cache: vectors come back in the texts' order (repeats included), only missing
texts reach the model, and a text with no cached vector is an error, never a zero row."""

import subprocess
import sys

import numpy as np
import pytest

from collabmine import embed, runtime, store
from collabmine.embed import _read_vectors, embed_cached, text_hash
from collabmine.errors import RunStopped


class CountingEmbedder:
    name = "counting-test"

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen += texts
        return np.array([[len(t), t.count("a"), 1.0] + [0.0] * 381 for t in texts], dtype=np.float32)


def test_cached_vectors_in_order_and_only_missing_texts_encoded(tmp_path):
    con = store.connect(tmp_path / "collabmine.sqlite")
    embedder = CountingEmbedder()
    first = embed_cached(["alpha", "beta", "alpha"], embedder=embedder, con=con)
    assert embedder.seen == ["alpha", "beta"]
    again = embed_cached(["beta", "gamma", "alpha", "beta"], embedder=embedder, con=con)
    assert embedder.seen == ["alpha", "beta", "gamma"]
    assert first.dtype == np.float32 and again.shape == (4, 384)
    assert np.array_equal(again[[0, 2, 3]], first[[1, 0, 1]])
    assert again[1, 0] == len("gamma")
    with pytest.raises(KeyError, match="1 texts have no cached vector"):
        _read_vectors(con, [text_hash("alpha"), text_hash("never embedded")], embedder.name)
    con.close()


def test_a_run_that_is_ending_stops_embedding_after_the_committed_chunk(tmp_path, monkeypatch):
    """When the run is ending (a signal, a failed stage) embedding stops at its next chunk with
    E062, keeping what it committed: the process need not wait for the rest of a large report."""
    monkeypatch.setattr(embed, "COMMIT_EVERY", 2)
    con = store.connect(tmp_path / "collabmine.sqlite")

    class StoppingEmbedder(CountingEmbedder):
        def encode(self, texts):
            runtime.request_stop("run-embed-test")      # as the run's main thread does when interrupted
            return super().encode(texts)

    embedder = StoppingEmbedder()
    with runtime.working_for("run-embed-test"), pytest.raises(RunStopped, match="E062"):
        embed_cached(["a", "b", "c", "d", "e"], embedder=embedder, con=con)
    assert embedder.seen == ["a", "b"]
    assert con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 2
    # Work for no run (a query, another test) or for another run is not stopped by that run's end.
    after = CountingEmbedder()                # the next run: only what was not committed
    assert len(embed_cached(["a", "b", "c", "d", "e"], embedder=after, con=con)) == 5
    assert after.seen == ["c", "d", "e"]
    con.close()


TEXTS = ["Schools shared staff.",
         "The federation had one governing body and an executive headteacher across its three sites.",
         "Heads reported that joint training days for teachers from both phases had improved transition "
         "planning, although the time needed to arrange cover remained a difficulty in the smaller schools.",
         "Trust."]


def test_a_texts_vector_is_the_same_alone_in_another_batch_or_order(embedder):
    """The canonical batches (see MiniLMEmbedder._encode_canonical), under the backend in use: a
    report embedded alone gets bit for bit the vectors it gets with the corpus."""
    together = embedder.encode(TEXTS)
    assert np.array_equal(embedder.encode(TEXTS[::-1])[::-1], together)
    assert all(np.array_equal(embedder.encode([t])[0], v) for t, v in zip(TEXTS, together))
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)


def test_onnx_runtime_gives_pytorchs_vectors_under_its_own_cache_key(embedder, monkeypatch):
    assert embedder.name == embed.ONNX_MODEL_NAME == embed.model_name() and embedder._onnx is not None
    monkeypatch.setenv("COLLABMINE_ONNX", "0")
    assert not embed.onnx_wanted()
    plain = embed.MiniLMEmbedder()
    assert plain.name == embed.MODEL_NAME and plain._onnx is None
    onnx_vectors, torch_vectors = embedder.encode(TEXTS), plain.encode(TEXTS)
    assert np.abs(onnx_vectors - torch_vectors).max() < 1e-6 and not np.array_equal(onnx_vectors, torch_vectors)
    # Both are the published model's vectors: sentence-transformers' own encode gives them too,
    # and for PyTorch's key bit for bit (a question is encoded at its own length, as encode does).
    published = plain.model.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)
    assert np.abs(published - torch_vectors).max() < 1e-6
    assert all(np.array_equal(plain.encode_question(t), plain.model.encode([t], normalize_embeddings=True,
                                                                         show_progress_bar=False)[0]) for t in TEXTS)
    # A search question is encoded at its own length (no canonical padding): the same vector up to noise.
    question = embed.question_vector(embedder, TEXTS[2])
    assert np.abs(question - onnx_vectors[2]).max() < 1e-6
    assert np.abs(question - embed.question_vector(plain, TEXTS[2])).max() < 1e-6


def test_embedding_does_not_import_sentence_transformers():
    """A process that embeds (a run's embed stage, a search) builds MiniLM on transformers alone:
    importing sentence-transformers costs ~10 s here, and only BERTopic's labels need it."""
    probe = ("import sys; from collabmine.embed import default_embedder, question_vector; e = default_embedder(); "
             "e.encode(['Schools shared staff.']); question_vector(e, 'shared staff?'); "
             "print('sentence_transformers' in sys.modules, e.name)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", embed.ONNX_MODEL_NAME]


def test_a_graph_that_fails_its_check_leaves_pytorch_under_its_own_key(monkeypatch):
    """ONNX Runtime wanted but its graph unusable: the vectors are PyTorch's, and so is the key."""
    monkeypatch.setattr(embed, "onnx_pooled_encoder", lambda *a, **k: None)
    fallen = embed.MiniLMEmbedder()
    assert embed.onnx_wanted() and fallen.name == embed.MODEL_NAME and fallen._onnx is None
