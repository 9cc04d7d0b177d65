"""The ``suite`` command: run, worker, report, replicate, validate, list, scorecard, ui, bench.

Light commands (``--help``, ``list``, ``validate``, ``scorecard``, and a run whose study
file is malformed) import neither TensorFlow, Keras nor keras-tuner: each command imports
what it needs when it runs, and a command that trains loads the backend only after its
study file has passed.
"""

from __future__ import annotations

import argparse
import os
import sys

from suite.ground import console, process, stopping
from suite.ground.errors import SuiteError

HELP = """\
Reproducible benchmarks for deep-learning training folklore.

A study file (studies/<name>.yaml) states a claim, a grid of settings and
seeds. `suite run` trains every cell and seed as a keras-tuner trial, records
each in MLflow and writes a report to results/<name>/.

  suite list                         the studies in studies/
  suite init my.csv --label COLUMN   a first study file for your own data
  suite power dropout                the seeds each comparison needs, from the quick report's trials
  suite validate dropout             check a study file without running it
  suite run dropout --profile smoke  a 1-minute version of the study
  suite run dropout --workers 4      the same, its trials in 4 parallel workers
  suite run my_study.yaml            any study file, anywhere
  suite run my.yaml --plugin my.py   with model families or datasets of your own (see README)
  suite run studies/*.yaml           several, in one process (checked before any trains)
  suite confirm dropout --profile quick   the same on fresh seeds: are the verdicts confirmed?
  suite report dropout               rebuild the report from MLflow
  suite scorecard                    rebuild results/README.md, one row per claim
  suite scorecard --since HEAD       ... and list the verdicts that changed since the committed reports
  suite replicate dropout --trials 3 rerun recorded trials; exit 1 if metrics differ
  suite ui                           browse the runs (MLflow UI, 127.0.0.1)
  suite bench                        measure the suite's own cost (results/bench/)

The MLflow store is .suite/mlflow.db (override with MLFLOW_TRACKING_URI);
SUITE_HOME sets the folder holding studies/, results/ and .suite/.
"""


def main(argv: list[str] | None = None) -> int:
    """The command: its arguments parsed, the process prepared, then the command's function from ``COMMANDS``; a
    ``SuiteError`` becomes one line and exit code 2."""
    args = parser().parse_args(argv)
    process.prepare()
    try:
        with stopping.on_request(at_safe_points=args.command in TRAINING):
            if getattr(args, "plugin", None):  # before any study is read: it may name what they register
                from suite.usercode import plugins

                console.import_backend()  # a plugin imports Keras: quietly, as the suite does
                plugins.load(args.plugin)
            return COMMANDS[args.command](args)
    except SuiteError as e:
        console.close_line()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        console.close_line()
        print("interrupted: what finished is recorded; run the same command again to resume", file=sys.stderr)
        return 130


def parser() -> argparse.ArgumentParser:
    """Every command with its help and arguments (each runs the function of its name in ``COMMANDS``)."""
    parser = argparse.ArgumentParser(prog="suite", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    add_parser = sub.add_parser
    sub.add_parser = lambda name, **kw: add_parser(name, description=kw.get("help"), **kw)  # `suite X --help` says what X does

    for command, helped in (("run", "run studies (each resumes where it stopped) and write their reports"),
                            ("confirm", "rerun studies on fresh seeds (disjoint from theirs) and compare the verdicts")):
        run_arguments(p := sub.add_parser(command, help=helped))
        if command == "confirm":
            p.set_defaults(confirm=True)

    p = sub.add_parser("worker", help="run trials handed out by a chief (`suite run --workers`/--listen) elsewhere")
    p.add_argument("study")
    p.add_argument("--profile", help="a profile of the study file (e.g. smoke, quick, full); default: the file as written")
    p.add_argument("--chief", required=True, metavar="HOST:PORT", help="the chief's address")
    p.add_argument("--id", default=None, help="this worker's name, unique among the workers (default: host-pid)")
    p.add_argument("--token-file", metavar="FILE", help="the chief's token, its first line (default: SUITE_TOKEN)")
    p.add_argument("--tls-ca", metavar="PEM", help="the chief serves TLS: trust its certificate if signed by this CA")
    plugin_flag(p)
    confirm_flag(p)

    p = sub.add_parser("report", help="rebuild a study's report from MLflow, without training")
    p.add_argument("study")
    p.add_argument("--profile", help="a profile of the study file (e.g. smoke, quick, full); default: the file as written")
    p.add_argument("--from-files", action="store_true",
                   help="build the report again from its own trials.csv and searches.csv (no MLflow store needed): "
                        "rewrites report.md, verdicts.json, summary.csv, metrics.png and survival.png; keeps the "
                        "environment and the figures drawn from MLflow's histories")
    plugin_flag(p)
    confirm_flag(p)

    p = sub.add_parser("replicate", help="rerun a sample of recorded trials and compare their metrics")
    p.add_argument("study")
    p.add_argument("--profile", help="a profile of the study file (e.g. smoke, quick, full); default: the file as written")
    p.add_argument("--trials", type=int, default=3, help="how many recorded trials to rerun (default 3)")
    p.add_argument("--from", dest="from_file", metavar="TRIALS_CSV",
                   help="rerun trials a committed report records (results/<study>/<profile>/trials.csv) instead of the "
                        "MLflow store's: identical where the recorded machine matches, else each cell's mean within the "
                        "committed interval and every verdict the same")
    plugin_flag(p)
    confirm_flag(p)

    p = sub.add_parser("validate", help="check study files without running them")
    p.add_argument("studies", nargs="+")
    plugin_flag(p)

    p = sub.add_parser("bench", help="measure the suite's own cost; writes results/bench/")
    p.add_argument("study", nargs="?", default="capacity", help="an untuned study to time (default capacity)")
    p.add_argument("--profile", default="quick", help="the profile to time (default quick)")
    p.add_argument("--parts", default="floor,overhead,backends,workers,scaling,grouped,cell",
                   help="comma-separated: floor, overhead, backends, workers, scaling, grouped, cell")
    p.add_argument("--workers", default="1,2", help="worker counts for the workers part")
    p.add_argument("--sizes", default="10,100,1000", help="recorded-trial counts for the scaling part")
    p.add_argument("--group-sizes", default="1,5", help="trials per group for the grouped part (e.g. 1,8,32,128 on a GPU)")
    p.add_argument("--ways", default="tensorflow,jax,grouped,default",
                   help="the grouped part's whole-study runs, back to back: tensorflow, jax (alone), grouped, default")
    p.add_argument("--out", help="where to write bench.json and README.md (default results/bench)")

    p = sub.add_parser("power", help="seeds by power: from a report's trials (the pilot), the seeds each comparison needs")
    p.add_argument("study")
    p.add_argument("--profile", default="quick", help="whose report's trials are the pilot (default quick)")

    p = sub.add_parser("stop-rule", help="what the median stopping rule would have done to a study's recorded searches")
    p.add_argument("study")
    p.add_argument("--profile", default="quick", help="whose recorded searches (default quick; \"\": the file as written)")
    p.add_argument("--after", type=int, help="the first epoch at which a candidate may be stopped (default: the study's "
                   "tune.stop, else 10)")
    p.add_argument("--earlier", type=int, help="earlier candidates needed for a median (default: the study's tune.stop, else 2)")
    confirm_flag(p)

    p = sub.add_parser("init", help="write a first study file for your own data (.csv, .parquet, .npz)")
    p.add_argument("data", help="the data file")
    p.add_argument("--label", metavar="COLUMN", help="a table's label column: classes, or a quantity (a regression)")
    p.add_argument("--out", metavar="FILE", help="where to write the study (default: beside the data, DATA.yaml)")
    p.add_argument("--task", choices=("classification", "regression"),
                   help="what the label is, instead of what init infers from it (a quantity: more than 20 distinct "
                        "numbers, some not whole, or more than 100 whole ones)")

    sub.add_parser("list", help="list the studies in studies/, each with the executor `suite run` trains it on and why")
    p = sub.add_parser("scorecard", help="rebuild results/README.md from every report's verdicts")
    p.add_argument("--since", metavar="REV", help="also print the verdicts that changed since the reports committed at "
                                                  "this git revision (e.g. HEAD, a commit, a tag)")

    p = sub.add_parser("ui", help="start the MLflow UI on 127.0.0.1 over the suite's store (.suite/mlflow.db, or "
                                  "MLFLOW_TRACKING_URI): every study an experiment, every trial a run under its study's run")
    p.add_argument("--port", type=int, default=5000, help="the port on 127.0.0.1 to serve on (default 5000)")

    return parser


def _load(name: str, profile: str | None = None, train: bool = False, confirm: bool = False):
    """The workspace and the resolved study; ``train``: then load the backend, quietly, for a command that trains."""
    ws, (resolved,) = _load_all([name], profile, train, confirm)
    return ws, resolved


def _load_all(names: list[str], profile: str | None = None, train: bool = False, confirm: bool = False):
    """The workspace and every study resolved, before the backend (if ``train``) is loaded."""
    from suite.study import find_study, load_study
    from suite.workspace import Workspace

    ws = Workspace.current()
    resolved = []
    for name in names:
        try:
            resolved.append(load_study(find_study(name, ws.studies), profile, confirm))
        except SuiteError as e:
            raise SuiteError(f"{name}: {e}" if len(names) > 1 else str(e)) from None
    if train:
        console.import_backend()
    return ws, resolved


def cmd_run(args) -> int:
    if args.workers < 0:
        raise SuiteError(f"--workers: must be 0 or more, got {args.workers}")
    access = _access(args, chief=True)  # flags are checked before any store or trial is touched
    if args.listen:
        if len(args.studies) > 1:
            raise SuiteError("--listen: serves one study's oracle; give one study")
        from suite.search import access as guard
        from suite.search.distributed import parse_address

        host, _ = parse_address(args.listen, "--listen")
        guard.check_listen(host, args.listen, access)
    if args.executor == "grouped" and (args.workers or args.listen):
        raise SuiteError("--executor grouped trains a cell's seeds together in this process: leave out --workers and --listen")
    ws, studies = _load_all(args.studies, args.profile, confirm=args.confirm)
    from suite.running import executor

    bound = executor.process_backend()
    paths = [executor.choose(r, requested=args.executor, parallel=bool(args.workers or args.listen), bound=bound)
             for r in studies]
    if bound is None:  # this process trains the first study's backend; a study on another runs in a process of its own
        os.environ["KERAS_BACKEND"] = paths[0].backend
    console.import_backend()
    import keras

    here = keras.backend.backend()
    if args.executor == "grouped" and here != "jax":
        raise SuiteError(f"--executor grouped trains on JAX; this process runs {here}: "
                         "set KERAS_BACKEND=jax (pip install jax), or leave KERAS_BACKEND unset")
    from suite.ground import timing
    from suite.train.kept import Kept

    failed = False  # a run with any FAILED trial ends non-zero, after every study has run
    loaded = Kept()  # the raw datasets, loaded once for every study of this command
    try:
        for backend, at in executor.segments(paths):
            if backend != here:  # another backend: these studies run in a child `suite` process
                failed |= _run_elsewhere(args, [args.studies[i] for i in at], backend) != 0
                continue
            for i in at:
                resolved = studies[i]
                print(f"study {resolved.name} [{resolved.profile_name}]: {len(resolved.cells)} cells x "
                      f"{len(resolved.study.seeds)} seeds = {len(resolved.trials)} trials{resolved.study.rounds_said}; "
                      f"{paths[i].line()}",
                      file=sys.stderr)
                failed |= _run_here(args, ws, resolved, paths[i], loaded, access)
        return 1 if failed else 0
    finally:
        if args.timings:
            timing.write(args.timings)


def _run_here(args, ws, resolved, path, loaded, access) -> bool:
    """One study in this process; True when any of its trials FAILED."""
    from suite.ground import timing
    from suite.running.runner import Parallel, Record, run_study

    parallel = Parallel(args.workers, args.listen or "127.0.0.1:0", access) if args.workers or args.listen else None
    with timing.section("command"):
        record = Record(fresh=args.fresh, rerun_stale=args.rerun_stale, takeover=args.takeover)
        report = run_study(resolved, ws, record, parallel=parallel, grouped=path.grouped, kept=loaded.next_study())
    print(f"report: {report}", flush=True)
    failures = [line for line in (failed_trials(resolved.name, report.parent / "trials.csv"),
                                  failed_candidates(resolved, report.parent / "searches.csv")) if line]
    for line in failures:
        print(line, file=sys.stderr, flush=True)
    return bool(failures)


def _run_elsewhere(args, names: list[str], backend: str) -> int:
    """Studies on another backend than this process's: the same command in a child process bound to that backend
    (a process trains on one backend). Its output is this command's; its exit status is returned."""
    import subprocess

    command = [sys.executable, "-m", "suite", "run", *names, "--executor", args.executor]
    command += ["--profile", args.profile] if args.profile else []
    command += [flag for flag, on in (("--fresh", args.fresh), ("--rerun-stale", args.rerun_stale),
                                      ("--takeover", args.takeover), ("--confirm", args.confirm)) if on]
    for plugin in args.plugin:
        command += ["--plugin", plugin]
    if args.timings:
        stem, dot, suffix = args.timings.rpartition(".")
        command += ["--timings", f"{stem}.{backend}.{suffix}" if dot else f"{args.timings}.{backend}"]
    sys.stdout.flush(), sys.stderr.flush()
    return subprocess.run(command, env={**os.environ, "KERAS_BACKEND": backend}).returncode


def failed_trials(study: str, trials_csv) -> str:
    """One line when any of the study's trials FAILED ("" when none did): how many, the first error, where to read it."""
    import csv

    if not trials_csv.is_file():
        return ""
    with open(trials_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    failed = [r for r in rows if r.get("status") == "FAILED"]
    if not failed:
        return ""
    lines = [line for line in (failed[0].get("error") or "").strip().splitlines() if line.strip()]
    first = lines[-1].strip() if lines else "no error recorded"
    return (f"error: {study}: {len(failed)} of {len(rows)} trials FAILED; the first: {first} (its traceback: the "
            f"suite.error tag of run {failed[0].get('run_id', '?')}, in `suite ui`); rerun the same command to retry them")


def failed_candidates(resolved, searches_csv) -> str:
    """One line when the study's searches lost more candidates than it tolerates (``tune.tolerate``, 0 unless
    declared): how many, the first error. A search that lost candidates chose among fewer than it planned."""
    import csv

    tolerated = resolved.study.tune.tolerate if resolved.study.tune else 0
    if not searches_csv.is_file():
        return ""
    with open(searches_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    failed = [r for r in rows if r.get("status") == "FAILED"]
    if len(failed) <= tolerated:
        return ""
    lines = [line for line in (failed[0].get("error") or "").strip().splitlines() if line.strip()]
    first = lines[-1].strip() if lines else f"see the suite.error tag of run {failed[0].get('run_id', '?')} in `suite ui`"
    return (f"error: {resolved.name}: {len(failed)} of {len(rows)} search candidates FAILED (tune.tolerate: {tolerated}); "
            f"the first: {first}; its search chose among the rest: fix what fails, or declare tune.tolerate")


def _access(args, chief: bool):
    """The credentials the command's flags and environment give: a chief's token and certificate, a worker's token and CA."""
    from suite.search import access as guard

    if chief:
        if bool(args.tls_cert) != bool(args.tls_key):
            raise SuiteError("--tls-cert and --tls-key go together (the certificate and its private key)")
        return guard.Access(guard.token(args.token_file), cert=guard.readable("--tls-cert", args.tls_cert),
                            key=guard.readable("--tls-key", args.tls_key))
    return guard.Access(guard.token(args.token_file), ca=guard.readable("--tls-ca", args.tls_ca))


def cmd_worker(args) -> int:
    import socket

    ws, resolved = _load(args.study, args.profile, train=True, confirm=args.confirm)
    from suite.running.runner import work

    worker_id = args.id or f"{socket.gethostname()}-{os.getpid()}"
    ran = work(resolved, ws, args.chief, worker_id, _access(args, chief=False))
    print(f"{worker_id}: no trials left; ran {ran}", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    if args.from_files:
        from suite.analyze import rejudge

        ws, resolved = _load(args.study, args.profile, confirm=args.confirm)
        print(f"report: {rejudge.rejudge(resolved, ws.report_dir(resolved))} (built again from its trials.csv)")
        return 0
    ws, resolved = _load(args.study, args.profile, train=True, confirm=args.confirm)
    from suite.analyze import report

    path = report.write(resolved, ws.tracker(), ws.report_dir(resolved))
    print(f"report: {path}")
    return 0


def cmd_replicate(args) -> int:
    ws, resolved = _load(args.study, args.profile, confirm=args.confirm)
    from suite.running import executor

    if not args.from_file and executor.process_backend() is None:  # rerun on the backend that made the trials
        study_run = ws.tracker().latest_study_run(resolved)
        recorded = study_run.data.tags.get("backend") if study_run else None
        if recorded and executor.installed(recorded):
            os.environ["KERAS_BACKEND"] = recorded
    console.import_backend()
    from suite.running.replicate import ALPHA, TOLERANCE, from_files, replicate

    if args.from_file:
        found = from_files(resolved, args.from_file, args.trials)
        for line in found.differences:
            print(f"  {line}")
        for line in found.notes:
            print(f"  (reported, not failed) {line}")
        rule = ("every metric identical" if found.mode == "exact" else
                f"each cell's rerun seeds a sample of the committed seeds' distribution on every metric the verdicts use "
                f"({found.compared} two-sample tests, Holm at {ALPHA:g})"
                + (", no verdict reversed" if found.verdicts_compared else "; verdicts not compared (rerun every trial: --trials N)"))
        print(f"replicate {resolved.name} [{resolved.profile_name}] from {args.from_file}: {found.mode} ({found.why}); "
              f"{found.rerun} trials rerun, {rule}: {len(found.differences)} differences, "
              f"{'MISMATCH' if found.differences else 'ok'}")
        return 1 if found.differences else 0

    compared, differences, exact = replicate(resolved, ws.tracker(), args.trials)
    if not compared:
        raise SuiteError(f"no finished trials of {resolved.name} [{resolved.profile_name}] to replicate; run it first")
    rule = ("identical (same backend, device and CPU instruction-set features as the record)" if exact
            else f"within {TOLERANCE} (another backend, device or CPU features, or a record without them)")
    for d in differences:
        print(f"  {d.cell} seed={d.seed}: {d.metric} recorded {d.recorded!r}, replicated {d.replicated!r}")
    verdict = "MISMATCH" if differences else "ok"
    print(f"replicate {resolved.name} [{resolved.profile_name}]: {compared} trials rerun, metrics must be {rule}: "
          f"{len(differences)} differences, {verdict}")
    return 1 if differences else 0


def cmd_validate(args) -> int:
    from suite.running import preflight
    from suite.train.kept import Kept

    loaded = Kept()  # each dataset loads once for every file checked
    for name in args.studies:
        _, resolved = _load(name)
        try:
            preflight.check(resolved, loaded.next_study())  # what run would refuse before training, refused here with the same line
        except SuiteError as e:
            raise SuiteError(f"{resolved.path}: {e}" if len(args.studies) > 1 else str(e)) from None
        s = resolved.study
        profiles = ", ".join(s.profiles) or "none"
        searched = [c for c in resolved.cells if c.tune is not None and c.tune.algorithm != "none"]
        count = {c.index: len(c.tune.searches(s.seeds)) for c in searched}  # tune.per: seed or block: several a cell
        epochs = sum(c.tune.budget(c.settings.train.epochs) * count[c.index] for c in searched)
        search = (
            f", after {sum(count.values())} searches of at most {epochs} epochs in all over {len(searched)} cells"
            if searched
            else ""
        )
        print(f"{resolved.path}: ok, {len(resolved.cells)} cells x {len(s.seeds)} seeds = {len(resolved.trials)} trials{search}"
              f"{s.rounds_said}; profiles: {profiles}")
        from suite.analyze.verdict import power_warnings

        for warning in power_warnings(s, resolved.cells):
            print(f"  warning: {warning}")
    return 0


def cmd_bench(args) -> int:
    from pathlib import Path

    from suite.bench import make as bench
    from suite.study import find_study, load_study
    from suite.workspace import Workspace

    ws = Workspace.current()
    path = find_study(args.study, ws.studies)
    load_study(path, args.profile)  # a typo fails here, in a second, not after the first measurement
    console.import_backend()  # the environment stamp names the backend: load it quietly
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(bench.PARTS))
    if unknown:
        raise SuiteError(f"--parts: unknown {', '.join(unknown)}; choose from {', '.join(bench.PARTS)}")
    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    if unknown := sorted(set(ways) - set(bench.WAYS)) or ([] if ways else ["(none)"]):
        raise SuiteError(f"--ways: unknown {', '.join(unknown)}; choose from {', '.join(bench.WAYS)}")
    sizes = tuple(int(n) for n in args.sizes.split(","))
    workers = tuple(int(n) for n in args.workers.split(","))
    out = bench.run(path, args.profile, Path(args.out) if args.out else ws.results / "bench", parts=parts, sizes=sizes,
                    workers=workers, group_sizes=args.group_sizes, ways=tuple(ways),
                    log=lambda line: print(line, file=sys.stderr, flush=True))
    print((out / "README.md").read_text())
    print(f"bench: {out}")
    return 0


def run_arguments(p) -> None:
    """The flags of ``run`` and of ``confirm`` (a run on fresh seeds)."""
    p.add_argument("studies", nargs="+", metavar="study",
                   help="a study name in studies/, or a path to a .yaml file; several run one after another in one process")
    p.add_argument("--profile", help="a profile of the study file (e.g. smoke, quick, full)")
    p.add_argument("--fresh", action="store_true", help="discard this study's recorded trials and start over")
    p.add_argument("--rerun-stale", action="store_true",
                   help="rerun trials recorded by an earlier study file or code version (kept, marked superseded)")
    p.add_argument("--takeover", action="store_true",
                   help="go on although the study's run is RUNNING from another workspace or machine (that process is gone)")
    p.add_argument("--timings", metavar="FILE", help="write where the run's time went (JSON, seconds per section)")
    p.add_argument("--executor", choices=("auto", "grouped", "alone"), default="auto",
                   help="auto (default): each study on the path measured faster for it, grouped on JAX where all its "
                        "trials group, else alone on TensorFlow (suite list says which and why); grouped: each cell's "
                        "seeds as one compiled program (JAX); alone: one trial at a time on KERAS_BACKEND")
    p.add_argument("--grouped", dest="executor", action="store_const", const="grouped", help="--executor grouped")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="run trials in N parallel worker processes (keras-tuner's chief oracle over gRPC)")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="serve the oracle there for workers on other machines (e.g. 0.0.0.0:8000, which needs a token); "
                        "implies parallel mode")
    p.add_argument("--token-file", metavar="FILE",
                   help="the workers' shared token, its first line (default: SUITE_TOKEN; local workers get a random one)")
    p.add_argument("--tls-cert", metavar="PEM", help="serve the oracle over TLS with this certificate (with --tls-key)")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    plugin_flag(p)
    confirm_flag(p)


def confirm_flag(p) -> None:
    p.add_argument("--confirm", action="store_true",
                   help="the confirming run: the same study on seeds disjoint from its own (suite confirm runs it)")


def plugin_flag(p) -> None:
    """``--plugin FILE`` on every command that reads a study (the file may name what the plugin registers)."""
    p.add_argument("--plugin", action="append", default=[], metavar="FILE",
                   help="a Python file registering model families or datasets (suite.register_model); repeatable")


def cmd_power(args) -> int:
    import pandas as pd

    from suite.analyze import power
    from suite.analyze.design import with_searches

    ws, resolved = _load(args.study, args.profile)
    trials = ws.report_dir(resolved) / "trials.csv"
    if not trials.is_file():
        raise SuiteError(f"{trials}: no pilot; run `suite run {args.study} --profile {args.profile}` first")
    plans = power.plan(resolved.study.expect, with_searches(resolved, pd.read_csv(trials)), resolved.study.alpha)
    print(f"{resolved.name} [{resolved.profile_name}]: the pilot is {trials} ({len(resolved.study.seeds)} seeds per cell); "
          f"each test at alpha {resolved.study.alpha:g} / {max(len(plans), 1)} expectations (Holm's strictest step); Welch "
          "unless the note names another test (log-rank for time to target; cells, not seeds, for a trend)\n")
    print(power.table(plans))
    return 0


def cmd_stop_rule(args) -> int:
    """The median stopping rule replayed on a study's recorded search curves (``suite.search.losers``): per search,
    whether it would have chosen another candidate, and the candidate-epochs it would have saved."""
    from suite.search import losers

    ws, resolved = _load(args.study, args.profile or None, confirm=args.confirm)
    if resolved.study.tune is None:
        raise SuiteError(f"{resolved.name} has no tune: block, so no searches to replay")
    declared = resolved.study.tune.stop
    after = args.after if args.after is not None else declared.after if declared else 10
    earlier = args.earlier if args.earlier is not None else declared.earlier if declared else 2
    if after < 1 or earlier < 1:
        raise SuiteError("--after and --earlier: must be positive integers")
    tracker = ws.tracker()
    with tracker.snapshot():
        searches = tracker.searches(resolved)
    if searches.empty:
        raise SuiteError(f"no recorded searches of {resolved.name} [{resolved.profile_name}] in {tracker.uri}; "
                         f"run it first: suite run {resolved.command_args}")
    objective = next(c.tune.objective for c in resolved.cells if c.tune is not None)
    ids = list(searches["run_id"])
    scores, losses = tracker.histories(ids, objective), tracker.histories(ids, "loss")
    curves = {r: losers.until_divergence(scores[r], losses[r]) for r in ids}
    if "search_stopped_epoch" in searches and searches["search_stopped_epoch"].notna().any():
        stopped = searches["search_stopped_epoch"].notna().sum()
        print(f"{resolved.name} [{resolved.profile_name}]: its searches applied the declared rule (tune.stop) while they "
              f"trained and stopped {stopped} of {len(searches)} candidates; their curves end there, so a replay finds "
              "nothing more to stop. Replay it on a run without tune.stop to see what it changes.")
        return 0
    found = losers.replay(searches, curves, objective, after, earlier)
    changed = [f for f in found if f.chosen != f.under_rule]
    epochs, saved = sum(f.epochs for f in found), sum(f.saved for f in found)
    print(f"{resolved.name} [{resolved.profile_name}]: {len(found)} searches, {sum(f.candidates for f in found)} candidates "
          f"({epochs} candidate-epochs); the median rule from epoch {after} on, after {earlier} candidates, "
          f"would stop {sum(f.stopped for f in found)} candidates, save {saved} candidate-epochs "
          f"({saved / max(epochs, 1):.0%}), and choose another candidate in {len(changed)} of {len(found)} searches")
    for f in changed:
        print(f"  cell {f.cell}" + (f" for seed {f.for_seed}" if f.for_seed >= 0 else "") +
              f": recorded {f.chosen}, under the rule {f.under_rule}")
    return 0


def cmd_init(args) -> int:
    from pathlib import Path

    from suite import starter

    out, notes, dropped, facts = starter.write(Path(args.data), args.label, Path(args.out) if args.out else None, args.task)
    for note in notes:  # what the study's splits will do to the table's columns
        print(f"  {note}")
    for column, reason in dropped.items():
        print(f"  {column}: dropped: it {reason} (declared in the study's data.columns)")
    for fact in facts:  # the baseline the claim is judged against, imbalance, features that almost equal the label
        print(f"  {fact}")
    print(f"wrote {out}\nrun it: suite run {out} --profile smoke")
    return 0


def cmd_list(args) -> int:
    from suite.study import load_study
    from suite.workspace import Workspace

    from suite.running import executor

    ws = Workspace.current()
    bound = executor.process_backend()
    counts: dict[str, int] = {}
    for path in sorted(ws.studies.glob("*.yaml")):
        try:
            s = load_study(path)
        except SuiteError as e:
            print(f"{path.stem:<24} invalid: {e}")
            continue
        way = executor.choose(s, bound=bound)
        counts[way.executor] = counts.get(way.executor, 0) + 1
        print(f"{s.name:<24} {len(s.trials):>4} trials  profiles: {', '.join(s.study.profiles) or '-':<18} "
              f"{way.executor + ' (' + way.backend + ')':<19} {s.study.title}")
        for reason in way.reasons:  # why it trains alone, each naming what would let it group
            print(f"{'':<6}alone: {reason}")
    print(f"\n`suite run` trains {counts.get('grouped', 0)} of these grouped on JAX and {counts.get('alone', 0)} alone "
          "(one trial at a time), each on the path measured faster for it (suite/running/executor.py); "
          "--executor grouped|alone overrides it")
    return 0


def cmd_scorecard(args) -> int:
    from suite.analyze import scorecard
    from suite.workspace import Workspace

    ws = Workspace.current()
    results = ws.results
    project = {p.stem for p in ws.studies.glob("*.yaml")} or None  # the studies in studies/, not a user's others
    print(f"scorecard: {scorecard.build(results, project)}")
    if args.since:
        from suite.analyze import changes

        print("\n".join(changes.since(results, args.since)))
    return 0


def cmd_ui(args) -> int:
    from suite.workspace import Workspace

    uri = Workspace.current().tracking_uri()
    if not uri.startswith("sqlite:"):
        print(f"the tracking server {uri} serves its own UI: open it in a browser")
        return 0
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(args.port)]
    # workflowType: MLflow 3 opens on its GenAI pages unless asked for the runs-and-charts view
    print(f"MLflow UI on http://127.0.0.1:{args.port}/#/experiments?workflowType=machine_learning (Ctrl-C stops it)",
          file=sys.stderr)
    os.execv(sys.executable, command)
    return 0  # not reached


TRAINING = {"run", "confirm", "worker", "replicate"}  # commands that check for stop requests as they train (suite.ground.stopping)
COMMANDS = {"init": cmd_init, "power": cmd_power, "stop-rule": cmd_stop_rule, "run": cmd_run, "confirm": cmd_run, "worker": cmd_worker, "bench": cmd_bench, "report": cmd_report, "validate": cmd_validate, "list": cmd_list, "replicate": cmd_replicate, "scorecard": cmd_scorecard, "ui": cmd_ui}
