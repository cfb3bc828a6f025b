"""Hybrid retrieval, the notebook API and the researcher/analyst CLI commands on the real corpus."""

import pytest
from typer.testing import CliRunner

import collabmine
from collabmine.explore import query
from collabmine.cli import app
from collabmine.errors import ReviewError
from conftest import copy_store


@pytest.fixture(scope="module")
def cm(themed, tmp_path_factory):
    settings = copy_store(themed, tmp_path_factory.mktemp("api"))
    with collabmine.open(settings.out_dir) as handle:
        yield handle


def test_fts_query_never_passes_user_syntax_through():
    assert query.fts_query('what "NEAR( trust* OR') == '"near" OR "trust"'
    assert query.fts_query("the of and") is None


def test_fusion_rewards_agreement():
    scores = query.fuse([["a", "b", "c"], ["c", "a"]])
    assert max(scores, key=scores.get) == "a" and scores["c"] > scores["b"]


def test_hybrid_finds_words_and_meaning(cm):
    lexical = cm.query("supply cover", mode="lexical", top=10)
    assert all("cover" in t.lower() for t in lexical["text"].head(5))
    # Meaning without the words: none of the top semantic hits need contain "money".
    semantic = cm.query("not enough money", mode="semantic", top=10)
    assert sum("fund" in t.lower() or "financ" in t.lower() or "resourc" in t.lower() for t in semantic["text"]) >= 5
    hybrid = cm.query("not enough money for supply cover", category="barrier", top=10)
    # Up to 10: fewer when fewer barrier sentences clear the similarity floor.
    assert 5 <= len(hybrid) <= 10 and all("barrier" in c for c in hybrid["categories"])
    assert hybrid["rank"].tolist() == list(range(1, len(hybrid) + 1)) and hybrid["citation"].str.contains(r"\(\d{4}|n\.d\.").all()
    assert hybrid.equals(cm.query("not enough money for supply cover", category="barrier", top=10))  # deterministic
    one = cm.query("leadership", report="Rudd", top=5)
    assert set(one["file"]) == {"002_cb8178d9b34520de.txt"}


@pytest.mark.parametrize("question, category", [
    ("what gets in the way of partnership work", "barrier"), ("what conditions help partnerships succeed", "condition"),
    ("does collaboration improve pupil attainment", "impact"), ("how are federations governed", "structure"),
    ("schools in Shire11", None)])
def test_the_category_a_question_asks_about(question, category):
    assert query.intent(question) == category


def test_search_answers_with_full_distinct_sentences_or_says_no_good_match(cm):
    assert cm.query("purple elephant quantum banana", top=10).empty          # nonsense: no noise listed
    hits = cm.query("what makes collaboration sustainable", top=10)
    assert len(hits) == 10
    for text in hits["text"].head(5):                                       # full sentences first
        assert len(text.split()) >= 6 and not text.rstrip().endswith(("?", ":")), text
    # The literature review states its list of barriers twice, reworded: one copy is shown.
    barriers = cm.query("barriers to inter-school collaboration cited in the literature", top=10)
    listing = [t for t in barriers["text"] if t.startswith("Amongst the most frequent barriers")]
    assert len(listing) == 1
    assert (barriers["similarity"] >= query.SIMILARITY_FLOOR).all()


@pytest.mark.parametrize("kwargs, code", [
    ({"question": "  "}, "E090"), ({"question": "x", "category": "barriers"}, "E082"),
    ({"question": "x", "report": "no such report"}, "E091"), ({"question": "x", "mode": "fuzzy"}, "E092"),
])
def test_query_errors(cm, kwargs, code):
    with pytest.raises(ReviewError, match=code):
        cm.query(**kwargs)


def test_api_tables(cm):
    assert len(cm.documents) == 4 and len(cm.themes) >= 12
    assert {"quote", "citation", "file", "start", "end"} <= set(cm.evidence.columns)
    assert len(cm.claims) == len(cm.themes)
    row, quotes = cm.theme(cm.themes["theme_id"].iloc[0])
    assert len(quotes) == row["n_sentences"]
    assert len(cm.labels) == len(cm.tags) and cm.reviews.empty
    span = quotes["span_id"].iloc[0]
    cm.review(span, "reject", category=row["category"], reviewer="Ana")
    assert len(cm.labels) == len(cm.tags) - 1 and cm.reviews["reviewer"].tolist() == ["Ana"]
    progress = cm.progress().set_index("category")
    assert progress.loc[row["category"], "rejected"] == 1


def test_cli_commands(themed, tmp_path):
    settings = copy_store(themed, tmp_path / "out")
    out = str(settings.out_dir)
    runner = CliRunner()
    listed = runner.invoke(app, ["themes", "--out", out, "--category", "condition"])
    assert listed.exit_code == 0 and "condition-trust" in listed.output and "barrier-" not in listed.output
    shown = runner.invoke(app, ["theme", "barrier-time-workload", "--out", out, "-n", "2"])
    assert shown.exit_code == 0 and "reported as a barrier to collaboration" in shown.output
    assert shown.output.count("span ") == 2 and "Confidence:" in shown.output and "- adequacy:" in shown.output
    assert runner.invoke(app, ["theme", "nope", "--out", out]).exit_code == 1
    asked = runner.invoke(app, ["query", "time to meet", "--out", out, "-n", "3", "-c", "barrier"])
    assert asked.exit_code == 0 and "3." in asked.output and "barrier" in asked.output
    assert "E082" in runner.invoke(app, ["query", "x", "--out", out, "-c", "nope"]).output

    queued = runner.invoke(app, ["review", "--out", out, "--reviewer", "Ana", "-c", "impact", "--limit", "3"],
                           input="r\nn\nneeds context\na\nq\n")
    assert queued.exit_code == 0, queued.output
    log = tmp_path / "log.csv"
    summary = runner.invoke(app, ["reviews", "--out", out, "--csv", str(log)])
    assert summary.exit_code == 0 and "3 reviews in the audit log" in summary.output
    rows = log.read_text().splitlines()
    assert [r.split(",")[3] for r in rows[1:]] == ["reject", "comment", "accept"]

    exported = runner.invoke(app, ["export", "--out", out])
    assert exported.exit_code == 0 and (settings.out_dir / "export" / "reviews.csv").exists()
    assert (settings.out_dir / "export" / "labels.csv").exists()


@pytest.mark.parametrize("text, expected", [
    ("A number of other issues which may affect the success of partnerships were identified.", True),
    ("The next chapter describes the methodology used for this study of school partnership working.", True),
    ("This and the following chapter examine school partnerships in more depth, looking at the benefits.", True),
    ("Partnerships can be:", True),
    ("The features of a successful partnership are listed as follows (p.26):", True),
    ("Three factors were identified as crucial to success: trust, time and shared goals.", False),
    ("Lack of time was identified as the main barrier.", False),
    ("Many benefits were reported, including improved teaching and shared resources.", False),
])
def test_signposting_and_lead_ins_are_recognised(text, expected):
    from collabmine.evidence import is_signposting

    assert is_signposting(text) is expected


def test_signposting_and_lead_ins_are_never_in_a_querys_top_five(cm):
    from collabmine.evidence import is_signposting

    for question in ("why do partnerships fail", "what gets in the way of school partnerships",
                     "what makes collaboration last", "what are the benefits of collaboration",
                     "how are partnerships organised"):
        top = cm.query(question, top=5)
        assert len(top) == 5 and not any(is_signposting(t) for t in top["text"]), (question, list(top["text"]))
    assert "were identified." not in " ".join(cm.query("why do partnerships fail", top=5)["text"])


def test_search_names_only_named_themes(cm):
    """A cluster's keyword label is not a theme name: search shows it as an unnamed cluster."""
    named = dict(cm._con.execute("SELECT theme_id, label FROM themes WHERE kind IN ('frame', 'emergent')").fetchall())
    clusters = [r[0] for r in cm._con.execute("SELECT theme_id FROM themes WHERE kind NOT IN ('frame', 'emergent')")]
    shown = 0
    for question in ("what makes collaboration last", "why do partnerships fail", "impact on pupils"):
        for themes, ids in zip(cm.query(question, top=20)["themes"], cm.query(question, top=20)["theme_ids"]):
            for label, theme_id in zip(themes, ids):
                assert label == (named[theme_id] if theme_id in named else f"(unnamed cluster {theme_id})")
                shown += 1
    assert shown and clusters   # (the corpus has unnamed clusters for this to mean something)


def test_a_question_naming_a_theme_is_answered_from_it_first(cm):
    """'Rural distance' names the barrier theme Distance and transport: its members come first,
    marked, and the matched theme travels with the hits; a question naming no theme matches none."""
    hits = cm.query("rural schools distance travel barrier collaboration", top=10)
    theme = hits.attrs["theme"]
    assert theme["theme_id"] == "barrier-distance" and theme["name"] == "Distance and transport"
    first = hits[hits["from_theme"]]
    assert 1 <= len(first) <= query.FROM_THEME and first["rank"].tolist() == list(range(1, len(first) + 1))
    assert all("barrier-distance" in ids for ids in first["theme_ids"])
    assert not hits["from_theme"].iloc[len(first):].any() and (hits["score"] > 0).all()
    assert hits.equals(cm.query("rural schools distance travel barrier collaboration", top=10))  # deterministic
    vague = cm.query("what did the evaluation find", top=10)
    assert vague.attrs["theme"] is None and not vague["from_theme"].any()
    # The theme's members answer even below the general similarity floor, and never crowd out `top`.
    heads = cm.query("what happens when the headteacher who set up the partnership leaves", top=3)
    assert heads.attrs["theme"]["theme_id"] == "barrier-head-turnover" and len(heads) == 3 and heads["from_theme"].all()
    assert "The two prime-moving heads have now moved on." in cm.query(
        "what happens when the headteacher who set up the partnership leaves", top=10)["text"].tolist()
    # A short question that is a theme's name matches it; broad questions name no theme.
    assert cm.query("paperwork and bureaucracy", top=5).attrs["theme"]["theme_id"] == "barrier-bureaucracy"
    for broad in ("what makes collaboration last", "what gets in the way of partnership work", "impact on pupils"):
        assert cm.query(broad, top=5).attrs["theme"] is None, broad
    # Only in hybrid mode: lexical and semantic rankings stay what they say they are.
    assert cm.query("rural schools distance travel barrier collaboration", mode="semantic").attrs["theme"] is None


def test_cli_and_web_say_which_theme_answers(themed, tmp_path):
    from fastapi.testclient import TestClient

    from collabmine.explore.web import create_app

    settings = copy_store(themed, tmp_path / "out")
    asked = CliRunner().invoke(app, ["query", "rural schools distance travel barrier collaboration", "--out",
                                     str(settings.out_dir), "-n", "3"])
    assert asked.exit_code == 0 and "Answering from the theme Distance and transport" in asked.output
    page = TestClient(create_app(settings), base_url="http://127.0.0.1").get("/search", params={"q": "rural schools distance travel barrier collaboration"})
    assert page.status_code == 200 and 'data-test="matched-theme"' in page.text
    assert 'href="/themes/barrier-distance"' in page.text and "from the theme</span>" in page.text
    # Each category chip is followed by its own themes.
    assert '<span class="tag barrier">barrier</span><a href="/themes/barrier-distance">' in page.text


def test_sentences_the_tagger_found_evidence_in_come_before_untagged_ones():
    """An untagged sentence (context, method, description) rarely answers a question: readable
    tagged sentences first, then readable untagged ones, then fragments; fused order within each."""
    texts = {"untagged": "The evaluation team visited twelve schools in the autumn term of 2004.",
             "tagged": "Staff said that the shared training days had changed how they planned lessons.",
             "fragment": "Shared training days",
             "tagged2": "Headteachers reported that trust between the schools grew over the first year."}
    details = {s: {"text": t, "kind": "paragraph", "categories": [] if s == "untagged" else ["impact"]}
               for s, t in texts.items()}
    semantic = query.SemanticRanking(list(texts), {s: 0.6 for s in texts}, {})
    assert query.rerank(["fragment", "untagged", "tagged", "tagged2"], details, semantic, top=4) == [
        "tagged", "tagged2", "untagged", "fragment"]
