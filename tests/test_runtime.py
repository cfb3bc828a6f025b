"""A run that is ending stops only the work done for it."""

import threading

import pytest

from collabmine import runtime
from collabmine.errors import RunStopped


def test_a_run_that_is_ending_stops_only_its_own_work():
    runtime.request_stop("run-ending")
    runtime.stop_point("a query")                     # work for no run goes on
    with runtime.working_for("run-next"):
        runtime.stop_point("the next run's tagging")
    with runtime.working_for("run-ending"), pytest.raises(RunStopped, match="E062 .* tagging report r1"):
        runtime.stop_point("tagging report r1")
    runtime.stop_point("after the block")             # the thread works for no run again

    # The mark is per thread: the pool's other threads work for their own runs.
    seen = []
    with runtime.working_for("run-ending"):
        worker = threading.Thread(target=lambda: seen.append(runtime.stop_point("another thread")))
        worker.start()
        worker.join()
    assert seen == [None]


def test_a_dask_worker_loads_the_models_without_holding_up_its_start(monkeypatch):
    """Dask runs ``dask_setup`` as a worker starts: it must return at once (the worker takes tasks
    meanwhile) and load the embedding model and the tagger on a thread."""
    import threading

    from collabmine import dask_worker, embed, tagging
    from flows.pipeline import task_runner
    from collabmine.settings import load_settings

    release, loaded = threading.Event(), []

    def slow_embedder():
        release.wait(30)
        loaded.append("embedder")

    monkeypatch.setattr(embed, "default_embedder", slow_embedder)
    monkeypatch.setattr(tagging, "load_tagger", lambda settings: loaded.append("tagger"))
    dask_worker.dask_setup(None)
    assert loaded == []                      # returned while the first model is still loading
    release.set()
    for _ in range(300):
        if len(loaded) == 2:
            break
        threading.Event().wait(0.01)
    assert loaded == ["embedder", "tagger"]
    runner = task_runner(load_settings(task_runner="dask"))
    assert runner.cluster_kwargs["preload"] == ["collabmine.dask_worker"]
