"""Inside the network: activation and gradient statistics per layer, on a fixed probe batch.

Measured at initialization (epoch 0) and after every epoch, in training mode
(batch norm normalises with the probe batch's statistics, as it does while
training) but without side effects: the model is called statelessly, so batch
norm's moving averages, dropout's random state and the weights are left exactly
as they were, and a run with diagnostics trains the same numbers as one without.

Keras 3 APIs only, except the one gradient call, which lives in ``backend``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from suite.train import backend

PROBE = 256  # examples in the probe batch: fixed per data split, the same at every epoch
SATURATION = {"tanh": lambda a: np.abs(a) > 0.99, "sigmoid": lambda a: (a < 0.01) | (a > 0.99)}
# Activations whose output is positive exactly where their input is: an output <= 0 means the unit is "off"
SIGN_PRESERVING = ("relu", "leaky_relu", "elu", "selu", "gelu", "silu", "tanh", "linear")
HISTOGRAM_BINS = 41


def hidden_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The activation layers of the hidden blocks, input to output (models name them hidden_1, hidden_2, ...)."""
    return [layer for layer in model.layers if layer.name.startswith("hidden_")]


def weight_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Layers with a kernel, input to output (hidden blocks and the output layer)."""
    return [layer for layer in model.layers if any(w.name == "kernel" for w in layer.trainable_weights)]


def activation_stats(values: np.ndarray, activation: str) -> dict[str, float]:
    """Mean, spread, saturated fraction, and the fractions of units dead and off, of one layer's activations
    (examples x units)."""
    flat = values.reshape(values.shape[0], -1)
    stats = {"mean": float(flat.mean()), "std": float(flat.std())}
    saturated = SATURATION.get(activation)
    stats["saturated"] = float(saturated(flat).mean()) if saturated else 0.0
    # A dead unit outputs zero for every probe example: ReLU's dead units, which pass no gradient either.
    stats["dead"] = float(np.mean(np.all(flat == 0, axis=0))) if activation == "relu" else 0.0
    # An off unit's input is negative for every probe example: for ReLU the same as dead; for leaky ReLU,
    # ELU, GELU... a unit in its negative part everywhere, which still passes a (small) gradient.
    if activation in SIGN_PRESERVING:
        stats["off"] = float(np.mean(np.all(flat <= 0, axis=0)))
    return stats


def histogram(values: np.ndarray, activation: str) -> tuple[list[float], list[int]]:
    """Counts over fixed bins (tanh: [-1, 1], sigmoid: [0, 1], else symmetric around 0); non-finite values left out."""
    values = values[np.isfinite(values)]
    bounds = {"tanh": (-1, 1), "sigmoid": (0, 1)}.get(activation)
    if bounds is None:
        spread = float(np.abs(values).max()) if values.size else 1.0
        bounds = (-(spread or 1.0), spread or 1.0)
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=bounds)
    return edges.tolist(), counts.tolist()


class Taps:
    """A model's hidden activations and kernel gradients on one fixed batch, as a stateless function of the model's
    own variables: ``taps(trainable, non_trainable)``, both in the model's order, gives (hidden activations, kernel
    gradients) as tensors. Called in training mode (batch norm normalises with the probe batch's statistics, as it
    does while training), it changes nothing: the weights, batch norm's moving averages and dropout's random state
    are arguments, not variables it updates.

    A trial trained alone calls it on its model's values (``Probe``); a group maps it over its lanes' values
    (``suite.train.grouped``), so every trial of the group is probed as one alone would be."""

    def __init__(self, model: keras.Model, x: np.ndarray, y: np.ndarray, activation: str, kinds: tuple[str, ...]):
        self.activation, self.kinds = activation, tuple(kinds)
        self.x, self.y = keras.ops.convert_to_tensor(x[:PROBE]), keras.ops.convert_to_tensor(y[:PROBE])
        self.model = keras.Model(model.inputs[0], [model.outputs[0], *(layer.output for layer in hidden_layers(model))])
        at = {id(v): i for i, v in enumerate(model.trainable_variables)}
        self._trainable = [at[id(v)] for v in self.model.trainable_variables]  # the taps' order, from the model's
        at = {id(v): i for i, v in enumerate(model.non_trainable_variables)}
        self._non_trainable = [at[id(v)] for v in self.model.non_trainable_variables]
        at = {id(v): i for i, v in enumerate(self.model.trainable_variables)}
        self._kernels = [at[id(next(w for w in layer.trainable_weights if w.name == "kernel"))]
                         for layer in weight_layers(model)]
        self.loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def __call__(self, trainable, non_trainable):
        trainable = [trainable[i] for i in self._trainable]
        non_trainable = [non_trainable[i] for i in self._non_trainable]

        def outputs(values):
            return self.model.stateless_call(values, non_trainable, self.x, training=True)[0]

        hidden = outputs(trainable)[1:] if "activations" in self.kinds else []
        grads = []
        if "gradients" in self.kinds:
            every = backend.gradients(lambda values: self.loss(self.y, outputs(values)[0]), trainable)
            grads = [every[i] for i in self._kernels]
        return hidden, grads

    def statistics(self, hidden, grads, histograms: bool = False) -> tuple[dict[str, float], dict]:
        """Per-layer scalars (``act_std/03``, ``grad_norm/02``, ...) and, if asked, per-layer activation histograms,
        from one model's hidden activations and kernel gradients (arrays). A diverged model gives NaN statistics
        (left out of the record), never an error."""
        out: dict[str, float] = {}
        hists = {}
        for i, h in enumerate(hidden, start=1):
            values = np.asarray(h)
            for name, value in activation_stats(values, self.activation).items():
                out[f"act_{name}/{i:02d}"] = value
            if histograms:
                hists[i] = histogram(values, self.activation)
        for i, g in enumerate(grads, start=1):
            out[f"grad_norm/{i:02d}"] = float(np.linalg.norm(np.asarray(g)))
        return out, hists


class Probe:
    """The taps of one Keras model, measured on its current values.

    The measurement is one compiled call where the backend has one (``backend.compiled``): run
    eagerly, a deep network's forward and backward pass cost a dispatch per operation, and the
    probe runs after every epoch. ``Probe.of`` keeps the latest model's probe, so the trials of a cell,
    which share their compiled model (``reuse``), share its trace too."""

    def __init__(self, model: keras.Model, x: np.ndarray, y: np.ndarray, activation: str, kinds: tuple[str, ...]):
        self.model, self.taps = model, Taps(model, x, y, activation, kinds)
        self._compute = backend.compiled(self.taps)

    _last: Probe | None = None  # the latest model's: trials run cell by cell, seed after seed

    @classmethod
    def of(cls, model: keras.Model, x: np.ndarray, y: np.ndarray, activation: str, kinds: tuple[str, ...]) -> Probe:
        """The probe of ``model``, made once while it is the latest model probed (a kept model is built for
        one data split, so its probe batch does not change)."""
        last = cls._last
        if last is None or last.model is not model or last.taps.kinds != tuple(kinds) or last.taps.activation != activation:
            cls._last = last = cls(model, x, y, activation, kinds)
        return last

    def measure(self, histograms: bool = False) -> tuple[dict[str, float], dict]:
        """Per-layer scalars and, if asked, histograms of the model as it stands (``Taps.statistics``)."""
        hidden, grads = self._compute([v.value for v in self.model.trainable_variables],
                                      [v.value for v in self.model.non_trainable_variables])
        return self.taps.statistics([keras.ops.convert_to_numpy(h) for h in hidden],
                                    [keras.ops.convert_to_numpy(g) for g in grads], histograms)


def summary(per_epoch: list[dict[str, float]]) -> dict[str, float]:
    """Trial-level numbers a verdict can judge, from the per-layer series (index 0 = initialization)."""
    if not per_epoch:
        return {}
    out = {}
    init, final = per_epoch[0], per_epoch[-1]
    stds = [v for k, v in sorted(init.items()) if k.startswith("act_std/")]
    if stds:
        out["act_std_first_init"], out["act_std_last_init"] = stds[0], stds[-1]
        out["act_std_ratio_init"] = stds[-1] / stds[0] if stds[0] > 0 else float("nan")
        layers = [k.split("/")[1] for k in sorted(init) if k.startswith("act_std/")]
        out["saturated_init"] = float(np.mean([init[f"act_saturated/{n}"] for n in layers]))
        out["dead_init"] = float(np.mean([init[f"act_dead/{n}"] for n in layers]))
        out["saturated_final"] = float(np.mean([final[f"act_saturated/{n}"] for n in layers]))
        if all(f"act_dead/{n}" in final for n in layers):
            out["dead_final"] = float(np.mean([final[f"act_dead/{n}"] for n in layers]))
        for when, values in (("init", init), ("final", final)):
            if all(f"act_off/{n}" in values for n in layers):
                out[f"off_{when}"] = float(np.mean([values[f"act_off/{n}"] for n in layers]))
    for when, values in (("init", init), ("final", final)):
        norms = [v for k, v in sorted(values.items()) if k.startswith("grad_norm/")]
        if len(norms) >= 2:  # first layer against the last hidden layer (the output layer is left out)
            last = norms[-2] if len(norms) > 2 else norms[-1]
            ratio = norms[0] / last if last > 0 else float("nan")
            out[f"grad_ratio_{when}"] = ratio
            # in decades: ratios span many orders of magnitude, and means and t-tests belong on this scale
            out[f"grad_ratio_log10_{when}"] = float(np.log10(ratio)) if ratio > 0 else float("nan")
            out[f"grad_first_{when}"] = norms[0]
    return out


@dataclass
class Record:
    """One trial's probes: per-layer scalars at initialization (index 0) and after every epoch it trained, and the
    activation histograms at initialization."""

    per_epoch: list[dict[str, float]] = field(default_factory=list)
    histograms: dict = field(default_factory=dict)

    def add(self, values: dict[str, float]) -> None:
        self.per_epoch.append(values)

    def series(self) -> dict[str, list[float]]:
        keys = sorted({k for values in self.per_epoch for k in values})
        return {k: [values.get(k, float("nan")) for values in self.per_epoch] for k in keys}


class Recorder(keras.callbacks.Callback):
    """Measures the probe at initialization and after every epoch (outside the training clock), into ``record``."""

    def __init__(self, probe: Probe):
        super().__init__()
        self.probe = probe
        self.record = Record()

    def on_train_begin(self, logs=None):
        values, self.record.histograms = self.probe.measure(histograms=True)
        self.record.add(values)

    def on_epoch_end(self, epoch, logs=None):
        self.record.add(self.probe.measure()[0])
