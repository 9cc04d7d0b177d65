"""Steadier: averaging over one axis (``steadier: fold``, e.g. the folds of k-fold) gives a steadier
estimate across replicates (``replicate: data.seed``: different partitions) than a single value of
that axis (one split).

Each replicate gives one averaged estimate and several single ones. Effect: log(SD of averaged /
SD of single), resampled by a bootstrap over replicates that keeps each replicate's values together.
Its p and interval both come from the bootstrap's standard error, on Student's t with (replicates
- 1) degrees of freedom: with a handful of replicates the percentile interval is too narrow and the
share of resamples past zero puts the p of any clear effect at 1 / 2000, a floor set by the number
of resamples rather than by the data (cross_validation's four p's sat there, from 8 replicates;
on its committed quick trials this test gives p 0.047 and 0.044, Holm 0.094 and 0.088). Where every
resample gives the same value (no spread to estimate an error from), the percentile interval and
that share it is.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from suite.ground.errors import StudyError
from suite.kinds.base import BOOTSTRAP, NONE, Equivalence, Expectation, Verdict, no_data
from suite.kinds.margins import Margin


class Steadier(Expectation):
    kind: ClassVar[str] = "steadier"
    scale: ClassVar[str] = "log SD ratio"
    marks: ClassVar[tuple[str, ...]] = ("steadier",)
    shown: ClassVar[str] = "steadier"
    axes_in: ClassVar[tuple[str, ...]] = ("steadier",)

    steadier: str
    replicate: str = "seed"

    def check_grid(self, grid: dict[str, list], at: str) -> None:
        super().check_grid(grid, at)
        if self.replicate != "seed" and self.replicate not in grid:
            raise StudyError(f"{at}.replicate: {self.replicate!r} is neither 'seed' nor a grid axis")

    def replicates(self, rows: pd.DataFrame) -> pd.DataFrame:
        """One row per replicate, one column per value of the averaged axis."""
        keys = [self.replicate] if self.replicate == "seed" else [self.replicate, "seed"]
        return rows.pivot_table(index=keys, columns=self.steadier, values=self.metric, aggfunc="mean").dropna()

    def test(self, rows: pd.DataFrame, grid: dict[str, list], rng) -> Verdict:
        table = self.replicates(rows)
        if len(table) < 3 or table.shape[1] < 2:
            return no_data(self, "-", "log SD ratio", -1, f"too few complete replicates ({len(table)})", int(table.size))
        values = table.to_numpy(dtype=float)
        observed = log_ratio(values)
        boots = bootstrap(values, rng)
        low, high = np.percentile(boots, [2.5, 97.5]) if len(boots) else (math.nan, math.nan)
        se, df = (float(np.std(boots, ddof=1)) if len(boots) > 1 else 0.0), len(values) - 1
        if se > 0 and math.isfinite(observed):
            p = float(2 * stats.t.sf(abs(observed) / se, df))
            half = float(stats.t.ppf(0.975, df)) * se
            low, high = observed - half, observed + half
        else:  # no spread among the resamples: the share of them on either side of zero
            p = min(1.0, 2 * min(np.mean(boots >= 0), np.mean(boots <= 0))) if len(boots) else math.nan
            p = max(p, 1 / BOOTSTRAP) if not math.isnan(p) else p
        ratio = math.exp(observed) if math.isfinite(observed) else math.nan
        return Verdict(says=self.says, metric=self.metric,
            test=f"bootstrap SE over {len(values)} replicates ({self.replicate}), t with {df} df",
            effect_name="log(SD averaged / SD single)", effect=observed, low=float(low), high=float(high), p=p,
            expected_sign=-1,
            observed=f"SD across replicates: averaged over {self.steadier} {ratio:.2f} x that of a single {self.steadier}",
            n=int(values.size))

    def equivalence(self, rows: pd.DataFrame, grid: dict[str, list], rng, margin: Margin, alpha: float) -> Equivalence:
        """TOST of the log SD ratio at ±margin: each one-sided p the effect's distance to its bound over the
        bootstrap's standard error, on t with (replicates - 1) df (without spread among the resamples, the share
        of them beyond the bound, at least 1 / 2000)."""
        table = self.replicates(rows)
        if len(table) < 3 or table.shape[1] < 2:
            return NONE
        values = table.to_numpy(dtype=float)
        boots = bootstrap(values, rng)
        if not len(boots):
            return NONE
        m, observed = margin.value, log_ratio(values)
        se, df = (float(np.std(boots, ddof=1)) if len(boots) > 1 else 0.0), len(values) - 1
        if se > 0 and math.isfinite(observed):
            p = float(max(stats.t.sf((observed + m) / se, df), stats.t.sf((m - observed) / se, df)))
            half = float(stats.t.ppf(1 - alpha, df)) * se  # the (1 - 2 alpha) interval that TOST corresponds to
            return Equivalence(p, observed - half, observed + half, m)
        p = max(float(np.mean(boots <= -m)), float(np.mean(boots >= m)), 1 / BOOTSTRAP)
        low, high = np.percentile(boots, [100 * alpha, 100 * (1 - alpha)])
        return Equivalence(p, float(low), float(high), m)


def log_ratio(v: np.ndarray) -> float:
    """log(SD across replicates of the average over the axis / SD of a single value, pooled over the axis)."""
    averaged = v.mean(axis=1).std(ddof=1)
    single = np.sqrt(np.mean(v.var(axis=0, ddof=1)))  # pooled over the axis's values
    return math.log(averaged / single) if averaged > 0 and single > 0 else math.nan


def bootstrap(values: np.ndarray, rng) -> np.ndarray:
    """The log ratio over BOOTSTRAP resamples of the replicates (each replicate's values kept together)."""
    boots = np.array([log_ratio(values[rng.integers(0, len(values), len(values))]) for _ in range(BOOTSTRAP)])
    return boots[np.isfinite(boots)]
