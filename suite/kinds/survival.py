"""Time to target as survival data: pure NumPy, no Keras, no MLflow.

A trial's epochs (steps, examples, seconds) to the target are an event time when it
reached the target, and a right-censored time at its budget (the epochs it ran)
when it did not. "Survival" here is the fraction of seeds that have *not yet*
reached the target; the report draws its complement, the fraction reached.

- :func:`kaplan_meier`: the Kaplan-Meier estimate with Greenwood's variance and the
  log(-log) pointwise interval (the defaults of R's ``survfit`` and of lifelines);
- :func:`median_time`: the median time to target with the Brookmeyer-Crowley interval
  read off those bands (as lifelines' ``median_survival_times`` does);
- :func:`rmst`: the restricted mean time to target up to ``tau`` (the area under the
  curve) with the variance of survRM2's ``rmst1`` (Klein & Moeschberger 4.5);
- :func:`logrank`: the log-rank statistic, its asymptotic p and an exact permutation
  p (every relabelling of the pooled seeds when they are few, else a seeded Monte Carlo
  sample of them), which stays valid when few seeds separate completely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats

from suite.statistics import EXACT_LIMIT  # relabellings enumerated in full up to this many

Z95 = stats.norm.ppf(0.975)


@dataclass
class Curve:
    """Kaplan-Meier estimate at each distinct event time (S drops there), with its 95% band."""

    times: np.ndarray
    surv: np.ndarray
    low: np.ndarray
    high: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray


def _clean(times, reached) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=float)
    e = np.asarray(reached, dtype=bool)
    if t.shape != e.shape or np.isnan(t).any():
        raise ValueError("every trial needs a time (event or censoring) and an event flag")
    return t, e


def kaplan_meier(times, reached) -> Curve:
    t, e = _clean(times, reached)
    event_times = np.unique(t[e])
    n = np.array([(t >= u).sum() for u in event_times], dtype=float)
    d = np.array([((t == u) & e).sum() for u in event_times], dtype=float)
    surv = np.cumprod(1 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(np.where(n > d, d / (n * (n - d)), 0.0))
        # log(-log S) band: S^exp(+-z * sqrt(var) / log S); undefined where S is 0 or 1
        scale = Z95 * np.sqrt(greenwood) / np.abs(np.log(surv))
        low = surv ** np.exp(scale)
        high = surv ** np.exp(-scale)
    low = np.where(surv > 0, np.nan_to_num(low, nan=0.0), 0.0)
    high = np.where(surv > 0, np.nan_to_num(high, nan=1.0), 0.0)
    return Curve(event_times, surv, low, high, n, d)


def _first_at_or_below(times: np.ndarray, values: np.ndarray, level: float = 0.5) -> float:
    hit = np.nonzero(values <= level + 1e-12)[0]
    return float(times[hit[0]]) if len(hit) else math.inf


def median_time(times, reached) -> tuple[float, float, float]:
    """Median time to target and its 95% interval; inf where the curve (or a band) never falls to 1/2."""
    c = kaplan_meier(times, reached)
    return (_first_at_or_below(c.times, c.surv), _first_at_or_below(c.times, c.low),
            _first_at_or_below(c.times, c.high))


def rmst(times, reached, tau: float) -> tuple[float, float]:
    """Restricted mean time to target up to tau, and its standard error.

    The area under the Kaplan-Meier curve from 0 to tau: a seed that never reached the target
    within tau counts tau. Variance as survRM2's ``rmst1``: the sum over event times t_i <= tau of
    A_i^2 d_i / (n_i (n_i - d_i)), where A_i is the area under the curve from t_i to tau.
    """
    c = kaplan_meier(times, reached)
    keep = c.times <= tau
    ts, surv, n, d = c.times[keep], c.surv[keep], c.at_risk[keep], c.events[keep]
    edges = np.concatenate([[0.0], ts, [tau]])
    heights = np.concatenate([[1.0], surv])
    areas = np.diff(edges) * heights  # the piece of area after each step (the first before any event)
    mean = float(areas.sum())
    after = np.cumsum(areas[::-1])[::-1][1:]  # area from each event time to tau
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(n > d, d / (n * (n - d)), 0.0)
    return mean, float(math.sqrt(np.sum(after**2 * weights)))


def _statistic(groups: np.ndarray, at_risk: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Standardised log-rank statistic (O - E) / sqrt(V) of group 1, for each row of ``groups``."""
    n = at_risk.sum(axis=1)  # per event time
    d = events.sum(axis=1)
    n1 = groups @ at_risk.T  # (labellings, event times)
    d1 = groups @ events.T
    share = n1 / n
    observed_minus_expected = (d1 - d * share).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(n > 1, d * share * (1 - share) * (n - d) / (n - 1), 0.0).sum(axis=1)
        return np.where(variance > 0, observed_minus_expected / np.sqrt(variance), 0.0)


def _risk_sets(t: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct event time (rows) and pooled seed (columns): at risk then, and reached the target then."""
    event_times = np.unique(t[e])
    at_risk = (t[None, :] >= event_times[:, None]).astype(float)
    events = ((t[None, :] == event_times[:, None]) & e[None, :]).astype(float)
    return at_risk, events


def _observed_z(n_a: int, at_risk: np.ndarray, events: np.ndarray) -> float:
    """The log-rank z of the first ``n_a`` pooled seeds (arm a) against the rest."""
    observed = np.zeros((1, at_risk.shape[1]))
    observed[0, :n_a] = 1
    return float(_statistic(observed, at_risk, events)[0])


def asymptotic_p(times_a, reached_a, times_b, reached_b) -> float:
    """The log-rank test's chi-square p alone (cheap: for power simulations, where the exact p is not needed)."""
    ta, ea = _clean(times_a, reached_a)
    tb, eb = _clean(times_b, reached_b)
    at_risk, events = _risk_sets(np.concatenate([ta, tb]), np.concatenate([ea, eb]))
    if len(events) == 0:
        return 1.0
    z = _observed_z(len(ta), at_risk, events)
    return float(stats.chi2.sf(z * z, 1))


@dataclass
class LogRank:
    z: float  # (O - E) / sqrt(V) for arm a: positive when a reaches the target sooner than equal curves predict
    p_asymptotic: float
    p_exact: float
    labellings: int  # how many relabellings the exact p weighed
    enumerated: bool  # all of them (True) or a Monte Carlo sample


def logrank(times_a, reached_a, times_b, reached_b, seed: int = 0) -> LogRank:
    """Log-rank test of arm a against arm b. z > 0: a reaches the target more often than expected
    under equal curves (sooner); z < 0: later. The exact p is two-sided over relabellings of the seeds."""
    ta, ea = _clean(times_a, reached_a)
    tb, eb = _clean(times_b, reached_b)
    t, e = np.concatenate([ta, tb]), np.concatenate([ea, eb])
    at_risk, events = _risk_sets(t, e)
    if len(events) == 0:
        return LogRank(0.0, 1.0, 1.0, 0, True)
    z = _observed_z(len(ta), at_risk, events)
    total = math.comb(len(t), len(ta))
    if total <= EXACT_LIMIT:
        groups = np.zeros((total, len(t)))
        for row, members in enumerate(combinations(range(len(t)), len(ta))):
            groups[row, list(members)] = 1
        enumerated = True
    else:
        rng = np.random.default_rng(seed)
        groups = np.zeros((EXACT_LIMIT, len(t)))
        for row in range(EXACT_LIMIT):
            groups[row, rng.permutation(len(t))[: len(ta)]] = 1
        enumerated = False
    null = np.abs(_statistic(groups, at_risk, events))
    extreme = int((null >= abs(z) - 1e-9).sum())
    p_exact = extreme / total if enumerated else (extreme + 1) / (EXACT_LIMIT + 1)
    return LogRank(z, float(stats.chi2.sf(z * z, 1)), float(min(1.0, p_exact)), len(groups), enumerated)


def separated(times_a, reached_a, times_b, reached_b) -> int:
    """+1 when every seed of a reached the target before any seed of b did (or b never did),
    -1 the other way round, 0 when the arms overlap."""
    ta, ea = _clean(times_a, reached_a)
    tb, eb = _clean(times_b, reached_b)

    def before(t1, e1, t2, e2) -> bool:  # every seed of 1 reached, strictly before any event or budget of 2
        return bool(e1.all()) and len(t1) > 0 and (len(t2) == 0 or t1.max() < t2.min())

    if before(ta, ea, tb, eb):
        return 1
    if before(tb, eb, ta, ea):
        return -1
    return 0


def step_points(times, reached, until: float) -> tuple[np.ndarray, np.ndarray]:
    """The curve of the fraction reached, as points for a step plot from 0 to ``until``."""
    c = kaplan_meier(times, reached)
    xs = np.concatenate([[0.0], c.times, [max(until, c.times.max() if len(c.times) else 0.0)]])
    ys = np.concatenate([[0.0], 1 - c.surv, [1 - c.surv[-1] if len(c.surv) else 0.0]])
    return xs, ys
