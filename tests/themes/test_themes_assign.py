"""The assignment model: trained on coded pairs, deterministic, saved and loaded without change,
and readable errors for a bad coded file."""

import json

import numpy as np
import pytest
from collabmine.errors import DataError
from collabmine.themes import assign, examples
from collabmine.themes.frame import default_frame
from conftest import ROOT


@pytest.fixture(scope="module")
def coded():
    records = examples.read_coded(ROOT / "models" / "themes" / "coded" / examples.CODED_FILE)
    return records, examples.examples_of(records, default_frame())


@pytest.fixture(scope="module")
def encode(embedder, tmp_path_factory):
    """The embedder's vectors through a store's cache, as the themes stage reads them: each text
    is encoded once for the module (its vector does not depend on what it is encoded with), and
    the frame's and the coded pairs' texts come with the shipped model (tests below check they
    are the embedder's)."""
    from collabmine import embed, store
    from collabmine.settings import load_settings
    from collabmine.themes import assigners

    con = store.connect(tmp_path_factory.mktemp("assign-cache") / "cache.sqlite")
    for shipped in (assigners.shipped_frame_vectors, assigners.shipped_coded_vectors):
        embed.seed_cache(con, shipped(load_settings(), model=embedder.name), model=embedder.name)
    yield lambda texts: embed.embed_cached(list(texts), embedder=embedder, con=con)
    con.close()


def test_the_coded_pairs_use_frame_keys_and_carry_their_context(coded):
    records, train = coded
    frame = default_frame()
    assert len(train) == 1982
    keys = {(t.category, t.key) for t in frame.themes}
    assert all(e.key == "other" or (e.category, e.key) in keys for e in train)
    # Every re-coded pair was `other` in version 1 and is now a key the frame added in version 2.
    for r in records:
        if r["themes"] != r["themes_v1"]:
            added = [t for t in r["themes"] if t not in r["themes_v1"]]
            assert "other" in r["themes_v1"] and all(
                next(f for f in frame.of(r["category"]) if f.key == k).since == "2" for k in added)
    assert sum(bool(r["previous"]) for r in records) > 1900


def test_training_is_deterministic_and_a_saved_model_assigns_the_same(coded, encode, tmp_path):
    _, train = coded
    frame = default_frame()
    subset = [e for e in train if e.category == "barrier"]
    first = assign.train(subset, frame, encode=encode)
    second = assign.train(subset, frame, encode=encode)
    inputs = assign.read_inputs([e.text for e in subset[:40]], [e.previous for e in subset[:40]],
                                [e.heading for e in subset[:40]], encode)
    a, b = first.assign("barrier", inputs), second.assign("barrier", inputs)
    assert a.keys == b.keys and np.array_equal(a.distribution, b.distribution)
    assign.save(first, tmp_path)
    loaded = assign.load(tmp_path).assign("barrier", inputs)
    assert loaded.keys == a.keys and np.allclose(loaded.distribution, a.distribution, atol=1e-12)
    assert np.allclose(a.distribution.sum(axis=1), 1.0)


def test_the_shipped_model_matches_the_frame_and_states_its_figures():
    model = assign.load(ROOT / "models" / "themes")
    frame = default_frame()
    assert model.frame_version == frame.version
    assert set(model.models) == {"structure", "impact", "condition", "barrier"}
    measured = model.card["measured"]["leave_one_report_out"]
    assert 0 < measured["macro_f1"] < 1 and measured["pairs"] == 1982
    for category, m in model.models.items():
        assert "other" in m.classes and 0.25 <= m.temperature <= 8


def test_a_bad_coded_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "coded.jsonl"
    path.write_text(json.dumps({"text": "x", "category": "barrier", "themes": ["time-workload"]}) + "\n{not json\n")
    with pytest.raises(DataError, match=r"coded.jsonl, line 2"):
        examples.read_coded(path)
    path.write_text(json.dumps({"text": "x", "category": "nonsense", "themes": []}) + "\n")
    with pytest.raises(DataError, match="E054"):
        examples.read_coded(path)


def test_the_decision_rule_sends_what_fits_no_frame_theme_to_the_pool():
    params = assign.AssignParams()
    assert assign.decide(np.array([0.2, 0.5, 0.3]), ["a", "other", "b"], params) == (None, 0.5)
    assert assign.decide(np.array([0.6, 0.3, 0.1]), ["a", "other", "b"], params) == ("a", 0.6)
    strict = assign.AssignParams(min_probability=0.7)
    assert assign.decide(np.array([0.6, 0.3, 0.1]), ["a", "other", "b"], strict)[0] is None


def test_a_theme_no_coded_sentence_teaches_is_learned_from_the_frames_examples(coded, encode):
    """A report may discuss a theme the coded reports never did: the frame's example sentences
    (written from its definition) teach it. Without them the theme is no class of the model."""
    _, train = coded
    frame = default_frame()
    without = [e for e in train if e.category == "barrier" and e.key != "distance" and "distance" not in e.also]
    sentence = "Because the villages are some twenty miles apart, teachers could rarely get to each other's schools."
    inputs = assign.read_inputs([sentence], [""], [""], encode)
    taught = assign.train(without, frame, encode=encode)
    assert taught.assign("barrier", inputs).keys == ["distance"]
    bare = assign.train(without, frame, encode=encode,
                        params=assign.AssignParams(frame_examples=0, example_queries=False, description_examples=0))
    assert "distance" not in bare.models["barrier"].classes


def test_the_shipped_frame_vectors_are_the_frames_texts_as_the_embedder_encodes_them(embedder):
    """A run copies them into the store's cache instead of encoding ~1,300 texts: they must be
    exactly what the embedder gives, for every text of the current frame."""
    from collabmine.embed import text_hash
    from collabmine.settings import load_settings
    from collabmine.themes import assigners

    settings = load_settings()
    shipped = assigners.shipped_frame_vectors(settings, model=embedder.name)
    texts = assigners.frame_texts(default_frame())
    assert {text_hash(t) for t in texts} <= set(shipped)
    sample = texts[::97]
    assert np.array_equal(np.stack([shipped[text_hash(t)] for t in sample]), embedder.encode(sample))
    assert assigners.shipped_frame_vectors(settings, model="another-model") == {}


def test_the_shipped_coded_vectors_are_the_coded_texts_as_the_embedder_encodes_them(embedder, coded):
    """A model trained for analysts' edits reads them instead of encoding ~5,000 texts; the
    texts it still lacks are encoded."""
    from collabmine.embed import text_hash
    from collabmine.settings import load_settings
    from collabmine.themes import assigners

    shipped = assigners.shipped_coded_vectors(load_settings(), model=embedder.name)
    texts = list(dict.fromkeys(assigners.coded_texts(coded[1])))
    assert {text_hash(t) for t in texts} == set(shipped)
    sample = texts[::211]
    assert np.array_equal(np.stack([shipped[text_hash(t)] for t in sample]), embedder.encode(sample))
    encoded = []

    def encode(batch):
        encoded.extend(batch)
        return embedder.encode(batch)

    fresh = "A sentence no coder read."
    vectors = assigners.reading_shipped(encode, shipped)([sample[0], fresh, sample[1]])
    assert encoded == [fresh]
    assert np.array_equal(vectors, embedder.encode([sample[0], fresh, sample[1]]))


def test_a_set_of_analyst_examples_seen_recently_is_not_trained_again(tmp_path, monkeypatch):
    """The model trained on the coded pairs plus the analysts' examples is kept per set of examples
    (the last few): a report removed and added back, or an edit undone, loads the earlier one."""
    from collabmine.settings import load_settings
    from collabmine.themes import assigners

    trained = []

    def fake_train(examples, frame, **options):   # the real one takes ~8-17 s a category
        trained.append(examples[-1].text)
        return assign.ThemeAssigner({}, options["params"], frame.version)

    monkeypatch.setattr(assign, "train", fake_train)
    monkeypatch.setattr(assigners, "_LOADED", {})
    settings, frame = load_settings(out_dir=tmp_path), default_frame()

    def use(name: str) -> None:
        assigners._LOADED.clear()   # as a new run's process
        assigners.assigner_for(settings, frame, [assign.Example("barrier", "time", name, origin="move")], encode=None)

    for name in ("a", "b", "a", "c", "d", "e", "a", "b"):
        use(name)
    # "a" was used again before "b" and stays among the last four; "b" was pruned and is trained again.
    assert trained == ["a", "b", "c", "d", "e", "b"]
    kept = [d for d in assigners.local_dir(settings).iterdir() if d.is_dir()]
    assert len(kept) == assigners.LOCAL_MODELS_KEPT


def test_an_analysts_example_retrains_only_its_own_category(tmp_path, embedder, encode):
    """The categories an edit does not touch keep the shipped model as it is (training them again
    on the same examples would give it again): their assignments do not move, and the edit costs
    one category's fitting, not four."""
    from collabmine.settings import load_settings
    from collabmine.themes import assigners

    settings, frame = load_settings(out_dir=tmp_path), default_frame()
    shipped = assign.load(assigners.shipped_dir(settings))
    fitted = []
    real_fit = assign.fit_category

    def counting_fit(category, *args, **options):
        fitted.append(category)
        return real_fit(category, *args, **options)

    moved = assign.Example("barrier", "time", "Staff could not be released from lessons to meet.", origin="move")
    assigners._LOADED.clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(assign, "fit_category", counting_fit)
            local = assigners.assigner_for(settings, frame, [moved], encode=encode, model_name=embedder.name)
    finally:
        assigners._LOADED.clear()
    assert fitted == ["barrier"] and local.card["shipped_categories"] == ["condition", "impact", "structure"]
    for category in ("structure", "impact", "condition"):
        assert np.array_equal(local.models[category].coef, shipped.models[category].coef)
        assert local.models[category].temperature == shipped.models[category].temperature
    assert not np.array_equal(local.models["barrier"].coef, shipped.models["barrier"].coef)
    assert local.models["barrier"].temperature == shipped.models["barrier"].temperature
