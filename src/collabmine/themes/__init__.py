"""Themes: how tagged sentences become the themes a researcher reads.

- ``frame.toml`` / ``frame``: the codebook's named factors per category (framework analysis), versioned;
- ``assign``: the model that puts a sentence in its frame theme, learned from coded sentences
  (``examples``: what it learns from; ``measure``: leave-one-report-out and scoring; ``train``:
  the shipped model; ``assigners``: which model a run uses);
- ``fit``: BERTopic per category over the pool (the sentences in no frame theme);
- ``gate``: a cluster earns a name and a claim, or stays an unnamed cluster;
- ``curation``: analysts' theme edits (rename, merge, promote, dismiss), applied by every run;
- ``naming``: emergent themes named by a noun phrase of their own sentences;
- ``identity``: theme ids kept across runs;
- ``stage``: the flow's entry, over the store.
"""

from .fit import (CategoryThemes, Theme, ThemeParams, citation_names, enable_numba_cache, fit_category, fit_sample,
                  settle_topics, stop_words, warm_numba_cache)
from .frame import Frame, FrameTheme, default_frame, load_frame
from .stage import ThemesOutcome, build_themes, corpus_names, named_theme_texts, themes_dir

__all__ = ["CategoryThemes", "Theme", "ThemeParams", "citation_names", "enable_numba_cache", "fit_category",
           "fit_sample", "settle_topics", "stop_words", "warm_numba_cache", "Frame", "FrameTheme", "default_frame",
           "load_frame", "ThemesOutcome", "build_themes", "corpus_names", "named_theme_texts", "themes_dir"]
