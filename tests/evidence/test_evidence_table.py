"""The evidence table: verbatim quotes, citations, and `verify` catching any alteration."""

import pytest
from typer.testing import CliRunner

from collabmine import evidence, store
from collabmine.cli import app
from collabmine.evidence import format_citation, page_reference, section_reference
from conftest import CORPUS, copy_store


@pytest.fixture()
def altered(themed, tmp_path):
    return copy_store(themed, tmp_path / "altered")


def test_every_claim_has_a_citation_and_single_reports_are_flagged(themed):
    con = store.connect(themed.store_path, create=False)
    claims = evidence.claims(con)
    rows = evidence.evidence_rows(con)
    n_themes = con.execute("SELECT COUNT(*) FROM themes").fetchone()[0]
    con.close()
    assert len(claims) == n_themes > 0
    assert claims["citation"].str.len().gt(0).all() and claims["quote"].str.len().gt(0).all()
    assert (claims["single_report"] == (claims["n_reports"] == 1).astype(int)).all()
    per_theme = rows.groupby("theme_id").size()
    assert (per_theme.reindex(claims["theme_id"]).values == claims["n_sentences"].values).all()
    # Citations are author–year with a section (and a page when the report has pages).
    assert rows["citation"].str.match(r"^[A-Z][^,]+ \((\d{4}|n\.d\.)\)").mean() > 0.95
    assert rows["citation"].str.contains("§|“").mean() > 0.9


def test_quotes_are_verbatim_source_text(themed):
    con = store.connect(themed.store_path, create=False)
    rows = con.execute('SELECT file, start, "end", quote FROM evidence').fetchall()
    con.close()
    texts = {p.name: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")}
    assert rows and all(texts[r["file"]][r["start"]:r["end"]] == r["quote"] for r in rows)


def test_verify_passes_on_the_corpus(themed):
    result = evidence.verify(themed)
    assert result.ok and result.checked > 1000 and result.reports == 4


def test_verify_fails_on_an_altered_quote(altered):
    con = store.connect(altered.store_path, create=False)
    victim = con.execute("SELECT theme_id, span_id FROM evidence ORDER BY theme_id, rank LIMIT 1").fetchone()
    con.execute("UPDATE evidence SET quote = quote || ' (sic)' WHERE theme_id=? AND span_id=?", tuple(victim))
    con.close()
    result = evidence.verify(altered)
    assert not result.ok and len(result.mismatches) == 1
    assert victim["span_id"] in result.mismatches[0] and "E050" in result.mismatches[0]

    cli = CliRunner().invoke(app, ["verify", "--out", str(altered.out_dir), "--corpus", str(CORPUS)])
    assert cli.exit_code == 1 and victim["span_id"] in cli.output


def test_verify_fails_on_altered_offsets(altered):
    con = store.connect(altered.store_path, create=False)
    con.execute('UPDATE evidence SET start = start + 1 WHERE rowid IN (SELECT rowid FROM evidence LIMIT 3)')
    con.close()
    assert len(evidence.verify(altered).mismatches) == 3


def _edited_corpus(settings, tmp_path):
    """A copy of the corpus where one character inside one quote of the first report is changed."""
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    con = store.connect(settings.store_path, create=False)
    victim = con.execute('SELECT file, start, "end" FROM evidence ORDER BY file, start LIMIT 1').fetchone()
    at = victim["start"] + 1
    broken = {r["span_id"] for r in con.execute('SELECT span_id FROM evidence WHERE file=? AND start<=? AND "end">?',
                                                (victim["file"], at, at))}
    total = con.execute("SELECT COUNT(*) FROM evidence WHERE file=?", (victim["file"],)).fetchone()[0]
    con.close()
    path = corpus / victim["file"]
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:at] + ("x" if text[at] != "x" else "y") + text[at + 1:], encoding="utf-8")
    return corpus, victim["file"], broken, total


def test_an_edit_to_a_report_breaks_only_the_quotes_it_touches(altered, tmp_path):
    corpus, file, broken, total = _edited_corpus(altered, tmp_path)
    result = evidence.verify(altered.with_(corpus_dir=corpus))
    assert not result.ok and result.changed == [file]
    assert {p[1].split()[3] for p in result.problems} == broken and len(result.problems) < total
    assert all(f == file for f, _, _ in result.problems)
    (line,) = result.summary()
    assert f"{len(result.problems)} of {total} quotes" in line and "still verify" in line


def test_an_appended_line_breaks_no_quote_but_is_reported(altered, tmp_path):
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    victim = sorted(corpus.glob("*.txt"))[0]
    victim.write_text(victim.read_text(encoding="utf-8") + "\nAppended.", encoding="utf-8")
    result = evidence.verify(altered.with_(corpus_dir=corpus))
    assert result.ok and result.changed == [victim.name]
    assert any(victim.name in line and "changed since the run" in line for line in result.summary())


def test_verify_reopens_the_folder_the_store_was_built_from(altered, tmp_path):
    corpus, file, broken, _ = _edited_corpus(altered, tmp_path)
    con = store.connect(altered.store_path, create=False)
    evidence.record_corpus(con, altered.with_(corpus_dir=corpus))
    con.close()
    # Without --corpus: the recorded (edited) folder, not the project's corpus/ that would pass.
    cli = CliRunner().invoke(app, ["verify", "--out", str(altered.out_dir)], env={"COLUMNS": "250"})
    assert cli.exit_code == 1 and file in cli.output and "E050" in cli.output, cli.output
    # Told otherwise, it checks the folder given and says it differs from the store's.
    cli = CliRunner().invoke(app, ["verify", "--out", str(altered.out_dir), "--corpus", str(CORPUS)],
                             env={"COLUMNS": "250"})
    assert cli.exit_code == 0 and "the store was built from" in " ".join(cli.output.split()), cli.output
    # The recorded folder gone: say so, and how to point at the reports.
    import shutil

    shutil.rmtree(corpus)
    cli = CliRunner().invoke(app, ["verify", "--out", str(altered.out_dir)], env={"COLUMNS": "250"})
    assert cli.exit_code == 1 and "E056" in cli.output and "--corpus" in cli.output


def test_verify_on_a_store_without_evidence_says_what_to_do(tagged_store, tmp_path):
    settings = copy_store(tagged_store, tmp_path / "bare")
    cli = CliRunner().invoke(app, ["verify", "--out", str(settings.out_dir)])
    assert cli.exit_code == 1 and "E051" in cli.output


def test_citation_parts():
    assert section_reference(["6 Findings", "6.4 Staff training and professional development"]) == \
        "§6.4 Staff training and professional development"
    assert section_reference(["Executive summary"]) == "“Executive summary”"
    assert section_reference([]) == ""
    assert page_reference("25", "25") == "p. 25" and page_reference("25", "26") == "pp. 25–26"
    assert page_reference(None, None) == ""
    assert format_citation("Rudd et al. (2004)", ["6.4 Staff training"], "25", None) == \
        "Rudd et al. (2004), §6.4 Staff training, p. 25"


def test_tables_show_the_clean_sentence_beside_the_verbatim_quote(themed):
    from collabmine.ingest.normalise import normalise_text

    con = store.connect(themed.store_path, create=False)
    rows = evidence.evidence_rows(con)
    claims = evidence.claims(con)
    con.close()
    assert (rows["sentence"] == rows["quote"].map(normalise_text)).all()      # the documented normalisation
    marked = rows[rows["quote"].str.contains(r"\*|\n", regex=True)]
    assert len(marked) > 50                                                  # raw markup and line breaks …
    assert not marked["sentence"].str.contains(r"\*'|'\*|\n", regex=True).any()   # … gone from what is read
    assert claims["sentence"].notna().all()
