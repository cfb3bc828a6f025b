"""Which assignment model a run uses: the shipped one (``models/themes/``, trained on the coded
pairs by ``collabmine train-themes``), or — once analysts have moved sentences to frame themes
or promoted a theme — one trained on the coded pairs plus their examples, with the shipped
model's calibration. That one is trained once per set of analyst examples and kept beside the
store (``OUT/themes/assigner/<key>/``, the last few): a report removed and then added back, or an
edit undone, brings back a set of examples already trained on (training takes ~25-50 s)."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import astuple
from pathlib import Path
from typing import Sequence

import numpy as np

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


def frame_texts(frame: Frame) -> list[str]:
    """What a frame theme is recognised by: its name and description, and its example sentences."""
    return [text for t in frame.themes for text in (t.query, *t.examples)]


def save_frame_vectors(settings: Settings, frame: Frame, encode: Encode, *, model: str) -> Path:
    from ..embed import text_hash

    texts = list(dict.fromkeys(frame_texts(frame)))
    path = shipped_dir(settings) / FRAME_VECTORS_FILE
    with path.open("wb") as f:   # numpy's savez stamps no time: the same vectors give the same bytes
        np.savez_compressed(f, hashes=np.array([text_hash(t) for t in texts]), vectors=encode(texts).astype(np.float32),
                            model=np.array(model))
    return path


def shipped_frame_vectors(settings: Settings, *, model: str) -> dict[str, np.ndarray]:
    """The shipped vectors (text hash -> vector) if they were computed by ``model``, else none."""
    path = shipped_dir(settings) / FRAME_VECTORS_FILE
    if not path.exists():
        return {}
    data = np.load(path)
    if str(data["model"]) != model:
        return {}
    return dict(zip((str(h) for h in data["hashes"]), data["vectors"]))


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


def assigner_for(settings: Settings, frame: Frame, analyst: Sequence[Example], *, encode: Encode) -> ThemeAssigner:
    """The model for this frame and these analyst examples (loaded or trained once per process)."""
    key = key_for(settings, frame, analyst)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        shipped = assign.load(shipped_dir(settings))
        if not analyst and shipped.frame_version == frame.version and _same_keys(shipped, frame):
            model = shipped
        else:
            model = _local(settings, key) or _train(settings, frame, analyst, shipped, key, encode)
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
    model = assign.train(coded + list(analyst), frame, encode=encode, params=shipped.params, temperatures=temperatures)
    model.card = {"key": key, "trained_on": {"coded": len(coded), "analyst": len(analyst)},
                  "calibration": "the shipped model's temperatures"}
    directory = _local_model_dir(settings, key)
    assign.save(model, directory)
    _prune_local(settings)
    return assign.load(directory)
