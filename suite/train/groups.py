"""Which trials train together (``suite run --grouped``, JAX only): the seeds of each cell, and the
first candidates of each search that fixes them before scoring any (``suite.search.lanes``: a sweep's ladder of
rates, or its points of rate and epsilon, on each repeat seed).

The runner declares the plan before the searches (``Plan.search``) and the compared trials
(``Plan.cells``), kept in the run's ``Kept``; keras-tuner still hands out the trials one by one, and the
first trial of a group to be asked for trains the whole group (``suite.train.grouped``), the others
then take their result. A group always has the width it was planned with, so a trial's numbers are
the same whether its companions train beside it or were recorded before (a resumed study trains only
what is missing, in a group of the same width). A sweep's boundary-check candidates, decided after
the ladder, train alone.

A group holds at most as many trials as fit the device (``grouped.capacity``: half its free memory,
at most ``grouped.MOST``); a plan with more members trains them as several groups of one width
(``chunk``), fixed once per plan from the first group's structure and recorded with each trial
(``group_width``), so ``suite replicate`` rebuilds the same groups on any machine.

A trial that a group cannot train as the suite would train it alone (an ensemble, pretraining, a
regression) is left to the usual path. A decaying learning-rate schedule, gradient clipping, class
weights and the diagnostics' probes train in a group (``grouped.Group``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace


@dataclass
class Trained:
    """One trial's share of its group: its outcome, its share of each epoch's seconds, and its group."""

    outcome: object  # grouped.Outcome
    epoch_seconds: list[float]  # the group's epoch seconds divided by the trials training that epoch
    group: str  # which group: its cell and seeds
    width: int
    group_seconds: float  # the whole group's training seconds


def _key(settings, evaluate: bool) -> str:
    """What a group's trials share: their settings but the learning rate and a variable epsilon (a member's own), and
    whether they are compared trials (evaluated) or search trials."""
    own = {"learning_rate": 1.0, **({"epsilon": 1.0} if _variable_epsilon(settings) else {})}
    shared = settings.model_copy(update={"train": settings.train.model_copy(update=own)})
    return f"{shared.model_dump_json()}|{evaluate}"


def _variable_epsilon(settings) -> bool:
    from suite.train.optimizers import VARIABLE_EPSILON

    return settings.train.optimizer in VARIABLE_EPSILON


def _member(settings, seed: int) -> tuple[int, float, float | None]:
    """A member as a plan holds it: its seed, its rate, and its epsilon where the optimizer holds it in a variable."""
    return seed, float(settings.train.learning_rate), float(settings.train.epsilon) if _variable_epsilon(settings) else None


def _values(member: tuple[int, float, float | None]) -> dict:
    """A member's own settings, as a search's candidate names them."""
    _, rate, epsilon = member
    return {"train.learning_rate": rate, **({"train.epsilon": epsilon} if epsilon is not None else {})}


@dataclass
class Plan:
    """Which trials train together (a group's members: seed, learning rate and variable epsilon, under one key), and the results
    of groups that trained before their other trials were asked for. A run's plan lives in its ``Kept``
    (``suite.train.kept``)."""

    members: dict[str, list[tuple]] = field(default_factory=dict)  # a group's key -> its members (``_member``)
    widths: dict[str, int] = field(default_factory=dict)  # a key's most members in one group, once decided
    done: dict[tuple[str, tuple[int, float]], Trained] = field(default_factory=dict)  # results waiting for their trial

    @classmethod
    def of(cls, resolved) -> Plan:
        """Every cell's seeds train together (the compared trials)."""
        plan = cls()
        plan.cells(resolved)
        return plan

    def cells(self, resolved, round: int = 0) -> None:
        """Each cell's seeds of ``round`` (its seeds, without rounds), at its tuned settings, train together (a cell
        with a search per seed: each seed at its own rate, still one group). A round's seeds are a group of their own."""
        for cell in resolved.cells:
            if seeds := resolved.seeds_in_round(cell, round):
                self.cell(cell, seeds)

    def cell(self, cell, seeds, width: int | None = None) -> None:
        """One cell's seeds train together, each at its own tuned settings (seeds whose settings differ by more
        than the rate: apart). ``suite replicate`` plans a recorded group again with it, at its recorded
        ``width``: same groups, same numbers."""
        for seed in seeds:
            settings = cell.for_seed(seed)[0]
            self.add(settings, [_member(settings, seed)], evaluate=True)
            if width is not None:
                self.widths[_key(settings, True)] = int(width)

    def search(self, settings, candidates: list[dict], seeds: list[int]) -> None:
        """A search's first candidates (``lanes.first_candidates``: a ladder of rates, or points of rate and epsilon),
        each trained on its repeat seeds, train together."""
        from suite.study import override

        self.add(settings, [_member(override(settings, values), seed) for values in candidates for seed in seeds],
                 evaluate=False)

    def add(self, settings, members: list[tuple], evaluate: bool) -> None:
        key = _key(settings, evaluate)
        self.members[key] = list(dict.fromkeys([*self.members.get(key, []), *members]))

    def applies(self, settings, evaluate: bool = True) -> bool:
        """Whether this trial trains in a group: planned, and nothing a group would train differently."""
        return _key(settings, evaluate) in self.members and not alone_because(settings)

    def holds(self, settings, seed: int, evaluate: bool) -> bool:
        return _member(settings, seed) in self.members.get(_key(settings, evaluate), [])

    def trained(self, settings, splits, seed: int, evaluate: bool = True, diagnostics: tuple[str, ...] = (),
                stop=None) -> Trained:
        """This trial's result, training its group first when it is the first of them to be asked for (with
        ``diagnostics``, every lane probed as a trial alone is: a study's compared trials all ask for the same; with
        ``stop``, a search's declared rule, every lane judged by it: a search's candidates all ask for the same)."""
        key, member = _key(settings, evaluate), _member(settings, seed)
        if (key, member) not in self.done:
            self._train(settings, splits, member, key, diagnostics, stop)
        return self.done.pop((key, member))

    def _train(self, settings, splits, member: tuple, key: str, diagnostics: tuple[str, ...],
               stop=None) -> None:
        from suite.train import grouped
        from suite.train.grouped import Member

        t = settings.train
        if key not in self.widths:  # decided once for the plan, from the device's free memory now
            probe = compiled_group(settings, splits, 1)
            self.widths[key] = grouped.capacity(probe.model, probe.optimizer, t.batch_size, grouped.free_memory())
        planned, width, part = chunk(self.members[key], self.widths[key], member)
        waiting = [m for m in planned if m == member or (key, m) not in self.done]

        clock: list[float] = []
        start = time.perf_counter()
        outcomes = compiled_group(settings, splits, width, diagnostics).fit(
            [Member(*m) for m in waiting], splits, t.batch_size, t.epochs,
            patience=t.patience, monitor=t.monitor, clock=clock,
            losing=None if stop is None else losing(stop, waiting, member[0]))
        total = time.perf_counter() - start
        running = [sum(len(o.history["loss"]) > e for o in outcomes) for e in range(len(clock))]
        rates = sorted({rate for _, rate, _ in planned})
        epsilons = sorted({e for *_, e in planned if e is not None})
        seeds = list(dict.fromkeys(seed for seed, *_ in planned))
        group = (f"seeds {seeds}" + (f" x rates {[f'{r:.3g}' for r in rates]}" if len(rates) > 1 else "")
                 + (f" x epsilons {[f'{e:.3g}' for e in epsilons]}" if len(epsilons) > 1 else "")
                 + f", trained together: {len(waiting)} of {len(planned)}" + (f" (group {part})" if part else ""))
        for m, outcome in zip(waiting, outcomes):
            share = [c / max(r, 1) for c, r in zip(clock, running)][: len(outcome.history["loss"])]
            self.done[(key, m)] = Trained(outcome, share, group, width, sum(clock) if clock else total)


def losing(stop, members: list[tuple], seed: int):
    """Which lanes of a search group a declared rule (``losers.Stopping``) stops after an epoch, as a function of the
    lanes' histories and which still train. A group's members are the ladders of one or more searches of a cell (a
    search per block of seeds: each its own repeat seed), each ladder in search order: a lane is judged against the
    lanes before it of its own search, as if they had trained one after another, and the lanes of the asking trial's
    search (``seed``) also against that search's earlier candidates the group does not train (another chunk's)."""
    own = stop.without([_values(m) for m in members])
    bare = replace(stop, rivals=[])

    def judge(histories: list[dict], active) -> list[int]:
        so_far = [stop.curve(h) for h in histories]
        return [i for i, (lane_seed, *_) in enumerate(members) if active[i] and (own if lane_seed == seed else bare).losing(
            so_far[i], [so_far[j] for j in range(i) if members[j][0] == lane_seed])]

    return judge


def compiled_group(settings, splits, width: int, diagnostics: tuple[str, ...] = ()):
    """The compiled group (``grouped.Group``) of ``width`` slots for trials with these settings on ``splits``: their
    model, a constant-rate optimizer whose rate a decaying schedule sets step by step, that schedule, and with
    ``diagnostics`` the probes of every lane (``diagnostics.Taps``). The plan's groups and the bench's are built here
    alike."""
    from suite.train import diagnostics as probing
    from suite.train import models, optimizers
    from suite.train.grouped import Group

    t = settings.train

    def build():
        return models.build(settings.model, splits.input_shape, splits.outputs, settings.data.augment)

    def make_optimizer(lr):
        return optimizers.optimizer(t.model_copy(update={"learning_rate": lr, "schedule": "constant"}), 1)

    def taps(model):
        return probing.Taps(model, splits.x_train, splits.y_train, settings.model.activation, diagnostics)

    return Group(build, make_optimizer, width, unit_schedule(t, -(-len(splits.y_train) // t.batch_size)),
                 probe=taps if diagnostics else None)


def unit_schedule(t, steps_per_epoch: int):
    """A decaying ``train.schedule`` as the factor of the rate at each step (its Keras schedule with an initial rate
    of 1), or None for a constant rate."""
    from suite.train import optimizers

    if t.schedule == "constant":
        return None
    return optimizers.schedule(t.model_copy(update={"learning_rate": 1.0}), steps_per_epoch)


def rates(t, steps_per_epoch: int, epochs: int) -> list[float]:
    """The learning rate in force at the end of each epoch, as the alone path records it (``fitting.LearningRate``)."""
    unit = unit_schedule(t, steps_per_epoch)
    if unit is None:
        return [float(t.learning_rate)] * epochs
    import keras

    return [float(t.learning_rate) * float(keras.ops.convert_to_numpy(unit((e + 1) * steps_per_epoch)))
            for e in range(epochs)]


def alone_because(settings) -> list[str]:
    """Why a trial with these settings trains alone even in a grouped run, each reason naming what a group
    would need to carry it (``[]``: it can group). ``suite list`` and the default executor (``suite.running.executor``)
    give these reasons; ``Plan.applies`` keeps such trials out of every group."""
    t, m, d = settings.train, settings.model, settings.data
    reasons = []
    if m.members > 1:
        reasons.append("an ensemble (model.members above 1) trains its members one after another; "
                       "each member as a lane would let it group")
    if m.resample != "none":
        reasons.append("model.resample: bootstrap trains each member on its own rows; a per-lane row weight would let it group")
    if t.transfer != "scratch":
        reasons.append("train.transfer (pretraining, then training) runs two phases; both phases as one group program would let it group")
    if d.task == "regression":
        reasons.append("data.task: regression; the group program trains cross-entropy on logits, and the task's "
                       "loss and score in it (suite.train.tasks) would let it group")
    return reasons


def chunk(members: list, most: int, member) -> tuple[list, int, str]:
    """The group of ``member`` when a plan's ``members`` train in groups of at most ``most``: as few groups as
    that allows, of one width (the last one padded), in the plan's order. Returns that group's members, the
    width and which group it is ("2 of 3"; empty when one group holds them all). From a recorded width the
    same groups follow: ``chunk(members, width, m)`` gives ``width`` again."""
    count = -(-len(members) // max(1, most))
    width = -(-len(members) // count)
    at = members.index(member) // width
    return members[at * width:(at + 1) * width], width, (f"{at + 1} of {count}" if count > 1 else "")
