"""The sweep: candidates that cover the space, and a boundary check that widens it (``tune.algorithm: sweep``;
the space's geometry, its ladders, points and edges, is ``suite.study.space``).

The tuning playbook's first question of a search is "is the best point on the boundary of the
space? then widen it". A sweep asks it itself:

- **One setting**: an evenly spaced ladder (a log range a third of a decade apart unless its
  ``step`` says otherwise; a linear range by its step; an int range every integer; a list as
  written), every rung tried.
- **Two or more**: ``trials - extensions`` quasi-random points (a scrambled Halton sequence, log
  scale for a log range), so the points fill the box evenly instead of clumping as random ones do.
  Points within ``NEAR`` of one already drawn (relatively, in every numeric setting, and equal in the
  others) are skipped.
- **The boundary check**: when every candidate has ended and the best one's value of a numeric
  setting is the smallest (largest) value tried, one more candidate moves that setting one step out,
  the rest of the best point kept, unless the step would cross the setting's hard limit
  (``tune.limits``; without one, the range as declared is the limit) or the search has spent
  ``trials`` candidates. So a search's best is inside what it tried, or on a declared hard limit,
  or its budget was spent: ``edges`` says which, per setting, and the report prints it.

The plan is a pure function of the trials already scored, so a resumed search (keras-tuner saves
its trials) asks for exactly the candidates the first run would have.
"""

from __future__ import annotations

import numpy as np

from suite.study.space import edges, halton, ladder, near, numeric, step_out


def initial(space: dict, trials: int, extensions: int, seed: int) -> list[dict]:
    """The candidates a sweep starts with: a ladder for one setting, quasi-random points for more."""
    if len(space) == 1:
        (path, entry), = space.items()
        return [{path: v} for v in ladder(entry)]
    return halton(space, max(trials - extensions, 1), seed)


def why(tune, values: dict, seed: int) -> str:
    """What put a candidate in a sweep: its first plan ("ladder" or "quasi-random"), or the boundary check."""
    from suite.search.oracle import canonical

    if any(canonical(values) == canonical(v) for v in initial(tune.space, tune.trials, tune.extensions, seed)):
        return "ladder" if len(tune.space) == 1 else "quasi-random"
    return "boundary check: one step beyond the best"


def next_candidate(space: dict, limits: dict, tried: list[dict], scores: list[float], direction: str,
                   trials: int) -> dict | None:
    """The boundary check's next candidate once every one tried has a score; None when the best is inside,
    on a hard limit, or the ``trials`` are spent."""
    if len(tried) >= trials or not tried:
        return None
    sign = 1 if direction == "max" else -1
    best = tried[int(np.argmax([sign * s for s in scores]))]
    for edge in edges(space, limits, tried, best):
        if edge.where == "inside" or edge.why != "budget":
            continue
        side = -1 if edge.where == "low" else 1
        candidate = {**best, edge.path: step_out(space[edge.path], best[edge.path], side)}
        if not any(near(candidate, t) for t in tried):
            return candidate
    return None


def oracle(tune, objective, direction: str, seed: int):
    """The sweep's keras-tuner Oracle for a ``Tune`` (its space, limits, trials and extensions)."""
    import keras_tuner
    from keras_tuner.engine.trial import TrialStatus

    from suite.search.oracle import canonical

    space, limits = tune.space, dict(tune.limits)
    plan = initial(space, tune.trials, tune.extensions, seed)
    hp = keras_tuner.HyperParameters()
    for path, entry in space.items():  # the values a trial may hold: out to the hard limits
        if isinstance(entry, list):
            hp.Choice(path, entry, ordered=numeric(entry))
        else:
            low, high = limits.get(path, entry.bounds)
            (hp.Int if entry.kind == "int" else hp.Float)(path, low, high)

    class _Sweep(keras_tuner.Oracle):
        def populate_space(self, trial_id):
            trials = list(self.trials.values())
            started = {canonical(t.hyperparameters.values) for t in trials}
            for values in plan:
                if canonical(values) not in started:
                    return {"status": TrialStatus.RUNNING, "values": dict(values)}
            if any(t.status in (TrialStatus.RUNNING, TrialStatus.IDLE) for t in trials):
                return {"status": TrialStatus.IDLE, "values": None}
            scored = [t for t in trials if t.status == TrialStatus.COMPLETED and t.score is not None]
            candidate = next_candidate(space, limits, [t.hyperparameters.values for t in scored],
                                       [t.score for t in scored], direction, tune.trials)
            if candidate is None:
                return {"status": TrialStatus.STOPPED, "values": None}
            return {"status": TrialStatus.RUNNING, "values": candidate}

    return _Sweep(objective=objective, max_trials=tune.trials, hyperparameters=hp, allow_new_entries=False,
                  tune_new_entries=False)
