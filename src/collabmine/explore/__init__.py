"""Exploring and auditing the results: ``query`` (search the evidence by meaning and by words),
``review`` (analysts' decisions, kept in an append-only log), ``browse`` (the pages' data), the
notebook API (``collabmine.open``, in ``api``) and ``web/``, the audit app (imported on its own:
it needs FastAPI)."""

from . import browse, query, review
from .api import Collabmine, open

__all__ = ["Collabmine", "browse", "open", "query", "review"]
