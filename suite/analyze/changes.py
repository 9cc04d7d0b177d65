"""``suite scorecard --since REV``: the verdicts that changed since the reports committed at a git revision.

A rerun of every study ends in a new scorecard; what a reader asks first is what it changed. This
reads each study's speaking report (the profile the scorecard reads) as committed at ``REV`` and as it
is now, matches expectations by their statement, and lists every one whose verdict changed, with what
its report recorded about why: the replicate its test counted, the replicates it had, the seeds it
stopped at, the blocked reason. Why the rule changed is for the reader; these are the report's own fields.
"""

from __future__ import annotations

import json
from pathlib import Path

from suite.analyze.judgement import deciding_p
from suite.analyze.scorecard import PREFERRED, entries
from suite.ground.errors import SuiteError
from suite.record import provenance


def committed(results: Path, rev: str) -> dict[str, dict]:
    """study -> its speaking report's ``verdicts.json`` as committed at ``rev`` (the profile the scorecard reads)."""
    listed = _git(results, "ls-tree", "-r", "--name-only", rev, ".")
    reports: dict[str, dict[str, str]] = {}
    for path in listed.splitlines():
        parts = Path(path).parts
        if len(parts) == 3 and parts[2] == "verdicts.json":
            reports.setdefault(parts[0], {})[parts[1]] = path
    found = {}
    for study, by_profile in sorted(reports.items()):
        profile = next((p for p in PREFERRED if p in by_profile), None)
        if profile:
            found[study] = json.loads(_git(results, "show", f"{rev}:./{by_profile[profile]}"))
    return found


def changed(before: dict[str, dict], after: dict[str, dict]) -> list[dict]:
    """Every expectation whose verdict differs (or that one side lacks), in study order, with both records."""
    rows = []
    for study in sorted(set(before) | set(after)):
        was = {v["says"]: v for v in (before.get(study) or {}).get("verdicts", [])}
        now = {v["says"]: v for v in (after.get(study) or {}).get("verdicts", [])}
        for says in [*now, *(s for s in was if s not in now)]:
            a, b = was.get(says), now.get(says)
            if a is None or b is None or a["verdict"] != b["verdict"]:
                rows.append({"study": study, "says": says, "was": a, "now": b})
    return rows


def words(rows: list[dict], rev: str, compared: int) -> list[str]:
    """A markdown table of the changes, each side as its report recorded it."""
    studies = len({row["study"] for row in rows})
    lines = [f"Verdicts changed since {rev}: {len(rows)}, in {studies} of the {compared} studies compared.", ""]
    if not rows:
        return lines
    lines += ["| study | expectation | was | now | what the report recorded now |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['study']} | {r['says']} | {_side(r['was'])} | {_side(r['now'])} | {_why(r['was'], r['now'])} |")
    return lines


def since(results: Path, rev: str) -> list[str]:
    before = committed(results, rev)
    after = {e["study"]: e for _, e in entries(results)}
    return words(changed(before, after), rev, len(set(before) | set(after)))


def _side(v: dict | None) -> str:
    if v is None:
        return "absent"
    return f"{v['verdict']} (p {deciding_p(v, both=False)}, {v['n']} {v.get('units', 'seeds')})"


def _why(was: dict | None, now: dict | None) -> str:
    if now is None:
        return "no longer stated by the study file"
    if was is None:
        return "new in the study file"
    said = []
    if was.get("units", "seeds") != now.get("units", "seeds"):
        said.append(f"its test counts {now.get('units')}, not {was.get('units', 'seeds')}")
    if "decided although" in (now.get("observed") or ""):
        said.append("decided although an arm was still improving at its cap: the arm ahead")
    if now["verdict"] == "negligible":
        said.append(f"inside its margin {now.get('margin_from')}")
    if now.get("look"):
        said.append(f"look {now['look']}" + (f": {now['stopped']}" if now.get("stopped") else ", open"))
    if now.get("blocked"):
        said.append(now["blocked"])
    return "; ".join(said) or "its data (new trials, or the same trials judged by another rule)"


def _git(where: Path, *args: str) -> str:
    out, why = provenance.git(*args, cwd=where, timeout=60)
    if out is None:
        raise SuiteError(f"--since: git {args[0]} failed in {where}: {why}")
    return out
