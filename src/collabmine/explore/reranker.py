"""Search's reranker: MiniLM fine-tuned as a cross-encoder that reads a question and a sentence
together and scores whether the sentence answers it (issue 34).

A bi-encoder (the search's embedding) compares two vectors made apart, so a sentence that only
names the question's topic sits as close as one that states a finding about it. A cross-encoder
attends across both texts at once; it is slower (one forward pass per pair), so it reorders only
the top ``RERANK_DEPTH`` of the hybrid ranking.

The trained model is an artefact under ``models/reranker`` (``collabmine train-reranker`` builds
it; ``reranker_train`` says from what). Without it, search keeps its hybrid order.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import Errors, ModelError

RERANKER_VERSION = "1"   # bump when inputs or scoring change; a stale artefact is then refused
MODEL_FILE = "reranker.safetensors"
MANIFEST_FILE = "manifest.json"
#: Tokens of (question, sentence) together; a sentence is rarely longer than ~60 tokens.
MAX_LENGTH = 128
#: Candidates of the hybrid ranking the cross-encoder reorders (one forward pass each: ~15–25 ms
#: apiece on this machine's two cores). Chosen on the judged questions not held out: 10, 20 and 40
#: gave the same precision within a hit or two; 10 keeps a query near the 300 ms budget.
RERANK_DEPTH = 10
_FORWARD_LOCK = threading.Lock()


def _encode(questions: list[str], texts: list[str]) -> dict:
    from ..tagging.model import tokenizer

    return tokenizer()(list(questions), list(texts), truncation="longest_first", max_length=MAX_LENGTH,
                       padding=True, return_tensors="pt")


def relevance_logits(network, questions: list[str], texts: list[str], *, batch: int = 32) -> np.ndarray:
    """One relevance logit per (question, sentence) pair, in evaluation mode, batches of similar
    length (padding changes nothing but time: the mask keeps it out of the pooled vector)."""
    import torch

    out = np.zeros(len(texts), np.float32)
    order = sorted(range(len(texts)), key=lambda i: (len(questions[i]) + len(texts[i]), i))
    network.eval()
    with _FORWARD_LOCK, torch.inference_mode():
        for k in range(0, len(order), batch):
            part = order[k:k + batch]
            logits, _ = network(_encode([questions[i] for i in part], [texts[i] for i in part]))
            out[part] = logits[:, 0].numpy()
    return out


@dataclass
class Reranker:
    network: object
    manifest: dict = field(default_factory=dict)

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        """How surely each sentence answers ``question`` (a logit: higher is better)."""
        if not texts:
            return np.zeros(0, np.float32)
        return relevance_logits(self.network, [question] * len(texts), list(texts))


def save(network, manifest: dict, directory: Path) -> None:
    """Weights as float16 (half the size in git) and the model card."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().numpy().astype(np.float16) for k, v in network.state_dict().items()
             if v.dtype.is_floating_point}
    save_file(state, str(directory / MODEL_FILE))
    (directory / MANIFEST_FILE).write_text(
        json.dumps(dict(manifest, reranker_version=RERANKER_VERSION), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_reranker(directory: Path) -> Reranker | None:
    """The trained reranker in ``directory`` (loaded once per process); None when there is none
    (search then keeps its hybrid order). A stale or damaged one is a coded error."""
    manifest_path, weights = directory / MANIFEST_FILE, directory / MODEL_FILE
    if not manifest_path.exists() or not weights.exists():
        return None
    stat = weights.stat()
    with _LOADING:
        return _load(directory, (stat.st_size, stat.st_mtime_ns, manifest_path.stat().st_mtime_ns))


_LOADING = threading.Lock()


@lru_cache(maxsize=2)
def _load(directory: Path, _stamp: tuple) -> Reranker:
    import torch
    from safetensors.numpy import load_file

    from ..tagging.model import build_network

    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    if manifest.get("reranker_version") != RERANKER_VERSION:
        raise ModelError(Errors.E043.format(directory=directory, found=manifest.get("reranker_version"),
                                            expected=RERANKER_VERSION))
    network = build_network(pretrained=False, outputs=1)
    state = {k: torch.from_numpy(v.astype(np.float32)) for k, v in load_file(str(directory / MODEL_FILE)).items()}
    missing, unexpected = network.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("position_ids") for k in missing):
        raise ModelError(Errors.E043.format(directory=directory, found="damaged weights", expected=RERANKER_VERSION))
    network.eval()
    return Reranker(network, manifest)


def default_reranker() -> Reranker | None:
    """The shipped reranker (``models/reranker`` of the settings), or None when there is none."""
    from ..settings import load_settings

    return load_reranker(load_settings().models_dir / "reranker")


def fingerprint(directory: Path) -> str:
    """A short hash of the artefact (shown in benchmarks beside the figures it produced)."""
    h = hashlib.sha256()
    for name in (MANIFEST_FILE, MODEL_FILE):
        path = directory / name
        h.update(path.read_bytes() if path.exists() else b"missing")
    return h.hexdigest()[:12]
