"""A comparison of two cells' spreads across seeds (``compare``/``against`` with ``statistic: sd``
and a ``direction``): is one cell's result steadier than the other's?

Effect log(SD_A / SD_B), with the F-test of the variance ratio and its exact interval; both
assume seeds normally spread around each cell's mean.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import model_validator
from pydantic_core import PydanticCustomError
from scipy import stats

from suite import metrics
from suite.kinds.base import NONE, Equivalence, Verdict, fmt, no_data, not_planned, replicates
from suite.kinds.compare import Compare
from suite.kinds.margins import Margin
from suite.kinds.sizes import TARGET_POWER, Plan, fewest, smallest_effect, spread_equivalence_power, spread_power


class Spread(Compare):
    kind: ClassVar[str] = "spread"
    scale: ClassVar[str] = "log SD ratio"

    statistic: Literal["sd"]

    @classmethod
    def claims(cls, data: dict) -> bool:
        return data.get("statistic") == "sd"

    @model_validator(mode="after")
    def _a_direction_on_every_trial(self):
        if self.direction is None:
            raise PydanticCustomError("value", "statistic: sd compares two cells' spreads with a direction (greater or less)")
        if self.metric in metrics.CENSORED + metrics.BINARY:
            raise PydanticCustomError("value", "statistic: sd needs a metric measured on every trial, not a censored or yes/no one")
        return self

    def two_arms(self, a_rows: pd.DataFrame, b_rows: pd.DataFrame, a: np.ndarray, b: np.ndarray, what: str) -> Verdict:
        sign = self.sign
        var_a, var_b = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
        sds = f"{what}: SD across seeds {fmt(math.sqrt(var_a))} vs {fmt(math.sqrt(var_b))}"
        if var_a <= 0 or var_b <= 0:
            return no_data(self, "F-test of variances", "log(SD A / SD B)", sign,
                           sds + " (a cell without spread has no ratio)", len(a) + len(b))
        ratio, df_a, df_b = var_a / var_b, len(a) - 1, len(b) - 1
        p = float(min(1.0, 2 * min(stats.f.cdf(ratio, df_a, df_b), stats.f.sf(ratio, df_a, df_b))))
        low, high = ratio / stats.f.ppf(0.975, df_a, df_b), ratio / stats.f.ppf(0.025, df_a, df_b)
        return Verdict(says=self.says, metric=self.metric, test="F-test of variances", effect_name="log(SD A / SD B)",
            effect=0.5 * math.log(ratio), low=0.5 * math.log(low), high=0.5 * math.log(high), p=p, expected_sign=sign,
            observed=f"{sds} (ratio {math.sqrt(ratio):.2f})", n=len(a) + len(b))

    def equivalence(self, rows: pd.DataFrame, grid: dict[str, list], rng, margin: Margin, alpha: float) -> Equivalence:
        """TOST of log(SD A / SD B) at ±margin: two one-sided F-tests of the variance ratio against exp(±2 margin)."""
        a, b = (replicates(arm, self.metric)[0] for arm in self.arms(rows))
        if len(a) < 2 or len(b) < 2 or np.var(a, ddof=1) <= 0 or np.var(b, ddof=1) <= 0:
            return NONE
        ratio, df_a, df_b, m = np.var(a, ddof=1) / np.var(b, ddof=1), len(a) - 1, len(b) - 1, margin.value
        p = max(stats.f.sf(ratio / math.exp(-2 * m), df_a, df_b), stats.f.cdf(ratio / math.exp(2 * m), df_a, df_b))
        low = 0.5 * math.log(ratio / stats.f.ppf(1 - alpha, df_a, df_b))
        high = 0.5 * math.log(ratio / stats.f.ppf(alpha, df_a, df_b))
        return Equivalence(float(p), low, high, m)

    def smallest_p(self, n_a: int, n_b: int) -> float:
        return 0.0  # the F-test has no floor

    def plan(self, rows: pd.DataFrame, alpha: float) -> Plan:
        """Seeds per arm for 80% power of the F-test, planned for the smallest effect that matters (a log SD ratio,
        ``margins``), not for the pilot's ratio (a small pilot overstates it): enough to detect a ratio at the margin,
        and for TOST to show equal spreads inside it. Without a margin, for the pilot's log(SD A / SD B)."""
        a, b = (replicates(arm, self.metric)[0] for arm in self.arms(rows))
        n = min(len(a), len(b))
        if n < 2 or np.var(a, ddof=1) <= 0 or np.var(b, ddof=1) <= 0:
            return not_planned(self, alpha, "the pilot shows no spread to compare", n)
        effect = 0.5 * math.log(np.var(a, ddof=1) / np.var(b, ddof=1))
        smallest = smallest_effect(lambda log_ratio: spread_power(log_ratio, n, alpha), 1.0, TARGET_POWER)
        note = "a comparison of spreads: effect and detectable are log(SD A / SD B), for the F-test of variances"
        margin = self.smallest_effect()
        if margin is None or margin.scale != self.scale:
            needed = fewest(lambda k: spread_power(effect, k, alpha), TARGET_POWER) if effect else None
            return Plan(self.says, self.metric, n, effect, math.nan, alpha, needed, smallest, note)
        m = margin.value
        detect = fewest(lambda k: spread_power(m, k, alpha), TARGET_POWER)
        show = fewest(lambda k: spread_equivalence_power(m, k, alpha), TARGET_POWER)
        needed = max(detect, show) if detect and show else None
        return Plan(self.says, self.metric, n, effect, math.nan, alpha, needed, smallest,
                    note + f"; planned for the smallest effect that matters, ±{m:.3g} ({margin.why}): to detect it, "
                    "and to show equal spreads inside it")
