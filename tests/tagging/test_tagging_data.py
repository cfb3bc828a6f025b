"""Coded files (JSONL and CSV) → rows, rows → spans, and analysts' decisions on top."""

import json

import numpy as np
import pytest

from collabmine.errors import DataError
from collabmine.tagging import data
from collabmine.tagging.data import UNKNOWN, Context, Spans


def _spans() -> Spans:
    texts = ["Schools formed a federation.", "Lack of time slowed the work.", "Attainment rose.", "Methods."]
    return Spans([f"s{i}" for i in range(4)], ["d1", "d1", "d1", "d2"], ["a.txt", "a.txt", "a.txt", "b.txt"],
                 [0, 30, 60, 0], [29, 59, 76, 8], texts, [Context() for _ in texts], ["A (2020)"] * 4)


def test_jsonl_and_csv_read_the_same_rows(tmp_path):
    jsonl = tmp_path / "coded.jsonl"
    jsonl.write_text(json.dumps({"source": "a.txt", "start": 0, "end": 29, "labels": ["structure"]}) + "\n\n"
                     + json.dumps({"source": "a.txt", "start": 30, "end": 59, "labels": []}) + "\n", encoding="utf-8")
    csv = tmp_path / "coded.csv"
    csv.write_text("source,start,end,labels\na.txt,0,29,structure\na.txt,30,59,\n", encoding="utf-8")
    a, b = data.read_coded(jsonl), data.read_coded(csv)
    assert [(r.source, r.start, r.end, r.labels) for r in a] == [(r.source, r.start, r.end, r.labels) for r in b]
    assert a[0].labels == {"structure"} and a[1].labels == frozenset()
    assert b[1].origin.endswith("coded.csv:3")


def test_csv_labels_separated_by_semicolons(tmp_path):
    path = tmp_path / "coded.csv"
    path.write_text("source,start,end,labels\na.txt,0,29,Structure; impact\n", encoding="utf-8")
    assert data.read_coded(path)[0].labels == {"structure", "impact"}


@pytest.mark.parametrize("content,code,where", [
    ('{"source": "a.txt", "start": 0, "end": 5, "labels": ["barriers"]}\n', "E047", ":1"),
    ('{"source": "a.txt", "start": 0, "end": 5, "labels": []}\n{"source": "a.txt", "start": 9}\n', "E046", ":2"),
    ('{"source": "a.txt", "start": 9, "end": 5, "labels": []}\n', "E046", ":1"),
    ('not json\n', "E046", ":1"),
])
def test_bad_rows_name_file_and_line(tmp_path, content, code, where):
    path = tmp_path / "coded.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=code) as caught:
        data.read_coded(path)
    assert f"{path}{where}" in str(caught.value)


def test_missing_file_and_bad_csv_header(tmp_path):
    with pytest.raises(DataError, match="E045"):
        data.read_coded(tmp_path / "nowhere.jsonl")
    path = tmp_path / "coded.csv"
    path.write_text("file,start,end\n", encoding="utf-8")
    with pytest.raises(DataError, match="E046.*lacks source, labels"):
        data.read_coded(path)


def test_unmatched_rows_are_counted_not_dropped():
    rows = [data.CodedRow("a.txt", 2, 20, frozenset({"structure"}), "f:1"),
            data.CodedRow("a.txt", 200, 220, frozenset(), "f:2"),       # past every span
            data.CodedRow("c.txt", 0, 5, frozenset(), "f:3")]          # a report not in the store
    training = data.training_set(rows, _spans())
    assert list(training.index) == [0] and [r.origin for r in training.unmatched] == ["f:2", "f:3"]


def test_reviews_override_coded_labels_and_leave_the_rest_unknown():
    rows = [data.CodedRow("a.txt", 0, 29, frozenset({"structure"}), "f:1"),
            data.CodedRow("a.txt", 30, 59, frozenset({"barrier"}), "f:2")]
    reviews = {"s0": {"structure": 0, "impact": 1},    # an analyst overrides the coder
               "s2": {"impact": 1}}                    # reviewed only: the other categories are unknown
    training = data.training_set(rows, _spans(), reviews=reviews)
    labels = dict(zip(training.index.tolist(), training.labels.tolist()))
    assert labels[0] == [0, 1, 0, 0] and labels[1] == [0, 0, 0, 1]
    assert labels[2] == [UNKNOWN, 1, UNKNOWN, UNKNOWN]
    assert training.origins == ["coded+review", "coded", "review"] and training.reviewed == 2
    assert training.counts()["impact"] == {"positive": 2, "negative": 1}


def test_a_row_overlapping_two_spans_goes_to_the_larger_overlap():
    found, _ = data.match_rows([data.CodedRow("a.txt", 25, 50, frozenset(), "f:1")], _spans())
    assert found == [1]
    assert np.array_equal(data.training_set([], _spans()).labels.shape, (0, 4))


def test_a_report_read_in_chunks_is_the_report_read_whole(ingested_store):
    """Chunks carry the previous sentence over their edges; only the citations are left out."""
    from collabmine import store
    from conftest import R001

    con = store.connect(ingested_store.store_path, create=False)
    doc_id = next(r["doc_id"] for r in store.documents(con) if r["path"] == R001)
    whole = data.taggable_spans(con, doc_id=doc_id)
    chunks = list(data.taggable_chunks(con, doc_id=doc_id, size=37))
    con.close()
    assert len(chunks) == -(-len(whole) // 37) > 1
    for field in ("span_ids", "doc_ids", "files", "starts", "ends", "texts", "contexts"):
        assert [x for c in chunks for x in getattr(c, field)] == getattr(whole, field), field
    assert all(c.contexts[0].previous for c in chunks[1:]) and not chunks[0].contexts[0].previous
