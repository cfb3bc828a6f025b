"""Fine-tuning the classifier on coded sentences, and the leave-one-report-out folds that
calibrate it and measure it on reports it has not seen."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from ..categories import CATEGORIES
from .data import UNKNOWN, Context, Spans, TrainingSet
from .model import build_tagger_network, forward, roles_of


@dataclass(frozen=True)
class TrainConfig:
    """Fine-tuning settings (chosen by leave-one-report-out on the coded data; see the README)."""
    epochs: int = 4
    learning_rate: float = 5e-5
    batch_size: int = 16
    weight_decay: float = 0.01
    warmup: float = 0.1
    seed: int = 0
    #: Torch threads: fixed, because float sums (and so the weights) depend on how work is split.
    threads: int = 2

    def as_dict(self) -> dict:
        return asdict(self)


Progress = Callable[[str], None]


def _batches(lengths: list[int], size: int, rng: np.random.RandomState) -> list[np.ndarray]:
    """Shuffled batches of similar length (less padding: ~30% faster than plain shuffling), in a
    shuffled order; the same seed gives the same batches."""
    order = rng.permutation(len(lengths))
    chunk = size * 50
    batches = []
    for k in range(0, len(order), chunk):
        part = sorted(order[k:k + chunk], key=lambda i: (lengths[i], i))
        batches += [np.array(part[j:j + size]) for j in range(0, len(part), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def seeded(config: TrainConfig) -> None:
    """Torch's threads and seed as ``config`` says, before a network is built (its head's initial
    weights) and trained: the same seed and threads give the same weights."""
    import torch

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)


def fine_tune(network, lengths: list[int], loss_of_batch: Callable, *, config: TrainConfig,
              progress: Progress | None = None):
    """AdamW with linear warm-up and decay over ``config.epochs`` of shuffled batches of similar
    length; ``loss_of_batch(network, rows)`` gives the loss of the rows ``rows`` (an index array
    into the ``lengths`` rows). Shared by the tagger and search's reranker. The caller seeds torch
    (``seeded``) before building ``network``: dropout then draws on from the head's initialisation."""
    import torch

    rng = np.random.RandomState(config.seed)
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps = max(1, config.epochs * -(-len(lengths) // config.batch_size))
    warm = max(1, int(config.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    started = time.monotonic()
    for epoch in range(config.epochs):
        network.train()
        total = 0.0
        for batch in _batches(lengths, config.batch_size, rng):
            loss = loss_of_batch(network, batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        if progress:
            progress(f"epoch {epoch + 1}/{config.epochs}: loss {total / max(1, len(lengths)):.4f} "
                     f"({time.monotonic() - started:.0f} s)")
    network.eval()
    return network


def fit_network(texts: list[str], contexts: list[Context], labels: np.ndarray, *, config: TrainConfig = TrainConfig(),
                progress: Progress | None = None):
    """MiniLM fine-tuned end to end on sentences read with their context (``build_tagger_network``);
    ``labels`` (n, 4) may hold ``UNKNOWN``, which is left out of that category's loss (an
    analyst's decision on one category says nothing about the others)."""
    import torch

    seeded(config)
    network = build_tagger_network(pretrained=True)
    target = torch.from_numpy(np.clip(labels, 0, 1).astype(np.float32))
    known = torch.from_numpy((labels != UNKNOWN).astype(np.float32))
    loss_of = torch.nn.BCEWithLogitsLoss(reduction="none")
    sentences, previous, headings = roles_of(texts, contexts)

    def loss_of_batch(net, batch: np.ndarray):
        # A batch's headings repeat: each is encoded once.
        distinct = list(dict.fromkeys(headings[i] for i in batch))
        at = {heading: j for j, heading in enumerate(distinct)}
        fused = torch.cat([net.encode([sentences[i] for i in batch]), net.encode([previous[i] for i in batch]),
                           net.encode(distinct)[[at[headings[i]] for i in batch]]], dim=1)
        weight = known[batch]
        return (loss_of(net.classify(fused), target[batch]) * weight).sum() / weight.sum().clamp(min=1.0)

    return fine_tune(network, [len(t) for t in texts], loss_of_batch, config=config, progress=progress)


@dataclass
class Folds:
    """Leave-one-report-out predictions: every training row scored by a model trained without its
    report, and (optionally) extra spans of each report — the gold — scored the same way."""
    logits: np.ndarray                   # (n training rows, 4)
    extra: dict[int, np.ndarray]         # span index -> (4,) logits
    reports: list[str]


def leave_one_report_out(spans: Spans, training: TrainingSet, *, extra: list[int] = (),
                         config: TrainConfig = TrainConfig(), progress: Progress | None = None) -> Folds:
    """For each report with coded rows, fine-tune on the other reports' rows only and score that
    report's rows and its spans in ``extra``. No label of a report reaches the model that scores it."""
    files = np.array([spans.files[i] for i in training.index], dtype=object)
    reports = sorted(set(files))
    logits = np.zeros((len(training.index), len(CATEGORIES)), np.float32)
    scored: dict[int, np.ndarray] = {}
    for n, report in enumerate(reports, start=1):
        inside = files == report
        rows = training.index[~inside]
        if progress:
            progress(f"fold {n}/{len(reports)}: {report} held out, training on {len(rows)} sentences")
        network = fit_network([spans.texts[i] for i in rows], [spans.contexts[i] for i in rows],
                              training.labels[~inside], config=config, progress=progress)
        mine = [i for i in extra if spans.files[i] == report]
        score = list(training.index[inside]) + mine
        z, _ = forward(network, [spans.texts[i] for i in score], [spans.contexts[i] for i in score])
        logits[inside] = z[:int(inside.sum())]
        scored.update({i: z[int(inside.sum()) + k] for k, i in enumerate(mine)})
    return Folds(logits, scored, reports)
