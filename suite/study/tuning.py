"""The tune: block: nuisance settings re-tuned per cell, their search space and budget."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, model_validator
from pydantic_core import PydanticCustomError

from suite.ground.fields import Locked, Number, PositiveFloat, PositiveInt, Seed, _int


class Range(Locked):
    """A numeric range of a search space: exactly one of log, linear or int, each [low, high]."""

    log: list[PositiveFloat] | None = None  # sampled uniformly in log space
    linear: list[Number] | None = None
    int: list[_int(-(10**9), 10**9, "must be an integer")] | None = None
    step: PositiveFloat | None = None  # a grid search's spacing (factor for log, increment otherwise); others sample all

    @model_validator(mode="after")
    def _one_range(self):
        given = [k for k in ("log", "linear", "int") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError("value", "needs exactly one of log, linear or int: [low, high]")
        low_high = getattr(self, given[0])
        if len(low_high) != 2 or not low_high[0] < low_high[1]:
            raise PydanticCustomError("value", "a range is [low, high] with low < high")
        if self.log is not None and self.step is not None and self.step <= 1:
            raise PydanticCustomError("value", "a log range's step is a factor, and must be > 1")
        if self.int is not None and self.step is not None and self.step != int(self.step):
            raise PydanticCustomError("value", "an int range's step must be a whole number")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("log", "linear", "int") if getattr(self, k) is not None)

    @property
    def bounds(self) -> list:
        return getattr(self, self.kind)


def _choices(v):
    if isinstance(v, list):
        if not v:
            raise PydanticCustomError("value", "must list at least one choice")
        kinds = {bool if isinstance(x, bool) else (int, float) if isinstance(x, (int, float)) else type(x) for x in v}
        if len(kinds) != 1 or kinds.pop() not in (bool, (int, float), str):
            raise PydanticCustomError("value", "choices must be all numbers, all strings or all booleans")
        if len(set(map(repr, v))) != len(v):
            raise PydanticCustomError("value", "must not repeat a choice")
        if any(isinstance(x, float) for x in v) and not all(isinstance(x, bool) for x in v):
            v = [float(x) for x in v]  # keras-tuner's Choice wants one type
        return v
    return v


Space = Annotated[list | Range, BeforeValidator(_choices)]


def _pair(v):
    if not isinstance(v, list) or len(v) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v) \
            or not v[0] < v[1]:
        raise PydanticCustomError("value", "a hard limit is [low, high], two numbers with low < high")
    return v
ALGORITHMS = ("sweep", "random", "bayesian", "hyperband", "grid", "none")


class Stop(Locked):
    """A rule that stops a losing search candidate early (``suite.search.losers``), declared before the search runs.
    ``median``: from epoch ``after`` on, a candidate whose best objective so far is worse than the median of the
    ``earlier`` (at least) candidates before it, at the same epoch, stops; it is never the current best.
    ``suite stop-rule STUDY`` replays it on recorded searches first: whether it would have chosen otherwise."""

    rule: Literal["median"] = "median"
    after: _int(1, 10**6, "must be an integer from 1 on") = 10
    earlier: _int(1, 1000, "must be an integer from 1 to 1000") = 2


class Tune(Locked):
    """Nuisance settings re-tuned for every grid cell by a keras-tuner search, on the validation split.

    The budget is ``trials`` x ``train.epochs`` epochs per cell (times ``repeats``), whatever the
    algorithm, so no cell gets more search than another. ``none`` skips the search: the cell runs as
    written. One training run is a noisy score: with ``repeats: k`` each trial trains k times on seeds
    of its own and scores their mean, so a single lucky (or diverging) seed does not pick the setting.
    """

    algorithm: Literal[ALGORITHMS] = "random"
    trials: PositiveInt = 10
    seed: Seed = 0  # the search's own seed (sampling, and the training seed of its trials)
    repeats: _int(1, 100, "must be an integer from 1 to 100") = 1  # training runs per search trial (own seeds), scored by their mean
    objective: Literal["val_accuracy", "val_loss", "val_r2"] = "val_accuracy"  # best value over epochs
    space: dict[str, Space] = {}  # at least one entry, unless a hyper-model family brings its own (checked per cell)
    # sweep: each numeric setting's hard limits [low, high], beyond which the boundary check never steps
    # (a setting without one: its range as declared is its limit); and how many of the trials a sweep of
    # two or more settings keeps for the boundary check (the rest are quasi-random points)
    limits: dict[str, Annotated[list[Number], BeforeValidator(_pair)]] = {}
    extensions: _int(0, 100, "must be an integer from 0 to 100") = 2
    # cell: one search per cell, its choice rerun by every seed (the interval covers training noise only);
    # seed: each seed of the study gets its own search, on its own search seed, so the interval of a
    # verdict covers the luck of tuning too (the replicate is the whole procedure, search included);
    # block: the study's seeds in ``blocks`` blocks (in order, as even as they divide), a search each
    per: Literal["cell", "seed", "block"] = "cell"
    blocks: _int(2, 1000, "must be an integer from 2 to 1000") = 3
    stop: Stop | None = None  # stop losing candidates early; None: every candidate trains to its own end
    # search candidates that may fail (a build that refuses some corner of the space) before a run exits non-zero
    tolerate: _int(0, 100000, "must be an integer from 0 to 100000") = 0

    @model_validator(mode="after")
    def _sweep(self):
        for path, (low, high) in self.limits.items():
            entry = self.space.get(path)
            if entry is None and self.space:
                raise PydanticCustomError("value", f"limits.{path}: not in tune.space")
            if isinstance(entry, list):
                raise PydanticCustomError("value", f"limits.{path}: a list of choices has no limits to extend to")
            if entry is not None and not low <= entry.bounds[0] <= entry.bounds[1] <= high:
                raise PydanticCustomError("value", f"limits.{path}: [{low:g}, {high:g}] must contain the range {entry.bounds}")
        if self.limits and self.algorithm not in ("sweep", "none"):
            raise PydanticCustomError("value", "limits: only a sweep extends its space (algorithm: sweep)")
        if self.stop is not None and self.algorithm == "hyperband":
            raise PydanticCustomError("value", "stop: Hyperband stops losing candidates by its own rounds")
        if self.stop is not None and self.repeats > 1:
            raise PydanticCustomError("value", "stop: the rule judges one curve per candidate; it needs repeats: 1")
        if self.algorithm == "sweep" and len(self.space) == 1:
            from suite.study.space import ladder

            (path, entry), = self.space.items()
            try:
                rungs = len(ladder(entry))
            except ValueError as e:
                raise PydanticCustomError("value", f"space.{path}: {e}") from None
            if rungs > self.trials:
                raise PydanticCustomError("value", f"trials: a sweep of {path} tries its {rungs} rungs; "
                                          f"trials must be at least {rungs} (more leaves room to extend)")
        return self

    def searcher(self, seed: int, seeds: list[int]) -> int | None:
        """Which search a study seed trains with: ``None`` for the cell's one search (``per: cell``), else the
        study seed that search is named for and seeded by (the seed itself, or the first seed of its block)."""
        if self.per == "cell":
            return None
        if self.per == "seed":
            return seed
        return next(block[0] for block in self.seed_blocks(seeds) if seed in block)

    def searches(self, seeds: list[int]) -> list[int | None]:
        """The searches a cell runs, by the study seed each is named for (``searcher``)."""
        return list(dict.fromkeys(self.searcher(s, seeds) for s in seeds))

    def seed_blocks(self, seeds: list[int]) -> list[list[int]]:
        """The study's seeds in ``blocks`` consecutive blocks, as even as they divide (fewer seeds: one each)."""
        count = min(self.blocks, len(seeds))
        size, extra = divmod(len(seeds), count)
        out, at = [], 0
        for i in range(count):
            out.append(list(seeds[at:at + size + (i < extra)]))
            at += size + (i < extra)
        return out

    def candidate_epochs(self, epochs: int) -> int:
        """The budget the oracle enforces, in candidate-epochs: ``trials`` x ``epochs`` (a Hyperband
        candidate costs the epochs it asks for), whatever the algorithm."""
        return self.trials * epochs

    def budget(self, epochs: int) -> int:
        """The epochs one cell's search trains: every candidate-epoch trains ``repeats`` times."""
        return self.candidate_epochs(epochs) * self.repeats


TUNE_AXES = ("algorithm", "trials", "seed", "repeats")  # the parts of tune a grid may vary

