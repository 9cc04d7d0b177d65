"""The plan oracles: decide which trial runs next, and nothing else.

keras-tuner's own GridSearch cannot resume after a crash (keras-tuner #1055),
so a PlanOracle enumerates a fixed list of values itself, in order: the
study's cells x seeds (GridOracle), or the points of a grid search over a
tune: space. Its state is exactly the trials keras-tuner already saves, so a
restarted search skips every finished trial and reruns an interrupted one.
"""

from __future__ import annotations

import json

import keras_tuner
from keras_tuner.engine.trial import TrialStatus

from suite.search import losers
from suite.study import Cell, ResolvedStudy


def trial_values(cell: Cell, seed: int) -> dict:
    """A trial's hyperparameter values: each grid axis as JSON text, and the seed."""
    return {**{axis: json.dumps(v) for axis, v in cell.values.items()}, "seed": seed}


class PlanOracle(keras_tuner.Oracle):
    """Runs a fixed list of hyperparameter values in order, each once."""

    def __init__(self, space: keras_tuner.HyperParameters, plan: list[dict], objective, max_trials=None, max_consecutive_failed_trials=3):
        super().__init__(
            objective=objective,
            max_trials=max_trials or len(plan),
            hyperparameters=space,
            allow_new_entries=False,
            tune_new_entries=False,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        self.plan = plan
        self._keys: list[str] | None = None  # each plan entry's canonical text, made once
        self._started: set[str] | None = None  # the entries handed out, in this process or a reloaded search's
        self._next = 0  # every entry before it is started: the plan is handed out in order
        self._skipped: set[str] = set()  # entries the record already holds: never handed out

    def ended(self) -> set[str]:
        """The plan entries that need no more work (canonical texts): COMPLETED or FAILED in this search's state, or
        recorded before it began (``skip``)."""
        done = {canonical(t.hyperparameters.values) for t in self.trials.values() if t.status in ("COMPLETED", "FAILED")}
        return done | self._skipped

    def skip(self, done: list[dict]) -> None:
        """Entries the record (MLflow) already holds finished: the search never hands them out, so resuming a
        study of n recorded trials costs nothing per trial (each was a keras-tuner trial that replayed its record:
        273 s for 10,000)."""
        self._skipped |= {canonical(values) for values in done}

    def keys(self) -> list[str]:
        """Each plan entry's canonical text, made once."""
        if self._keys is None:
            self._keys = [canonical(values) for values in self.plan]
        return self._keys

    def populate_space(self, trial_id):
        # The first plan entry not yet started. The trials this oracle holds (a reloaded search's too) are read
        # once, then each entry handed out is added: reading them all for every trial made a resumed study of n
        # trials cost O(n^2) (690 s to skip 10,000 recorded trials), and comparing dicts to a list O(n^3).
        keys = self.keys()
        if self._started is None:
            self._started = {canonical(t.hyperparameters.values) for t in self.trials.values()} | self._skipped
        while self._next < len(self.plan) and keys[self._next] in self._started:
            self._next += 1
        if self._next == len(self.plan):
            return {"status": TrialStatus.STOPPED, "values": None}
        self._started.add(keys[self._next])
        return {"status": TrialStatus.RUNNING, "values": dict(self.plan[self._next])}


canonical = losers.key  # a trial's values as one comparable text


class GridOracle(PlanOracle):
    """The study's own grid: every cell with every seed."""

    def __init__(self, resolved: ResolvedStudy, objective: keras_tuner.Objective, max_consecutive_failed_trials=3):
        space = keras_tuner.HyperParameters()
        for axis, values in resolved.study.grid.items():
            space.Choice(axis, [json.dumps(v) for v in values], ordered=False)
        space.Choice("seed", [s for seeds in resolved.study.rounds_of_seeds() for s in seeds], ordered=False)  # every round's
        plan = [trial_values(cell, seed) for cell, seed in resolved.trials]
        super().__init__(space, plan, objective, max_consecutive_failed_trials=max_consecutive_failed_trials)
        self._cells = {json.dumps(trial_values(cell, 0), sort_keys=True): cell for cell in resolved.cells}

    def decode(self, values: dict) -> tuple[Cell, int]:
        """The cell and seed a trial's values stand for."""
        seed = int(values["seed"])
        return self._cells[json.dumps({**values, "seed": 0}, sort_keys=True)], seed
