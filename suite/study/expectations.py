"""What a study checks: its convergence target, the per-trial metrics a verdict can judge
(each with its declared direction), expectations and published references.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from suite.ground.fields import Locked, Number, PositiveFloat, Text

# Directions are declared, never guessed from a metric's name.
TARGET_METRICS = {"accuracy": "max", "val_accuracy": "max", "loss": "min", "val_loss": "min"}


class Target(Locked):
    metric: Literal["val_accuracy", "accuracy", "val_loss", "loss"]
    value: Number
    direction: Literal["max", "min"] = None  # defaults to the metric's declared direction

    @model_validator(mode="before")
    @classmethod
    def _declared_direction(cls, data):
        metric = data.get("metric") if isinstance(data, dict) else None
        if isinstance(metric, str) and metric in TARGET_METRICS and data.get("direction") is None:
            data = {**data, "direction": TARGET_METRICS[data["metric"]]}
        return data

    def reached(self, value: float) -> bool:
        return value >= self.value if self.direction == "max" else value <= self.value


# Per-trial metrics a verdict can judge, with the direction in which each is better.
TRIAL_METRICS = {
    "final_val_accuracy": "max",
    "best_val_accuracy": "max",
    "train_accuracy": "max",
    "test_accuracy": "max",
    "test_macro_f1": "max",
    "test_macro_precision": "max",
    "test_macro_recall": "max",
    "test_balanced_accuracy": "max",
    "test_roc_auc": "max",
    "test_pr_auc": "max",
    "reached_target": "max",
    "generalization_gap": "min",
    "test_loss": "min",
    "train_loss": "min",
    "initial_loss": "min",
    "epochs_to_target": "min",
    "steps_to_target": "min",
    "examples_to_target": "min",
    "time_to_target_s": "min",
    "epochs_run": "min",
    "best_epoch": "min",
    "train_time_s": "min",
    "epoch_time_s": "min",
    "near_zero_weights": "max",
    "diverged": "min",
    # a cell's nuisance search (the same value on every seed of the cell)
    "search_best_val_accuracy": "max",
    "search_epochs_to_target": "min",
    "tuned_log10_learning_rate": "max",  # the decade of the rate the trial's search chose (a tuned study)
    # diagnostics (with diagnostics: [activations] / [gradients]); directions matter only for best_at
    "act_std_first_init": "max",
    "act_std_last_init": "max",
    "act_std_ratio_init": "max",
    "saturated_init": "min",
    "saturated_final": "min",
    "dead_init": "min",
    "dead_final": "min",
    "off_init": "min",
    "off_final": "min",
    "grad_ratio_init": "max",
    "grad_ratio_final": "max",
    "grad_ratio_log10_init": "max",
    "grad_ratio_log10_final": "max",
    "grad_first_init": "max",
    "grad_first_final": "max",
}
CENSORED_METRICS = ("epochs_to_target", "steps_to_target", "examples_to_target", "time_to_target_s", "search_epochs_to_target")
BINARY_METRICS = ("diverged", "reached_target")  # 0 or 1 per seed: compared as counts, not means


class Reference(Locked):
    """A published value to show beside the measured one (e.g. a paper's table), with where it comes from."""

    metric: Literal[tuple(TRIAL_METRICS)]
    value: Number
    source: Text
    where: dict[str, Any] = {}  # the cells it describes


class Literature(Locked):
    """The published finding an expectation corresponds to, whether that work found the statement to hold,
    and the regime it was made in: "agrees" or "disagrees" is only said when the study's arms were in it."""

    cite: Text  # e.g. "Srivastava et al. 2014, JMLR 15: dropout 0.5 on hidden units"
    found: Literal["holds", "fails"] = "holds"
    explain: Text | None = None  # where the verdict disagrees: why, from the data (setup, size, training length)
    # converged: every compared arm had stopped improving (its median best epoch before the last 10% of its epochs);
    # fits training set: every compared arm's mean training accuracy at least 0.99;
    # any: the finding holds whatever the training length (say why in explain).
    # Time-to-target findings (how much sooner) need every compared arm to reach the target in at least half its seeds.
    regime: Literal["converged", "fits training set", "any"] = "converged"


def agreement(verdict: str, literature: dict | None, outside: str = "") -> str | None:
    """Whether a verdict agrees with the published finding: agrees, disagrees, or "cannot tell: (reason)"
    when the verdict is inconclusive or the study's arms were outside the finding's regime (``outside``)."""
    if not literature:
        return None
    if verdict == "inconclusive":
        return "cannot tell: inconclusive"
    if outside:
        return f"cannot tell: {outside}"
    return "agrees" if (verdict == "supported") == (literature["found"] == "holds") else "disagrees"


class Expect(Locked):
    """One checkable statement of the claim. Exactly one of: a trend, a best cell, a comparison, a bound."""

    says: Text
    literature: Literature | None = None
    metric: Literal[tuple(TRIAL_METRICS)]
    where: dict[str, Any] = {}  # only the cells with these grid values
    # trend: the metric rises or falls along a grid axis (Spearman rank correlation)
    along: str | None = None
    trend: Literal["increasing", "decreasing"] | None = None
    # best_at: this cell is the best one (bootstrap over seeds); "best" is the metric's declared direction
    best_at: dict[str, Any] | None = None
    # compare: one cell against another (Welch t-test, or Mann-Whitney when values are censored)
    compare: dict[str, Any] | None = None
    against: dict[str, Any] | None = None
    direction: Literal["greater", "less"] | None = None
    within: PositiveFloat | None = None  # instead of a direction: equal within this margin (TOST)
    statistic: Literal["mean", "sd"] = "mean"  # what a comparison compares: means, or the spread across seeds (F-test)
    # steadier: averaging over one axis (e.g. the folds of k-fold) gives a steadier estimate across
    # replicates (e.g. data.seed, i.e. different partitions) than a single value of that axis (one split)
    steadier: str | None = None
    replicate: str = "seed"
    # bound: the metric's mean lies below, above or near a value (one-sample t)
    below: Number | None = None
    above: Number | None = None
    near: Number | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [
            k
            for k, present in (
                ("trend", self.along is not None or self.trend is not None),
                ("best_at", self.best_at is not None),
                ("compare", self.compare is not None or self.against is not None),
                ("bound", any(v is not None for v in (self.below, self.above, self.near))),
                ("steadier", self.steadier is not None),
            )
            if present
        ]
        if len(kinds) != 1:
            raise PydanticCustomError(
                "value", "needs exactly one of: along+trend, best_at, compare+against, below/above/near, steadier"
            )
        kind = kinds[0]
        if kind == "trend" and (self.along is None or self.trend is None):
            raise PydanticCustomError("value", "a trend needs both along and trend")
        if kind == "compare" and (self.compare is None or self.against is None):
            raise PydanticCustomError("value", "a comparison needs both compare and against")
        if kind == "compare" and (self.direction is None) == (self.within is None):
            raise PydanticCustomError("value", "a comparison needs exactly one of direction or within")
        if self.statistic == "sd" and (kind != "compare" or self.within is not None):
            raise PydanticCustomError("value", "statistic: sd compares two cells' spreads with a direction (greater or less)")
        if self.statistic == "sd" and self.metric in CENSORED_METRICS + BINARY_METRICS:
            raise PydanticCustomError("value", "statistic: sd needs a metric measured on every trial, not a censored or yes/no one")
        if kind == "bound" and sum(v is not None for v in (self.below, self.above, self.near)) != 1:
            raise PydanticCustomError("value", "a bound needs exactly one of below, above or near")
        if kind == "bound" and (self.near is not None) != (self.within is not None):
            raise PydanticCustomError("value", "near needs within (the margin), and within needs near or compare")
        if kind == "bound" and self.metric in CENSORED_METRICS:
            raise PydanticCustomError("value", "a bound needs a metric measured on every trial, not a censored one")
        return self

    @property
    def kind(self) -> str:
        if self.along is not None:
            return "trend"
        if self.best_at is not None:
            return "best_at"
        if self.compare is not None:
            return "compare"
        if self.steadier is not None:
            return "steadier"
        return "bound"
