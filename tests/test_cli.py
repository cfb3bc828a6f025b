"""`collabmine run` / `export` through the Prefect flow on a small corpus with a bad report."""

import csv
import shutil

from typer.testing import CliRunner

from collabmine.cli import app
from conftest import CORPUS, R001


def test_run_and_export(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / R001, corpus / R001)
    (corpus / "empty.txt").write_bytes(b"")
    # Legacy encoding and a stray NUL past the first 8 KB: processed, with both warnings shown.
    (corpus / "legacy.txt").write_bytes((("Heads said the federation\u2019s shared vision mattered to the schools. "
                                         "Caf\u00e9 meetings helped the partnership.\n\n") * 120
                                        + "Trust\x00 grew over time.\n\n").encode("cp1252"))
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--corpus", str(corpus), "--out", str(out), "--no-progress"],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "2 of 3 reports processed" in result.output
    assert "empty.txt" in result.output and "E001" in result.output
    assert "warning legacy.txt: W001" in result.output and "warning legacy.txt: W002" in result.output
    documents = runner.invoke(app, ["documents", "--out", str(out)], env={"COLUMNS": "250"})
    assert "W001" in documents.output and "W002" in documents.output
    # Which store it read, and the two reports with no sources.yaml entry flagged with the lines to add.
    assert f"store: {(out / 'collabmine.sqlite').resolve()}" in documents.output
    assert documents.output.count("inferred: check") == 2 and f"add them to {corpus / 'sources.yaml'}" in documents.output
    assert f"{R001}:\n  sha256: " in documents.output and "legacy.txt:\n  sha256: " in documents.output
    assert "Themes: structure" in result.output and "Claims:" in result.output
    assert (out / "report.html").exists() and f"Report: {out / 'report.html'}" in " ".join(result.output.split())

    verified = runner.invoke(app, ["verify", "--out", str(out), "--corpus", str(corpus)])
    assert verified.exit_code == 0 and "OK:" in verified.output

    strict = runner.invoke(app, ["run", "--corpus", str(corpus), "--out", str(out), "--no-progress", "--strict"])
    assert strict.exit_code == 1

    exported = runner.invoke(app, ["export", "--out", str(out), "--format", "csv"])
    assert exported.exit_code == 0, exported.output
    docs = list(csv.DictReader(open(out / "export" / "documents.csv", encoding="utf-8")))
    assert {d["path"]: d["status"] for d in docs} == {R001: "ok", "empty.txt": "error", "legacy.txt": "ok"}
    spans = list(csv.DictReader(open(out / "export" / "spans.csv", encoding="utf-8")))
    raws = {d["doc_id"]: (corpus / d["path"]).read_bytes().decode(d["encoding"]) for d in docs if d["status"] == "ok"}
    assert spans and {"span_id", "doc_id", "start", "end", "text", "section", "page", "excluded"} <= set(spans[0])
    from collabmine.ingest.normalise import normalise_text
    assert all(normalise_text(raws[s["doc_id"]][int(s["start"]):int(s["end"])]) == s["text"] for s in spans)
    assert not any("\x00" in s["text"] for s in spans)

    evidence = list(csv.DictReader(open(out / "export" / "evidence.csv", encoding="utf-8")))
    raw = (corpus / R001).read_text(encoding="utf-8")
    assert evidence and all(raw[int(e["start"]):int(e["end"])] == e["quote"] for e in evidence if e["file"] == R001)
    # legacy.txt's NUL is shown as ␀ in every exported table, never written raw.
    import re
    for path in (out / "export").glob("*.csv"):
        assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", path.read_bytes()), path.name

    # Citations with no gaps: no report cited by its file name, no "nan" in any output, every BibTeX
    # entry titled; the report flags the inferred citations with their sources.yaml lines, as the web app does.
    cited = {d["path"]: d["citation"] for d in docs if d["status"] == "ok"}
    assert all(c and not any(stem in c for stem in ("legacy", R001.split(".")[0])) for c in cited.values()), cited
    for path in [*out.glob("*.csv"), *out.glob("*.md"), out / "sources.bib", out / "report.html"]:
        assert not re.search(r"\bnan\b", path.read_text(encoding="utf-8")), path.name
    entries = (out / "sources.bib").read_text(encoding="utf-8").split("\n@")
    assert len(entries) == 2 and all("  title = {" in e for e in entries)
    assert (out / "report.html").read_text(encoding="utf-8").count('data-test="inferred"') == 2
    from fastapi.testclient import TestClient
    from collabmine.explore.web import create_app
    from collabmine.settings import load_settings
    listing = TestClient(create_app(load_settings(out_dir=out)), base_url="http://127.0.0.1").get("/reports").text
    assert listing.count('data-test="inferred"') == 2 and "legacy.txt:\n  sha256:" in listing

    parquet = runner.invoke(app, ["export", "--out", str(out), "--format", "parquet"])
    assert parquet.exit_code == 0 and (out / "export" / "spans.parquet").exists()


def test_run_with_nothing_processable_exits_1(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.txt").write_bytes(b"")
    result = CliRunner().invoke(app, ["run", "--corpus", str(corpus), "--out", str(tmp_path / "o"), "--no-progress"])
    assert result.exit_code == 1
    assert "E020" in result.output or "E020" in (result.stderr if result.stderr_bytes else "")
