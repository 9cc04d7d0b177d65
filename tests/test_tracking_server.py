"""A team's tracking server: `mlflow server` backed by PostgreSQL, started and stopped here, with parallel workers.

Needs PostgreSQL's server binaries (Debian: `apt-get install postgresql`; .ci/run installs them). Without them
the test is skipped, unless SUITE_REQUIRE_POSTGRES=1 (as in CI), where a missing server is a failure.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from suite.cli import main

pytestmark = pytest.mark.slow  # every test here trains, starts a process or a server, or opens a browser

STUDY = """\
name: team
title: Tracking server
claim: No run is lost on a shared server.
data: {dataset: synthetic, synthetic: {samples: 300, features: 8, informative: 4, classes: 3}}
model: {depth: 1, width: 8}
train: {optimizer: sgd, learning_rate: 0.05, batch_size: 32, epochs: 2}
grid:
  model.width: [4, 8, 16]
seeds: [0, 1]
target: {metric: val_accuracy, value: 0.5}
"""


def _binary(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user the package creates."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres():
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("SUITE_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)")
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="suite-pg-"))  # not under pytest's root-only tmp: postgres must reach it
    folder.chmod(0o777)
    data, port = folder / "data", _free_port()
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "postgres", "--auth=trust"]), check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        conn.cursor().execute("CREATE DATABASE mlflow")
        conn.close()
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server(postgres, tmp_path_factory):
    port = _free_port()
    artifacts = tmp_path_factory.mktemp("artifacts")
    log = open(tmp_path_factory.mktemp("log") / "mlflow.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", postgres, "--artifacts-destination",
         str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.time() > deadline:
                pytest.fail(f"mlflow server did not start; see {log.name}")
            time.sleep(0.5)
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_parallel_workers_through_a_postgres_backed_server_lose_no_run(server, postgres, tmp_path, monkeypatch, capsys):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "team.yaml").write_text(STUDY)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    assert main(["run", "team", "--workers", "2"]) == 0
    assert "all 6 trials ended" in capsys.readouterr().err

    client = MlflowClient(server)
    exp = client.get_experiment_by_name("team").experiment_id
    trials = client.search_runs([exp], "tags.`suite.kind` = 'trial'")
    assert sorted((int(r.data.tags["suite.cell"]), int(r.data.tags["suite.seed"])) for r in trials) == [
        (c, s) for c in range(3) for s in range(2)
    ]
    assert {r.info.status for r in trials} == {"FINISHED"}
    assert all(len(client.get_metric_history(r.info.run_id, "val_accuracy")) == 2 for r in trials)

    import psycopg2  # the rows themselves, in PostgreSQL

    with psycopg2.connect(postgres.replace("+psycopg2", "")) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                       "WHERE t.key = 'suite.kind' AND t.value = 'trial' AND r.status = 'FINISHED'")
        assert cursor.fetchone()[0] == 6
    assert (tmp_path / "results" / "team" / "base" / "report.md").exists()
    # The study run holds the report's files as artifacts, through the server.
    (study_run,) = client.search_runs([exp], "tags.`suite.kind` = 'study'")
    assert "report.md" in {a.path for a in client.list_artifacts(study_run.info.run_id)}


AUTH_CONFIG = """\
[mlflow]
default_permission = READ
database_uri = sqlite:///{folder}/auth.db
admin_username = suite-admin
admin_password = {password}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
"""


def test_a_server_with_basic_auth_records_with_the_right_password_and_refuses_a_wrong_one_in_one_line(
    tmp_path, monkeypatch, capsys
):
    """`mlflow server --app-name basic-auth`: the suite signs in with MLFLOW_TRACKING_USERNAME/PASSWORD."""
    password = "correct-horse-battery-staple"
    (tmp_path / "auth.ini").write_text(AUTH_CONFIG.format(folder=tmp_path, password=password))
    port = _free_port()
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(tmp_path / "auth.ini"),
           "MLFLOW_FLASK_SERVER_SECRET_KEY": "a-test-secret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--backend-store-uri",
         f"sqlite:///{tmp_path / 'runs.db'}", "--default-artifact-root", str(tmp_path / "artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server --app-name basic-auth did not start")
        uri = f"http://127.0.0.1:{port}"
        (tmp_path / "home" / "studies").mkdir(parents=True)
        (tmp_path / "home" / "studies" / "team.yaml").write_text(STUDY)
        monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "suite-admin")

        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
        assert main(["run", "team"]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
        assert line.startswith(f"error: tracking store {uri}: the server refused the credentials")
        assert "MLFLOW_TRACKING_PASSWORD" in line

        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        client = MlflowClient(uri)
        assert client.get_experiment_by_name("team") is None  # the refused run wrote nothing
        assert main(["run", "team"]) == 0
        exp = client.get_experiment_by_name("team").experiment_id
        runs = client.search_runs([exp], "tags.`suite.kind` = 'trial'")
        assert len(runs) == 6 and {r.info.status for r in runs} == {"FINISHED"}
    finally:
        os.killpg(process.pid, 9)
        process.wait()
