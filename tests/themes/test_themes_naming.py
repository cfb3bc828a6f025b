"""Emergent themes are named by a noun phrase of their own sentences: specific, unique, not generic."""

import numpy as np

from collabmine import store
from collabmine.categories import CATEGORIES
from collabmine.themes import gate
from collabmine.themes.naming import GENERIC_NAME_WORDS, MAX_WORDS, candidate_phrases, name_themes


def test_candidates_are_trimmed_noun_phrases_keeping_acronyms():
    texts = ["The managed moves protocol was agreed by all the heads.",
             "A managed moves protocol now covers every secondary school.",
             "The new LEA advisers visited the schools.", "Support was given."]
    found = candidate_phrases(texts)
    assert found["managed moves protocol"][0] == 2
    assert found["lea advisers"][1] == "LEA advisers"          # "new" (generic) trimmed, capitals kept
    assert "support" not in found and "the managed moves protocol" not in found


def test_names_are_unique_specific_and_never_a_generic_word(embedder):
    themes = [["The managed moves protocol was agreed by the fair access panel.",
               "A managed moves protocol now covers every secondary school.",
               "The fair access panel meets every month.", "Support was given to heads."],
              ["Pupils at risk of exclusion were placed through the managed moves protocol.",
               "The managed moves protocol reduced permanent exclusions.", "Exclusions fell sharply in the area.",
               "Permanent exclusions fell."]]
    centroids = np.asarray(embedder.model.encode([" ".join(t) for t in themes], normalize_embeddings=True))
    names = name_themes(themes, centroids, embedding_model=embedder.model, taken=["Managed moves protocol"])
    assert all(names) and len({n.lower() for n in names}) == 2
    assert names[0] == "Fair access panel"
    assert "managed moves protocol" not in {n.lower() for n in names}    # taken by another theme
    for name in names:
        assert name.lower() not in GENERIC_NAME_WORDS and len(name.split()) <= MAX_WORDS


def test_the_corpus_themes_have_unique_readable_names(themed):
    con = store.connect(themed.store_path, create=False)
    rows = con.execute("SELECT category, kind, label FROM themes").fetchall()
    con.close()
    for category in CATEGORIES:
        names = [r["label"].lower() for r in rows if r["category"] == category]
        assert len(names) == len(set(names)), category
    # Named emergent themes earned their name (on this corpus the pool's clusters earn none: every
    # one stays an unnamed cluster, listed with the reason).
    emergent = [r["label"] for r in rows if r["kind"] == "emergent"]
    assert all(gate.name_problem(name) is None for name in emergent), emergent
    assert all(r["kind"] in ("frame", "emergent", "cluster") for r in rows)
    for name in emergent:
        assert name.lower() not in GENERIC_NAME_WORDS, name
        assert "," not in name and len(name.split()) <= MAX_WORDS, name   # a phrase, not a keyword list
