"""The user's code, called by the suite: what it raises becomes one line naming the plugin file and line,
and the model it builds becomes one the suite can train (built for the data's shape, giving logits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from suite.ground.errors import PluginError, SuiteError, one_line


@dataclass(frozen=True)
class Loaded:
    path: Path
    sha256: str


@dataclass
class Plugins:
    """All this process holds of the user's plugins, in one object (``PLUGINS``): ``plugins.isolated`` puts
    it back, with the registries, in one call."""

    loaded: list[Loaded] = field(default_factory=list)  # plugin files, in load order (``plugins.load``)
    datasets: set[str] = field(default_factory=set)  # dataset names a plugin registered (it may register them again)
    overridden: dict[str, str] = field(default_factory=dict)  # family -> what the suite does instead of its compile
    entry_points_read: bool = False  # the installed packages' entry points were loaded (``plugins.load_installed``)
    importing: Path | None = None  # the plugin file being imported now (its decorators build models as it loads)

    def files(self) -> set[str]:
        return {str(p.path) for p in self.loaded} | ({str(self.importing)} if self.importing else set())


PLUGINS = Plugins()


def built(model, input_shape, what: str):
    """The model with its variables, giving logits: a ``keras.Sequential()`` without an ``Input`` (as keras-tuner's
    and Keras's examples write it) has none until it is built, so it is built here for the data's shape; a final
    softmax (the examples' ending) is dropped, since the suite's loss and metrics take logits; a final sigmoid,
    whose outputs are not one distribution over the classes, is refused."""
    import keras

    if not model.built:
        model.build((None, *tuple(input_shape)))
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not adapted(layer):
            raise PluginError(
                f"{what}: its {type(layer).__name__} layer {layer.name!r} is not adapted: it learns from data with "
                "adapt(), which a build cannot call on the study's training rows, so it would run untrained (the "
                "identity, or every value in one bin); the suite already scales inputs on each split's training rows "
                "(data.scaling): remove the layer, or give it its values (Normalization(mean=..., variance=...))")
    last = model.layers[-1] if model.layers else None
    activation = getattr(last, "activation", None)
    if activation is keras.activations.softmax:
        last.activation = keras.activations.linear
    elif activation is keras.activations.sigmoid:
        raise PluginError(f"{what}: its last layer ends in a sigmoid; the suite trains one softmax over the classes on "
                          "logits: end with a linear layer of one unit per class (activation=None)")
    return model


def adapted(layer) -> bool:
    """False for a Keras preprocessing layer that learns from data by ``adapt()`` and was built without it."""
    import keras

    if isinstance(layer, keras.layers.Normalization):  # built unadapted, it holds mean 0 and variance 1: the identity
        if layer.input_mean is not None or not getattr(layer, "built", False):
            return True
        import numpy as np

        return not (np.all(keras.ops.convert_to_numpy(layer.adapt_mean) == 0)
                    and np.all(keras.ops.convert_to_numpy(layer.adapt_variance) == 1))
    if isinstance(layer, keras.layers.Discretization):
        return layer.bin_boundaries is not None
    if isinstance(layer, (keras.layers.StringLookup, keras.layers.IntegerLookup, keras.layers.TextVectorization)):
        return layer.vocabulary_size() > 2  # only the out-of-vocabulary index (and the mask): no vocabulary yet
    return True


def calling(what: str, fn: Callable, *args):
    """``fn(*args)``, the user's code: whatever it raises becomes one line naming the plugin file and line."""
    try:
        return fn(*args)
    except SuiteError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's code may raise anything: name where
        raise PluginError(f"{what}: {where(e)}raised {one_line(e)}") from None


def innermost(e: BaseException, files: set[str]):
    """The innermost frame of the exception's traceback in one of ``files`` (None when none is)."""
    import traceback

    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename in files]
    return frames[-1] if frames else None


def where(e: BaseException) -> str:
    """``file.py, line N: `` of the innermost frame of the exception in a plugin file ("" when none is)."""
    frame = innermost(e, PLUGINS.files())
    return f"{Path(frame.filename).name}, line {frame.lineno}: " if frame else ""
