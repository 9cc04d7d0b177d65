"""What every kind of expectation shares: its common fields, the verdict it returns, and the
selection of seed-level values from a study's trials.

A kind is a subclass of ``Expectation``: its own fields (checked as the study file loads) and
the methods below. Only ``test`` is required; the others default to "nothing to add":

- ``test(rows, grid, rng) -> Verdict``: the statistical test and its effect with a 95% interval;
- ``too_few(rows, alpha)``: why no data could decide it at its replicates (its p has a floor above alpha);
- ``too_few_planned(cells, seeds, alpha)``: the same, said by ``suite validate`` before anything trains;
- ``plan(rows, alpha)``: the replicates 80% power asks for, with these trials as the pilot;
- ``compared(rows)``: the cells it compares, for the budget and regime checks;
- ``survival_arms(rows, axes)``: the arms it draws on the time-to-target figure;
- ``check_grid(grid, at)``: that the axes and values it names are in the grid;
- ``equivalence(rows, grid, rng, margin, alpha)``: the TOST p that its effect lies inside ±margin, with the
  (1 - 2 alpha) interval it rests on (``margins``: the smallest effect that matters); none by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import model_validator
from pydantic_core import PydanticCustomError

from suite import metrics
from suite.statistics import NO_EQUIVALENCE, Equivalence  # noqa: F401 (the kinds' result type)
from suite.ground.errors import StudyError
from suite.ground.fields import Locked, PositiveFloat, Text
from suite.kinds import survival
from suite.kinds.censoring import common_budget, survival_data
from suite.kinds.margins import Margin, default
from suite.kinds.sizes import Plan

BOOTSTRAP = 2000  # resamples, wherever a kind's interval or p comes from a bootstrap


@dataclass(kw_only=True)
class Verdict:
    """One expectation's verdict: its kind's test (built by keyword: ``Verdict(says=..., effect=..., low=...)``),
    then what the study's family, the training record and the decision rule add."""

    says: str
    metric: str
    test: str
    effect_name: str
    effect: float
    low: float  # 95% interval of the effect
    high: float
    p: float
    expected_sign: int  # +1 or -1: the sign of the effect the claim predicts; 0 for equivalence
    observed: str  # what the data showed, in words
    n: int
    p_holm: float = math.nan
    verdict: str = "inconclusive"
    finding: str = ""  # time to target: "speed" (both arms reach it; how much sooner) or "reachability" (whether at all)
    outside: str = ""  # why the compared arms were outside the cited finding's regime ("" when inside)
    blocked: str = ""  # why the verdict cannot be decided whatever its p ("budget-limited: ..."); "" when it can
    beyond_seeds: str = ""  # what blocks it that no more seeds can lift: "budget" (the epoch cap), "cells"; "" otherwise
    on_limit: str = ""  # compared cells whose tuned setting was chosen on a declared hard limit (design.on_limits)
    units: str = "seeds"  # what n counts
    shared_seeds: bool = False  # the test counted seeds although some share a search (a reviewer's audit: never True)
    power: dict | None = None  # an undecided verdict's plan (power.attach): the replicates 80% power asks for
    margin: float | None = None  # the smallest effect that matters, on the effect's scale (``margins``)
    margin_from: str = ""  # where it comes from: a default's reason, or the study's margin_reason
    p_equiv: float = math.nan  # TOST p that the effect lies inside ±margin (NaN: not tested)
    p_equiv_holm: float = math.nan  # ... adjusted in the study's family (``decision.step_down``)
    equiv_low: float = math.nan  # the (1 - 2 alpha) interval the TOST rests on
    equiv_high: float = math.nan
    ahead: str = ""  # budget-limited, but only the arm ahead was still improving: a decided sign stands
    look: int = 0  # seeds in rounds (``suite.analyze.sequential``): the look it stopped at, or is open after; 0 without
    stopped: str = ""  # ... and why it stopped there ("" while open)
    boundary: float = 0.0  # what the claimed sign is judged against: 0, or a non-inferiority claim's -margin (+margin)


NONE = NO_EQUIVALENCE  # an expectation without an equivalence test (``suite.statistics.Equivalence``)


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


class Expectation(Locked):
    """One checkable statement of the claim: the fields every kind has, and what a kind may add."""

    kind: ClassVar[str]  # its name in the registry (``suite.kinds.KINDS``)
    scale: ClassVar[str] = "metric"  # the scale of its effect, on which its margin is set (``margins``)
    marks: ClassVar[tuple[str, ...]]  # the fields whose presence in a study file names this kind (or its family)
    shown: ClassVar[str]  # how a study file names it, in "needs exactly one of: ..."
    units: ClassVar[str] = "seeds per arm"  # what its power plan counts
    seeds_lift_floor: ClassVar[bool] = True  # whether more seeds can lift its too_few floor (a trend's replicates are cells)
    values_in: ClassVar[tuple[str, ...]] = ()  # its fields that name grid values ({axis: value})
    axes_in: ClassVar[tuple[str, ...]] = ()  # its fields that name a grid axis

    says: Text
    literature: Literature | None = None
    metric: Literal[metrics.NAMES]
    where: dict[str, Any] = {}  # only the cells with these grid values
    margin: PositiveFloat | None = None  # the smallest effect that matters, instead of the default (``margins``)
    margin_reason: Text | None = None  # why: required with margin

    @model_validator(mode="after")
    def _margin_with_its_reason(self):
        if (self.margin is None) != (self.margin_reason is None):
            raise PydanticCustomError("value", "margin and margin_reason go together: a margin set for one "
                                               "expectation says why (margin_reason)")
        return self

    @classmethod
    def claims(cls, data: dict) -> bool:
        """Among the kinds a study file's marks name, whether this one is meant (a refinement, e.g. a
        comparison of spreads among comparisons); the registry asks the more specific kinds first."""
        return True

    @property
    def equal_within(self) -> float | None:
        """The margin of a claim of equality (its verdict: inside supports, beyond refutes); None for a direction."""
        return None

    def own_margin(self) -> str:
        """A claim that carries its own margin (equal within it, or not worse by more than it), in words: its own
        test decides it against that margin, so no default margin and no second TOST apply; "" for a direction."""
        return f"±{self.equal_within:g} (the claim's own: equal within it)" if self.equal_within is not None else ""

    def smallest_effect(self) -> Margin | None:
        """The margin below which its effect does not matter: the study's (``margin``), else the default."""
        scale = "relative" if self.scale == "metric" and metrics.get(self.metric).scale == "relative" else self.scale
        if self.margin is not None:
            return Margin(self.margin, scale, self.margin_reason)
        return default(scale, self.metric)

    def equivalence(self, rows: pd.DataFrame, grid: dict[str, list], rng, margin: Margin, alpha: float) -> Equivalence:
        """The TOST that its effect lies inside ±margin, with the (1 - 2 alpha) interval it rests on; ``NONE`` where
        this kind (or this metric) has no such test."""
        return NONE

    def test(self, rows: pd.DataFrame, grid: dict[str, list], rng: np.random.Generator) -> Verdict:
        raise NotImplementedError

    def too_few(self, rows: pd.DataFrame, alpha: float) -> str:
        return ""

    def too_few_planned(self, cells: list, seeds: list, alpha: float) -> str:
        return ""

    def plan(self, rows: pd.DataFrame, alpha: float) -> Plan:
        return not_planned(self, alpha, f"a {self.kind} expectation: only two-group comparisons and trends are planned")

    def compared(self, rows: pd.DataFrame) -> list[pd.DataFrame]:
        """The cells it compares, one frame each."""
        return [g for _, g in rows.groupby("cell")]

    def survival_arms(self, rows: pd.DataFrame, axes: list[str]) -> list[tuple[str, pd.DataFrame]]:
        """(label, rows) per arm of the time-to-target figure; none unless its metric is a time to target."""
        return []

    def check_grid(self, grid: dict[str, list], at: str) -> None:
        for field in ("where", *self.values_in):
            for axis, value in (getattr(self, field) or {}).items():
                if axis not in grid:
                    raise StudyError(f"{at}.{field}: {axis!r} is not a grid axis")
                if value not in grid[axis]:
                    raise StudyError(f"{at}.{field}: {value!r} is not a value of grid.{axis}")
        for field in self.axes_in:
            axis = getattr(self, field)
            if axis is not None and axis not in grid:
                raise StudyError(f"{at}.{field}: {axis!r} is not a grid axis")


def not_planned(e: Expectation, alpha: float, why: str, seeds: int = 0) -> Plan:
    return Plan(e.says, e.metric, seeds, math.nan, math.nan, alpha, None, math.nan, why)


def no_data(e: Expectation, test: str, effect_name: str, sign: int, why: str, n: int, **extra) -> Verdict:
    """A verdict with nothing to test: no effect, no p."""
    return Verdict(says=e.says, metric=e.metric, test=test, effect_name=effect_name, effect=math.nan, low=math.nan,
        high=math.nan, p=math.nan, expected_sign=sign, observed=why, n=n, **extra)


# --------------------------------------------------------------------------
# Selecting trials and seed-level values
# --------------------------------------------------------------------------

FINISHED = "FINISHED"  # MLflow's status of a run that ended normally: the only trials a verdict counts


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials of a frame that finished (a frame without a status is taken as all finished)."""
    return trials[trials["status"] == FINISHED] if "status" in trials else trials


def matching(trials: pd.DataFrame, values: dict) -> pd.DataFrame:
    mask = pd.Series(True, index=trials.index)
    for axis, value in values.items():
        mask &= trials[axis].map(lambda v: same(v, value))
    return trials[mask]


def same(a, b) -> bool:
    """Whether a recorded grid value is the study file's: numbers within float rounding, a null as NaN."""
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):  # pandas turns a null grid value into NaN
        return (a is None or (isinstance(a, float) and math.isnan(a))) and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)
    return a == b


def seed_values(rows: pd.DataFrame, metric: str) -> np.ndarray:
    """One value per finished trial; a censored trial is +inf (slower than any reached one)."""
    if metric not in rows:
        return np.full(len(rows), np.inf if metric in metrics.CENSORED else np.nan)
    v = rows[metric].astype(float).to_numpy()
    if metric in metrics.CENSORED:
        return np.where(np.isnan(v), np.inf, v)
    return v[~np.isnan(v)]


SEARCH = "search"  # a tuned study's trials: the search each trained with (``analyze.design.searchers``)


def searches_anything(cell) -> bool:
    """Whether a cell tunes something before it trains (``tune.algorithm: none`` keeps the file's values): if not,
    its seeds share no choice and each is a replicate, whatever its ``tune.per``."""
    return cell.tune is not None and cell.tune.algorithm != "none"


def shares_search(rows: pd.DataFrame) -> bool:
    """Whether some seeds of a cell trained with one search's choice (``tune.per: block`` or ``cell``)."""
    return SEARCH in rows and len(rows) > 0 and int(rows.groupby(["cell", SEARCH]).size().max()) > 1


def replicates(rows: pd.DataFrame, metric: str) -> tuple[np.ndarray, str]:
    """The values a test counts as independent replicates, and what they are: one per seed, or, where seeds share
    a search, one per search (the mean over its seeds), since seeds that share a search replicate training noise
    given that search, not the luck of tuning. A censored value (+inf) makes its search's mean +inf."""
    if not shares_search(rows):
        return seed_values(rows, metric), "seeds"
    values = [seed_values(g, metric) for _, g in rows.groupby(["cell", SEARCH])]
    return np.array([float(np.mean(v)) for v in values if len(v)]), "searches"


def icc(rows: pd.DataFrame, metric: str) -> float:
    """The intraclass correlation of seeds within searches, ICC(1) of a one-way analysis of variance with the
    search as the group, pooled over the cells (each cell's own mean removed). NaN where no search holds two
    seeds, or nothing varies. Near 1: the seeds of a search are nearly copies of one another."""
    if SEARCH not in rows:
        return math.nan
    cells: dict = {}
    for (cell, _), g in rows.groupby(["cell", SEARCH]):
        v = seed_values(g, metric)
        v = v[np.isfinite(v)]
        if len(v):
            cells.setdefault(cell, []).append(v)
    groups = [(g, np.concatenate(gs).mean(), sum(map(len, gs))) for gs in cells.values() for g in gs]
    n, k, c = sum(len(g) for g, _, _ in groups), len(groups), len(cells)
    if k <= c or n <= k or max(len(g) for g, _, _ in groups) < 2:
        return math.nan
    between = sum(len(g) * (g.mean() - m) ** 2 for g, m, _ in groups) / (k - c)
    within = sum(((g - g.mean()) ** 2).sum() for g, _, _ in groups) / (n - k)
    size = (n - sum(len(g) ** 2 / total for g, _, total in groups)) / (k - c)
    whole = between + (size - 1) * within
    return float((between - within) / whole) if whole > 0 else math.nan


def counted(v: Verdict, rows: pd.DataFrame, metric: str, unit: str) -> Verdict:
    """The verdict with the replicates its test counted; where seeds share searches, how alike they are."""
    v.units = unit
    if unit == "searches":
        searches = rows.groupby(["cell", SEARCH]).ngroups
        v.observed += (f"; the test counts searches ({searches}), not the {len(rows)} seeds that share them "
                       f"(intraclass correlation of seeds within a search {icc(rows, metric):.2f})")
    return v


def cell_values(metric: str, groups: list[pd.DataFrame]) -> list[float]:
    """One value per cell: the mean over its seeds, or for a censored metric its restricted mean
    time to target up to the budget all the cells share."""
    if metric not in metrics.CENSORED:
        values = [seed_values(g, metric) for g in groups]
        return [float(np.nanmean(v)) if len(v) else math.nan for v in values]
    data = [survival_data(g, metric) for g in groups]
    tau = common_budget(metric, groups)
    return [survival.rmst(t, r, tau)[0] if len(t) else math.nan for t, r in data]


def describe(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def label(g: pd.DataFrame, axes: list[str]) -> str:
    """A cell's grid values in words."""
    return describe({a: g[a].iloc[0] for a in axes if a in g}) or "the only cell"


def cells_as_arms(e: Expectation, rows: pd.DataFrame, axes: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """Every cell an arm of the time-to-target figure, when the metric is a time to target."""
    if e.metric not in metrics.CENSORED:
        return []
    return [(describe({a: g[a].iloc[0] for a in axes}), g) for _, g in rows.groupby("cell")]


def fmt(x: float) -> str:
    return "not reached" if x == math.inf else f"{x:.3g}"
