"""Process environment for offline, quiet runs; applied before Prefect or models load."""

from __future__ import annotations

import os
import signal
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


#: Fault injection for the reliability tests (as SQLite and Prefect have test hooks): a process
#: whose environment names a point here kills itself with SIGKILL on reaching it — no cleanup,
#: no atexit, exactly as `kill -9` at that moment. Points: each stage's start ("ingest", "embed",
#: "tag", "themes", "evidence", "verify", "outputs") and "outputs-staged".
FAULT_VARIABLE = "COLLABMINE_FAULT_AT"


def fault_point(name: str) -> None:
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


#: Set in the environment a run's temporary Prefect server inherits: the pid of the run that
#: started it. A server whose run is gone (killed with SIGKILL, so it could not stop it) is an
#: orphan, and the next run ends it.
OWNER_VARIABLE = "COLLABMINE_RUN_PID"


def mark_owner() -> None:
    os.environ[OWNER_VARIABLE] = str(os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned_servers(proc: Path = Path("/proc")) -> list[int]:
    """Pids of temporary Prefect servers started by a collabmine run that no longer exists
    (Linux /proc; elsewhere none are found)."""
    found = []
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        owner = next((e.split(b"=", 1)[1] for e in env if e.startswith(OWNER_VARIABLE.encode() + b"=")), None)
        if owner is None or b"PREFECT__SERVER_EPHEMERAL=1" not in env or not owner.isdigit():
            continue
        if not _alive(int(owner)):
            found.append(int(entry.name))
    return found


def end_orphaned_servers() -> list[int]:
    """Stop the orphaned temporary servers (SIGTERM; they hold a port and ~150 MB each)."""
    ended = []
    for pid in orphaned_servers():
        try:
            os.kill(pid, signal.SIGTERM)
            ended.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    return ended



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
