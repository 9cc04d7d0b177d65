"""The study file: schema, error messages, YAML quirks, profiles and the grid."""

from pathlib import Path

import pytest

from suite.ground.errors import StudyError
from suite.study import Settings, apply_overrides, find_study, load_study, parse_yaml

# The example of issue #2, verbatim: it must keep running as written.
EXAMPLE = """\
name: dropout
title: Dropout rate vs overfitting
claim: Dropout reduces overfitting, and a rate of 0.5 on hidden units works best.
sources: ["003_f1dccf38c8746b8a.txt", "Srivastava et al. 2014, JMLR 15"]
data:
  dataset: mnist1d        # also: mnist5k, digits, synthetic; and keras.datasets names for users online
  train_size: 4000        # optional subsample of the training split
  validation: 0.2         # held out from training for model selection; the test split is reported separately
model:
  family: mlp             # also: cnn
  depth: 3
  width: 256
  activation: relu
  init: he_normal
  dropout: 0.0
  l2: 0.0
train:
  optimizer: adam
  learning_rate: 1.0e-3
  batch_size: 128
  epochs: 60
grid:                     # scientific axes: every combination is a cell
  model.dropout: [0.0, 0.1, 0.3, 0.5, 0.7]
seeds: [0, 1, 2]          # replicates of every cell
target: {metric: val_accuracy, value: 0.60}
profiles:
  smoke: {train.epochs: 2, seeds: [0], data.train_size: 256}
"""


def write(tmp_path: Path, text: str, name="study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path, text: str, profile=None) -> str:
    with pytest.raises(StudyError) as e:
        load_study(write(tmp_path, text), profile)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_example_resolves_as_written(tmp_path):
    r = load_study(write(tmp_path, EXAMPLE))
    assert r.study.train.learning_rate == 1e-3
    assert r.study.target.direction == "max"  # declared for val_accuracy, not guessed
    assert [c.values for c in r.cells] == [{"model.dropout": v} for v in (0.0, 0.1, 0.3, 0.5, 0.7)]
    assert [c.settings.model.dropout for c in r.cells] == [0.0, 0.1, 0.3, 0.5, 0.7]
    assert len(r.trials) == 15
    assert r.trials[:4] == [(r.cells[0], 0), (r.cells[0], 1), (r.cells[0], 2), (r.cells[1], 0)]


def test_profile_overrides_without_copying(tmp_path):
    base = load_study(write(tmp_path, EXAMPLE))
    smoke = load_study(write(tmp_path, EXAMPLE), "smoke")
    assert (smoke.study.train.epochs, smoke.study.seeds, smoke.study.data.train_size) == (2, [0], 256)
    assert smoke.study.model == base.study.model
    assert smoke.config_sha != base.config_sha
    assert smoke.file_sha == base.file_sha
    assert all(c.settings.train.epochs == 2 for c in smoke.cells)


def test_a_confirming_run_moves_every_training_and_search_seed_and_nothing_else(tmp_path):
    smoke = load_study(write(tmp_path, EXAMPLE), "smoke")
    fresh = load_study(write(tmp_path, EXAMPLE), "smoke", confirm=True)
    assert fresh.study.seeds == [s + 100_000 for s in smoke.study.seeds]
    assert (fresh.profile_name, fresh.flags) == ("smoke-confirm", " --profile smoke --confirm")
    assert [c.settings for c in fresh.cells] == [c.settings for c in smoke.cells]
    assert fresh.config_sha != smoke.config_sha  # its own trials, never mixed with the original's
    searched = EXAMPLE + "tune: {seed: 3, trials: 2, space: {train.learning_rate: {log: [0.001, 0.1]}}}\n"
    fresh = load_study(write(tmp_path, searched, "tuned.yaml"), confirm=True)
    assert {c.tune.seed for c in fresh.cells} == {100_003}
    by_grid = searched.replace("  model.dropout: [", "  tune.seed: [0, 1]\n  model.dropout: [")
    fresh = load_study(write(tmp_path, by_grid, "by_grid.yaml"), confirm=True)
    assert sorted({c.tune.seed for c in fresh.cells}) == [100_000, 100_001]
    with pytest.raises(StudyError, match="seeds: confirming moves seeds by 100000"):
        load_study(write(tmp_path, EXAMPLE.replace("seeds: [0, 1, 2]", "seeds: [0, 100000]"), "big.yaml"), confirm=True)


@pytest.mark.parametrize(
    "design, expected",
    [
        ("design: {fixed: {train.learning_rat: because}}", "design.fixed.train.learning_rat: no such setting"),
        ("design: {fixed: {model.dropout: because}}", "design.fixed.model.dropout: is a grid axis"),
        ("design: {fixed: {train.epochs: ''}}", "design.fixed.train.epochs"),
        ("design: {fixd: {}}", "design.fixd: unknown key"),
    ],
)
def test_a_design_names_real_fixed_settings_with_reasons(tmp_path, design, expected):
    with pytest.raises(StudyError, match=expected.replace(".", r"\.")):
        load_study(write(tmp_path, EXAMPLE + design + "\n"))
    fine = load_study(write(tmp_path, EXAMPLE + "design: {fixed: {train.epochs: the budget of the notes}}\n", "fine.yaml"))
    assert fine.study.design.fixed == {"train.epochs": "the budget of the notes"}


def test_same_file_same_hash(tmp_path):
    a = load_study(write(tmp_path, EXAMPLE), "smoke")
    b = load_study(write(tmp_path, EXAMPLE + "\n# a comment\n", "other.yaml"), "smoke")
    assert a.config_sha == b.config_sha  # the resolved settings, not the bytes, identify the trials
    assert a.file_sha != b.file_sha
    prose = EXAMPLE.replace("claim:", "design: {fixed: {train.epochs: the budget of the notes}}\nclaim:")
    c = load_study(write(tmp_path, prose.replace("title: ", "title: Revisited, "), "prose.yaml"), "smoke")
    assert c.config_sha == a.config_sha  # what only the report reads (title, claim, design, expectations) is not identity
    d = load_study(write(tmp_path, EXAMPLE.replace("seeds: [0, 1, 2]", "seeds: [0, 1, 3]"), "seeds.yaml"))
    assert d.config_sha != load_study(write(tmp_path, EXAMPLE)).config_sha


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("batch_size: 128", "batch_size: abc", "train.batch_size: must be a positive integer, got 'abc'"),
        ("batch_size: 128", "batch_size: 0", "train.batch_size: must be a positive integer, got 0"),
        ("batch_size: 128", "batch_size: 12.5", "train.batch_size: must be a positive integer, got 12.5"),
        ("batch_size: 128", "batch_size: true", "train.batch_size: must be a positive integer, got True"),
        ("  dropout: 0.0\n", "  dropuot: 0.0\n", "model.dropuot: unknown key (did you mean 'dropout'?)"),
        ("activation: relu", "activation: rellu", "model.activation: must be one of"),
        ("learning_rate: 1.0e-3", "learning_rate: -1", "train.learning_rate: must be a positive number, got -1"),
        ("learning_rate: 1.0e-3", "learning_rate: .nan", "train.learning_rate: must be a positive number"),
        ("epochs: 60", "epochs: 100000000", "train.epochs: must be an integer from 1 to 100000"),
        ("validation: 0.2 ", "validation: 1.0 ", "data.validation: must be a fraction strictly between 0 and 1, or {kfold: k}, got 1.0"),
        ("seeds: [0, 1, 2]", "seeds: []", "seeds: must list at least one seed"),
        ("seeds: [0, 1, 2]", "seeds: [1, 1]", "seeds: must not repeat a seed"),
        ("name: dropout", "name: ../../etc", "name: must be lowercase letters"),
        ("target: {metric: val_accuracy, value: 0.60}", "target: {metric: val_acc, value: 0.6}", "target.metric: must be one of"),
        ("target: {metric: val_accuracy, value: 0.60}", "target: {value: 0.6}", "target.metric: is required"),
        ("data:\n", "data: 5\nxdata:\n", "data: must be a mapping"),
        ("[0.0, 0.1, 0.3, 0.5, 0.7]", "[0.0, 1.5]", "grid.model.dropout[1]: must be a number in [0, 1), got 1.5"),
        ("[0.0, 0.1, 0.3, 0.5, 0.7]", "[]", "grid.model.dropout: must list at least one value"),
        ("[0.0, 0.1, 0.3, 0.5, 0.7]", "[0.1, 0.1]", "grid.model.dropout: must not repeat a value"),
        ("model.dropout: [", "model.dropot: [", "grid.model.dropot: no such setting (did you mean 'model.dropout'?)"),
        ("data.train_size: 256}", "data.train_sise: 256}", "profiles.smoke: data.train_sise: unknown key"),
        ("{train.epochs: 2,", "{model.dropout: 0.5, train.epochs: 2,", "profiles.smoke.model.dropout: is a grid axis"),
    ],
)
def test_bad_values_name_their_field(tmp_path, old, new, expected):
    assert old in EXAMPLE
    assert error_of(tmp_path, EXAMPLE.replace(old, new, 1)).startswith(expected)


def test_group_norm_needs_divisible_width(tmp_path):
    text = EXAMPLE.replace("  depth: 3\n", "  depth: 3\n  normalization: group\n  groups: 7\n")
    assert error_of(tmp_path, text) == "model: group normalization needs groups to divide width"


def test_unknown_profile_lists_defined_ones(tmp_path):
    assert "defined: smoke" in error_of(tmp_path, EXAMPLE, profile="quick")


def test_yaml_reads_exponents_as_numbers():
    assert parse_yaml("a: 1e-4\nb: 1.0e+3\nc: 5\nd: '1e-4'", "x") == {"a": 1e-4, "b": 1000.0, "c": 5, "d": "1e-4"}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a: 1\na: 2\n", "invalid YAML at line 2, column 1: repeated key 'a'"),
        ("a: [1, 2\n", "invalid YAML at line 2"),
        ("- 1\n- 2\n", "a study file must be a mapping"),
        ("", "a study file must be a mapping"),
        ("!!python/object/apply:os.system ['true']", "invalid YAML"),  # data, never code
        (b"name: \xff\xfe", "not UTF-8 text (byte 0xff at offset 6)"),
    ],
)
def test_yaml_errors_are_one_line(text, expected):
    with pytest.raises(StudyError) as e:
        parse_yaml(text, "f.yaml")
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_overrides_reach_nested_settings_and_grid():
    raw = {"grid": {"model.width": [8, 16]}, "train": {"epochs": 3}}
    out = apply_overrides(raw, {"train.epochs": 1, "grid.model.width": [4], "seeds": [5]}, "profiles.p")
    assert out == {"grid": {"model.width": [4]}, "train": {"epochs": 1}, "seeds": [5]}
    assert raw["train"]["epochs"] == 3  # the original is untouched
    with pytest.raises(StudyError, match="profiles.p.grid.model.depth: 'model.depth' is not a grid axis"):
        apply_overrides(raw, {"grid.model.depth": [1]}, "profiles.p")


def test_grid_is_the_product_in_file_order(tmp_path):
    text = EXAMPLE.replace(
        "  model.dropout: [0.0, 0.1, 0.3, 0.5, 0.7]", "  model.width: [8, 16]\n  train.optimizer: [sgd, adam, nesterov]"
    )
    r = load_study(write(tmp_path, text))
    assert [tuple(c.values.values()) for c in r.cells] == [
        (8, "sgd"), (8, "adam"), (8, "nesterov"), (16, "sgd"), (16, "adam"), (16, "nesterov")
    ]
    assert r.cells[4].settings.model.width == 16 and r.cells[4].settings.train.optimizer == "adam"
    assert r.cells[4].label == "model.width=16, train.optimizer=adam"


def test_find_study(tmp_path):
    (tmp_path / "studies").mkdir()
    write(tmp_path / "studies", EXAMPLE, "dropout.yaml")
    assert find_study("dropout", tmp_path / "studies").name == "dropout.yaml"
    with pytest.raises(StudyError, match="no study named 'nope'.*known: dropout"):
        find_study("nope", tmp_path / "studies")
    with pytest.raises(StudyError, match="no such study file"):
        find_study(str(tmp_path / "missing.yaml"), tmp_path / "studies")


def test_cases_bundle_settings_into_one_grid_axis(tmp_path):
    path = tmp_path / "cases.yaml"
    path.write_text(
        "name: cases\ntitle: t\nclaim: c\ntarget: {metric: val_accuracy, value: 0.5}\n"
        "cases:\n  small: {model.depth: 1, model.width: 8}\n  conv: {model.family: cnn, model.depth: 2}\n"
        "grid:\n  case: [small, conv]\n  train.batch_size: [16, 32]\n"
    )
    cells = load_study(path).cells
    assert [(c.values["case"], c.settings.model.family, c.settings.model.depth) for c in cells] == [
        ("small", "mlp", 1), ("small", "mlp", 1), ("conv", "cnn", 2), ("conv", "cnn", 2)]
    assert cells[0].settings.model.width == 8 and cells[2].settings.model.width == 128  # the rest stays as written


def test_a_case_may_search_its_own_space_as_choi_et_al_tune_each_optimizer():
    resolved = load_study(Path(__file__).parent.parent / "studies" / "optimizers.yaml", "quick")
    spaces = {c.values["case"]: c.tune for c in resolved.cells}
    assert list(spaces["sgd"].space["train.learning_rate"].bounds) == [0.01, 3.16] and set(spaces["sgd"].space) == {"train.learning_rate"}
    assert list(spaces["momentum"].space["train.learning_rate"].bounds) == [1e-3, 0.316]  # the study's own range
    assert set(spaces["adam"].space) == {"train.learning_rate", "train.epsilon"} and spaces["adam"].trials == 10
    assert spaces["adam"].limits["train.epsilon"] == [1e-12, 10.0] and spaces["adam"].limits["train.learning_rate"] == [1e-6, 30.0]
    assert spaces["sgd"].trials == 8 and all(c.settings.train.optimizer == c.values["case"] for c in resolved.cells)


@pytest.mark.parametrize(
    "cases, grid, expected",
    [
        ("cases: {a: {model.depht: 1}}\n", "grid: {case: [a]}\n", "cases.a.model.depht: no such setting"),
        ("cases: {a: {model.dropout: 2.0}}\n", "grid: {case: [a]}\n", "cases.a: model.dropout: must be a number in [0, 1)"),
        ("cases: {a: {model.depth: 1}}\n", "grid: {case: [b]}\n", "grid.case[0]: no case named 'b' (defined: a)"),
        ("cases: {a: {model.depth: 1}}\n", "grid: {model.depth: [1]}\n", "cases: defined but unused"),
        ("cases: {a: {model.depth: 1}}\n", "grid: {case: [a], model.depth: [2]}\n", "grid.model.depth: is also set by a case"),
        ("cases: {a: {tune.spaces.x: 1}}\n", "grid: {case: [a]}\n", "cases.a.tune.spaces.x: a case may set"),
        ("cases: {a: {tune.space.train.epsilno: {log: [1.0e-8, 1]}}}\n", "grid: {case: [a]}\n",
         "cases.a.tune.space.train.epsilno: no such setting (did you mean 'train.epsilon'?)"),
        ("cases: {a: {model.depth: 1, tune.space.model.depth: [1, 2]}}\n", "grid: {case: [a]}\n",
         "cases.a.tune.space.model.depth: is fixed by the case"),
        ("cases: {a: {tune.space.model.dropout: {linear: [0.0, 2.0]}}}\n", "grid: {case: [a]}\n",
         "cases.a.tune.space.model.dropout: 2.0 is not allowed"),
        ("cases: {a: {tune.trials: 0}}\n", "grid: {case: [a]}\n", "cases.a.tune: trials"),
    ],
)
def test_bad_cases_name_the_field(tmp_path, cases, grid, expected):
    path = tmp_path / "cases.yaml"
    tune = "tune: {algorithm: sweep, trials: 8, space: {train.learning_rate: {log: [1.0e-3, 1.0e-1]}}}\n"
    path.write_text("name: cases\ntitle: t\nclaim: c\ntarget: {metric: val_accuracy, value: 0.5}\n" + cases + grid
                    + (tune if "tune." in cases else ""))
    with pytest.raises(StudyError) as e:
        load_study(path)
    assert expected in str(e.value)


@pytest.mark.parametrize("init, ok", [("normal:0.01", True), ("normal:1", True), ("he_normal", True),
                                      ("normal:0", False), ("normal:x", False), ("kaiming", False)])
def test_initializers_by_name_or_normal_with_a_std(init, ok):
    from suite.study import Model

    if ok:
        assert Model(init=init).init == init
    else:
        with pytest.raises(Exception, match="normal:<std>"):
            Model(init=init)


def test_the_identity_of_a_study_ignores_settings_left_at_their_default(tmp_path):
    base = "name: ident\ntitle: t\nclaim: c\ntarget: {metric: val_accuracy, value: 0.5}\n"
    a, b, c = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml"
    a.write_text(base)
    b.write_text(base + "model: {dropout: 0.0}\n")  # the default, spelt out
    c.write_text(base + "model: {dropout: 0.1}\n")
    assert load_study(a).config_sha == load_study(b).config_sha != load_study(c).config_sha


def test_a_trial_records_only_the_settings_that_act_on_it():
    from suite.study.applicable import in_effect, plain

    s = Settings.model_validate({"data": {"dataset": "mnist1d"}, "model": {"init": "he_normal"}, "train": {"optimizer": "adam"}})
    shown = in_effect(s)
    assert shown["model.init"] == "he_normal" and shown["data.dataset"] == "mnist1d"
    for unused in ("data.synthetic.samples", "train.momentum", "model.init_std", "model.groups", "pretrain.epochs", "train.lr_final"):
        assert unused not in shown, unused
    assert "train.momentum" in in_effect(s, keep=("train.momentum",))  # a grid axis always shows
    momentum = Settings.model_validate({"train": {"optimizer": "momentum", "schedule": "cosine"}, "data": {"dataset": "synthetic"}})
    assert {"train.momentum", "train.lr_final", "data.synthetic.samples"} <= set(in_effect(momentum))
    assert [plain(v) for v in ("he_normal", 0.5, None, [0, 1], True)] == ["he_normal", "0.5", "None", "[0, 1]", "True"]


def test_run_names_read_like_cells():
    from suite.record.writing import short_label

    assert short_label({"model.dropout": 0.5, "data.train_size": 4000}) == "dropout=0.5 train_size=4000"
    assert short_label({"model.dropout": 0.1, "data.augment.dropout": 0.2}) == "model.dropout=0.1 data.augment.dropout=0.2"
    assert short_label({}) == "base"


def test_seeds_in_blocks_each_block_its_own_search():
    from suite.study import Tune

    tune = Tune(algorithm="sweep", trials=8, space={"train.learning_rate": {"log": [1e-3, 1e-1]}}, per="block", blocks=3)
    seeds = [0, 1, 2, 3, 4]
    assert tune.seed_blocks(seeds) == [[0, 1], [2, 3], [4]]
    assert [tune.searcher(s, seeds) for s in seeds] == [0, 0, 2, 2, 4] and tune.searches(seeds) == [0, 2, 4]
    assert Tune(**{**tune.model_dump(), "blocks": 9}).seed_blocks([7, 8]) == [[7], [8]]  # fewer seeds: one each
    assert tune.model_copy(update={"per": "seed"}).searches(seeds) == seeds
    assert tune.model_copy(update={"per": "cell"}).searches(seeds) == [None]


def test_a_plain_search_needs_no_target_but_a_time_to_target_claim_does(tmp_path):
    """``target`` is optional: without a value no trial has a time to target (its columns read "–"); an expectation
    on a time to target (or on reaching it) then asks for it by name."""
    plain = "name: plain\ntitle: t\nclaim: c\ndata: {dataset: digits}\ngrid: {model.dropout: [0.0, 0.5]}\nseeds: [0, 1]\n"
    path = tmp_path / "plain.yaml"
    path.write_text(plain)
    target = load_study(path).study.target
    assert not target.declared and (target.metric, target.direction) == ("val_accuracy", "max") and not target.reached(1.0)
    claim = "expect:\n  - {says: dropout slows it down, metric: epochs_to_target, along: model.dropout, trend: increasing}\n"
    assert error_of(tmp_path, plain + claim) == ("target: is required by expect[0] (epochs_to_target): a time to target needs "
                                                 "the value to reach, e.g. target: {metric: val_accuracy, value: 0.9}")
    assert load_study(write(tmp_path, plain + claim + "target: {metric: val_accuracy, value: 0.5}\n")).study.target.declared
