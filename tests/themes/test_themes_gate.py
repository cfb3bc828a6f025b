"""Emergent themes earn their name: the names the issue found false are refused, theme names pass."""

import numpy as np
import pytest
from collabmine.themes import gate


@pytest.mark.parametrize("name", ["Lessons", "Candidates", "Real deprivation", "EAZ", "LEA officers",
                                  "National average", "GCSEs", "ICT consultant", "Key Stage 2 results",
                                  "Other issues", "Headteachers of partner schools", "Birmingham partnerships",
                                  # named by the session-16 run on the bundled corpus: a setting, a lifted phrase
                                  "Largely rural area", "Positive terms"])
def test_names_that_are_not_themes_are_refused(name):
    assert gate.name_problem(name) is not None, name


@pytest.mark.parametrize("name", ["Managed moves protocol", "Staff workload", "Shared curriculum planning",
                                  "Peer challenge between schools", "Initial teacher training", "Genuine partnership"])
def test_theme_names_pass(name):
    assert gate.name_problem(name) is None, (name, gate.name_problem(name))


def _cluster(direction: np.ndarray, n: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = direction + noise * rng.normal(size=(n, len(direction)))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_coherent_cluster_with_a_good_name_is_named():
    a = np.eye(8)[0]
    verdict = gate.judge(_cluster(a, 10, 0.1), np.full((10, 2), 0.05), np.stack([np.eye(8)[1], np.eye(8)[2]]),
                         "Managed moves protocol")
    assert verdict.named and verdict.restates is None and verdict.coherence > 0.9


def test_a_restatement_joins_its_frame_theme_and_an_incoherent_cluster_has_no_name():
    a = np.eye(8)[0]
    restating = gate.judge(_cluster(a, 10, 0.1), np.tile([0.05, 0.6], (10, 1)), np.stack([np.eye(8)[1], np.eye(8)[2]]),
                           "Managed moves protocol")
    assert not restating.named and restating.restates == 1
    near = gate.judge(_cluster(a, 10, 0.05), np.full((10, 2), 0.05), np.stack([a, np.eye(8)[2]]), "Managed moves protocol")
    assert near.restates == 0
    scattered = gate.judge(_cluster(np.zeros(8), 10, 1.0, seed=3), np.full((10, 2), 0.05),
                           np.stack([np.eye(8)[1], np.eye(8)[2]]), "Managed moves protocol")
    assert not scattered.named and "coherent" in scattered.why_unnamed


def test_a_name_from_one_sentence_does_not_name_the_cluster():
    a = np.eye(8)[0]
    texts = ["Previous cultures got in the way."] + ["Schools found the work hard going."] * 9
    verdict = gate.judge(_cluster(a, 10, 0.1), np.full((10, 2), 0.05), np.stack([np.eye(8)[1], np.eye(8)[2]]),
                         "Staff cultures", texts)
    assert not verdict.named and "too few" in verdict.why_unnamed
    named = gate.judge(_cluster(a, 10, 0.1), np.full((10, 2), 0.05), np.stack([np.eye(8)[1], np.eye(8)[2]]),
                       "Managed moves protocol", ["The managed moves protocol helped."] * 10)
    assert named.named
