"""The frame file: loaded, versioned, validated with coded errors; part of every fit's key."""

import pytest

from collabmine.categories import CATEGORIES
from collabmine.errors import DataError
from collabmine.themes import ThemeParams, default_frame, load_frame
from collabmine.themes.stage import fit_key, themes_input_hash

GOOD = '''version = "7"

[[condition]]
key = "trust"
name = "Trust"
description = "Schools trust each other"
'''


def test_the_bundled_frame_names_the_codebook_factors_of_every_category():
    frame = default_frame()
    assert frame.version and len(frame.sha256) == 16
    for category in CATEGORIES:
        assert len(frame.of(category)) >= 8, category
    ids = [t.theme_id for t in frame.themes]
    assert len(ids) == len(set(ids))
    names = {t.category: set() for t in frame.themes}
    for t in frame.themes:
        assert t.name.lower() not in names[t.category]
        names[t.category].add(t.name.lower())
    # Factors the issue and codebook name, under their names.
    condition = {t.name for t in frame.of("condition")}
    barrier = {t.name for t in frame.of("barrier")}
    assert {"Trust and mutual respect", "Shared vision and moral purpose", "Local authority support"} <= condition
    assert {"Lack of time and workload", "Threats to sustainability", "Competition between schools"} <= barrier


def test_a_frame_file_loads_with_its_version(tmp_path):
    path = tmp_path / "frame.toml"
    path.write_text(GOOD)
    frame = load_frame(path)
    assert frame.version == "7" and [t.theme_id for t in frame.themes] == ["condition-trust"]
    assert frame.themes[0].query == "Trust: Schools trust each other" and frame.themes[0].examples == ()
    path.write_text(GOOD + 'examples = [" Heads trusted one another to share data. "]\n')
    assert load_frame(path).themes[0].examples == ("Heads trusted one another to share data.",)


def test_every_bundled_frame_theme_has_example_sentences_of_its_own():
    """Written from each theme's definition: 24 full sentences each (frame version 4), none shared between themes."""
    frame = default_frame()
    seen = set()
    for theme in frame.themes:
        assert len(theme.examples) == 24, theme.theme_id
        for sentence in theme.examples:
            assert sentence not in seen and 8 <= len(sentence.split()) <= 45 and sentence.endswith("."), sentence
            seen.add(sentence)


@pytest.mark.parametrize("text, problem", [
    (None, "does not exist"),
    ("version = ", "not valid TOML"),
    (GOOD.replace('version = "7"', ""), "version"),
    (GOOD + '\n[[barriers]]\nkey = "x"\nname = "X"\ndescription = "y"\n', "unknown category 'barriers'"),
    (GOOD.replace('key = "trust"', 'key = "Trust Me"'), "lower-case words"),
    (GOOD.replace('description = "Schools trust each other"', ""), "needs key, name and description"),
    (GOOD + '\n[[condition]]\nkey = "trust"\nname = "Other"\ndescription = "y"\n', "repeats a key or name"),
    (GOOD + 'examples = "Schools trusted each other."\n', "examples must be a list of sentences"),
    (GOOD + 'examples = ["Schools trusted each other.", ""]\n', "examples must be a list of sentences"),
])
def test_a_bad_frame_file_gets_a_coded_error_naming_it(tmp_path, text, problem):
    path = tmp_path / "frame.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError) as error:
        load_frame(path)
    assert str(error.value).startswith("E053") and str(path) in str(error.value) and problem in str(error.value)


def test_changing_the_frame_changes_the_fit_key(tmp_path):
    path = tmp_path / "frame.toml"
    path.write_text(GOOD)
    mine = load_frame(path)
    assert fit_key(ThemeParams(), "m", mine) != fit_key(ThemeParams(), "m", default_frame())
    assert themes_input_hash([], ThemeParams(), "m", frame=mine) != themes_input_hash([], ThemeParams(), "m")
