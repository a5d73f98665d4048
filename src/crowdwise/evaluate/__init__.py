"""Evaluation against ground truth: metrics (and, later, the benchmark runner)."""

from .metrics import EvaluationResult, align_labels_by_id, evaluate_labels

__all__ = ["EvaluationResult", "align_labels_by_id", "evaluate_labels"]
