"""Validation errors as one line naming the field path: ``path: what is wrong, got <value>``."""

from __future__ import annotations

import difflib
import re

from pydantic import BaseModel, ValidationError

from suite.ground.errors import StudyError
from suite.kinds import KINDS
from suite.study.expectations import Reference, Target
from suite.study.schema import Study
from suite.study.settings import Augment, Data, Imbalance, Model, Pretrain, Synthetic, Train
from suite.study.tuning import Range, Tune


def all_fields() -> list[str]:
    """Every key some block of a study file declares (the kinds' as registered now): what a typo is matched against."""
    blocks = (Study, Data, Model, Train, Target, Synthetic, *KINDS.values(), Imbalance, Augment, Tune, Range, Reference,
              Pretrain)
    return sorted({f for m in blocks for f in m.model_fields})


VALIDATOR = re.compile(r"^function-(after|before|wrap|plain)\[")  # a validator's step in an error's location


def validate(raw: dict, where: str, model: type[BaseModel] = Study):
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise StudyError(where + describe(first(e))) from None


def first(e: ValidationError) -> dict:
    """The error to show: a misspelt key explains a "missing" one next to it, so it goes first."""
    errors = e.errors()
    if errors[0]["type"] == "missing":
        return next((x for x in errors if x["type"] in ("extra_forbidden", "unknown_key")), errors[0])
    return errors[0]


def describe(error: dict) -> str:
    """Turn one pydantic error into ``path: what is wrong, got <value>``."""
    loc = [str(p) for p in error["loc"] if not VALIDATOR.match(str(p))]  # pydantic's own steps, not the file's keys
    path = ".".join(loc) or "study"
    kind = error["type"]
    if kind == "unknown_key":  # raised by a block's own check, which names the key: a plugin family's settings
        loc = [*loc, error["ctx"]["key"]]
        path = ".".join(loc)
    if kind in ("extra_forbidden", "unknown_key"):
        close = difflib.get_close_matches(loc[-1], all_fields() + list(error.get("ctx", {}).get("known", [])), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{path}: unknown key{hint}"
    if kind == "family_setting":  # likewise: the key is in the message
        return f"{path}.{error['msg']}"
    if kind == "missing":
        return f"{path}: is required"
    if kind == "literal_error":
        message = f"must be one of {error['ctx']['expected']}"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = "must be a mapping of keys to values"
    elif kind == "list_type":
        message = "must be a list"
    else:
        message = error["msg"]
        message = message[0].lower() + message[1:]
    if isinstance(error.get("input"), dict):  # a whole block is wrong: its keys say more than its repr
        return f"{path}: {message}"
    got = repr(error.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    return f"{path}: {message}, got {got}"
