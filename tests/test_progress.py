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
