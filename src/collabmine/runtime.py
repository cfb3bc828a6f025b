"""Process environment for offline, quiet runs; applied before Prefect or models load."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from .settings import PROJECT_ROOT

OFFLINE_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "ORT_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # Model loading prints progress bars ("Loading weights") that say nothing to a researcher.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def configure_environment() -> None:
    """Set offline/no-telemetry defaults; explicit environment settings win."""
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_HOME", str(PROJECT_ROOT / ".work" / "prefect"))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)



def preload_in_background(*loaders: Callable[[], object]) -> threading.Thread:
    """Run model loaders on a daemon thread, so their seconds overlap other start-up work (a
    flow's temporary Prefect server). A failure is left for the first real use to report."""
    def load() -> None:
        for loader in loaders:
            try:
                loader()
            except Exception:  # noqa: BLE001 - reported with its code where the model is needed
                pass

    thread = threading.Thread(target=load, name="collabmine-preload", daemon=True)
    thread.start()
    return thread
