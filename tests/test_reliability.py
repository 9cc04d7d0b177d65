"""Nothing lost, nothing repeated: a real process killed with SIGKILL and resumed; replication; atomic writes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from suite.cli import main
from suite.ground.errors import SuiteError
from suite.workspace import atomic_write

STUDY = """\
name: kill
title: Kill and resume
claim: A killed study resumes to the same report.
data: {dataset: mnist1d, train_size: 400}
model: {depth: 1, width: 32}
train: {optimizer: adam, learning_rate: 1.0e-3, batch_size: 32, epochs: 12}
grid:
  model.width: [16, 32]
seeds: [0, 1]
target: {metric: val_accuracy, value: 0.2}
profiles:
  smoke: {train.epochs: 12}
"""
VOLATILE = ["run_id", "warmup_s", "train_time_s", "epoch_time_s", "time_to_target_s"]


def home_with_study(path: Path, study: str = STUDY) -> Path:
    (path / "studies").mkdir(parents=True)
    (path / "studies" / "kill.yaml").write_text(study)
    return path


def trial_runs(home: Path):
    db = home / ".suite" / "mlflow.db"
    if not db.exists():
        return []
    client = MlflowClient(f"sqlite:///{db}")
    exp = client.get_experiment_by_name("kill")
    return client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'") if exp else []


def run_inprocess(home: Path, monkeypatch, *extra) -> int:
    monkeypatch.setenv("SUITE_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return main(["run", "kill", "--profile", "smoke", *extra])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    home = home_with_study(tmp_path_factory.mktemp("reference"))
    mp = pytest.MonkeyPatch()
    try:
        assert run_inprocess(home, mp) == 0
    finally:
        mp.undo()
    return home


def comparable(home: Path) -> pd.DataFrame:
    return pd.read_csv(home / "results" / "kill" / "smoke" / "trials.csv").drop(columns=VOLATILE, errors="ignore")


@pytest.mark.slow
@pytest.mark.parametrize("finished_before_kill", [1, 3, 4])  # 4: every trial done, the report being written
def test_sigkill_then_resume_gives_one_run_per_trial_and_the_same_report(
    finished_before_kill, reference, tmp_path, monkeypatch
):
    home = home_with_study(tmp_path / "home")
    env = {**os.environ, "SUITE_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([sys.executable, "-m", "suite", "run", "kill", "--profile", "smoke"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    lock = home / ".suite" / "tuner" / "kill" / "smoke.lock"  # exists once the store is created and migrated:
    while time.time() < deadline and proc.poll() is None and not lock.exists():  # never open it mid-migration
        time.sleep(0.1)
    while time.time() < deadline and proc.poll() is None:
        if sum(r.info.status == "FINISHED" for r in trial_runs(home)) >= finished_before_kill:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the study ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    assert run_inprocess(home, monkeypatch) == 0
    runs = trial_runs(home)
    finished = [(r.data.tags["suite.cell"], r.data.tags["suite.seed"]) for r in runs if r.info.status == "FINISHED"]
    assert sorted(finished) == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]  # each exactly once
    assert not [r for r in runs if r.info.status == "RUNNING"]  # the killed one is marked KILLED, not left running
    pd.testing.assert_frame_equal(comparable(home), comparable(reference))


@pytest.mark.slow
def test_a_search_state_file_cut_short_by_a_kill_starts_the_search_over_and_trains_nothing_again(
    reference, tmp_path, monkeypatch, capsys
):
    """keras-tuner writes trial.json in place: a SIGKILL in the middle of that write left an empty file, and the
    resume crashed on it with a JSONDecodeError (seen in CI)."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(reference, home)
    before = {r.info.run_id for r in trial_runs(home)}
    (cut,) = sorted((home / ".suite" / "tuner" / "kill").glob("*/trial_*/trial.json"))[-1:]
    cut.write_text("")
    assert run_inprocess(home, monkeypatch) == 0
    assert "held a file cut short" in capsys.readouterr().err
    assert {r.info.run_id for r in trial_runs(home)} == before  # replayed from the store: no new run, nothing trained
    pd.testing.assert_frame_equal(comparable(home), comparable(reference))


@pytest.mark.slow
def test_replicate_matches_and_catches_a_tampered_record(reference, monkeypatch, capsys):
    monkeypatch.setenv("SUITE_HOME", str(reference))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["replicate", "kill", "--profile", "smoke", "--trials", "2"]) == 0
    assert "2 trials rerun, metrics must be identical" in capsys.readouterr().out
    client = MlflowClient(f"sqlite:///{reference / '.suite' / 'mlflow.db'}")
    for run in trial_runs(reference):  # falsify the record: replication must notice
        client.log_metric(run.info.run_id, "test_accuracy", run.data.metrics["test_accuracy"] + 0.5)
    assert main(["replicate", "kill", "--profile", "smoke", "--trials", "2"]) == 1
    out = capsys.readouterr().out
    assert "test_accuracy recorded" in out and "MISMATCH" in out


@pytest.mark.slow
def test_replicate_from_a_reports_files_is_exact_on_the_recorded_machine_and_catches_a_tampered_file(
    reference, tmp_path, monkeypatch, capsys
):
    import shutil

    monkeypatch.setenv("SUITE_HOME", str(reference))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    report = reference / "results" / "kill" / "smoke"
    assert main(["replicate", "kill", "--profile", "smoke", "--from", str(report / "trials.csv"), "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "exact (recorded on this machine's kind" in out and "2 trials rerun, every metric identical: 0 differences, ok" in out
    copy = tmp_path / "copy"
    shutil.copytree(report, copy)
    trials = pd.read_csv(copy / "trials.csv")
    trials["test_accuracy"] += 0.5  # a falsified file: replication must notice
    trials.to_csv(copy / "trials.csv", index=False)
    assert main(["replicate", "kill", "--profile", "smoke", "--from", str(copy / "trials.csv"), "--trials", "2"]) == 1
    assert "test_accuracy recorded" in capsys.readouterr().out


@pytest.mark.slow
def test_a_committed_study_replicates_from_its_files_here(monkeypatch, capsys):
    """The promise the README makes, checked on the cheapest committed study: its whole quick run, rerun from its
    trials.csv; on the machine kind that made it identical, elsewhere each cell's mean inside the committed
    interval and every verdict the same."""
    root = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("SUITE_HOME", str(root))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    committed = root / "results" / "learning_rate" / "quick" / "trials.csv"
    code = main(["replicate", "learning_rate", "--profile", "quick", "--from", str(committed), "--trials", "1000"])
    out = capsys.readouterr().out
    assert code == 0, out
    finished = int((pd.read_csv(committed)["status"] == "FINISHED").sum())
    assert f"{finished} trials rerun" in out and "0 differences, ok" in out


@pytest.mark.slow
def test_a_committed_report_trained_in_groups_replays_its_groups_on_jax():
    """The default path trains a cell's seeds together on JAX (``group_width``): ``suite replicate --from`` plans the
    same groups again there, so on the recorded machine kind every metric is identical (elsewhere, statistical);
    the test above, on TensorFlow, replays each trial alone and compares statistically."""
    root = Path(__file__).resolve().parent.parent
    committed = root / "results" / "learning_rate" / "quick" / "trials.csv"
    assert pd.read_csv(committed)["group_width"].notna().all()  # made on the default path
    env = {**os.environ, "KERAS_BACKEND": "jax", "SUITE_HOME": str(root)}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([sys.executable, "-m", "suite", "replicate", "learning_rate", "--profile", "quick", "--from",
                          str(committed), "--trials", "3"], capture_output=True, text=True, env=env, cwd=root, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 differences, ok" in out.stdout


@pytest.mark.slow
def test_trials_made_by_another_design_are_neither_judged_again_nor_rerun_as_if_they_were_this_ones(tmp_path, capsys):
    """A report records the design that made it (config_sha); a changed study file cannot rejudge or replicate it."""
    import json
    import shutil

    from suite.analyze.rejudge import rejudge
    from suite.study import load_study

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "quick"
    shutil.copytree(root / "results" / "learning_rate" / "quick", out)
    resolved = load_study(root / "studies" / "learning_rate.yaml", "quick")
    recorded = json.loads((out / "verdicts.json").read_text())
    (out / "verdicts.json").write_text(json.dumps({**recorded, "config_sha": resolved.config_sha}))
    rejudge(resolved, out)  # the same design: judged again, and the design it was made by kept
    assert json.loads((out / "verdicts.json").read_text())["config_sha"] == resolved.config_sha
    (out / "verdicts.json").write_text(json.dumps({**recorded, "config_sha": "another"}))
    with pytest.raises(SuiteError, match="made by another version of learning_rate.yaml"):
        rejudge(resolved, out)
    code = main(["replicate", str(root / "studies" / "learning_rate.yaml"), "--profile", "quick", "--from", str(out / "trials.csv")])
    assert code != 0 and "made by another version of learning_rate.yaml" in capsys.readouterr().err


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    target.write_text("old report")

    def crash(self, other):
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, "new report, half written")
    assert target.read_text() == "old report"


@pytest.mark.slow
def test_stale_trials_are_detected_and_rerun_only_when_asked(tmp_path, monkeypatch, capsys):
    from suite.record import provenance

    home = home_with_study(tmp_path / "home")
    monkeypatch.setenv("SUITE_HOME", str(home))
    assert run_inprocess(home, monkeypatch) == 0

    # The code changes: every recorded trial is stale, and the suite refuses to mix.
    real = provenance.collect
    monkeypatch.setattr(provenance, "collect", lambda root: {**real(root), "suite.code_version": "edited-code"})
    assert run_inprocess(home, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: 4 recorded trials of kill [smoke] are stale: the code changed") and "--rerun-stale" in err
    assert run_inprocess(home, monkeypatch, "--rerun-stale") == 0
    runs = trial_runs(home)
    assert len(runs) == 8  # nothing recorded is lost
    assert sum(r.data.tags.get("suite.superseded") == "true" for r in runs) == 4
    trials = pd.read_csv(home / "results" / "kill" / "smoke" / "trials.csv")
    assert set(trials["code_version"]) == {"edited-code"}  # the report uses the new trials only
    monkeypatch.setattr(provenance, "collect", real)

    # The study file changes: stale again, for that reason.
    (home / "studies" / "kill.yaml").write_text(STUDY.replace("smoke: {train.epochs: 12}", "smoke: {train.epochs: 11}"))
    assert run_inprocess(home, monkeypatch) == 2
    assert "the study file (or profile) changed" in capsys.readouterr().err


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int, artifacts: Path) -> subprocess.Popen:
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--default-artifact-root", str(artifacts)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("mlflow server did not start")


@pytest.mark.slow
def test_losing_the_tracking_server_stops_cleanly_and_resumes(tmp_path, monkeypatch, capsys):
    home = home_with_study(tmp_path / "home")
    db, port, artifacts = tmp_path / "server.db", free_port(), tmp_path / "artifacts"
    uri = f"http://127.0.0.1:{port}"
    server = start_server(db, port, artifacts)
    env = {**os.environ, "SUITE_HOME": str(home), "MLFLOW_TRACKING_URI": uri, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "suite", "run", "kill", "--profile", "smoke"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    client = MlflowClient(uri)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            exp = client.get_experiment_by_name("kill")
            runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'") if exp else []
            if any(r.info.status == "FINISHED" for r in runs):
                break
            time.sleep(0.3)
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # the server dies mid-study
        server.wait()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: tracking store {uri}") and "rerun the same command to resume" in last

    server = start_server(db, port, artifacts)  # back again: the same command resumes
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("SUITE_HOME", str(home))
        assert main(["run", "kill", "--profile", "smoke"]) == 0
        exp = client.get_experiment_by_name("kill")
        runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
        finished = sorted((r.data.tags["suite.cell"], r.data.tags["suite.seed"]) for r in runs if r.info.status == "FINISHED")
        assert finished == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]
        assert not [r for r in runs if r.info.status == "RUNNING"]
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.mark.slow
def test_a_second_run_of_the_same_study_refuses_while_the_first_holds_it(tmp_path, monkeypatch, capsys):
    import fcntl

    home = home_with_study(tmp_path / "home")
    lock = home / ".suite" / "tuner" / "kill" / "smoke.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as held:  # what a running `suite run kill --profile smoke` holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert run_inprocess(home, monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: another `suite run` is already running study 'kill' with profile smoke")
    assert trial_runs(home) == []  # nothing trained, nothing recorded


@pytest.mark.slow
def test_a_study_trains_and_records_in_whichever_store_it_is_pointed_at(tmp_path, monkeypatch, capsys):
    """The tuner's saved state is not the record: switched to an empty store, the study trains there;
    switched back, it reruns nothing. Both ways, every store ends with each trial recorded once."""
    home = home_with_study(tmp_path / "home")
    monkeypatch.setenv("SUITE_HOME", str(home))
    stores = {name: f"sqlite:///{tmp_path / name}.db" for name in ("a", "b")}

    def run_in(name: str) -> list[tuple[str, str, str]]:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", stores[name])
        assert main(["run", "kill", "--profile", "smoke"]) == 0
        client = MlflowClient(stores[name])
        runs = client.search_runs([client.get_experiment_by_name("kill").experiment_id], "tags.`suite.kind` = 'trial'")
        return sorted((r.data.tags["suite.cell"], r.data.tags["suite.seed"], r.info.status) for r in runs)

    every_trial_once = [(c, s, "FINISHED") for c in "01" for s in "01"]
    assert run_in("a") == every_trial_once
    assert run_in("b") == every_trial_once  # was: "resuming: 4 of 4", nothing trained, then "no recorded trials"
    assert "it belongs to another store" in capsys.readouterr().err
    assert run_in("a") == every_trial_once  # back: nothing rerun, nothing duplicated
    assert run_in("b") == every_trial_once
    assert (home / "results" / "kill" / "smoke" / "report.md").exists()


@pytest.mark.slow
def test_sigterm_during_a_trial_marks_it_killed_closes_the_study_run_and_a_rerun_resumes(tmp_path, monkeypatch):
    # Trials long enough that the signal lands in the middle of one: with 12 epochs it could land after the
    # last epoch's safe point, and that trial then rightly finished (seen in CI).
    home = home_with_study(tmp_path / "home", STUDY.replace("smoke: {train.epochs: 12}", "smoke: {train.epochs: 150}"))
    env = {**os.environ, "SUITE_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([sys.executable, "-m", "suite", "run", "kill", "--profile", "smoke"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    lock = home / ".suite" / "tuner" / "kill" / "smoke.lock"
    while time.time() < deadline and proc.poll() is None and not lock.exists():
        time.sleep(0.1)
    while time.time() < deadline and proc.poll() is None:  # one trial done and the next one training
        statuses = [r.info.status for r in trial_runs(home)]
        if "FINISHED" in statuses and "RUNNING" in statuses:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the study ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "SIGTERM: stopping at the end of this epoch or trial" in err
    assert err.strip().splitlines()[-1].startswith("interrupted: what finished is recorded")
    runs = trial_runs(home)
    assert "KILLED" in {r.info.status for r in runs} and "RUNNING" not in {r.info.status for r in runs}
    client = MlflowClient(f"sqlite:///{home / '.suite' / 'mlflow.db'}")
    (study_run,) = client.search_runs([client.get_experiment_by_name("kill").experiment_id], "tags.`suite.kind` = 'study'")
    assert study_run.info.status == "KILLED"  # closed, not left RUNNING

    assert run_inprocess(home, monkeypatch) == 0
    finished = [(r.data.tags["suite.cell"], r.data.tags["suite.seed"]) for r in trial_runs(home) if r.info.status == "FINISHED"]
    assert sorted(finished) == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]  # each exactly once


@pytest.mark.slow
def test_sigterm_during_start_up_stops_at_the_first_trial_and_leaves_nothing_running(tmp_path):
    """Raised at once, a SIGTERM during the imports left TensorFlow half-imported, was swallowed, or crashed the
    interpreter; a request is now honoured where the suite checks for it."""
    home = home_with_study(tmp_path / "home")
    env = {**os.environ, "SUITE_HOME": str(home), "PYTHONFAULTHANDLER": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([sys.executable, "-m", "suite", "run", "kill", "--profile", "smoke"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    db = home / ".suite" / "mlflow.db"  # the store is opened after the handler is set, before the first trial
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not db.exists():
        time.sleep(0.02)
    assert proc.poll() is None, "the study ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("interrupted: what finished is recorded")
    assert "RUNNING" not in {r.info.status for r in trial_runs(home)}


def test_a_stop_request_waits_for_a_safe_point_and_a_second_one_stops_at_once():
    from suite.ground import stopping

    with stopping.on_request(at_safe_points=True):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler has run: only marked
        with pytest.raises(KeyboardInterrupt):
            stopping.check()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
    stopping.check()  # leaving clears what was pending
    with stopping.on_request(at_safe_points=False):
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.slow
def test_two_workspaces_on_one_store_never_run_a_study_at_once(tmp_path, monkeypatch, capsys):
    """The lock covers one workspace; the store's RUNNING study run covers another workspace (or machine)."""
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = home_with_study(tmp_path / "first"), home_with_study(tmp_path / "second")
    client = MlflowClient(store)

    def trials():
        exp = client.get_experiment_by_name("kill")
        return client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'") if exp else []

    env = {**os.environ, "SUITE_HOME": str(first), "MLFLOW_TRACKING_URI": store}
    proc = subprocess.Popen([sys.executable, "-m", "suite", "run", "kill", "--profile", "smoke"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        lock = first / ".suite" / "tuner" / "kill" / "smoke.lock"
        while time.time() < deadline and proc.poll() is None and not lock.exists():
            time.sleep(0.1)
        while time.time() < deadline and proc.poll() is None and not trials():
            time.sleep(0.1)
        # Hold the first run still mid-study (its trials take milliseconds: CI once saw it finish while the
        # second was starting), so the second surely meets its RUNNING study run; it resumes after.
        proc.send_signal(signal.SIGSTOP)
        assert proc.poll() is None, "the first run ended before the second could start"
        monkeypatch.setenv("SUITE_HOME", str(second))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
        try:
            assert main(["run", "kill", "--profile", "smoke"]) == 2
        finally:
            proc.send_signal(signal.SIGCONT)
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert line.startswith(f"error: another `suite run` holds kill [smoke] in {store}: its run")
        assert f"pid {proc.pid}, workspace {first}" in line and "--takeover" in line
        assert proc.wait(timeout=300) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert main(["run", "kill", "--profile", "smoke"]) == 0  # the first has finished: nothing left to train
    finished = sorted((r.data.tags["suite.cell"], r.data.tags["suite.seed"]) for r in trials() if r.info.status == "FINISHED")
    assert finished == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")] and len(trials()) == 4


@pytest.mark.slow
def test_a_dataset_row_inserted_by_another_worker_at_the_same_moment_is_linked_not_fatal(tmp_path):
    """Two workers on a Postgres-backed server raced to create the store's one row for their data (CI:
    UniqueViolation on dataset_pk, and the losing worker died). The insert that loses is tried again."""
    from suite.ground.errors import TrackingError
    from suite.record.writing import Writer, data_input

    writer = Writer(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = writer.client.create_run(writer.experiment("race")).info.run_id
    real, calls = writer.client.log_inputs, []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the other worker's insert won
            raise TrackingError('tracking store x: log_inputs failed (duplicate key value violates unique constraint "dataset_pk")')
        return real(*args, **kwargs)

    writer.client.log_inputs = racing
    writer._log_input(run, data_input("mnist1d", "abc123"))
    assert len(calls) == 2
    assert [d.dataset.digest for d in MlflowClient(writer.uri).get_run(run).inputs.dataset_inputs] == ["abc123"]

    def down(*args, **kwargs):
        calls.append(1)
        raise TrackingError("tracking store x: log_inputs failed (connection refused)")

    writer.client.log_inputs, calls[:] = down, []
    with pytest.raises(TrackingError, match="connection refused"):
        writer._log_input(run, data_input("mnist1d", "abc123"))
    assert len(calls) == 1  # any other failure is the store's: no retry
