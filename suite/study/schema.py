"""A study: the whole file's schema, and what it resolves to (cells of the grid, seeds, hashes)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from suite.ground.fields import Fraction, Locked, Seed, Text, _int
from suite.kinds import Expect
from suite.study.expectations import Reference, Target
from suite.study.settings import Settings
from suite.study.tuning import Tune

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _name(v):
    if not isinstance(v, str) or not NAME.match(v):
        raise PydanticCustomError("value", "must be lowercase letters, digits, '_' or '-' (at most 64)")
    return v


def _seed_list(seeds):
    if not seeds:
        raise PydanticCustomError("value", "must list at least one seed")
    if len(set(seeds)) != len(seeds):
        raise PydanticCustomError("value", "must not repeat a seed")
    return seeds


class Design(Locked):
    """What the comparison holds still and why. The scientific settings are the grid's axes and the
    nuisance ones the ``tune.space``; the fixed ones that could matter are named here with a reason."""

    fixed: dict[str, Text] = {}  # dotted setting -> why it is held at the study's value
    note: Text | None = None  # anything else the reader should know about the design


class Rounds(Locked):
    """Seeds in rounds, where a verdict is still open (``suite.analyze.sequential``): the study's seeds are the
    first round; after each round every verdict is judged at a group-sequential boundary, and the next round (as
    many new seeds again, ``Study.rounds_of_seeds``) trains only the cells an open verdict compares, until every
    verdict has stopped or ``looks`` rounds have run. ``spending`` says how the study's alpha is spent over the
    looks (Lan & DeMets 1983): ``obrien_fleming`` spends almost nothing early, so the last look is tested
    near alpha; ``pocock`` spends it evenly. Declared before the data, in the study file or its profile."""

    looks: _int(1, 10, "must be an integer from 1 to 10") = 1
    spending: Literal["obrien_fleming", "pocock"] = "obrien_fleming"


class Study(Settings):
    name: Annotated[str, BeforeValidator(_name)]
    title: Text
    claim: Text
    sources: list[Text] = []
    grid: dict[str, list[Any]] = {}
    cases: dict[Annotated[str, BeforeValidator(_name)], dict[str, Any]] = {}  # named bundles, one grid axis "case"
    seeds: Annotated[list[Seed], AfterValidator(_seed_list)] = [0]
    target: Target = Field(default_factory=lambda: Target.model_validate({"metric": "val_accuracy"}))  # no value: no time to target
    tune: Tune | None = None  # re-tune these nuisance settings for every cell (or, without a grid, just search)
    design: Design = Design()
    diagnostics: list[Literal["activations", "gradients"]] = []  # per-layer probes: off unless asked (they cost time)
    expect: list[Expect] = []
    reference: list[Reference] = []  # published values, shown beside the measurements
    alpha: Fraction = 0.05  # significance level of every verdict, after Holm's correction
    rounds: Rounds | None = None  # seeds added in rounds where a verdict is still open; None: one round, one look
    profiles: dict[Annotated[str, BeforeValidator(_name)], dict[str, Any]] = {}

    def settings(self) -> Settings:
        return Settings(data=self.data, model=self.model, train=self.train, pretrain=self.pretrain)

    @property
    def looks(self) -> int:
        return self.rounds.looks if self.rounds is not None else 1

    @property
    def rounds_said(self) -> str:
        """How the seeds may grow, in words ("" without rounds)."""
        return (f", then up to {self.looks - 1} more rounds of {len(self.seeds)} seeds for the cells an open verdict "
                f"compares ({self.looks} looks, {self.rounds.spending} spending)") if self.looks > 1 else ""

    def rounds_of_seeds(self) -> list[list[int]]:
        """Each round's seeds: the study's own, then as many again per further look, shifted past them
        (seeds [0, 1, 2]: round 2 is [3, 4, 5]; a confirming run's moved seeds shift the same way)."""
        stride = max(self.seeds) - min(self.seeds) + 1
        return [[s + r * stride for s in self.seeds] for r in range(self.looks)]

    def round_seeds(self, seed: int) -> list[int]:
        """The seeds of the round that ``seed`` belongs to: a block of seeds (``tune.per: block``) never spans rounds."""
        return next((r for r in self.rounds_of_seeds() if seed in r), list(self.seeds))

    @model_validator(mode="after")
    def _rounds_alpha(self):
        if self.looks > 1 and self.alpha > 0.25:  # sequential.LOUDEST: a look's level grows with alpha up to here
            raise PydanticCustomError("value", "alpha: at most 0.25 where rounds: has more than one look")
        return self

    @model_validator(mode="before")
    @classmethod
    def _regression_defaults(cls, raw):
        """A regression's target and search objective, left out, are validation loss (an accuracy is not measured),
        and its loss, left out, the mean squared error (written out, so the report and the record name it)."""
        data = raw.get("data") if isinstance(raw, dict) else None
        if not isinstance(data, dict) or data.get("task") != "regression":
            return raw
        raw = {**raw}
        raw.setdefault("target", {"metric": "val_loss"})
        if isinstance(raw.get("train", {}), dict):
            raw["train"] = {"loss": "mse", **raw.get("train", {})}
        if isinstance(raw.get("tune"), dict):
            raw["tune"] = {"objective": "val_loss", **raw["tune"]}
        return raw

    @model_validator(mode="after")
    def _regression_measures(self):
        if self.data.task != "regression":
            if self.target.metric.endswith("r2"):
                raise PydanticCustomError("value", f"target.metric: {self.target.metric} scores a regression (data.task: "
                                                   "regression); a classification's target is an accuracy or a loss")
            if self.tune is not None and self.tune.objective == "val_r2":
                raise PydanticCustomError("value", "tune.objective: val_r2 scores a regression (data.task: regression); "
                                                   "a classification's objective is val_accuracy or val_loss")
            return self
        if "accuracy" in self.target.metric:
            raise PydanticCustomError("value", f"target.metric: {self.target.metric} is not measured in a regression; "
                                               "use val_loss, loss, val_r2 or r2")
        if self.tune is not None and self.tune.objective == "val_accuracy":
            raise PydanticCustomError("value", "tune.objective: val_accuracy is not measured in a regression; use val_loss or val_r2")
        if self.diagnostics:
            raise PydanticCustomError("value", "diagnostics: the probes measure a classifier's cross-entropy gradients; "
                                               "not with data.task: regression")
        return self



@dataclass(frozen=True)
class Cell:
    index: int
    values: dict[str, Any]  # grid axis -> value
    settings: Settings
    tune: Tune | None = None  # this cell's search (a grid may vary tune.algorithm, tune.trials, tune.seed)
    tuned: dict[str, Any] | None = None  # after its search: the nuisance values chosen (and in settings)
    # tune.per: seed: each seed's own search's settings and chosen values (then ``settings`` is as written)
    by_seed: dict[int, tuple[Settings, dict[str, Any]]] | None = None

    def for_seed(self, seed: int) -> tuple[Settings, dict[str, Any] | None]:
        """The settings a trial of this cell with ``seed`` trains with, and the nuisance values chosen for it."""
        if self.by_seed:
            return self.by_seed[seed]
        return self.settings, self.tuned

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items()) or "base"


@dataclass(frozen=True)
class ResolvedStudy:
    """A validated study with its profile applied and its grid expanded."""

    study: Study
    profile: str | None
    path: Path
    file_sha: str  # the file's bytes
    config_sha: str  # the resolved settings: same file + same profile -> same hash
    cells: tuple[Cell, ...]
    confirm: bool = False  # the confirming run: the same study on disjoint seeds (suite.study.profiles.confirming)
    grown: tuple[frozenset[int], ...] = ()  # the cells (indices) that each later round trains, as the looks chose

    def rounds_of(self, cell: Cell) -> list[list[int]]:
        """The rounds of seeds this cell trains, so far: the first, and each later one whose look kept it open."""
        rounds = self.study.rounds_of_seeds()
        return [rounds[0]] + [rounds[r + 1] for r, cells in enumerate(self.grown) if cell.index in cells]

    def seeds_of(self, cell: Cell) -> list[int]:
        return [s for seeds in self.rounds_of(cell) for s in seeds]

    def seeds_in_round(self, cell: Cell, round: int) -> list[int]:
        """This cell's seeds of round ``round`` (0: the first); none where the looks left it out of that round."""
        seeds = self.study.rounds_of_seeds()[round]
        return seeds if seeds in self.rounds_of(cell) else []

    def searcher(self, cell: Cell, seed: int) -> int | None:
        """The search a trial trained with (``Tune.searcher``, its block within its own round); None for the cell's one."""
        return None if cell.tune is None else cell.tune.searcher(seed, self.study.round_seeds(seed))

    def searches(self, cell: Cell, seeds: list[int] | None = None) -> list[int | None]:
        """The searches a cell runs (for ``seeds``, or every seed it trains), by the seed each is named for."""
        return list(dict.fromkeys(self.searcher(cell, s) for s in (self.seeds_of(cell) if seeds is None else seeds)))

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def profile_name(self) -> str:
        """The profile as recorded and shown: "base" when the file runs as written; "quick-confirm" for
        the confirming run of quick."""
        return (self.profile or "base") + ("-confirm" if self.confirm else "")

    @property
    def flags(self) -> str:
        """The command-line flags that resolve this study again (`suite run X{flags}`)."""
        return (f" --profile {self.profile}" if self.profile else "") + (" --confirm" if self.confirm else "")

    @property
    def handle(self) -> str:
        """How a command names this study: its name when it lives in a studies/ folder, else its path."""
        return self.name if self.path.parent.name == "studies" else str(self.path)

    @property
    def command_args(self) -> str:
        """The study and every flag that resolves it again, plugin files included (`suite run {command_args}`)."""
        from suite.usercode import plugins

        return self.handle + self.flags + "".join(f" --plugin {p.path}" for p in plugins.PLUGINS.loaded)

    @property
    def axes(self) -> list[str]:
        return list(self.study.grid)

    @property
    def trials(self) -> list[tuple[Cell, int]]:
        return [(cell, seed) for cell in self.cells for seed in self.seeds_of(cell)]

