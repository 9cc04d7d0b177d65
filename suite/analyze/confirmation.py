"""Confirmation: a study's verdicts against those of its confirming run on fresh seeds.

``suite confirm STUDY`` reruns the study on seeds disjoint from its own
(``suite.study.profiles.confirming``). Each expectation then has two verdicts,
from independent data; this module says what became of the first. Read from
the two reports' ``verdicts.json``, like the scorecard: nothing is recomputed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

CONFIRMED, FLIPPED, REVERSED = "confirmed", "flipped to inconclusive", "reversed"
TWICE, LATE = "inconclusive twice", "decided only on fresh seeds"
SHIFTED = "negligible on one, supported or refuted on the other"  # both can be true of a small real effect
ORDER = (CONFIRMED, FLIPPED, REVERSED, SHIFTED, TWICE, LATE)


def outcome(original: str, confirming: str) -> str:
    """What the fresh seeds did to a verdict."""
    if original == confirming:
        return TWICE if original == "inconclusive" else CONFIRMED
    if confirming == "inconclusive":
        return FLIPPED
    if original == "inconclusive":
        return LATE
    if "negligible" in (original, confirming):
        return SHIFTED
    return REVERSED  # supported <-> refuted


def confirming_dir(report_dir: Path) -> Path:
    """Where the confirming run of the report in ``report_dir`` writes (``quick`` -> ``quick-confirm``)."""
    return report_dir.with_name(f"{report_dir.name}-confirm")


def read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def made_by(report_dir: Path) -> frozenset[str]:
    """The code versions of the trials behind a report (its ``trials.csv``); empty where none is recorded."""
    path = report_dir / "trials.csv"
    if not path.is_file():
        return frozenset()
    with path.open(newline="") as f:
        return frozenset(row["code_version"] for row in csv.DictReader(f) if row.get("code_version"))


def other_code(report_dir: Path) -> str:
    """Why the confirming run beside a report cannot confirm it, or "": its trials were made by other code than the
    report's (a rerun of the study since, without ``suite confirm``), so the two are not one experiment twice."""
    original, confirming = made_by(report_dir), made_by(confirming_dir(report_dir))
    if not original or not confirming or original == confirming:
        return ""
    return (f"its confirming run's trials were made by other code ({', '.join(sorted(confirming))}) than its own "
            f"({', '.join(sorted(original))}): run `suite confirm` again")


def compare(original: dict, confirming: dict) -> list[dict]:
    """Per expectation, the two verdicts and the outcome; an expectation the study file has changed since
    (another statement at that place) is not compared."""
    rows = []
    for i, first in enumerate(original["verdicts"]):
        second = confirming["verdicts"][i] if i < len(confirming["verdicts"]) else None
        if second is None or second["says"] != first["says"]:
            rows.append({"says": first["says"], "original": first["verdict"], "confirming": None, "outcome": None})
            continue
        rows.append({"says": first["says"], "original": first["verdict"], "confirming": second["verdict"],
                     "outcome": outcome(first["verdict"], second["verdict"]), "effect": first.get("effect"),
                     "confirming_effect": second.get("effect"), "effect_name": first.get("effect_name")})
    return rows


def section(original: dict | None, confirming: dict) -> list[str]:
    """The confirming report's section: each expectation's verdict on the original seeds and on these."""
    lines = ["## Confirmation on fresh seeds", ""]
    if original is None:
        return lines + ["The original report's `verdicts.json` is not beside this one: nothing to compare with.", ""]
    rows = compare(original, confirming)
    lines += [
        f"These trials use seeds disjoint from the original run's (its seeds + 100000, and so for its searches); the "
        f"original report is from commit `{original['commit'][:10]}` ({original['date']}). A verdict is *confirmed* when "
        "the fresh seeds give the same one, *reversed* when supported and refuted swap."
        + (" Both runs add seeds in rounds (`rounds:`, see Looks): the confirming run repeats the whole sequential design "
           "on its fresh seeds, its later rounds following from its own looks, so each of its verdicts stopped at a look "
           "of its own, and the two runs are independent tests of one design." if confirming.get("rounds") else ""),
        "",
        "| expectation | original | on fresh seeds | outcome | effect (original) | effect (fresh) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['says']} | {r['original']} | {r['confirming'] or '(changed since)'} | {r['outcome'] or '–'} | "
                     f"{_g(r.get('effect'))} | {_g(r.get('confirming_effect'))} |")
    counts = tally(rows)
    lines += ["", "Outcomes: " + ", ".join(f"{counts[k]} {k}" for k in ORDER) + ".", ""]
    return lines


def tally(rows: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(ORDER, 0)
    for r in rows:
        if r["outcome"]:
            counts[r["outcome"]] += 1
    return counts


def _g(x) -> str:
    return "–" if x is None else f"{x:+.3g}"
