"""Trials in parallel: a chief serves the study's oracle over gRPC; workers ask it for trials.

This is keras-tuner's own distributed mode (its ``OracleServicer`` and
``OracleClient``), driven by the suite instead of by environment variables set
by hand. The chief (``suite run --workers N``) holds the GridOracle and its
saved state, so a crashed chief resumes like a serial run. Each worker
(``suite worker``) runs the trials it is handed and records them in the shared
MLflow store; the oracle hands every trial out once. A worker that dies
mid-trial has that trial handed to another.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path

from suite.ground import stopping
from suite.ground.errors import SuiteError
from suite.search import access as guard
from suite.usercode import plugins

POLL_S = 0.5


def parse_address(text: str, option: str) -> tuple[str, int]:
    """HOST:PORT as (host, port), or a one-line error naming the option."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SuiteError(f"{option} {text!r}: expected HOST:PORT, e.g. 10.0.0.5:8000")
    return host, int(port)


def serve(oracle, listen: str, access: guard.Access):
    """Serve ``oracle`` on ``listen`` (HOST:PORT; port 0 picks a free one), to callers with ``access``'s token
    (if any), over TLS if it has a certificate.

    Returns the server and the address local workers dial (loopback when listening on every interface)."""
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    host, port = parse_address(listen, "--listen")
    guard.check_listen(host, listen, access)
    # One request at a time, as keras-tuner's chief; every call passes the token check first.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), interceptors=guard.interceptors(access))
    protos.get_service_grpc().add_OracleServicer_to_server(OracleServicer(oracle), server)
    bound = guard.add_port(server, f"{host}:{port}", access)
    if not bound:
        raise SuiteError(f"--listen {listen}: cannot listen there (port in use, or not this machine's address)")
    server.start()
    return server, f"{'127.0.0.1' if host == '0.0.0.0' else host}:{bound}"


def connect(tuner, chief: str, access: guard.Access) -> None:
    """Point a worker's tuner at the chief through a channel with ``access``'s token, TLS and bounded wait
    (keras-tuner's own client dials an insecure channel and waits an hour for each answer)."""
    from keras_tuner.src import protos

    tuner.oracle.stub = protos.get_service_grpc().OracleStub(guard.channel(chief, access))


@contextmanager
def as_worker(chief: str, worker_id: str):
    """Inside, every tuner built is a client of the chief's oracle (keras-tuner reads these variables);
    they are restored on the way out, so nothing else in the process turns into a worker."""
    host, port = parse_address(chief, "--chief")
    names = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(zip(names, (worker_id, host, str(port))))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _lock(oracle):
    """The lock keras-tuner's @synchronized oracle methods take: the server's thread and ours share the oracle."""
    from keras_tuner.src.engine.oracle import LOCKS

    return LOCKS[oracle]


def unfinished(oracle, plan_size: int) -> int:
    """Trials of the plan not yet COMPLETED or FAILED, nor recorded before (the plan skips those: ``PlanOracle.ended``)."""
    with _lock(oracle):
        return plan_size - len(oracle.ended())


def requeue(oracle, worker_id: str) -> None:
    """A worker died: hand its running trial to the next worker that asks."""
    with _lock(oracle):
        trial = oracle.ongoing_trials.pop(worker_id, None)
        if trial is not None:
            oracle._retry_queue.append(trial.trial_id)
        oracle.tuner_ids.discard(worker_id)


def spawn(study: Path, profile: str | None, chief: str, count: int, logs: Path, access: guard.Access,
          confirm: bool = False) -> dict[str, subprocess.Popen]:
    """Start ``count`` local workers (``suite worker``), each logging to logs/<id>.log, with the chief's token
    (in their environment, never on a command line that ``ps`` shows) and, under TLS, its certificate as their CA."""
    logs.mkdir(parents=True, exist_ok=True)
    env = os.environ.copy()
    if access.token:
        env[guard.TOKEN_ENV] = access.token
    # Workers sharing one GPU: each takes memory as it needs it instead of all of it up front.
    env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    workers = {}
    for i in range(count):
        worker_id = f"worker{i}"
        command = [sys.executable, "-m", "suite", "worker", str(study), "--chief", chief, "--id", worker_id]
        if profile:
            command += ["--profile", profile]
        if confirm:
            command += ["--confirm"]
        if access.cert is not None:
            command += ["--tls-ca", str(access.cert)]
        for plugin in plugins.PLUGINS.loaded:  # the chief's families and datasets, from the same files
            command += ["--plugin", str(plugin.path)]
        with open(logs / f"{worker_id}.log", "w") as log:  # the worker keeps its own copy of the file
            workers[worker_id] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    return workers


def wait(oracle, plan_size: int, workers: dict[str, subprocess.Popen], logs: Path, report=None) -> None:
    """Until every trial has ended. Local workers that die have their trial re-queued; if all local
    workers are gone (and none were expected from elsewhere) with trials left, stop with an error."""
    alive = dict(workers)
    while unfinished(oracle, plan_size) > 0:
        stopping.check()
        for worker_id, process in list(alive.items()):
            if process.poll() is not None:
                del alive[worker_id]
                requeue(oracle, worker_id)
                if process.returncode != 0 and report:
                    report(f"{worker_id} exited with {process.returncode}; see {logs / (worker_id + '.log')}")
        if workers and not alive:
            left = unfinished(oracle, plan_size)
            if left:
                last = _last_line(logs / f"{next(iter(workers))}.log")
                raise SuiteError(
                    f"every worker exited with {left} trials unfinished (last worker line: {last}); "
                    "what finished is recorded: rerun the same command to resume"
                )
        time.sleep(POLL_S)
    for process in alive.values():  # each asks once more, is told to stop, and exits
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][-300:] if lines else "no output"
