"""One trial through real Keras: every model family and dataset builds and trains; NaN is caught."""

import math

import pytest

from suite.study import Model, Settings, Target
from suite.train import models, trial
from suite.train.kept import Kept

TARGET = Target(metric="val_accuracy", value=0.2)


def settings(**sections) -> Settings:
    base = {
        "data": {"dataset": "mnist1d", "train_size": 200},
        "model": {"depth": 1, "width": 16},
        "train": {"epochs": 2, "batch_size": 64},
    }
    for section, values in sections.items():
        base[section] = {**base[section], **values}
    return Settings.model_validate(base)


@pytest.mark.slow
@pytest.mark.parametrize(
    "data, model",
    [
        ({"dataset": "mnist1d"}, {"family": "cnn", "depth": 2, "width": 8, "normalization": "batch", "residual": True}),
        ({"dataset": "digits", "train_size": None}, {"family": "cnn", "normalization": "group", "groups": 4, "dropout": 0.2}),
        ({"dataset": "synthetic", "train_size": 300}, {"depth": 3, "normalization": "layer", "residual": True, "l1": 1e-4, "l2": 1e-4}),
        ({"dataset": "mnist5k", "train_size": 300}, {"init": "normal", "init_std": 0.01, "activation": "tanh"}),
    ],
)
def test_families_and_datasets_train(data, model):
    result = trial.run(settings(data=data, model=model), seed=0, target=TARGET)
    assert len(result.history["val_accuracy"]) == 2 == len(result.history["epoch_train_s"])
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0
    assert result.metrics["diverged"] == 0.0
    assert result.parameters > 0


def test_depth_zero_is_logistic_regression():
    m = models.build(Model(depth=0), (40,), 10)
    assert m.count_params() == 40 * 10 + 10


def test_residual_mlp_adds_skips():
    plain = models.build(Model(depth=3, width=8), (40,), 10)
    residual = models.build(Model(depth=3, width=8, residual=True), (40,), 10)
    assert sum(type(l).__name__ == "Add" for l in residual.layers) == 2  # the first layer changes width: no skip
    assert plain.count_params() == residual.count_params()


def test_cnn_pooling_and_head_options_build_what_they_say():
    def layers(m):
        return [type(l).__name__ for l in m.layers]

    base = dict(family="cnn", depth=2, width=8, kernel_size=3)
    flat = models.build(Model(**base), (28, 28), 10)
    assert layers(flat).count("MaxPooling2D") == 2 and "Flatten" in layers(flat)
    average = models.build(Model(**base, pooling="average"), (28, 28), 10)
    assert layers(average).count("AveragePooling2D") == 2 and "MaxPooling2D" not in layers(average)
    assert average.count_params() == flat.count_params()
    strided = models.build(Model(**base, stride=2), (28, 28), 10)
    assert not any("Pooling" in name for name in layers(strided)) and strided.output_shape == (None, 10)
    gap = models.build(Model(**base, head="global_average"), (28, 28), 10)
    assert "GlobalAveragePooling2D" in layers(gap) and "Flatten" not in layers(gap)
    assert flat.count_params() - gap.count_params() == (7 * 7 * 8 - 8) * 10  # the head reads 8 values, not 7x7x8
    assert "GlobalAveragePooling1D" in layers(models.build(Model(**base, head="global_average", pooling="average"), (40,), 10))


@pytest.mark.slow
def test_diverging_run_stops_and_is_flagged():
    s = settings(train={"optimizer": "sgd", "learning_rate": 1e12, "epochs": 5}, model={"init": "normal", "init_std": 1.0})
    result = trial.run(s, seed=0, target=TARGET)
    assert result.metrics["diverged"] == 1.0
    assert len(result.history["loss"]) == result.metrics["diverged_epoch"] < 5  # stopped at the NaN epoch
    assert result.metrics["epochs_to_target"] is None


@pytest.mark.slow
def test_same_seed_same_numbers():
    a = trial.run(settings(model={"dropout": 0.3}), seed=3, target=TARGET)
    b = trial.run(settings(model={"dropout": 0.3}), seed=3, target=TARGET)
    c = trial.run(settings(model={"dropout": 0.3}), seed=4, target=TARGET)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert a.history[key] == b.history[key]
    assert a.history["loss"] != c.history["loss"]


@pytest.mark.slow
def test_max_norm_keeps_each_hidden_units_incoming_weights_within_the_radius():
    import numpy as np

    from suite.train import fitting, loop, splits

    s = settings(train={"optimizer": "sgd", "learning_rate": 0.5, "epochs": 3})
    data = splits.prepare(s.data)

    def largest_norms(max_norm):
        model = models.build(s.model.model_copy(update={"max_norm": max_norm}), data.input_shape, data.classes)
        fitting.compile_model(model, s.train, 4)
        loop.fit(model, loop.compile_epoch(model, s.train, data), s.train, data, [], seed=0)
        hidden, output = (layer.kernel.numpy() for layer in model.layers if hasattr(layer, "kernel"))
        return np.linalg.norm(hidden, axis=0).max(), np.linalg.norm(output, axis=0).max()

    free, constrained = largest_norms(None), largest_norms(0.5)
    assert free[0] > 0.6 and constrained[0] <= 0.5 + 1e-5  # without it the units' weights grow past the radius
    assert constrained[1] > 0.5  # the output layer is not constrained: hidden units only, as Srivastava et al.


@pytest.mark.slow
def test_a_fixed_data_order_trains_reproducibly_and_differently_from_reshuffling():
    loss = {order: trial.run(settings(data={"order": order}), seed=0, target=TARGET).history["loss"]
            for order in ("shuffled", "once", "sorted")}
    assert len({tuple(v) for v in loss.values()}) == 3
    assert trial.run(settings(data={"order": "sorted"}), seed=0, target=TARGET).history["loss"] == loss["sorted"]


@pytest.mark.slow
def test_augmentation_runs_in_training_only():
    import numpy as np

    from suite.study import Augment

    m = models.build(Model(depth=1, width=8), (40,), 10, Augment(noise=0.5, shift=3))
    x = np.random.default_rng(0).normal(size=(4, 40)).astype("float32")
    assert np.array_equal(m(x, training=False), m(x, training=False))
    assert not np.array_equal(m(x, training=True), m(x, training=False))
    result = trial.run(settings(data={"augment": {"noise": 0.1, "shift": 2}}), seed=0, target=TARGET)
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0 and result.metrics["epochs_run"] >= 1


@pytest.mark.slow
def test_classification_metrics_are_recorded():
    result = trial.run(settings(), seed=0, target=TARGET)
    for key in ("test_macro_f1", "test_macro_precision", "test_macro_recall", "test_balanced_accuracy",
                "test_roc_auc", "test_pr_auc", "initial_loss", "train_loss", "near_zero_weights"):
        value = result.metrics[key]
        assert isinstance(value, float) and math.isfinite(value), key
        if key.startswith("test_") or key == "near_zero_weights":  # scores and shares
            assert 0.0 <= value <= 1.0, (key, value)
    assert abs(result.metrics["initial_loss"] - 2.3026) < 0.5  # about ln(10) at initialisation


@pytest.mark.slow
def test_a_reused_compiled_model_starts_where_a_fresh_build_would():
    kept = Kept()  # what a run keeps across its trials
    s = settings(model={"dropout": 0.3})
    trial.run(s, seed=0, target=TARGET, kept=kept)
    after_another_seed = trial.run(s, seed=1, target=TARGET, kept=kept)  # the cell's traced model, re-initialised
    kept.forget_models()  # the next trial builds and traces from scratch
    fresh = trial.run(s, seed=1, target=TARGET, kept=kept)
    assert after_another_seed.history == {**fresh.history, "epoch_train_s": after_another_seed.history["epoch_train_s"]}
    assert {k: v for k, v in after_another_seed.metrics.items() if not k.endswith("_s")} == {
        k: v for k, v in fresh.metrics.items() if not k.endswith("_s")
    }


@pytest.mark.slow
def test_a_compiled_model_reused_at_another_learning_rate_and_budget_trains_as_a_fresh_one():
    kept = Kept()  # what a run keeps across its trials
    trial.run(settings(train={"learning_rate": 0.5, "epochs": 3}), seed=0, target=TARGET, kept=kept)
    models = list(kept.models.values())
    s = settings(train={"learning_rate": 0.01, "epochs": 2})
    reused = trial.run(s, seed=0, target=TARGET, kept=kept)
    assert list(kept.models.values()) == models  # the same traced model, at the new rate
    kept.forget_models()
    fresh = trial.run(s, seed=0, target=TARGET, kept=kept)
    assert reused.history["learning_rate"] == fresh.history["learning_rate"] == pytest.approx([0.01, 0.01])
    assert reused.history == {**fresh.history, "epoch_train_s": reused.history["epoch_train_s"]}


@pytest.mark.slow
def test_a_search_alternating_between_two_structures_traces_each_once_and_trains_as_fresh_models():
    kept = Kept()  # what a run keeps across its trials
    a, b = settings(model={"dropout": 0.0}), settings(model={"dropout": 0.3})
    first_a = trial.run(a, seed=0, target=TARGET, kept=kept)
    trial.run(b, seed=0, target=TARGET, kept=kept)
    models = {key: compiled.model for key, compiled in kept.models.items()}
    again_a = trial.run(a, seed=0, target=TARGET, kept=kept)  # back to a: its traced model, not a new one
    assert {key: compiled.model for key, compiled in kept.models.items()} == models
    kept.forget_models()
    fresh_b = trial.run(b, seed=1, target=TARGET, kept=kept)
    trial.run(a, seed=1, target=TARGET, kept=kept)
    reused_b = trial.run(b, seed=1, target=TARGET, kept=kept)
    untimed = lambda history: {k: v for k, v in history.items() if k != "epoch_train_s"}  # noqa: E731
    assert untimed(again_a.history) == untimed(first_a.history)
    assert untimed(reused_b.history) == untimed(fresh_b.history)
    for width in range(8, 8 + kept.models.size + 1):  # a full store starts over rather than growing
        trial.run(settings(model={"width": width}), seed=0, target=TARGET, kept=kept)
    assert len(kept.models) <= kept.models.size


@pytest.mark.slow
def test_class_weights_train_through_the_compiled_epoch():
    rebalanced = settings(data={"imbalance": {"ratio": 4.0, "minority": 3}, "rebalance": "class_weight"})
    result = trial.run(rebalanced, seed=0, target=TARGET)
    assert len(result.history["loss"]) == rebalanced.train.epochs and all(math.isfinite(v) for v in result.history["loss"])


@pytest.mark.slow
@pytest.mark.parametrize("nesterov", [False, True])
def test_the_suites_momentum_sgd_steps_exactly_as_keras_sgd(nesterov):
    import keras
    import numpy as np

    from suite.train.optimizers import _momentum_sgd

    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    weights = []
    for make in (keras.optimizers.SGD, _momentum_sgd(keras)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
        model.compile(make(0.1, momentum=0.9, nesterov=nesterov), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        for _ in range(5):
            model.train_on_batch(x, y)
        weights.append([w.numpy() for w in model.weights])
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


@pytest.mark.slow
def test_a_search_over_momentum_shares_one_trace_and_trains_as_fresh_models():
    kept = Kept()  # what a run keeps across its trials
    at = lambda m: settings(train={"optimizer": "momentum", "momentum": m, "learning_rate": 0.05})  # noqa: E731
    trial.run(at(0.9), seed=0, target=TARGET, kept=kept)
    reused = trial.run(at(0.5), seed=0, target=TARGET, kept=kept)
    assert len(kept.models) == 1  # one trace for both nonzero momenta
    trial.run(at(0.0), seed=0, target=TARGET, kept=kept)
    assert len(kept.models) == 2  # zero momentum has no slots: its own trace
    kept.forget_models()
    fresh = trial.run(at(0.5), seed=0, target=TARGET, kept=kept)
    untimed = lambda history: {k: v for k, v in history.items() if k != "epoch_train_s"}  # noqa: E731
    assert untimed(reused.history) == untimed(fresh.history)


def test_early_stopping_watches_the_monitor_the_study_names():
    from suite.study import Train
    from suite.train import fitting

    (by_accuracy,) = fitting.early_stopping(Train(patience=3, monitor="val_accuracy"))
    (by_loss,) = fitting.early_stopping(Train(patience=3))
    assert (by_accuracy.monitor, by_loss.monitor) == ("val_accuracy", "val_loss")  # Keras maximises an accuracy
    assert by_accuracy.restore_best_weights and by_loss.restore_best_weights
    assert fitting.early_stopping(Train(monitor="val_accuracy")) == []  # no patience, no stopping


def test_adams_epsilon_is_a_setting_a_search_may_tune():
    from suite.study import Train
    from suite.study.applicable import in_effect
    from suite.train import optimizers

    for name in ("adam", "adamw", "rmsprop"):
        assert optimizers.optimizer(Train(optimizer=name, epsilon=0.5)).epsilon == 0.5
    assert optimizers.optimizer(Train(optimizer="adam")).epsilon == 1e-7  # Keras's default
    assert "train.epsilon" not in in_effect(Settings.model_validate({"train": {"optimizer": "sgd"}}))
    assert "train.epsilon" in in_effect(Settings.model_validate({"train": {"optimizer": "adam"}}))
