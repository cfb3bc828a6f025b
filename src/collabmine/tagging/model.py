"""How a sentence gets its categories: all-MiniLM-L6-v2 fine-tuned end to end as a multi-label
classifier that reads the sentence with its context — the section heading and the previous
sentence, as the codebook tells coders to read a span. Each of the three is encoded alone and the
classifier reads their vectors side by side, so a report's every sentence is encoded once (it is
also the next sentence's context).

A category's score is a calibrated probability: the classifier's logit divided by a per-category
temperature fitted on predictions for reports the model had not seen (leave-one-report-out over
the coded data). A category is tagged when its probability reaches its threshold. Each tag is
explained by the coded training sentences nearest to the sentence in the model's own
representation that carry the category, with their citations.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from ..categories import CATEGORIES
from ..errors import Errors, ModelError
from .data import Context
from ..minilm import minilm, tokenizer
from ..onnx_encoder import mean_pooled, onnx_pooled_encoder

TAGGER_VERSION = "7"  # bump when inputs or scoring change; a stale artefact is then refused
MODEL_FILE = "tagger.safetensors"
NEIGHBOURS_FILE = "neighbours.safetensors"
NEIGHBOUR_TEXTS_FILE = "neighbours.jsonl"
MANIFEST_FILE = "manifest.json"
#: Tokens of a text the tagger reads (and of a pair search's reranker reads).
MAX_LENGTH = 128
#: Texts per forward pass at tagging time (sorted by length first: little padding).
INFERENCE_BATCH = 32
#: Training sentences named in a tag's explanation.
NEIGHBOURS_SHOWN = 2
#: The threshold for sentences of reports the model was trained on: the classifier's own decision
#: boundary (calibration never moves it). The F1-best thresholds on leave-one-report-out
#: predictions suit a report the model has never seen; on sentences of its training reports they
#: over-tag. Measured on the coded data alone (``bench/threshold_rule.py``: sentence-level 4-fold
#: CV, same reports, unseen sentences): macro-F1 0.697 at 0.5 against 0.692 at the report-level
#: thresholds, 73% of sentences tagged against 87% (the coded data: 76%).
SEEN_REPORT_THRESHOLD = 0.5
#: One forward pass at a time in a process, for the tagger and search's reranker alike: per-report
#: tasks run on threads, the web app serves searches on threads, and torch already uses every core.
FORWARD_LOCK = threading.Lock()


def _torch():
    import torch

    return torch


def build_tagger_network(*, pretrained: bool):
    """The tagger: MiniLM reads each text alone — the sentence, the sentence before it, the
    section heading — and one linear layer reads the three mean-pooled vectors side by side and
    gives a logit per category. Each distinct text of a report is encoded once (a sentence is
    the next one's context): about half the tokens of reading (context, sentence) pairs."""
    torch = _torch()

    class SentenceInContext(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = minilm(pretrained)
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size * len(CONTEXT_ROLES), len(CATEGORIES))

        def encode(self, texts: list[str]):
            return mean_pooled(self.encoder, encode_texts(texts))

        def classify(self, fused):
            return self.head(self.dropout(fused))

    return SentenceInContext()


#: What the tagger reads of a span, in the order its head reads their vectors.
CONTEXT_ROLES = ("sentence", "previous", "heading")


def roles_of(texts: list[str], contexts: list[Context]) -> tuple[list[str], list[str], list[str]]:
    """The texts of each of ``CONTEXT_ROLES`` for these spans, in that order."""
    return list(texts), [c.previous for c in contexts], [c.heading for c in contexts]


def encode_texts(texts: list[str]) -> dict:
    """Token tensors for texts read alone (truncated to ``MAX_LENGTH``)."""
    return tokenizer()(list(texts), truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="pt")


#: Texts a loaded tagger's ONNX graph must encode as PyTorch does before it is used (a long one,
#: an empty one: an absent previous sentence is read as "").
CHECK_TEXTS = ("Trust between the headteachers took time to build.", "", "Issues and challenges",
               "Schools shared a business manager, which freed the heads' time for teaching and learning and, in "
               "two of the federations, for joint planning across the primary and secondary phases.")


def onnx_text_encoder(network, name: str, *, threads: int) -> Callable[[list[str]], np.ndarray] | None:
    """The tagger network's ``encode`` run by ONNX Runtime (``onnx_encoder``; graph ``tagger-<name>``),
    or None where it cannot stand in for PyTorch."""
    pooled = onnx_pooled_encoder(network.encoder, f"tagger-{name}", threads=threads,
                                 check=encode_texts(list(CHECK_TEXTS)))
    if pooled is None:
        return None
    return lambda texts: pooled(encode_texts(texts))


@dataclass
class Neighbours:
    """The coded training sentences in the model's representation, to explain a tag by example."""
    vectors: np.ndarray          # (n, dim), unit length
    labels: np.ndarray           # (n, 4) in {0, 1}
    texts: list[str]
    citations: list[str]

    def nearest(self, vector: np.ndarray, k: int, *, count: int = NEIGHBOURS_SHOWN,
                exclude: str = "", report: str = "") -> list[tuple[str, str, float]]:
        """The ``count`` training sentences coded with category ``k`` nearest to ``vector`` —
        never ``exclude`` (the sentence being explained: a coded sentence's nearest is itself)
        nor the same wording twice; another report's than ``report`` (the explained sentence's
        citation) where there are enough, so an example is evidence from elsewhere, best first."""
        members = np.flatnonzero(self.labels[:, k] == 1)
        if not len(members):
            return []
        sims = self.vectors[members] @ (vector / (np.linalg.norm(vector) or 1.0))
        seen = {_wording(exclude)} if exclude else set()
        own = report_of(report) if report else None
        elsewhere, same = [], []
        for j in np.argsort(-sims, kind="stable"):
            wording = _wording(self.texts[members[j]])
            if wording in seen:
                continue
            seen.add(wording)
            found = (self.texts[members[j]], self.citations[members[j]], float(sims[j]))
            (same if own is not None and report_of(found[1]) == own else elsewhere).append(found)
            if len(elsewhere) == count:
                break
        return sorted(elsewhere + same[:count - len(elsewhere)], key=lambda n: -n[2])


_REPORT = re.compile(r"^(.*?\((?:\d{4}[a-z]?|n\.d\.(?:-[a-z])?)\))")


def report_of(citation: str) -> str:
    """The report part of a sentence's citation ("Rudd et al. (2004), §7.1 …" → "Rudd et al. (2004)")."""
    m = _REPORT.match(citation)
    return m.group(1) if m else citation


def _wording(text: str) -> str:
    """A sentence's words, case and spacing aside: two copies of one sentence compare equal."""
    return " ".join(text.casefold().split())


@dataclass
class Prediction:
    logits: np.ndarray           # (n, 4)
    probabilities: np.ndarray    # (n, 4), calibrated
    vectors: np.ndarray          # (n, 384): each sentence's own encoding (explanations compare these)


@dataclass
class TaggerModel:
    network: object
    temperatures: np.ndarray = field(default_factory=lambda: np.ones(len(CATEGORIES)))
    thresholds: dict[str, float] = field(default_factory=lambda: {c: 0.5 for c in CATEGORIES})
    neighbours: Neighbours | None = None
    manifest: dict = field(default_factory=dict)
    #: sha256 of the reports whose coded sentences trained the model (their other sentences get
    #: ``SEEN_REPORT_THRESHOLD``; every other report gets ``thresholds``).
    training_reports: frozenset[str] = frozenset()
    #: The network's encoder run by ONNX Runtime (``onnx_encoder``), when it reproduces PyTorch's.
    text_encoder: Callable[[list[str]], np.ndarray] | None = None

    def predict(self, texts: list[str], contexts: list[Context]) -> Prediction:
        logits, vectors = forward(self.network, texts, contexts, encode=self.text_encoder)
        return Prediction(logits, calibrate(logits, self.temperatures), vectors)

    def thresholds_for(self, doc_id: str | None) -> np.ndarray:
        """The (4,) thresholds for a sentence of report ``doc_id`` (None: text from no report)."""
        if doc_id is not None and doc_id in self.training_reports:
            return np.full(len(CATEGORIES), SEEN_REPORT_THRESHOLD)
        return np.array([self.thresholds[c] for c in CATEGORIES])

    def row_thresholds(self, doc_ids: list[str | None]) -> np.ndarray:
        """(n, 4) thresholds, one row per sentence of report ``doc_ids[i]``."""
        if not doc_ids:
            return np.zeros((0, len(CATEGORIES)))
        return np.stack([self.thresholds_for(d) for d in doc_ids])


def forward(network, texts: list[str], contexts: list[Context], *, batch: int = INFERENCE_BATCH,
            encode: Callable[[list[str]], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logits, and each sentence's own vector (what explanations compare with the coded
    sentences'), in evaluation mode. Every distinct text among the sentences, previous sentences
    and headings is encoded once, in batches of similar length (a sentence is also the next one's
    context; headings repeat), by ``encode`` where given (the same computation under ONNX
    Runtime), else by the network."""
    torch = _torch()
    roles = roles_of(texts, contexts)
    unique = list(dict.fromkeys(t for role in roles for t in role))
    order = sorted(range(len(unique)), key=lambda i: (len(unique[i]), i))
    encoded = np.zeros((len(unique), network.encoder.config.hidden_size), np.float32)
    network.eval()
    # One forward pass at a time: per-report tasks run on threads, and torch already uses every core.
    with FORWARD_LOCK, torch.inference_mode():
        for k in range(0, len(order), batch):
            texts_in_batch = [unique[i] for i in order[k:k + batch]]
            encoded[order[k:k + batch]] = encode(texts_in_batch) if encode else network.encode(texts_in_batch).numpy()
        at = {text: i for i, text in enumerate(unique)}
        rows = [[at[t] for t in role] for role in roles]
        logits = network.classify(torch.from_numpy(np.hstack([encoded[r] for r in rows])))
    return logits.numpy(), encoded[rows[0]]


def calibrate(logits: np.ndarray, temperatures: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits / temperatures))


def fit_temperatures(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per category, the temperature minimising the log-loss of ``calibrate`` on predictions
    for unseen reports (``labels`` may hold -1 for unknown). Dividing a logit by a positive number
    never moves it across 0, so calibration changes scores, not which side of 0.5 they fall."""
    grid = np.round(np.arange(0.5, 4.001, 0.05), 2)
    out = np.ones(len(CATEGORIES))
    for k in range(len(CATEGORIES)):
        known = labels[:, k] >= 0
        z, y = logits[known, k], labels[known, k]
        if not len(z):
            continue
        losses = []
        for t in grid:
            p = np.clip(1.0 / (1.0 + np.exp(-z / t)), 1e-7, 1 - 1e-7)
            losses.append(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        out[k] = float(grid[int(np.argmin(losses))])
    return out


def tune_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per category, the probability threshold (0.05–0.95 by 0.01) with the best F1 on predictions
    for unseen reports (``labels`` may hold -1 for unknown); of equally good ones, the nearest 0.5."""
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    out = np.full(len(CATEGORIES), 0.5)
    for k in range(len(CATEGORIES)):
        known = labels[:, k] >= 0
        p, y = probabilities[known, k], labels[known, k] == 1
        if not y.any():
            continue
        predicted = p[None, :] >= grid[:, None]                       # (thresholds, rows)
        tp = (predicted & y).sum(1)
        f1 = 2 * tp / np.maximum(2 * tp + (predicted & ~y).sum(1) + (~predicted & y).sum(1), 1)
        best = np.flatnonzero(f1 >= f1.max() - 1e-12)
        out[k] = float(grid[best[np.argmin(np.abs(grid[best] - 0.5))]])
    return out


# --- artefact ------------------------------------------------------------------------------------

def as_stored(network):
    """The network with its weights rounded to float16 as ``save`` stores them, so that what is
    measured before saving is exactly what a later ``load`` predicts."""
    torch = _torch()
    with torch.no_grad():
        for tensor in network.state_dict().values():
            if tensor.dtype.is_floating_point:
                tensor.copy_(tensor.half().float())
    return network


def save(model: TaggerModel, directory: Path) -> bool:
    """Weights as float16 (half the size in git; predictions measured unchanged on the gold),
    neighbours, and the model card. When ``directory`` already holds the same model — retrained
    on the same data, its weights and figures equal up to float noise (fine-tuning on two threads
    is not bit-reproducible) — nothing is rewritten and False is returned: git shows no change,
    and the artefact's fingerprint, hence every report's tags, stay as they were."""
    import tempfile

    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=f".{directory.name}-") as tmp:
        written = Path(tmp)
        _write(model, written)
        if same_artefact(written, directory):
            return False
        for name in ARTEFACT_FILES:
            (written / name).replace(directory / name)
    return True


def write_weights(network, path: Path) -> None:
    """The network's floating-point weights as float16 safetensors (half the size in git; ``as_stored``
    rounds a network in memory the same way). The tagger's and search's reranker's format."""
    from safetensors.numpy import save_file

    save_file({k: v.detach().numpy().astype(np.float16) for k, v in network.state_dict().items()
               if v.dtype.is_floating_point}, str(path))


def read_weights(network, path: Path) -> str | None:
    """Load ``write_weights``' file at ``path`` into ``network``: None when every weight fits, else
    what is wrong (a truncated file, a Git LFS pointer, weights of another model) for a coded error."""
    from safetensors.numpy import load_file

    torch = _torch()
    try:
        state = {k: torch.from_numpy(v.astype(np.float32)) for k, v in load_file(str(path)).items()}
        missing, unexpected = network.load_state_dict(state, strict=False)
    except Exception as exc:  # noqa: BLE001 - whatever the file is, it is not weights this model can use
        return f"unreadable: {exc}"[:300]
    if unexpected or any(not k.endswith("position_ids") for k in missing):
        return f"missing {missing[:3]}, unexpected {unexpected[:3]}"
    return None


def _write(model: TaggerModel, directory: Path) -> None:
    from safetensors.numpy import save_file

    write_weights(model.network, directory / MODEL_FILE)
    n = model.neighbours
    save_file({"vectors": n.vectors.astype(np.float16), "labels": n.labels.astype(np.int8)},
              str(directory / NEIGHBOURS_FILE))
    (directory / NEIGHBOUR_TEXTS_FILE).write_text(
        "".join(json.dumps({"text": t, "citation": c}, ensure_ascii=False) + "\n" for t, c in zip(n.texts, n.citations)),
        encoding="utf-8")
    manifest = dict(model.manifest, tagger_version=TAGGER_VERSION, thresholds=model.thresholds,
                    temperatures={c: float(t) for c, t in zip(CATEGORIES, model.temperatures)},
                    training_reports=sorted(model.training_reports), seen_report_threshold=SEEN_REPORT_THRESHOLD)
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


#: Float noise tolerated when a retrained artefact is compared with the one in place: weights
#: within two float16 steps (relative) and card figures equal to 3 decimals.
WEIGHT_RTOL, WEIGHT_ATOL, CARD_DECIMALS = 2e-3, 1e-4, 3


def _rounded(value):
    if isinstance(value, float):
        return round(value, CARD_DECIMALS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def same_artefact(new: Path, old: Path) -> bool:
    """The two artefact folders hold the same model up to float noise (see ``save``)."""
    from safetensors.numpy import load_file

    if not all((old / name).exists() for name in ARTEFACT_FILES):
        return False
    if (new / NEIGHBOUR_TEXTS_FILE).read_bytes() != (old / NEIGHBOUR_TEXTS_FILE).read_bytes():
        return False
    if _rounded(json.loads((new / MANIFEST_FILE).read_text(encoding="utf-8"))) != \
            _rounded(json.loads((old / MANIFEST_FILE).read_text(encoding="utf-8"))):
        return False
    for name in (MODEL_FILE, NEIGHBOURS_FILE):
        a, b = load_file(str(new / name)), load_file(str(old / name))
        if a.keys() != b.keys() or any(a[k].shape != b[k].shape or not np.allclose(
                a[k].astype(np.float32), b[k].astype(np.float32), rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL) for k in a):
            return False
    return True


ARTEFACT_FILES = (MANIFEST_FILE, MODEL_FILE, NEIGHBOURS_FILE, NEIGHBOUR_TEXTS_FILE)


def fingerprint(directory: Path) -> str:
    """A hash of the artefact's bytes (every report's tag cache key holds it: retraining re-tags)."""
    stats = []
    for name in ARTEFACT_FILES:
        path = directory / name
        stat = path.stat() if path.exists() else None
        stats.append((str(path), stat.st_size, stat.st_mtime_ns) if stat else (str(path), None, None))
    return _fingerprint(tuple(stats))


@lru_cache(maxsize=8)
def _fingerprint(stats: tuple) -> str:
    # Keyed by size and mtime so the 45 MB of weights are hashed once per process, not per report.
    h = hashlib.sha256()
    for path, size, _ in stats:
        h.update(Path(path).read_bytes() if size is not None else b"missing")
    return h.hexdigest()[:12]


def read_card(directory: Path) -> dict:
    """The model card alone (no weights loaded); empty when there is none."""
    path = directory / MANIFEST_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def load(directory: Path) -> TaggerModel:
    """The trained tagger in ``directory`` (loaded once per process and artefact)."""
    files = [directory / f for f in ARTEFACT_FILES]
    if not all(f.exists() for f in files):
        raise ModelError(Errors.E040.format(directory=directory))
    manifest = json.loads(files[0].read_text(encoding="utf-8"))
    if manifest.get("tagger_version") != TAGGER_VERSION:
        raise ModelError(Errors.E042.format(directory=directory, found=manifest.get("tagger_version"),
                                            expected=TAGGER_VERSION))
    with _LOADING:  # per-report tasks on threads (and a preload) share one load
        return _load(directory, fingerprint(directory))


_LOADING = threading.Lock()


@lru_cache(maxsize=2)
def _load(directory: Path, artefact_hash: str) -> TaggerModel:
    from safetensors.numpy import load_file

    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    network = build_tagger_network(pretrained=False)
    problem = read_weights(network, directory / MODEL_FILE)
    if problem:
        raise ModelError(Errors.E048.format(directory=directory, detail=problem))
    network.eval()
    tensors = load_file(str(directory / NEIGHBOURS_FILE))
    rows = [json.loads(line) for line in (directory / NEIGHBOUR_TEXTS_FILE).read_text(encoding="utf-8").splitlines()]
    vectors = tensors["vectors"].astype(np.float32)
    neighbours = Neighbours(vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12),
                            tensors["labels"], [r["text"] for r in rows], [r["citation"] for r in rows])
    return TaggerModel(network, np.array([manifest["temperatures"][c] for c in CATEGORIES]),
                       {c: float(manifest["thresholds"][c]) for c in CATEGORIES}, neighbours, manifest,
                       frozenset(manifest.get("training_reports", [])),
                       onnx_text_encoder(network, artefact_hash, threads=_torch().get_num_threads()))
