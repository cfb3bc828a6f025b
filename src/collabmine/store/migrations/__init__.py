"""The store's schema, one SQL file per version (``NNNN_what.sql``), applied in order by
``connection.migrate``. A new version is a new file: files already shipped are never edited,
because stores in use have run them."""

from __future__ import annotations

from importlib import resources


def _load() -> dict[int, str]:
    scripts = {}
    for entry in resources.files(__name__).iterdir():
        if entry.name.endswith(".sql"):
            scripts[int(entry.name.split("_", 1)[0])] = entry.read_text(encoding="utf-8")
    if sorted(scripts) != list(range(1, len(scripts) + 1)):
        raise RuntimeError(f"store migrations are not numbered 1..n: {sorted(scripts)}")
    return scripts


#: version -> the SQL that brings a store from version - 1 to it.
MIGRATIONS: dict[int, str] = _load()
SCHEMA_VERSION = max(MIGRATIONS)
