"""A bound: the metric's mean lies below, above or near a value (``below: 0.1``, ``above: 0.9``,
``near: 0.1`` with ``within: 0.02``), or below or above a linear baseline measured on the study's own splits
(``above: baseline``: ``train/baseline.py``, measured when the study is read, so it moves with its columns).

Its replicate is the seed. A one-sample t-test (for ``near``: TOST inside the margin, one-sided
beyond it); when every seed shares one value, the exact sign test, whose p is at least 1 / 2^n.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import PrivateAttr, model_validator
from pydantic_core import PydanticCustomError
from scipy import stats

from suite import metrics
from suite.ground.fields import Number, PositiveFloat
from suite.kinds.base import NONE, Equivalence, Expectation, Verdict, counted, fmt, no_data, replicates
from suite.kinds.margins import Margin


class Bound(Expectation):
    kind: ClassVar[str] = "bound"
    marks: ClassVar[tuple[str, ...]] = ("below", "above", "near")
    shown: ClassVar[str] = "below/above/near"

    below: Number | Literal["baseline"] | None = None
    above: Number | Literal["baseline"] | None = None
    near: Number | None = None
    within: PositiveFloat | None = None  # with near: the margin
    _measured: str = PrivateAttr("")  # a baseline's value came from: set where the study is read (study/loading.py)

    @model_validator(mode="after")
    def _one_bound(self):
        if sum(v is not None for v in (self.below, self.above, self.near)) != 1:
            raise PydanticCustomError("value", "a bound needs exactly one of below, above or near")
        if (self.near is not None) != (self.within is not None):
            raise PydanticCustomError("value", "near needs within (the margin), and within needs near or compare")
        if self.metric in metrics.CENSORED:
            raise PydanticCustomError("value", "a bound needs a metric measured on every trial, not a censored one")
        return self

    @property
    def baseline(self) -> bool:
        """Whether the bound is a baseline still to be measured (``above: baseline``)."""
        return "baseline" in (self.below, self.above)

    def measured(self, value: float, words: str) -> Bound:
        """This bound with its baseline measured: ``value``, which came from ``words``."""
        bound = self.model_copy(update={"above" if self.above is not None else "below": value})
        bound._measured = words
        return bound

    @property
    def equal_within(self) -> float | None:
        return self.within

    @property
    def value(self) -> float:
        return next(x for x in (self.below, self.above, self.near) if x is not None)

    @property
    def sign(self) -> int:
        return -1 if self.below is not None else 1 if self.above is not None else 0

    def test(self, rows: pd.DataFrame, grid: dict[str, list], rng) -> Verdict:
        v, unit = replicates(rows, self.metric)
        verdict = self._test(v)
        return counted(verdict, rows, self.metric, unit) if len(v) >= 2 else verdict

    def _test(self, v: np.ndarray) -> Verdict:
        value, sign = self.value, self.sign
        if len(v) < 2:
            return no_data(self, "-", "mean - value", sign, f"too few trials ({len(v)})", len(v))
        seen = f"mean {self.metric} = {fmt(v.mean())} (vs {value:g}" + (f": {self._measured})" if self._measured else ")")
        if np.ptp(v) == 0:  # every seed the same value: the sign test is exact, and the statement is too
            return self._constant(v)
        result = stats.ttest_1samp(v, value)
        ci = result.confidence_interval(0.95)
        p, test = float(result.pvalue), "one-sample t-test"
        diff = float(v.mean() - value)
        m = self.within
        if self.near is not None and abs(diff) < m:
            p = float(max(stats.ttest_1samp(v, value - m, alternative="greater").pvalue,
                          stats.ttest_1samp(v, value + m, alternative="less").pvalue))
            test = f"TOST (one-sample), margin ±{m:g}"
        elif self.near is not None:
            shifted = value + m if diff > 0 else value - m
            p = float(stats.ttest_1samp(v, shifted, alternative="greater" if diff > 0 else "less").pvalue)
            test = f"one-sample t, one-sided beyond the margin ±{m:g}"
        return Verdict(says=self.says, metric=self.metric, test=test, effect_name="mean - value", effect=diff,
            low=float(ci.low - value), high=float(ci.high - value), p=p, expected_sign=sign, observed=seen, n=len(v))

    def _constant(self, v: np.ndarray) -> Verdict:
        """All seeds at one value c: c - value is exact; the p is the exact sign test's (every seed on one side
        of the bound has probability 1/2^n when the median sits on it), so 5 seeds can give no less than 0.062."""
        c, n, value = float(v[0]), len(v), self.value
        diff = c - value
        if self.near is not None and abs(diff) < self.within:  # inside the margin: both one-sided sign tests
            p, test = self.sign_floor(n), f"exact sign test, TOST, margin ±{self.within:g}"
        elif self.near is not None:
            p, test = self.sign_floor(n), f"exact sign test, one-sided beyond the margin ±{self.within:g}"
        else:
            p, test = (1.0 if diff == 0 else self.sign_floor(n)), "exact sign test"
        return Verdict(says=self.says, metric=self.metric, test=test + " (no spread across seeds)",
            effect_name="mean - value", effect=diff, low=math.nan, high=math.nan, p=p, expected_sign=self.sign,
            observed=f"all {n} seeds at {c:.3f} (vs {value:g}); the difference is exact, so no interval", n=n)

    def equivalence(self, rows: pd.DataFrame, grid: dict[str, list], rng, margin: Margin, alpha: float) -> Equivalence:
        """For below or above: TOST that the mean lies within ±margin of the value (one-sample t; the exact sign test
        where every seed shares one value). A relative margin is a share of the value."""
        if self.near is not None:
            return NONE
        v = replicates(rows, self.metric)[0]
        m = margin.at(self.value)
        if len(v) < 2 or not m > 0:
            return NONE
        if np.ptp(v) == 0:
            diff = float(v[0] - self.value)
            return Equivalence(0.5 ** len(v) if abs(diff) < m else 1.0, diff, diff, m)
        p = max(stats.ttest_1samp(v, self.value - m, alternative="greater").pvalue,
                stats.ttest_1samp(v, self.value + m, alternative="less").pvalue)
        ci = stats.ttest_1samp(v, self.value).confidence_interval(1 - 2 * alpha)
        return Equivalence(float(p), float(ci.low - self.value), float(ci.high - self.value), m)

    def sign_floor(self, n: int) -> float:
        """The p of the exact sign test when all n seeds sit on one side of the bound: one-sided against a
        margin (``near``), two-sided otherwise."""
        return 0.5**n if self.near is not None else min(1.0, 2 * 0.5**n)

    def too_few(self, rows: pd.DataFrame, alpha: float) -> str:
        if self.metric not in rows:
            return ""
        v, unit = replicates(rows, self.metric)
        v = v[np.isfinite(v)]
        if len(v) == 0 or np.ptp(v) != 0:  # with a spread the t-test decides, and it has no floor
            return ""
        floor = self.sign_floor(len(v))
        if floor <= alpha:
            return ""
        return (f"too few replicates: with every one of its {len(v)} {unit} at the same value, the exact sign test "
                f"cannot give p below {floor:.2g} (add {unit})")
