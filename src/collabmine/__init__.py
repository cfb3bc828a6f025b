"""collabmine: mine research reports on school collaboration for cited evidence."""

__version__ = "0.1.0"
