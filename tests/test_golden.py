"""Golden reports: a fixed ``trials.csv`` per task, built into ``report.md`` and compared line by line.

A column, a headline or a sentence that changes fails here with a readable diff. After a deliberate change,
``SUITE_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`` writes the new expected files (review them)."""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from suite.analyze.rejudge import rejudge
from suite.study import load_study

GOLDEN = Path(__file__).parent / "golden"


def built(task: str, tmp_path: Path) -> str:
    """The report ``suite report --from-files`` builds from the golden folder's trials, without its stamp line."""
    here = tmp_path / task
    shutil.copytree(GOLDEN / task, here, ignore=shutil.ignore_patterns("report.md"))
    out = here / "results"
    out.mkdir()
    shutil.copy(here / "trials.csv", out / "trials.csv")
    rejudge(load_study(here / "study.yaml"), out)
    text = (out / "report.md").read_text().replace(str(here), "tests/golden/" + task)
    return "\n".join(line for line in text.split("\n") if not line.startswith("Judged from"))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_report_is_built_from_its_trials_as_the_golden_file_says(task, tmp_path):
    text = built(task, tmp_path)
    expected = GOLDEN / task / "report.md"
    if os.environ.get("SUITE_UPDATE_GOLDEN"):
        expected.write_text(text)
    diff = "\n".join(difflib.unified_diff(expected.read_text().split("\n"), text.split("\n"), "expected", "built",
                                          lineterm="", n=1))
    assert not diff, f"{task}'s report differs from {expected} (SUITE_UPDATE_GOLDEN=1 to accept):\n{diff}"


def test_a_classification_report_shows_accuracy_and_a_regression_report_r2_and_errors(tmp_path):
    """Whatever columns the summary happens to hold: the study's task chooses the table (issue 59's bug: every
    classification report showed a regression's columns, all "–", because its summary has an empty test_r2)."""
    def header(text: str) -> str:
        lines = text.split("\n")
        return lines[lines.index("## Results per cell") + 2]

    results = {task: header(built(task, tmp_path)) for task in ("classification", "regression")}
    assert "test acc" in results["classification"] and "R²" not in results["classification"]
    assert "RMSE" not in results["classification"] and "MAE" not in results["classification"]
    assert all(h in results["regression"] for h in ("test R²", "test RMSE", "test MAE"))
    assert "acc" not in results["regression"]
