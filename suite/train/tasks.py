"""What a trial's model predicts: classes, or a quantity (``data.task``).

- **classification**: one logit per class, trained on cross-entropy; scored by accuracy.
- **regression**: one output, trained on the label standardized by the training split's mean and
  standard deviation (so a loss and a learning rate mean the same on every table), by mean squared
  error, or mean absolute error or Huber (delta 1, in standard deviations) where ``train.loss`` says
  so; scored by R² (higher is better, the same on either scale), with RMSE and MAE in the label's own
  units on every split.

One ``Task`` says which, and everything that differs between the two asks it: the output width,
the loss and metric a model compiles, the loss and score of its outputs (NumPy, in float64), and
the per-epoch history's keys (``loss, accuracy, val_loss, val_accuracy`` or ``loss, r2, val_loss,
val_r2``). Validation loss is what early stopping watches by default in both; the names of the
per-trial metrics follow the score (``test_accuracy`` or ``test_r2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSIFICATION, REGRESSION = "classification", "regression"
REGRESSION_LOSSES = ("mse", "mae", "huber")  # train.loss; a classification trains on cross-entropy only
HUBER_DELTA = 1.0  # in standard deviations of the label: Keras's default


@dataclass(frozen=True)
class Task:
    kind: str = CLASSIFICATION
    loss: str = "cross_entropy"
    label_mean: float = 0.0  # regression: the training split's label mean and SD (the trained scale)
    label_sd: float = 1.0

    @property
    def regression(self) -> bool:
        return self.kind == REGRESSION

    @property
    def score(self) -> str:
        """The per-epoch score beside the loss, higher is better: a history key and the stem of the trial's metrics."""
        return "r2" if self.regression else "accuracy"

    @property
    def history_keys(self) -> tuple[str, ...]:
        return ("loss", self.score, "val_loss", f"val_{self.score}")

    def outputs(self, classes: int) -> int:
        """The model's output width: one logit per class, or one value."""
        return 1 if self.regression else classes

    def keras_loss(self):
        import keras

        if not self.regression:
            return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return {"mse": keras.losses.MeanSquaredError, "mae": keras.losses.MeanAbsoluteError,
                "huber": lambda: keras.losses.Huber(delta=HUBER_DELTA)}[self.loss]()

    def keras_metrics(self) -> list:
        import keras

        return [keras.metrics.R2Score(name="r2")] if self.regression else ["accuracy"]

    def loss_and_score(self, out: np.ndarray, y: np.ndarray, penalty: float) -> tuple[float, float]:
        """What ``evaluate`` reports from the outputs: the loss (plus the regularization penalty) and the score."""
        if not self.regression:
            from suite.train.measure import loss_and_accuracy

            return loss_and_accuracy(out, y, penalty)
        residual = np.asarray(out, dtype="float64").reshape(len(y)) - y
        with np.errstate(invalid="ignore", over="ignore"):
            if self.loss == "mse":
                loss = np.mean(residual**2)
            elif self.loss == "mae":
                loss = np.mean(np.abs(residual))
            else:
                small = np.abs(residual) <= HUBER_DELTA
                loss = np.mean(np.where(small, 0.5 * residual**2, HUBER_DELTA * (np.abs(residual) - 0.5 * HUBER_DELTA)))
            return float(loss) + penalty, r2(out, y)

    def errors(self, split: str, out: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """A regression's RMSE and MAE on ``split``, in the label's own units (``test_rmse``, ``test_mae``), and its
        MAPE, the mean of each error over its label's size (scikit-learn's: a zero label counts at machine epsilon)."""
        residual = (np.asarray(out, dtype="float64").reshape(len(y)) - y) * self.label_sd
        label = np.abs(np.asarray(y, dtype="float64") * self.label_sd + self.label_mean)
        with np.errstate(invalid="ignore", over="ignore"):
            return {f"{split}_rmse": float(np.sqrt(np.mean(residual**2))), f"{split}_mae": float(np.mean(np.abs(residual))),
                    f"{split}_mape": float(np.mean(np.abs(residual) / np.maximum(label, np.finfo("float64").eps)))}


def r2(out: np.ndarray, y: np.ndarray) -> float:
    """The coefficient of determination, 1 - SSE / SS around the split's own mean (scikit-learn's ``r2_score``):
    the same on the standardized scale as in the label's units."""
    y = np.asarray(y, dtype="float64")
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        sse = float(np.sum((np.asarray(out, dtype="float64").reshape(len(y)) - y) ** 2))
        total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - sse / total if total > 0 else (0.0 if sse == 0 else -np.inf)


def of(splits, train) -> Task:
    """The task a trial trains: its splits' (a regression's label scale) with its ``train.loss``."""
    if splits.label_scale is None:
        return Task()
    mean, sd = splits.label_scale
    return Task(REGRESSION, train.loss or "mse", mean, sd)


def strata(y: np.ndarray, bins: int = 10) -> np.ndarray:
    """Class codes to stratify splits by: a regression's labels by their deciles (ties kept together)."""
    edges = np.unique(np.quantile(y, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, y, side="right").astype("int64")
