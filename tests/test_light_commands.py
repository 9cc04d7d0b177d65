"""Light commands never wake TensorFlow, Keras or keras-tuner, and a malformed file costs one line.

Each command runs in a fresh interpreter (this test process has imported Keras long ago),
which reports the heavy modules it ended up holding.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here trains, starts a process or a server, or opens a browser

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tensorflow", "keras", "keras_tuner", "jax", "torch")

PROBE = """
import json, sys
from suite.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:  # argparse's --help
    code = e.code
print(json.dumps({"code": code, "heavy": sorted(m for m in %r if m in sys.modules)}))
""" % (HEAVY,)

BAD = "name: bad\ntitle: t\nclaim: c\ntrain: {batch_size: abc}\ntarget: {metric: val_accuracy, value: 0.5}\n"


def light(args, cwd=ROOT):
    out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result, out.stderr


@pytest.mark.parametrize(
    "args",
    [["--help"], ["list"], ["validate", "studies/dropout.yaml", "studies/batch_norm.yaml"], ["scorecard"]],
    ids=["help", "list", "validate", "scorecard"],
)
def test_light_commands_import_no_backend(args, tmp_path):
    if args == ["scorecard"]:  # writes results/README.md: do it in a copy of the reports
        import shutil

        shutil.copytree(ROOT / "results", tmp_path / "results")
        result, _ = light(args, cwd=tmp_path)
    else:
        result, _ = light(args)
    assert result["code"] == 0
    assert result["heavy"] == []


def test_a_malformed_study_is_one_line_before_any_backend(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    for command in ("validate", "run"):
        result, stderr = light([command, str(bad)], cwd=tmp_path)
        assert result["code"] == 2 and result["heavy"] == []
        assert stderr.splitlines() == ["error: train.batch_size: must be a positive integer, got 'abc'"]


def test_a_command_that_trains_keeps_tensorflow_start_up_noise_out_of_the_terminal():
    out = subprocess.run(
        [sys.executable, "-c", "from suite.ground import console; console.import_backend(); import keras; print(keras.backend.backend())"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0
    assert out.stderr == ""  # no absl/CUDA start-up lines, whatever TF_CPP_MIN_LOG_LEVEL does


def test_report_from_files_judges_again_without_the_store_or_a_backend(tmp_path):
    """`suite report --from-files` rebuilds verdicts.json, survival.png and the verdict section from trials.csv alone."""
    import shutil

    shutil.copytree(ROOT / "studies", tmp_path / "studies")
    shutil.copytree(ROOT / "results" / "dropout", tmp_path / "results" / "dropout")
    report = tmp_path / "results" / "dropout" / "quick" / "report.md"
    before = report.read_text()
    (tmp_path / "results" / "dropout" / "quick" / "survival.png").unlink(missing_ok=True)
    result, stderr = light(["report", "dropout", "--profile", "quick", "--from-files"], cwd=tmp_path)
    assert result["code"] == 0 and result["heavy"] == [], stderr
    assert not (tmp_path / ".suite").exists()  # no MLflow store was opened
    entry = json.loads((tmp_path / "results" / "dropout" / "quick" / "verdicts.json").read_text())
    assert entry["judged"]["from"] == "trials.csv" and entry["commit"]  # the trials' provenance is kept beside
    (time,) = [v for v in entry["verdicts"] if v["metric"] == "epochs_to_target"]
    # which finding depends on the committed data: reachability when an arm reached the target in under half its seeds
    # dropout tunes once per block of seeds: the test counts searches, each one's restricted mean time to target
    assert time["test"].startswith("Welch t-test on each search's restricted mean time") and time["units"] == "searches"
    assert time["finding"] == ("reachability" if "reaches it at all?" in time["observed"] else "speed")
    assert (tmp_path / "results" / "dropout" / "quick" / "survival.png").is_file()
    after = report.read_text()
    assert "(`suite report dropout --profile quick --from-files`)" in after
    # only the verdict section changed: everything before and after it is the run's
    for heading in ("## Design", "## Nuisance search", "## Environment"):
        assert after[after.index(heading):].split("\n## ")[0] == before[before.index(heading):].split("\n## ")[0]


@pytest.mark.parametrize("command", ["run", "confirm", "worker", "report", "replicate", "validate", "bench", "power",
                                     "init", "list", "scorecard", "ui"])
def test_every_command_says_what_it_does_and_what_its_options_mean(command, capsys):
    from suite.cli import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    usage, description = text.split("\n\n")[:2]
    assert usage.startswith(f"usage: suite {command}") and description.strip() and not description.startswith("options")
    options = text.split("options:\n")[1].splitlines()
    for i, line in enumerate(options):  # an option alone on its line has its help on the next, indented
        if line.startswith("  -") and len(line.split("  ")) < 3:
            assert i + 1 < len(options) and options[i + 1].startswith(" " * 10), (command, line)
