"""Which assignment model a run uses: the shipped one (``models/themes/``, trained on the coded
pairs by ``collabmine train-themes``), or — once analysts have moved sentences to frame themes
or promoted a theme — one trained on the coded pairs plus their examples, with the shipped
model's calibration. Only the categories the analysts' examples (or a promoted theme) touch are
trained again (~8-17 s each here, from the coded pairs' shipped vectors); the others keep the
shipped model. That one is trained once per set of analyst examples and kept beside the store
(``OUT/themes/assigner/<key>/``, the last few): a report removed and then added back, or an
edit undone, brings back a set of examples already trained on."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import astuple
from pathlib import Path
from typing import Sequence

import numpy as np

from ..categories import CATEGORIES
from ..settings import Settings
from ..versions import digest, stage_code
from . import assign
from .assign import Encode, Example, ThemeAssigner
from .examples import coded_file, examples_of, read_coded
from .frame import Frame


def shipped_dir(settings: Settings) -> Path:
    return settings.models_dir / "themes"


#: The vectors of every frame theme's name-and-description and example sentences, computed when
#: the model was trained (search matches questions to themes by them): a run copies them into the
#: store's embedding cache instead of encoding ~1,300 texts (~10 s) again.
FRAME_VECTORS_FILE = "frame_vectors.npz"
#: The vectors of the coded pairs' texts (each sentence, the sentence before it, its heading),
#: computed when the model was trained: a project whose analysts' edits need a model of its own
#: trains it without encoding ~5,000 texts (~35 s here) again. Read only while training, never
#: copied into the store (which would grow by ~8 MB for vectors no run reads).
CODED_VECTORS_FILE = "coded_vectors.npz"


def frame_texts(frame: Frame) -> list[str]:
    """What a frame theme is recognised by: its name and description, and its example sentences."""
    return [text for t in frame.themes for text in (t.query, *t.examples)]


def coded_texts(examples: Sequence[Example]) -> list[str]:
    """Every text the model reads of the coded pairs, as ``assign.read_inputs`` encodes it."""
    return [text for e in examples for text in (e.text, e.previous or " ", e.heading or " ")]


def _save_vectors(path: Path, texts: Sequence[str], encode: Encode, *, model: str) -> Path:
    from ..embed import text_hash

    texts = list(dict.fromkeys(texts))
    with path.open("wb") as f:   # numpy's savez stamps no time: the same vectors give the same bytes
        np.savez_compressed(f, hashes=np.array([text_hash(t) for t in texts]), vectors=encode(texts).astype(np.float32),
                            model=np.array(model))
    return path


def _shipped_vectors(path: Path, model: str) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    data = np.load(path)
    if str(data["model"]) != model:
        return {}
    return dict(zip((str(h) for h in data["hashes"]), data["vectors"]))


def save_frame_vectors(settings: Settings, frame: Frame, encode: Encode, *, model: str) -> Path:
    return _save_vectors(shipped_dir(settings) / FRAME_VECTORS_FILE, frame_texts(frame), encode, model=model)


def save_coded_vectors(settings: Settings, examples: Sequence[Example], encode: Encode, *, model: str) -> Path:
    return _save_vectors(shipped_dir(settings) / CODED_VECTORS_FILE, coded_texts(examples), encode, model=model)


def shipped_frame_vectors(settings: Settings, *, model: str) -> dict[str, np.ndarray]:
    """The shipped vectors (text hash -> vector) if they were computed by ``model``, else none."""
    return _shipped_vectors(shipped_dir(settings) / FRAME_VECTORS_FILE, model)


def shipped_coded_vectors(settings: Settings, *, model: str) -> dict[str, np.ndarray]:
    """As ``shipped_frame_vectors``, for the coded pairs' texts."""
    return _shipped_vectors(shipped_dir(settings) / CODED_VECTORS_FILE, model)


def reading_shipped(encode: Encode, vectors: dict[str, np.ndarray]) -> Encode:
    """``encode`` that takes a text's vector from ``vectors`` (text hash -> vector, computed by
    the same model) where it is there, and encodes only the others. The canonical encoding makes
    a text's vector the same wherever it was computed (tests check the shipped ones)."""
    from ..embed import DIM, text_hash

    def read(texts: list[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        missing = []
        for i, text in enumerate(texts):
            vector = vectors.get(text_hash(text))
            if vector is None:
                missing.append(i)
            else:
                out[i] = vector
        if missing:
            out[missing] = encode([texts[i] for i in missing])
        return out

    return read


def local_dir(settings: Settings) -> Path:
    return settings.out_dir / "themes" / "assigner"


#: Locally trained models kept (the most recently used); older ones are deleted.
LOCAL_MODELS_KEPT = 4


def _local_model_dir(settings: Settings, key: str) -> Path:
    return local_dir(settings) / key[:16]


def key_for(settings: Settings, frame: Frame, analyst: Sequence[Example]) -> str:
    """What the run's assignments depend on: the shipped model (or the coded pairs), the frame
    and the analysts' examples."""
    card = shipped_dir(settings) / assign.CARD_FILE
    return digest({"card": card.read_text(encoding="utf-8") if card.exists() else "",
                   "frame": frame.sha256, "analyst": [list(astuple(e)) for e in analyst],
                   "code": stage_code("themes")})


_LOCK = threading.Lock()
_LOADED: dict[str, ThemeAssigner] = {}


def assigner_for(settings: Settings, frame: Frame, analyst: Sequence[Example], *, encode: Encode,
                 model_name: str | None = None) -> ThemeAssigner:
    """The model for this frame and these analyst examples (loaded or trained once per process).
    ``model_name``: the embedder ``encode`` uses (the shipped vectors are read if it made them)."""
    key = key_for(settings, frame, analyst)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        shipped = assign.load(shipped_dir(settings))
        if not analyst and shipped.frame_version == frame.version and _same_keys(shipped, frame):
            model = shipped
        else:
            model = _local(settings, key)
            if model is None:
                if model_name is not None:
                    encode = reading_shipped(encode, shipped_coded_vectors(settings, model=model_name)
                                             | shipped_frame_vectors(settings, model=model_name))
                model = _train(settings, frame, analyst, shipped, key, encode)
        _LOADED[key] = model
        return model


def _same_keys(model: ThemeAssigner, frame: Frame) -> bool:
    return all(m.query_keys == [t.key for t in frame.of(c)] for c, m in model.models.items())


def _local(settings: Settings, key: str) -> ThemeAssigner | None:
    directory = _local_model_dir(settings, key)
    card = directory / assign.CARD_FILE
    if not card.exists() or json.loads(card.read_text(encoding="utf-8")).get("key") != key:
        return None
    card.touch()   # recently used: kept when older models are pruned
    return assign.load(directory)


def _prune_local(settings: Settings) -> None:
    """Delete all but the ``LOCAL_MODELS_KEPT`` most recently used local models (and the single
    unkeyed model earlier versions kept in ``local_dir`` itself)."""
    root = local_dir(settings)
    for name in (assign.CARD_FILE, assign.ARRAYS_FILE):
        (root / name).unlink(missing_ok=True)
    models = sorted((d for d in root.iterdir() if (d / assign.CARD_FILE).exists()),
                    key=lambda d: ((d / assign.CARD_FILE).stat().st_mtime_ns, d.name), reverse=True)
    for stale in models[LOCAL_MODELS_KEPT:]:
        shutil.rmtree(stale, ignore_errors=True)


def _train(settings: Settings, frame: Frame, analyst: Sequence[Example], shipped: ThemeAssigner, key: str,
           encode: Encode) -> ThemeAssigner:
    coded = examples_of(read_coded(coded_file(settings)), frame)
    temperatures = {c: m.temperature for c, m in shipped.models.items()}
    kept = _unchanged_categories(shipped, frame, analyst, len(coded))
    model = assign.train([e for e in coded + list(analyst) if e.category not in kept], frame, encode=encode,
                         params=shipped.params, temperatures=temperatures)
    model.models = {c: m for c in CATEGORIES
                    for m in [shipped.models.get(c) if c in kept else model.models.get(c)] if m is not None}
    model.card = {"key": key, "trained_on": {"coded": len(coded), "analyst": len(analyst)},
                  "calibration": "the shipped model's temperatures",
                  "shipped_categories": sorted(kept)}
    directory = _local_model_dir(settings, key)
    assign.save(model, directory)
    _prune_local(settings)
    return assign.load(directory)


def _unchanged_categories(shipped: ThemeAssigner, frame: Frame, analyst: Sequence[Example], n_coded: int) -> set[str]:
    """Categories whose model training would give the shipped one again, so it is taken as is:
    no analyst example in them and their frame themes as the shipped model was trained with
    (training is deterministic on the same examples, frame themes and parameters). A promoted
    theme or an analyst's example changes only its own category (~10 s of fitting each here)."""
    from .frame import default_frame

    trained_with = default_frame()
    if shipped.frame_version != trained_with.version or shipped.card.get("trained_on", {}).get("pairs") != n_coded:
        return set()
    touched = {e.category for e in analyst}
    return {c for c in CATEGORIES if c in shipped.models and c not in touched and frame.of(c) == trained_with.of(c)}
