"""The collabmine flow: ingest → embed → tag (one task per report, cached) → themes → evidence →
verify → outputs. Tasks only call library functions; all logic lives in ``collabmine``.

Per-report tasks are cached by the report's sha256 plus the stage's code and model versions
(``collabmine.versions``); results persist under ``OUT/.cache/results`` so the cache survives
across processes. Corpus-wide stages skip themselves when their inputs are unchanged.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from collabmine.runtime import configure_environment

configure_environment()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.futures import as_completed  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402
from prefect.utilities.annotations import quote  # noqa: E402

from collabmine import evidence, ingest, store, tagging, themes  # noqa: E402
from collabmine.errors import ConfigError, Errors, EvidenceError  # noqa: E402
from collabmine.evidence import outputs  # noqa: E402
from collabmine.ingest import sha256_bytes  # noqa: E402
from collabmine.ingest.metadata import load_sources, lookup  # noqa: E402
from collabmine.store import backups, run_lock, runs  # noqa: E402
from collabmine.settings import Settings, load_settings  # noqa: E402
from collabmine.themes import ThemeParams  # noqa: E402
from collabmine.versions import corpus_hash, embed_key, ingest_key, tag_key  # noqa: E402
from collabmine.embed import default_embedder, model_name  # noqa: E402
from collabmine.runtime import (end_orphaned_servers, mark_owner, preload_in_background, request_stop,  # noqa: E402
                                working_for)


def _given_key(context, parameters) -> str | None:
    return parameters["cache_key"]


@task(name="ingest-report", cache_key_fn=_given_key, persist_result=True)
def ingest_report(path: Path, settings: Settings, sources: dict, cache_key: str | None,
                  run_id: str) -> ingest.ReportResult:
    result = ingest.process_report(path, settings, sources=sources)
    result.run_id = run_id
    return result


@task(name="embed-report", cache_key_fn=_given_key, persist_result=True)
def embed_report(doc_id: str, settings: Settings, cache_key: str, run_id: str) -> tuple[str, int]:
    with working_for(run_id):
        return run_id, tagging.embed_report(settings, doc_id)


@task(name="tag-report", cache_key_fn=_given_key, persist_result=True)
def tag_report(doc_id: str, settings: Settings, cache_key: str, run_id: str) -> tuple[str, int]:
    """Writes the report's tags to the store as it goes; the cached result is only their count."""
    with working_for(run_id):
        return run_id, tagging.tag_report(settings, doc_id)


@task(name="write-store", cache_policy=NO_CACHE)
def write_store(results: list[ingest.ReportResult], settings: Settings,
                run_id: str) -> tuple[list[str], list[tuple]]:
    """Write new or changed reports; returns removed paths and change rows."""
    con = store.connect(settings.store_path)
    try:
        previous = {r["path"]: (r["doc_id"], r["status"]) for r in store.documents(con)}
        for result in results:
            # Unchanged reports from the cache are not rewritten; anything computed in this run is.
            if result.run_id == run_id or previous.get(result.record["path"]) != (result.doc_id, result.status):
                store.write_document(con, result.record, result.spans)
        removed = store.remove_missing(con, {r.record["path"] for r in results})
        # A changed report's reviews follow their sentences into its new version.
        with store.transaction(con):
            store.reanchor_reviews(con)
        store.label_citations(con)   # two reports never share a citation label
        evidence.record_corpus(con, settings)   # `verify` re-opens this folder, not the default one
        return removed, ingest.report_changes(previous, results, removed)
    finally:
        con.close()


@task(name="build-themes", cache_policy=NO_CACHE)
def build_themes(settings: Settings) -> themes.ThemesOutcome:
    outcome = themes.build_themes(settings, force=settings.refit_themes)
    outcome.results = {}  # fitted models stay out of Prefect's result store
    return outcome


@task(name="applied-reviews", cache_policy=NO_CACHE)
def applied_reviews(settings: Settings) -> dict[str, int]:
    con = store.connect(settings.store_path)
    try:
        return store.applied(con)
    finally:
        con.close()


@task(name="build-evidence", cache_policy=NO_CACHE)
def build_evidence(settings: Settings) -> evidence.EvidenceOutcome:
    return evidence.build_evidence(settings)


@task(name="verify-evidence", cache_policy=NO_CACHE)
def verify_evidence(settings: Settings) -> evidence.Verification:
    result = evidence.verify(settings)
    if not result.ok:
        # Fail loudly: a table whose quotes do not re-open at their offsets must not be exported.
        raise EvidenceError("\n".join(result.summary()))
    return result


@task(name="write-outputs", cache_policy=NO_CACHE)
def write_outputs(settings: Settings) -> outputs.Outputs:
    return outputs.write_outputs(settings.out_dir)


@flow(name="collabmine", log_prints=False)
def collabmine_flow(corpus_dir: str | None = None, out_dir: str | None = None, show_progress: bool = False,
                    lock_wait: float | None = None, refit_themes: bool = False, lock_held: bool = False) -> dict:
    """The pipeline over a corpus folder. ``lock_held``: the caller holds the output folder's run
    lock (the CLI takes it before Prefect starts); a deployment's run takes it here."""
    settings = load_settings(corpus_dir=corpus_dir, out_dir=out_dir, lock_wait=lock_wait,
                             refit_themes=refit_themes or None)
    with nullcontext() if lock_held else run_lock(settings.out_dir, wait=settings.lock_wait):
        fingerprint = runs.inputs_fingerprint(settings, ThemeParams())
        unchanged = None if settings.refit_themes else runs.repeat_if_unchanged(settings, fingerprint, ThemeParams())
        if unchanged is not None:
            return unchanged
        # A damaged store stops the run here (E024), before anything is written; a sound one is
        # snapshotted and its reviews are in the audit log.
        backups.before_run(settings.store_path, keep=settings.snapshots_kept)
        run = runs.start_run(settings, ThemeParams())
        summary: dict = {}
        try:
            _run_stages(settings, run, summary, show_progress)
        except BaseException as exc:
            # Tasks still running in the thread pool stop at their next chunk: the process
            # would otherwise wait for them before it can exit.
            request_stop(run.run_id)
            runs.finish_run(run, status="failed", counts=summary, error=f"{type(exc).__name__}: {exc}")
            raise
        runs.finish_run(run, status="ok", counts=_counts(summary), corpus_hash=summary.get("corpus_hash"))
        runs.remember_inputs(settings, run, fingerprint, summary)
        return summary


def task_runner(settings: Settings):
    """``task_threads`` threads by default; with ``task_runner="dask"`` the per-report tasks go to a
    Dask cluster (``dask_address``, or a LocalCluster of ``dask_workers`` single-threaded worker
    processes)."""
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=settings.task_threads)
    if settings.task_runner != "dask":
        raise ConfigError(Errors.E072.format(value=settings.task_runner))
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise ConfigError(Errors.E070) from exc
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    # Each worker loads the models on a thread from its start (``collabmine.dask_worker``).
    return DaskTaskRunner(cluster_kwargs={"n_workers": settings.dask_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None,
                                          "preload": ["collabmine.dask_worker"]})


def run_pipeline(settings: Settings, *, show_progress: bool = False) -> dict:
    """Run the flow with the task runner the settings ask for, holding the output folder's lock
    from before Prefect starts (a second run stops with a clean E060, not a Prefect traceback)."""
    with run_lock(settings.out_dir, wait=settings.lock_wait):
        # A run killed with SIGKILL could not stop its temporary Prefect server: end it now, and
        # mark this run's server so that the next run can do the same for it.
        end_orphaned_servers()
        mark_owner()
        # Nearly every run that gets this far needs the embedding model (new sentences, or a theme
        # refit) and most the tagger; load them while Prefect's temporary server starts (BENCHMARKS.md).
        preload_in_background(default_embedder, lambda: tagging.load_tagger(settings))
        flow_ = collabmine_flow.with_options(task_runner=task_runner(settings))
        return flow_(str(settings.corpus_dir), str(settings.out_dir), show_progress=show_progress,
                     lock_wait=settings.lock_wait, refit_themes=settings.refit_themes, lock_held=True)


#: The deployment's one name, in `serve`, prefect.yaml and the README.
DEPLOYMENT = "collabmine-scheduled"
DEPLOYMENT_DESCRIPTION = ("Takes in new, changed and removed reports on a schedule and redoes only their work: "
                          "tags, themes, the evidence table and its outputs.")


def check_api() -> str:
    """The Prefect API that `serve` registers with, once it answers; E071 naming what is wrong."""
    import os
    import urllib.request

    from prefect.settings import PREFECT_API_URL

    # The environment as it is now, then Prefect's profile (`prefect config set PREFECT_API_URL=…`).
    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value() or ""
    if not url:
        raise ConfigError(Errors.E071.format(problem="PREFECT_API_URL is not set"))
    try:
        urllib.request.urlopen(url.rstrip("/") + "/health", timeout=5)
    except OSError as exc:
        raise ConfigError(Errors.E071.format(problem=f"the one at PREFECT_API_URL={url} does not answer ({exc})"))
    return url


def next_runs(settings: Settings, *, count: int = 3, now=None) -> list:
    """The next ``count`` times the schedule fires (timezone-aware); E073 for a bad cron or zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from cronsim import CronSim

    try:
        zone = ZoneInfo(settings.schedule_timezone)
        times = CronSim(settings.schedule_cron, (now or datetime.now(zone)).astimezone(zone))
        return [next(times) for _ in range(count)]
    except Exception as exc:  # noqa: BLE001 - cronsim and zoneinfo raise several types for bad input
        raise ConfigError(Errors.E073.format(cron=settings.schedule_cron, timezone=settings.schedule_timezone,
                                             problem=exc)) from exc


def serve(settings: Settings, *, name: str = DEPLOYMENT) -> None:
    """Serve a deployment that runs the flow on ``settings.schedule_cron`` in
    ``settings.schedule_timezone`` (needs a Prefect server: ``check_api`` first)."""
    from prefect.schedules import Cron

    flow_ = collabmine_flow.with_options(task_runner=task_runner(settings))
    flow_.serve(name=name, schedules=[Cron(settings.schedule_cron, timezone=settings.schedule_timezone)],
                description=DEPLOYMENT_DESCRIPTION, print_starting_message=False,
                parameters={"corpus_dir": str(settings.corpus_dir), "out_dir": str(settings.out_dir)})


def _run_stages(settings: Settings, run: runs.Run, summary: dict, show_progress: bool) -> None:
    summary.update(run_id=run.run_id, store=str(settings.store_path), tags=0)
    storage = settings.cache_dir  # a local folder: results survive the process (Prefect accepts a Path)
    run.stage("ingest")
    sources = load_sources(settings.sources_file)
    paths = ingest.candidate_reports(settings.corpus_dir)
    ingest_task = ingest_report.with_options(result_storage=storage)
    futures = [ingest_task.submit(p, settings, sources, _ingest_key(p, settings, sources), run.run_id) for p in paths]
    results = _collect(futures, len(paths), show_progress)
    ingest.mark_duplicates(results, in_store=_paths_in_store(settings))
    # quote(): Prefect would otherwise walk every span of every report looking for futures in the
    # task's inputs (×10: 6 s of a one-new-report run; ×100: most of its 46 s ingest stage).
    removed, changes = write_store(quote(results), settings, run.run_id)
    # Recorded with the data they describe: a run killed later still shows what it added.
    runs.record_changes(run, changes)
    summary.update(ingest.summarise(results), removed=removed,
                   ingested=sorted(r.record["path"] for r in results if r.run_id == run.run_id))
    ok = sorted({r.doc_id for r in results if r.ok})
    summary["corpus_hash"] = corpus_hash((r.record["path"], r.doc_id) for r in results if r.ok)
    summary["changes"] = len(changes)
    if not ok:
        return

    run.stage("embed")
    embed = embed_report.with_options(result_storage=storage)
    embedded = [f.result() for f in [embed.submit(d, settings, embed_key(sha256=d, embedder=model_name()), run.run_id)
                                      for d in ok]]
    summary["embedded_texts"] = sum(n for rid, n in embedded if rid == run.run_id)

    run.stage("tag")
    tagger = tag_report.with_options(result_storage=storage)
    # The store says which reports' tags are complete for this tagger; a cached result for any
    # other (spans rewritten, tagging killed mid-report, store restored) is computed again.
    stale = tagging.stale_reports(settings, ok)
    tagged = [f.result() for f in [tagger.with_options(refresh_cache=d in stale).submit(
        d, settings, tag_key(sha256=d, models_dir=settings.models_dir), run.run_id) for d in ok]]
    summary["tagged_reports"] = sum(rid == run.run_id for rid, _ in tagged)
    summary["tags"] = sum(n for _, n in tagged)

    run.stage("themes")
    summary["reviews"] = applied_reviews(settings)
    themed = build_themes(settings)
    summary.update(themes=themed.counts, themes_fitted=not themed.skipped, themes_refitted=themed.refitted,
                   themes_placed=themed.placed)
    runs.record_changes(run, themed.events)

    run.stage("evidence")
    built = build_evidence(settings)
    summary["evidence_rows"] = built.rows
    evidence_changes = [(kind, "evidence", f"{n} rows") for kind, n in
                        (("evidence_added", built.added), ("evidence_removed", built.removed)) if n]
    runs.record_changes(run, evidence_changes)

    run.stage("verify")
    checked = verify_evidence(settings)
    summary["verified"] = {"quotes": checked.checked, "reports": checked.reports}

    run.stage("outputs")
    edited = runs.keep_edited_outputs(settings, run.run_id)
    summary["outputs_edited"] = {name: str(kept) for name, kept in edited.items()}
    runs.record_changes(run, [("output_rewritten", name, f"changed since the last run: rewritten; the edited file "
                               f"is kept as {kept}") for name, kept in edited.items()])
    written = write_outputs(settings)
    summary.update(claims=sum(themed.counts.values()), html=str(written.html),
                   outputs=runs.output_digests(settings.out_dir, written.files))
    summary["changes"] = len(changes) + len(themed.events) + len(evidence_changes) + len(edited)


def _paths_in_store(settings: Settings) -> set[str]:
    """Reports the store holds as processed (of two identical files, the one already there stays)."""
    if not settings.store_path.exists():
        return set()
    con = store.connect(settings.store_path, create=False)
    try:
        return {r["path"] for r in store.documents(con) if r["status"] == "ok"}
    finally:
        con.close()


def _ingest_key(path: Path, settings: Settings, sources: dict) -> str | None:
    try:
        sha = sha256_bytes(path.read_bytes())
    except OSError:
        return None  # unreadable: never cached, the task reports it
    entry = lookup(sources, path.name, sha)
    return ingest_key(sha256=sha, path=str(path.relative_to(settings.corpus_dir)), settings=settings,
                      source_entry=entry.__dict__ if entry else None)


def _counts(summary: dict) -> dict:
    keys = ("reports", "ok", "spans", "tags", "embedded_texts", "tagged_reports", "themes", "themes_fitted",
            "themes_refitted", "themes_placed",
            "evidence_rows", "claims", "changes", "reviews")
    counts = {k: summary[k] for k in keys if k in summary}
    counts["ingested_reports"] = len(summary.get("ingested", []))
    counts["errors"] = len(summary.get("errors", []))
    return counts


def _collect(futures, total: int, show_progress: bool) -> list[ingest.ReportResult]:
    if not show_progress:
        return [f.result() for f in futures]
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        bar = progress.add_task("Ingesting reports", total=total)
        for future in as_completed(futures):
            future.result()
            progress.advance(bar)
    return [f.result() for f in futures]
