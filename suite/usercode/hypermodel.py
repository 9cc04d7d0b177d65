"""A keras-tuner build function as a model family: ``register_model(name, hypermodel=True)``.

keras-tuner users describe a search space by calling ``hp.Int``, ``hp.Choice``... inside the
function that builds the model. Here those calls become the family's settings
(``model.hp.units``, with the call's default) and their ranges join the study's ``tune.space``
(``suite.study.grid``), so the study's own ``tune.algorithm`` searches them per cell within its
budget. To build a trial's model, the function is called with a ``HyperParameters`` holding the
trial's values.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any, Callable

from suite.ground.errors import PluginError, one_line
from suite.train.registry import Family
from suite.usercode import boundary


def register(name: str):
    """``@register_model(name, hypermodel=True)``: ``fn(hp)`` as model family ``name``."""
    from suite.train import models

    def bind(given) -> Callable:
        if name in models.FAMILIES and models.plugin_family(name) is None:
            raise PluginError(f"register_model({name!r}): a built-in family has that name")
        fn = _build_function(given)
        if len(inspect.signature(fn).parameters) != 1:
            raise PluginError(f"register_model({name!r}, hypermodel=True): a keras-tuner build function takes one argument, hp")
        declared, space, inert = explore(name, fn)

        def build(m, input_shape, classes, augment=None):
            import keras
            import keras_tuner

            hp = keras_tuner.HyperParameters()
            hp.values.update(m.hp)  # registered with these values, not the calls' defaults
            model = boundary.calling(f"model family {name!r}", fn, hp)
            if not isinstance(model, keras.Model):
                raise PluginError(f"model family {name!r}: its build function returned {type(model).__name__}, not a keras.Model")
            return boundary.built(model, input_shape, f"model family {name!r}")

        models.FAMILIES.add(name, Family(build, settings={"hp": declared}, space=space, inert=tuple(inert), plugin=True,
                                         hypermodel=True))
        return given

    return bind


def _build_function(given) -> Callable:
    """A keras-tuner build function, from the function itself or from the ``keras_tuner.HyperModel`` subclass
    form (a class, or an instance) whose ``build(hp)`` it is."""
    import keras_tuner

    if isinstance(given, type) and issubclass(given, keras_tuner.HyperModel):
        given = given()
    if isinstance(given, keras_tuner.HyperModel) and type(given).fit is not keras_tuner.HyperModel.fit:
        raise PluginError(
            f"{type(given).__name__}.fit: a HyperModel's own fit() is not called: the suite trains every trial itself, "
            "by the study's train: and data: blocks; search what it tunes in tune.space instead (train.batch_size, "
            "data.order for shuffling, train.epochs) and remove fit()")
    if isinstance(given, keras_tuner.HyperModel):  # the class's own build(self, hp): the instance's is a wrapper
        return type(given).build.__get__(given, type(given))
    return given


HP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXPLORE_BUILDS = 64  # builds spent finding the hp.* calls behind choices and loops
MAX_STEPS = 256  # a stepped range with at most this many points becomes its list of points


def explore(name: str, fn: Callable) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A build function's hyperparameters: ``(defaults, tune.space entries, inert)`` by name.

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
    return defaults, space, inert


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
