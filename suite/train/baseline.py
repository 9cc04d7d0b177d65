"""A linear baseline on a study's own splits: what a network is claimed to beat (``above: baseline``).

Measured, never copied: on the splits every trial of the study sees (the same rows, columns, encoding and scaling),
so dropping or adding a column in ``data.columns`` moves the baseline with it. Classes get a standardised logistic
regression, a quantity a ridge regression (its penalty chosen by cross-validation on the training rows); both are
deterministic, so the same study gives the same baseline on every machine to the digits a verdict prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.train.kept import Kept
from suite.train.splits import prepare


@dataclass(frozen=True)
class Baseline:
    """What a standardised logistic regression fitted on the training rows scores on the study's own splits."""

    val_accuracy: float
    test_accuracy: float
    test_balanced_accuracy: float


@dataclass(frozen=True)
class Ridge:
    """What a ridge regression (its penalty chosen by cross-validation on the training rows) scores on the study's
    own splits: R² on its validation and test rows, and the test RMSE in the label's units."""

    val_r2: float
    test_r2: float
    test_rmse: float


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


def logistic(splits) -> Baseline:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    model = LogisticRegression(max_iter=2000).fit(_flat(splits.x_train), splits.y_train)
    return Baseline(float(model.score(_flat(splits.x_val), splits.y_val)),
                    float(model.score(_flat(splits.x_test), splits.y_test)),
                    float(balanced_accuracy_score(splits.y_test, model.predict(_flat(splits.x_test)))))


def ridge(splits) -> Ridge:
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score

    model = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(_flat(splits.x_train), splits.y_train)
    test = model.predict(_flat(splits.x_test))
    rmse = float(np.sqrt(np.mean((test - splits.y_test) ** 2)) * splits.label_scale[1])  # standardized -> label units
    return Ridge(float(r2_score(splits.y_val, model.predict(_flat(splits.x_val)))), float(r2_score(splits.y_test, test)),
                 rmse)


# The metrics a baseline is measured on: which model, and which of its scores.
MEASURED = {
    "test_accuracy": ("a standardised logistic regression", logistic, "test_accuracy"),
    "test_balanced_accuracy": ("a standardised logistic regression", logistic, "test_balanced_accuracy"),
    "best_val_accuracy": ("a standardised logistic regression", logistic, "val_accuracy"),
    "final_val_accuracy": ("a standardised logistic regression", logistic, "val_accuracy"),
    "test_r2": ("a ridge regression", ridge, "test_r2"),
    "best_val_r2": ("a ridge regression", ridge, "val_r2"),
    "final_val_r2": ("a ridge regression", ridge, "val_r2"),
    "test_rmse": ("a ridge regression", ridge, "test_rmse"),
}


def measure(data, metric: str, kept: Kept | None = None) -> tuple[float, str]:
    """The baseline's ``metric`` on the splits of ``data`` (a study's data settings), and where it came from."""
    model, fit, score = MEASURED[metric]
    value = float(getattr(fit(prepare(data, kept)), score))
    return value, f"{model} on this study's own splits, measured when the study was read"
