"""The settings one trial needs: the data, model, train and pretrain blocks.

Names of datasets, model families and optimizers are checked against their
registries in ``suite.train``, which live with what they register and import
no backend, so validating a study file never wakes TensorFlow.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from suite.ground.fields import (
    Count,
    Depth,
    Epochs,
    Flag,
    Fraction,
    Locked,
    NonNegFloat,
    PositiveFloat,
    PositiveInt,
    Rate,
    Seed,
    Text,
    Width,
    _flag,
    _float,
    _int,
)
from suite.train import datasets, files, models, optimizers, tasks


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


def _registered(known, message: str):
    """A name the registry ``known()`` holds: the schema asks the registry, the registry never imports the schema. An
    installed package's names are loaded by ``loading`` when a study names one not yet known, never from here."""

    def check(v):
        names = known()
        if not isinstance(v, str) or v not in names:
            listed = ", ".join(repr(n) for n in names[:-1]) + f" or {names[-1]!r}" if len(names) > 1 else repr(names[0])
            raise PydanticCustomError("value", message, {"known": ", ".join(names), "listed": listed})
        return v

    return Annotated[str, BeforeValidator(check)]


PLUGIN_HINT = " (one of your own? load the file that registers it with --plugin FILE)"
DatasetName = _registered(datasets.known, "unknown dataset (known: {known})" + PLUGIN_HINT)
FamilyName = _registered(models.families, "must be one of {listed}" + PLUGIN_HINT)
OptimizerName = _registered(optimizers.known, "must be one of {listed}")


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



def _data_file(v):
    if not isinstance(v, str) or not v.strip():
        raise PydanticCustomError("value", "must be a file path (relative to the study file)")
    if Path(v).suffix.lower() not in files.FORMATS:
        raise PydanticCustomError("value", "must name a {formats} file", {"formats": ", ".join(files.FORMATS)})
    return v


class Data(Locked):
    dataset: DatasetName = "mnist1d"
    path: Annotated[str, BeforeValidator(_data_file)] | None = None  # the user's file instead of a dataset (relative to the study file)
    label: Text | None = None  # a table's class column (data.path .csv or .parquet)
    columns: dict[str, Literal["numeric", "categorical", "boolean", "date", "drop"]] = {}  # a table's columns whose kind is declared (date: year, month, day of year, weekday)
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
    # training order: reshuffled every epoch, shuffled once, sorted by class, or none (the split's own order, as
    # model.fit(shuffle=False) takes it: what a HyperModel's fit asks for with shuffle=False)
    order: Literal["shuffled", "once", "sorted", "none"] = "shuffled"
    # what the label is (suite.train.tasks): classes, or a quantity; left out, classes (a label that looks like a
    # quantity is then refused in one line that names this field)
    task: Literal["classification", "regression"] | None = None

    @property
    def name(self) -> str:
        """What the data is called in messages, runs and reports: the dataset, or the file's name."""
        return Path(self.path).name if self.path else self.dataset

    @model_validator(mode="after")
    def _one_source(self):
        if self.path is None:
            if self.label is not None:
                raise PydanticCustomError("value", "label names a column of a data.path table; without data.path it has no meaning")
            if self.columns:
                raise PydanticCustomError("value", "columns declares the kinds of a data.path table's columns; without data.path it has no meaning")
            return self
        if self.dataset != Data.model_fields["dataset"].default:  # (left at its default, it means nothing here)
            raise PydanticCustomError("value", "give data.dataset or data.path, not both")
        table = Path(self.path).suffix.lower() != ".npz"
        if table and self.label is None:
            raise PydanticCustomError("value", "a .csv or .parquet data.path needs label: the name of its class column")
        if not table and self.label is not None:
            raise PydanticCustomError("value", "an .npz file holds its labels in y: label is for tables")
        if not table and self.columns:
            raise PydanticCustomError("value", "columns declares a table's column kinds: an .npz file has none")
        return self

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


def _declared(family: str, key: str, value, default):
    """A plugin family's setting, checked against the type of its declared default."""
    kind = type(default)
    if kind is float and not isinstance(value, bool) and isinstance(value, int):
        value = float(value)
    if kind is bool:
        value = _flag(value)
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if not ok or (kind is float and not math.isfinite(value)):
        raise PydanticCustomError(
            "family_setting", "{key}: must be {kind} (as family '{family}' declares it), got {got}",
            {"key": key, "kind": {int: "an integer", float: "a number", str: "a string", list: "a list"}.get(kind, kind.__name__),
             "family": family, "got": repr(value)},
        )
    return value


def _with_declared(family: str, raw: dict, declared: dict, skip=(), prefix: str = "") -> dict:
    """``raw`` with a family's declared settings checked and their defaults filled in; a block of them
    (a hyper-model's ``hp``) is checked key by key."""
    out = dict(raw)
    for key in raw:
        if key in skip:
            continue
        if key not in declared:  # str(): YAML reads a key such as 0E0 or 1 as a number
            raise PydanticCustomError("unknown_key", "unknown key", {"key": prefix + str(key), "known": sorted(declared)})
        if isinstance(declared[key], dict):
            if not isinstance(raw[key], dict):
                raise PydanticCustomError("family_setting", "{key}: must be a mapping of the family's hp.* names, got {got}",
                                          {"key": prefix + key, "got": repr(raw[key])})
            out[key] = _with_declared(family, raw[key], declared[key], prefix=f"{prefix}{key}.")
        else:
            out[key] = _declared(family, prefix + key, raw[key], declared[key])
    return {**declared, **out}


class Model(Locked):
    """The shared model settings; a plugin family (``suite.usercode.plugins``) adds its declared ones beside them."""

    model_config = ConfigDict(extra="allow", frozen=True)  # extra keys: only a plugin family's, checked below

    family: FamilyName = "mlp"
    depth: Depth = 2  # hidden layers (0: logistic regression)
    width: Width = 128  # units per dense layer, filters per convolution
    kernel_size: _int(1, 1024, "must be an integer from 1 to 1024") = 5
    stride: _int(1, 64, "must be an integer from 1 to 64") = 1  # cnn: convolution stride; above 1, no pooling
    pooling: Literal["max", "average"] = "max"  # cnn: how each stage halves the map (with stride 1)
    head: Literal["flatten", "global_average"] = "flatten"  # cnn: flatten into the classifier, or average each map first
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
    max_norm: PositiveFloat | None = None  # mlp, cnn: each hidden unit's incoming weights kept within this L2 norm
    residual: Flag = False
    members: _int(1, 64, "must be an integer from 1 to 64") = 1  # an ensemble: this many networks, probabilities averaged
    resample: Literal["none", "bootstrap"] = "none"  # each member trains on a bootstrap resample of the training split (bagging)

    @model_validator(mode="before")
    @classmethod
    def _family_settings(cls, raw):
        """Keys beyond the shared ones must be settings the family declares; its defaults fill the rest."""
        if not isinstance(raw, dict):
            return raw
        family = raw.get("family", "mlp")
        if not isinstance(family, str) or family not in models.families():
            return raw  # the family's own check says what is wrong
        return _with_declared(family, raw, models.FAMILIES[family].settings, skip=cls.model_fields)

    @model_validator(mode="after")
    def _max_norm_where_it_acts(self):
        if self.max_norm is not None and self.family not in ("mlp", "cnn"):
            raise PydanticCustomError("value", "max_norm constrains the hidden layers of mlp and cnn models; "
                                               f"{self.family} does not use it")
        return self

    @model_validator(mode="after")
    def _groups_divide_width(self):
        if self.normalization == "group" and self.width % self.groups:
            raise PydanticCustomError("value", "group normalization needs groups to divide width")
        return self

    def __getitem__(self, key: str):
        """``settings["units"]`` as well as ``settings.units``: a family declares its settings as a dict,
        and its builder may read them as one."""
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(f"model setting {key!r}: not a shared setting nor one the family declares") from None


class Train(Locked):
    optimizer: OptimizerName = "adam"
    learning_rate: PositiveFloat = 1e-3
    momentum: Rate = 0.9  # for momentum and nesterov
    weight_decay: NonNegFloat = 0.004  # for adamw (decoupled)
    epsilon: PositiveFloat = 1e-7  # for rmsprop, adam, adamw: Keras's default; Choi et al. 2019 tune it with the rate
    batch_size: PositiveInt = 128
    epochs: Epochs = 20
    # a budget in gradient steps instead, the same for every batch size (Shallue et al. 2019): each cell's epoch
    # cap becomes ceil(steps / its steps per epoch), set before its first trial (train.epochs is then not used)
    steps: _int(1, 10**9, "must be an integer from 1 to 1000000000") | None = None
    clip_norm: PositiveFloat | None = None  # clip each gradient's norm
    schedule: Literal["constant", "step", "exponential", "inverse_time", "cosine"] = "constant"
    lr_final: Fraction = 0.01  # a decaying schedule ends at learning_rate x lr_final
    patience: PositiveInt | None = None  # early stopping: epochs without a better monitored value; best weights restored
    monitor: Literal["val_loss", "val_accuracy", "val_r2"] = "val_loss"  # what early stopping watches (and restores the best of)
    loss: Literal[tasks.REGRESSION_LOSSES] | None = None  # a regression's loss (data.task: regression): mse unless given
    transfer: Literal["scratch", "head", "full"] = "scratch"  # start from pretrained weights (see pretrain:): train the new head only, or everything


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
    def _members_train_alike(self):
        if self.model.members > 1 and self.train.patience is not None:
            raise PydanticCustomError(
                "value", "model.members: an ensemble's members train for train.epochs each; early stopping (train.patience) would stop them apart"
            )
        return self

    @model_validator(mode="after")
    def _task_fits(self):
        """A regression has no classes to select, corrupt, rebalance, sort or average; a classification has no
        regression loss. Each refusal names the field."""
        if self.data.task != "regression":
            if self.train.loss is not None:
                raise PydanticCustomError("value", f"train.loss: {self.train.loss} trains a regression (data.task: regression); "
                                                   "a classification trains on cross-entropy")
            if self.train.monitor == "val_r2":
                raise PydanticCustomError("value", "train.monitor: val_r2 scores a regression (data.task: regression); "
                                                   "a classification watches val_loss or val_accuracy")
            return self
        refused = {
            "data.path": (self.data.path is None, "a regression reads its quantity from the user's own file; the built-in "
                                                  "datasets hold classes"),
            "data.classes": (self.data.classes is not None, "selects classes"),
            "data.label_noise": (self.data.label_noise > 0, "redraws class labels"),
            "data.imbalance": (self.data.imbalance.ratio > 1, "makes classes rarer"),
            "data.rebalance": (self.data.rebalance != "none", "weighs classes"),
            "data.order": (self.data.order == "sorted", "sorts by class"),
            "model.members": (self.model.members > 1, "averages class probabilities (an ensemble of regressions is not built)"),
            "train.monitor": (self.train.monitor == "val_accuracy", "watches accuracy; a regression watches val_loss or val_r2"),
            "train.transfer": (self.train.transfer != "scratch", "starts from a classifier pretrained on other classes"),
        }
        for field, (applies, why) in refused.items():
            if applies:
                raise PydanticCustomError("value", f"{field}: {why}; not with data.task: regression")
        return self

    @model_validator(mode="after")
    def _transfer_has_a_source(self):
        if self.train.transfer != "scratch" and not self.pretrain.classes:
            raise PydanticCustomError("value", "train.transfer needs pretrain.classes (the source task)")
        return self

