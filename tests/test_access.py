"""Who may talk to the chief: the token, the loopback rule, TLS and the bounded wait, through real gRPC on loopback."""

import datetime
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time

import grpc
import keras_tuner
import pytest
from keras_tuner.src import protos
from mlflow.tracking import MlflowClient
from test_distributed import STUDY

from suite.cli import main
from suite.ground.errors import SuiteError
from suite.search import access as guard
from suite.search import distributed
from suite.search.oracle import GridOracle
from suite.study import load_study

TOKEN = "s3cret-token-for-the-test"
# Trials long enough (a second or two) that the chief can be killed while its worker trains.
SLOW = STUDY.split("tune:")[0].replace("epochs: 2", "epochs: 60").replace("seeds: [0, 1]", "seeds: [0, 1, 2]") + \
    "target: {metric: val_accuracy, value: 0.5}\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certificate(folder):
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "suite chief")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "chief.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "chief.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "chief.pem", folder / "chief.key"


@pytest.fixture()
def oracle(tmp_path):
    path = tmp_path / "par.yaml"
    path.write_text(STUDY)
    oracle = GridOracle(load_study(path), keras_tuner.Objective("best_val_accuracy", "max"))
    oracle._set_project_dir(str(tmp_path), "p")
    return oracle


def ask_for_space(address: str, access: guard.Access):
    stub = protos.get_service_grpc().OracleStub(guard.channel(address, access))
    return stub.GetSpace(protos.get_service().GetSpaceRequest(), wait_for_ready=True, timeout=3600)


def test_the_chief_answers_only_calls_with_its_token(oracle, monkeypatch):
    monkeypatch.setenv(guard.WAIT_ENV, "5")
    server, address = distributed.serve(oracle, "127.0.0.1:0", guard.Access(TOKEN))
    try:
        assert ask_for_space(address, guard.Access(TOKEN)).hyperparameters.space  # the oracle's space comes back
        for wrong in (None, "guess", TOKEN + "x"):
            with pytest.raises(grpc.RpcError) as refused:
                ask_for_space(address, guard.Access(wrong))
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        line = str(guard.refused(refused.value, address))
        assert "refused this worker" in line and "SUITE_TOKEN" in line and "\n" not in line
    finally:
        server.stop(grace=0)


@pytest.mark.slow
def test_tls_chief_and_worker_with_its_ca_on_loopback(oracle, tmp_path, monkeypatch):
    monkeypatch.setenv(guard.WAIT_ENV, "3")
    cert, key = certificate(tmp_path)
    server, address = distributed.serve(oracle, "127.0.0.1:0", guard.Access(TOKEN, cert=cert, key=key))
    try:
        assert ask_for_space(address, guard.Access(TOKEN, ca=cert)).hyperparameters.space
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as plain:  # a worker without TLS never gets an answer: bounded wait
            ask_for_space(address, guard.Access(TOKEN))
        assert plain.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        assert time.monotonic() - started < 30
        assert "did not answer within 3 s" in str(guard.refused(plain.value, address))
    finally:
        server.stop(grace=0)


@pytest.mark.slow
def test_serving_beyond_loopback_needs_a_token(oracle, tmp_path, monkeypatch, capsys):
    with pytest.raises(SuiteError, match="serving beyond loopback needs a token"):
        distributed.serve(oracle, "0.0.0.0:0", guard.Access())
    assert guard.is_loopback("127.0.0.1") and guard.is_loopback("::1") and guard.is_loopback("localhost")
    assert not guard.is_loopback("0.0.0.0") and not guard.is_loopback("10.0.0.5") and not guard.is_loopback("chief.lan")

    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "par.yaml").write_text(STUDY)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(guard.TOKEN_ENV, raising=False)
    assert main(["run", "par", "--listen", "0.0.0.0:8000"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: --listen 0.0.0.0:8000: serving beyond loopback needs a token")
    assert not (tmp_path / ".suite" / "mlflow.db").exists()  # refused before any store was touched
    assert main(["run", "par", "--tls-cert", str(tmp_path / "none.pem")]) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err
    (tmp_path / "empty").write_text("\n")
    assert main(["worker", "par", "--chief", "127.0.0.1:1", "--token-file", str(tmp_path / "empty")]) == 2
    assert "the file is empty" in capsys.readouterr().err


def suite(home, *args, token=None, wait="20"):
    env = {**os.environ, "SUITE_HOME": str(home), guard.WAIT_ENV: wait}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop(guard.TOKEN_ENV, None)
    if token:
        env[guard.TOKEN_ENV] = token
    return subprocess.Popen([sys.executable, "-m", "suite", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def trials(home):
    client = MlflowClient(f"sqlite:///{home / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("par")
    return client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'") if exp else []


def wait_for(predicate, seconds=240):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def serving_chief(home, study: str):
    """A chief (`suite run --listen`, with the token) serving ``study`` on a free loopback port: (port, process)."""
    (home / "studies").mkdir(parents=True)
    (home / "studies" / "par.yaml").write_text(study)
    port = free_port()
    chief = suite(home, "run", "par", "--listen", f"127.0.0.1:{port}", token=TOKEN)
    # The lock exists once the store is created and migrated; the port opens once the searches are done.
    if not wait_for(lambda: (home / ".suite" / "tuner" / "par" / "base.lock").exists() and _listening(port)):
        os.killpg(chief.pid, signal.SIGKILL)
        pytest.fail("the chief did not start serving")
    return port, chief


@pytest.mark.slow
def test_a_worker_with_a_wrong_token_stops_in_one_line_and_records_nothing(tmp_path):
    home = tmp_path / "home"
    port, chief = serving_chief(home, STUDY)
    try:
        assert trials(home) == []
        intruder = suite(home, "worker", "par", "--chief", f"127.0.0.1:{port}", "--id", "intruder", token="wrong")
        _, err = intruder.communicate(timeout=120)
        assert intruder.returncode == 2
        assert err.strip().splitlines()[-1].startswith(f"error: the chief at 127.0.0.1:{port} refused this worker")
        assert trials(home) == []  # nothing recorded

        worker = suite(home, "worker", "par", "--chief", f"127.0.0.1:{port}", "--id", "w0", token=TOKEN)
        worker.communicate(timeout=300)
        assert worker.returncode == 0
        chief.communicate(timeout=120)
        assert chief.returncode == 0
        assert sorted((r.data.tags["suite.cell"], r.data.tags["suite.seed"], r.info.status) for r in trials(home)) == [
            ("0", "0", "FINISHED"), ("0", "1", "FINISHED"), ("1", "0", "FINISHED"), ("1", "1", "FINISHED")
        ]
    finally:
        if chief.poll() is None:
            os.killpg(chief.pid, signal.SIGKILL)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_killing_the_chief_stops_its_workers_and_a_restart_finishes_the_study(tmp_path):
    home = tmp_path / "home"
    port, chief = serving_chief(home, SLOW)
    worker = None
    try:
        worker = suite(home, "worker", "par", "--chief", f"127.0.0.1:{port}", "--id", "worker0", token=TOKEN, wait="5")
        assert wait_for(lambda: any(r.info.status == "FINISHED" for r in trials(home)))
        os.killpg(chief.pid, signal.SIGKILL)  # the chief dies while its worker trains
        started = time.monotonic()
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 2 and time.monotonic() - started < 60  # bounded: no hour-long wait
        assert "did not answer within 5 s" in err.strip().splitlines()[-1]
    finally:
        for process in (chief, worker):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)

    restarted = suite(home, "run", "par", "--workers", "1")
    _, err = restarted.communicate(timeout=400)
    assert restarted.returncode == 0, err[-2000:]
    finished = sorted((r.data.tags["suite.cell"], r.data.tags["suite.seed"]) for r in trials(home) if r.info.status == "FINISHED")
    assert finished == [(c, s) for c in "01" for s in "012"]  # none lost, none twice
