"""Run by each Dask worker process as it starts (Dask's ``preload``; see ``flows.pipeline.task_runner``).

A worker is a fresh process: the first embed and tag tasks it is given would each wait for their
model to load (MiniLM and the tagger: ~40 and ~15 s here, most of a one-report run on Dask). The
models load on a background thread from the worker's start instead, overlapping its ingest task
and the Prefect server's start, as ``run_pipeline`` does for the threads runner.
"""

from __future__ import annotations


def dask_setup(worker) -> None:  # noqa: ARG001 - Dask's preload hook signature
    from . import tagging
    from .embed import default_embedder
    from .runtime import preload_in_background
    from .settings import load_settings

    settings = load_settings()
    preload_in_background(default_embedder, lambda: tagging.load_tagger(settings))
