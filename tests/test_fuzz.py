"""Fuzzing the study file: every malformed file gets a one-line error, exit code 2, and nothing is written."""

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.cli import main
from suite.ground.errors import StudyError
from suite.study import load_study, parse_yaml
from test_study import EXAMPLE

BASE = parse_yaml(EXAMPLE, "example")
PATHS = [("name",), ("seeds",), ("grid",), ("target",), ("profiles",), ("data",), ("model",), ("train",)]
PATHS += [("data", k) for k in BASE["data"]] + [("model", k) for k in BASE["model"]] + [("train", k) for k in BASE["train"]]
PATHS += [("target", "metric"), ("target", "value"), ("grid", "model.dropout"), ("profiles", "smoke")]

values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)


@st.composite
def malformed(draw):
    study = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        node = study
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else {}
        if not isinstance(node, dict):
            continue
        action = draw(st.sampled_from(["set", "delete", "unknown-key"]))
        if action == "set":
            node[path[-1]] = draw(values)
        elif action == "delete":
            node.pop(path[-1], None)
        else:
            node[draw(st.text(min_size=1, max_size=10))] = draw(values)
    return yaml.safe_dump(study, allow_unicode=True).encode()


COUNT = {"ok": 0, "rejected": 0}


def check(tmp_path, data: bytes):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    try:
        load_study(path)
        COUNT["ok"] += 1
    except StudyError as e:
        COUNT["rejected"] += 1
        assert str(e) and "\n" not in str(e)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=malformed())
def test_mutated_study_files(tmp_path, data):
    check(tmp_path, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_arbitrary_bytes(tmp_path, data):
    check(tmp_path, data)


def test_the_cli_writes_nothing_for_a_bad_file(tmp_path, monkeypatch, capsys):
    bad = [b"\xff\xfe\x00", b"name: [", EXAMPLE.replace("epochs: 60", "epochs: -1").encode(),
           EXAMPLE.replace("width: 256", "width: 1e99").encode(), EXAMPLE.replace("model:", "model: [1]\nx:").encode()]
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    for i, data in enumerate(bad):
        (tmp_path / f"bad{i}.yaml").write_bytes(data)
        assert main(["run", str(tmp_path / f"bad{i}.yaml")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"bad{i}.yaml" for i in range(len(bad))]
