from __future__ import annotations

import os
from pathlib import Path

import pytest

from collabmine.runtime import configure_environment

configure_environment()

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
GOLD = ROOT / "tests" / "data" / "dev.jsonl"  # copy of ../shared/gold/dev.jsonl (measure only)

R000 = "000_47f8c43ff3c82b8a.txt"
R001 = "001_d1e1163017c50461.txt"
R002 = "002_cb8178d9b34520de.txt"
R004 = "004_7d1699460581dcc6.txt"


@pytest.fixture(scope="session")
def corpus_results():
    """Every bundled report processed once through the library (no Prefect)."""
    from collabmine import pipeline
    from collabmine.metadata import load_sources
    from collabmine.settings import load_settings

    settings = load_settings(corpus_dir=CORPUS)
    sources = load_sources(settings.sources_file)
    return {p.name: pipeline.process_report(p, settings, sources=sources)
            for p in pipeline.candidate_reports(CORPUS)}


@pytest.fixture(scope="session")
def raw_texts():
    return {p.name: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")}
