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

A metric with no default in the catalogue (`suite/metrics.py`: the diagnostics' raw spreads) has no negligible outcome unless its study
declares a margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite import metrics

CORRELATION = 0.3  # rho within ±0.3: a weak trend at best (Cohen's "small-to-medium" boundary)
LOG_SD_RATIO = 0.22  # log(1.25): one spread within 25% of the other

# Scales other than a metric's own have one default each; a metric's own default is declared with it (suite/metrics.py).
BY_SCALE: dict[str, tuple[float, str]] = {
    "relative": (metrics.RELATIVE, "10% of the reference arm's value"),
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
    m = metrics.BY_NAME.get(metric)
    if m is None or m.margin is None:
        return None
    return Margin(m.margin, m.scale, "default: " + m.why)
