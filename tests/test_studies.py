"""Every shipped study runs end to end at its smoke profile, with real keras-tuner, MLflow and reports."""

from pathlib import Path

import pytest

from suite.cli import main

STUDIES = sorted(p.stem for p in (Path(__file__).parent.parent / "studies").glob("*.yaml"))


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("studies-home")
    (home / "studies").symlink_to(Path(__file__).parent.parent / "studies")
    return home


@pytest.mark.parametrize("name", STUDIES)
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
