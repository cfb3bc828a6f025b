"""Long stages say how far they are; short ones and library calls say nothing."""

import io

from collabmine.progress import Tracker, track


def test_a_long_stage_prints_counts_and_time_left():
    out = io.StringIO()
    tracker = Tracker("embed", 40_000, "sentences", stream=out, quiet=0, every=0, enabled=True)
    tracker.advance(10_000)
    tracker.advance(10_000)
    tracker.advance(20_000)          # done: no line for the end (the stage's own summary follows)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("embed: 10,000 of 40,000 sentences (25%), about ") and lines[0].endswith(" left")
    assert len(lines) == 2 and "20,000 of 40,000" in lines[1]


def test_quiet_by_default_and_for_short_stages():
    out = io.StringIO()
    Tracker("tag", 100, "sentences", stream=out, enabled=True).advance(50)   # within the quiet seconds
    assert out.getvalue() == ""
    silent = track("tag", 100, "sentences")                                   # not enabled: library use
    assert silent.enabled is False


def test_a_resumed_stage_counts_what_was_done_before_but_rates_only_its_own_work(monkeypatch):
    """Resumed at 300,000 of 400,000 and 10,000 done in 100 s here: 90,000 left at 100 a second
    is 15 min, not the ~1 min that counting the earlier run's 300,000 as this run's would say."""
    clock = iter([0.0, 100.0])
    monkeypatch.setattr("collabmine.progress.time.monotonic", lambda: next(clock))
    out = io.StringIO()
    tracker = Tracker("tag", 400_000, "sentences", stream=out, quiet=0, every=0, enabled=True, done=300_000)
    tracker.advance(10_000)
    assert out.getvalue() == "tag: 310,000 of 400,000 sentences (78%), about 15 min left\n"
