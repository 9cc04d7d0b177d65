"""Study files: the schema, the loader, profiles and the grid of cells.

A study file is data, never code. It is read with a safe YAML loader, checked
against a locked schema (unknown keys and wrong types fail with the field path),
shrunk or grown by a named profile, and expanded into cells: one cell per
combination of grid values, each a complete, validated set of settings.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from suite.errors import StudyError

# --------------------------------------------------------------------------
# Field types. Each check raises one plain message, so an error reads
# "train.batch_size: must be a positive integer, got 'abc'".
# --------------------------------------------------------------------------


def _int(low: int, high: int, message: str):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise PydanticCustomError("value", message)
        return v

    return Annotated[int, BeforeValidator(check)]


def _float(ok, message: str):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not ok(v):
            raise PydanticCustomError("value", message)
        return float(v)

    return Annotated[float, BeforeValidator(check)]


def _text(v):
    if not isinstance(v, str) or not v.strip():
        raise PydanticCustomError("value", "must be a non-empty string")
    return v


def _flag(v):
    if not isinstance(v, bool):
        raise PydanticCustomError("value", "must be true or false")
    return v


PositiveInt = _int(1, 10**9, "must be a positive integer")
Count = _int(0, 10**9, "must be a non-negative integer")
Epochs = _int(1, 100_000, "must be an integer from 1 to 100000")
Depth = _int(0, 1_000, "must be an integer from 0 to 1000")
Width = _int(1, 1 << 16, "must be an integer from 1 to 65536")
Seed = _int(0, 2**31 - 1, "must be an integer from 0 to 2147483647")
PositiveFloat = _float(lambda v: v > 0, "must be a positive number")
NonNegFloat = _float(lambda v: v >= 0, "must be a number >= 0")
Fraction = _float(lambda v: 0 < v < 1, "must be a number strictly between 0 and 1")
Rate = _float(lambda v: 0 <= v < 1, "must be a number in [0, 1)")
Number = _float(lambda v: True, "must be a finite number")
Text = Annotated[str, BeforeValidator(_text)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class Locked(BaseModel):
    """A settings block where a typo is an error, not a silently ignored key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------


class Synthetic(Locked):
    """scikit-learn's make_classification, for controlled experiments."""

    samples: PositiveInt = 5000
    features: PositiveInt = 40
    informative: PositiveInt = 10
    classes: _int(2, 1000, "must be an integer from 2 to 1000") = 10
    noise: Rate = 0.0  # fraction of labels assigned at random (flip_y)
    class_sep: PositiveFloat = 1.0

    @model_validator(mode="after")
    def _fits(self):
        if self.informative > self.features:
            raise PydanticCustomError("value", "informative must not exceed features")
        return self


class Imbalance(Locked):
    """Step imbalance of the training split: the last ``minority`` classes are ``ratio`` times rarer."""

    ratio: _float(lambda v: v >= 1, "must be a number >= 1") = 1.0
    minority: PositiveInt = 5


class Augment(Locked):
    """Random input transformations applied during training only."""

    noise: NonNegFloat = 0.0  # standard deviation of Gaussian noise added to the (scaled) inputs
    shift: Count = 0  # largest circular shift, in positions (sequences) or pixels (images)


def _dataset(v):
    from suite.data import known  # the registry lives with the loaders; imported late to avoid a cycle

    if not isinstance(v, str) or v not in known():
        raise PydanticCustomError("value", "unknown dataset (known: {known})", {"known": ", ".join(known())})
    return v


class KFold(Locked):
    kfold: _int(2, 100, "must be an integer from 2 to 100")


def _validation(v):
    if isinstance(v, dict):
        return KFold.model_validate(v)
    if isinstance(v, KFold):
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
        raise PydanticCustomError("value", "must be a fraction strictly between 0 and 1, or {kfold: k}")
    return float(v)


class Data(Locked):
    dataset: Annotated[str, BeforeValidator(_dataset)] = "mnist1d"
    train_size: PositiveInt | None = None  # subsample of the training split
    validation: Annotated[float | KFold, BeforeValidator(_validation)] = 0.2  # held-out fraction, or {kfold: k}
    fold: Count = 0  # with {kfold: k}: which of the k folds is the validation split
    test: Fraction = 0.2  # held out for testing, only for datasets without a test split
    scaling: Literal["standard", "minmax", "none"] = "standard"  # fitted on training data only
    classes: list[_int(0, 10**6, "must be a class label (an integer >= 0)")] | None = None  # keep these, relabelled 0..k-1
    feature_scales: _float(lambda v: 0 <= v <= 12, "must be a number from 0 to 12") = 0.0  # raw features' scales spread over this many decades
    seed: Seed = 0  # fixes subsampling and splits; trial seeds vary the training only
    synthetic: Synthetic = Synthetic()
    label_noise: _float(lambda v: 0 <= v <= 1, "must be a number in [0, 1]") = 0.0  # training labels redrawn at random
    imbalance: Imbalance = Imbalance()
    rebalance: Literal["none", "oversample", "class_weight"] = "none"  # remedy for an imbalanced training split
    augment: Augment = Augment()

    @model_validator(mode="after")
    def _fold_exists(self):
        k = self.validation.kfold if isinstance(self.validation, KFold) else None
        if (k is None and self.fold) or (k is not None and self.fold >= k):
            raise PydanticCustomError("value", "fold must be 0 without k-fold validation, and below k with it")
        return self


INITIALIZERS = ("glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "normal")


def _init(v):
    """A named initializer, or ``normal:<std>`` (N(0, std^2)), so a grid can list N(0, 0.01) beside Glorot."""
    if isinstance(v, str) and v in INITIALIZERS:
        return v
    if isinstance(v, str) and v.startswith("normal:"):
        try:
            std = float(v.removeprefix("normal:"))
        except ValueError:
            std = -1.0
        if math.isfinite(std) and std > 0:
            return v
    raise PydanticCustomError("value", "must be one of {known} or normal:<std> (e.g. normal:0.01)", {"known": ", ".join(INITIALIZERS)})


class Model(Locked):
    family: Literal["mlp", "cnn", "gru"] = "mlp"
    depth: Depth = 2  # hidden layers (0: logistic regression)
    width: Width = 128  # units per dense layer, filters per convolution
    kernel_size: _int(1, 1024, "must be an integer from 1 to 1024") = 5
    stride: _int(1, 64, "must be an integer from 1 to 64") = 1  # cnn: convolution stride; above 1, no pooling
    bidirectional: Flag = True  # gru: read the sequence both ways
    activation: Literal["relu", "tanh", "sigmoid", "elu", "selu", "gelu", "leaky_relu", "softplus", "silu", "linear"] = "relu"
    init: Annotated[str, BeforeValidator(_init)] = "glorot_uniform"  # also "normal:<std>", e.g. normal:0.01
    init_std: PositiveFloat = 0.01  # standard deviation when init is "normal"
    normalization: Literal["none", "batch", "layer", "group"] = "none"
    groups: PositiveInt = 8  # for group normalization
    dropout: Rate = 0.0
    dropout_at: Literal["end", "before_norm"] = "end"  # end of each block (feeding the next block's norm), or before its norm
    l1: NonNegFloat = 0.0
    l2: NonNegFloat = 0.0
    residual: Flag = False

    @model_validator(mode="after")
    def _groups_divide_width(self):
        if self.normalization == "group" and self.width % self.groups:
            raise PydanticCustomError("value", "group normalization needs groups to divide width")
        return self


class Train(Locked):
    optimizer: Literal["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"] = "adam"
    learning_rate: PositiveFloat = 1e-3
    momentum: Rate = 0.9  # for momentum and nesterov
    weight_decay: NonNegFloat = 0.004  # for adamw (decoupled)
    batch_size: PositiveInt = 128
    epochs: Epochs = 20
    clip_norm: PositiveFloat | None = None  # clip each gradient's norm
    schedule: Literal["constant", "step", "exponential", "inverse_time", "cosine"] = "constant"
    lr_final: Fraction = 0.01  # a decaying schedule ends at learning_rate x lr_final
    patience: PositiveInt | None = None  # early stopping: epochs without a better val_loss; best weights restored
    transfer: Literal["scratch", "head", "full"] = "scratch"  # start from pretrained weights (see pretrain:): train the new head only, or everything


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
ALGORITHMS = ("random", "bayesian", "hyperband", "grid", "none")


class Tune(Locked):
    """Nuisance settings re-tuned for every grid cell by a keras-tuner search, on the validation split.

    The budget is ``trials`` x ``train.epochs`` epochs per cell, whatever the algorithm, so no cell
    gets more search than another. ``none`` skips the search: the cell runs as written.
    """

    algorithm: Literal[ALGORITHMS] = "random"
    trials: PositiveInt = 10
    seed: Seed = 0  # the search's own seed (sampling, and the training seed of its trials)
    objective: Literal["val_accuracy", "val_loss"] = "val_accuracy"  # best value over epochs
    space: dict[str, Space]

    @model_validator(mode="after")
    def _not_empty(self):
        if not self.space:
            raise PydanticCustomError("value", "space must name at least one setting to tune")
        return self


TUNE_AXES = ("algorithm", "trials", "seed")  # the parts of tune a grid may vary


class Pretrain(Locked):
    """The source task for train.transfer: the same dataset and model, other classes, its own epochs."""

    classes: list[_int(0, 10**6, "must be a class label (an integer >= 0)")] | None = None
    train_size: PositiveInt | None = None
    epochs: Epochs = 20


class Settings(Locked):
    """Everything one trial needs besides its seed."""

    data: Data = Data()
    model: Model = Model()
    train: Train = Train()
    pretrain: Pretrain = Pretrain()

    @model_validator(mode="after")
    def _transfer_has_a_source(self):
        if self.train.transfer != "scratch" and not self.pretrain.classes:
            raise PydanticCustomError("value", "train.transfer needs pretrain.classes (the source task)")
        return self


# Directions are declared, never guessed from a metric's name.
TARGET_METRICS = {"accuracy": "max", "val_accuracy": "max", "loss": "min", "val_loss": "min"}


class Target(Locked):
    metric: Literal["val_accuracy", "accuracy", "val_loss", "loss"]
    value: Number
    direction: Literal["max", "min"] = None  # defaults to the metric's declared direction

    @model_validator(mode="before")
    @classmethod
    def _declared_direction(cls, data):
        metric = data.get("metric") if isinstance(data, dict) else None
        if isinstance(metric, str) and metric in TARGET_METRICS and data.get("direction") is None:
            data = {**data, "direction": TARGET_METRICS[data["metric"]]}
        return data

    def reached(self, value: float) -> bool:
        return value >= self.value if self.direction == "max" else value <= self.value


# Per-trial metrics a verdict can judge, with the direction in which each is better.
TRIAL_METRICS = {
    "final_val_accuracy": "max",
    "best_val_accuracy": "max",
    "train_accuracy": "max",
    "test_accuracy": "max",
    "test_macro_f1": "max",
    "test_macro_precision": "max",
    "test_macro_recall": "max",
    "test_balanced_accuracy": "max",
    "test_roc_auc": "max",
    "test_pr_auc": "max",
    "reached_target": "max",
    "generalization_gap": "min",
    "test_loss": "min",
    "train_loss": "min",
    "initial_loss": "min",
    "epochs_to_target": "min",
    "steps_to_target": "min",
    "examples_to_target": "min",
    "time_to_target_s": "min",
    "epochs_run": "min",
    "best_epoch": "min",
    "train_time_s": "min",
    "epoch_time_s": "min",
    "near_zero_weights": "max",
    "diverged": "min",
    # a cell's nuisance search (the same value on every seed of the cell)
    "search_best_val_accuracy": "max",
    "search_epochs_to_target": "min",
    # diagnostics (with diagnostics: [activations] / [gradients]); directions matter only for best_at
    "act_std_first_init": "max",
    "act_std_last_init": "max",
    "act_std_ratio_init": "max",
    "saturated_init": "min",
    "saturated_final": "min",
    "dead_init": "min",
    "grad_ratio_init": "max",
    "grad_ratio_final": "max",
    "grad_ratio_log10_init": "max",
    "grad_ratio_log10_final": "max",
    "grad_first_init": "max",
    "grad_first_final": "max",
}
CENSORED_METRICS = ("epochs_to_target", "steps_to_target", "examples_to_target", "time_to_target_s", "search_epochs_to_target")


class Reference(Locked):
    """A published value to show beside the measured one (e.g. a paper's table), with where it comes from."""

    metric: Literal[tuple(TRIAL_METRICS)]
    value: Number
    source: Text
    where: dict[str, Any] = {}  # the cells it describes


class Expect(Locked):
    """One checkable statement of the claim. Exactly one of: a trend, a best cell, a comparison, a bound."""

    says: Text
    metric: Literal[tuple(TRIAL_METRICS)]
    where: dict[str, Any] = {}  # only the cells with these grid values
    # trend: the metric rises or falls along a grid axis (Spearman rank correlation)
    along: str | None = None
    trend: Literal["increasing", "decreasing"] | None = None
    # best_at: this cell is the best one (bootstrap over seeds); "best" is the metric's declared direction
    best_at: dict[str, Any] | None = None
    # compare: one cell against another (Welch t-test, or Mann-Whitney when values are censored)
    compare: dict[str, Any] | None = None
    against: dict[str, Any] | None = None
    direction: Literal["greater", "less"] | None = None
    within: PositiveFloat | None = None  # instead of a direction: equal within this margin (TOST)
    # steadier: averaging over one axis (e.g. the folds of k-fold) gives a steadier estimate across
    # replicates (e.g. data.seed, i.e. different partitions) than a single value of that axis (one split)
    steadier: str | None = None
    replicate: str = "seed"
    # bound: the metric's mean lies below, above or near a value (one-sample t)
    below: Number | None = None
    above: Number | None = None
    near: Number | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [
            k
            for k, present in (
                ("trend", self.along is not None or self.trend is not None),
                ("best_at", self.best_at is not None),
                ("compare", self.compare is not None or self.against is not None),
                ("bound", any(v is not None for v in (self.below, self.above, self.near))),
                ("steadier", self.steadier is not None),
            )
            if present
        ]
        if len(kinds) != 1:
            raise PydanticCustomError(
                "value", "needs exactly one of: along+trend, best_at, compare+against, below/above/near, steadier"
            )
        kind = kinds[0]
        if kind == "trend" and (self.along is None or self.trend is None):
            raise PydanticCustomError("value", "a trend needs both along and trend")
        if kind == "compare" and (self.compare is None or self.against is None):
            raise PydanticCustomError("value", "a comparison needs both compare and against")
        if kind == "compare" and (self.direction is None) == (self.within is None):
            raise PydanticCustomError("value", "a comparison needs exactly one of direction or within")
        if kind == "bound" and sum(v is not None for v in (self.below, self.above, self.near)) != 1:
            raise PydanticCustomError("value", "a bound needs exactly one of below, above or near")
        if kind == "bound" and (self.near is not None) != (self.within is not None):
            raise PydanticCustomError("value", "near needs within (the margin), and within needs near or compare")
        if kind == "bound" and self.metric in CENSORED_METRICS:
            raise PydanticCustomError("value", "a bound needs a metric measured on every trial, not a censored one")
        return self

    @property
    def kind(self) -> str:
        if self.along is not None:
            return "trend"
        if self.best_at is not None:
            return "best_at"
        if self.compare is not None:
            return "compare"
        if self.steadier is not None:
            return "steadier"
        return "bound"


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


class Study(Settings):
    name: Annotated[str, BeforeValidator(_name)]
    title: Text
    claim: Text
    sources: list[Text] = []
    grid: dict[str, list[Any]] = {}
    cases: dict[Annotated[str, BeforeValidator(_name)], dict[str, Any]] = {}  # named bundles, one grid axis "case"
    seeds: Annotated[list[Seed], AfterValidator(_seed_list)] = [0]
    target: Target
    tune: Tune | None = None  # re-tune these nuisance settings for every cell (or, without a grid, just search)
    diagnostics: list[Literal["activations", "gradients"]] = []  # per-layer probes: off unless asked (they cost time)
    expect: list[Expect] = []
    reference: list[Reference] = []  # published values, shown beside the measurements
    alpha: Fraction = 0.05  # significance level of every verdict, after Holm's correction
    profiles: dict[Annotated[str, BeforeValidator(_name)], dict[str, Any]] = {}

    def settings(self) -> Settings:
        return Settings(data=self.data, model=self.model, train=self.train, pretrain=self.pretrain)


# --------------------------------------------------------------------------
# Cells: the resolved grid
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    index: int
    values: dict[str, Any]  # grid axis -> value
    settings: Settings
    tune: Tune | None = None  # this cell's search (a grid may vary tune.algorithm, tune.trials, tune.seed)
    tuned: dict[str, Any] | None = None  # after its search: the nuisance values chosen (and in settings)

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

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def profile_name(self) -> str:
        """The profile as recorded and shown: "base" when the file runs as written."""
        return self.profile or "base"

    @property
    def axes(self) -> list[str]:
        return list(self.study.grid)

    @property
    def trials(self) -> list[tuple[Cell, int]]:
        return [(cell, seed) for cell in self.cells for seed in self.study.seeds]


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML that reads 1e-4 as a number (YAML 1.2) and rejects repeated keys."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _mapping(loader: _Loader, node: yaml.MappingNode):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"repeated key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_yaml(text: bytes | str, where: str) -> dict:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StudyError(f"{where}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})") from None
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise StudyError(f"{where}: invalid YAML{at}: {problem}") from None
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: a study file must be a mapping of keys to values, got {type(raw).__name__}")
    return raw


def find_study(name_or_path: str, studies_dir: Path) -> Path:
    """A path to a file, or the name of a study in ``studies/``."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise StudyError(f"{name_or_path}: no such study file")
        return path
    if not NAME.match(name_or_path):
        raise StudyError(f"{name_or_path!r}: not a study name or a .yaml file")
    path = studies_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in studies_dir.glob("*.yaml"))) or "none"
        raise StudyError(f"no study named {name_or_path!r} in {studies_dir} (known: {known})")
    return path


def load_study(path: Path, profile: str | None = None) -> ResolvedStudy:
    data = path.read_bytes()
    raw = parse_yaml(data, str(path))
    study = _validate(raw, where="")
    _resolve(raw, study, None)
    for name in study.profiles:  # every profile must be valid, not only the one run now
        _resolve(raw, study, name)
    if profile is not None and profile not in study.profiles:
        known = ", ".join(study.profiles) or "none"
        raise StudyError(f"profiles: no profile named {profile!r} in {path.name} (defined: {known})")
    resolved, cells = _resolve(raw, study, profile)
    # Defaults left out: a new setting with a default must not change the identity of every recorded
    # trial. (A changed default changes study.py, hence the code version, which catches it.)
    settings = resolved.model_dump(mode="json", exclude={"profiles"}, exclude_defaults=True)
    config = json.dumps({"profile": profile, **settings}, sort_keys=True)
    return ResolvedStudy(
        study=resolved,
        profile=profile,
        path=path,
        file_sha=hashlib.sha256(data).hexdigest(),
        config_sha=hashlib.sha256(config.encode()).hexdigest(),
        cells=cells,
    )


def _resolve(raw: dict, study: Study, profile: str | None) -> tuple[Study, tuple[Cell, ...]]:
    where = f"profiles.{profile}: " if profile else ""
    if profile:
        raw = apply_overrides(raw, study.profiles[profile], where=f"profiles.{profile}")
        study = _validate(raw, where=where)
    cells = expand_grid(study, where=where)
    if profile is None:  # a profile may drop cells an expectation names: its verdict then says "no data"
        check_expectations(study)
    return study, cells


def check_expectations(study: Study) -> None:
    """Every axis and value an expectation or a reference names must be in the grid."""
    for i, r in enumerate(study.reference):
        for axis, value in r.where.items():
            if axis not in study.grid:
                raise StudyError(f"reference[{i}].where: {axis!r} is not a grid axis")
            if value not in study.grid[axis]:
                raise StudyError(f"reference[{i}].where: {value!r} is not a value of grid.{axis}")
    for i, e in enumerate(study.expect):
        for field in ("where", "best_at", "compare", "against"):
            for axis, value in (getattr(e, field) or {}).items():
                if axis not in study.grid:
                    raise StudyError(f"expect[{i}].{field}: {axis!r} is not a grid axis")
                if value not in study.grid[axis]:
                    raise StudyError(f"expect[{i}].{field}: {value!r} is not a value of grid.{axis}")
        for field in ("along", "steadier"):
            axis = getattr(e, field)
            if axis is not None and axis not in study.grid:
                raise StudyError(f"expect[{i}].{field}: {axis!r} is not a grid axis")
        if e.steadier is not None and e.replicate != "seed" and e.replicate not in study.grid:
            raise StudyError(f"expect[{i}].replicate: {e.replicate!r} is neither 'seed' nor a grid axis")


def apply_overrides(raw: dict, overrides: dict, where: str) -> dict:
    """Apply a profile's ``dotted.path: value`` overrides to the raw study mapping."""
    raw = copy.deepcopy(raw)
    grid = raw.get("grid") or {}
    for key, value in overrides.items():
        if not isinstance(key, str) or not key:
            raise StudyError(f"{where}: override keys must be dotted paths, got {key!r}")
        head, _, rest = key.partition(".")
        if head == "grid" and rest:
            if rest not in grid:
                raise StudyError(f"{where}.{key}: {rest!r} is not a grid axis of this study")
            raw["grid"][rest] = value
            continue
        if key in grid:
            raise StudyError(f"{where}.{key}: is a grid axis; override grid.{key} instead")
        if head in ("name", "profiles"):
            raise StudyError(f"{where}.{key}: a profile cannot change the study's {head}")
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part, {}), dict):
                raise StudyError(f"{where}.{key}: {part!r} is not a settings block")
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return raw


def expand_grid(study: Study, where: str = "") -> tuple[Cell, ...]:
    """Every combination of grid values, in file order, each validated as full settings."""
    base = study.settings().model_dump()
    check_space(study, base, where)
    axes = {}
    cases = _cases(study, base, where)
    for axis, values in study.grid.items():
        if axis.startswith("tune."):
            axes[axis] = _tune_axis(study, axis, values, where)
            continue
        if axis == "case":
            if not values or len(set(map(str, values))) != len(values):
                raise StudyError(f"{where}grid.case: must list at least one case, none twice")
            for i, value in enumerate(values):
                if value not in cases:
                    raise StudyError(f"{where}grid.case[{i}]: no case named {value!r} (defined: {', '.join(cases) or 'none'})")
            axes[axis] = values
            continue
        if axis in {path for bundle in cases.values() for path in bundle}:
            raise StudyError(f"{where}grid.{axis}: is also set by a case; a setting is one or the other")
        if not _has_path(base, axis):
            close = difflib.get_close_matches(axis, list(_paths(base)), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise StudyError(f"{where}grid.{axis}: no such setting{hint}")
        if not values:
            raise StudyError(f"{where}grid.{axis}: must list at least one value")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise StudyError(f"{where}grid.{axis}: must not repeat a value")
        for i, value in enumerate(values):
            try:
                Settings.model_validate(_with(base, {axis: value}))
            except ValidationError as e:
                message = describe(first(e))
                if message.startswith(axis + ":"):  # the value itself is wrong: name its place in the grid
                    message = message[len(axis) :]
                else:  # it breaks another setting: say which
                    message = f": {message}"
                raise StudyError(f"{where}grid.{axis}[{i}]{message}") from None
        axes[axis] = values
    cells = []
    for i, combo in enumerate(itertools.product(*axes.values())):
        values = dict(zip(axes, combo))
        plain = {k: v for k, v in values.items() if not k.startswith("tune.") and k != "case"}
        bundle = cases.get(values.get("case"), {})
        settings = _validate(_with(base, {**bundle, **plain}), where=where, model=Settings)
        tune = study.tune
        if tune is not None:
            tune = tune.model_copy(update={k.removeprefix("tune."): v for k, v in values.items() if k.startswith("tune.")})
        cells.append(Cell(index=i, values=values, settings=settings, tune=tune))
    return tuple(cells)


def _cases(study: Study, base: dict, where: str) -> dict[str, dict]:
    """Named bundles of settings (``cases: {cnn: {model.family: cnn, model.depth: 3}}``), each validated."""
    if study.cases and "case" not in study.grid:
        raise StudyError(f"{where}cases: defined but unused; add grid.case: [{', '.join(study.cases)}]")
    for name, bundle in study.cases.items():
        for path in bundle:
            _setting(base, path, f"{where}cases.{name}.{path}")
        try:
            Settings.model_validate(_with(base, bundle))
        except ValidationError as e:
            raise StudyError(f"{where}cases.{name}: {describe(first(e))}") from None
    return study.cases


def check_space(study: Study, base: dict, where: str = "") -> None:
    """Every tuned setting exists, is not the budget unit or a grid axis, and accepts its range's values."""
    if study.tune is None:
        return
    for path, space in study.tune.space.items():
        at = f"{where}tune.space.{path}"
        _setting(base, path, at)
        if path == "train.epochs":
            raise StudyError(f"{at}: epochs are the unit of the search budget, not a nuisance setting")
        if path in study.grid:
            raise StudyError(f"{at}: is a grid axis (a scientific setting); a setting is one or the other")
        for value in space if isinstance(space, list) else space.bounds:
            try:
                Settings.model_validate(_with(base, {path: value}))
            except ValidationError as e:
                raise StudyError(f"{at}: {value!r} is not allowed ({describe(first(e))})") from None


def _tune_axis(study: Study, axis: str, values: list, where: str) -> list:
    part = axis.removeprefix("tune.")
    if study.tune is None:
        raise StudyError(f"{where}grid.{axis}: the study has no tune: block")
    if part not in TUNE_AXES:
        raise StudyError(f"{where}grid.{axis}: a grid may vary only {', '.join('tune.' + a for a in TUNE_AXES)}")
    if not values:
        raise StudyError(f"{where}grid.{axis}: must list at least one value")
    if len({json.dumps(v) for v in values}) != len(values):
        raise StudyError(f"{where}grid.{axis}: must not repeat a value")
    for i, value in enumerate(values):
        try:
            Tune.model_validate({**study.tune.model_dump(), part: value})
        except ValidationError as e:
            raise StudyError(f"{where}grid.{axis}[{i}]{describe(first(e)).removeprefix(part)}") from None
    return values


def _get(tree: dict, path: str):
    node = tree
    for part in path.split("."):
        node = node[part]
    return node


def override(settings: Settings, values: dict[str, Any]) -> Settings:
    """These settings with ``dotted.path: value`` overrides applied, validated."""
    return Settings.model_validate(_with(settings.model_dump(), values))


def _setting(base: dict, path: str, at: str) -> None:
    """``path`` must name one setting (not a block); the error suggests the closest one."""
    if not _has_path(base, path) or isinstance(_get(base, path), dict):
        close = difflib.get_close_matches(path, list(_paths(base)), n=1)
        raise StudyError(f"{at}: no such setting" + (f" (did you mean {close[0]!r}?)" if close else ""))


def _with(base: dict, values: dict[str, Any]) -> dict:
    out = copy.deepcopy(base)
    for path, value in values.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return out


def _has_path(tree: dict, path: str) -> bool:
    node = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _paths(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        yield prefix + key
        if isinstance(value, dict):
            yield from _paths(value, prefix + key + ".")


# --------------------------------------------------------------------------
# Error messages: one line naming the field path
# --------------------------------------------------------------------------

_ALL_FIELDS = sorted(
    {f for m in (Study, Data, Model, Train, Target, Synthetic, Expect, Imbalance, Augment, Tune, Range, Reference, Pretrain)
     for f in m.model_fields}
)


def _validate(raw: dict, where: str, model: type[BaseModel] = Study):
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise StudyError(where + describe(first(e))) from None


def first(e: ValidationError) -> dict:
    """The error to show: a misspelt key explains a "missing" one next to it, so it goes first."""
    errors = e.errors()
    if errors[0]["type"] == "missing":
        return next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
    return errors[0]


def describe(error: dict) -> str:
    """Turn one pydantic error into ``path: what is wrong, got <value>``."""
    loc = [str(p) for p in error["loc"] if not str(p).startswith("function-")]
    path = ".".join(loc) or "study"
    kind = error["type"]
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(loc[-1], _ALL_FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{path}: unknown key{hint}"
    if kind == "missing":
        return f"{path}: is required"
    if kind == "literal_error":
        message = f"must be one of {error['ctx']['expected']}"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = "must be a mapping of keys to values"
    elif kind == "list_type":
        message = "must be a list"
    else:
        message = error["msg"]
        message = message[0].lower() + message[1:]
    if isinstance(error.get("input"), dict):  # a whole block is wrong: its keys say more than its repr
        return f"{path}: {message}"
    got = repr(error.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    return f"{path}: {message}, got {got}"
