from __future__ import annotations

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
    from collabmine import ingest
    from collabmine.ingest.metadata import load_sources
    from collabmine.settings import load_settings

    settings = load_settings(corpus_dir=CORPUS)
    sources = load_sources(settings.sources_file)
    return {p.name: ingest.process_report(p, settings, sources=sources)
            for p in ingest.candidate_reports(CORPUS)}


@pytest.fixture(scope="session")
def embedder():
    """The sentence encoder (all-MiniLM-L6-v2 from its package), loaded once."""
    from collabmine.embed import default_embedder

    return default_embedder()


@pytest.fixture(scope="session")
def raw_texts():
    return {p.name: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")}


@pytest.fixture(scope="session")
def ingested_store(tmp_path_factory, corpus_results):
    """The bundled corpus ingested (not tagged) in a temporary store (read-only: copy to change)."""
    from collabmine import store
    from collabmine.settings import load_settings

    out = tmp_path_factory.mktemp("ingested")
    settings = load_settings(corpus_dir=CORPUS, out_dir=out, models_dir=ROOT / "models")
    con = store.connect(settings.store_path)
    for result in corpus_results.values():
        store.write_document(con, result.record, result.spans)
    con.close()
    return settings


@pytest.fixture(scope="session")
def tagged_store(tmp_path_factory, ingested_store):
    """The bundled corpus ingested and tagged by the committed model, in a temporary store."""
    from collabmine import tagging

    settings = copy_store(ingested_store, tmp_path_factory.mktemp("tagged"))
    tagging.tag_store(settings)
    return settings


def copy_store(settings, destination: Path):
    """A copy of a store in its own output folder (tests that change it leave the original alone)."""
    import shutil

    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.store_path, destination / settings.store_path.name)
    return settings.with_(out_dir=destination)


@pytest.fixture(scope="session")
def themed(tagged_store, tmp_path_factory):
    """The tagged corpus with themes and evidence built (read-only for tests: copy to change)."""
    from collabmine import evidence, themes

    settings = copy_store(tagged_store, tmp_path_factory.mktemp("themed"))
    themes.build_themes(settings)
    evidence.build_evidence(settings)
    return settings
