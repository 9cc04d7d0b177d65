"""Field types of the schema: each check raises one plain message.

So an error reads ``train.batch_size: must be a positive integer, got 'abc'``. Every
block of a study file is a ``Locked`` model: a typo is an error, never a silently
ignored key.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError


def _int(low: int, high: int, message: str):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise PydanticCustomError("value", message)
        return v

    return Annotated[int, BeforeValidator(check)]


def _float(ok, message: str):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not ok(v):
            raise PydanticCustomError("value", message)
        return float(v)

    return Annotated[float, BeforeValidator(check)]


def _text(v):
    if not isinstance(v, str) or not v.strip():
        raise PydanticCustomError("value", "must be a non-empty string")
    return v


def _flag(v):
    if not isinstance(v, bool):
        raise PydanticCustomError("value", "must be true or false")
    return v


PositiveInt = _int(1, 10**9, "must be a positive integer")
Count = _int(0, 10**9, "must be a non-negative integer")
Epochs = _int(1, 100_000, "must be an integer from 1 to 100000")
Depth = _int(0, 1_000, "must be an integer from 0 to 1000")
Width = _int(1, 1 << 16, "must be an integer from 1 to 65536")
Seed = _int(0, 2**31 - 1, "must be an integer from 0 to 2147483647")
PositiveFloat = _float(lambda v: v > 0, "must be a positive number")
NonNegFloat = _float(lambda v: v >= 0, "must be a number >= 0")
Fraction = _float(lambda v: 0 < v < 1, "must be a number strictly between 0 and 1")
Rate = _float(lambda v: 0 <= v < 1, "must be a number in [0, 1)")
Number = _float(lambda v: True, "must be a finite number")
Text = Annotated[str, BeforeValidator(_text)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class Locked(BaseModel):
    """A settings block where a typo is an error, not a silently ignored key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

