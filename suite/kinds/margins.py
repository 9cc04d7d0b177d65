"""The smallest effect that matters, declared before the data: one default per metric and scale, kept here.

Every expectation has a margin. Where the data put the whole (1 - 2 alpha) interval of its effect
inside ±margin, the two one-sided tests (TOST) decide it **negligible**: if the claimed effect exists,
it is too small to matter here. A study may set another margin for one expectation (``margin:``),
with its reason (``margin_reason:``); the report prints each margin and where it came from.

A margin is on the scale of the kind's effect (``Expectation.scale``):

- ``metric``: the metric's own units (a difference of means, a mean minus a value, a margin over a rival);
- ``relative``: a share of the reference arm's value (times to target, epochs, seconds, a regression's
  errors in the label's units), so 0.1 is 10%;
- ``correlation``: Spearman's rho of a trend across cells;
- ``log SD ratio``: log(SD A / SD B) of two spreads.

A metric with no default here (the diagnostics' raw spreads) has no negligible outcome unless its study
declares a margin.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCURACY = 0.02  # two points of accuracy (or of F1, AUC, balanced accuracy): below what a practitioner acts on
SHARE = 0.05  # five points of a share of weights or units (near-zero weights, saturated or dead units)
RATE = 0.10  # ten points of the rate of a yes/no outcome (diverged, reached the target): a few seeds in a dozen
LOSS = 0.05  # nats of cross-entropy (per example)
RELATIVE = 0.10  # 10% of the reference arm's time, epochs or steps
DECADE_THIRD = 1 / 3  # a third of a decade of learning rate (log10 units): one rung of the usual log ladder
CORRELATION = 0.3  # rho within ±0.3: a weak trend at best (Cohen's "small-to-medium" boundary)
LOG_SD_RATIO = 0.22  # log(1.25): one spread within 25% of the other

# metric -> (margin on the "metric" scale, why); scales other than "metric" have one default each (below).
BY_METRIC: dict[str, tuple[float, str]] = {
    **{m: (ACCURACY, "two points of accuracy-like score") for m in (
        "final_val_accuracy", "best_val_accuracy", "train_accuracy", "test_accuracy", "test_macro_f1",
        "test_macro_precision", "test_macro_recall", "test_balanced_accuracy", "test_roc_auc", "test_pr_auc",
        "generalization_gap", "search_best_val_accuracy")},
    **{m: (ACCURACY, "two points of R²") for m in ("final_val_r2", "best_val_r2", "train_r2", "test_r2")},
    **{m: (SHARE, "five points of a share") for m in (
        "near_zero_weights", "saturated_init", "saturated_final", "dead_init", "dead_final", "off_init", "off_final")},
    **{m: (LOSS, "0.05 nats of cross-entropy") for m in ("test_loss", "train_loss", "initial_loss")},
    **{m: (RATE, "ten points of the rate of a yes/no outcome") for m in ("diverged", "reached_target")},
    "tuned_log10_learning_rate": (DECADE_THIRD, "a third of a decade of learning rate"),
    "grad_ratio_log10_init": (DECADE_THIRD, "a third of a decade of gradient ratio"),
    "grad_ratio_log10_final": (DECADE_THIRD, "a third of a decade of gradient ratio"),
}
RELATIVE_METRICS = ("epochs_to_target", "steps_to_target", "examples_to_target", "time_to_target_s",
                    "search_epochs_to_target", "epochs_run", "best_epoch", "train_time_s", "epoch_time_s",
                    "act_std_ratio_init",  # last layer's activation spread over the first's: 10% of the reference
                    *(f"{split}_{error}" for split in ("train", "val", "test") for error in ("rmse", "mae")))
BY_SCALE: dict[str, tuple[float, str]] = {
    "relative": (RELATIVE, "10% of the reference arm's value"),
    "correlation": (CORRELATION, "a weak trend at most: rho within ±0.3"),
    "log SD ratio": (LOG_SD_RATIO, "spreads within 25% of each other"),
}


@dataclass(frozen=True)
class Margin:
    value: float  # on the scale below
    scale: str
    why: str  # where it comes from: the default's reason, or the study's ``margin_reason``

    def at(self, reference: float) -> float:
        """The margin on the effect's own scale: a relative one is that share of ``reference`` (its size)."""
        return self.value * abs(reference) if self.scale == "relative" else self.value

    def words(self) -> str:
        shown = f"±{self.value:.0%} of the reference" if self.scale == "relative" else f"±{self.value:g}"
        return f"{shown} ({self.why})"


def default(scale: str, metric: str) -> Margin | None:
    """The default margin of an effect on ``scale`` of ``metric`` (None where none is set)."""
    if scale in BY_SCALE:
        value, why = BY_SCALE[scale]
        return Margin(value, scale, "default: " + why)
    if metric in RELATIVE_METRICS:
        return Margin(RELATIVE, "relative", "default: " + BY_SCALE["relative"][1])
    if metric in BY_METRIC:
        value, why = BY_METRIC[metric]
        return Margin(value, "metric", "default: " + why)
    return None
