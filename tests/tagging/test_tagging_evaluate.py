import numpy as np

from collabmine.tagging.data import CodedRow
from collabmine.tagging.evaluate import calibration_table, evaluate


def GoldItem(id, source, start, end, text, labels):  # noqa: N802 - reads like the rows it builds
    return CodedRow(source, start, end, frozenset(labels), f"gold:{id}", text, id)


def test_precision_recall_f1_on_tiny_gold():
    gold = [GoldItem("a", "r.txt", 0, 10, "x", {"structure"}),
            GoldItem("b", "r.txt", 10, 20, "y", {"barrier", "condition"}),
            GoldItem("c", "r.txt", 20, 30, "z", set())]
    preds = {"a": ({"structure"}, True), "b": ({"barrier"}, True), "c": ({"structure"}, True)}
    report = evaluate(gold, preds)
    s, b, c = (report.per_category[k] for k in ("structure", "barrier", "condition"))
    assert (s["precision"], s["recall"], s["f1"]) == (0.5, 1.0, 0.6667)
    assert (b["precision"], b["recall"], b["f1"]) == (1.0, 1.0, 1.0)
    assert (c["precision"], c["recall"], c["f1"]) == (0.0, 0.0, 0.0)
    assert report.macro_f1 == round((0.6667 + 1.0 + 0.0 + 0.0) / 4, 4)
    assert {e["id"] for e in report.errors} == {"b", "c"}
    assert next(e for e in report.errors if e["id"] == "b")["missed"] == ["condition"]


def test_bootstrap_intervals_bracket_the_figure_and_repeat():
    gold = [GoldItem(str(i), "r.txt", 10 * i, 10 * i + 9, "x", {"impact"} if i % 2 else set()) for i in range(40)]
    # Half the impact sentences found, one false alarm: impact F1 = 2·10 / (2·10 + 1 + 10) = 0.6452.
    preds = {str(i): ({"impact"} if (i % 4 == 1 or i == 0) else set(), True) for i in range(40)}
    report = evaluate(gold, preds)
    lo, hi = report.intervals["impact"]
    assert report.per_category["impact"]["f1"] == 0.6452
    assert lo < 0.6452 < hi and hi - lo > 0.1          # 40 sentences cannot pin F1 down to a point
    assert report.intervals["structure"] == (0.0, 0.0)  # nothing to find, nothing claimed
    assert report.intervals == evaluate(gold, preds).intervals  # a fixed seed: the same figures
    assert evaluate(gold, preds, bootstrap=0).intervals == {}
    perfect = evaluate(gold, {g.id: (g.labels, True) for g in gold})
    assert perfect.intervals["impact"] == (1.0, 1.0)


def test_calibration_table_and_expected_error():
    # 10 pairs at p=0.9 of which 9 true, 10 at p=0.1 of which 1 true: perfectly calibrated.
    p = np.array([0.9] * 10 + [0.1] * 10)
    y = np.array([1] * 9 + [0] + [1] + [0] * 9)
    table = calibration_table(p, y)
    assert table.ece == 0.0 and [b["pairs"] for b in table.bins] == [10, 10]
    # Always 0.9 but true half the time: off by 0.4.
    assert calibration_table(np.full(20, 0.9), np.array([1, 0] * 10)).ece == 0.4


def test_report_carries_calibration_when_given_probabilities():
    gold = [GoldItem("a", "r.txt", 0, 10, "x", {"structure"}), GoldItem("b", "r.txt", 10, 20, "y", set())]
    report = evaluate(gold, {"a": ({"structure"}, True), "b": (set(), True)},
                      probabilities={"a": np.array([0.8, 0.1, 0.1, 0.1]), "b": np.array([0.3, 0.1, 0.1, 0.1])})
    assert report.calibration is not None and sum(b["pairs"] for b in report.calibration.bins) == 8
    assert evaluate(gold, {}).calibration is None


def test_sentences_of_training_reports_use_the_seen_report_threshold():
    """A report the model was trained on is tagged at the decision boundary; a new report (or
    text from no report) at the thresholds chosen on leave-one-report-out predictions."""
    from collabmine.tagging.model import SEEN_REPORT_THRESHOLD, TaggerModel

    shipped = {"structure": 0.3, "impact": 0.4, "condition": 0.27, "barrier": 0.18}
    tagger = TaggerModel(network=None, thresholds=shipped, training_reports=frozenset({"seen"}))
    assert tagger.thresholds_for("seen").tolist() == [SEEN_REPORT_THRESHOLD] * 4
    assert tagger.thresholds_for("new").tolist() == [0.3, 0.4, 0.27, 0.18]
    assert tagger.thresholds_for(None).tolist() == [0.3, 0.4, 0.27, 0.18]
    assert tagger.row_thresholds(["seen", "new"]).shape == (2, 4)
