"""Themes on the real corpus: deterministic, readable, no citation clusters, few outliers."""

import re

import numpy as np
from collabmine import evidence, store
from collabmine import themes as theming
from collabmine.categories import CATEGORIES
from collabmine.themes import citation_names, fit_category, stop_words
from conftest import copy_store


def _snapshot(settings):
    con = store.connect(settings.store_path, create=False)
    try:
        themes = [tuple(r) for r in con.execute(
            "SELECT theme_id, kind, label, keywords, claim, n_sentences, n_reports, confidence, confidence_reasons,"
            " representative_span_id FROM themes ORDER BY theme_id")]
        members = [tuple(r) for r in con.execute("SELECT * FROM theme_members ORDER BY span_id, category")]
        rows = [tuple(r) for r in con.execute('SELECT * FROM evidence ORDER BY theme_id, "rank"')]
    finally:
        con.close()
    return themes, members, rows


def test_two_runs_give_identical_themes_labels_and_evidence(themed, tagged_store, tmp_path):
    again = copy_store(tagged_store, tmp_path / "again")
    theming.build_themes(again)
    evidence.build_evidence(again)
    first, second = _snapshot(themed), _snapshot(again)
    assert first[0] and first[2]
    assert first == second


def test_every_category_has_themes_and_few_outliers(themed):
    con = store.connect(themed.store_path, create=False)
    counts = {r["category"]: (r["n"], r["outliers"]) for r in con.execute(
        "SELECT category, COUNT(*) AS n, SUM(theme_id IS NULL) AS outliers FROM theme_members GROUP BY category")}
    per_category = dict(con.execute("SELECT category, COUNT(*) FROM themes GROUP BY category").fetchall())
    tags = dict(con.execute("SELECT category, COUNT(*) FROM tags GROUP BY category").fetchall())
    con.close()
    assert set(per_category) == set(CATEGORIES) and min(per_category.values()) >= 3
    for category, (n, outliers) in counts.items():
        assert n == tags[category]                 # every tagged sentence is accounted for
        # Outliers are sentences the assignment model put in no frame theme that joined no
        # cluster (barrier: 42 of 329 on this corpus).
        assert outliers / n < 0.15, (category, outliers, n)


def test_no_label_is_made_of_names_or_citation_fragments(themed):
    con = store.connect(themed.store_path, create=False)
    names = theming.corpus_names(con)
    labels = [(r[0], r[1]) for r in con.execute("SELECT category, label FROM themes")]
    con.close()
    assert {"chapman", "muijs", "rudd", "hargreaves"} & names  # authors the corpus cites
    for _, label in labels:
        words = set(re.findall(r"[a-z][a-z-]+", label))
        assert not words & names, (label, words & names)
        assert not re.search(r"\d", label), label
    # No two themes of a category share a label (a structure and a condition theme may: the
    # category is always shown with the label).
    assert len(set(labels)) == len(labels), labels


def test_theme_models_are_saved_with_their_parameters(themed):
    import json

    saved = {}
    for category in CATEGORIES:
        folder = themed.out_dir / "themes" / category
        params = json.loads((folder / "params.json").read_text())
        assert params["params"]["random_state"] == 42 and params["category"] == category
        # A clustered pool saves its BERTopic model; an empty pool has none to save.
        saved[category] = (folder / "topic_embeddings.safetensors").exists()
        if params["sentences"] == 0:
            assert not saved[category] and params["themes"] == 0
    assert any(saved.values())


def test_citation_names_keep_corpus_words():
    texts = ["Chapman (2008) and Muijs et al. (2010) found that trust matters.",
             "As Hill, 2012 argued, schools in an Academy Trust share staff.", "trust, time and collaboration", "collaboration in lower case"]
    names = citation_names(texts, ["Rudd, P., Lines, A. (2004) Collaboration. Slough: NFER."], texts,
                           authors=["Peter Rudd"])
    assert {"chapman", "muijs", "hill", "rudd", "lines", "peter"} <= names
    assert "trust" not in names and "collaboration" not in names


def test_small_category_becomes_one_theme_without_clustering():
    texts = ["Lack of time was the main barrier.", "Time for meetings was scarce.", "Staff had no time to plan."]
    vectors = np.eye(3, 8, dtype=np.float32)
    result = fit_category("barrier", texts, vectors, stop=stop_words(set()), embedding_model=None)
    assert len(result.themes) == 1 and result.themes[0].members == [0, 1, 2] and not result.outliers
    assert "time" in result.themes[0].label


def test_large_category_is_fitted_on_a_sample_and_the_rest_assigned(themed):
    from collabmine.embed import embed_cached
    from collabmine.themes import ThemeParams, fit_sample

    # The themed store: the tagged corpus's tags, with every tagged sentence's vector cached.
    con = store.connect(themed.store_path, create=False)
    largest = max(CATEGORIES, key=lambda c: sum(r["category"] == c for r in store.tagged_spans(con)))
    rows = [r for r in store.tagged_spans(con) if r["category"] == largest]
    texts = [r["text"] for r in rows]
    vectors = embed_cached(texts, con=con)
    con.close()
    params = ThemeParams(max_fit_sentences=400)
    sample = fit_sample(texts, 400)
    assert len(sample) == 400 and sample == fit_sample(list(texts), 400)
    # The sample does not depend on the order the sentences come in.
    order = list(range(len(texts)))[::-1]
    assert sorted(texts[i] for i in sample) == sorted(texts[order[i]] for i in fit_sample([texts[i] for i in order], 400))
    result = fit_category(largest, texts, vectors, stop=stop_words(set()), embedding_model=None, params=params)
    placed = [i for t in result.themes for i in t.members] + result.outliers
    assert sorted(placed) == list(range(len(texts)))  # every sentence exactly once
    # Repeated sentences are clustered once (fit_category), so the sample is drawn from the
    # distinct texts (each at its first position) and the assigned rest counts distinct texts
    # (a category's tags can include a sentence twice).
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    distinct = sorted(first.values())
    assert len(texts) > 800 and result.fit_set == [distinct[j] for j in fit_sample([texts[i] for i in distinct], 400)]
    assert result.params["fitted_on"] == 400 and result.params["assigned"] == len(set(texts)) - 400
    for theme in result.themes:
        for i, similarity in zip(theme.members, theme.similarities):
            if i not in set(result.fit_set):
                assert similarity >= params.outlier_threshold
                assert abs(similarity - float(vectors[i] @ theme.centroid)) < 1e-4
    again = fit_category(largest, texts, vectors, stop=stop_words(set()), embedding_model=None, params=params)
    assert [t.members for t in again.themes] == [t.members for t in result.themes]


def _members(settings) -> dict[tuple[str, str], tuple]:
    con = store.connect(settings.store_path, create=False)
    try:
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in con.execute(
            "SELECT span_id, category, theme_id, similarity, fitted FROM theme_members")}
    finally:
        con.close()


def test_a_few_new_sentences_join_the_existing_themes_without_a_refit(themed, tmp_path):
    from collabmine.explore import review

    settings = copy_store(themed, tmp_path / "placed")
    before = _members(settings)
    con = store.connect(settings.store_path, create=False)
    labels_before = dict(con.execute("SELECT theme_id, label FROM themes").fetchall())
    fitted_barrier = sum(1 for (_, c), v in before.items() if c == "barrier" and v[2])
    # Analysts add "barrier" to a few argument sentences the model did not tag with it.
    added = [r[0] for r in con.execute(
        "SELECT span_id FROM spans s WHERE excluded=0 AND kind='paragraph' AND NOT EXISTS "
        "(SELECT 1 FROM effective_tags t WHERE t.span_id=s.span_id AND t.category='barrier') "
        "ORDER BY span_id LIMIT 5")]
    for span_id in added:
        review.set_categories(con, span_id=span_id, categories=review.current_categories(con, span_id) | {"barrier"},
                              reviewer="test")
    con.close()
    assert 5 <= 0.1 * fitted_barrier  # within the refit fraction

    outcome = theming.build_themes(settings)
    after = _members(settings)
    con = store.connect(settings.store_path, create=False)
    frame_ids = {r[0] for r in con.execute("SELECT theme_id FROM themes WHERE kind='frame'")}
    con.close()
    # The model puts some in frame themes; those it leaves to the pool are placed, not refitted.
    pooled = [s for s in added if after[(s, "barrier")][0] not in frame_ids]
    assert outcome.refitted == [] and outcome.placed == len(pooled)
    for span_id in added:
        theme_id, similarity, fitted = after[(span_id, "barrier")]
        assert fitted == 0 and (theme_id is None or similarity >= theming.ThemeParams().outlier_threshold)
    # Nothing else moved (a frame theme's similarities shift with its centroid when new sentences
    # join it; memberships do not), and the themes keep their ids and labels.
    assert ({k: (v[0], v[2]) for k, v in after.items() if k[0] not in added or k[1] != "barrier"}
            == {k: (v[0], v[2]) for k, v in before.items()})
    con = store.connect(settings.store_path, create=False)
    assert dict(con.execute("SELECT theme_id, label FROM themes").fetchall()) == labels_before
    con.close()

    # --refit-themes clusters every category afresh, and the new sentences are then part of the fit.
    forced = theming.build_themes(settings, force=True)
    assert forced.refitted == list(CATEGORIES)
    # fitted=1 marks the pool sentences that were clustered: after a refit, every sentence outside a
    # frame theme (the model's assignment is not clustering).
    con = store.connect(settings.store_path, create=False)
    frame_ids = {r[0] for r in con.execute("SELECT theme_id FROM themes WHERE kind='frame'")}
    con.close()
    assert all(v[2] == 1 for v in _members(settings).values() if v[0] not in frame_ids)


def test_many_new_sentences_refit_only_their_category(themed, tmp_path):
    from collabmine.explore import review

    settings = copy_store(themed, tmp_path / "refit")
    con = store.connect(settings.store_path, create=False)
    n_condition = con.execute("SELECT COUNT(*) FROM effective_tags WHERE category='condition'").fetchone()[0]
    rejected = [r[0] for r in con.execute(
        "SELECT span_id FROM effective_tags WHERE category='condition' ORDER BY span_id LIMIT ?",
        (int(0.2 * n_condition),))]
    for span_id in rejected:
        review.record_review(con, span_id=span_id, action="reject", category="condition", reviewer="test")
    con.close()
    outcome = theming.build_themes(settings)
    assert outcome.refitted == ["condition"] and outcome.placed == 0
    assert not any(c == "condition" and s in rejected for s, c in _members(settings))


def test_repeated_sentences_are_clustered_once_and_follow_their_text(themed):
    """A corpus of copies (the same sentences in many reports) gives the themes of the distinct
    sentences, every copy in its text's theme — not a category of outliers."""
    from collabmine.embed import embed_cached

    # The themed store: the tagged corpus's tags, with every tagged sentence's vector cached.
    con = store.connect(themed.store_path, create=False)
    rows = [r for r in store.tagged_spans(con) if r["category"] == "barrier"]
    texts = list(dict.fromkeys(r["text"] for r in rows))
    vectors = embed_cached(texts, con=con)
    con.close()
    n = len(texts)
    once = fit_category("barrier", texts, vectors, stop=stop_words(set()), embedding_model=None)
    thrice = fit_category("barrier", texts * 3, np.vstack([vectors] * 3), stop=stop_words(set()), embedding_model=None)
    assert thrice.n_sentences == 3 * n and thrice.params["distinct_texts"] == n
    assert [t.label for t in thrice.themes] == [t.label for t in once.themes]
    for a, b in zip(once.themes, thrice.themes):
        assert b.members == sorted(i + k * n for i in a.members for k in range(3))
        assert sorted(b.similarities) == sorted(a.similarities * 3)
    assert thrice.outliers == sorted(i + k * n for i in once.outliers for k in range(3))
