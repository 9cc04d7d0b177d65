"""The points of a search space, as a study file declares it: a range's ladder of rungs, quasi-random points,
when two candidates are one, and where a chosen value lies among those tried (the tuning playbook's boundary
check). Pure functions: the search's oracles (``suite.search``) and the report use them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from suite.ground.errors import SuiteError

NEAR = 0.05  # candidates closer than this (relatively, in every numeric setting) are one candidate
THIRD_OF_A_DECADE = 10 ** (1 / 3)


def ladder(entry) -> list:
    """The rungs a one-setting sweep tries, low to high (``entry``: a list of choices or a ``Range``)."""
    if isinstance(entry, list):
        return list(entry)
    low, high = entry.bounds
    if entry.kind == "int":
        return list(range(int(low), int(high) + 1, int(entry.step or 1)))
    if entry.kind == "linear" and entry.step is None:
        raise ValueError("a linear range needs a step to sweep")
    return [_rung(entry, k) for k in range(_index(entry, high) + 1)]


def step_out(entry, value, side: int):
    """``value`` moved one step on ``side`` (-1 down, +1 up), on the range's own ladder (``low x step^k``, or
    ``low + k x step``), so rungs stepped to from either side are the same numbers."""
    if entry.kind == "int":
        return int(value + side * int(entry.step or 1))
    return _rung(entry, _index(entry, value) + side)


def _step(entry) -> float:
    return entry.step or (THIRD_OF_A_DECADE if entry.kind == "log" else 1.0)


def _index(entry, value) -> int:
    """The rung nearest ``value`` (negative below the range's low)."""
    low = entry.bounds[0]
    if entry.kind == "log":
        return round(math.log(value / low) / math.log(_step(entry)))
    return round((value - low) / _step(entry))


def _rung(entry, k: int) -> float:
    low = entry.bounds[0]
    return _round(low * _step(entry) ** k if entry.kind == "log" else low + k * _step(entry))


def halton(space: dict, n: int, seed: int) -> list[dict]:
    """``n`` quasi-random points of the space (a scrambled Halton sequence), none near another."""
    from scipy.stats import qmc

    paths = list(space)
    sampler = qmc.Halton(d=len(paths), scramble=True, seed=seed)
    points: list[dict] = []
    for _ in range(100):  # draws until n distinct points (near-duplicates are skipped)
        for u in sampler.random(n):
            point = {path: _at(space[path], x) for path, x in zip(paths, u)}
            if not any(near(point, other) for other in points):
                points.append(point)
            if len(points) == n:
                return points
    return points  # a small discrete space has fewer than n distinct points


def _at(entry, u: float):
    """The value at quantile ``u`` of one setting's range (log scale for a log range)."""
    if isinstance(entry, list):
        return entry[min(int(u * len(entry)), len(entry) - 1)]
    low, high = entry.bounds
    if entry.kind == "log":
        return _round(math.exp(math.log(low) + u * (math.log(high) - math.log(low))))
    if entry.kind == "int":
        return int(min(math.floor(low + u * (high - low + 1)), high))
    return _round(low + u * (high - low))


def near(a: dict, b: dict) -> bool:
    """Whether two candidates are one: equal non-numeric values, numeric ones within ``NEAR`` of each other."""
    for path in a:
        x, y = a[path], b[path]
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            if x != y:
                return False
        elif abs(x - y) > NEAR * max(abs(x), abs(y)) and not (x == y == 0):
            return False
    return True


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def numeric(entry) -> bool:
    return not isinstance(entry, list) or (all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in entry)
                                           and len(entry) > 1)


@dataclass(frozen=True)
class Edge:
    """Where a search's best value of one setting lies among what it tried."""

    path: str
    value: float
    where: str  # "inside", "low" or "high"
    why: str = ""  # for an edge, a key of WHY: why the search did not step beyond it

    def words(self) -> str:
        if self.where == "inside":
            return f"{self.path} = {self.value:g} inside the values tried"
        side = "smallest" if self.where == "low" else "largest"
        return f"{self.path} = {self.value:g}, the {side} tried: {WHY[self.why]}"


WHY = {
    "hard limit": "on its hard limit (tune.limits)",
    "the end of the declared range": "at the end of its declared range (no tune.limits to extend to)",
    "the end of the listed values": "at the end of the listed values (a list does not extend)",
    "budget": "the search's trials ran out before it could step beyond",
    "not a sweep": "only a sweep extends its space (tune.algorithm: sweep)",
}


def edges(space: dict, limits: dict, tried: list[dict], best: dict, extends: bool = True) -> list[Edge]:
    """For each numeric setting, whether ``best`` is inside the values ``tried`` or on an edge, and why
    (``extends``: the search was a sweep, which steps beyond an edge while it can)."""
    out = []
    for path, entry in space.items():
        if not numeric(entry) or path not in best:
            continue
        values = sorted({t[path] for t in tried if path in t})
        value = best[path]
        if len(values) < 2 or values[0] < value < values[-1]:
            out.append(Edge(path, value, "inside"))
            continue
        side = -1 if value == values[0] else 1
        why = _why_not_further(entry, value, side, limits.get(path)) if extends or isinstance(entry, list) else "not a sweep"
        out.append(Edge(path, value, "low" if side < 0 else "high", why))
    return out


def _why_not_further(entry, value, side: int, limit) -> str:
    """Why a search did not step beyond an edge: a declared hard limit, the end of what the space declares, or
    (the next step allowed) its budget."""
    if isinstance(entry, list):
        return "the end of the listed values"
    if entry.kind == "linear" and entry.step is None:
        return "hard limit" if limit is not None else "the end of the declared range"
    if not within(step_out(entry, value, side), entry, limit):
        return "hard limit" if limit is not None else "the end of the declared range"
    return "budget"


def within(value, entry, limit) -> bool:
    """Whether ``value`` lies inside a setting's hard limits (without ``tune.limits``: its range)."""
    low, high = limit if limit is not None else entry.bounds
    return low * (1 - 1e-9) <= value <= high * (1 + 1e-9) if low > 0 else low - 1e-12 <= value <= high + 1e-12


def grid_values(entry: list | Range, where: str) -> list:
    """The points a grid search tries for one entry of the space."""
    if isinstance(entry, list):
        return list(entry)
    low, high = entry.bounds
    if entry.kind == "int":
        return list(range(low, high + 1, int(entry.step or 1)))
    if entry.step is None:
        raise SuiteError(f"{where}: a grid search needs a step for a range (a factor for log, an increment for linear)")
    points, x = [], low
    while x <= high * (1 + 1e-9):
        points.append(float(f"{x:.12g}"))  # 1e-4 * 10 * 10 is 0.010000000000000002 otherwise
        x = x * entry.step if entry.kind == "log" else x + entry.step
    return points


def grid_plan(space: dict) -> list[dict]:
    """Every combination of the space's grid points, in the file's order."""
    axes = {path: grid_values(entry, f"tune.space.{path}") for path, entry in space.items()}
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
