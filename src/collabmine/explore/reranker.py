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
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import Errors, ModelError
from ..onnx_encoder import PooledEncoder, mean_pooled, onnx_pooled_encoder

RERANKER_VERSION = "1"   # bump when inputs or scoring change; a stale artefact is then refused
MODEL_FILE = "reranker.safetensors"
MANIFEST_FILE = "manifest.json"
#: Candidates of the hybrid ranking the cross-encoder reorders (one forward pass each: ~15–25 ms
#: apiece on this machine's two cores). Chosen on the judged questions not held out: 10, 20 and 40
#: gave the same precision within a hit or two; 10 keeps a query near the 300 ms budget.
RERANK_DEPTH = 10


def build_cross_encoder(*, pretrained: bool):
    """MiniLM reading a question and a sentence together (``encode_pairs``), mean pooling, one
    relevance logit; ``pretrained`` starts from the package's weights (training)."""
    import torch

    from ..minilm import minilm

    class CrossEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = minilm(pretrained)
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, batch: dict) -> tuple:
            pooled = mean_pooled(self.encoder, batch)
            return self.head(self.dropout(pooled)), pooled

    return CrossEncoder()


def encode_pairs(questions: list[str], texts: list[str]) -> dict:
    """Token tensors for (question, sentence) pairs read together; a pair longer than the
    tagger's ``MAX_LENGTH`` loses the end of its longer part first."""
    from ..minilm import tokenizer
    from ..tagging.model import MAX_LENGTH

    return tokenizer()(list(questions), list(texts), truncation="longest_first", max_length=MAX_LENGTH,
                       padding=True, return_tensors="pt")


def relevance_logits(network, questions: list[str], texts: list[str], *, batch: int = 32,
                     pooled: PooledEncoder | None = None) -> np.ndarray:
    """One relevance logit per (question, sentence) pair, in evaluation mode, batches of similar
    length (padding changes nothing but time: the mask keeps it out of the pooled vector), under
    the tagger's lock: one forward pass at a time in a process, whichever model. ``pooled``: the
    network's encoder run by ONNX Runtime (the same vectors, in less time)."""
    import torch

    from ..tagging.model import FORWARD_LOCK

    out = np.zeros(len(texts), np.float32)
    order = sorted(range(len(texts)), key=lambda i: (len(questions[i]) + len(texts[i]), i))
    network.eval()
    with FORWARD_LOCK, torch.inference_mode():
        for k in range(0, len(order), batch):
            part = order[k:k + batch]
            tokens = encode_pairs([questions[i] for i in part], [texts[i] for i in part])
            if pooled is not None:
                logits = network.head(torch.from_numpy(pooled(tokens)))
            else:
                logits, _ = network(tokens)
            out[part] = logits[:, 0].numpy()
    return out


#: (question, sentence) scores a loaded reranker keeps (the most recently used): a page reloaded,
#: paged or asked again by another analyst is reranked without a forward pass (~200 ms here).
SCORES_KEPT = 4096


@dataclass
class Reranker:
    network: object
    manifest: dict = field(default_factory=dict)
    #: The network's encoder run by ONNX Runtime, when it reproduces PyTorch's (``onnx_encoder``).
    pooled: PooledEncoder | None = None
    _scores: "OrderedDict[tuple[str, str], float]" = field(default_factory=OrderedDict, repr=False)
    _scores_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        """How surely each sentence answers ``question`` (a logit: higher is better). A pair
        scored before by this model is not scored again: the same question over the same
        sentences always gets the same scores (a pair's score moves by ~1e-6 with the pairs it
        is batched with)."""
        if not texts:
            return np.zeros(0, np.float32)
        texts = list(texts)
        known: dict[str, float | None] = {}
        with self._scores_lock:
            for text in texts:
                known[text] = self._scores.get((question, text))
                if known[text] is not None:
                    self._scores.move_to_end((question, text))   # used now: kept longest
        missing = [t for t, v in known.items() if v is None]
        if missing:
            fresh = relevance_logits(self.network, [question] * len(missing), missing, pooled=self.pooled)
            with self._scores_lock:
                for text, value in zip(missing, fresh.tolist()):
                    known[text] = value
                    self._scores[(question, text)] = value
                while len(self._scores) > SCORES_KEPT:
                    self._scores.popitem(last=False)
        return np.array([known[t] for t in texts], dtype=np.float32)

    def forget_scores(self) -> None:
        """Drop the kept scores (a benchmark timing a question asked for the first time)."""
        with self._scores_lock:
            self._scores.clear()


def save(network, manifest: dict, directory: Path) -> None:
    """Weights as float16 (half the size in git) and the model card, written to a temporary folder
    beside ``directory`` and moved in: a search loading the model meanwhile reads the old files or
    the new ones, never half of one."""
    import tempfile

    from ..tagging.model import write_weights

    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=f".{directory.name}-") as tmp:
        written = Path(tmp)
        write_weights(network, written / MODEL_FILE)
        (written / MANIFEST_FILE).write_text(
            json.dumps(dict(manifest, reranker_version=RERANKER_VERSION), indent=2, sort_keys=True) + "\n",
            encoding="utf-8")
        for name in (MODEL_FILE, MANIFEST_FILE):   # weights first: the manifest's stamp is read last
            (written / name).replace(directory / name)


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
    from ..tagging.model import read_weights

    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(Errors.E043.format(directory=directory, found=f"an unreadable card: {exc}"[:300],
                                            expected=RERANKER_VERSION)) from None
    found = manifest.get("reranker_version") if isinstance(manifest, dict) else None
    if found != RERANKER_VERSION:
        raise ModelError(Errors.E043.format(directory=directory, found=f"version {found}", expected=RERANKER_VERSION))
    network = build_cross_encoder(pretrained=False)
    problem = read_weights(network, directory / MODEL_FILE)
    if problem:
        raise ModelError(Errors.E043.format(directory=directory, found=f"damaged weights: {problem}",
                                            expected=RERANKER_VERSION))
    network.eval()
    import torch

    weights_hash = hashlib.sha256((directory / MODEL_FILE).read_bytes()).hexdigest()[:12]
    check = encode_pairs(["what helps schools work together?", "barriers"],
                         ["Trust between the headteachers took time to build.", ""])
    return Reranker(network, manifest, onnx_pooled_encoder(network.encoder, f"reranker-{weights_hash}",
                                                           threads=torch.get_num_threads(), check=check))


def default_reranker() -> Reranker | None:
    """The shipped reranker (``models/reranker`` of the settings), or None when there is none."""
    from ..settings import load_settings

    return load_reranker(load_settings().models_dir / "reranker")
