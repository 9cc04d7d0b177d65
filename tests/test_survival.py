"""Time to target as survival data, against reference output and the tests' own promises.

The reference numbers below were printed by R 4.2's survival package (Debian's r-cran-survival):

    t <- c(3,5,5,7,8,10,10,12,12,12,  4,6,9,9,11,12,12,12,12,12)
    e <- c(1,1,1,1,0,1,1,0,0,0,       1,1,1,0,1,0,0,0,0,0)
    g <- c(rep(1,10), rep(2,10))
    summary(survfit(Surv(t,e)~1, subset=g==1, conf.type="log-log"), rmean=12)
    survdiff(Surv(t,e)~g)
"""

import math

import numpy as np
import pytest
from scipy import stats

from suite.statistics import benjamini_yekutieli, holm
from suite.kinds import survival

A_T = [3, 5, 5, 7, 8, 10, 10, 12, 12, 12]
A_E = [1, 1, 1, 1, 0, 1, 1, 0, 0, 0]
B_T = [4, 6, 9, 9, 11, 12, 12, 12, 12, 12]
B_E = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]


def test_kaplan_meier_matches_r_survfit_with_log_log_bands():
    c = survival.kaplan_meier(A_T, A_E)
    assert c.times.tolist() == [3, 5, 7, 10]
    assert c.surv == pytest.approx([0.90, 0.70, 0.60, 0.36])
    assert c.low == pytest.approx([0.4730, 0.3287, 0.2527, 0.0899], abs=1e-4)
    assert c.high == pytest.approx([0.985, 0.892, 0.827, 0.648], abs=1e-3)


def test_median_and_restricted_mean_match_r():
    assert survival.median_time(A_T, A_E) == (10.0, 3.0, math.inf)  # R: median 10, 0.95LCL 3, UCL NA
    assert survival.median_time(B_T, B_E)[:2] == (math.inf, 4.0)  # R: median NA, 0.95LCL 4
    mean, se = survival.rmst(A_T, A_E, 12)
    assert mean == pytest.approx(8.72) and se == pytest.approx(1.03522, abs=1e-5)  # R: rmean, se(rmean)
    mean, se = survival.rmst(B_T, B_E, 12)
    assert mean == pytest.approx(10.1833333) and se == pytest.approx(0.8793516, abs=1e-6)


def test_logrank_matches_r_survdiff_and_scipy():
    result = survival.logrank(A_T, A_E, B_T, B_E)
    assert result.z**2 == pytest.approx(0.943, abs=1e-3)  # R: Chisq = 0.943 ((O-E)^2/V)
    assert result.z > 0  # arm a reached the target sooner (6 observed against 4.5 expected)
    scipy_result = stats.logrank(
        stats.CensoredData(uncensored=[t for t, e in zip(A_T, A_E) if e], right=[t for t, e in zip(A_T, A_E) if not e]),
        stats.CensoredData(uncensored=[t for t, e in zip(B_T, B_E) if e], right=[t for t, e in zip(B_T, B_E) if not e]),
    )
    assert result.p_asymptotic == pytest.approx(scipy_result.pvalue)


def test_an_exact_logrank_on_complete_separation_gives_the_enumeration_floor():
    # 5 of 5 reach the target by epoch 9; 0 of 5 within 40: the most extreme of C(10, 5) = 252 labellings
    result = survival.logrank([5, 6, 7, 8, 9], [1] * 5, [40] * 5, [0] * 5)
    assert result.enumerated and result.labellings == 252
    assert result.p_exact == pytest.approx(2 / 252)
    assert result.p_asymptotic < result.p_exact  # the chi-square approximation is too bold here
    assert survival.separated([5, 6, 7, 8, 9], [1] * 5, [40] * 5, [0] * 5) == 1


@pytest.mark.slow
def test_the_exact_logrank_test_holds_its_size_under_the_null():
    # two arms from one distribution of times to target, censored at 30 epochs: rejections at alpha = 0.05
    rng = np.random.default_rng(1)
    rejected = 0
    runs = 300
    for _ in range(runs):
        t = np.ceil(rng.exponential(15, 12))
        e = t <= 30
        t = np.minimum(t, 30)
        rejected += survival.logrank(t[:6], e[:6], t[6:], e[6:]).p_exact < 0.05
    # an exact test's size is at most alpha: allow two binomial standard errors of Monte Carlo noise
    assert rejected / runs <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs)


def test_restricted_mean_of_an_arm_that_never_reaches_the_target_is_its_budget():
    assert survival.rmst([40] * 5, [0] * 5, 40) == (40.0, 0.0)
    assert survival.median_time([40] * 5, [0] * 5) == (math.inf, math.inf, math.inf)


@pytest.mark.slow
def test_benjamini_yekutieli_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    p = list(np.concatenate([rng.uniform(0, 0.01, 8), rng.uniform(0, 1, 30)]))
    ours = benjamini_yekutieli(p)
    theirs = multipletests(p, method="fdr_by")[1]
    assert ours == pytest.approx(list(theirs))
    assert benjamini_yekutieli([0.01, math.nan]) == pytest.approx([0.01, math.nan], nan_ok=True)
    holm_theirs = multipletests(p, method="holm")[1]
    assert holm(p) == pytest.approx(list(holm_theirs))
