"""Where a study's wall time goes, and how it compares with a bare model.fit loop."""

from __future__ import annotations


def breakdown(sections: dict[str, float], wall_s: float, trials: int, bare_wall_s: float, bare_fit_s: float) -> dict:
    """The figures of one suite run against its bare baseline, from its timing sections (seconds).

    Fixed costs are split into those paid once per study (start-up and imports, set-up, data,
    report) and those paid once per trial (model build and compile, measurement, MLflow writes,
    keras-tuner's bookkeeping); "training" is the time inside ``model.fit``.
    """
    s = lambda name: sections.get(name, 0.0)  # noqa: E731
    in_trial = s("trial.data") + s("trial.build") + s("trial.fit") + s("trial.measure")
    tracking = s("tracking.start_trial") + s("tracking.finish_trial")
    per_study = {
        "startup_s": wall_s - s("command"),
        "setup_s": s("study.setup"),
        "data_s": s("study.data"),
        "report_s": s("study.report"),
    }
    per_trial = {
        "build_s": s("trial.build") / trials,
        "measure_s": s("trial.measure") / trials,
        "tracking_s": tracking / trials,
        "tuner_s": (s("study.trials") - s("tuner.run_trial")) / trials,
        "other_s": (s("tuner.run_trial") - in_trial - tracking) / trials,
    }
    return {
        "trials": trials,
        "suite_wall_s": wall_s,
        "bare_wall_s": bare_wall_s,
        "ratio": wall_s / bare_wall_s,
        "overhead_share": (wall_s - bare_wall_s) / wall_s,
        "training_s": s("trial.fit"),
        "training_share": s("trial.fit") / wall_s,
        "bare_training_share": bare_fit_s / bare_wall_s,
        "per_study": per_study,
        "per_trial": per_trial,
    }
