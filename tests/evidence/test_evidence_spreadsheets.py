"""CSV and XLSX cells can never run as formulas; workbooks open ready to read."""

import io

import pandas as pd
import pytest

from collabmine.evidence.outputs.spreadsheets import neutralise, safe_frame, write_csv, write_workbook

HOSTILE = ['=HYPERLINK("http://example.invalid","click")', "=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB",
           "http://example.invalid/x", "plain text", "'already quoted"]


@pytest.mark.parametrize("value", HOSTILE + ["\r=x"])
def test_a_cell_that_would_be_a_formula_is_prefixed(value):
    out = neutralise(value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert out == "'" + value
    else:
        assert out == value
    assert neutralise(3) == 3 and neutralise(None) is None and neutralise(-1.5) == -1.5


def test_csv_cells_and_headers_are_neutralised():
    frame = pd.DataFrame({"comment": HOSTILE, "n": range(len(HOSTILE))})
    buffer = io.StringIO()
    write_csv(frame, buffer)
    back = pd.read_csv(io.StringIO(buffer.getvalue()), keep_default_na=False)
    for value in back["comment"]:
        assert not value.startswith(("=", "+", "-", "@", "\t")), value
    assert back["n"].tolist() == list(range(len(HOSTILE)))          # numbers stay numbers
    assert safe_frame(pd.DataFrame({"=x": [1]})).columns.tolist() == ["'=x"]


def test_workbook_cells_stay_text_with_frozen_header_filters_and_wrapped_quotes(tmp_path):
    import openpyxl

    frame = pd.DataFrame({"theme_id": ["a"] * len(HOSTILE), "quote": HOSTILE})
    write_workbook(tmp_path / "e.xlsx", {"evidence": frame})
    sheet = openpyxl.load_workbook(tmp_path / "e.xlsx")["evidence"]
    cells = [sheet.cell(row=k + 2, column=2) for k in range(len(HOSTILE))]
    assert [c.value for c in cells] == [neutralise(v) for v in HOSTILE] and all(c.data_type == "s" for c in cells)
    assert all(c.hyperlink is None for c in cells)
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:B{len(HOSTILE) + 1}"
    assert sheet.column_dimensions["B"].width >= 80 and cells[0].alignment.wrap_text
    assert sheet.column_dimensions["A"].width < 20


def test_exported_tables_show_control_characters_as_pictures():
    import pandas as pd

    from collabmine.evidence.outputs.export import shown_controls

    frame = pd.DataFrame({"quote": ["Trust\x00 grew\x07 over\x1b time.", None], "start": [3, 4]})
    shown = shown_controls(frame)
    assert shown["quote"][0] == "Trust\u2400 grew\u2407 over\u241b time." and pd.isna(shown["quote"][1])
    assert shown["start"].tolist() == [3, 4] and frame["quote"][0].startswith("Trust\x00")


def test_exported_years_are_whole_numbers(themed, tmp_path):
    import csv

    from collabmine.evidence.outputs import export_tables
    from conftest import copy_store

    settings = copy_store(themed, tmp_path / "years")
    export_tables(settings.out_dir, fmt="csv")
    years = [d["year"] for d in csv.DictReader(open(settings.out_dir / "export" / "documents.csv", encoding="utf-8"))]
    assert "2004" in years and "" in years and not any("." in y for y in years), years
