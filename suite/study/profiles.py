"""Profiles: a study file shrunk or grown by ``dotted.path: value`` overrides, without copying it."""

from __future__ import annotations

import copy

from suite.ground.errors import StudyError

CONFIRM_OFFSET = 100_000  # a confirming run's seeds: the study's own, plus this


def confirming(raw: dict, where: str) -> dict:
    """The study on fresh seeds, to confirm its verdicts: every training seed and every search seed
    (``tune.seed``, also as a grid axis) moved by ``CONFIRM_OFFSET``, so no trial and no search repeats
    one of the original run's. Nothing else changes: same cells, same number of seeds, same budget."""
    raw = copy.deepcopy(raw)
    seeds = raw.get("seeds", [0])
    raw["seeds"] = _moved(seeds, f"{where}seeds")
    tune = raw.get("tune")
    if isinstance(tune, dict):
        tune["seed"] = _moved([tune.get("seed", 0)], f"{where}tune.seed")[0]
    grid = raw.get("grid") or {}
    if "tune.seed" in grid:
        grid["tune.seed"] = _moved(grid["tune.seed"], f"{where}grid.tune.seed")
    return raw


def _moved(seeds, where: str) -> list:
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < CONFIRM_OFFSET for s in seeds):
        raise StudyError(f"{where}: confirming moves seeds by {CONFIRM_OFFSET}, so they must be integers from 0 to {CONFIRM_OFFSET - 1}")
    return [s + CONFIRM_OFFSET for s in seeds]


def apply_overrides(raw: dict, overrides: dict, where: str) -> dict:
    """Apply a profile's ``dotted.path: value`` overrides to the raw study mapping."""
    raw = copy.deepcopy(raw)
    grid = raw.get("grid") or {}
    for key, value in overrides.items():
        if not isinstance(key, str) or not key:
            raise StudyError(f"{where}: override keys must be dotted paths, got {key!r}")
        head, _, rest = key.partition(".")
        if head == "grid" and rest:
            if rest not in grid:
                raise StudyError(f"{where}.{key}: {rest!r} is not a grid axis of this study")
            raw["grid"][rest] = value
            continue
        if key in grid:
            raise StudyError(f"{where}.{key}: is a grid axis; override grid.{key} instead")
        if head in ("name", "profiles"):
            raise StudyError(f"{where}.{key}: a profile cannot change the study's {head}")
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part, {}), dict):
                raise StudyError(f"{where}.{key}: {part!r} is not a settings block")
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return raw

