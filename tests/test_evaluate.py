from collabmine.evaluate import GoldItem, evaluate, predicted_labels


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


def test_gold_matched_by_largest_raw_overlap():
    item = GoldItem("a", "r.txt", 100, 200, "x", {"impact"})
    spans = [{"start": 50, "end": 110, "labels": {"structure"}},
             {"start": 110, "end": 205, "labels": {"impact"}},
             {"start": 300, "end": 400, "labels": {"barrier"}}]
    assert predicted_labels(item, spans) == ({"impact"}, True)
    assert predicted_labels(GoldItem("b", "r.txt", 500, 600, "", set()), spans) == (set(), False)


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
