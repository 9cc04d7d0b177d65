"""The grid: every combination of axis values, in file order, each a complete validated Settings.

Also the checks that need the grid: named cases, the tune: space against the
settings it tunes, the tune.* axes a grid may vary, and the axes and values
that expectations and references name.
"""

from __future__ import annotations

import difflib
import itertools
import json
from typing import Any

from pydantic import ValidationError

from suite import metrics
from suite.ground.errors import StudyError
from suite.study.messages import describe, first, validate
from suite.study.paths import has_path, paths, setting, with_values
from suite.study.schema import Cell, Study
from suite.study.settings import Settings
from suite.study.tuning import TUNE_AXES, Tune


def expand_grid(study: Study, where: str = "") -> tuple[Cell, ...]:
    """Every combination of grid values, in file order, each validated as full settings."""
    base = study.settings().model_dump()
    check_space(study, base, where)
    axes = {}
    cases = _cases(study, base, where)
    for axis, values in study.grid.items():
        if axis.startswith("tune."):
            axes[axis] = _tune_axis(study, axis, values, where)
            continue
        if axis == "case":
            if not values or len(set(map(str, values))) != len(values):
                raise StudyError(f"{where}grid.case: must list at least one case, none twice")
            for i, value in enumerate(values):
                if value not in cases:
                    raise StudyError(f"{where}grid.case[{i}]: no case named {value!r} (defined: {', '.join(cases) or 'none'})")
            axes[axis] = values
            continue
        if axis in {path for bundle in cases.values() for path in bundle}:
            raise StudyError(f"{where}grid.{axis}: is also set by a case; a setting is one or the other")
        if not has_path(base, axis):
            close = difflib.get_close_matches(axis, list(paths(base)), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise StudyError(f"{where}grid.{axis}: no such setting{hint}")
        if not values:
            raise StudyError(f"{where}grid.{axis}: must list at least one value")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise StudyError(f"{where}grid.{axis}: must not repeat a value")
        for i, value in enumerate(values):
            try:
                Settings.model_validate(with_values(base, {axis: value}))
            except ValidationError as e:
                message = describe(first(e))
                if message.startswith(axis + ":"):  # the value itself is wrong: name its place in the grid
                    message = message[len(axis) :]
                else:  # it breaks another setting: say which
                    message = f": {message}"
                raise StudyError(f"{where}grid.{axis}[{i}]{message}") from None
        axes[axis] = values
    cells = []
    for i, combo in enumerate(itertools.product(*axes.values())):
        values = dict(zip(axes, combo))
        plain = {k: v for k, v in values.items() if not k.startswith("tune.") and k != "case"}
        bundle, searched = split_case(cases.get(values.get("case"), {}))
        settings = validate(with_values(base, {**bundle, **plain}), where=where, model=Settings)
        tune = study.tune
        if tune is not None:
            tune = case_tune(tune, searched)
            tune = tune.model_copy(update={k.removeprefix("tune."): v for k, v in values.items() if k.startswith("tune.")})
            tune = _with_hyper_space(tune, settings, fixed={*plain, *bundle}, where=where)
        cells.append(Cell(index=i, values=values, settings=settings, tune=tune))
    return tuple(cells)


def _with_hyper_space(tune: Tune, settings: Settings, fixed: set[str], where: str) -> Tune:
    """A hyper-model family's hp.* ranges (``suite.usercode.plugins``) join the cell's search space, but for the
    settings its grid values or case fix, and those ``tune.space`` gives a range of its own."""
    from suite.train import models

    found = models.FAMILIES.get(settings.model.family)
    for name in found.inert if found is not None else ():
        if f"model.hp.{name}" in tune.space:  # searched, it would change nothing: refuse it, naming what would
            raise StudyError(
                f"{where}tune.space.model.hp.{name}: changes no layer of model family {settings.model.family!r} (its "
                "build function passes it only to its own compile(), which the study's train: block replaces), so "
                "searching it changes nothing; search train.learning_rate (or another train: setting) instead")
    own = found.space if found is not None else {}
    added = {f"model.hp.{k}": v for k, v in own.items() if f"model.hp.{k}" not in fixed and f"model.hp.{k}" not in tune.space}
    if added:
        tune = Tune.model_validate({**tune.model_dump(), "space": {**added, **tune.model_dump()["space"]}})
    if not tune.space:
        raise StudyError(f"{where}tune: space must name at least one setting to tune")
    return tune


def _cases(study: Study, base: dict, where: str) -> dict[str, dict]:
    """Named bundles of settings (``cases: {cnn: {model.family: cnn, model.depth: 3}}``), each validated; a case may
    also give its cells their own search (``tune.space.<setting>``, ``tune.limits.<setting>``, ``tune.trials``...)."""
    if study.cases and "case" not in study.grid:
        raise StudyError(f"{where}cases: defined but unused; add grid.case: [{', '.join(study.cases)}]")
    for name, whole in study.cases.items():
        bundle, searched = split_case(whole)
        for path in bundle:
            setting(base, path, f"{where}cases.{name}.{path}")
        try:
            Settings.model_validate(with_values(base, bundle))
        except ValidationError as e:
            raise StudyError(f"{where}cases.{name}: {describe(first(e))}") from None
        if searched:
            _case_search(study, base, name, bundle, searched, where)
    return study.cases


CASE_TUNE = ("space", "limits", *TUNE_AXES)  # what of the search a case may set for its cells


def split_case(bundle: dict) -> tuple[dict, dict]:
    """A case's settings, and what it sets of its cells' search (``tune.*`` keys, without the prefix)."""
    return ({k: v for k, v in bundle.items() if not k.startswith("tune.")},
            {k.removeprefix("tune."): v for k, v in bundle.items() if k.startswith("tune.")})


def case_tune(tune: Tune, searched: dict) -> Tune:
    """The study's search as a case sets it for its cells: ``space.<setting>`` and ``limits.<setting>`` add or
    replace one entry each (a case's own range: Choi et al. tune each optimizer over its own), the rest replace."""
    if not searched:
        return tune
    raw = tune.model_dump()
    for key, value in searched.items():
        part, _, path = key.partition(".")
        if part in ("space", "limits") and path:
            raw[part] = {**raw[part], path: value}
        else:
            raw[key] = value
    return Tune.model_validate(raw)


def _case_search(study: Study, base: dict, name: str, bundle: dict, searched: dict, where: str) -> None:
    at = f"{where}cases.{name}"
    if study.tune is None:
        raise StudyError(f"{at}.tune.{next(iter(searched))}: the study has no tune: block")
    for key in searched:
        part, _, path = key.partition(".")
        if part not in CASE_TUNE or (part in ("space", "limits")) != bool(path):
            raise StudyError(f"{at}.tune.{key}: a case may set {', '.join('tune.' + p for p in TUNE_AXES)}, "
                             "tune.space.<setting> and tune.limits.<setting>")
        if part == "space":
            setting(base, path, f"{at}.tune.space.{path}")
            if path in bundle or path in study.grid:
                raise StudyError(f"{at}.tune.space.{path}: is fixed by the case or the grid; a setting is one or the other")
    try:
        tune = case_tune(study.tune, searched)
    except ValidationError as e:
        raise StudyError(f"{at}.tune: {describe(first(e))}") from None
    for path, space in tune.space.items():
        for value in space if isinstance(space, list) else space.bounds:
            try:
                Settings.model_validate(with_values(base, {**bundle, path: value}))
            except ValidationError as e:
                raise StudyError(f"{at}.tune.space.{path}: {value!r} is not allowed ({describe(first(e))})") from None


def check_space(study: Study, base: dict, where: str = "") -> None:
    """Every tuned setting exists, is not the budget unit or a grid axis, and accepts its range's values."""
    if study.tune is None:
        return
    for path, space in study.tune.space.items():
        at = f"{where}tune.space.{path}"
        setting(base, path, at)
        if path == "train.epochs":
            raise StudyError(f"{at}: epochs are the unit of the search budget, not a nuisance setting")
        if path in study.grid:
            raise StudyError(f"{at}: is a grid axis (a scientific setting); a setting is one or the other")
        for value in space if isinstance(space, list) else space.bounds:
            try:
                Settings.model_validate(with_values(base, {path: value}))
            except ValidationError as e:
                raise StudyError(f"{at}: {value!r} is not allowed ({describe(first(e))})") from None


def _tune_axis(study: Study, axis: str, values: list, where: str) -> list:
    part = axis.removeprefix("tune.")
    if study.tune is None:
        raise StudyError(f"{where}grid.{axis}: the study has no tune: block")
    if part not in TUNE_AXES:
        raise StudyError(f"{where}grid.{axis}: a grid may vary only {', '.join('tune.' + a for a in TUNE_AXES)}")
    if not values:
        raise StudyError(f"{where}grid.{axis}: must list at least one value")
    if len({json.dumps(v) for v in values}) != len(values):
        raise StudyError(f"{where}grid.{axis}: must not repeat a value")
    for i, value in enumerate(values):
        try:
            Tune.model_validate({**study.tune.model_dump(), part: value})
        except ValidationError as e:
            raise StudyError(f"{where}grid.{axis}[{i}]{describe(first(e)).removeprefix(part)}") from None
    return values


def override(settings: Settings, values: dict[str, Any]) -> Settings:
    """These settings with ``dotted.path: value`` overrides applied, validated."""
    return Settings.model_validate(with_values(settings.model_dump(), values))


def check_design(study: Study) -> None:
    """A fixed setting named in ``design:`` exists, and is neither a grid axis, a case's, nor tuned."""
    base = study.settings().model_dump()
    cased = {path for bundle in study.cases.values() for path in bundle if not path.startswith("tune.")}
    tuned = set(study.tune.space) if study.tune else set()
    tuned |= {k.removeprefix("tune.space.") for bundle in study.cases.values() for k in bundle if k.startswith("tune.space.")}
    for path in study.design.fixed:
        at = f"design.fixed.{path}"
        setting(base, path, at)
        if path in study.grid or path in cased:
            raise StudyError(f"{at}: is a grid axis (a scientific setting), not a fixed one")
        if path in tuned:
            raise StudyError(f"{at}: is in tune.space (a nuisance setting, re-tuned per cell), not a fixed one")


def check_expectations(study: Study) -> None:
    """Every axis and value an expectation (its kind's ``check_grid``) or a reference names must be in the grid."""
    for i, r in enumerate(study.reference):
        for axis, value in r.where.items():
            if axis not in study.grid:
                raise StudyError(f"reference[{i}].where: {axis!r} is not a grid axis")
            if value not in study.grid[axis]:
                raise StudyError(f"reference[{i}].where: {value!r} is not a value of grid.{axis}")
    for i, e in enumerate(study.expect):
        e.check_grid(study.grid, f"expect[{i}]")
        if not study.target.declared and getattr(e, "metric", None) in (*metrics.CENSORED, "reached_target"):
            raise StudyError(f"target: is required by expect[{i}] ({e.metric}): a time to target needs the value to "
                             f"reach, e.g. target: {{metric: {study.target.metric}, value: 0.9}}")

