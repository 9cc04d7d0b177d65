"""Dotted paths into a settings tree (``train.batch_size``): read, check, set."""

from __future__ import annotations

import copy
import difflib
from typing import Any

from suite.ground.errors import StudyError


def get(tree: dict, path: str):
    node = tree
    for part in path.split("."):
        node = node[part]
    return node


def setting(base: dict, path: str, at: str) -> None:
    """``path`` must name one setting (not a block); the error suggests the closest one."""
    if not has_path(base, path) or isinstance(get(base, path), dict):
        close = difflib.get_close_matches(path, list(paths(base)), n=1)
        raise StudyError(f"{at}: no such setting" + (f" (did you mean {close[0]!r}?)" if close else ""))


def with_values(base: dict, values: dict[str, Any]) -> dict:
    out = copy.deepcopy(base)
    for path, value in values.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return out


def has_path(tree: dict, path: str) -> bool:
    node = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def paths(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        yield prefix + key
        if isinstance(value, dict):
            yield from paths(value, prefix + key + ".")

