"""Search's cross-encoder reranker: how it reorders, what it is trained on, and its artefact."""

import json

import numpy as np
import pytest

from collabmine.errors import DataError, ModelError
from collabmine.explore import query, reranker, reranker_train
from collabmine.themes.frame import Frame, FrameTheme


@pytest.fixture(scope="module")
def cm_store(themed, tmp_path_factory):
    from collabmine import store
    from conftest import copy_store

    settings = copy_store(themed, tmp_path_factory.mktemp("rerank"))
    con = store.connect(settings.store_path, create=False)
    yield con
    con.close()


class CountingReranker:
    """Scores a sentence by the number of times "answer" occurs in it; counts the pairs scored."""

    def __init__(self) -> None:
        self.scored: list[str] = []

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        self.scored += texts
        return np.array([t.count("answer") for t in texts], dtype=np.float32)


def _details(texts: dict[str, str]) -> dict[str, dict]:
    return {s: {"text": t, "kind": "paragraph", "categories": ["impact"]} for s, t in texts.items()}


def test_the_reranker_moves_an_answer_up_the_top_of_the_ranking_never_above_a_full_sentence(monkeypatch):
    texts = {"a": "Heads said the partnership was a topic of discussion in every meeting.",
             "b": "Staff described the partnership's meetings and who attended them each term.",
             "d": "The answer, answer and answer: joint training had changed how teachers planned lessons.",
             "e": "Another answer answer answer answer came from the pupils themselves in the survey.",
             "q": "What answer answer answer answer answer did the partnership find?"}
    details, semantic = _details(texts), query.SemanticRanking(list(texts), {s: 0.6 for s in texts}, {})
    fake = CountingReranker()
    monkeypatch.setattr(query, "RERANK_DEPTH", 4)
    # Hybrid order a, b, d, then the reports' own question q (after full sentences). The reranker
    # likes q best and d next: d moves above b (its order fused with the hybrid one, the hybrid
    # first keeps its place); q stays below every full sentence.
    got = query.rerank(list("qabd"), details, semantic, top=4, answers=query.Answers("what changed?", fake))
    assert got == ["a", "d", "b", "q"], got
    # No reranker: the fused order, as before (the question after full sentences).
    assert query.rerank(list("qabd"), details, semantic, top=4, answers=query.Answers("q", None)) == list("abdq")
    # Below the depth nothing moves, however well the reranker would score it.
    fake.scored.clear()
    monkeypatch.setattr(query, "RERANK_DEPTH", 3)
    assert query.rerank(list("abde"), details, semantic, top=4, answers=query.Answers("what changed?", fake))[3] == "e"
    assert texts["e"] not in fake.scored


class Favouring:
    """Scores one sentence 1 and every other 0."""

    def __init__(self, favourite: str) -> None:
        self.favourite, self.scored = favourite, []

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        self.scored += texts
        return np.array([float(t == self.favourite) for t in texts], dtype=np.float32)


def test_search_reorders_its_top_by_the_reranker_it_is_given(cm_store):
    question = "what are the benefits of collaboration for pupils"
    plain = query.search(cm_store, question, top=10, reranker=None)
    assert plain.attrs["theme"] is None and len(plain) == 10
    fake = Favouring(plain["text"].iloc[2])
    reranked = query.search(cm_store, question, top=10, reranker=fake)
    # The reranker's favourite (third by the hybrid order) moves up one place: fused with that order.
    assert reranked["text"].tolist()[:3] == [plain["text"].iloc[0], plain["text"].iloc[2], plain["text"].iloc[1]]
    assert sorted(reranked["text"]) == sorted(plain["text"]) and len(fake.scored) == query.RERANK_DEPTH
    assert reranked.attrs["reranked"] and not plain.attrs["reranked"]
    # Lexical and semantic modes are what they say: never reranked.
    fake.scored.clear()
    assert not query.search(cm_store, question, mode="semantic", reranker=fake).attrs["reranked"]
    assert not fake.scored


def test_training_pairs_from_coded_sentences_are_members_against_close_non_members():
    frame = Frame("9", (FrameTheme("barrier", "workload", "Workload and time", "Staff time and workload"),
                        FrameTheme("barrier", "distance", "Distance and transport", "Travel between schools")), "x")
    themed = [{"text": f"Workload sentence {i}.", "category": "barrier", "themes": ["workload"]} for i in range(12)] + \
             [{"text": f"Distance sentence {i}.", "category": "barrier", "themes": ["distance"]} for i in range(3)]
    untagged = [f"Method sentence {i}." for i in range(20)]

    def embed(texts):   # a deterministic stand-in for MiniLM: one direction per kind of sentence
        return np.array([[t.startswith("Workload"), t.startswith("Distance"), t.startswith("Method"), 0.1] for t in texts],
                        dtype=np.float32)

    pairs = reranker_train.coded_pairs(themed, untagged, frame, embed=embed, seed=3)
    assert pairs == reranker_train.coded_pairs(themed, untagged, frame, embed=embed, seed=3)   # deterministic
    for q, text, target in pairs:
        theme = "Workload" if "orkload" in q else "Distance"
        assert (target == 1.0) == text.startswith(theme), (q, text, target)
    queries = {q for q, _, _ in pairs}
    assert "how does workload and time get in the way of collaboration between schools?" in queries
    assert "Distance and transport: Travel between schools" in queries
    assert sum(t == 1.0 for q, _, t in pairs if q == "Workload and time") == reranker_train.POSITIVES
    assert sum(t == 1.0 for q, _, t in pairs if q == "Distance and transport") == 3     # all it has


def test_judged_pairs_never_read_held_out_questions(tmp_path):
    path = tmp_path / "judged.json"
    path.write_text(json.dumps({"questions": {
        "q1": {"question": "open?", "held_out": False, "hits": [{"text": "A", "grade": 2}, {"text": "B", "grade": 1},
                                                                 {"text": "C", "grade": None}]},
        "q2": {"question": "held?", "held_out": True, "hits": [{"text": "D", "grade": 2}]}}}), encoding="utf-8")
    pairs = reranker_train.judged_pairs(path)
    assert set(pairs) == {("open?", "A", 1.0), ("open?", "B", 0.25)}
    assert not any(q == "held?" for q, _, _ in pairs)
    # A question not marked either way is not read as "not held out": the file is refused, named.
    path.write_text(json.dumps({"questions": {"q3": {"question": "unmarked?", "hits": [{"text": "E", "grade": 2}]}}}),
                    encoding="utf-8")
    with pytest.raises(DataError, match="E057.*judged.json.*q3 has no held_out"):
        reranker_train.judged_pairs(path)
    path.write_text(json.dumps({"q1": {"question": "old format", "hits": []}}), encoding="utf-8")
    with pytest.raises(DataError, match="E057.*KeyError"):
        reranker_train.judged_pairs(path)


def test_a_missing_reranker_leaves_search_as_it_was_and_a_stale_or_damaged_one_is_a_coded_error(tmp_path):
    assert reranker.load_reranker(tmp_path / "none") is None
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / reranker.MANIFEST_FILE).write_text(json.dumps({"reranker_version": "0"}), encoding="utf-8")
    (stale / reranker.MODEL_FILE).write_bytes(b"")
    with pytest.raises(ModelError, match="E043.*version 0.*train-reranker.*--no-rerank"):
        reranker.load_reranker(stale)
    damaged = tmp_path / "damaged"      # e.g. a Git LFS pointer instead of the weights
    damaged.mkdir()
    (damaged / reranker.MANIFEST_FILE).write_text(json.dumps({"reranker_version": reranker.RERANKER_VERSION}),
                                                  encoding="utf-8")
    (damaged / reranker.MODEL_FILE).write_text("version https://git-lfs.github.com/spec/v1\n", encoding="utf-8")
    with pytest.raises(ModelError, match="E043.*damaged weights"):
        reranker.load_reranker(damaged)


@pytest.mark.parametrize("question, answer, mention", [
    ("what gets in the way of sharing staff between schools?",
     "Heads said that sharing a teacher between two sites left both schools short of cover when she was ill.",
     "This chapter describes how staff were shared between the schools."),
    pytest.param("did collaboration improve pupils' attainment?",
                 "Results at the end of Key Stage 2 rose in all four federated schools over the three years.",
                 "Attainment is measured in different ways in primary and secondary schools.",
                 # Not strict: a retrained model (not bit-reproducible) may get this one right.
                 marks=pytest.mark.xfail(strict=False, reason="known gap: the shipped reranker scores this mention "
                                                              "(-1.43) above the answer (-3.04); BENCHMARKS.md")),
])
def test_the_shipped_reranker_prefers_an_answer_to_a_mention(question, answer, mention):
    """The shipped model, on sentences written here (not from the corpus or any judged set): a
    sentence stating a finding about the question scores above one that only names its topic."""
    model = reranker.default_reranker()
    assert model is not None, "models/reranker is missing: run `collabmine train-reranker`"
    good, bad = model.score(question, [answer, mention])
    assert good > bad, (question, good, bad)


def test_a_pair_scored_once_is_not_scored_again(monkeypatch):
    """A reloaded or paged search reranks from the scores kept: only new pairs reach the model,
    and the same question over the same sentences gets the same scores."""
    model = reranker.default_reranker()
    assert model is not None
    question = "what gets in the way of sharing staff between schools?"
    texts = ["Heads said that sharing a teacher between two sites left both schools short of cover when she was ill.",
             "This chapter describes how staff were shared between the schools.",
             "Travelling between the three sites took up time the shared teachers could have spent teaching."]
    reached = []
    real = reranker.relevance_logits

    def counting(network, questions, batch_texts, **options):
        reached.extend(batch_texts)
        return real(network, questions, batch_texts, **options)

    monkeypatch.setattr(reranker, "relevance_logits", counting)
    monkeypatch.setattr(model, "_scores", reranker.OrderedDict())
    first = model.score(question, texts[:2])
    assert reached == texts[:2]
    again = model.score(question, list(reversed(texts)))
    assert reached == texts                      # only the new sentence was scored
    assert again[1:].tolist() == list(reversed(first.tolist()))
    assert np.array_equal(model.score(question, texts[:2]), first)
    model.score("another question about staff?", texts[:1])
    assert reached[-1] == texts[0]               # the same sentence under another question is a new pair
    monkeypatch.setattr(reranker, "SCORES_KEPT", 2)        # the most recently used are kept
    model.score(question, [texts[1], "Shared staff found the travel between sites tiring."])
    assert list(model._scores) == [(question, texts[1]), (question, "Shared staff found the travel between sites tiring.")]


def test_the_cli_and_the_notebook_api_can_skip_the_reranker(themed, tmp_path):
    import collabmine
    from typer.testing import CliRunner

    from collabmine.cli import app
    from conftest import copy_store

    settings = copy_store(themed, tmp_path / "out")
    question = "what are the benefits of collaboration for pupils"
    with collabmine.open(settings.out_dir) as cm:
        plain = cm.query(question, top=3, rerank=False)
        assert plain.equals(query.search(cm._con, question, top=3, reranker=None))
    shown = CliRunner().invoke(app, ["query", question, "--out", str(settings.out_dir), "-n", "3", "--no-rerank"])
    assert shown.exit_code == 0, shown.output
    at = [shown.output.find(text[:40]) for text in plain["text"]]   # (a long sentence wraps after ~77 characters)
    assert -1 not in at and at == sorted(at), shown.output
    # The web page says how its order was made.
    from fastapi.testclient import TestClient

    from collabmine.explore.web import create_app

    client = TestClient(create_app(settings), base_url="http://127.0.0.1")
    assert "reordered by a model that reads your question" in client.get("/search", params={"q": question}).text
    assert "reordered by a model" not in client.get("/search", params={"q": question, "mode": "lexical"}).text
    assert client.get("/search").status_code == 200          # the empty form, before any question
