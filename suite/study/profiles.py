"""Profiles: a study file shrunk or grown by ``dotted.path: value`` overrides, without copying it."""

from __future__ import annotations

import copy

from suite.errors import StudyError

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

