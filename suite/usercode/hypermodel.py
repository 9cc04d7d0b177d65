"""A keras-tuner build function as a model family: ``register_model(name, hypermodel=True)``.

keras-tuner users describe a search space by calling ``hp.Int``, ``hp.Choice``... inside the
function that builds the model. Here those calls become the family's settings
(``model.hp.units``, with the call's default) and their ranges join the study's ``tune.space``
(``suite.study.grid``), so the study's own ``tune.algorithm`` searches them per cell within its
budget. To build a trial's model, the function is called with a ``HyperParameters`` holding the
trial's values.

A ``keras_tuner.HyperModel`` subclass's own ``fit(hp, model, *args, **kwargs)`` (keras-tuner's documented
way to tune the batch size and shuffling) is taken at its word: it is called, with the trial's values,
on a stand-in model that records what it would pass to ``model.fit``. Its ``hp.*`` calls join the
search like the build's; the ``batch_size`` it passes is the trial's ``train.batch_size``, and its
``shuffle`` the trial's ``data.order`` (``shuffled``, or ``none``: the rows as the split holds them).
Whatever else it does cannot be, and is refused in one line that names it (``FIT_REFUSED``): the
suite trains every trial itself, on the study's splits, for the study's budget.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any, Callable

import numpy as np

from suite.ground.errors import PluginError, one_line
from suite.train.registry import Family
from suite.usercode import boundary


def register(name: str):
    """``@register_model(name, hypermodel=True)``: ``fn(hp)`` as model family ``name``."""
    from suite.train import models

    def bind(given) -> Callable:
        if name in models.FAMILIES and models.plugin_family(name) is None:
            raise PluginError(f"register_model({name!r}): a built-in family has that name")
        fn, own_fit = _build_function(given)
        if len(inspect.signature(fn).parameters) != 1:
            raise PluginError(f"register_model({name!r}, hypermodel=True): a keras-tuner build function takes one argument, hp")
        probe = None if own_fit is None else (lambda hp: _fit_arguments(name, own_fit, hp))
        declared, space, inert, sets = explore(name, fn, probe)

        def build(m, input_shape, classes, augment=None):
            import keras
            import keras_tuner

            hp = keras_tuner.HyperParameters()
            hp.values.update(m.hp)  # registered with these values, not the calls' defaults
            model = boundary.calling(f"model family {name!r}", fn, hp)
            if not isinstance(model, keras.Model):
                raise PluginError(f"model family {name!r}: its build function returned {type(model).__name__}, not a keras.Model")
            return boundary.built(model, input_shape, f"model family {name!r}")

        fitted = None if probe is None else (lambda settings: _fitted(name, probe, settings))
        models.FAMILIES.add(name, Family(build, settings={"hp": declared}, space=space, inert=tuple(inert), plugin=True,
                                         hypermodel=True, fit=fitted, fit_sets=tuple(sets)))
        return given

    return bind


def _build_function(given) -> tuple[Callable, Callable | None]:
    """A keras-tuner build function, from the function itself or from the ``keras_tuner.HyperModel`` subclass
    form (a class, or an instance) whose ``build(hp)`` it is; and that subclass's own ``fit`` where it has one."""
    import keras_tuner

    if isinstance(given, type) and issubclass(given, keras_tuner.HyperModel):
        given = given()
    if isinstance(given, keras_tuner.HyperModel):  # the class's own build(self, hp): the instance's is a wrapper
        own_fit = type(given).fit.__get__(given, type(given)) if type(given).fit is not keras_tuner.HyperModel.fit else None
        return type(given).build.__get__(given, type(given)), own_fit
    return given, None


class _Data:
    """What a HyperModel's fit receives as x, y and validation data: it passes them on to model.fit, or is refused."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<the study's {self.name}>"


def _passed() -> dict[str, Any]:
    """What keras-tuner's tuner passes a HyperModel's fit, as stand-ins: fresh for every call."""
    return {"x": _Data("training inputs"), "y": _Data("training labels"),
            "validation_data": (_Data("validation inputs"), _Data("validation labels")), "epochs": 1, "callbacks": []}


FIT_TAKEN = {"batch_size": "train.batch_size", "shuffle": "data.order"}  # what fit() may pass, and the setting it becomes
FIT_REFUSED = {  # what fit() may not set, and the setting that does it in the suite
    "class_weight": "data.rebalance: class_weight", "sample_weight": "data.rebalance",
    "validation_split": "data.validation", "validation_freq": "(validation after every epoch)",
    "steps_per_epoch": "train.steps", "initial_epoch": "train.epochs", "epochs": "train.epochs and train.patience",
    "callbacks": "train.patience (early stopping) and train.schedule", "x": "data:", "y": "data:",
    "validation_data": "data.validation"}


class _Recorder:
    """The model a HyperModel's fit() is given while the suite reads it: its fit() records what it is asked for."""

    def __init__(self):
        self.asked: dict[str, Any] | None = None

    def fit(self, *args, **kwargs):
        self.asked = {**dict(zip(("x", "y", "batch_size", "epochs"), args)), **kwargs}


def _fit_arguments(name: str, fit: Callable, hp) -> dict[str, Any]:
    """What a HyperModel's fit(hp, model, **the tuner's arguments) passes to ``model.fit`` with these ``hp`` values:
    ``batch_size`` and ``shuffle`` where it sets them. Anything else it changes is refused in one line."""
    model, passed = _Recorder(), _passed()
    try:
        fit(hp, model, **passed)
    except Exception as e:  # noqa: BLE001 - whatever the user's fit raises, name it and where
        raise PluginError(f"model family {name!r}: its HyperModel.fit {boundary.where(e)}raised {one_line(e)} (the suite "
                          "calls it on a stand-in model, to read what it passes to model.fit: its batch_size and shuffle)") from None
    if model.asked is None:
        raise PluginError(f"model family {name!r}: its HyperModel.fit never calls model.fit, so what it would train "
                          "cannot be read; return model.fit(*args, batch_size=..., shuffle=..., **kwargs)")
    for key, value in model.asked.items():
        untouched = key in passed and value is passed[key] and not (key == "callbacks" and value)  # passed on as given
        if key in FIT_TAKEN or untouched or key == "verbose":
            continue
        instead = FIT_REFUSED.get(key, "the study's train: and data: blocks")
        raise PluginError(f"model family {name!r}: its HyperModel.fit passes {key}={value!r} to model.fit, which the suite "
                          f"cannot take: it trains every trial itself, on the study's splits and budget; set {instead} in "
                          "the study instead (batch_size and shuffle are taken from fit)")
    return {k: model.asked[k] for k in FIT_TAKEN if k in model.asked}


def _fitted(name: str, probe: Callable, settings):
    """A trial's settings with what its family's HyperModel.fit passes to model.fit, at the trial's hp values."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.values.update(settings.model.hp)
    asked = probe(hp)
    train, data = {}, {}
    if "batch_size" in asked:
        size = asked["batch_size"]
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise PluginError(f"model family {name!r}: its HyperModel.fit passes batch_size={size!r}: not a positive integer")
        train["batch_size"] = int(size)
    if "shuffle" in asked:
        data["order"] = "shuffled" if asked["shuffle"] else "none"
    return settings.model_copy(update={"train": settings.train.model_copy(update=train),
                                       "data": settings.data.model_copy(update=data)})


HP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXPLORE_BUILDS = 64  # builds spent finding the hp.* calls behind choices and loops
MAX_STEPS = 256  # a stepped range with at most this many points becomes its list of points


def explore(name: str, fn: Callable, fit: Callable | None = None) -> tuple[dict[str, Any], dict[str, Any], list[str], list[str]]:
    """A build function's hyperparameters: ``(defaults, tune.space entries, inert, settings fit sets)`` by name;
    ``fit``: a HyperModel's fit, read with each build's values (its hp.* calls act through model.fit, never inert).

    keras-tuner finds a search space by building: an ``hp.Int("units_" + str(i))`` inside a loop over
    ``hp.Int("layers", 1, 3)``, or a call under a conditional scope, shows up only when its parent
    takes another value. So the function is built with its defaults, then with each choice, flag
    and range end of every parameter found so far, until no build finds a new one. Conditions are
    not kept: a parameter is sampled in every trial, and unused where its branch is not taken.

    A parameter whose every value builds the same layers is inert: typically a learning rate that
    only reaches ``compile()``, which the suite replaces. It stays a setting but is not searched."""
    import keras
    import keras_tuner

    found: dict[str, Any] = {}  # name -> the first registered keras_tuner hyperparameter
    tried: set[tuple[str, str]] = set()
    pending: list[tuple[dict, str | None, str]] = [({}, None, "")]  # values, the parameter varied, the build varied from
    structures: dict[str, str] = {}  # a build's values -> the layers it built
    moved: set[str] = set()
    sets: set[str] = set()
    builds = 0
    while pending and builds < EXPLORE_BUILDS:
        values, varied, base = pending.pop(0)
        hp = keras_tuner.HyperParameters()
        hp.values.update(values)
        try:
            model = fn(hp)
        except Exception as e:  # noqa: BLE001 - whatever the user's function raises, name the family
            at = f" with {values}" if values else ""
            raise PluginError(f"model family {name!r}: building it{at} {boundary.where(e)}raised {one_line(e)}") from None
        if not isinstance(model, keras.Model):
            raise PluginError(f"model family {name!r}: its build function returned {type(model).__name__}, not a keras.Model")
        builds += 1
        key = repr(sorted(values.items()))
        structures[key] = _layers(model)
        if varied is not None and structures[key] != structures[base]:
            moved.add(varied)
        if fit is not None:
            before = {p.name for p in hp.space}
            sets.update(FIT_TAKEN[k] for k in fit(hp))
            moved.update(p.name for p in hp.space if p.name not in before)  # fit's own: they act through model.fit
        for p in hp.space:
            if p.name in found:
                continue
            found[p.name] = p
            for value in _probes(p):
                if (p.name, repr(value)) not in tried:
                    tried.add((p.name, repr(value)))
                    pending.append(({**values, p.name: value}, p.name, key))
    if not found:
        raise PluginError(f"model family {name!r}: its build function makes no hp.* call; register it without hypermodel=True")
    inert = [] if pending else [k for k, p in found.items() if k not in moved and _probes(p)]  # a cut-short look drops nothing
    defaults, space = {}, {}
    for key, p in found.items():
        defaults[key], entry = _as_setting(name, p)
        if entry is not None and key not in inert:
            space[key] = entry
    return defaults, space, inert, sorted(sets)


def _layers(model) -> str:
    """What a build made, less the layer names every build counts up."""
    layers = [(type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"}) for layer in model.layers]
    return json.dumps(layers, sort_keys=True, default=str)


def _probes(p) -> list:
    """The values of one hyperparameter that may reveal others behind it."""
    kind = type(p).__name__
    if kind == "Choice":
        return list(p.values)
    if kind == "Boolean":
        return [False, True]
    if kind in ("Int", "Float"):
        return [p.min_value, p.max_value]
    return []


def _as_setting(family: str, p) -> tuple[Any, Any]:
    """One keras-tuner hyperparameter as a family setting: its default and its tune.space entry."""
    kind, at = type(p).__name__, f"model family {family!r}: hp.{type(p).__name__}({p.name!r})"
    if not HP_NAME.match(p.name):
        raise PluginError(f"{at}: the suite names it model.hp.{p.name}, so it must be a Python identifier")
    if kind == "Fixed":
        return p.value, None
    if kind == "Boolean":
        return bool(p.default), [False, True]
    if kind == "Choice":
        return p.default, list(p.values)
    sampling = getattr(p, "sampling", "linear") or "linear"
    step = getattr(p, "step", None)
    if kind in ("Int", "Float") and step and (kind == "Float" or step != 1):
        points = [int(v) if kind == "Int" else float(f"{v:.12g}") for v in p.values]
        if len(points) <= MAX_STEPS:  # keras-tuner samples such a range on its steps: so do its choices
            return p.default, points
    if kind == "Int":
        if sampling != "linear":
            raise PluginError(f"{at}: sampling={sampling!r} is not supported for integers; list the values with hp.Choice")
        entry = {"int": [p.min_value, p.max_value]}
        if step and step != 1:
            entry["step"] = step
        return int(p.default), entry
    if kind == "Float":
        if sampling not in ("linear", "log"):
            raise PluginError(f"{at}: sampling={sampling!r} is not supported; use 'linear' or 'log'")
        entry = {sampling: [float(p.min_value), float(p.max_value)]}
        if step:
            entry["step"] = step
        return float(p.default), entry
    raise PluginError(f"{at}: an unknown kind of hyperparameter")
