"""The metric catalogue: every per-trial metric, declared once, read top to bottom.

A trial (``suite/train/``) computes these numbers; everything else asks this table about them: which way is
better (declared, never guessed from the name), which task has it, how a verdict tests it (its shape), the
smallest effect of it that matters (its default margin), and where a report shows it. Every list the rest of the
suite needs (the metrics an expectation may name, the report's columns for a task, the figure's panels, the
timings a replication leaves out, ...) is a query at the bottom of this file.

Adding a metric is one ``Metric(...)`` line here plus the code that computes it (tests/test_catalogue.py does
exactly that).

The fields:

- ``better``: ``max`` or ``min``.
- ``task``: ``classification``, ``regression`` or ``any``.
- ``shape``: ``mean`` (compared by means), ``censored`` (a time to target, right-censored at the trial's budget:
  never averaged, ranked with the misses last) or ``binary`` (0 or 1 per seed: compared as counts).
- ``margin``: the default smallest effect that matters, on the metric's own units (``scale="metric"``) or as a
  share of the reference arm's value (``scale="relative"``); ``None``: no negligible outcome unless a study
  declares a margin. ``why`` says where it comes from (the report prints it).
- ``censored_at``: a time to target's budget, the trial's own follow-up (the column that censors it).
- ``label`` and ``unit``: how a table or a figure names it.
- ``at_end``: measured when training ends (or at its best epoch), so only meaningful for an arm that had stopped
  improving (``analyze/regime.py`` withholds such a verdict from an arm still improving at its cap); ``rises``: a
  score that rises as the monitored validation score improves, so training the arm ahead longer only widens its
  lead; ``at_init``: measured before the first training step, in every training regime alike.
- ``column`` / ``panel``: its place (10, 20, ...: room between for a new one) in the report's *Results per cell*
  table and in ``metrics.png``;
  ``headline``: the *Observed* line naming the cell best on it.
- ``summary``: summarised per cell (mean, 95% interval, median) in ``summary.csv``; ``published``: those means
  also logged on the study's MLflow run.
- ``timing``: wall-clock seconds, which no rerun reproduces: replication leaves it out, and a grouped trial's
  seconds are its share of its group's.
"""

from __future__ import annotations

from dataclasses import dataclass

TASKS = ("classification", "regression")

# The default margins, declared with each metric below (a study may set its own for one expectation, with its reason).
ACCURACY = 0.02  # two points of accuracy (or of F1, AUC, balanced accuracy): below what a practitioner acts on
R2 = 0.02  # two points of R²
SHARE = 0.05  # five points of a share of weights or units (near-zero weights, saturated or dead units)
RATE = 0.10  # ten points of the rate of a yes/no outcome (diverged, reached the target): a few seeds in a dozen
LOSS = 0.05  # nats of cross-entropy (per example)
RELATIVE = 0.10  # 10% of the reference arm's time, epochs or steps
DECADE_THIRD = 1 / 3  # a third of a decade (log10 units): one rung of the usual log ladder of learning rates


@dataclass(frozen=True)
class Metric:
    name: str
    better: str  # "max" | "min"
    label: str
    task: str = "any"  # "classification" | "regression" | "any"
    shape: str = "mean"  # "mean" | "censored" | "binary"
    censored_at: str | None = None  # shape "censored": the trial's budget in the same units
    margin: float | None = None
    scale: str = "metric"  # "metric" | "relative"
    why: str = ""
    unit: str = ""
    at_end: bool = False
    rises: bool = False
    at_init: bool = False
    column: int | None = None
    panel: int | None = None
    headline: str | None = None
    summary: bool = False
    published: bool = False
    timing: bool = False

    def for_task(self, task: str | None) -> bool:
        """Whether a study of ``task`` has it (a study that leaves ``data.task`` out classifies)."""
        return self.task in ("any", task or "classification")


_acc = dict(margin=ACCURACY, why="two points of accuracy-like score")
_r2 = dict(margin=R2, why="two points of R²", task="regression")
_share = dict(margin=SHARE, why="five points of a share")
_loss = dict(margin=LOSS, why="0.05 nats of cross-entropy")
_rate = dict(margin=RATE, why="ten points of the rate of a yes/no outcome", shape="binary")
_relative = dict(margin=RELATIVE, scale="relative", why="10% of the reference arm's value")
_to_target = dict(_relative, shape="censored")
_seconds = dict(_relative, unit="s", timing=True)
_error = dict(_relative, task="regression", unit="label units")  # a regression's errors are in the label's units
_decade = dict(margin=DECADE_THIRD)

CATALOGUE: tuple[Metric, ...] = (
    # ---- reaching the target (study.target) ----
    Metric("reached_target", "max", "reached target", **_rate, column=10),
    Metric("epochs_to_target", "min", "epochs to target", **_to_target, censored_at="epochs_run", unit="epochs",
           column=20, panel=30, headline="Fewest epochs to target (median)"),
    Metric("steps_to_target", "min", "steps to target", **_to_target, censored_at="steps_run", unit="steps"),
    Metric("examples_to_target", "min", "examples to target", **_to_target, censored_at="examples_run",
           unit="examples"),
    Metric("time_to_target_s", "min", "train s to target", **_to_target, censored_at="train_time_s", unit="s",
           timing=True, column=30, panel=40, headline="Least training time to target (median)"),
    # ---- a classification's scores ----
    Metric("final_val_accuracy", "max", "final val acc", task="classification", **_acc, at_end=True, rises=True, column=40,
           summary=True),
    Metric("best_val_accuracy", "max", "best val acc", task="classification", **_acc, at_end=True, rises=True, summary=True,
           published=True),
    Metric("test_accuracy", "max", "test acc", task="classification", **_acc, at_end=True, rises=True, column=50, panel=10,
           headline="Highest mean test accuracy", summary=True, published=True),
    Metric("train_accuracy", "max", "train acc", task="classification", **_acc, at_end=True, column=80, summary=True),
    *(Metric(f"test_{name}", "max", label, task="classification", **_acc, at_end=True, rises=True, summary=True)
      for name, label in (("macro_f1", "macro F1"), ("macro_precision", "macro precision"),
                          ("macro_recall", "macro recall"), ("balanced_accuracy", "balanced accuracy"),
                          ("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC"))),
    # ---- a regression's scores (data.task: regression): R² higher, errors in the label's units lower ----
    Metric("final_val_r2", "max", "final val R²", **_r2, at_end=True, rises=True, column=40, summary=True),
    Metric("best_val_r2", "max", "best val R²", **_r2, at_end=True, rises=True, summary=True, published=True),
    Metric("test_r2", "max", "test R²", **_r2, at_end=True, rises=True, column=50, panel=10, headline="Highest mean test R²",
           summary=True, published=True),
    Metric("train_r2", "max", "train R²", **_r2, at_end=True, column=80, summary=True),
    Metric("test_rmse", "min", "test RMSE", **_error, at_end=True, column=60, panel=15,
           headline="Lowest mean test RMSE", summary=True, published=True),
    Metric("test_mae", "min", "test MAE", **_error, at_end=True, column=70, summary=True, published=True),
    Metric("test_mape", "min", "test MAPE", **_relative, task="regression", at_end=True, column=75, summary=True),
    Metric("val_rmse", "min", "val RMSE", **_error, summary=True),
    Metric("val_mae", "min", "val MAE", **_error),
    Metric("train_rmse", "min", "train RMSE", **_error, at_end=True, summary=True),
    Metric("train_mae", "min", "train MAE", **_error, at_end=True),
    # ---- either task ----
    Metric("generalization_gap", "min", "gap (train - val)", **_acc, at_end=True, column=90, panel=20,
           headline="Smallest mean generalization gap", summary=True, published=True),  # accuracy or R²
    Metric("test_loss", "min", "test loss", **_loss, unit="nats", at_end=True, summary=True),
    Metric("train_loss", "min", "train loss", **_loss, unit="nats", at_end=True, summary=True),
    Metric("initial_loss", "min", "initial loss", **_loss, unit="nats", at_init=True, summary=True),
    Metric("diverged", "min", "diverged", **_rate),
    Metric("near_zero_weights", "max", "near-zero weights", **_share, summary=True),
    Metric("epochs_run", "min", "epochs run", **_relative, unit="epochs", summary=True),
    Metric("best_epoch", "min", "best epoch", **_relative, unit="epochs", summary=True),
    # ---- wall-clock seconds (training time excludes validation and the first epoch's warm-up) ----
    Metric("train_time_s", "min", "train s", **_seconds, summary=True),
    Metric("epoch_time_s", "min", "s / epoch", **_seconds, column=100, summary=True),
    Metric("warmup_s", "min", "warm-up s", **_seconds, column=110, summary=True),
    Metric("group_train_s", "min", "group train s", **_seconds),  # a grouped trial's whole group's seconds
    # ---- a cell's nuisance search (the same value on every seed of the cell) ----
    Metric("search_best_val_accuracy", "max", "best val score found", **_acc, summary=True),  # R² in a regression
    Metric("search_epochs_to_target", "min", "search epochs to target", **_to_target, censored_at="search_epochs",
           unit="search epochs"),
    Metric("tuned_log10_learning_rate", "max", "tuned log10 rate", **_decade,
           why="a third of a decade of learning rate"),
    # ---- diagnostics (diagnostics: [activations] / [gradients]); directions matter only for best_at ----
    Metric("act_std_first_init", "max", "first layer's activation SD at init", at_init=True),
    Metric("act_std_last_init", "max", "last layer's activation SD at init", at_init=True),
    Metric("act_std_ratio_init", "max", "last/first activation SD at init", **_relative, at_init=True),
    *(Metric(f"{name}_{when}", "min", f"{name} units at {when}", **_share, at_init=when == "init")
      for name in ("saturated", "dead", "off") for when in ("init", "final")),
    *(Metric(f"grad_ratio_{when}", "max", f"gradient ratio at {when}", at_init=when == "init") for when in ("init", "final")),
    *(Metric(f"grad_ratio_log10_{when}", "max", f"log10 gradient ratio at {when}", **_decade, at_init=when == "init",
             why="a third of a decade of gradient ratio") for when in ("init", "final")),
    *(Metric(f"grad_first_{when}", "max", f"first layer's gradient norm at {when}", at_init=when == "init")
      for when in ("init", "final")),
)

# --------------------------------------------------------------------------
# Queries: every list the rest of the suite needs
# --------------------------------------------------------------------------

BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOGUE}
assert len(BY_NAME) == len(CATALOGUE), "a metric is declared twice"

NAMES = tuple(BY_NAME)  # the metrics an expectation (or a target) may name
BETTER = {m.name: m.better for m in CATALOGUE}
CENSORED = tuple(m.name for m in CATALOGUE if m.shape == "censored")
BINARY = tuple(m.name for m in CATALOGUE if m.shape == "binary")
SUMMARISED = tuple(m.name for m in CATALOGUE if m.summary)
TIMINGS = frozenset(m.name for m in CATALOGUE if m.timing)
AT_END = frozenset(m.name for m in CATALOGUE if m.at_end)
RISES = frozenset(m.name for m in CATALOGUE if m.rises)
AT_INIT = frozenset(m.name for m in CATALOGUE if m.at_init)


def get(name: str) -> Metric:
    return BY_NAME[name]


def columns(task: str | None) -> tuple[Metric, ...]:
    """The report's *Results per cell* columns for ``task``, in order."""
    return tuple(sorted((m for m in CATALOGUE if m.column and m.for_task(task)), key=lambda m: m.column))


def panels(task: str | None) -> tuple[Metric, ...]:
    """The panels of ``metrics.png`` for ``task``, in order."""
    return tuple(sorted((m for m in CATALOGUE if m.panel and m.for_task(task)), key=lambda m: m.panel))


def published(task: str | None) -> tuple[str, ...]:
    """The per-cell means logged on the study's MLflow run."""
    return tuple(m.name for m in CATALOGUE if m.published and m.for_task(task))
