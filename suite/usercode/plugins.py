"""The user's own model families and datasets, from a plugin file or an installed package.

A study file stays data: it names a family (``model: {family: wide_deep, units: 64}``)
or a dataset (``data: {dataset: my_table}``), and the Python that builds it is loaded
from a file given on the command line (``suite run STUDY --plugin my_models.py``) or
from an installed package's ``suite.plugins`` entry point. In it::

    import keras
    from suite import register_model

    @register_model("wide_deep", settings={"units": 32, "blocks": 2, "dropout": 0.0})
    def wide_deep(settings, input_shape, num_classes):
        ...  # an uncompiled keras.Model with num_classes logits

A family's declared settings, with their defaults and so their types, are checked like
the built-in ones (``suite.study.settings.Model``), can be grid axes and ``tune:``
entries; a key it does not declare is refused by name. A plugin file is part of the
trials' identity: its hash enters the code version (``suite.record.provenance``).

An existing keras-tuner build function comes unchanged with ``hypermodel=True``::

    @register_model("my_search", hypermodel=True)
    def build_model(hp):
        ...  # hp.Int("units", 32, 256, step=32), hp.Choice("activation", ["relu", "tanh"]) ...

Its ``hp.*`` calls become the family's settings (``model.hp.units``) and join the study's
``tune.space``: see ``suite.usercode.hypermodel``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

from suite.ground.errors import PluginError, SuiteError, one_line
from suite.train.registry import Family
from suite.usercode import boundary
from suite.usercode.boundary import PLUGINS, Loaded

ENTRY_POINTS = "suite.plugins"




def register_model(name: str, settings: dict[str, Any] | None = None, hypermodel: bool = False):
    """Register ``fn(settings, input_shape, num_classes) -> keras.Model`` as model family ``name``.

    ``settings``: the family's own settings and their defaults (int, float, str, bool or a list);
    a study sets them in its ``model:`` block beside the shared ones (``family``, ``activation``...).
    A shared one declared here (``dropout``) keeps its own checks and takes this default.

    ``hypermodel=True``: ``fn(hp) -> keras.Model`` is a keras-tuner build function; its ``hp.*``
    calls declare the settings (see the module's docstring)."""
    from suite.train import models

    if hypermodel:
        if settings:
            raise PluginError(f"register_model({name!r}, hypermodel=True): its settings are its hp.* calls; drop settings=")
        from suite.usercode import hypermodel as hyper

        return hyper.register(name)
    declared = dict(settings or {})
    for key, default in declared.items():
        if not isinstance(default, (int, float, str, bool, list)):
            raise PluginError(f"register_model({name!r}): setting {key!r} needs a default of int, float, str, bool or list")

    def bind(fn: Callable) -> Callable:
        if name in models.FAMILIES and models.plugin_family(name) is None:
            raise PluginError(f"register_model({name!r}): a built-in family has that name")

        def build(m, input_shape, classes, augment=None):
            import keras

            model = boundary.calling(f"model family {name!r}", fn, m, tuple(input_shape), classes)
            if not isinstance(model, keras.Model):  # cheap, every build; its outputs: tried once, in try_build
                raise PluginError(f"model family {name!r}: its function returned {type(model).__name__}, not a keras.Model")
            return boundary.built(model, input_shape, f"model family {name!r}")

        models.FAMILIES.add(name, Family(build, settings=declared, plugin=True))
        return fn

    return bind


def register_dataset(name: str):
    """Register ``fn(data settings) -> (x, y)`` or ``(x, y, x_test, y_test)`` as dataset ``name``.

    Labels may be integers or strings (encoded in sorted order, their names kept); without a test
    split, ``data.test`` of ``x`` is held out as for the built-in datasets."""
    from suite.train import datasets, files

    def bind(fn: Callable) -> Callable:
        if name in datasets.known() and name not in PLUGINS.datasets:
            raise PluginError(f"register_dataset({name!r}): a built-in dataset has that name")

        def load(data):
            arrays = boundary.calling(f"dataset {name!r}", fn, data)
            if not isinstance(arrays, tuple) or len(arrays) not in (2, 4):
                raise PluginError(f"dataset {name!r}: its function must return (x, y) or (x, y, x_test, y_test)")
            keys = ("x", "y", "x_test", "y_test")[: len(arrays)]
            return files.source_of(dict(zip(keys, arrays)), f"dataset {name!r}")

        datasets.loader(name)(load)
        PLUGINS.datasets.add(name)
        return fn

    return bind


def try_build(settings, input_shape: tuple[int, ...], classes: int) -> None:
    """Before any trial: build a plugin family's model for these settings and check that it maps a batch
    to ``classes`` outputs per example, logits or a regression's one value (the runner calls this once per cell)."""
    import keras

    from suite.train import models

    family, input_shape = settings.model.family, tuple(input_shape)
    model = models.build(settings.model, input_shape, classes, settings.data.augment)
    try:
        out = model(keras.ops.zeros((2, *input_shape)), training=False)
    except Exception as e:  # noqa: BLE001 - whatever the user's model raises, name the family
        raise PluginError(f"model family {family!r}: calling it on inputs of shape {input_shape} raised {one_line(e)}") from None
    shape = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
    if shape != (2, classes):
        wanted = ("one value per example (data.task: regression)" if settings.data.task == "regression"
                  else f"{classes} logits per example (one per class)")
        raise PluginError(f"model family {family!r}: the model must output {wanted}; a batch of 2 gave {shape}")
    if getattr(model, "compiled", False) and family not in PLUGINS.overridden:  # keras-tuner build functions compile; the
        inert = ", ".join(f"model.hp.{k}" for k in models.FAMILIES[family].inert)  # suite compiles its own way
        PLUGINS.overridden[family] = (f"model family {family!r} compiles its model; the study's train: block replaces that "
                              + ("(optimizer, learning rate, the task's loss)" if settings.data.task == "regression"
                                 else "(optimizer, learning rate, loss on logits)")
                              + (f", so {inert} changes no layer and is not searched" if inert else "")
                              + ": search train.learning_rate in tune.space instead")
        print(f"note: {PLUGINS.overridden[family]}", file=sys.stderr)


def load(paths: list[str]) -> None:
    """Import each plugin file (by path, as its own module), registering what it defines."""
    for given in paths:
        path = Path(given).resolve()
        if any(done.path == path for done in PLUGINS.loaded):
            continue
        if not path.is_file() or path.suffix != ".py":
            raise PluginError(f"--plugin {given}: no such Python file")
        source = path.read_bytes()
        name = f"suite_plugin_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        PLUGINS.importing = path  # an error its decorators raise (a hyper-model explored as it registers) names its line
        try:
            spec.loader.exec_module(module)
        except SuiteError:
            sys.modules.pop(name, None)
            raise
        except BaseException as e:
            sys.modules.pop(name, None)
            if isinstance(e, KeyboardInterrupt):
                raise
            raise PluginError(f"--plugin {given}: importing it {where_in(e, path)}raised {one_line(e)}") from None
        finally:
            PLUGINS.importing = None
        PLUGINS.loaded.append(Loaded(path, hashlib.sha256(source).hexdigest()))


def where_in(e: BaseException, path: Path) -> str:
    """``at line N `` of the innermost frame of the exception in ``path`` ("" when none is)."""
    frame = boundary.innermost(e, {str(path)})
    return f"at line {frame.lineno} " if frame else ""


def load_installed() -> bool:
    """Load the installed packages' ``suite.plugins`` entry points, once; whether any was new."""
    if PLUGINS.entry_points_read:
        return False
    PLUGINS.entry_points_read = True
    from importlib.metadata import entry_points

    found = False
    for point in entry_points(group=ENTRY_POINTS):
        try:
            point.load()
        except Exception as e:  # noqa: BLE001 - a broken package must say which it is
            raise PluginError(f"the installed plugin {point.name!r} ({point.value}) failed to load: {one_line(e)}") from None
        found = True
    return found


def digest() -> str:
    """The loaded plugin files' hashes, for the code version ("" without plugins)."""
    return ",".join(f"{p.path.name}:{p.sha256[:12]}" for p in PLUGINS.loaded)


@contextlib.contextmanager
def isolated():
    """Inside: the registries and ``PLUGINS`` as they are now, with installed entry points to be read afresh; on
    exit, both put back (a test registers its own plugins and leaves nothing behind)."""
    from suite.train import datasets, models

    families, loaders = dict(models.FAMILIES._entries), dict(datasets.LOADERS._entries)
    saved = copy.deepcopy(PLUGINS)
    PLUGINS.entry_points_read = False
    try:
        yield PLUGINS
    finally:
        models.FAMILIES._entries, datasets.LOADERS._entries = families, loaders
        vars(PLUGINS).update(vars(saved), entry_points_read=False)
