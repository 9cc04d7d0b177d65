"""A raw table's feature columns as numbers, the way a real table comes: numeric, boolean and
categorical columns, with gaps.

Each column gets a kind, inferred or declared (``data.columns: {site: categorical, id: drop}``):

- **numeric** (numbers): missing values imputed by the training rows' median, with an indicator
  column saying which were missing (scikit-learn's ``SimpleImputer(add_indicator=True)``);
- **boolean** (True/False, yes/no, as ``pandas.get_dummies`` writes them): 1/0, then as numeric;
- **categorical** (strings, or integers declared so): one column per category seen in the training
  rows (``OneHotEncoder(handle_unknown="ignore")``: a category first seen in validation or test rows
  is all zeros), missing values their own category;
- **date** (dates or times, parsed by pandas): four numbers, its year, month, day of the year and
  weekday (Monday 0), each then as numeric (a gap imputed, with its indicator): for a weather or a
  sales table the month or the day of the year is often the signal;
- **drop**: left out.

Free text and identifiers are refused by name, with the reason and the declaration that drops them: a
model needs them turned into numbers first. The encoding is a scikit-learn ``ColumnTransformer``
fitted on the training rows alone (per fold under k-fold), never on validation or test rows; what
it did is said in words (``Encoded.notes``), printed by ``suite init``, logged on every run and
written in the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite.ground.errors import DataError

KINDS = ("numeric", "categorical", "boolean", "date", "drop")
DATE_PARTS = ("year", "month", "day_of_year", "weekday")  # the numbers a date column becomes
TRUE, FALSE = {"true", "yes", "y", "t"}, {"false", "no", "n", "f"}
FREE_TEXT_WORDS = 4  # a string column whose values average this many words or more is free text
MOSTLY_DISTINCT = 0.5  # a string column with at least this share of distinct values is taken as names, not categories


@dataclass(frozen=True)
class Plan:
    """Each feature column's kind, and why when it was inferred."""

    kinds: dict[str, str]
    reasons: dict[str, str]
    unlabelled: int = 0  # rows dropped before encoding: their label was missing
    label_note: str = ""  # what was said about the label (a declared classification whose label looks like a quantity)


def plan(features: pd.DataFrame, declared: dict[str, str], where: str) -> Plan:
    """The kind of every feature column: as declared, else inferred; free text and identifiers refused by name."""
    unknown = sorted(set(declared) - set(map(str, features.columns)))
    if unknown:
        raise DataError(f"data.columns: no column {unknown[0]!r} in {where} (columns: {', '.join(map(str, features.columns))})")
    kinds, reasons = {}, {}
    for column in features.columns:
        name = str(column)
        if name in declared:
            kinds[name], reasons[name] = declared[name], "declared in data.columns"
            continue
        kind, reason = infer(features[column])
        if kind == "refused":
            raise DataError(f"data.path: column {name!r} of {where} {reason}; leave it out with data.columns: "
                            f"{{{name}: drop}} (or declare its kind)")
        kinds[name], reasons[name] = kind, reason
    if all(k == "drop" for k in kinds.values()):
        raise DataError(f"data.columns: every feature column of {where} is dropped: nothing to learn from")
    return Plan(kinds, reasons)


def infer(values: pd.Series) -> tuple[str, str]:
    """A column's kind and why; "refused" (with the reason) for free text and identifiers."""
    if pd.api.types.is_bool_dtype(values):
        return "boolean", "True/False values"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric", "numbers"
    present = values.dropna().astype(str).str.strip()
    if len(present) and present.str.lower().isin(TRUE | FALSE).all():
        return "boolean", "True/False values"
    if len(present) and _dates(present):
        return "date", f"holds dates, e.g. {present.iloc[0]!r}"
    if len(present) and present.str.split().str.len().mean() >= FREE_TEXT_WORDS:
        return "refused", f"holds free text (e.g. {present.iloc[0][:40]!r}): a model needs it turned into numbers first"
    distinct = present.nunique() / len(present) if len(present) else 0.0
    if len(present) > 20 and distinct == 1:
        return "refused", "has a different value on every row (an identifier or a name?)"
    if len(present) > 20 and distinct >= MOSTLY_DISTINCT:  # one-hot: about a column per row, each seen once or twice
        return "refused", (f"has a value of its own on most rows ({present.nunique()} distinct in {len(present)}: an "
                           "identifier or a name?), which one-hot encoding would turn into a column per row")
    return "categorical", "strings"


def _dates(present: pd.Series) -> bool:
    sample = present.head(200)
    if not sample.str.contains(r"\d").all() or not sample.str.contains(r"[-/:]").any():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def as_frame(features: pd.DataFrame, p: Plan) -> pd.DataFrame:
    """The columns the plan keeps, each in the type its kind is encoded from."""
    out = {}
    for name, kind in p.kinds.items():
        column = features[name] if name in features else features[_original(features, name)]
        if kind == "drop":
            continue
        if kind == "date":
            out.update(date_parts(name, column))
        elif kind == "boolean":
            text = column.map(lambda v: v if pd.isna(v) else str(v).strip().lower())
            out[name] = text.map(lambda v: np.nan if pd.isna(v) else 1.0 if v in TRUE else 0.0 if v in FALSE else np.nan)
        elif kind == "numeric":
            numbers = pd.to_numeric(column, errors="coerce")
            bad = int((numbers.isna() & column.notna()).sum())
            if bad:
                raise DataError(f"data.columns: column {name!r} is declared numeric but {bad} of its values are not numbers "
                                f"(e.g. {column[numbers.isna() & column.notna()].iloc[0]!r})")
            out[name] = numbers.astype("float64")
        else:
            out[name] = column.map(lambda v: v if pd.isna(v) else str(v)).astype(object)
    return pd.DataFrame(out)


def date_parts(name: str, column: pd.Series) -> dict[str, pd.Series]:
    """A date column as its year, month, day of the year and weekday (``name.year`` ...); a value that is no date
    is refused by name, a missing one stays missing (imputed like any numeric gap)."""
    parsed = pd.to_datetime(column, errors="coerce", format="mixed")
    bad = parsed.isna() & column.notna()
    if bad.any():
        raise DataError(f"data.columns: column {name!r} is taken as dates but {int(bad.sum())} of its values are not "
                        f"(e.g. {column[bad].iloc[0]!r}); declare its kind (data.columns: {{{name}: categorical}}) or drop it")
    when = parsed.dt
    values = {"year": when.year, "month": when.month, "day_of_year": when.dayofyear, "weekday": when.weekday}
    return {f"{name}.{part}": values[part].astype("float64") for part in DATE_PARTS}


def encoded_columns(p: Plan, kind: str) -> list[str]:
    """The frame's columns (``as_frame``) a kind gives: a date's parts are numeric."""
    if kind == "numeric":
        return [c for n, k in p.kinds.items() if k in ("numeric", "boolean", "date")
                for c in ([f"{n}.{part}" for part in DATE_PARTS] if k == "date" else [n])]
    return [n for n, k in p.kinds.items() if k == kind]


def _original(features: pd.DataFrame, name: str):
    return next(c for c in features.columns if str(c) == name)


@dataclass
class Encoded:
    """The transformer fitted on the training rows, and what it did, in words."""

    transformer: object
    notes: tuple[str, ...]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.transformer.transform(frame), dtype="float32")


def fit(frame: pd.DataFrame, p: Plan) -> Encoded:
    """A ``ColumnTransformer`` fitted on ``frame`` (the training rows only)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric, categorical = encoded_columns(p, "numeric"), encoded_columns(p, "categorical")
    parts = []
    if numeric:
        parts.append(("numeric", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), numeric))
    if categorical:
        parts.append(("categorical", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(missing)"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False)), categorical))
    transformer = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
    transformer.fit(frame)
    return Encoded(transformer, describe(frame, p, transformer))


def describe(frame: pd.DataFrame, p: Plan, transformer) -> tuple[str, ...]:
    """What the encoding did to each column, as a person would say it."""
    notes = [f"label: {p.unlabelled} rows without a label dropped"] if p.unlabelled else []
    notes += [f"label: {p.label_note}"] if p.label_note else []
    categories = {}
    if "categorical" in transformer.named_transformers_:
        encoder = transformer.named_transformers_["categorical"][-1]
        columns = [n for n, k in p.kinds.items() if k == "categorical"]
        categories = {c: len(cats) for c, cats in zip(columns, encoder.categories_)}
    for name, kind in p.kinds.items():
        if kind == "drop":
            notes.append(f"{name}: dropped ({p.reasons[name]})")
            continue
        if kind == "date":
            missing = int(frame[f"{name}.year"].isna().sum())
            gaps = f", {missing} missing in the training rows imputed by the median, with a missing-value indicator"
            notes.append(f"{name}: date ({p.reasons[name]}) as its year, month, day of the year and weekday"
                         + (gaps if missing else ""))
            continue
        missing = int(frame[name].isna().sum())
        gaps = f", {missing} missing in the training rows imputed" if missing else ""
        if kind == "categorical":
            notes.append(f"{name}: categorical ({p.reasons[name]}), one-hot over the {categories[name]} values of the "
                         f"training rows{', missing as its own value' if missing else ''}; unseen values: all zeros")
        elif kind == "boolean":
            notes.append(f"{name}: boolean ({p.reasons[name]}) as 1/0{gaps} (median), with a missing-value indicator"
                         if missing else f"{name}: boolean ({p.reasons[name]}) as 1/0")
        else:
            notes.append(f"{name}: numeric{gaps} by the median, with a missing-value indicator" if missing
                         else f"{name}: numeric")
    return tuple(notes)
