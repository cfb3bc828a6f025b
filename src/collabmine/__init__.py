"""collabmine: mine research reports on school collaboration for cited evidence.

``collabmine.open(out_dir)`` is the notebook entry point (see ``collabmine.explore.api``).
"""

__version__ = "0.1.0"


def open(out_dir="out"):  # noqa: A001 - imported lazily so the CLI does not pay for pandas here
    from .explore import open as _open

    return _open(out_dir)
