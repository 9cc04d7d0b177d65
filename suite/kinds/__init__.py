"""kinds: what a study can claim, and how each claim is tested.

One module per kind of expectation, each a subclass of ``base.Expectation`` that holds the
kind's fields and checks, its test, its floor (when too few replicates can decide nothing),
its power plan and the arms it draws on the time-to-target figure:

    trend           the metric rises or falls along an axis (Spearman over cells)
    best_at         one cell beats every other (pairwise tests, intersection-union)
    compare         one cell against another: a direction, or equal within a margin
    time_to_target  compare on a time to target: survival data (log-rank, RMST)
    spread          compare on the spread across seeds (F-test)
    bound           the mean below, above or near a value (one-sample t, sign test)
    steadier        averaging over an axis steadies an estimate (bootstrap)

Beside them: survival analysis
(``survival``, ``censoring``) and the power of each test (``sizes``). ``KINDS`` below is the
registry; a study file's fields name the kind (``kind_of``), so the file says no kind's name.
Adding a kind is one module and one line here (or ``register``). Imports ``ground`` only.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

from suite.kinds.base import Expectation, Literature, Verdict, agreement, finished
from suite.kinds.best_at import BestAt
from suite.kinds.bound import Bound
from suite.kinds.compare import Compare
from suite.kinds.spread import Spread
from suite.kinds.steadier import Steadier
from suite.kinds.time_to_target import TimeToTarget
from suite.kinds.trend import Trend

# The registry. Kinds that share marks (compare, against) are asked in this order whether they are meant
# (``claims``): the more specific first, so the plain comparison comes last of its family.
KINDS: dict[str, type[Expectation]] = {k.kind: k for k in (Trend, BestAt, Spread, TimeToTarget, Compare, Bound, Steadier)}


def register(kind: type[Expectation], before: str | None = None) -> type[Expectation]:
    """Add a kind to the registry (after the others, or just before the kind named ``before``, which it refines)."""
    entries = [(k, v) for k, v in KINDS.items() if k != kind.kind]
    at = next((i for i, (k, _) in enumerate(entries) if k == before), len(entries))
    entries.insert(at, (kind.kind, kind))
    KINDS.clear()
    KINDS.update(entries)
    return kind


def families() -> list[tuple[str, ...]]:
    """The distinct sets of marks, in registry order."""
    return list(dict.fromkeys(k.marks for k in KINDS.values()))


def kind_of(data: dict) -> type[Expectation] | None:
    """The kind a study file's entry names by its fields; None unless exactly one family's marks appear."""
    named = [marks for marks in families() if any(m in data for m in marks)]
    if len(named) != 1:
        return None
    return next((k for k in KINDS.values() if k.marks == named[0] and k.claims(data)), None)


def one_of() -> str:
    return "needs exactly one of: " + ", ".join(
        next(k.shown for k in KINDS.values() if k.marks == marks) for marks in families())


def parse(data) -> Expectation:
    """One ``expect:`` entry as the kind its fields name, checked by that kind's own fields and checks."""
    if isinstance(data, Expectation):
        return data
    kind = kind_of(data) if isinstance(data, dict) else None
    if kind is None:
        raise PydanticCustomError("value", one_of())
    return kind.model_validate(data)  # its errors keep their place: expect.0.along


# The type of one ``expect:`` entry: whichever registered kind its fields name, looked up as it is read.
Expect = Annotated[Expectation, PlainValidator(parse), PlainSerializer(lambda e: e.model_dump(), return_type=dict)]


def expectation(**fields) -> Expectation:
    """One expectation from its study-file fields (as a test or a notebook writes it)."""
    try:
        return parse(fields)
    except PydanticCustomError as e:
        raise ValueError(str(e)) from None


__all__ = ["Expect", "Expectation", "KINDS", "Literature",
           "Verdict", "agreement", "expectation", "finished", "kind_of", "register"]
