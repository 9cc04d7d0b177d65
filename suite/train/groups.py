"""Which trials train together (``suite run --grouped``, JAX only): the seeds of each cell.

The runner declares the plan before the first trial (``Plan.of``, kept in the run's ``Kept``);
keras-tuner still hands out the trials one by one, and the first trial of a cell to be asked for
trains its whole group
(``suite.train.grouped``), the others then take their result. A group always has the width of its
cell's seeds, so a trial's numbers are the same whether its companions train beside it or were
recorded before (a resumed study trains only what is missing, in a group of the same width).

A trial that a group cannot train as the suite would train it alone (an ensemble, a learning-rate
schedule, pretraining, class weights, diagnostics probes, a search trial) is left to the usual path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Trained:
    """One trial's share of its group: its outcome, its share of each epoch's seconds, and its group."""

    outcome: object  # grouped.Outcome
    epoch_seconds: list[float]  # the group's epoch seconds divided by the trials training that epoch
    group: str  # which group: its cell and seeds
    width: int
    group_seconds: float  # the whole group's training seconds


def _key(settings) -> str:
    return settings.model_dump_json()


@dataclass
class Plan:
    """Which seeds of which cells train together, and the results of groups that trained before their
    other trials were asked for. A run's plan lives in its ``Kept`` (``suite.train.kept``)."""

    seeds: dict[str, list[int]] = field(default_factory=dict)  # a cell's settings -> the seeds that train together
    done: dict[tuple[str, int], Trained] = field(default_factory=dict)  # results waiting for their trial

    @classmethod
    def of(cls, resolved) -> Plan:
        """Every cell's seeds train together (the compared trials; searches train alone)."""
        plan = cls()
        for cell in resolved.cells:
            plan.cell(cell.settings, list(resolved.study.seeds))
        return plan

    def cell(self, settings, seeds: list[int]) -> None:
        """One cell's seeds train together (``suite replicate`` of a trial recorded in a group: same width, same numbers)."""
        self.seeds[_key(settings)] = list(seeds)

    def applies(self, settings, diagnostics=(), evaluate: bool = True) -> bool:
        """Whether this trial trains in a group: planned, and nothing a group would train differently."""
        if _key(settings) not in self.seeds or not evaluate or diagnostics:
            return False
        t, m, d = settings.train, settings.model, settings.data
        return (m.members == 1 and m.resample == "none" and t.schedule == "constant" and t.transfer == "scratch"
                and d.rebalance != "class_weight" and t.clip_norm is None)

    def trained(self, settings, splits, seed: int) -> Trained:
        """This trial's result, training its group first when it is the first of them to be asked for."""
        key = _key(settings)
        if (key, seed) not in self.done:
            self._train(settings, splits, seed, key)
        return self.done.pop((key, seed))

    def _train(self, settings, splits, seed: int, key: str) -> None:
        from suite.train import models, optimizers
        from suite.train.grouped import Group, Member

        seeds = self.seeds[key]
        waiting = [s for s in seeds if s == seed or (key, s) not in self.done]
        t = settings.train

        def build():
            return models.build(settings.model, splits.input_shape, splits.classes, settings.data.augment)

        def make_optimizer(lr):
            return optimizers.optimizer(t.model_copy(update={"learning_rate": lr}), 1)

        clock: list[float] = []
        start = time.perf_counter()
        outcomes = Group(build, make_optimizer, len(seeds)).fit(
            [Member(s, float(t.learning_rate)) for s in waiting], splits, t.batch_size, t.epochs,
            patience=t.patience, monitor=t.monitor, clock=clock)
        total = time.perf_counter() - start
        running = [sum(len(o.history["loss"]) > e for o in outcomes) for e in range(len(clock))]
        group = f"cell seeds {seeds}, trained together: {waiting}"
        for s, outcome in zip(waiting, outcomes):
            share = [c / max(r, 1) for c, r in zip(clock, running)][: len(outcome.history["loss"])]
            self.done[(key, s)] = Trained(outcome, share, group, len(seeds), sum(clock) if clock else total)
