"""Nuisance search: for one cell, a keras-tuner search over the study's ``tune:`` space.

The scientific settings of a cell (its grid values) stay fixed; the nuisance
settings (learning rate, momentum, ...) are searched on the validation split by
the algorithm the study names, within a budget of ``tune.trials x train.epochs``
epochs, the same for every cell and every algorithm. The best setting found is
then rerun for every seed by the study's own tuner, and those reruns are what a
report compares. Search trials train with their own seed, never one of the
study's seeds, so the reruns are not the very runs that won the selection.

Hyperband's successive rounds retrain a promoted setting from scratch for the
longer round (trials keep no model), and each round is charged its full epochs.
"""

from __future__ import annotations

import dataclasses
import math

import keras_tuner
import numpy as np
from keras_tuner.engine.trial import TrialStatus

from suite.ground.console import Progress
from suite.ground.errors import SuiteError
from suite.record import Tracker
from suite.search import lanes, losers, sweep
from suite.search.oracle import PlanOracle
from suite.search.tuner import RecordedTuner
from suite.study import TARGET_METRICS, Cell, ResolvedStudy, Settings, Tune, override, space
from suite.study.space import grid_plan, grid_values  # noqa: F401  (the searches' own: keras-tuner's grid, the tests)
from suite.train import trial as trials
from suite.train.convergence import first_nonfinite
from suite.train.kept import Kept

SEARCH_SEED = 1_000_003  # search trials train with SEARCH_SEED + tune.seed: apart from every study seed
SCORE = "score"
WORST = {"max": 0.0, "min": 1e3}  # a search trial without a finite value (diverged) scores this: finite, for the GP


# --------------------------------------------------------------------------
# The space and the budget: pure functions
# --------------------------------------------------------------------------


def hyperparameters(space: dict) -> keras_tuner.HyperParameters:
    """The space as keras-tuner sees it. A range's step spaces a grid search only: the sampling
    algorithms draw from the whole range (every integer, for an int range)."""
    hp = keras_tuner.HyperParameters()
    for path, entry in space.items():
        if isinstance(entry, list) and isinstance(entry[0], bool):  # keras-tuner's Choice would turn them into 0 and 1
            hp.Boolean(path) if len(entry) == 2 else hp.Fixed(path, entry[0])
        elif isinstance(entry, list):
            hp.Choice(path, entry, ordered=not isinstance(entry[0], str))
        elif entry.kind == "int":
            hp.Int(path, *entry.bounds)
        else:
            hp.Float(path, *entry.bounds, sampling="log" if entry.kind == "log" else "linear")
    return hp


def cost(values: dict, epochs: int) -> int:
    """Epochs a search trial trains: Hyperband's rounds say theirs, every other trial trains them all."""
    return int(values.get("tuner/epochs", epochs))


def spent(trial_values: list[dict], epochs: int) -> int:
    return sum(cost(v, epochs) for v in trial_values)


def nuisance(values: dict) -> dict:
    """The tuned settings alone, without Hyperband's bookkeeping entries."""
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def apply(settings: Settings, values: dict, epochs: int | None = None) -> Settings:
    """The cell's settings with the tuned values (and, for a Hyperband round, its epochs)."""
    return override(settings, values if epochs is None else {**values, "train.epochs": epochs})


def score(history: dict[str, list[float]], objective: str) -> float:
    """The best finite value of the objective over the epochs before any divergence; WORST when there is none.

    Once the training loss is NaN, what the model scores (e.g. accuracy by predicting one class) is not a result.
    """
    direction = TARGET_METRICS[objective]
    diverged = first_nonfinite(history.get("loss", []))
    values = history.get(objective, [])[: None if diverged is None else diverged - 1]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return WORST[direction]
    return max(values) if direction == "max" else min(values)


# --------------------------------------------------------------------------
# Oracles with the budget
# --------------------------------------------------------------------------


class _Budgeted:
    """Stops creating trials once the epochs of the trials already created reach the budget."""

    budget_epochs: int = 0
    full_epochs: int = 0

    def populate_space(self, trial_id):
        if spent([t.hyperparameters.values for t in self.trials.values()], self.full_epochs) >= self.budget_epochs:
            return {"status": TrialStatus.STOPPED, "values": None}
        return super().populate_space(trial_id)


class RandomOracle(_Budgeted, keras_tuner.oracles.RandomSearchOracle):
    pass


class BayesianOracle(_Budgeted, keras_tuner.oracles.BayesianOptimizationOracle):
    pass


class HyperbandBudgetOracle(_Budgeted, keras_tuner.oracles.HyperbandOracle):
    pass


class GridSpaceOracle(_Budgeted, PlanOracle):
    pass


SEED_STRIDE = 1_000_003
SEED_MODULUS = 2**32 - 2  # numpy's RandomState takes seeds up to 2**32 - 1


def oracle_seed(search_seed: int) -> int:
    """The keras-tuner seed for a search seed.

    keras-tuner draws each value with ``Random(state)`` and then adds 1 to the state, so seeds s
    and s+1 give the same candidates shifted by one: searches with nearby seeds would mostly
    repeat each other. Seeds a stride apart never meet within a search. (It also replaces a
    seed of 0 by a random one, hence the +1.) Every cell with the same ``tune.seed`` draws the
    same candidates, so cells differ by their scientific values, not their luck.

    The Bayesian oracle seeds numpy, which takes seeds below 2**32: the product wraps there, which
    leaves every seed below 4,294 (all but confirming runs' seeds) as it was.
    """
    return 1 + (search_seed * SEED_STRIDE) % SEED_MODULUS


def _seed(tune: Tune) -> int:
    return oracle_seed(tune.seed)


def make_oracle(tune: Tune, epochs: int) -> keras_tuner.Oracle:
    objective = keras_tuner.Objective(SCORE, TARGET_METRICS[tune.objective])
    space = hyperparameters(tune.space)
    if tune.algorithm == "random":
        oracle = RandomOracle(objective, max_trials=tune.trials, hyperparameters=space, seed=_seed(tune))
    elif tune.algorithm == "bayesian":
        # A third of the budget explores at random, then the Gaussian process proposes.
        oracle = BayesianOracle(
            objective, max_trials=tune.trials, num_initial_points=max(2, tune.trials // 3), hyperparameters=space, seed=_seed(tune)
        )
    elif tune.algorithm == "hyperband":
        oracle = HyperbandBudgetOracle(objective, max_epochs=epochs, factor=3, hyperband_iterations=None, hyperparameters=space, seed=_seed(tune))
    elif tune.algorithm == "sweep":
        oracle = sweep.oracle(tune, objective, TARGET_METRICS[tune.objective], _seed(tune))
    elif tune.algorithm == "grid":
        oracle = GridSpaceOracle(space, grid_plan(tune.space), objective, max_trials=tune.trials)
    else:
        raise ValueError(f"no search for algorithm {tune.algorithm!r}")  # "none" never reaches here
    oracle.budget_epochs, oracle.full_epochs = tune.candidate_epochs(epochs), epochs
    return oracle


# --------------------------------------------------------------------------
# Running a cell's search
# --------------------------------------------------------------------------


REPEAT_STRIDE = 10_007  # a search trial's repeats train with seeds this far apart (far from every study seed too)


def repeated(settings: Settings, seeds: list[int], target, objective: str, kept: Kept | None = None, groups=None,
             stop: losers.Stopping | None = None):
    """One search trial: a training run per seed, scored by the mean of their scores (``search_score``;
    with several, ``search_score_sd`` beside it). The trial's record keeps the first run's curves and
    metrics, but for ``best_val_accuracy`` (a regression's ``best_val_r2``), the runs' mean like the score.
    ``stop``: the study's declared rule for losing candidates (one run per trial then)."""
    runs = [trials.run(settings, seed, target, evaluate=False, kept=kept, stop=stop, groups=groups) for seed in seeds]
    result = runs[0]
    scores = [score(r.history, objective) for r in runs]
    result.metrics["search_score"] = float(np.mean(scores))
    if len(runs) > 1:
        result.metrics["search_score_sd"] = float(np.std(scores, ddof=1))
        for key in ("best_val_accuracy", "best_val_r2"):
            best = [b for r in runs if (b := r.metrics.get(key)) is not None]
            if key in result.metrics:
                result.metrics[key] = float(np.mean(best)) if best else None
    return result


PER_SEED_STRIDE = 7_919  # tune.per: seed or block: the search for study seed s runs on search seed tune.seed + stride x (s + 1)


def seed_tune(tune: Tune, seed: int | None) -> Tune:
    """The search a study seed gets with ``tune.per: seed`` (the same space, its own search seed); ``tune`` itself
    for a cell's one search."""
    return tune if seed is None else tune.model_copy(update={"seed": tune.seed + PER_SEED_STRIDE * (seed + 1)})


class SearchTuner(RecordedTuner):
    """Runs one search's trials (a cell's, or with ``tune.per: seed`` one seed's of a cell), one MLflow child run
    each (kind "search")."""

    def __init__(self, resolved: ResolvedStudy, cell: Cell, tracker: Tracker, parent: str, provenance: dict, directory, code: str,
                 kept: Kept | None = None, for_seed: int | None = None, groups=None, bar=None):
        self.tune = seed_tune(cell.tune, for_seed)
        oracle = make_oracle(self.tune, cell.settings.train.epochs)
        name = f"{resolved.config_sha[:12]}-{code[:8]}-search-{cell.index}" + ("" if for_seed is None else f"-seed-{for_seed}")
        super().__init__(oracle, directory, name, resolved, tracker)
        self.cell, self.parent, self.provenance, self.for_seed = cell, parent, provenance, for_seed
        self.kept = kept or Kept()
        self.groups = groups  # the run's plan of trials that train together (groups.Plan), on the grouped path
        self.recorded = {k[2]: m for k, m in tracker.finished_searches(resolved, code).items() if k[:2] == (cell.index, for_seed)}
        self.code, self.curves = code, {}  # trial id -> its objective per epoch (a declared stop rule's rivals)
        total = None if cell.tune.algorithm == "hyperband" else cell.tune.trials  # Hyperband's count follows its rounds
        label = f"search {cell.label}" + ("" if for_seed is None else f" for seed {for_seed}")
        self.progress = Progress(total=total, done=self.finished(), label=label, bar=bar,
                                 score=(cell.tune.objective, TARGET_METRICS[cell.tune.objective]))

    def holds(self, trial) -> bool:
        return trial.trial_id in self.recorded

    def _run(self, trial):
        values = trial.hyperparameters.values
        epochs = cost(values, self.cell.settings.train.epochs)
        if trial.trial_id in self.recorded:
            self.last_metrics = self.recorded[trial.trial_id]
            return {SCORE: self.last_metrics["search_score"]}
        tune = self.tune
        why = sweep.why(tune, values, _seed(tune)) if tune.algorithm == "sweep" else ""
        run_id = self.tracker.start_search(self.resolved, self.parent, self.cell, trial.trial_id, values, self.provenance, why,
                                           for_seed=self.for_seed)
        seeds = repeat_seeds(tune)
        settings = apply(self.cell.settings, nuisance(values), epochs)
        stop = self.stopping(trial)
        result = self.record(run_id, lambda: repeated(settings, seeds, self.resolved.study.target, tune.objective, self.kept,
                                                      self.groups, stop))
        self.curves[trial.trial_id] = losers.curve(result.history, tune.objective)
        result.metrics["search_epochs"] = float(epochs * len(seeds))
        self.tracker.finish_trial(run_id, result)
        self.last_metrics = result.metrics
        return {SCORE: result.metrics["search_score"]}

    def stopping(self, trial) -> losers.Stopping | None:
        """The study's declared rule for this candidate, with its search's earlier finished candidates (in trial
        order: their values and curves, read from the record for those a resumed search did not train here)."""
        declared = self.tune.stop
        if declared is None:
            return None
        earlier = sorted((t for t in self.oracle.trials.values()
                          if t.status == TrialStatus.COMPLETED and int(t.trial_id) < int(trial.trial_id)),
                         key=lambda t: int(t.trial_id))
        if any(t.trial_id not in self.curves for t in earlier):
            objective = self.tune.objective
            found = self.tracker.search_histories(self.resolved, self.code, self.cell.index, self.for_seed, (objective, "loss"))
            self.curves = {**{t: losers.until_divergence(h[objective], h["loss"]) for t, h in found.items()}, **self.curves}
        rule = losers.Median(declared.after, declared.earlier, TARGET_METRICS[self.tune.objective])
        return losers.Stopping(rule, self.tune.objective, [(nuisance(t.hyperparameters.values), self.curves.get(t.trial_id, []))
                                                           for t in earlier])

    def on_trial_begin(self, trial):
        shown = ", ".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in nuisance(trial.hyperparameters.values).items())
        epochs = trial.hyperparameters.values.get("tuner/epochs")
        self.progress.begin(shown + (f" ({epochs} epochs)" if epochs else ""))


def _short(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def tune_cells(resolved: ResolvedStudy, tracker: Tracker, parent: str, provenance: dict, directory, code: str,
               kept: Kept | None = None, groups=None, bar=None) -> ResolvedStudy:
    """Search every cell that asks for it; each cell comes back with its best nuisance values applied."""
    cells = []
    for cell in resolved.cells:
        if cell.tune is None or cell.tune.algorithm == "none":
            cells.append(dataclasses.replace(cell, tuned={}))
            continue
        if cell.tune.per != "cell":  # each seed (or block of seeds) its own search: the replicate is the whole procedure
            found = {s: _search(resolved, cell, tracker, parent, provenance, directory, code, kept, groups, s, bar)
                     for s in resolved.searches(cell)}
            cells.append(tuned_by_seed(cell, {seed: found[resolved.searcher(cell, seed)] for seed in resolved.seeds_of(cell)}))
        else:
            cells.append(tuned_cell(cell, _search(resolved, cell, tracker, parent, provenance, directory, code, kept, groups,
                                                  None, bar)))
    return dataclasses.replace(resolved, cells=tuple(cells))


def repeat_seeds(tune: Tune) -> list[int]:
    """The training seeds of a search trial's runs (``tune.repeats`` of them)."""
    return [SEARCH_SEED + tune.seed + j * REPEAT_STRIDE for j in range(tune.repeats)]


def plan_groups(resolved: ResolvedStudy, plan, round: int = 0) -> None:
    """Which search trials train together (``suite run --grouped``): a search's first candidates, those it fixes before
    scoring any (``lanes.first_candidates``), each on its repeat seeds, as one group per search. Other candidates train
    alone. Only the searches of ``round``'s seeds: a later round's groups never take in an earlier round's, so each
    round's are the same however the study resumes."""
    for cell in resolved.cells:
        seeds = resolved.seeds_in_round(cell, round)
        if not seeds or cell.tune is None:
            continue
        for for_seed in resolved.searches(cell, seeds):
            tune = seed_tune(cell.tune, for_seed)
            candidates = lanes.first_candidates(tune, cell.settings.train.optimizer, _seed(tune))
            if candidates is not None:
                plan.search(cell.settings, candidates, repeat_seeds(tune))


def _search(resolved, cell, tracker, parent, provenance, directory, code, kept, groups, for_seed, bar=None) -> dict:
    """One search; the nuisance values it chose."""
    tuner = SearchTuner.resume(resolved, cell, tracker, parent, provenance, directory, code, kept=kept, for_seed=for_seed,
                               groups=groups, bar=bar)
    tuner.search()
    best = [t for t in tuner.oracle.get_best_trials(1) if t.status == "COMPLETED"]
    if not best:
        whose = f"cell {cell.label}" + ("" if for_seed is None else f" for seed {for_seed}")
        raise SuiteError(f"the search of {whose} finished no trial; see its failed runs in MLflow")
    return nuisance(best[0].hyperparameters.values)



def chosen(resolved: ResolvedStudy) -> dict[str, dict]:
    """What the chief's searches chose, as JSON for its workers: cell index -> values, or {"by_seed": {seed: values}}."""
    out = {}
    for c in resolved.cells:
        if c.by_seed:
            out[str(c.index)] = {"by_seed": {str(seed): tuned for seed, (_, tuned) in c.by_seed.items()}}
        elif c.tuned:
            out[str(c.index)] = c.tuned
    return out


def with_tuned(resolved: ResolvedStudy, tuned: dict[int, dict]) -> ResolvedStudy:
    """The study as the chief tuned it (``chosen``'s JSON, by cell index): how a worker applies the chief's searches."""
    def applied(c):
        if c.index not in tuned:
            return c
        values = tuned[c.index]
        if "by_seed" in values:
            return tuned_by_seed(c, {int(seed): v for seed, v in values["by_seed"].items()})
        return tuned_cell(c, values)

    return dataclasses.replace(resolved, cells=tuple(applied(c) for c in resolved.cells))


def tuned_cell(cell: Cell, tuned: dict) -> Cell:
    """The cell with its chosen nuisance values applied to its settings, and kept beside them."""
    return dataclasses.replace(cell, settings=apply(cell.settings, tuned), tuned=tuned)


def tuned_by_seed(cell: Cell, chosen: dict[int, dict]) -> Cell:
    """The cell with each seed's own search's choice (``tune.per: seed``): its settings stay as written."""
    return dataclasses.replace(cell, by_seed={seed: (apply(cell.settings, v), v) for seed, v in chosen.items()})
