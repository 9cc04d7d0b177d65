"""Test-split classification metrics from predicted probabilities (scikit-learn)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics


def scores(y_true: np.ndarray, probs: np.ndarray) -> dict[str, float | None]:
    """Accuracy, macro F1/precision/recall, balanced accuracy, one-vs-rest ROC AUC and PR AUC.

    A model whose outputs are not finite (a diverged run) gets None for the
    metrics that need probabilities, and its argmax for the rest.
    """
    classes = probs.shape[1]
    finite = bool(np.isfinite(probs).all())
    y_pred = probs.argmax(axis=1) if finite else np.zeros_like(y_true)
    out = {
        "test_macro_f1": metrics.f1_score(y_true, y_pred, average="macro", labels=range(classes), zero_division=0),
        "test_macro_precision": metrics.precision_score(y_true, y_pred, average="macro", labels=range(classes), zero_division=0),
        "test_macro_recall": metrics.recall_score(y_true, y_pred, average="macro", labels=range(classes), zero_division=0),
        "test_balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
        "test_roc_auc": None,
        "test_pr_auc": None,
    }
    present = np.unique(y_true)
    if finite and len(present) == classes:
        onehot = np.eye(classes)[y_true]
        out["test_roc_auc"] = metrics.roc_auc_score(onehot, probs, average="macro")
        out["test_pr_auc"] = metrics.average_precision_score(onehot, probs, average="macro")
    return {k: None if v is None else float(v) for k, v in out.items()}
