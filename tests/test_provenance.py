"""Provenance: the code version that makes recorded trials stale, and the commit and dirty flag every run carries."""

import pytest
import hashlib
import shutil
import subprocess

from suite.record import provenance


def _copy(tmp_path, name):
    checkout = tmp_path / name
    shutil.copytree(provenance.CODE_ROOT / "suite", checkout / "suite", ignore=shutil.ignore_patterns("__pycache__"))
    return checkout


def test_the_code_version_hashes_the_trial_modules_and_changes_only_with_them(tmp_path):
    assert (provenance.CODE_ROOT / "suite" / "record" / "provenance.py").is_file()
    assert (provenance.CODE_ROOT / "pyproject.toml").is_file()  # git status reads CODE_PATHS from here
    here = provenance._suite_code(provenance.CODE_ROOT)
    assert here != hashlib.sha256(b"").hexdigest()[:12]  # the hash of no file at all
    assert provenance._suite_code(_copy(tmp_path, "same")) == here

    trained = _copy(tmp_path, "trained")
    fitting = trained / "suite" / "train" / "fitting.py"
    fitting.write_text(fitting.read_text() + "\n# an edit to training\n")
    assert provenance._suite_code(trained) != here

    reported = _copy(tmp_path, "reported")  # reports are rebuilt from the record: editing them stales nothing
    report = reported / "suite" / "analyze" / "report.py"
    report.write_text(report.read_text() + "\n# an edit to the report\n")
    assert provenance._suite_code(reported) == here


@pytest.mark.slow
def test_an_edited_suite_file_marks_the_run_dirty(tmp_path):
    checkout = _copy(tmp_path, "repo")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=checkout, check=True)
    subprocess.run([*git, "add", "suite"], cwd=checkout, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=checkout, check=True)
    clean = provenance._environment(checkout)
    assert clean["git.dirty"] == "false" and len(clean["git.commit"]) == 40
    (checkout / "suite" / "train" / "fitting.py").write_text("# edited\n")
    provenance._environment.cache_clear()
    assert provenance._environment(checkout)["git.dirty"] == "true"


def test_the_cpu_model_and_its_instruction_set_features_are_recorded(monkeypatch, tmp_path):
    from suite.record import provenance

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
                       "flags\t\t: fpu sse4_1 sse4_2 avx avx2 fma avx512f avx512_vnni ht\n\nprocessor\t: 1\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path, *a, **k))
    monkeypatch.setattr(provenance.platform, "processor", lambda: "")
    found = provenance.cpu()
    assert found == {"cpu.model": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cpu.features": "sse4_1 sse4_2 avx avx2 fma avx512f avx512_vnni"}
