"""``suite init DATA --label COLUMN``: a first study file for the user's own data, which runs as written.

It reads the file as a study would (``suite.train.files``), so a file the suite cannot use is
refused here, in one line, not at the first trial. A raw table is taken as it comes: its
string, boolean, date and missing values are encoded per split (``suite.train.tables``; a date
column is declared ``date``: its year, month, day of the year and weekday), and a column a model
cannot use as it is (free text, a name on most rows) is declared dropped in the study, with the
reason beside it, so the study runs on the file unchanged. The study is a plain search: an MLP, its
learning rate and width tuned by one search per seed (``tune.per: seed``), each seed's best setting
trained at that seed, so the claim's test counts independent searches. What it claims is judged: a
linear baseline (scikit-learn, no backend) is fitted on the study's own training rows (its splits,
read back from the written file) and scored on its validation rows (the target, for the time to
reach it) and its test rows (the bound the MLP must exceed).

The label decides the task, and the study says which and why (``data.task``): classes get a
standardised logistic regression and test accuracy (balanced accuracy where the classes are
imbalanced); a label that looks like a quantity (``files.looks_like_quantity``: many distinct
numbers, some not whole, or whole ones with many distinct values for the table's size, AutoGluon's
rule) is a regression, with a ridge regression and test R².
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from suite.ground.errors import SuiteError
from suite.train import baseline, files, tables


def task_of(table, label: str) -> tuple[str | None, str]:
    """The task a table's label asks for, and why: "regression" where it looks like a quantity, else classes (None)."""
    why = files.looks_like_quantity(table[label]) if label in table.columns else None
    return ("regression", why) if why else (None, "")


def inferred(table, label: str) -> dict[str, tuple[str, str]]:
    """Each feature column's inferred kind and why (``tables.infer``: "refused" for those a model cannot take as
    they are, free text and identifiers; "date" for dates)."""
    return {str(column): tables.infer(table[column]) for column in table.columns if str(column) != label}


def write(data: Path, label: str | None, out: Path | None = None, task: str | None = None) -> Path:
    """Write the study file for ``data`` (beside it unless ``out``); never over an existing file. ``task``
    (``--task``): classification or regression as the user says, instead of inferred from the label."""
    data = data.resolve()
    if data.suffix.lower() not in files.FORMATS:
        raise SuiteError(f"{data.name}: suite init reads {', '.join(files.FORMATS)} files")
    if data.suffix.lower() != ".npz" and label is None:
        raise SuiteError(f"{data.name}: a table needs --label COLUMN, the name of its label column (classes or a quantity)")
    table = data.suffix.lower() != ".npz"
    readable = table and label is not None and data.is_file()
    if readable:  # read once for what init infers: each column's kind, and the task the label asks for
        frame = files.load_table(data, label)  # or one line saying why it cannot be read
    kinds = inferred(frame, label) if readable else {}
    dropped = {c: why for c, (kind, why) in kinds.items() if kind == "refused"}
    dates = {c: why for c, (kind, why) in kinds.items() if kind == "date"}  # offered as dates: year, month, day of year, weekday
    declared = task
    if task is None:
        task, quantity = task_of(frame, label) if readable else (None, "")
    else:
        quantity = "declared with --task regression"
    source = files.read(str(data), label if table else None, {c: "drop" for c in dropped}, task=task)
    out = (out or data.with_suffix(".yaml")).resolve()
    if out.exists():
        raise SuiteError(f"{out}: exists; give another path with --out")
    # the study is named after its file (``--out mpg.yaml``: mpg), so two studies of one table keep apart records
    name = re.sub(r"[^a-z0-9_-]", "_", out.stem.lower()).strip("_-")[:64] or "my_data"
    if not name[0].isalnum():
        name = f"d{name}"[:64]
    if task == "regression":
        return _regression(data, label, out, name, source, dropped, dates, quantity, frame if readable else None)
    y = source.y
    counts = np.bincount(y)
    names = source.class_names or tuple(map(str, range(len(counts))))
    imbalanced = counts.max() >= 3 * max(counts.min(), 1)  # accuracy alone would flatter a model that misses the small classes
    imbalance = ""
    if imbalanced:
        imbalance = (f"\n# The classes are imbalanced (the smallest is {counts.min() / len(y):.0%} of the rows): always "
                     f"answering the largest class\n#   scores {counts.max() / len(y):.3f} accuracy. The claim is judged on "
                     "balanced accuracy, and the report shows it and macro F1\n#   beside accuracy; to weigh the small "
                     "classes in training, add rebalance: class_weight (or oversample) to data:.")
    where = _where(data, out)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    quoted = json.dumps  # a file or column name may hold anything YAML would read otherwise

    def data_block(columns: dict[str, str]) -> str:  # a classification declared with --task says so
        return _data_block(where, label if table else None, columns, declared)

    features = len(source.plan.kinds) if source.plan else int(np.prod(source.x.shape[1:]))
    measure = "test_balanced_accuracy" if imbalanced else "test_accuracy"
    what = "balanced accuracy" if imbalanced else "accuracy"

    def text(base: baseline.Baseline | None, notes=(), declared: dict[str, str] | None = None) -> str:
        b = base or baseline.Baseline(0.0, 0.0, 0.0)  # the draft, read back only for its splits
        score = b.test_balanced_accuracy if imbalanced else b.test_accuracy
        described = _columns(notes, dropped) if table else ""
        return f"""\
# A first study of {data.name}, written by `suite init` (README: "Your own data and your own model").
# Run:   suite run {out.name} --profile smoke     (a minute), then without --profile
# The data: {len(y)} rows, {features} feature columns, {len(counts)} classes ({shown});
#   the largest class is {counts.max() / len(y):.0%} of the rows.{imbalance}{described}
# The baseline, measured by `suite init` on this study's own splits (data.seed 0: the rows every trial sees):
#   a standardised logistic regression fitted on the training rows scored a validation accuracy of
#   {b.val_accuracy:.4f} (the target: the MLP's epochs to reach it), and a test {what} of {score:.4f}.
# The claim is judged (expect:): is the tuned MLP's mean test {what} over its seeds above the baseline's?
# A plain search: `tune:` tries learning rates and widths, one search per seed (tune.per: seed), and each
#   seed's best setting is trained at that seed, so the claim's test counts three independent searches
#   (seeds sharing one search would be one replicate); the report lists the top trials. Add a `grid:` to
#   compare settings.
name: {name}
title: An MLP on {data.name}
claim: A tuned MLP scores a higher test {what} than a logistic regression on {data.name}.
data: {data_block(declared or {})}
model: {{family: mlp, depth: 2, width: 64, activation: relu}}
train: {{optimizer: adam, learning_rate: 1.0e-3, batch_size: 32, epochs: 30, patience: 5}}
tune:
  algorithm: random
  trials: 8
  per: seed
  space:
    train.learning_rate: {{log: [1.0e-4, 1.0e-2]}}
    model.width: {{int: [16, 256]}}
seeds: [0, 1, 2]
target: {{metric: val_accuracy, value: {b.val_accuracy:.4f}}}
expect:
  - says: The tuned MLP's test {what} is above a logistic regression's on the same splits
    metric: {measure}
    above: baseline  # measured on the study's own splits whenever it is read ({score:.4f} when init wrote it)
profiles:
  smoke: {{train.epochs: 3, tune.trials: 2, seeds: [0]}}
"""

    splits, notes = _drafted(out, text(None, declared={c: "drop" for c in dropped}), dropped)
    b = baseline.logistic(splits)
    out.write_text(text(b, notes, declared={**{c: "date" for c in dates}, **{c: "drop" for c in dropped}}))
    facts = [f"baseline: a standardised logistic regression on this study's own splits scores a validation accuracy "
             f"of {b.val_accuracy:.4f} (the target) and a test {what} of "
             f"{b.test_balanced_accuracy if imbalanced else b.test_accuracy:.4f} (the claim's bound)"]
    if imbalanced:
        facts.append(f"imbalanced: always answering the largest class scores {counts.max() / len(y):.3f} accuracy; the "
                     "claim is judged on balanced accuracy; to weigh the small classes, add rebalance: class_weight "
                     "(or oversample) to data:")
    return out, notes, dropped, facts + (leaks(frame, label, "classification") if readable else [])


LEAK = 0.95  # a feature whose |correlation| with the label is at least this, or that maps one-to-one onto its classes


def leaks(frame, label: str, task: str) -> list[str]:
    """Features that almost equal the label (a leak: a column measured with or after it), each with a suggestion."""
    import pandas as pd

    found = []
    for column in frame.columns:
        if column == label:
            continue
        both = frame[[column, label]].dropna()
        if len(both) < 10:
            continue
        x, target = both[column], both[label]
        if task == "regression" and pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            if x.nunique() > 1 and target.nunique() > 1 and abs(r := float(x.corr(target))) >= LEAK:
                found.append(f"{column}: almost equals the label (correlation {r:+.3f}): a leak? declare "
                             f'data.columns: {{"{column}": drop}} unless it is known before the label is')
        elif task == "classification" and x.nunique() == target.nunique() > 1 and \
                both.groupby(column)[label].nunique().max() == 1:
            found.append(f"{column}: maps one-to-one onto the label's classes: a leak? declare "
                         f'data.columns: {{"{column}": drop}} unless it is known before the label is')
    return found


def _columns(notes, dropped: dict[str, str]) -> str:
    """The study's comment on its columns: what the splits' encoding does to each, and those dropped, with why."""
    if not (notes or dropped):
        return ""
    return ("\n# Columns (encoded per split, fitted on its training rows; override a kind with data.columns):"
            + "".join(f"\n#   {note}" for note in notes)
            + "".join(f"\n#   {c}: dropped, it {reason}" for c, reason in dropped.items()))


def _where(data: Path, out: Path) -> str:
    """The data file as the study names it: relative to the study where it can be."""
    try:
        return data.relative_to(out.parent).as_posix()
    except ValueError:
        return str(data)


def _data_block(where: str, label: str | None, declared: dict[str, str], task: str | None = None) -> str:
    quoted = json.dumps  # a file or column name may hold anything YAML would read otherwise
    columns = ", columns: {" + ", ".join(f"{quoted(c)}: {kind}" for c, kind in declared.items()) + "}" if declared else ""
    declared_task = f", task: {task}" if task else ""
    if label is None:  # an .npz file: its labels are its y
        return f"{{path: {quoted(where)}{declared_task}}}"
    return f"{{path: {quoted(where)}, label: {quoted(label)}{declared_task}{columns}}}"


def _drafted(out: Path, draft_text: str, dropped: dict[str, str]):
    """The splits a study written as ``draft_text`` trains on (read back from a draft beside it, so its data path reads
    the same), and the notes on its columns (those dropped said apart)."""
    draft = out.with_name(f".{out.stem}.init-draft.yaml")
    try:
        draft.write_text(draft_text)  # dates inferred: their notes say why
        from suite.study import load_study
        from suite.train.splits import prepare

        splits = prepare(load_study(draft).cells[0].settings.data)
    finally:
        draft.unlink(missing_ok=True)
    return splits, tuple(n for n in splits.preprocessing if not any(n.startswith(f"{c}: dropped") for c in dropped))


def _regression(data: Path, label: str, out: Path, name: str, source, dropped: dict[str, str], dates: dict[str, str],
                quantity: str, frame=None):
    """The study of a label that holds a quantity: a regression, judged against a ridge regression's test R²."""
    where = _where(data, out)
    y = source.y
    features = len(source.plan.kinds) if source.plan else int(np.prod(source.x.shape[1:]))
    unlabelled = source.plan.unlabelled if source.plan else 0

    def text(base: baseline.Ridge | None, notes=(), declared: dict[str, str] | None = None) -> str:
        b = base or baseline.Ridge(0.0, 0.0, 0.0)  # the draft, read back only for its splits
        described = _columns(notes, dropped)
        missing = f" ({unlabelled} rows without one dropped)" if unlabelled else ""
        return f"""\
# A first study of {data.name}, written by `suite init` (README: "Your own data and your own model").
# Run:   suite run {out.name} --profile smoke     (a minute), then without --profile
# The data: {len(y)} labelled rows{missing}, {features} feature columns. The label {label or "y"} is a quantity
#   ({quantity}), so this is a regression (data.task: regression; data.task: classification would take
#   each value as a class): the MLP trains on the mean squared error of the label standardized by its
#   training rows (train.loss: mae or huber instead), and is scored by R², RMSE and MAE.
#   Label: mean {float(np.mean(y)):.4g}, SD {float(np.std(y)):.4g}, from {float(np.min(y)):.4g} to {float(np.max(y)):.4g}.{described}
# The baseline, measured by `suite init` on this study's own splits (data.seed 0: the rows every trial sees):
#   a ridge regression (its penalty chosen by cross-validation on the training rows) scored a validation R²
#   of {b.val_r2:.4f} (the target: the MLP's epochs to reach it), and a test R² of {b.test_r2:.4f} (RMSE {b.test_rmse:.4g}).
# The claim is judged (expect:): is the tuned MLP's mean test R² over its seeds above the ridge regression's?
# A plain search: `tune:` tries learning rates and widths by validation loss, one search per seed (tune.per:
#   seed), and each seed's best setting is trained at that seed, so the claim's test counts three independent
#   searches (seeds sharing one search would be one replicate); the report lists the top trials. Add a `grid:`
#   to compare settings.
name: {name}
title: An MLP regression on {data.name}
claim: A tuned MLP predicts {label or "y"} on {data.name} with a higher test R² than a ridge regression.
data: {_data_block(where, label, declared or {}, "regression")}
model: {{family: mlp, depth: 2, width: 64, activation: relu}}
train: {{optimizer: adam, learning_rate: 1.0e-3, batch_size: 32, epochs: 100, patience: 10, loss: mse}}
tune:
  algorithm: random
  trials: 8
  per: seed
  objective: val_loss
  space:
    train.learning_rate: {{log: [1.0e-4, 1.0e-2]}}
    model.width: {{int: [16, 256]}}
seeds: [0, 1, 2]
target: {{metric: val_r2, value: {b.val_r2:.4f}}}
expect:
  - says: The tuned MLP's test R² is above a ridge regression's on the same splits
    metric: test_r2
    above: baseline  # measured on the study's own splits whenever it is read ({b.test_r2:.4f} when init wrote it)
profiles:
  smoke: {{train.epochs: 3, tune.trials: 2, seeds: [0]}}
"""

    splits, notes = _drafted(out, text(None, declared={c: "drop" for c in dropped}), dropped)
    b = baseline.ridge(splits)
    out.write_text(text(b, notes, declared={**{c: "date" for c in dates}, **{c: "drop" for c in dropped}}))
    facts = [f"baseline: a ridge regression on this study's own splits scores a validation R² of {b.val_r2:.4f} (the "
             f"target) and a test R² of {b.test_r2:.4f}, RMSE {b.test_rmse:.4g} (the claim's bound)"]
    return out, notes, dropped, facts + (leaks(frame, label, "regression") if frame is not None else [])
