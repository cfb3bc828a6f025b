import json

import numpy as np
import pytest

from collabmine import tag
from collabmine.errors import ModelError
from collabmine.lexicon import CATEGORIES, heading_categories


@pytest.mark.parametrize("text,category", [
    ("There was a lack of trust between the schools.", "barrier"),
    ("Without dedicated time, the work stalled.", "barrier"),
    ("Heads said there was no clear vision for the partnership.", "barrier"),
    ("There is a level of trust that operates because we are not competing.", "condition"),
])
def test_absence_and_negation_rules(text, category):
    rules = tag.rule_evidence(text)
    assert rules[category][0] > 0, rules
    assert any("absence" in r for r in rules[category][1])


def test_absence_of_condition_is_not_a_condition_cue():
    assert not any("trust" in r for r in tag.rule_evidence("There was a lack of trust.")["condition"][1])
    assert "condition" in tag.negated_categories("There was a lack of trust.")
    assert "barrier" in tag.negated_categories("Trust grew because we were not competing.")
    assert tag.negated_categories("Trust between schools grew.") == set()


def test_heading_cues():
    assert heading_categories(["7 Issues and challenges in partnership working", "7.1.1 Time"]) == {"barrier"}
    assert heading_categories(["Account of practice 2", "Factors important to the success of the collaboration"]) == {"condition"}
    assert heading_categories(["Impact of inter-school collaboration", "Student outcomes"]) == {"impact"}
    assert heading_categories(["2 Methodology", "2.2 Selection of areas"]) == {"none"}


def _toy_model(dim=8):
    rng = np.random.default_rng(0)
    examples = rng.normal(size=(len(tag.example_texts()), dim)).astype(np.float32)
    return tag.TaggerModel(rng.normal(size=(4, dim)).astype(np.float32), np.zeros(4, dtype=np.float32), examples,
                           {c: 0.3 for c in ("structure", "impact", "condition", "barrier")},
                           {"tagger_version": tag.TAGGER_VERSION, "codebook_examples_sha256": tag.examples_hash()})


def test_scoring_is_deterministic_and_explained():
    model = _toy_model()
    texts = ["Lack of time was the main barrier.", "The federation had an executive headteacher."]
    vectors = np.random.default_rng(1).normal(size=(2, 8)).astype(np.float32)
    a = tag.score_spans(texts, [["Challenges"], []], vectors, model)
    b = tag.score_spans(texts, [["Challenges"], []], vectors, model)
    assert [[(t.category, t.score, t.explanation) for t in ts] for ts in a] == \
           [[(t.category, t.score, t.explanation) for t in ts] for ts in b]
    barrier = next(t for t in a[0] if t.category == "barrier")
    assert "rules:" in barrier.explanation and "classifier p=" in barrier.explanation
    assert "codebook example p=" in barrier.explanation
    assert all(0.0 <= t.score <= 1.0 for ts in a for t in ts)


def test_artefact_round_trip_missing_and_stale(tmp_path):
    with pytest.raises(ModelError, match="E040"):
        tag.load(tmp_path / "nothing")
    model = _toy_model()
    tag.save(model, tmp_path / "m")
    loaded = tag.load(tmp_path / "m")
    assert np.allclose(loaded.coef, model.coef) and loaded.thresholds == model.thresholds
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    manifest["tagger_version"] = "0"
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="E042"):
        tag.load(tmp_path / "m")
    manifest.update(tagger_version=tag.TAGGER_VERSION, codebook_examples_sha256="edited")
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="E043"):
        tag.load(tmp_path / "m")


def test_example_evidence_picks_the_nearest_example_of_each_category():
    model = _toy_model(dim=len(tag.example_texts()))
    model.examples = np.eye(len(tag.example_texts()), dtype=np.float32)  # example i is axis i
    first_barrier = list(tag.example_classes()).index("barrier")
    p, nearest, similarity = model.example_evidence(model.examples[[first_barrier]])
    k = CATEGORIES.index("barrier")
    assert nearest[0, k] == first_barrier and similarity[0, k] == 1.0
    assert p[0].argmax() == k and 0.99 < p[0, k] <= 1.0
    none_row = model.examples[[len(tag.example_texts()) - 1]]  # the last example is "none"
    assert model.example_evidence(none_row)[0].max() < 0.01


def test_committed_tagger_manifest_is_complete():
    from conftest import ROOT

    manifest = json.loads((ROOT / "models" / "tagger" / "manifest.json").read_text())
    assert manifest["tagger_version"] == tag.TAGGER_VERSION
    for key in ("training_data_sha256", "embedder", "thresholds", "versions", "weak_label_counts",
                "heading_prototypes", "heading_min_similarity"):
        assert key in manifest


def test_heading_cue_is_the_deepest_heading_close_to_a_prototype():
    names = tag.prototype_texts()
    model = _toy_model(dim=len(names))
    model.heading_prototypes = np.eye(len(names), dtype=np.float32)  # prototype i is axis i
    barrier = list(tag.prototype_classes()).index("barrier")
    impact = list(tag.prototype_classes()).index("impact")
    none = list(tag.prototype_classes()).index("none")

    def axis(i, weight=1.0):
        v = np.zeros(len(names), dtype=np.float32)
        v[i] = weight
        return v

    vectors = {"Impact": axis(impact), "Hurdles": axis(barrier), "Faint": axis(barrier, 0.5), "Methods": axis(none)}
    cues = model.heading_cues([["Impact", "Hurdles"], ["Impact", "Faint"], ["Methods"], []], vectors)
    assert cues[0][:3] == ("barrier", "Hurdles", names[barrier])      # the deepest heading decides
    assert cues[1][:2] == ("impact", "Impact")                         # too faint: its parent decides
    assert cues[2][0] == "none" and cues[3] is None
    texts, paths = ["x"] * 3, [["Impact", "Hurdles"], ["Methods"], []]
    scored = tag.raw_scores(texts, paths, np.zeros((3, 8), dtype=np.float32), _toy_model(),
                            heading_vectors=None)
    model8 = _toy_model()
    model8.heading_prototypes = model.heading_prototypes
    with_cues = tag.raw_scores(texts, paths, np.zeros((3, 8), dtype=np.float32), model8, heading_vectors=None)
    assert np.array_equal(scored, with_cues)  # no heading vectors: no cues


def test_held_out_labels_never_use_the_held_out_reports_gold():
    """Each item is judged at thresholds tuned on the other reports' items only: flipping the
    held-out report's own gold labels cannot change its predictions."""
    rng = np.random.default_rng(0)
    groups = ["a"] * 6 + ["b"] * 6 + ["c"] * 6
    gold = rng.integers(0, 2, size=(18, 4))
    scores = {g: np.clip(gold * 0.6 + rng.random((18, 4)) * 0.5, 0, 1) for g in ("a", "b", "c")}
    first = tag.held_out_labels(scores, gold, groups)
    flipped = gold.copy()
    flipped[:6] = 1 - flipped[:6]                      # report "a"'s own labels
    again = tag.held_out_labels(scores, flipped, groups)
    assert first[:6] == again[:6]
    thresholds = tag.tune_thresholds(scores["a"][6:], gold[6:])
    assert first[0] == {c for k, c in enumerate(CATEGORIES) if scores["a"][0, k] >= thresholds[c]}
    # A report without a fold of its own gets no labels (not the full-data model's).
    assert tag.held_out_labels({"a": scores["a"]}, gold, groups)[6:] == [set()] * 12
