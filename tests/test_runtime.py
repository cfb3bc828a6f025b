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
