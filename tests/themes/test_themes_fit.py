"""Clustering (BERTopic, with its zero-shot frame step for library use), the guards after it, and
the corpus's themes against the frame."""

import json

import numpy as np
from conftest import ROOT

from collabmine.themes import ThemeParams, default_frame, fit_category, settle_topics, stop_words
from collabmine.themes.fit import frame_similarities

CODED = ROOT / "models" / "themes" / "coded" / "themes_train_v2.jsonl"


def _vectors(directions: list[int], dim: int = 8, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = np.eye(dim, dtype=np.float32)[directions] + noise * rng.normal(size=(len(directions), dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_frame_theme_with_too_few_sentences_is_dissolved_and_its_sentences_placed():
    frame_of = {0: default_frame().of("condition")[0]}
    topics = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    vectors = _vectors([0, 1, 1, 1, 1, 1, 1, 1])
    settled = settle_topics(topics, vectors, frame_of, params=ThemeParams(min_frame_sentences=5), cap=100)
    assert 0 not in settled
    # The dissolved sentence at direction 0 is nowhere near theme 1: it stays an outlier.
    assert settled[0] == -1 and settled[1] == 1 and (settled[2:] == 1).all()


def test_no_theme_grows_beyond_the_cap_and_outliers_join_a_theme_with_room():
    topics = np.array([0] * 6 + [1] * 2 + [-1] * 2)
    vectors = _vectors([0] * 6 + [1] * 2 + [0, 1])
    settled = settle_topics(topics, vectors, {}, params=ThemeParams(merge_similarity=0.99), cap=4)
    assert max(np.bincount(settled[settled >= 0])) <= 4
    assert settled[-1] == 1            # an outlier near theme 1, which has room


def test_near_identical_themes_merge_into_the_frame_theme():
    frame_of = {1: default_frame().of("barrier")[0]}
    topics = np.array([0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2])
    vectors = _vectors([0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3])
    settled = settle_topics(topics, vectors, frame_of, params=ThemeParams(), cap=100)
    assert set(settled[:8]) == {1} and set(settled[8:]) == {2}


def test_two_frame_themes_are_never_merged():
    frame = default_frame().of("barrier")
    topics = np.array([0] * 5 + [1] * 5)
    settled = settle_topics(topics, _vectors([0] * 10), {0: frame[0], 1: frame[1]}, params=ThemeParams(), cap=100)
    assert set(settled[:5]) == {0} and set(settled[5:]) == {1}


def test_sentences_close_to_a_frame_theme_join_it_under_its_name(embedder):
    """The real encoder: sentences about trust join "Trust and mutual respect"; others do not."""
    texts = ["There was a high level of trust between the headteachers of the partner schools.",
             "Mutual respect and trust between schools made the partnership work.",
             "Trust between the schools' leaders grew as they got to know each other.",
             "Openness and trusting relationships between heads were essential.",
             "Heads said that trust and mutual respect underpinned their collaboration.",
             "The schools shared a minibus to take pupils to the sports centre.",
             "The federation was formed in 2004 from two primary schools."]
    vectors = np.asarray(embedder.model.encode(texts, normalize_embeddings=True))
    frame = default_frame().of("condition")
    similarity = frame_similarities(frame, vectors, embedder.model)
    assert similarity.shape == (len(texts), len(frame))
    result = fit_category("condition", texts, vectors, stop=stop_words(set()), embedding_model=embedder.model,
                          frame=frame)
    trust = [t for t in result.themes if t.kind == "frame"]
    assert [t.label for t in trust] == ["Trust and mutual respect"]
    assert trust[0].members == [0, 1, 2, 3, 4]
    rest = [t for t in result.themes if t.kind == "emergent"]
    assert [t.members for t in rest] == [[5, 6]]


def test_the_corpus_themes_follow_the_frame_and_the_guards(themed):
    from collabmine import store

    con = store.connect(themed.store_path, create=False)
    themes = con.execute("SELECT theme_id, category, kind, label, n_sentences FROM themes").fetchall()
    totals = dict(con.execute("SELECT category, COUNT(*) FROM theme_members GROUP BY category").fetchall())
    trust = [r[0] for r in con.execute("SELECT s.text FROM theme_members m JOIN spans s USING (span_id)"
                                       " WHERE m.theme_id = 'condition-trust'")]
    con.close()
    frame = {t.theme_id: t for t in default_frame().themes}
    framed = [t for t in themes if t["kind"] == "frame"]
    assert len(framed) >= 0.6 * len(frame)      # most of the frame is found in four reports
    for t in framed:
        assert frame[t["theme_id"]].name == t["label"] and frame[t["theme_id"]].category == t["category"]
    # Emergent themes and clusters: the clustering's collapse guard (no theme above 15% of its
    # category). Frame themes: the assignment model follows the coders, so no frame theme takes
    # more than twice its share of the category's coded pairs (or 15%, whichever is more).
    coded = [json.loads(line) for line in CODED.read_text().splitlines()]
    for t in themes:
        key = t["theme_id"].split("-", 1)[1]
        pairs = [r for r in coded if r["category"] == t["category"]]
        share = sum(r["themes"][0] == key for r in pairs) / len(pairs) if t["kind"] == "frame" else 0.0
        assert t["n_sentences"] <= max(0.15, 2 * share) * totals[t["category"]] + 1, t["theme_id"]
    # Homonyms kept apart: trust between people, not an academy trust, in the condition theme.
    assert trust and not [s for s in trust if "Academy Trust" in s or "academy trust" in s.lower()
                          or "Umbrella Trust" in s]


def test_placing_sentences_a_block_at_a_time_places_them_as_all_at_once(monkeypatch):
    """Large categories are placed in blocks (a 50 MB report's 231,000 structure sentences made a
    0.7 GB normalised copy at once); blocks of 7 give the memberships and outliers of one block."""
    from collabmine.themes import fit as fit_lib

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(100, 8)).astype(np.float32)

    def placed(block: int):
        monkeypatch.setattr(fit_lib, "PLACE_ROWS_AT_A_TIME", block)
        centroids = [v / np.linalg.norm(v) for v in np.random.default_rng(1).normal(size=(3, 8))]
        themes = fit_lib.CategoryThemes("impact", [fit_lib.Theme("impact", k, f"t{k}", [], [], [], c)
                                                  for k, c in enumerate(centroids)], [], 100)
        fit_lib.place_nearest(themes, list(range(100)), vectors, threshold=0.2)
        return [(t.members, t.similarities) for t in themes.themes], themes.outliers

    whole = placed(10_000)
    assert whole == placed(7)
    assert whole[1] and all(members for members, _ in whole[0])   # some outliers, every theme used
