"""How a sentence gets its categories — one folder:

- ``data``: coded sentences (JSONL/CSV) ↔ the store's spans, and analysts' decisions on top;
- ``model``: MiniLM fine-tuned as a multi-label classifier reading the sentence, the previous
  sentence and the section heading, calibrated probabilities, explanations by the nearest coded
  sentences, the artefact (its encoder under ONNX Runtime: ``collabmine.onnx_encoder``);
- ``train``: fine-tuning and the leave-one-report-out folds;
- ``evaluate``: P/R/F1 with bootstrap intervals and the calibration table;
- ``stage``: what the flow and the CLI call (tag a report, train, evaluate).
"""

from ..categories import CATEGORIES
from .data import SHOW_UNMATCHED, CodedRow, Context, read_coded
from .evaluate import Report, evaluate
from .model import TAGGER_VERSION, TaggerModel, fingerprint
from .stage import (ReportTags, TrainOutcome, embed_report, evaluate_held_out, evaluate_store, load_tagger,
                    stale_reports, tag_report, tag_store, tag_text, tagger_dir, tagger_thresholds, train_tagger)
from .train import TrainConfig

__all__ = ["CATEGORIES", "SHOW_UNMATCHED", "fingerprint", "CodedRow", "Context", "read_coded", "Report", "evaluate", "TAGGER_VERSION", "TaggerModel",
           "ReportTags", "TrainOutcome", "embed_report", "evaluate_held_out", "evaluate_store", "load_tagger",
           "stale_reports", "tag_report", "tag_store", "tag_text", "tagger_dir", "tagger_thresholds", "train_tagger", "TrainConfig"]
