"""What a study checks besides its expectations: its convergence target and published references.

The expectations themselves (``expect:``), one kind each, and the per-trial metrics a verdict can
judge live in ``suite.kinds``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from suite import metrics
from suite.ground.fields import Locked, Number, Text

# Directions are declared, never guessed from a metric's name.
TARGET_METRICS = {"accuracy": "max", "val_accuracy": "max", "loss": "min", "val_loss": "min", "r2": "max", "val_r2": "max"}


class Target(Locked):
    """The value a trial's metric must reach, for its time to target; without ``value`` (a plain search, a study
    with no time-to-target claim) only the metric the grid's tuner ranks trials by."""

    metric: Literal["val_accuracy", "accuracy", "val_loss", "loss", "val_r2", "r2"]  # no default: a recorded study's identity keeps it
    value: Number | None = None
    direction: Literal["max", "min"] = None  # defaults to the metric's declared direction

    @model_validator(mode="before")
    @classmethod
    def _declared_direction(cls, data):
        metric = data.get("metric") if isinstance(data, dict) else None
        if isinstance(metric, str) and metric in TARGET_METRICS and data.get("direction") is None:
            data = {**data, "direction": TARGET_METRICS[metric]}
        return data

    @property
    def declared(self) -> bool:
        """Whether the study states a value to reach (else no trial has a time to target)."""
        return self.value is not None

    def reached(self, value: float) -> bool:
        if self.value is None:
            return False
        return value >= self.value if self.direction == "max" else value <= self.value


class Reference(Locked):
    """A published value to show beside the measured one (e.g. a paper's table), with where it comes from."""

    metric: Literal[metrics.NAMES]
    value: Number
    source: Text
    where: dict[str, Any] = {}  # the cells it describes
