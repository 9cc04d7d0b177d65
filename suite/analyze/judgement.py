"""A study's verdicts as the report shows them: the verdict table and
the verdicts' record (``verdicts.json``), from the trials alone.

Shared by ``suite report`` (trials read from MLflow) and ``suite report --from-files`` (the
trials a report already wrote), so both judge the same way.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.analyze import decision, power, sequential
from suite.kinds import agreement
from suite.study import ResolvedStudy


def judge(resolved: ResolvedStudy, trials: pd.DataFrame, searches: pd.DataFrame) -> tuple[list, list, sequential.Sequence]:
    """The searches' edges (``design.edges``, for the verdicts and for ``verdicts.json``), the verdicts (each told its
    cells' epoch caps and hard limits, and each left undecided by its p given the seeds its plan asks for), and the
    looks that judged them: one, or with ``rounds:`` one per round of seeds (``sequential``)."""
    return sequential.judge(resolved, trials, searches)


def table(verdicts, alpha: float, expectations=(), survival_png: bool = False,
          sequence: sequential.Sequence | None = None) -> list[str]:
    """The report's verdict section: one row per expectation, with the test and the Holm p that decided it, and the
    looks that judged them (a study with ``rounds:``)."""
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
        said = f"**{v.verdict}**" + (f" ({v.finding})" if v.finding and v.verdict in ("supported", "refuted") else "")
        said += f": {v.blocked}" if v.blocked else f": {negligible(v, alpha)}" if v.verdict == "negligible" else ""
        small = slight(v, alpha)
        said += f", {small}" if small else ""
        said += f" (tuned on a hard limit: {v.on_limit})" if v.on_limit else ""
        said += (f" [look {v.look}" + (f": {v.stopped}]" if v.stopped else ", open]")) if v.look else ""
        if v.margin_from and v.verdict != "negligible":
            observed += f"; smallest effect that matters: {v.margin_from}"
        row = (f"| {v.says} | {said} | `{v.metric}` | {effect(v)} | {v.test} | {v.n} {v.units} | {fmt_p(v.p)} | "
               f"{deciding_p(vars(v))} | {observed} |")
        if published:
            agrees = agreement(v.verdict, lit.model_dump() if lit else None, v.outside)
            # on these seeds only: fresh seeds may not confirm the verdict, and the scorecard then says *cannot tell*
            held = " on these seeds (the scorecard adds whether it held on fresh ones)" if agrees in ("agrees", "disagrees") else ""
            row += f" {lit.cite}: {lit.found}; **{agrees}**{held} |" if lit else " – |"
            if agrees == "disagrees":
                disagreements.append(f"- *{v.says}* {lit.cite} found it {lit.found}; here it is {v.verdict}. "
                                     + (lit.explain or "No explanation is written yet (`literature.explain`)."))
        lines.append(row)
    if disagreements:
        lines += ["", "Where this verdict and the published finding disagree (both in the finding's regime):", "",
                  *disagreements]
    counts = {k: sum(v.verdict == k for v in verdicts) for k in decision.OUTCOMES}
    lines += [
        "",
        f"{counts['supported']} supported, {counts['refuted']} refuted, {counts['negligible']} negligible, "
        f"{counts['inconclusive']} inconclusive. "
        f"A verdict is decided only by its adjusted p below α = {alpha:g}: Holm's step-down over the study's "
        f"{len(verdicts)} expectations, each tested for its effect and, when it claims a direction, for that effect "
        "lying inside the smallest effect that matters (its margin, printed beside it, declared in the study file or "
        "the suite's defaults before the data). A decided effect's sign says which way (*supported*, *refuted*); an "
        f"effect whose {1 - 2 * alpha:.0%} interval lies inside its margin (two one-sided tests, TOST) is *negligible*: "
        "if it exists, it is too small to matter here. A decided effect whose interval also lies inside its margin "
        "says so: its sign is clear, yet it is smaller than the smallest effect that matters. For a claim of "
        "equality within a margin (`within`), the test is TOST when the estimate lies inside it (supported) and the "
        "one-sided test beyond it when outside (refuted); "
        "a claim of non-inferiority (`not_below_by`, `not_above_by`: not worse than the other arm by more than a "
        "margin) is a direction judged against that margin instead of 0, by the one-sided test on the estimate's side. "
        "*n* counts the replicates the test used: seeds for a comparison of cells, cells for a trend across cells. "
        "The p column shows the kind's test; the adjusted p shown is the one that decided, and none for a verdict "
        "withheld whatever its p. Time to "
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
    return lines + (sequential.words(sequence, alpha) if sequence is not None else [])


def negligible(v, alpha: float) -> str:
    """Why a verdict is negligible, in words: its (1 - 2 alpha) interval inside the margin."""
    return (f"the effect's {1 - 2 * alpha:.0%} interval [{v.equiv_low:+.3g}, {v.equiv_high:+.3g}] lies inside ±{v.margin:.3g} "
            f"(smallest effect that matters: {v.margin_from})")


def slight(v, alpha: float) -> str:
    """A decided effect that is also inside its margin, in words ("" for any other): its sign is clear, and its
    (1 - 2 alpha) interval lies inside ±margin all the same. A claim judged against its margin (non-inferiority)
    is left alone: lying inside the margin is what it claims."""
    if v.verdict not in ("supported", "refuted") or v.boundary != 0 or not v.p_equiv_holm < alpha:
        return ""
    return (f"but by less than the smallest effect that matters: its {1 - 2 * alpha:.0%} interval "
            f"[{v.equiv_low:+.3g}, {v.equiv_high:+.3g}] lies inside ±{v.margin:.3g} (TOST {fmt_p(v.p_equiv_holm)})")


def deciding_p(v: dict, both: bool = True) -> str:
    """The adjusted p that decided a verdict (its fields, as ``verdicts.json`` keeps them or ``vars(verdict)``): the
    kind's, or the TOST's for a negligible one; none for one withheld whatever its p. With ``both``, an undecided
    one shows both (neither below alpha)."""
    if v.get("blocked"):
        return "– (withheld)"
    equiv = v.get("p_equiv_holm")
    if v["verdict"] == "negligible":
        return f"TOST {fmt_p(equiv)}"
    if both and v["verdict"] == "inconclusive" and equiv is not None and not math.isnan(equiv):
        return f"{fmt_p(v['p_holm'])}; TOST {fmt_p(equiv)}"
    return fmt_p(v["p_holm"])


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
