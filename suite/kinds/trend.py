"""A trend: the metric rises or falls along a grid axis (``along: x``, ``trend: increasing``).

Its replicate is the cell: a cell's seeds replicate that cell (its training and, searched per
block or per seed, its tuning), not the trend. Spearman's rank correlation between the axis and
each cell's value, with an exact p over every ordering of up to 8 cells, so k cells can never
give p below 2 / k! (4 cells: 0.083).
"""

from __future__ import annotations

import itertools
import math
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import model_validator
from pydantic_core import PydanticCustomError
from scipy import stats

from suite import metrics
from suite.kinds.base import NONE, Equivalence, Expectation, Verdict, cell_values, cells_as_arms, no_data, same
from suite.kinds.censoring import UNITS, common_budget
from suite.kinds.margins import Margin
from suite.kinds.sizes import TARGET_POWER, Plan

EXACT_CELLS = 8  # up to this many cells the p is exact over every ordering; beyond, Spearman's asymptotic p


def trend_floor(k: int) -> float:
    """The smallest p a trend's exact rank test over k cells can reach: 2 / k! (the two perfect orderings)."""
    return 2 / math.factorial(k)


def fisher_se(rho: float, n: int) -> float:
    """The standard error of Spearman's rho over ``n`` cells on Fisher's z scale (Bonett & Wright 2000)."""
    return math.sqrt((1 + rho**2 / 2) / (n - 3))


class Trend(Expectation):
    kind: ClassVar[str] = "trend"
    scale: ClassVar[str] = "correlation"
    marks: ClassVar[tuple[str, ...]] = ("along", "trend")
    shown: ClassVar[str] = "along+trend"
    units: ClassVar[str] = "cells"
    seeds_lift_floor: ClassVar[bool] = False
    axes_in: ClassVar[tuple[str, ...]] = ("along",)

    along: str | None = None
    trend: Literal["increasing", "decreasing"] | None = None

    @model_validator(mode="after")
    def _both(self):
        if self.along is None or self.trend is None:
            raise PydanticCustomError("value", "a trend needs both along and trend")
        return self

    def test(self, rows: pd.DataFrame, grid: dict[str, list], rng) -> Verdict:
        """Spearman's rank correlation between the axis and each cell's value, with the cell as the unit. A cell's
        value is its mean over seeds, or for a time to target its restricted mean time up to the budget every cell
        shares."""
        xs, ys, cells = self.points(rows, grid)
        sign = 1 if self.trend == "increasing" else -1
        n = len(ys)
        test = f"Spearman rank correlation over {n} cells"
        if n < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
            why = f"no variation to correlate over {n} cells"
            if self.metric in metrics.CENSORED and n >= 3 and len(set(ys)) < 2:  # say where the sameness comes from
                tau = common_budget(self.metric, [g for _, g in cells])
                why += (f": up to the budget every cell shares ({tau:g} {UNITS.get(self.metric, '')}, the smallest "
                        f"cell's), every cell's restricted mean time to target is {ys[0]:.3g}, so that budget leaves "
                        "nothing to compare")
            return no_data(self, test, "rho", sign, why, n, units="cells")
        rho = round(float(stats.spearmanr(xs, ys)[0]), 12)  # a perfect ordering is 1, not 1 - 1e-16
        if n <= EXACT_CELLS:
            null = [stats.spearmanr(xs, perm)[0] for perm in itertools.permutations(ys)]
            p = float(np.mean(np.abs(np.nan_to_num(null)) >= abs(rho) - 1e-12))
            test += " (exact p over every ordering)"
        else:
            p = float(stats.spearmanr(xs, ys)[1])
        # Fisher-z interval with Bonett & Wright's (2000) standard error for Spearman's rho.
        if n > 3 and abs(rho) < 1:
            half = 1.96 * fisher_se(rho, n)
            low, high = math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)
            note = ""
        else:
            low = high = math.nan
            note = f"; a perfect ordering of {n} cells has no Fisher-z interval" if abs(rho) == 1 else ""
        word = "increasing" if rho > 0 else "decreasing" if rho < 0 else "flat"
        per = "restricted mean time to target" if self.metric in metrics.CENSORED else "mean over its seeds"
        return Verdict(says=self.says, metric=self.metric, test=test, effect_name="rho", effect=rho, low=low, high=high,
            p=p, expected_sign=sign,
            observed=f"{self.metric} is {word} along {self.along} (rho = {rho:+.2f} over {n} cells, each cell's {per}){note}",
            n=n, units="cells")

    def points(self, rows: pd.DataFrame, grid: dict[str, list]) -> tuple[np.ndarray, np.ndarray, list]:
        """Each cell's place on the axis (its rank where the axis is not numeric) and its value; the cells."""
        order = list(grid[self.along])
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in order)
        cells = [(g[self.along].iloc[0], g) for _, g in rows.groupby("cell")]
        xs = np.array([float(x) if numeric else float(order.index(x)) for x, _ in cells])
        ys = np.array(cell_values(self.metric, [g for _, g in cells]))
        keep = np.isfinite(ys)
        return xs[keep], ys[keep], cells

    def equivalence(self, rows: pd.DataFrame, grid: dict[str, list], rng, margin: Margin, alpha: float) -> Equivalence:
        """TOST of rho inside ±margin on Fisher's z with Bonett & Wright's standard error (more than 3 cells)."""
        xs, ys, _ = self.points(rows, grid)
        n = len(ys)
        if n <= 3 or len(set(xs)) < 2 or len(set(ys)) < 2 or not 0 < margin.value < 1:
            return NONE
        rho = round(float(stats.spearmanr(xs, ys)[0]), 12)
        if abs(rho) >= 1:
            return Equivalence(1.0, rho, rho, margin.value)
        z, se, bound = math.atanh(rho), fisher_se(rho, n), math.atanh(margin.value)
        p = max(stats.norm.sf((z + bound) / se), stats.norm.cdf((z - bound) / se))
        half = stats.norm.ppf(1 - alpha) * se
        return Equivalence(float(p), math.tanh(z - half), math.tanh(z + half), margin.value)

    def too_few(self, rows: pd.DataFrame, alpha: float) -> str:
        k = rows["cell"].nunique()
        floor = trend_floor(k) if k >= 2 else 0.0
        if floor <= alpha:
            return ""
        return f"too few replicates: a trend over {k} cells cannot give p below {floor:.2g} whatever the data (add cells)"

    def too_few_planned(self, cells: list, seeds: list, alpha: float) -> str:
        k = sum(all(same(c.values.get(key), v) for key, v in self.where.items()) for c in cells)
        if k < 2 or trend_floor(k) <= alpha:
            return ""
        return (f"a trend over {k} cells cannot give p below {trend_floor(k):.2g} (alpha {alpha:.3g}): its replicates "
                "are cells, so add cells")

    def plan(self, rows: pd.DataFrame, alpha: float) -> Plan:
        """The cells (its replicates) for 80% power (Fisher z with Bonett & Wright's variance), never fewer than the
        exact test's floor allows. Planned not at the pilot's rho, which a few cells overstate as often as not, but at
        the bound of its 95% interval nearer zero, and never below the smallest trend that matters (the margin): a
        perfect ordering (no interval) plans for the margin alone, rho 0.3 by default, not 1."""
        groups = [g for _, g in rows.groupby("cell")] if len(rows) else []
        ys = np.array(cell_values(self.metric, groups)) if groups else np.array([])
        xs = np.array([g[self.along].iloc[0] for g in groups]) if groups else np.array([])
        keep = np.isfinite(ys)
        cells = int(keep.sum())
        floor = next(k for k in range(2, 20) if trend_floor(k) < alpha)  # the fewest cells the exact p allows
        note = f"a trend: its replicates are cells (the exact test needs at least {floor} at this alpha)"
        if cells < 3 or len(set(ys[keep])) < 2:
            return Plan(self.says, self.metric, cells, math.nan, math.nan, alpha, None, math.nan,
                        note + "; the pilot cannot show rho")
        rho = float(stats.spearmanr(xs[keep].astype(float) if xs.dtype != object else np.arange(cells), ys[keep])[0])
        if rho == 0:
            return Plan(self.says, self.metric, cells, rho, math.nan, alpha, None, math.nan, note + "; the pilot shows no trend")
        margin = self.smallest_effect()
        smallest = margin.value if margin is not None else 0.0
        shrunk = 0.0  # a perfect ordering has no Fisher-z interval, nor a pilot of 3 cells: the margin alone
        if abs(rho) < 1 and cells > 3:  # the bound of the Fisher-z interval nearer zero
            shrunk = math.tanh(max(0.0, math.atanh(abs(rho)) - 1.96 * fisher_se(rho, cells)))
        planned = max(shrunk, smallest)
        if planned <= 0:
            return Plan(self.says, self.metric, cells, rho, math.nan, alpha, None, math.nan,
                        note + "; the pilot's interval reaches zero and no margin is declared")
        z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(TARGET_POWER)
        needed = max(floor, math.ceil((z / math.atanh(planned)) ** 2 * (1 + planned**2 / 2) + 3))  # fisher_se solved for n
        return Plan(self.says, self.metric, cells, rho, math.nan, alpha, needed, math.nan,
                    note + f"; effect = rho over {cells} cells, planned at {planned:.2g} (its interval's bound nearer "
                    f"zero, at least the margin {smallest:g}); seeds for 80% power = cells needed")

    def survival_arms(self, rows: pd.DataFrame, axes: list[str]) -> list[tuple[str, pd.DataFrame]]:
        return cells_as_arms(self, rows, axes)

