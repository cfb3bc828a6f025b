"""The tagger's commands as a researcher types them: tag, eval, review --learn, train-tagger."""

import json

from typer.testing import CliRunner

from collabmine.cli import app
from conftest import GOLD, R001, copy_store


def test_tag_prints_probability_and_nearest_coded_sentences(tagged_store):
    result = CliRunner().invoke(app, ["tag", "Lack of time to meet was the main obstacle to the partnership.",
                                      "--heading", "Challenges"])
    assert result.exit_code == 0, result.output
    assert "barrier" in result.output and "like:" in result.output


def test_eval_prints_intervals_and_calibration(tagged_store):
    result = CliRunner().invoke(app, ["eval", "--gold", str(GOLD), "--out", str(tagged_store.out_dir), "--no-errors"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "macro-F1" in text and "95% bootstrap interval" in text
    assert "expected calibration error" in text and "observed share" in text


def test_train_tagger_refuses_bad_label_files_with_file_and_line(tagged_store, tmp_path):
    missing = CliRunner().invoke(app, ["train-tagger", "--labels", str(tmp_path / "none.csv"),
                                       "--out", str(tagged_store.out_dir)])
    assert missing.exit_code == 1 and "E045" in missing.output
    bad = tmp_path / "coded.csv"
    bad.write_text(f"source,start,end,labels\n{R001},0,40,structure;obstacle\n", encoding="utf-8")
    # Wide enough that the message's long temporary path is never wrapped inside itself.
    result = CliRunner().invoke(app, ["train-tagger", "--labels", str(bad), "--out", str(tagged_store.out_dir)],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 1 and "E047" in result.output and f"{bad}:2" in " ".join(result.output.split())


def test_review_learn_codes_sentences_fully(tagged_store, tmp_path):
    settings = copy_store(tagged_store, tmp_path / "out")
    # First sentence: impact only; second: skipped; then quit.
    result = CliRunner().invoke(app, ["review", "--learn", "--reviewer", "Ana", "--out", str(settings.out_dir),
                                      "--limit", "3"], input="impact\ns\nq\n")
    assert result.exit_code == 0, result.output
    assert "1 sentences coded" in result.output and "margin" in result.output
    log = CliRunner().invoke(app, ["reviews", "--out", str(settings.out_dir), "--csv", str(tmp_path / "r.csv")])
    assert log.exit_code == 0, log.output
    rows = (tmp_path / "r.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 5 and all(",learn," in row for row in rows[1:])   # four categories, the learn queue
    assert sum(",accept,impact," in row for row in rows) == 1


def test_model_card_is_json_with_the_training_files(tagged_store):
    card = json.loads((tagged_store.models_dir / "tagger" / "manifest.json").read_text(encoding="utf-8"))
    assert card["training_data"]["files"][0]["path"] == "models/tagger/coded/train.jsonl"
