"""The collabmine flow: ingest every report of a corpus folder (one task per report) and
write the store. Tasks only call library functions; all logic lives in ``collabmine``."""

from __future__ import annotations

from pathlib import Path

from collabmine.runtime import configure_environment

configure_environment()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.futures import as_completed  # noqa: E402

from collabmine import evidence, outputs, pipeline, store, tagging, theming  # noqa: E402
from collabmine.errors import Errors, EvidenceError  # noqa: E402
from collabmine.metadata import load_sources  # noqa: E402
from collabmine.settings import Settings, load_settings  # noqa: E402


@task(name="ingest-report", cache_policy=NO_CACHE, retries=0)
def ingest_report(path: Path, settings: Settings, sources: dict) -> pipeline.ReportResult:
    return pipeline.process_report(path, settings, sources=sources)


@task(name="write-store", cache_policy=NO_CACHE)
def write_store(results: list[pipeline.ReportResult], settings: Settings) -> list[str]:
    con = store.connect(settings.store_path)
    try:
        for result in results:
            store.write_document(con, result.record, result.spans)
        return store.remove_missing(con, {r.record["path"] for r in results})
    finally:
        con.close()


@task(name="tag-spans", cache_policy=NO_CACHE)
def tag_spans(settings: Settings) -> int:
    return tagging.tag_store(settings)


@task(name="build-themes", cache_policy=NO_CACHE)
def build_themes(settings: Settings) -> dict[str, int]:
    results = theming.build_themes(settings)
    return {category: len(result.themes) for category, result in results.items()}


@task(name="build-evidence", cache_policy=NO_CACHE)
def build_evidence(settings: Settings) -> int:
    return evidence.build_evidence(settings)


@task(name="verify-evidence", cache_policy=NO_CACHE)
def verify_evidence(settings: Settings) -> evidence.Verification:
    result = evidence.verify(settings)
    if not result.ok:
        # Fail loudly: a table whose quotes do not re-open at their offsets must not be exported.
        raise EvidenceError("\n".join(result.mismatches[:20]) + (
            f"\n... and {len(result.mismatches) - 20} more" if len(result.mismatches) > 20 else ""))
    return result


@task(name="write-outputs", cache_policy=NO_CACHE)
def write_outputs(settings: Settings) -> outputs.Outputs:
    return outputs.write_outputs(settings.out_dir)


@flow(name="collabmine", log_prints=False)
def collabmine_flow(corpus_dir: str | None = None, out_dir: str | None = None,
                    show_progress: bool = False) -> dict:
    settings = load_settings(corpus_dir=corpus_dir, out_dir=out_dir)
    sources = load_sources(settings.sources_file)
    paths = pipeline.candidate_reports(settings.corpus_dir)
    futures = [ingest_report.submit(p, settings, sources) for p in paths]
    results = _collect(futures, len(paths), show_progress)
    pipeline.mark_duplicates(results)
    removed = write_store(results, settings)
    summary = pipeline.summarise(results)
    summary.update(removed=removed, store=str(settings.store_path), tags=0)
    if not summary["ok"]:
        return summary
    summary["tags"] = tag_spans(settings)
    summary["themes"] = build_themes(settings)
    summary["evidence_rows"] = build_evidence(settings)
    checked = verify_evidence(settings)
    summary["verified"] = {"quotes": checked.checked, "reports": checked.reports}
    written = write_outputs(settings)
    summary.update(claims=sum(summary["themes"].values()), html=str(written.html),
                   outputs=[str(p) for p in written.files])
    return summary


def _collect(futures, total: int, show_progress: bool) -> list[pipeline.ReportResult]:
    if not show_progress:
        return [f.result() for f in futures]
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        bar = progress.add_task("Ingesting reports", total=total)
        for future in as_completed(futures):
            future.result()
            progress.advance(bar)
    return [f.result() for f in futures]
