"""Which executor trains each study by default (suite.running.executor): grouped on JAX where every trial groups,
alone on TensorFlow otherwise, each reason naming what would let it group, and a claim in seconds always alone."""

from pathlib import Path

import pytest

from suite.running import executor
from suite.running.executor import Path as Way
from suite.study import load_study
from suite.train.groups import Plan, alone_because

ROOT = Path(__file__).resolve().parent.parent
STUDIES = sorted((ROOT / "studies").glob("*.yaml"))


@pytest.fixture(scope="module")
def committed():
    return {p.stem: load_study(p, "quick") for p in STUDIES}


def test_every_committed_study_has_a_path_and_each_alone_one_says_why(committed, monkeypatch):
    monkeypatch.setattr(executor, "installed", lambda package: True)  # a machine with both backends
    ways = {name: executor.choose(r) for name, r in committed.items()}
    assert {w.executor for w in ways.values()} == {"grouped", "alone"}
    for name, way in ways.items():
        assert (way.executor, way.backend) in (("grouped", "jax"), ("alone", "tensorflow")), name
        # alone with its reasons; grouped with none, or only search candidates that train alone beside its groups
        assert bool(way.reasons) == (way.executor == "alone") or all(executor.SEARCH in r for r in way.reasons), name
        for reason in way.reasons:
            assert "would let it group" in reason or "timed alone" in reason or "without TensorFlow it groups" in reason
    # The measured cases behind the rule (README, "What the suite costs"):
    assert ways["l1_sparsity"].grouped and ways["weight_decay"].grouped and ways["normalization_batch_size"].grouped
    # the diagnostics' probes are mapped over a group's lanes: the probed studies group
    assert ways["activations"] == ways["vanishing_gradients"] == ways["weight_init"] == Way("grouped", "jax")
    assert not any("diagnostics" in r for r in ways["weight_init_cnn"].reasons)  # a CNN: alone for its family only
    assert not ways["batch_norm_cnn"].grouped and any("model.family: cnn" in r for r in ways["batch_norm_cnn"].reasons)
    assert any(r.startswith("a claim in seconds (epoch_time_s") for r in ways["batch_size"].reasons)
    # a decaying schedule, a clip norm and class weights train in a group (the schedule scales each lane's rate)
    assert ways["lr_schedule"].grouped and ways["gradient_clipping"].grouped and ways["class_imbalance"].grouped
    assert any("an ensemble" in r for r in ways["ensembles"].reasons)
    # a sweep over the rate and an Adam-family epsilon trains its points as lanes (epsilon is a variable, as the rate is)
    assert ways["optimizers"] == Way("grouped", "jax")
    # search candidates over momentum (a grid and a random search) train alone beside the groups, on JAX
    assert ways["search_algorithms"].grouped and all(executor.SEARCH in r for r in ways["search_algorithms"].reasons)
    assert ways["search_algorithms"].line().startswith("grouped (jax); alone beside its groups: a grid search over")


def test_a_bound_backend_is_kept_and_a_claim_in_seconds_is_timed_alone(committed):
    assert executor.choose(committed["dropout"], bound="jax") == Way("grouped", "jax")
    # on JAX a study whose trials cannot all group still groups those that can; the rest train alone beside them
    assert executor.choose(committed["activations"], bound="jax").grouped
    seconds = executor.choose(committed["batch_size"], bound="jax")
    assert not seconds.grouped and seconds.reasons[0].startswith("a claim in seconds")
    assert executor.choose(committed["dropout"], bound="tensorflow") == Way(
        "alone", "tensorflow", ("this process's backend is tensorflow",))
    assert executor.choose(committed["dropout"], requested="alone", bound="jax").backend == "jax"
    assert executor.choose(committed["dropout"], parallel=True).executor == "alone"


def test_a_machine_without_tensorflow_groups_every_study_but_a_claim_in_seconds(committed, monkeypatch):
    monkeypatch.setattr(executor, "installed", lambda package: package != "tensorflow")  # the lent GPU machine
    assert executor.choose(committed["batch_norm_cnn"]) == Way(
        "alone", "jax", executor.choose(committed["batch_norm_cnn"], bound="jax").reasons)  # its claim is in seconds
    assert executor.choose(committed["activations"]) == Way("grouped", "jax")
    monkeypatch.setattr(executor, "installed", lambda package: package != "jax")
    way = executor.choose(committed["dropout"])
    assert way.executor == "alone" and way.reasons[-1] == "JAX is not installed (pip install jax)"


def test_the_reasons_a_trial_trains_alone_are_the_ones_that_keep_it_out_of_its_group(committed):
    settings = next(c.settings for c in committed["ensembles"].cells if c.settings.model.members > 1)
    plan = Plan()
    plan.add(settings, [(0, float(settings.train.learning_rate))], evaluate=True)
    assert alone_because(settings) and not plan.applies(settings)
    plain = settings.model_copy(update={"model": settings.model.model_copy(update={"members": 1, "resample": "none"})})
    plan.add(plain, [(0, float(plain.train.learning_rate))], evaluate=True)
    assert alone_because(plain) == [] and plan.applies(plain)
    assert plan.applies(plain, evaluate=True) and not plan.applies(plain, evaluate=False)  # a search's group: not planned


def test_studies_on_one_backend_run_together_in_order():
    ways = [Way("grouped", "jax"), Way("grouped", "jax"), Way("alone", "tensorflow", ("x",)), Way("grouped", "jax")]
    assert executor.segments(ways) == [("jax", [0, 1]), ("tensorflow", [2]), ("jax", [3])]
    assert Way("alone", "tensorflow", ("first", "second")).line() == "alone (tensorflow): first (+1 more)"
    assert Way("grouped", "jax").line() == "grouped (jax)"
