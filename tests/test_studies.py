"""Every shipped study validates at every profile; a handful, chosen to cover each path through the suite, run end
to end at their smoke profile with real keras-tuner, MLflow and reports (the others' code paths are the same).

The handful: dropout (a sweep per block of seeds, a target), learning_rate (rounds of seeds at looks),
search_algorithms (grid, random, Bayesian and Hyperband; a log-rank time to target), ensembles (members one
after another, bootstrap rows, a claim in seconds), fine_tuning (a CNN trained in two phases) and
normalization_batch_size (normalization layers, the longest smoke run). A regression runs end to end in
tests/test_regression.py, and the grouped executor in tests/test_grouped.py."""

from pathlib import Path

import pytest

from suite.cli import main
from suite.study import load_study

STUDIES = sorted(p.stem for p in (Path(__file__).parent.parent / "studies").glob("*.yaml"))
END_TO_END = ["dropout", "learning_rate", "search_algorithms", "ensembles", "fine_tuning", "normalization_batch_size"]


def test_every_study_validates_at_every_profile(capsys):
    """``suite validate`` over every study file (its data built once per dataset), then each profile resolved."""
    paths = [Path(__file__).parent.parent / "studies" / f"{name}.yaml" for name in STUDIES]
    assert main(["validate", *map(str, paths)]) == 0, capsys.readouterr().err
    said = capsys.readouterr().out
    assert [name for name in STUDIES if f"{name}.yaml: ok" not in said] == []
    for path in paths:
        for profile in ("smoke", "quick", "full"):
            resolved = load_study(path, profile)
            assert resolved.trials and resolved.study.expect, f"{path.stem} [{profile}] has no trials or no expectation"


def test_the_end_to_end_handful_names_shipped_studies():
    assert set(END_TO_END) <= set(STUDIES)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("studies-home")
    (home / "studies").symlink_to(Path(__file__).parent.parent / "studies")
    return home


@pytest.mark.slow
@pytest.mark.parametrize("name", END_TO_END)
def test_study_smoke(name, home, monkeypatch):
    monkeypatch.setenv("SUITE_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", name, "--profile", "smoke"]) == 0
    report = (home / "results" / name / "smoke" / "report.md").read_text()
    assert "failed" in report and "## Results per cell" in report
    assert ("## Verdict" in report) or ("No verdict" in report)
    out = home / "results" / name / "smoke"
    with open(Path(__file__).parent.parent / "studies" / f"{name}.yaml") as f:
        text = f.read()
    if "\ntune:" in text:  # a searched study shows its searches
        assert "## Nuisance search" in report and (out / "search.png").exists() and (out / "searches.csv").exists()
    if "\ndiagnostics:" in text:  # a probed study draws what it probed
        assert (out / "diagnostics.png").exists() and "diagnostics.png" in report
    if "\nreference:" in text:  # published values sit beside the measured ones
        assert "## Published reference" in report
