"""Which candidates of a search train together, as lanes of one group beside the seeds they serve (``suite.train.groups``).

A lane differs from its companions only by numbers its group holds per lane: its seed, its learning rate, and the
epsilon of an optimizer that keeps it in a variable (``optimizers.VARIABLE_EPSILON``). So the candidates a search
fixes before it scores any (its first plan) group:

- a sweep or a grid over the learning rate alone: every rate of its ladder or grid;
- a sweep over the learning rate and epsilon, for such an optimizer: its quasi-random points.

Candidates decided from scores (a sweep's boundary check, a random, Bayesian or Hyperband search) train alone.
Pure and light (``suite list`` asks it too): no Keras, no keras-tuner.
"""

from __future__ import annotations

from suite.search.sweep import initial
from suite.study.space import grid_values
from suite.train.optimizers import VARIABLE_EPSILON

RATE, EPSILON = "train.learning_rate", "train.epsilon"


def first_candidates(tune, optimizer: str, seed: int) -> list[dict] | None:
    """The values of the candidates that train as one group, in search order (``seed``: the oracle's, which draws a
    sweep's points); None where none do."""
    if tune is None:
        return None
    paths = sorted(tune.space)
    if tune.algorithm == "sweep" and (paths == [RATE] or (paths == [EPSILON, RATE] and optimizer in VARIABLE_EPSILON)):
        return initial(tune.space, tune.trials, tune.extensions, seed)  # the sweep's own first plan
    if tune.algorithm == "grid" and paths == [RATE]:  # a grid search's budget may stop before its last point
        return [{RATE: r} for r in grid_values(tune.space[RATE], f"tune.space.{RATE}")[: tune.trials]]
    return None


def groups(tune, optimizer: str) -> bool:
    """Whether a search's first candidates train as one group (``first_candidates``), whatever its seed."""
    return first_candidates(tune, optimizer, 1) is not None
