"""Trials that train together: one compiled program for several trials of the same structure (JAX only).

The trials of a group share a model family, data, batch size and epochs, and differ in their
seed (initial weights, dropout stream, data order), their learning rate and, for an optimizer that holds
it in a variable, their epsilon (each an optimizer variable of the lane's own). A decaying schedule is
the same function of the step for every trial, scaled by each trial's own rate: before each step,
each trial's rate variable is set to its rate times the schedule at the optimizer's iteration (what
Keras's optimizer computes from a ``LearningRateSchedule`` before it applies a step). Gradient
clipping is the optimizer's own (``clipnorm``), applied inside ``stateless_apply``. Class weights
(``data.rebalance: class_weight``) weigh each example's loss by its class's, as Keras's fit does. The
diagnostics' probes (``diagnostics.Taps``) are mapped over the lanes at initialization and after every
epoch, outside the clock, each lane measured on its own weights as a trial alone is. Their parameters,
non-trainable state (batch-norm statistics, dropout seed states) and optimizer state are stacked
along a leading axis of a fixed width, and one training epoch (a ``lax.scan`` over the batches
of Keras 3's ``stateless_call`` and the optimizer's ``stateless_apply``, the pattern Keras
documents for custom JAX loops) runs over that axis, compiled once: on an accelerator mapped over it
with ``jax.vmap``, the lanes side by side; on a CPU looped over the active lanes only, one after
another (``LANES``, ``platform_lanes``), so a frozen lane costs nothing.

A trial's numbers do not depend on its companions: the group always has ``width`` slots (empty
ones hold a copy of the first trial and are frozen), so the compiled program, and with it every
kernel XLA picks, is the same whatever shares the group (looped, each lane is the same program on its
own slice, whichever lanes are active). A trial that diverges (a non-finite loss)
or stops early is frozen (its slot keeps its parameters) while the rest go on, and each trial
keeps its own best weights by validation accuracy, as early stopping with restored weights does.

This module is the executor only; what a trial measures after training is the suite's usual
measurement on a Keras model given the trial's weights.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from suite.train.convergence import Plateau
from suite.train.splits import fixed_order


@dataclass
class Member:
    """One trial of a group: its seed, its learning rate, and the epsilon of an optimizer that holds it in a variable
    (``optimizers.VARIABLE_EPSILON``; None: the optimizer's own)."""

    seed: int
    learning_rate: float
    epsilon: float | None = None


@dataclass
class Outcome:
    """What one trial's training gave: its per-epoch history and its kept (best) weights."""

    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in ("loss", "accuracy", "val_loss",
                                                                                       "val_accuracy")})
    weights: tuple | None = None  # (trainable values, non-trainable values) in the model's variable order
    record: object = None  # diagnostics.Record: its probes at initialization and after every epoch it trained
    diverged_epoch: int | None = None
    stopped_epoch: int | None = None
    best_epoch: int | None = None
    ruled_out: int | None = None  # the epoch after which a search's declared rule stopped it


def _loss_and_accuracy(logits, y, w, class_weight):
    """A batch's loss and accuracy as Keras's fit reports them: with class weights, each example's loss weighted by
    its class's and divided by the batch's size; its accuracy unweighted (Keras's fit passes class weights to the
    loss, not to the compiled metrics: checked against it in tests/test_grouped.py)."""
    import jax
    import jax.numpy as jnp

    logp = jax.nn.log_softmax(logits.astype("float32"), axis=-1)
    nll = -jnp.take_along_axis(logp, y[:, None], axis=-1)[:, 0]
    total = jnp.maximum(w.sum(), 1.0)
    correct = (jnp.argmax(logits, axis=-1) == y).astype("float32")
    return (nll * w * class_weight[y]).sum() / total, (correct * w).sum() / total


class Group:
    """A compiled group of ``width`` slots for trials of one structure.

    ``build()`` must return a fresh, uncompiled Keras model of the group's structure (it is called
    once per member, after the member's seed is set, so initial weights follow the seed as in a
    trial trained alone); ``make_optimizer(learning_rate)`` a fresh Keras optimizer."""

    def __init__(self, build, make_optimizer, width: int, schedule=None, probe=None, lanes: str | None = None):
        """``schedule``: the learning rate's factor as a function of the step (a Keras ``LearningRateSchedule`` whose
        initial rate is 1), or None for a constant rate; ``make_optimizer`` then builds a constant-rate optimizer.
        ``probe``: the diagnostics' taps of the group's model (``probe(model) -> diagnostics.Taps``), or None.
        ``lanes``: how an epoch runs its lanes (``LANES``; by default the platform's, ``platform_lanes``)."""
        import jax

        self.width = width
        self._build, self._make_optimizer = build, make_optimizer
        self.schedule = schedule
        self.model = build()
        self.optimizer = make_optimizer(1e-3)
        self.optimizer.build(self.model.trainable_variables)
        self._lr_index = next(i for i, v in enumerate(self.optimizer.variables) if v is self.optimizer.learning_rate)
        self._step_index = next(i for i, v in enumerate(self.optimizer.variables) if v is self.optimizer.iterations)
        held = getattr(self.optimizer, "epsilon_value", None)  # a lane's epsilon, where the optimizer holds it in a variable
        self._epsilon_index = next((i for i, v in enumerate(self.optimizer.variables) if v is held), None)
        lanes = lanes or platform_lanes()
        if lanes not in LANES:
            raise ValueError(f"lanes: one of {', '.join(LANES)}, not {lanes!r}")
        self.lanes = lanes
        self._epoch = jax.jit(jax.vmap(self._one_epoch, in_axes=(0, 0, 0, 0, 0, 0, None, None, None)))
        self._looped = jax.jit(self._active_lanes_epoch)
        self._predict = jax.jit(jax.vmap(self._logits, in_axes=(0, 0, None)))
        self.taps = probe(self.model) if probe is not None else None
        self._probe = jax.jit(jax.vmap(self.taps)) if self.taps is not None else None

    # --- the per-trial programs, mapped over the slots -----------------------------------------

    def _logits(self, trainable, non_trainable, x):
        """Inference logits and the regularization penalty (as the suite's validation loss counts it)."""
        logits, _, losses = self.model.stateless_call(trainable, non_trainable, x, training=False, return_losses=True)
        return logits, (sum(losses) if losses else 0.0)

    def _one_epoch(self, trainable, non_trainable, opt_vars, order, active, rate, x, y, class_weight):
        """One epoch of one trial: ``order`` (steps x batch indices, -1 marks padding) fixes its data order;
        ``rate``: its learning rate, which a schedule scales step by step; ``class_weight``: each class's weight."""
        import jax
        import jax.numpy as jnp

        def step(carry, idx):
            tv, ntv, ov = carry
            if self.schedule is not None:  # the rate Keras would compute from the schedule at this iteration
                ov = list(ov)
                current = rate * self.schedule(ov[self._step_index])
                ov[self._lr_index] = jnp.asarray(current, dtype=ov[self._lr_index].dtype)
            w = (idx >= 0).astype("float32")
            xb, yb = x[jnp.maximum(idx, 0)], y[jnp.maximum(idx, 0)]

            def loss_fn(tv_):
                logits, ntv_, losses = self.model.stateless_call(tv_, ntv, xb, training=True, return_losses=True)
                loss, acc = _loss_and_accuracy(logits, yb, w, class_weight)
                total = loss + sum(losses) if losses else loss  # as Keras's fit reports it: with the penalty
                return total, (ntv_, total, acc)

            grads, (new_ntv, loss, acc) = jax.grad(loss_fn, has_aux=True)(tv)
            new_tv, new_ov = self.optimizer.stateless_apply(ov, grads, tv)
            keep = lambda new, old: [jnp.where(active, a, b) for a, b in zip(new, old)]  # noqa: E731  frozen: unchanged
            return (keep(new_tv, tv), keep(new_ntv, ntv), keep(new_ov, ov)), (loss * w.sum(), acc * w.sum(), w.sum())

        (tv, ntv, ov), (losses, accs, counts) = jax.lax.scan(step, (trainable, non_trainable, opt_vars), order)
        total = counts.sum()
        return tv, ntv, ov, losses.sum() / total, accs.sum() / total

    def _active_lanes_epoch(self, trainable, non_trainable, opt_vars, orders, lanes, count, rates, x, y, class_weight):
        """One epoch of the ``count`` active lanes only (``lanes``: their slots first), one after another: each lane's
        epoch is the same program on its own slice of the stacked state, and a frozen lane costs nothing."""
        import jax
        import jax.numpy as jnp

        def one(j, carry):
            tv, ntv, ov, losses, accs = carry
            i = lanes[j]
            take = lambda values: [jax.lax.dynamic_index_in_dim(a, i, keepdims=False) for a in values]  # noqa: E731
            put = lambda values, new: [jax.lax.dynamic_update_index_in_dim(a, b, i, 0)  # noqa: E731
                                       for a, b in zip(values, new)]
            t, n, o, loss, acc = self._one_epoch(take(tv), take(ntv), take(ov), orders[i], jnp.asarray(True), rates[i],
                                                 x, y, class_weight)
            return put(tv, t), put(ntv, n), put(ov, o), losses.at[i].set(loss), accs.at[i].set(acc)

        zeros = jnp.zeros(orders.shape[0], dtype="float32")
        tv, ntv, ov, losses, accs = jax.lax.fori_loop(0, count, one, (trainable, non_trainable, opt_vars, zeros, zeros))
        return tv, ntv, ov, losses, accs

    # --- the host side: seeds, orders, freezing, best weights ---------------------------------

    def initial_state(self, members: list[Member]):
        """Each member's initial weights (built under its own seed), optimizer state and rate, stacked."""
        import jax.numpy as jnp

        from suite.train import backend

        slots = members + [members[0]] * (self.width - len(members))
        tvs, ntvs, ovs = [], [], []
        for m in slots:
            backend.seed_everything(m.seed)
            model = self._build()
            tvs.append([np.asarray(v.value) for v in model.trainable_variables])
            ntvs.append([np.asarray(v.value) for v in model.non_trainable_variables])
            ov = [np.asarray(v.value) for v in self.optimizer.variables]
            ov[self._lr_index] = np.asarray(m.learning_rate, dtype=ov[self._lr_index].dtype)
            if m.epsilon is not None:
                if self._epsilon_index is None:
                    raise ValueError("a member's epsilon needs an optimizer that holds it in a variable (optimizers.VARIABLE_EPSILON)")
                ov[self._epsilon_index] = np.asarray(m.epsilon, dtype=ov[self._epsilon_index].dtype)
            ovs.append(ov)
            del model
        stack = lambda rows: [jnp.asarray(np.stack(col)) for col in zip(*rows)]  # noqa: E731
        return stack(tvs), stack(ntvs), stack(ovs)

    @staticmethod
    def order(seed: int, epoch: int, n: int, batch: int, fixed: np.ndarray | None = None) -> np.ndarray:
        """A trial's data order for one epoch, fixed by its seed and the epoch (or ``fixed``, the same every
        epoch, when ``data.order`` asks for one), as steps x batch indices."""
        perm = np.random.default_rng([seed, epoch]).permutation(n) if fixed is None else fixed
        steps = -(-n // batch)
        padded = np.full(steps * batch, -1, dtype="int32")
        padded[:n] = perm
        return padded.reshape(steps, batch)

    def fit(self, members: list[Member], splits, batch: int, epochs: int, patience: int | None = None,
            monitor: str = "val_loss", clock: list[float] | None = None, losing=None) -> list[Outcome]:
        """Train the members together for up to ``epochs``; each its own history and freezing. As a trial alone:
        with ``patience``, early stopping on ``monitor`` with its best weights restored (Keras's EarlyStopping);
        without, the weights the last epoch left. ``clock`` gets each epoch's training seconds (the group's).
        ``losing``: after every epoch but the last, which lanes a search's declared rule stops (a function of the
        members' histories and which of them still train: ``groups.losing``); each is frozen."""
        import jax.numpy as jnp

        if not 0 < len(members) <= self.width:
            raise ValueError(f"a group of width {self.width} takes 1 to {self.width} trials, got {len(members)}")
        x = jnp.asarray(splits.x_train, dtype="float32")
        y = jnp.asarray(splits.y_train, dtype="int32")
        xv = jnp.asarray(splits.x_val, dtype="float32")
        yv = np.asarray(splits.y_val)
        n = len(splits.y_train)
        tv, ntv, ov = self.initial_state(members)
        active = np.array([i < len(members) for i in range(self.width)])
        rates = jnp.asarray([m.learning_rate for m in members + [members[0]] * (self.width - len(members))], dtype="float32")
        table = splits.class_weight or {}  # data.rebalance: class_weight; one weight per label the training split holds
        weights = jnp.asarray([table.get(c, 1.0) for c in range(int(np.max(splits.y_train)) + 1)], dtype="float32")
        outcomes = [Outcome() for _ in members]
        plateaus = [Plateau(monitor, patience) for _ in members] if patience is not None else []
        kept: list = [None] * len(members)
        slots = members + [members[0]] * (self.width - len(members))
        fixed = {m.seed: fixed_order(splits, m.seed) for m in slots}
        self._measure_probes(tv, ntv, outcomes, active, initial=True)
        for epoch in range(epochs):
            if not active.any():
                break
            orders = jnp.asarray(np.stack([self.order(m.seed, epoch, n, batch, fixed.get(m.seed)) for m in slots]))
            start = time.perf_counter()
            if self.lanes == "looped":  # the active lanes only, in slot order
                running = np.flatnonzero(active)
                lanes = np.zeros(self.width, dtype="int32")
                lanes[: len(running)] = running
                tv, ntv, ov, loss, acc = self._looped(tv, ntv, ov, orders, jnp.asarray(lanes), jnp.asarray(len(running)),
                                                      rates, x, y, weights)
            else:
                tv, ntv, ov, loss, acc = self._epoch(tv, ntv, ov, orders, jnp.asarray(active), rates, x, y, weights)
            loss, acc = np.asarray(loss), np.asarray(acc)  # waits for the epoch: the clock times results
            if clock is not None:
                clock.append(time.perf_counter() - start)
            logits, penalty = (np.asarray(a) for a in self._predict(tv, ntv, xv))
            self._measure_probes(tv, ntv, outcomes, active)  # every lane that trained this epoch, diverged ones too
            lane = _Lanes(tv, ntv)  # a lane's weights, read back once per epoch for all of them
            for i, out in enumerate(outcomes):
                if not active[i]:
                    continue
                val_loss, val_acc = _evaluate(logits[i], yv, float(np.reshape(penalty, -1)[i] if np.ndim(penalty) else penalty))
                for key, value in zip(("loss", "accuracy", "val_loss", "val_accuracy"), (loss[i], acc[i], val_loss, val_acc)):
                    out.history[key].append(float(value))
                if not math.isfinite(float(loss[i])):
                    out.diverged_epoch, active[i] = epoch + 1, False
                    continue
                if patience is None:
                    continue
                seen = plateaus[i].update(epoch, val_loss if monitor == "val_loss" else val_acc)
                if seen == "best":
                    out.best_epoch = plateaus[i].best_epoch
                    kept[i] = lane[i]
                elif seen == "stop":
                    out.stopped_epoch, active[i] = epoch + 1, False
            if losing is not None and epoch + 1 < epochs:
                for i in losing([out.history for out in outcomes], active[: len(outcomes)]):
                    outcomes[i].ruled_out = outcomes[i].stopped_epoch = epoch + 1
                    active[i] = False
        lane = _Lanes(tv, ntv)
        for i, out in enumerate(outcomes):
            out.weights = kept[i] if patience is not None and kept[i] is not None else lane[i]
        return outcomes

    def _measure_probes(self, tv, ntv, outcomes: list[Outcome], active: np.ndarray, initial: bool = False) -> None:
        """The diagnostics of every active lane on its current weights: at initialization with the activations'
        histograms, as ``diagnostics.Recorder`` measures a trial alone before its first epoch and after each."""
        if self._probe is None:
            return
        from suite.train.diagnostics import Record

        hidden, grads = self._probe(tv, ntv)
        hidden, grads = [np.asarray(h) for h in hidden], [np.asarray(g) for g in grads]
        for i, out in enumerate(outcomes):
            if not active[i]:
                continue
            values, histograms = self.taps.statistics([h[i] for h in hidden], [g[i] for g in grads], histograms=initial)
            if initial:
                out.record = Record(histograms=histograms)
            out.record.add(values)


class _Lanes:
    """One lane's weights, (trainable, non-trainable) as NumPy arrays of its own: the stacked arrays are read back from
    the device once, when a lane is first asked for (slicing each device array per lane costs a dispatch each)."""

    def __init__(self, tv, ntv):
        self._stacked, self._host = (tv, ntv), None

    def __getitem__(self, i: int) -> tuple[list, list]:
        if self._host is None:
            self._host = tuple([np.asarray(a) for a in part] for part in self._stacked)
        return tuple([np.array(a[i]) for a in part] for part in self._host)


def platform_lanes() -> str:
    """How a group runs its lanes on the device JAX trains on (``LANES``): looped on a CPU, where lanes side by side
    gain nothing and a frozen lane costs its share (2 cores, one group of 12 each: activations' ReLU cell with early
    stopping 17.4 s looped against 21.3 s mapped, l1_sparsity's cell without 7.7 s against 8.8 s, normalization_batch_size's
    at batch 2 3.0 s against 3.5 s); mapped on an accelerator, where side by side is the point."""
    import jax

    return "looped" if jax.default_backend() == "cpu" else "mapped"


LANES = ("mapped", "looped")
# How an epoch runs a group's lanes. "mapped": side by side, one program mapped over them (jax.vmap); a frozen lane (stopped
# early, diverged, an empty slot) still costs its share. "looped": one after another, the active lanes only, each the
# same program on its own slice (a fori_loop over them); a frozen lane costs nothing. Either way a lane's numbers do not
# depend on its companions at a fixed width; the two differ from each other by rounding.


MEMORY_SHARE = 0.5  # of the device's free memory, the most a group may take
MOST = 256  # members in one group at most, whatever the memory: beyond, a group only waits longer for its slowest


def free_memory() -> int:
    """The free memory, in bytes, of the device JAX trains on: an accelerator's own (its allocator's limit less
    what is in use), or the host's available memory for the CPU."""
    import jax

    device = jax.devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        import os

        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return available


def member_bytes(model, optimizer, batch: int) -> int:
    """What one member of a group holds on the device, estimated: its weights, their gradients and the
    optimizer's slots (float32), and one step's activations kept for the backward pass, twice over for
    what XLA keeps beside them."""
    weights = sum(math.prod(v.shape) for v in model.variables)
    slots = sum(math.prod(v.shape) for v in optimizer.variables)
    try:
        activations = sum(math.prod(d or 1 for d in layer.output.shape[1:]) for layer in model.layers)
    except (AttributeError, ValueError):  # a model without symbolic outputs (subclassed): as many as its weights
        activations = weights
    return 4 * 2 * (2 * weights + slots + batch * activations)


def capacity(model, optimizer, batch: int, free: int) -> int:
    """How many members of this structure a group may hold: ``MEMORY_SHARE`` of ``free`` bytes, at most ``MOST``."""
    return max(1, min(MOST, int(free * MEMORY_SHARE) // member_bytes(model, optimizer, batch)))


def _evaluate(logits: np.ndarray, y: np.ndarray, penalty: float = 0.0) -> tuple[float, float]:
    """Validation loss (with the regularization penalty) and accuracy of one trial, as the alone path measures them."""
    from suite.train import measure

    return measure.loss_and_accuracy(logits, y, penalty)
