"""MiniLM's forward pass run by ONNX Runtime instead of PyTorch: the same weights and the same
arithmetic in fused kernels — mean-pooled vectors within ~1e-6 of PyTorch's — in less time on a
CPU. Used for the tagger's encoder and search's reranker.

A graph is exported from the loaded network once per model (named by its hash) into a cache
folder, and later processes load it from there. A graph that does not reproduce PyTorch's vectors
on a check batch of another shape than it was traced with is exported again once, then left
unused with a warning; without ``onnxruntime`` installed, or with ``COLLABMINE_ONNX=0``, PyTorch
computes (the same results, more slowly).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

#: Vectors of the check batch may differ from PyTorch's by float noise only (measured: ~2e-6).
CHECK_TOLERANCE = 2e-5
#: Graphs kept per kind (``tagger``, ``reranker``), the most recently used: a retrained model's
#: graph replaces the one unused longest.
KEPT_PER_KIND = 3
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: Where graphs are kept (default: the user's cache folder, ``~/.cache/collabmine``).
CACHE_VARIABLE = "COLLABMINE_ONNX_CACHE"
#: ``0`` keeps PyTorch.
SWITCH_VARIABLE = "COLLABMINE_ONNX"

#: Token tensors (a tokenizer's output, PyTorch or numpy) → mean-pooled vectors (n, 384) as numpy.
PooledEncoder = Callable[[dict], np.ndarray]

log = logging.getLogger("collabmine")
#: One export or session load at a time in a process: torch's exporter keeps module-level state,
#: and the web app loads the reranker on a thread while a request may load the tagger.
_EXPORTING = threading.Lock()


def cache_dir() -> Path:
    explicit = os.environ.get(CACHE_VARIABLE)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "collabmine"


def wanted() -> bool:
    """Whether models should run under ONNX Runtime here (switched on, and installed). Part of the
    tag cache key: tags written by one backend are not taken for the other's."""
    return os.environ.get(SWITCH_VARIABLE, "1") != "0" and importlib.util.find_spec("onnxruntime") is not None


def mean_pooled(encoder, batch: dict):
    """PyTorch's computation: the encoder's last hidden states averaged over the real tokens."""
    hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     token_type_ids=batch.get("token_type_ids")).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1)


def onnx_pooled_encoder(encoder, name: str, *, threads: int, check: dict) -> PooledEncoder | None:
    """``mean_pooled(encoder, ·)`` under ONNX Runtime (graph ``<name>.onnx`` in the cache folder,
    exported if missing), giving numpy; None where ONNX Runtime is not wanted or
    cannot reproduce PyTorch's vectors on ``check`` (token tensors, PyTorch, ≥ 2 rows)."""
    if not wanted():
        return None
    import torch

    with torch.inference_mode():
        expected = mean_pooled(encoder, check).numpy()
    path = cache_dir() / f"{name}.onnx"
    with _EXPORTING:
        for attempt in ("cached", "exported"):
            try:
                if attempt == "exported" or not path.exists():
                    _export(encoder, path, check)
                    attempt = "exported"
                session = _session(path, threads)
                agrees = np.allclose(_run(session, check), expected,
                                     rtol=0, atol=CHECK_TOLERANCE)
            except Exception as exc:  # noqa: BLE001 - an unwritable cache, a failed export, a damaged graph
                agrees, problem = False, f"{type(exc).__name__}: {exc}"[:200]
            else:
                problem = "its vectors differ from PyTorch's"
            if agrees:
                _touch_and_prune(path)
                return _with_fallback(session, encoder, name)
            if attempt == "exported":
                break
    log.warning("ONNX Runtime is not used for %s (%s); PyTorch computes the same results more slowly. "
                "Delete %s to export it again, or set %s=0.", name, problem, path, SWITCH_VARIABLE)
    return None


def _session(path: Path, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3
    if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
        # As torch's threads are told to: an idle thread sleeps instead of spinning on a core
        # another process needs (the test suite runs two things at once on two cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session, batch: dict) -> np.ndarray:
    ids = np.asarray(batch["input_ids"], dtype=np.int64)
    types = batch.get("token_type_ids")
    return session.run(None, {"input_ids": ids, "attention_mask": np.asarray(batch["attention_mask"], dtype=np.int64),
                              "token_type_ids": np.zeros_like(ids) if types is None else np.asarray(types, np.int64)})[0]


def _with_fallback(session, encoder, name: str) -> PooledEncoder:
    """The session's encode; a batch it fails on is computed by PyTorch (said once)."""
    failed: list[str] = []

    def encode(batch: dict) -> np.ndarray:
        try:
            return _run(session, batch)
        except Exception as exc:  # noqa: BLE001 - never lose a batch to the faster path
            if not failed:
                failed.append(str(exc))
                log.warning("ONNX Runtime failed on a batch for %s (%s); PyTorch computes it.", name, str(exc)[:200])
            import torch

            with torch.inference_mode():
                return mean_pooled(encoder, {k: torch.as_tensor(np.asarray(v)) for k, v in batch.items()}).numpy()

    return encode


def _export(encoder, path: Path, check: dict) -> None:
    """The encoder and its mean pooling as an ONNX graph with dynamic batch and length, traced on
    one row of ``check`` cut to 8 tokens (so that checking on all of it tests other shapes),
    written to a temporary file and moved into place (another process may be exporting too)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            return mean_pooled(self.encoder, {"input_ids": input_ids, "attention_mask": attention_mask,
                                              "token_type_ids": token_type_ids})

    ids = check["input_ids"][:1, :8]
    types = check.get("token_type_ids")
    example = (ids, check["attention_mask"][:1, :8], torch.zeros_like(ids) if types is None else types[:1, :8])
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        written = Path(tmp) / path.name
        # The tracer warns about Python branches on shapes in transformers' code; a graph that
        # computes otherwise on other shapes fails the check and is not used.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Pooled().eval(), example, str(written), input_names=list(INPUTS),
                              output_names=["vectors"],
                              dynamic_axes={**{k: {0: "batch", 1: "tokens"} for k in INPUTS}, "vectors": {0: "batch"}},
                              opset_version=17, dynamo=False)
        written.replace(path)


def _touch_and_prune(path: Path) -> None:
    """Mark ``path`` as just used, and delete the kind's graphs beyond the ``KEPT_PER_KIND`` most
    recently used (a process using one has it in memory already)."""
    try:
        os.utime(path)
        kind = path.stem.rsplit("-", 1)[0]
        used = []
        for graph in path.parent.glob(f"{kind}-*.onnx"):
            try:
                used.append((graph.stat().st_mtime_ns, graph))
            except FileNotFoundError:
                continue
        for _, stale in sorted(used, reverse=True)[KEPT_PER_KIND:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache still serves
