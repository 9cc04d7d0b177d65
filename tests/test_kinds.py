"""The registry of expectation kinds: a study file's fields name the kind, and a new kind is one class."""

import sys
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_study import EXAMPLE

from suite import kinds
from suite.analyze.power import plan
from suite.analyze.verdict import evaluate
from suite.ground.errors import StudyError
from suite.kinds import KINDS, Expectation, Verdict, expectation
from suite.kinds.base import seed_values
from suite.study import load_study


# The whole of a new kind: its fields, its test, and nothing else (every other method has a default).
class MostSeedsAbove(Expectation):
    """Most seeds lie above a value (``most_above: 0.5``): the exact binomial (sign) test, with the seed as unit."""

    kind: ClassVar[str] = "most_above"
    marks: ClassVar[tuple[str, ...]] = ("most_above",)
    shown: ClassVar[str] = "most_above"

    most_above: float

    def test(self, rows: pd.DataFrame, grid: dict, rng) -> Verdict:
        v = seed_values(rows, self.metric)
        above = int((v > self.most_above).sum())
        result = stats.binomtest(above, len(v), 0.5)
        low, high = result.proportion_ci()
        return Verdict(says=self.says, metric=self.metric, test="exact binomial test", effect_name="share above - 1/2",
            effect=above / len(v) - 0.5, low=low - 0.5, high=high - 0.5, p=float(result.pvalue), expected_sign=1,
            observed=f"{above} of {len(v)} seeds above", n=len(v))


@pytest.fixture
def toy_kind():
    saved = dict(KINDS)
    kinds.register(MostSeedsAbove)
    yield MostSeedsAbove
    KINDS.clear()
    KINDS.update(saved)


def frame(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"cell": 0, "seed": range(len(values)), "model.dropout": 0.0, "status": "FINISHED",
                         "test_accuracy": values})


def test_a_new_kind_is_one_class_registered_then_read_from_a_study_file_and_judged(tmp_path, toy_kind):
    study = tmp_path / "toy.yaml"
    study.write_text(EXAMPLE + "expect:\n  - says: Most seeds beat a coin.\n    metric: test_accuracy\n"
                     "    most_above: 0.5\n")
    (e,) = load_study(study).study.expect
    assert type(e) is MostSeedsAbove and e.most_above == 0.5
    (v,) = evaluate([e], frame([0.6] * 12), {"model.dropout": [0.0]}, alpha=0.05)
    assert v.verdict == "supported" and v.n == 12 and v.p == pytest.approx(2 * 0.5**12)
    (v,) = evaluate([e], frame([0.4] * 6 + [0.6] * 6), {"model.dropout": [0.0]}, alpha=0.05)
    assert v.verdict == "inconclusive" and v.p == 1.0
    (p,) = plan([e], frame([0.6] * 12), 0.05)  # the defaults: no power plan, said in words
    assert p.seeds_needed is None and "most_above expectation" in p.note


def test_a_new_kinds_own_fields_are_checked_with_the_field_path(tmp_path, toy_kind):
    study = tmp_path / "toy.yaml"
    study.write_text(EXAMPLE + "expect:\n  - {says: s, metric: test_accuracy, most_above: high}\n")
    with pytest.raises(StudyError, match=r"expect\.0\.most_above: .*number"):
        load_study(study)
    study.write_text(EXAMPLE + "expect:\n  - {says: s, metric: test_accuracy, most_above: 0.5, along: x, trend: increasing}\n")
    with pytest.raises(StudyError, match="needs exactly one of: .*most_above"):
        load_study(study)


@pytest.mark.parametrize("fields, kind", [
    ({"along": "x", "trend": "increasing"}, "trend"),
    ({"best_at": {"x": 1}}, "best_at"),
    ({"compare": {"x": 1}, "against": {"x": 0}, "direction": "greater"}, "compare"),
    ({"compare": {"x": 1}, "against": {"x": 0}, "direction": "greater", "statistic": "sd"}, "spread"),
    ({"compare": {"x": 1}, "against": {"x": 0}, "direction": "less", "metric": "epochs_to_target"}, "time_to_target"),
    ({"near": 0.5, "within": 0.1}, "bound"),
    ({"steadier": "x"}, "steadier"),
])
def test_the_fields_of_an_entry_name_its_kind(fields, kind):
    e = expectation(**{"says": "s", "metric": "test_accuracy", **fields})
    assert e.kind == kind and type(e) is KINDS[kind]


def test_a_field_of_another_kind_is_an_unknown_key_with_a_suggestion(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text(EXAMPLE + "expect:\n  - {says: s, metric: test_accuracy, below: 0.9, statistc: sd}\n")
    with pytest.raises(StudyError, match=r"expect\.0\.statistc: unknown key \(did you mean 'statistic'\?\)"):
        load_study(study)


def test_every_registered_kind_has_a_test_a_docstring_and_one_shown_name_per_family():
    for name, kind in KINDS.items():
        assert kind.kind == name and kind.test is not Expectation.test, name
        assert len(sys.modules[kind.__module__].__doc__ or "") > 200, f"{name}: its module states its test and replicate"
    shown = kinds.one_of().removeprefix("needs exactly one of: ").split(", ")
    assert shown == ["along+trend", "best_at", "compare+against", "below/above/near", "steadier"]


def test_the_registry_order_puts_the_refinements_of_a_comparison_before_it():
    order = list(KINDS)
    assert order.index("spread") < order.index("compare") and order.index("time_to_target") < order.index("compare")
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"cell": [0] * 6 + [1] * 6, "seed": list(range(6)) * 2, "x": [0] * 6 + [1] * 6,
                         "status": "FINISHED", "test_accuracy": np.r_[0.8 + rng.normal(0, 0.001, 6), 0.8 + rng.normal(0, 0.05, 6)]})
    e = expectation(says="s", metric="test_accuracy", compare={"x": 0}, against={"x": 1}, direction="less", statistic="sd")
    (v,) = evaluate([e], data, {"x": [0, 1]}, 0.05)
    assert v.test == "F-test of variances" and v.verdict == "supported"
