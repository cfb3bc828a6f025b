from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

if "PYTEST_XDIST_WORKER" in os.environ:
    # A pytest-xdist worker starts with COLUMNS=80 in its environment, and rich reads it once, when
    # the CLI's console is made: tests that widen the CLI's output (CliRunner env COLUMNS=250)
    # would still get 80 columns. Without xdist it is not set.
    os.environ.pop("COLUMNS", None)
    # Each worker's Prefect state (the temporary servers' SQLite database) apart from the other's:
    # two servers would otherwise create a fresh database's tables at the same time.
    _home = os.environ.get("PREFECT_HOME") or str(Path(__file__).resolve().parents[1] / ".work" / "prefect")
    os.environ["PREFECT_HOME"] = f"{_home}-{os.environ['PYTEST_XDIST_WORKER']}"

from collabmine.runtime import configure_environment  # noqa: E402

configure_environment()
# ONNX graphs of the models the tests train stay out of the user's cache (every process a test
# starts inherits this; the shipped models' graphs are exported once and kept for later runs).
os.environ["COLLABMINE_ONNX_CACHE"] = str(Path(__file__).resolve().parents[1] / ".work" / "onnx-cache-tests")


def pytest_configure(config):
    # The suite runs two things at once on two cores (`make test`: two pytest-xdist workers; a
    # test's `collabmine run` beside its readers, a Prefect server, Dask workers). OpenMP threads
    # (torch, numba) that spin while they wait take the core the other one needs: tagging R001
    # while another process was busy took 11.5-15.5 s spinning, 5.8-9.3 s sleeping; encoding its
    # 324 sentences 23-30 s vs 6.3-9.5 s (alone: the same, ~4 s each). Only how idle threads wait
    # changes: not the thread count, so not any number computed. Set before torch is first imported
    # (a test module's import), and inherited by every process a test starts. Here, not at import:
    # bench/soak.py imports this module and keeps its own environment.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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


def _built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder that ``build(folder)`` fills once per test run. Under pytest-xdist the first worker
    to ask builds it in the folder the workers share, and the others wait for it and read it (the
    corpus fixtures below are read-only: a test copies a store to change it)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    from filelock import FileLock

    folder = tmp_path_factory.getbasetemp().parent / name
    with FileLock(f"{folder}.lock"):
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


def _settings(out: Path):
    from collabmine.settings import load_settings

    return load_settings(corpus_dir=CORPUS, out_dir=out, models_dir=ROOT / "models")


@pytest.fixture(scope="session")
def ingested_store(tmp_path_factory, request):
    """The bundled corpus ingested (not tagged) in a temporary store (read-only: copy to change)."""
    def build(out: Path) -> None:
        from collabmine import store

        con = store.connect(_settings(out).store_path)
        for result in request.getfixturevalue("corpus_results").values():
            store.write_document(con, result.record, result.spans)
        con.close()

    return _settings(_built_once(tmp_path_factory, "ingested", build))


@pytest.fixture(scope="session")
def tagged_store(tmp_path_factory, request):
    """The bundled corpus ingested, embedded and tagged by the committed model, in a temporary
    store: its sentences' vectors cached as a run's embed stage leaves them, so that a test
    building themes from a copy does not encode the corpus again."""
    def build(out: Path) -> None:
        from collabmine import store, tagging

        settings = copy_store(request.getfixturevalue("ingested_store"), out)
        con = store.connect(settings.store_path, create=False)
        doc_ids = sorted(r["doc_id"] for r in store.documents(con) if r["status"] == "ok")
        con.close()
        for doc_id in doc_ids:
            tagging.embed_report(settings, doc_id)
        tagging.tag_store(settings)

    return _settings(_built_once(tmp_path_factory, "tagged", build))


def copy_store(settings, destination: Path):
    """A copy of a store in its own output folder (tests that change it leave the original alone)."""
    import shutil

    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.store_path, destination / settings.store_path.name)
    return settings.with_(out_dir=destination)


@pytest.fixture(scope="session")
def themed(tmp_path_factory, request):
    """The tagged corpus with themes and evidence built (read-only for tests: copy to change)."""
    def build(out: Path) -> None:
        from collabmine import evidence, themes

        settings = copy_store(request.getfixturevalue("tagged_store"), out)
        themes.build_themes(settings)
        evidence.build_evidence(settings)

    return _settings(_built_once(tmp_path_factory, "themed", build))


def excerpt(name: str, chars: int) -> str:
    """The start of a bundled report, cut at a paragraph boundary (a small report of its own)."""
    text = (CORPUS / name).read_text(encoding="utf-8")
    return text[:text.rfind("\n\n", 0, chars)] + "\n"


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """One Prefect server on 127.0.0.1 (API only: no UI, no background services), started once
    for the tests whose `collabmine run` and `collabmine serve` processes need one: pass its URL
    as PREFECT_API_URL. Each such process would otherwise start a temporary server of its own
    (~10 s apiece; one on a fresh database migrates it for ~20 s more). The test of a killed
    run's orphaned temporary server still lets one run start its own."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    home = tmp_path_factory.mktemp("prefect-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "COLLABMINE_RUN_PID", "COLLABMINE_FAULT_AT")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    prefect = os.path.join(os.path.dirname(sys.executable), "prefect")
    with open(home / "server.log", "w") as log:
        server = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-services", "--no-ui"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if urllib.request.urlopen(api + "/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (home / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the shared Prefect server did not start"
            time.sleep(0.25)
        yield api
    finally:
        stop_process_group(server)


def stop_process_group(proc) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started: SIGTERM,
    then SIGKILL after 20 s."""
    import signal
    import subprocess

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


#: Under pytest-xdist (`make test`: ``-n 2 --dist loadgroup``) the tests are dealt to the workers a
#: group at a time: a group is a module, except that the tests using the session's Prefect server
#: (``prefect_api``) are one group, so that one worker starts it. The slowest groups are dealt first
#: (seconds: alone, on this 2-core machine), so that the last group to finish is a short one; the
#: others follow in their usual order. A group missing here is only dealt later.
PREFECT_SERVER_TESTS = (
    "tests/test_reliability.py::test_a_run_killed_at_any_point_loses_nothing",
    "tests/test_soak.py::test_readers_and_reviewers_while_runs_write",
    "tests/test_serve.py::test_served_deployment_runs_when_triggered",
)
SLOW_GROUPS_FIRST = (
    "prefect-server",                            # a run killed at every stage, the soak, `serve`
    "tests/evidence/test_evidence_claim.py",     # the first to ask for `themed` builds the corpus
    "tests/test_incremental.py",                 # nine runs of the flow
    "tests/themes/test_themes_curation.py",
    "tests/test_reliability.py",                 # a two-worker Dask cluster
    "tests/themes/test_themes_stage.py",
    "tests/explore/test_explore_web_e2e.py",
    "tests/explore/test_explore_web.py",
    "tests/tagging/test_tagging_corpus.py",
    "tests/tagging/test_tagging_train.py",
    "tests/themes/test_themes_assign.py",
    "tests/test_refit.py",
    "tests/ingest/test_ingest_bad_input.py",
    "tests/test_cli.py",
    "tests/evidence/test_evidence_outputs.py",
)


def _xdist_group(nodeid: str) -> str:
    return "prefect-server" if nodeid in PREFECT_SERVER_TESTS else nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Groups of tests as above (pytest-xdist's own ``xdist_group`` marks do not reach its
    scheduler under this pytest), dealt in the order the workers collected them."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Groups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _xdist_group(nodeid)

    config.option.loadscopereorder = False
    return Groups(config, log)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the slowest groups first (stable: the rest keep their order)."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        rank = {group: i for i, group in enumerate(SLOW_GROUPS_FIRST)}
        items.sort(key=lambda item: rank.get(_xdist_group(item.nodeid), len(rank)))
