"""Measuring a trained model: logits by direct inference calls, loss and accuracy as ``evaluate``
reports them (in float64), the fraction of near-zero weights, and the test split's classification
metrics (scikit-learn)."""

from __future__ import annotations

import keras
import numpy as np
from sklearn import metrics

from suite.train import backend

EVAL_BATCH = 1024  # evaluation batch size only changes speed, never the result


def logits(model, x: np.ndarray) -> np.ndarray:
    """The model's outputs in inference mode, in EVAL_BATCH chunks through the backend's compiled forward pass.

    For the few thousand examples of a split this is several times faster than
    ``evaluate``/``predict``, which build a dataset iterator for every call."""
    forward = backend.inference(model)
    chunks = [keras.ops.convert_to_numpy(forward(x[i : i + EVAL_BATCH])) for i in range(0, len(x), EVAL_BATCH)]
    return np.concatenate(chunks).astype(np.float64)


def penalty(model) -> float:
    """The model's regularization penalty (L1, L2), as ``evaluate`` adds it to the loss."""
    return float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses)) if model.losses else 0.0


def loss_and_accuracy(out: np.ndarray, y: np.ndarray, penalty: float) -> tuple[float, float]:
    """What ``evaluate`` reports: mean cross-entropy from the logits plus the regularization penalty, and accuracy."""
    with np.errstate(invalid="ignore", over="ignore"):
        top = out.max(axis=1, keepdims=True)
        log_norm = (top + np.log(np.exp(out - top).sum(axis=1, keepdims=True)))[:, 0]
        cross_entropy = float(np.mean(log_norm - out[np.arange(len(y)), y]))
    return cross_entropy + penalty, float(np.mean(out.argmax(axis=1) == y))


NEAR_ZERO = 1e-3  # |w| below this counts as zero: gradient steps leave L1's zeros jittering at about this size


def near_zero_fraction(model) -> float:
    """The fraction of connection weights (kernels, not biases or norm scales) with |w| < NEAR_ZERO."""
    kernels = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights if len(w.shape) >= 2]
    if not kernels:
        return 0.0
    values = np.concatenate([k.ravel() for k in kernels])
    return float(np.mean(np.abs(values) < NEAR_ZERO))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)



def scores(y_true: np.ndarray, probs: np.ndarray) -> dict[str, float | None]:
    """Accuracy, macro F1/precision/recall, balanced accuracy, one-vs-rest ROC AUC and PR AUC, and the test split's
    largest and smallest class shares (``test_majority_rate``: the accuracy of always answering the largest class).

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
    shares = np.bincount(y_true, minlength=classes) / max(len(y_true), 1)
    out["test_majority_rate"] = shares.max()  # what always answering the largest class scores: accuracy's floor
    out["test_minority_rate"] = shares.min()
    present = np.unique(y_true)
    if finite and len(present) == classes:
        onehot = np.eye(classes)[y_true]
        out["test_roc_auc"] = metrics.roc_auc_score(onehot, probs, average="macro")
        out["test_pr_auc"] = metrics.average_precision_score(onehot, probs, average="macro")
    return {k: None if v is None else float(v) for k, v in out.items()}
