"""The user's own model families and datasets: the wine example end to end, entry points, every bad plugin in one line."""

import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from suite.cli import main
from suite.ground.errors import StudyError
from suite.study import Data, load_study
from suite.train.splits import prepare
from suite.usercode import plugins

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "wine"


@pytest.fixture
def clean_registries():
    """Each test registers its own plugins; the registries and the plugin state are put back afterwards."""
    with plugins.isolated():
        yield


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The wine example copied to a folder outside the repository, its CSV written by its own script."""
    folder = tmp_path / "wine"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.csv", "__pycache__"))
    sys.path.insert(0, str(folder))
    try:
        import make_data

        make_data.main(folder / "wine.csv")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("make_data", None)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.mark.slow
def test_the_wine_example_runs_as_a_grid_with_a_verdict_and_records_its_plugin(project, capsys, clean_registries):
    study, plugin = project / "wine.yaml", project / "models.py"
    assert main(["run", str(study), "--profile", "smoke", "--plugin", str(plugin)]) == 0
    report = (project.parent / "home" / "results" / "wine" / "smoke" / "report.md").read_text()
    assert "Three deep blocks reach a better validation accuracy than none." in report
    client = MlflowClient(f"sqlite:///{project.parent / 'home' / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("wine")
    trials = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    assert len(trials) == 4 and {r.info.status for r in trials} == {"FINISHED"}
    assert {r.data.params["model.blocks"] for r in trials} == {"0", "3"}
    assert {r.data.params["model.units"] for r in trials} == {"16"}  # a declared setting, recorded as the built-in ones
    # the built-in MLP's shape does nothing for a family that builds its own layers: neither recorded nor shown
    assert not {"model.depth", "model.width"} & {k for r in trials for k in r.data.params}
    assert "model.dropout" in trials[0].data.params  # a shared setting the family declares stays
    shown = report[report.index("## Settings"):].split("```")[1]
    assert "\n  units:" in shown and "\n  depth:" not in shown and "\n  width:" not in shown
    assert {r.data.tags["suite.plugins"] for r in trials} == {f"models.py:{plugins.PLUGINS.loaded[-1].sha256[:12]}"}
    (parent,) = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'study'")
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "source")} == {"source/wine.yaml", "source/models.py"}

    # An edited plugin is new code: the recorded trials are stale, as after a change to the suite's own code.
    edited = project / "models_v2.py"
    edited.write_text(plugin.read_text().replace('name="wide_deep"', 'name="wide_deep_v2"'))
    plugins.PLUGINS.loaded.clear()
    capsys.readouterr()
    code = main(["run", str(study), "--profile", "smoke", "--plugin", str(edited)])
    err = capsys.readouterr().err
    assert code == 2 and "are stale: the code changed" in err, err


def test_a_declared_setting_is_checked_by_type_and_an_undeclared_one_is_refused_by_name(project, clean_registries):
    plugins.load([str(project / "models.py")])
    raw = yaml.safe_load((project / "wine.yaml").read_text())

    def refused(model: dict) -> str:
        (project / "bad.yaml").write_text(yaml.safe_dump({**raw, "model": {**raw["model"], **model}}))
        with pytest.raises(StudyError) as e:
            load_study(project / "bad.yaml")
        return str(e.value)

    assert refused({"unitz": 8}) == "model.unitz: unknown key (did you mean 'units'?)"
    assert refused({"units": "wide"}).startswith("model.units: must be an integer (as family 'wide_deep' declares it)")
    assert refused({"dropout": True}).startswith("model.dropout: must be a number")
    resolved = load_study(project / "wine.yaml")
    assert [c.settings.model.blocks for c in resolved.cells] == [0, 3]
    assert resolved.cells[0].settings.model.dropout == 0.0  # the declared default fills what the study leaves out
    assert refused({"family": "mlp"}).startswith("model.units: unknown key")  # a built-in family declares none
    # the declaration is a dict, so a builder may read its settings as one
    settings = resolved.cells[1].settings.model
    assert settings["blocks"] == settings.blocks == 3 and settings["dropout"] == 0.0
    with pytest.raises(KeyError, match="model setting 'unitz'"):
        settings["unitz"]


def test_without_its_plugin_a_family_is_refused_saying_which_flag_is_missing(project, capsys, clean_registries):
    assert main(["validate", str(project / "wine.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "model.family: must be one of" in err and "--plugin FILE" in err
    assert "\n" not in err
    assert main(["validate", str(project / "wine.yaml"), "--plugin", str(project / "models.py")]) == 0


BAD_PLUGINS = {
    "raises.py": ("raise RuntimeError('no GPU here')", "--plugin {path}: importing it at line 3 raised RuntimeError: no GPU here"),
    "not_a_model.py": (
        "@register_model('wide_deep')\ndef f(settings, input_shape, num_classes):\n    return 'a model'",
        "model family 'wide_deep': its function returned str, not a keras.Model",
    ),
    "wrong_outputs.py": (
        "@register_model('wide_deep')\ndef f(settings, input_shape, num_classes):\n"
        "    inputs = keras.Input(shape=input_shape)\n"
        "    return keras.Model(inputs, keras.layers.Dense(num_classes + 1)(keras.layers.Flatten()(inputs)))",
        "model family 'wide_deep': the model must output 3 logits per example (one per class); a batch of 2 gave (2, 4)",
    ),
    "bad_default.py": (
        "@register_model('wide_deep', settings={'units': None})\ndef f(settings, input_shape, num_classes):\n    pass",
        "register_model('wide_deep'): setting 'units' needs a default of int, float, str, bool or list",
    ),
    "hp_with_settings.py": (
        "@register_model('wide_deep', settings={'units': 8}, hypermodel=True)\ndef f(hp):\n    pass",
        "register_model('wide_deep', hypermodel=True): its settings are its hp.* calls; drop settings=",
    ),
    "hp_no_calls.py": (
        "@register_model('wide_deep', hypermodel=True)\ndef f(hp):\n"
        "    return keras.Sequential([keras.Input((13,)), keras.layers.Dense(3)])",
        "model family 'wide_deep': its build function makes no hp.* call; register it without hypermodel=True",
    ),
    "hp_log_int.py": (
        "@register_model('wide_deep', hypermodel=True)\ndef f(hp):\n"
        "    return keras.Sequential([keras.Input((13,)), keras.layers.Dense(hp.Int('units', 8, 64, sampling='log'))])",
        "model family 'wide_deep': hp.Int('units'): sampling='log' is not supported for integers; list the values with hp.Choice",
    ),
    "hp_raises_deep.py": (  # found only when exploring: the build function fails for a value of its own space
        "@register_model('wide_deep', hypermodel=True)\ndef f(hp):\n"
        "    if hp.Int('layers', 1, 3) > 2:\n        raise ValueError('too deep')\n"
        "    return keras.Sequential([keras.Input((13,)), keras.layers.Dense(3)])",
        "model family 'wide_deep': building it with {{'layers': 3}} hp_raises_deep.py, line 6: raised ValueError: too deep",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BAD_PLUGINS))
def test_a_bad_plugin_stops_the_run_in_one_line_before_anything_is_recorded(project, capsys, clean_registries, name):
    body, message = BAD_PLUGINS[name]
    path = project / name
    path.write_text("import keras\nfrom suite import register_model\n" + body + "\n")
    study = project / "plain.yaml"  # the declared settings of the example are not in these plugins
    raw = yaml.safe_load((project / "wine.yaml").read_text())
    raw["model"] = {"family": "wide_deep"}
    raw.pop("grid"), raw.pop("expect")
    study.write_text(yaml.safe_dump(raw))
    assert main(["run", str(study), "--profile", "smoke", "--plugin", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: " + message.format(path=path), err
    store = project.parent / "home" / ".suite" / "mlflow.db"
    if store.exists():
        client = MlflowClient(f"sqlite:///{store}")
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


def test_a_registered_dataset_with_string_labels_becomes_splits(clean_registries):
    @plugins.register_dataset("blobs")
    def blobs(data):
        rng = np.random.default_rng(data.seed)
        y = np.repeat(np.array(["cat", "dog"]), 50)
        return rng.normal(size=(100, 5)) + (y == "dog")[:, None], y

    s = prepare(Data(dataset="blobs", test=0.2))
    assert s.class_names == ("cat", "dog") and s.input_shape == (5,) and len(s.y_test) == 20


def test_an_installed_package_offers_its_family_through_an_entry_point(tmp_path, monkeypatch, clean_registries):
    site = tmp_path / "site"
    (site / "teamnets-1.0.dist-info").mkdir(parents=True)
    (site / "teamnets-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: teamnets\nVersion: 1.0\n")
    (site / "teamnets-1.0.dist-info" / "entry_points.txt").write_text("[suite.plugins]\nteamnets = teamnets\n")
    (site / "teamnets.py").write_text(textwrap.dedent("""\
        import keras
        from suite import register_model

        @register_model("team_mlp", settings={"units": 8})
        def team_mlp(settings, input_shape, num_classes):
            inputs = keras.Input(shape=input_shape)
            hidden = keras.layers.Dense(settings.units, activation="relu")(keras.layers.Flatten()(inputs))
            return keras.Model(inputs, keras.layers.Dense(num_classes)(hidden))
    """))
    monkeypatch.syspath_prepend(str(site))
    study = {"name": "team", "title": "t", "claim": "c", "model": {"family": "team_mlp", "units": 4},
             "target": {"metric": "val_accuracy", "value": 0.5}}
    (tmp_path / "team.yaml").write_text(yaml.safe_dump(study))
    resolved = load_study(tmp_path / "team.yaml")  # no flag: the installed entry point is found when the name is
    assert resolved.cells[0].settings.model.units == 4
    monkeypatch.delitem(sys.modules, "teamnets")


def test_a_keras_tuner_build_function_is_explored_for_its_space(clean_registries):
    """Loops and conditional scopes show their hp.* calls only for some values of a parent; a parameter that
    changes no layer (a rate for compile(), which the suite replaces) stays a setting but is not searched."""
    import keras

    from suite.usercode import hypermodel

    def build(hp):
        model = keras.Sequential([keras.Input((4,))])
        for i in range(hp.Int("layers", 1, 3)):
            model.add(keras.layers.Dense(hp.Int(f"units_{i}", 8, 32, step=8)))
        kind = hp.Choice("head", ["plain", "dropout"])
        with hp.conditional_scope("head", ["dropout"]):
            if kind == "dropout":
                model.add(keras.layers.Dropout(hp.Float("rate", 0.1, 0.5)))
        model.add(keras.layers.Dense(2))
        model.compile(keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")), "mse")
        return model

    defaults, space, inert, sets = hypermodel.explore("probe", build)
    assert sets == []  # a build function alone passes nothing to model.fit
    assert defaults == {"layers": 1, "units_0": 8, "head": "plain", "lr": 1e-4, "units_1": 8, "units_2": 8, "rate": 0.1}
    assert space == {
        "layers": {"int": [1, 3]},
        "units_0": [8, 16, 24, 32],  # keras-tuner samples a stepped range on its steps
        "head": ["plain", "dropout"],
        "units_1": [8, 16, 24, 32],
        "units_2": [8, 16, 24, 32],
        "rate": {"linear": [0.1, 0.5]},
    }
    assert inert == ["lr"]


HYPER_GRID = """
name: wine-hp-grid
title: layers as a grid axis, the rest of a build function searched
claim: a grid axis on an hp.* name fixes it; the other calls are searched per cell.
data: {path: wine.csv, label: cultivar, test: 0.25, validation: 0.25}
model: {family: wine_search}
train: {optimizer: adam, learning_rate: 0.01, batch_size: 32, epochs: 2}
grid:
  model.hp.layers: [1, 3]
tune: {algorithm: random, trials: 2}
seeds: [0]
target: {metric: val_accuracy, value: 0.9}
"""


@pytest.mark.slow
def test_a_keras_tuner_build_function_runs_as_a_search_and_under_a_grid(project, capsys, clean_registries):
    search, plugin = project / "wine_search.yaml", str(project / "search.py")
    assert main(["run", str(search), "--profile", "smoke", "--plugin", plugin]) == 0
    err = capsys.readouterr().err
    assert "model.hp.lr changes no layer and is not searched" in err
    client = MlflowClient(f"sqlite:///{project.parent / 'home' / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("wine-search")
    searched = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'search'")
    assert len(searched) == 3 and {r.info.status for r in searched} == {"FINISHED"}
    for run in searched:
        params = run.data.params
        assert int(params["model.hp.layers"]) in (1, 2, 3) and int(params["model.hp.units_0"]) % 8 == 0
        assert params["model.hp.activation"] in ("relu", "tanh") and params["model.hp.dropout"] in ("True", "False")
        assert "model.hp.lr" not in params and 0.001 <= float(params["train.learning_rate"]) <= 0.03
    trials = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    assert len(trials) == 2  # the best setting, rerun with every seed
    candidates = [json.loads(r.data.tags["suite.search_values"]) for r in searched]
    for run in trials:
        chosen = json.loads(run.data.tags["suite.tuned"])
        assert chosen in candidates and "model.hp.units_0" in chosen
        assert all(run.data.params[k] == str(v) for k, v in chosen.items())
        # only what the build function used: its hp values, none of the MLP's defaults, no inert rate
        used = {k for k in run.data.params if k.startswith("model.")}
        assert "model.family" in used and not {"model.width", "model.activation", "model.depth", "model.hp.lr"} & used
    report = (project.parent / "home" / "results" / "wine-search" / "smoke" / "report.md").read_text()
    assert "`model.hp.units_0`" in report and "`train.learning_rate`" in report
    assert "| rank | settings | best val_accuracy | epochs |\n|---|---|---|---|" in report  # the objective, once

    (project / "hp_grid.yaml").write_text(HYPER_GRID)
    assert main(["run", str(project / "hp_grid.yaml"), "--plugin", plugin]) == 0
    exp = client.get_experiment_by_name("wine-hp-grid")
    searched = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'search'")
    assert len(searched) == 4
    for run in searched:  # each cell's search keeps its grid value, and searches the rest
        values = json.loads(run.data.tags["suite.search_values"])
        assert "model.hp.layers" not in values and "model.hp.units_0" in values
    assert sorted(json.loads(r.data.tags["suite.cell_values"])["model.hp.layers"] for r in searched) == [1, 1, 3, 3]
    trials = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    assert sorted(r.data.params["model.hp.layers"] for r in trials) == ["1", "3"]


GETTING_STARTED = '''
import keras
from keras import layers

from suite import register_model


# keras-tuner's "Getting started" build function, as its documentation writes it: no Input,
# a softmax output, and its own compile().
@register_model("kt_getting_started", hypermodel=True)
def build_model(hp):
    model = keras.Sequential()
    model.add(layers.Flatten())
    model.add(
        layers.Dense(
            # Define the hyperparameter.
            units=hp.Int("units", min_value=32, max_value=512, step=32),
            activation="relu",
        )
    )
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer="adam",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@register_model("raises_on_wide", settings={"units": 16})
def raises_on_wide(settings, input_shape, num_classes):
    if settings["units"] > 16:
        raise ValueError("this builder only knows narrow nets")
    return keras.Sequential([keras.Input(input_shape), layers.Dense(settings["units"]), layers.Dense(num_classes)])
'''

GETTING_STARTED_STUDY = """
name: kt-start
title: keras-tuner's getting-started function, pasted
claim: a documented build function runs unchanged.
data: {dataset: digits, train_size: 400}
model: {family: kt_getting_started}
train: {optimizer: adam, learning_rate: 0.001, batch_size: 32, epochs: 2}
tune: {algorithm: random, trials: 3}
seeds: [0, 1]
target: {metric: val_accuracy, value: 0.5}
"""


@pytest.mark.slow
def test_keras_tuners_getting_started_function_runs_as_pasted(tmp_path, monkeypatch, capsys, clean_registries):
    plugin = tmp_path / "kt.py"
    plugin.write_text(GETTING_STARTED)
    (tmp_path / "kt.yaml").write_text(GETTING_STARTED_STUDY)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", str(tmp_path / "kt.yaml"), "--plugin", str(plugin)]) == 0
    client = MlflowClient(f"sqlite:///{tmp_path / 'home' / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("kt-start")
    searched = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'search'")
    trials = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    assert len(searched) == 3 and len(trials) == 2  # 3 candidates, the best one rerun on 2 seeds
    assert {r.info.status for r in searched + trials} == {"FINISHED"}
    # its own compile() is replaced by the study's train: block, and the run says so, as the terminal did
    assert "model family 'kt_getting_started' compiles its model" in capsys.readouterr().err
    (study,) = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'study'")
    assert study.data.tags["suite.compile_overridden"].startswith("model family 'kt_getting_started' compiles its model")


@pytest.mark.slow
def test_a_builder_that_raises_is_one_line_naming_its_file_and_line(tmp_path, monkeypatch, capsys, clean_registries):
    plugin = tmp_path / "kt.py"
    plugin.write_text(GETTING_STARTED)
    study = GETTING_STARTED_STUDY.replace("family: kt_getting_started", "family: raises_on_wide, units: 32")
    study = study.replace("tune: {algorithm: random, trials: 3}\n", "")
    (tmp_path / "wide.yaml").write_text(study)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", str(tmp_path / "wide.yaml"), "--plugin", str(plugin)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    line = next(i for i, l in enumerate(GETTING_STARTED.splitlines(), start=1) if "only knows narrow nets" in l)
    assert err[-1] == (f"error: model family 'raises_on_wide': kt.py, line {line}: raised ValueError: "
                       "this builder only knows narrow nets")


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing file", "misspelled label", "wrong outputs", "unadapted layer"])
def test_validate_refuses_what_run_would_refuse_with_the_same_line(project, capsys, clean_registries, case):
    raw = yaml.safe_load((project / "wine.yaml").read_text())
    plugin = str(project / "models.py")
    if case == "missing file":
        raw["data"]["path"] = "nope.csv"
    elif case == "misspelled label":
        raw["data"]["label"] = raw["data"]["label"] + "x"
    elif case == "wrong outputs":
        plugin = str(project / "wrong.py")
        (project / "wrong.py").write_text(
            "import keras\nfrom suite import register_model\n\n@register_model('wide_deep', settings={'units': 8, 'blocks': 1})\n"
            "def f(settings, input_shape, num_classes):\n    inputs = keras.Input(shape=input_shape)\n"
            "    return keras.Model(inputs, keras.layers.Dense(num_classes + 1)(inputs))\n")
    else:  # a Normalization layer nobody adapts would run as the identity, without a word
        plugin = str(project / "wrong.py")
        (project / "wrong.py").write_text(
            "import keras\nfrom suite import register_model\n\n@register_model('wide_deep', settings={'units': 8, 'blocks': 1})\n"
            "def f(settings, input_shape, num_classes):\n    inputs = keras.Input(shape=input_shape)\n"
            "    x = keras.layers.Normalization(name='scale')(inputs)\n"
            "    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))\n")
    (project / "bad.yaml").write_text(yaml.safe_dump(raw))
    lines = []
    for command in ("validate", "run"):
        assert main([command, str(project / "bad.yaml"), "--plugin", plugin]) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) >= 1 and err[-1].startswith("error: ")
        lines.append(err[-1])
    assert lines[0] == lines[1]  # the same one line from both
    if case == "unadapted layer":
        assert "its Normalization layer 'scale' is not adapted" in lines[0]
    store = project.parent / "home" / ".suite" / "mlflow.db"
    if store.exists():  # nothing recorded
        client = MlflowClient(f"sqlite:///{store}")
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


HYPERMODEL_FORMS = '''
import keras
import keras_tuner
from keras import layers

from suite import register_model


# keras-tuner's HyperModel subclass form, as its documentation writes it
class MyHyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        model = keras.Sequential()
        model.add(layers.Flatten())
        model.add(
            layers.Dense(
                units=hp.Int("units", min_value=32, max_value=512, step=32),
                activation="relu",
            )
        )
        model.add(layers.Dense(10, activation="softmax"))
        model.compile(
            optimizer="adam",
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model


register_model("kt_subclass", hypermodel=True)(MyHyperModel())


# Keras's functional API guide, its first model, with the data's shape and classes
@register_model("functional", settings={"units": 64})
def functional(settings, input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    dense = layers.Dense(settings["units"], activation="relu")
    x = dense(layers.Flatten()(inputs))  # the guide's inputs are flat vectors (784,); the digits are 8 x 8
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


@register_model("sigmoid_head")
def sigmoid_head(settings, input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, layers.Dense(num_classes, activation="sigmoid")(inputs))
'''


@pytest.mark.slow
@pytest.mark.parametrize("family", ["kt_subclass", "functional"])
def test_the_hypermodel_subclass_and_a_functional_model_run_as_pasted(tmp_path, monkeypatch, family, clean_registries):
    plugin = tmp_path / "forms.py"
    plugin.write_text(HYPERMODEL_FORMS)
    study = GETTING_STARTED_STUDY.replace("kt_getting_started", family).replace("name: kt-start", f"name: {family}")
    if family == "functional":
        study = study.replace("tune: {algorithm: random, trials: 3}\n", "")
    (tmp_path / "s.yaml").write_text(study)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", str(tmp_path / "s.yaml"), "--plugin", str(plugin)]) == 0
    client = MlflowClient(f"sqlite:///{tmp_path / 'home' / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name(family)
    every = client.search_runs([exp.experiment_id], "tags.`suite.kind` != 'study'")
    assert every and {r.info.status for r in every} == {"FINISHED"}
    # trained on logits: the softmax was dropped, so the loss starts near ln(10), not at a probability's log of a log
    trials = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    assert all(1.5 < r.data.metrics["initial_loss"] < 3.5 for r in trials)


@pytest.mark.slow
def test_a_sigmoid_head_is_refused_in_one_line(tmp_path, monkeypatch, capsys, clean_registries):
    plugin = tmp_path / "forms.py"
    plugin.write_text(HYPERMODEL_FORMS)
    study = GETTING_STARTED_STUDY.replace("kt_getting_started", "sigmoid_head").replace("tune: {algorithm: random, trials: 3}\n", "")
    (tmp_path / "s.yaml").write_text(study)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    for command in ("validate", "run"):
        assert main([command, str(tmp_path / "s.yaml"), "--plugin", str(plugin)]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("error: model family 'sigmoid_head': its last layer ends in a sigmoid")


def test_a_tune_space_entry_that_changes_nothing_is_refused_by_validate_and_run_alike(project, capsys, clean_registries):
    """keras-tuner's own compile() is replaced by the study's train: block, so its hp learning rate changes nothing."""
    plugin = str(project / "search.py")
    raw = yaml.safe_load((project / "wine_search.yaml").read_text())
    raw["tune"] = {**raw.get("tune", {}), "space": {"model.hp.lr": {"log": [1.0e-4, 1.0e-2]}}}
    study = project / "inert.yaml"
    study.write_text(yaml.safe_dump(raw))
    for command in ("validate", "run"):
        assert main([command, str(study), "--plugin", plugin]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("error: tune.space.model.hp.lr: changes no layer of model family 'wine_search'") and (
            "search train.learning_rate" in err), err


def fits_plugin(folder: Path, fit_body: str) -> Path:
    """A plugin file registering a keras-tuner HyperModel for digits whose own fit() runs ``fit_body``."""
    plugin = folder / "fits.py"
    plugin.write_text(
        "import keras, keras_tuner\nfrom suite import register_model\n\n"
        "class Fits(keras_tuner.HyperModel):\n"
        "    def build(self, hp):\n"
        "        return keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(hp.Int('units', 8, 32)), keras.layers.Dense(10)])\n\n"
        "    def fit(self, hp, model, *args, **kwargs):\n"
        f"        {fit_body}\n\n"
        "register_model('fits', hypermodel=True)(Fits)\n")
    return plugin


@pytest.mark.slow
def test_a_hypermodels_own_fit_is_taken_at_its_word_its_batch_size_and_shuffle_searched_and_recorded(
        tmp_path, capsys, monkeypatch, clean_registries):
    '''keras-tuner's documented way to tune batch_size and shuffle is a HyperModel.fit override: its hp.* calls join
    the search, and each trial trains with the batch size and order it passes to model.fit (read on a stand-in
    model); the study's own train.batch_size and data.order, which do nothing then, are not recorded as params.'''
    plugin = fits_plugin(tmp_path, "return model.fit(*args, batch_size=hp.Choice('batch_size', [16, 64]), "
                                   "shuffle=hp.Boolean('shuffle'), **kwargs)")
    study = tmp_path / "fits.yaml"
    study.write_text("name: fits\ntitle: t\nclaim: c\ndata: {dataset: digits}\nmodel: {family: fits}\n"
                     "train: {epochs: 2, batch_size: 128}\ntune: {algorithm: grid, trials: 4, space: "
                     "{model.hp.batch_size: [16, 64], model.hp.shuffle: [false, true]}}\n")
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["validate", str(study), "--plugin", str(plugin)]) == 0
    from suite.train import models

    family = models.FAMILIES["fits"]
    assert family.fit_sets == ("data.order", "train.batch_size") and "batch_size" not in family.inert
    assert family.space["batch_size"] == [16, 64] and family.space["shuffle"] == [False, True]
    settings = load_study(study).cells[0].settings
    fitted = family.fit(settings.model_copy(update={"model": settings.model.model_copy(
        update={"hp": {**settings.model.hp, "batch_size": 64, "shuffle": False}})}))
    assert (fitted.train.batch_size, fitted.data.order) == (64, "none")  # shuffle=False: the split's own order
    assert main(["run", str(study), "--plugin", str(plugin)]) == 0
    trials = pd.read_csv(tmp_path / "home" / "results" / "fits" / "base" / "trials.csv")
    store = MlflowClient(f"sqlite:///{tmp_path / 'home' / '.suite' / 'mlflow.db'}")
    params = store.get_run(trials["run_id"].iloc[0]).data.params
    chosen = json.loads(trials["tuned"].iloc[0])
    assert params["model.hp.batch_size"] == str(chosen["model.hp.batch_size"]) and "train.batch_size" not in params
    steps = trials["steps_run"].iloc[0] / trials["epochs_run"].iloc[0]  # the batch size fit passed, not the study's 128
    n_train = len(prepare(settings.data).y_train)
    assert steps == -(-n_train // chosen["model.hp.batch_size"]) != -(-n_train // 128)


@pytest.mark.parametrize("body, said", [
    ("return model.fit(*args, class_weight={0: 2.0}, **kwargs)",
     "its HyperModel.fit passes class_weight={0: 2.0} to model.fit"),
    ("kwargs['callbacks'].append(keras.callbacks.EarlyStopping())\n        return model.fit(*args, **kwargs)",
     "its HyperModel.fit passes callbacks=[<keras"),
])
def test_a_hypermodels_fit_that_sets_what_the_suite_owns_is_refused_in_one_line(tmp_path, capsys, clean_registries,
                                                                                 body, said):
    plugin = fits_plugin(tmp_path, body)
    study = tmp_path / "fits.yaml"
    study.write_text("name: fits\ntitle: t\nclaim: c\ndata: {dataset: digits}\nmodel: {family: fits}\n"
                     "tune: {algorithm: random, trials: 2}\n")
    assert main(["validate", str(study), "--plugin", str(plugin)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert said in err and ("data.rebalance: class_weight" in err or "train.patience (early stopping)" in err), err
