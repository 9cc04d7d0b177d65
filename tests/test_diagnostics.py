"""Diagnostics: known answers on hand-built models, and no effect (and no work) when off."""

import keras
import numpy as np
import pytest

from suite.study import Settings, Target
from suite.train import diagnostics, trial


def test_saturation_and_dead_units_on_constructed_activations():
    tanh = np.array([[0.995, 0.5], [-0.999, 0.0]])
    assert diagnostics.activation_stats(tanh, "tanh")["saturated"] == 0.5
    sigmoid = np.array([[0.005, 0.5, 0.999, 0.98]])
    assert diagnostics.activation_stats(sigmoid, "sigmoid")["saturated"] == 0.5
    relu = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]])  # unit 0 never fires: one dead unit of three
    stats = diagnostics.activation_stats(relu, "relu")
    assert stats["dead"] == pytest.approx(1 / 3) and stats["saturated"] == 0.0
    assert diagnostics.activation_stats(np.full((4, 3), 0.7), "tanh")["std"] == pytest.approx(0.0, abs=1e-12)


def test_units_off_on_the_whole_batch_are_counted_for_every_sign_preserving_activation():
    relu = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]])
    assert diagnostics.activation_stats(relu, "relu")["off"] == pytest.approx(1 / 3)  # off = dead, for ReLU
    leaky = np.array([[-0.01, 1.0, -0.02], [-0.03, 2.0, 3.0]])  # unit 0 negative everywhere: off, not dead
    stats = diagnostics.activation_stats(leaky, "leaky_relu")
    assert stats["off"] == pytest.approx(1 / 3) and stats["dead"] == 0.0
    assert "off" not in diagnostics.activation_stats(np.full((2, 3), 0.2), "sigmoid")  # always positive: no "off"
    per_epoch = [{"act_std/01": 1.0, "act_std/02": 1.0, "act_saturated/01": 0.0, "act_saturated/02": 0.0,
                  "act_dead/01": 0.0, "act_dead/02": 0.0, "act_off/01": 0.0, "act_off/02": 0.0},
                 {"act_std/01": 1.0, "act_std/02": 1.0, "act_saturated/01": 0.0, "act_saturated/02": 0.0,
                  "act_dead/01": 0.25, "act_dead/02": 0.5, "act_off/01": 0.25, "act_off/02": 0.5}]
    s = diagnostics.summary(per_epoch)
    assert s["dead_final"] == s["off_final"] == pytest.approx(0.375) and s["off_init"] == 0.0


def hand_built(first_kernel, second_kernel, activation):
    inputs = keras.Input(shape=(4,))
    h = keras.layers.Dense(3, kernel_initializer=first_kernel, bias_initializer="zeros")(inputs)
    h = keras.layers.Activation(activation, name="hidden_1")(h)
    outputs = keras.layers.Dense(2, kernel_initializer=second_kernel, bias_initializer="zeros")(h)
    return keras.Model(inputs, outputs)


def test_a_layer_with_zero_weights_has_zero_activation_spread():
    keras.utils.set_random_seed(0)
    model = hand_built("zeros", "glorot_uniform", "tanh")
    x, y = np.random.default_rng(0).normal(size=(32, 4)).astype("float32"), np.arange(32) % 2
    values, hists = diagnostics.Probe(model, x, y, "tanh", ("activations",)).measure(histograms=True)
    assert values["act_std/01"] == 0.0 and values["act_mean/01"] == 0.0 and values["act_saturated/01"] == 0.0
    assert sum(hists[1][1]) == 32 * 3  # every activation lands in the histogram


def test_weights_below_a_zero_layer_get_no_gradient():
    keras.utils.set_random_seed(0)
    model = hand_built("glorot_uniform", "zeros", "relu")  # nothing flows back through a zero output layer
    x, y = np.random.default_rng(0).normal(size=(32, 4)).astype("float32"), np.arange(32) % 2
    values, _ = diagnostics.Probe(model, x, y, "relu", ("gradients",)).measure()
    assert values["grad_norm/01"] == 0.0
    assert values["grad_norm/02"] > 0.0  # the output layer's own gradient is not zero
    assert not any(k.startswith("act_") for k in values)  # only what was asked for


def test_summary_takes_the_first_and_last_layers():
    per_epoch = [
        {"act_std/01": 0.5, "act_std/02": 0.05, "act_saturated/01": 0.2, "act_saturated/02": 0.4, "act_dead/01": 0.0,
         "act_dead/02": 0.1, "grad_norm/01": 0.01, "grad_norm/02": 0.1, "grad_norm/03": 1.0},
        {"act_std/01": 0.5, "act_std/02": 0.5, "act_saturated/01": 0.0, "act_saturated/02": 0.0, "act_dead/01": 0.0,
         "act_dead/02": 0.0, "grad_norm/01": 0.2, "grad_norm/02": 0.2, "grad_norm/03": 1.0},
    ]
    s = diagnostics.summary(per_epoch)
    assert s["act_std_ratio_init"] == pytest.approx(0.1)
    assert s["saturated_init"] == pytest.approx(0.3) and s["saturated_final"] == 0.0 and s["dead_init"] == pytest.approx(0.05)
    assert s["grad_ratio_init"] == pytest.approx(0.1)  # first layer / last hidden layer (the output layer is left out)
    assert s["grad_ratio_final"] == pytest.approx(1.0)


SETTINGS = Settings.model_validate(
    {"data": {"dataset": "digits", "train_size": 300}, "model": {"depth": 3, "width": 16, "activation": "tanh",
     "normalization": "batch", "dropout": 0.2}, "train": {"epochs": 2, "optimizer": "sgd", "learning_rate": 0.1}}
)
TARGET = Target(metric="val_accuracy", value=0.5)


@pytest.mark.slow
def test_diagnostics_off_probes_nothing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a probe was built with diagnostics off")

    monkeypatch.setattr(diagnostics, "Probe", refuse)
    result = trial.run(SETTINGS, 0, TARGET)
    assert result.series == {} and result.artifacts == {}
    assert not any(k.startswith(("act_", "grad_", "saturated", "dead")) for k in result.metrics)


@pytest.mark.slow
def test_diagnostics_on_leave_the_training_unchanged():
    off = trial.run(SETTINGS, 0, TARGET)
    on = trial.run(SETTINGS, 0, TARGET, diagnostics=("activations", "gradients"))
    timings = {"warmup_s", "train_time_s", "epoch_time_s", "time_to_target_s"}
    assert {k: v for k, v in off.metrics.items() if k not in timings} == {
        k: v for k, v in on.metrics.items() if k in off.metrics and k not in timings
    }
    assert len(on.series["act_std/01"]) == 3 and len(on.series["grad_norm/04"]) == 3  # init + 2 epochs; 3 hidden + output


def test_a_diverged_layer_gives_nan_statistics_and_a_histogram_of_what_is_finite():
    values = np.array([[np.nan, 1.0], [np.inf, -0.5]])
    stats = diagnostics.activation_stats(values, "relu")
    assert np.isnan(stats["mean"]) and np.isnan(stats["std"])
    edges, counts = diagnostics.histogram(values, "relu")
    assert sum(counts) == 2 and len(edges) == diagnostics.HISTOGRAM_BINS + 1
    assert sum(diagnostics.histogram(np.full((2, 2), np.nan), "relu")[1]) == 0
    assert np.isnan(diagnostics.summary([{"act_std/01": np.nan, "act_std/02": 1.0, "act_saturated/01": 0.0,
                                          "act_saturated/02": 0.0, "act_dead/01": 0.0, "act_dead/02": 0.0}])["act_std_ratio_init"])
