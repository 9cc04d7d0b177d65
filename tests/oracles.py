"""Driving a real keras-tuner oracle by hand, as a tuner would: the trials it creates, each scored and ended."""

from suite.search import nuisance


def drive(oracle, score, directory) -> list[dict]:
    """Ask ``oracle`` for trials until it stops, scoring each with ``score(values)``; their values in order."""
    oracle._set_project_dir(str(directory), "driven")
    created = []
    while True:
        trial = oracle.create_trial("worker")
        if trial.status != "RUNNING":
            break
        created.append(trial.hyperparameters.values)
        oracle.update_trial(trial.trial_id, {nuisance.SCORE: score(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return created
