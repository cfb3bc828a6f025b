"""Scoring theme assignment: right when the prediction is one of the coded themes; macro-F1 over
frame themes with enough pairs; version-1 terms map later keys to other."""

import pytest
from collabmine.themes import measure
from collabmine.themes.frame import default_frame


def test_scoring_counts_any_coded_theme_as_right_and_leaves_other_out_of_the_macro():
    frame = default_frame()
    gold = [["trust"], ["trust"], ["trust", "time"], ["other"], ["time"], ["time"], ["time"]]
    predicted = ["trust", "time", "time", None, "time", "time", "trust"]
    scored = measure.score(gold, predicted, ["condition"] * 7, frame)
    assert scored.accuracy == pytest.approx(5 / 7)
    # trust: tp 1, fp 1 (the last), fn 1 (the second) -> 0.5; time: tp 3, fp 1, fn 1 -> 0.75
    assert scored.macro_f1 == pytest.approx((0.5 + 0.75) / 2)
    assert scored.per_theme["condition/trust"]["pairs"] == 3


def test_version_one_terms_count_a_later_key_as_other():
    frame = default_frame()
    assert any(t.since == "2" for t in frame.themes)
    assert measure.as_version("parity", "condition", frame, 1) == "other"
    assert measure.as_version("trust", "condition", frame, 1) == "trust"
    assert measure.as_version(None, "condition", frame, None) == "other"
    scored = measure.score([["other"]], ["parity"], ["condition"], frame, version=1)
    assert scored.accuracy == 1.0
