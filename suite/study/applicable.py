"""Which settings a trial actually uses, as flat dotted names with plain values.

A study file's settings carry every block's defaults, most of which do nothing
for a given trial (``data.synthetic.*`` for an mnist1d study, ``train.momentum``
for Adam). ``in_effect`` keeps the ones that act, so a reader of a run (in the
MLflow UI, say) sees the few that matter; the full settings stay available as
``Settings.model_dump``.
"""

from __future__ import annotations

from typing import Any

from suite.study.settings import KFold, Settings

MOMENTUM_OPTIMIZERS = {"momentum", "nesterov"}
BUILT_IN_OPTIMIZERS = {"sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"}


def flat(tree: dict, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"width": 8}}`` -> ``{"model.width": 8}``."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def in_effect(settings: Settings, keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """The settings that act on a trial with ``settings``, flat; ``keep`` (e.g. the grid's axes) always stays."""
    d, m, t = settings.data, settings.model, settings.train
    unused = set()
    if d.dataset != "synthetic" or d.path is not None:
        unused.add("data.synthetic.")
    unused |= {"data.dataset"} if d.path is not None else {"data.path", "data.label", "data.columns"}
    if not isinstance(d.validation, KFold):
        unused.add("data.fold")
    if d.imbalance.ratio == 1.0:
        unused.add("data.imbalance.")
    if d.task is None:  # classes, as every study before data.task was
        unused.add("data.task")
    if d.task != "regression":
        unused.add("train.loss")
    else:  # a regression has no classes to select, corrupt or weigh
        unused |= {"data.classes", "data.label_noise", "data.rebalance", "data.imbalance."}
    if m.family != "cnn":
        unused |= {"model.kernel_size", "model.stride", "model.pooling", "model.head"}
    elif m.stride > 1:
        unused.add("model.pooling")
    if m.members == 1 and m.resample == "none":
        unused |= {"model.members", "model.resample"}
    if m.family != "gru":
        unused.add("model.bidirectional")
    if m.init != "normal":
        unused.add("model.init_std")
    if m.max_norm is None:
        unused.add("model.max_norm")
    if m.normalization != "group":
        unused.add("model.groups")
    if m.dropout == 0 or m.normalization == "none":
        unused.add("model.dropout_at")
    if t.optimizer in BUILT_IN_OPTIMIZERS - MOMENTUM_OPTIMIZERS:  # a registered optimizer may read either
        unused.add("train.momentum")
    if t.optimizer in BUILT_IN_OPTIMIZERS - {"adamw"}:
        unused.add("train.weight_decay")
    if t.optimizer in MOMENTUM_OPTIMIZERS | {"sgd"}:
        unused.add("train.epsilon")
    if t.schedule == "constant":
        unused.add("train.lr_final")
    if t.patience is None:
        unused.add("train.monitor")
    if t.transfer == "scratch":
        unused.add("pretrain.")
    unused |= plugin_unused(m.family)
    unused |= fit_sets(m.family)
    everything = flat(settings.model_dump(mode="json"))
    hyper = _hypermodel_unused(m.family, everything)
    return {
        name: value
        for name, value in everything.items()
        if name in keep or (name not in hyper and not any(name == u or (u.endswith(".") and name.startswith(u)) for u in unused))
    }


MLP_SETTINGS = ("depth", "width", "dropout", "dropout_at")  # the built-in MLP's shape: a plugin family has its own


def plugin_unused(family: str) -> set[str]:
    """The built-in MLP's shape settings a plugin family (``register_model``) did not declare: its builder builds its
    own layers, so they do nothing (a hyper-model family's are in ``_hypermodel_unused``)."""
    from suite.train import models

    found = models.FAMILIES.get(family)
    if found is None or not found.plugin or found.hypermodel:
        return set()
    return {f"model.{k}" for k in MLP_SETTINGS if k not in found.settings}


def fit_sets(family: str) -> set[str]:
    """The settings a HyperModel's own fit() sets for each trial (``train.batch_size``, ``data.order``): its hp.* values,
    recorded as model.hp.*, say what they were, and the study's own value does nothing."""
    from suite.train import models

    found = models.FAMILIES.get(family)
    return set(found.fit_sets) if found is not None else set()


def _hypermodel_unused(family: str, everything: dict[str, Any]) -> set[str]:
    """A keras-tuner build function reads its hp.* values alone: the shared model settings (width, activation...)
    do nothing, nor does an hp.* value that changes no layer (a rate for its own compile(), which the suite replaces)."""
    from suite.train import models

    found = models.FAMILIES.get(family)
    if found is None or not found.hypermodel:
        return set()
    inert = {f"model.hp.{name}" for name in found.inert}
    return {n for n in everything if n.startswith("model.") and n != "model.family"
            and (not n.startswith("model.hp.") or n in inert)}


def plain(value: Any) -> str:
    """A value as a person writes it: ``he_normal``, ``0.5``, ``None``, ``[0, 1]`` (not JSON-quoted)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {plain(v)}" for k, v in value.items()) + "}"
    return str(value)
