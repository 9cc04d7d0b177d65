"""A study's verdicts as the report shows them: the verdict table and
the verdicts' record (``verdicts.json``), from the trials alone.

Shared by ``suite report`` (trials read from MLflow) and ``suite report --from-files`` (the
trials a report already wrote), so both judge the same way.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.analyze import decision, design, power, regime, verdict
from suite.kinds import agreement
from suite.study import ResolvedStudy


def judge(resolved: ResolvedStudy, trials: pd.DataFrame, searches: pd.DataFrame) -> tuple[list, list]:
    """The searches' edges (``design.edges``, for the verdicts and for ``verdicts.json``) and the verdicts: each
    told its cells' epoch caps and hard limits, and each left undecided by its p given the seeds its plan asks for."""
    s = resolved.study
    edges = design.edges(resolved, trials, searches)
    verdicts = verdict.evaluate(s.expect, trials, s.grid, s.alpha, caps=regime.caps(resolved),
                                limits=design.on_limits(edges))
    power.attach(s.expect, verdicts, trials, s.alpha)
    return edges, verdicts


def table(verdicts, alpha: float, expectations=(), survival_png: bool = False) -> list[str]:
    """The report's verdict section: one row per expectation, with the test and the Holm p that decided it."""
    if not verdicts:
        return ["No verdict: this study states no `expect:` entries, so the report only describes the measurements.", ""]
    cited = [e.literature for e in expectations] if len(expectations) == len(verdicts) else [None] * len(verdicts)
    published = any(cited)
    lines = [
        "## Verdict",
        "",
        "| expectation | verdict | metric | effect [95% CI] | test | n | p | p (Holm): decides | observed |"
        + (" published finding |" if published else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if published else ""),
    ]
    disagreements = []
    for v, lit in zip(verdicts, cited):
        bounded = decision.ruled_out(v.verdict, v.effect_name, v.low, v.high, v.expected_sign)
        observed = "; ".join(filter(None, (v.observed, bounded, power.asks(v.power))))
        said = f"**{v.verdict}**" + (f" ({v.finding})" if v.finding and v.verdict != "inconclusive" else "")
        said += f": {v.blocked}" if v.blocked else ""
        said += f" (tuned on a hard limit: {v.on_limit})" if v.on_limit else ""
        row = (f"| {v.says} | {said} | `{v.metric}` | {effect(v)} | {v.test} | {v.n} {v.units} | {fmt_p(v.p)} | "
               f"{fmt_p(v.p_holm)} | {observed} |")
        if published:
            agrees = agreement(v.verdict, lit.model_dump() if lit else None, v.outside)
            row += f" {lit.cite}: {lit.found}; **{agrees}** |" if lit else " – |"
            if agrees == "disagrees":
                disagreements.append(f"- *{v.says}* {lit.cite} found it {lit.found}; here it is {v.verdict}. "
                                     + (lit.explain or "No explanation is written yet (`literature.explain`)."))
        lines.append(row)
    if disagreements:
        lines += ["", "Where this verdict and the published finding disagree (both in the finding's regime):", "",
                  *disagreements]
    counts = {k: sum(v.verdict == k for v in verdicts) for k in ("supported", "refuted", "inconclusive")}
    lines += [
        "",
        f"{counts['supported']} supported, {counts['refuted']} refuted, {counts['inconclusive']} inconclusive. "
        f"A verdict is decided only by its Holm-adjusted p (over the study's {len(verdicts)} expectations) below "
        f"α = {alpha:g}; its sign says which way. For a margin, the test is TOST when the estimate lies inside it "
        "(supported) and the one-sided test beyond it when outside (refuted). *n* counts the replicates the test "
        "used: seeds for a comparison of cells, cells for a trend across cells. Time to "
        "target is survival data, each seed censored at its budget: the effect is the difference in restricted mean "
        "time to target up to the budget both arms share, the test the log-rank test with its exact permutation p; "
        "*(speed)* means both arms reached the target in at least half their seeds, *(reachability)* that one did "
        "not. A published finding is judged (agrees, disagrees) only when the compared arms were in its regime "
        "(converged, or as the study file declares); otherwise it reads *cannot tell*, with the reason. "
        "A verdict on a measure taken at the end of training (accuracy, loss, the gap) is not decided when a compared "
        "arm trained to its epoch cap while still improving (its median best epoch in the last 10% of the cap): it "
        "reads *inconclusive: budget-limited*, whatever its p; one that no data could decide at its number of "
        "replicates (a trend over too few cells, an exact test over too few seeds) reads *too few replicates*. "
        "*Inconclusive* means the data cannot tell at this number of replicates, not that the claim is false.",
        "",
    ]
    if survival_png:
        lines += ["![fraction of seeds at the target against time, per arm (Kaplan-Meier)](survival.png)", ""]
    return lines


def effect(v) -> str:
    if v.effect is None or math.isnan(v.effect):
        return "–"
    if math.isnan(v.low):
        return f"{v.effect_name} {v.effect:+.3g} (no interval: see observed)"
    return f"{v.effect_name} {v.effect:+.3g} [{v.low:+.3g}, {v.high:+.3g}]"


def fmt_p(p: float) -> str:
    return "–" if p is None or math.isnan(p) else f"{p:.2g}" if p >= 0.001 else "<0.001"


def records(verdicts, expectations) -> list[dict]:
    """The verdicts as ``verdicts.json`` keeps them (NaN as null), each with its cited finding and agreement."""
    paired = expectations if len(expectations) == len(verdicts) else [None] * len(verdicts)
    return [{**{k: (None if isinstance(x, float) and math.isnan(x) else x) for k, x in vars(v).items()}, **cited(v, e)}
            for v, e in zip(verdicts, paired)]


def cited(v, expectation) -> dict:
    lit = expectation.literature.model_dump() if expectation is not None and expectation.literature else None
    return {"literature": lit, "agreement": agreement(v.verdict, lit, v.outside)} if lit else {}
