"""Ensembles: several networks trained apart, their predicted probabilities averaged.

A trial with ``model.members: k`` trains k members one after another. Member 0
uses the trial's own seed, so an ensemble of one is exactly the single network
of that seed; the others draw their seeds from it. With ``model.resample:
bootstrap`` every member trains on its own bootstrap resample of the training
split (bagging: as many examples, drawn with replacement), so some examples
repeat and about a third are left out.

The ensemble is judged as one model. Its output on a split is the mean of its
members' softmax probabilities, kept as log-probabilities so the suite's loss
and accuracy read it as logits. Its per-epoch record after epoch e is the
ensemble of the members as they were after epoch e, so its convergence metrics
mean "every member trained e epochs". Its cost is every member's: per-epoch
training seconds are summed over members, and so are steps and examples.

Pure NumPy: no Keras here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Member:
    seed: int  # its weights, dropout and shuffle
    rows: np.ndarray | None  # the training examples it trains on, by index (None: all, once each)


def members(count: int, resample: str, seed: int, n_train: int) -> list[Member]:
    """The members of the ensemble a trial with ``seed`` trains, in order."""
    out = []
    for m in range(count):
        member_seed = seed if m == 0 else int(np.random.SeedSequence([seed, m]).generate_state(1)[0] % 2**31)
        rows = None
        if resample == "bootstrap":
            rows = np.random.default_rng([seed, m, 1]).integers(0, n_train, n_train).astype(np.int32)
        out.append(Member(member_seed, rows))
    return out


def log_mean_probabilities(logits: list[np.ndarray]) -> np.ndarray:
    """log of the mean over members of softmax(logits), computed stably (log-sum-exp); NaN where any member's is."""
    with np.errstate(invalid="ignore", over="ignore"):
        stacked = np.stack(logits)  # members x examples x classes
        top = stacked.max(axis=2, keepdims=True)
        log_softmax = stacked - (top + np.log(np.exp(stacked - top).sum(axis=2, keepdims=True)))
        peak = log_softmax.max(axis=0)
        return peak + np.log(np.exp(log_softmax - peak).mean(axis=0))


def history(histories: list[dict[str, list[float]]], validation: list[list[tuple[np.ndarray, float]]], y_val: np.ndarray,
            loss_and_accuracy) -> dict[str, list[float]]:
    """The ensemble's per-epoch record, as long as its shortest member's (a diverged member stops early).

    ``validation``: per member, per epoch, its logits on the validation split and its regularization
    penalty. val_loss and val_accuracy: the ensemble's, from each epoch's averaged probabilities
    (``loss_and_accuracy(out, y, penalty)``, with the members' mean penalty). loss and accuracy (running
    training values): the members' mean. epoch_train_s: the members' sum, so time counts every member.
    learning_rate: the first member's (they all follow the same schedule)."""
    epochs = min(len(h["loss"]) for h in histories)
    out: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for e in range(epochs):
        out["loss"].append(float(np.mean([h["loss"][e] for h in histories])))
        out["accuracy"].append(float(np.mean([h["accuracy"][e] for h in histories])))
        outputs = log_mean_probabilities([member[e][0] for member in validation])
        val_loss, val_acc = loss_and_accuracy(outputs, y_val, float(np.mean([member[e][1] for member in validation])))
        out["val_loss"].append(val_loss)
        out["val_accuracy"].append(val_acc)
    out["learning_rate"] = histories[0]["learning_rate"][:epochs]
    out["epoch_train_s"] = [float(sum(h["epoch_train_s"][e] for h in histories)) for e in range(epochs)]
    return out
