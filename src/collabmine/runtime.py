"""Process environment for offline, quiet runs; applied before Prefect or models load."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .errors import Errors, RunStopped
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


#: Runs that are ending (a signal, Ctrl-C, a failed stage). The per-report tasks run in a thread
#: pool, and Python waits at exit for a running task: a SIGTERM in the tag stage left the process
#: tagging the rest of its report (a 50 MB report: ~80 min) after its lock was let go. Long loops
#: call ``stop_point`` between committed chunks; only work done for a run (``working_for``)
#: stops, so a query or a test in the same process is never stopped by a run that failed.
_ENDING_RUNS: set[str] = set()
_WORK = threading.local()


@contextmanager
def working_for(run_id: str) -> Iterator[None]:
    """This thread's work, until the block ends, is part of run ``run_id``."""
    previous = getattr(_WORK, "run_id", None)
    _WORK.run_id = run_id
    try:
        yield
    finally:
        _WORK.run_id = previous


def request_stop(run_id: str) -> None:
    """Ask every long loop working for ``run_id`` to stop at its next chunk."""
    _ENDING_RUNS.add(run_id)


def stop_point(where: str) -> None:
    """Raise ``RunStopped`` (E062) if this thread works for a run that is ending; call it where the
    work so far is committed."""
    run_id = getattr(_WORK, "run_id", None)
    if run_id is not None and run_id in _ENDING_RUNS:
        raise RunStopped(Errors.E062.format(where=where))


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


def warm_model_graphs() -> None:
    """Export the embedder's, the shipped tagger's and search reranker's ONNX graphs into the
    cache once (``make install``), so that no run waits for it; a missing or stale model is left
    for a run to report with its own message."""
    from .embed import default_embedder
    from .errors import ModelError
    from .explore.reranker import default_reranker
    from .settings import load_settings
    from .tagging import load_tagger

    for load in (default_embedder, lambda: load_tagger(load_settings()), default_reranker):
        try:
            load()
        except ModelError:
            pass
