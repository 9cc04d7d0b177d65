"""Ensembles: members and their resamples, averaged probabilities, and an ensemble trial through real Keras."""

import math

import numpy as np
import pytest
from test_study import EXAMPLE, error_of

from suite.study import Settings, Target
from suite.train import ensemble, trial

REACHED_AT_ONCE = Target(metric="val_accuracy", value=0.0)


def settings(**model) -> Settings:
    return Settings.model_validate({
        "data": {"dataset": "mnist1d", "train_size": 200},  # 160 training examples: 3 batches of 64
        "model": {"depth": 1, "width": 16, "dropout": 0.2, **model},
        "train": {"epochs": 2, "batch_size": 64},
    })


def test_member_zero_is_the_trial_seed_and_the_others_draw_their_own():
    plan = ensemble.members(4, "none", 7, 100)
    assert plan[0].seed == 7 and len({m.seed for m in plan}) == 4
    assert all(m.rows is None for m in plan)
    assert [m.seed for m in plan] == [m.seed for m in ensemble.members(4, "none", 7, 100)]
    other = ensemble.members(4, "none", 8, 100)
    assert not {m.seed for m in plan} & {m.seed for m in other}  # two trials' ensembles share no member


def test_bootstrap_members_resample_the_training_split_with_replacement():
    plan = ensemble.members(3, "bootstrap", 0, 1000)
    for m in plan:
        assert m.rows.shape == (1000,) and m.rows.min() >= 0 and m.rows.max() < 1000
        assert 0.55 < len(np.unique(m.rows)) / 1000 < 0.71  # about 1 - 1/e of the examples, some repeated
    assert not np.array_equal(plan[0].rows, plan[1].rows)
    assert np.array_equal(plan[2].rows, ensemble.members(3, "bootstrap", 0, 1000)[2].rows)


def test_log_mean_probabilities_is_the_log_of_the_averaged_softmax_and_stable():
    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(5, 4)) * 3 for _ in range(3)]

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    expected = np.log(np.mean([softmax(z) for z in logits], axis=0))
    assert np.allclose(ensemble.log_mean_probabilities(logits), expected)
    huge = [np.array([[1000.0, 0.0]]), np.array([[0.0, 1000.0]])]
    assert np.allclose(ensemble.log_mean_probabilities(huge), np.log([[0.5, 0.5]]))


@pytest.mark.slow
def test_an_ensemble_trains_each_member_as_its_seed_would_and_counts_every_members_cost():
    plan = ensemble.members(3, "none", 5, 160)
    singles = [trial.run(settings(), seed=m.seed, target=REACHED_AT_ONCE) for m in plan]
    ens = trial.run(settings(members=3), seed=5, target=REACHED_AT_ONCE)
    # each member trained exactly as the single network of its seed: the running training loss is their mean
    assert ens.history["loss"] == pytest.approx(np.mean([s.history["loss"] for s in singles], axis=0), rel=1e-12)
    assert ens.parameters == 3 * singles[0].parameters
    assert ens.metrics["epochs_to_target"] == 1
    assert ens.metrics["steps_to_target"] == 3 * 3 and ens.metrics["examples_to_target"] == 3 * 160
    assert len(ens.history["epoch_train_s"]) == 2
    # averaging probabilities never raises the cross-entropy above the members' mean (Jensen)
    assert ens.metrics["test_loss"] <= np.mean([s.metrics["test_loss"] for s in singles]) + 1e-12
    assert ens.metrics["test_accuracy"] != pytest.approx(np.mean([s.metrics["test_accuracy"] for s in singles]))


@pytest.mark.slow
def test_an_ensemble_of_one_is_the_single_network_and_bagging_changes_what_it_sees():
    plain = trial.run(settings(), seed=1, target=REACHED_AT_ONCE)
    one = trial.run(settings(members=1), seed=1, target=REACHED_AT_ONCE)
    assert one.history["loss"] == plain.history["loss"] and one.metrics["test_accuracy"] == plain.metrics["test_accuracy"]
    bagged = trial.run(settings(resample="bootstrap"), seed=1, target=REACHED_AT_ONCE)
    again = trial.run(settings(resample="bootstrap"), seed=1, target=REACHED_AT_ONCE)
    assert bagged.history["loss"] != plain.history["loss"]
    assert bagged.history["loss"] == again.history["loss"]  # the resample is fixed by the seed


@pytest.mark.slow
def test_a_diverging_member_ends_the_ensembles_record():
    s = Settings.model_validate({
        "data": {"dataset": "mnist1d", "train_size": 200},
        "model": {"depth": 1, "width": 16, "members": 2, "init": "normal", "init_std": 1.0},
        "train": {"optimizer": "sgd", "learning_rate": 1e12, "epochs": 5},
    })
    result = trial.run(s, seed=0, target=REACHED_AT_ONCE)
    assert result.metrics["diverged"] == 1.0
    assert len(result.history["loss"]) < 5 and not math.isfinite(result.history["loss"][-1])


def test_members_are_checked(tmp_path):
    assert "model.members" in error_of(tmp_path, EXAMPLE.replace("  dropout: 0.0\n", "  dropout: 0.0\n  members: 0\n"))
    message = error_of(tmp_path, EXAMPLE.replace("  dropout: 0.0\n", "  dropout: 0.0\n  members: 3\n").replace(
        "  epochs: 60\n", "  epochs: 60\n  patience: 5\n"))
    assert "model.members" in message and "patience" in message
    assert "model.resample" in error_of(tmp_path, EXAMPLE.replace("  dropout: 0.0\n", "  dropout: 0.0\n  resample: jackknife\n"))
