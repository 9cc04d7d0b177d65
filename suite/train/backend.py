"""Everything that depends on the Keras backend, in one place.

The rest of the suite uses Keras 3 APIs only. Here live the four things that
cannot: making a backend deterministic, naming the device it computes on,
taking a gradient (Keras 3 has no backend-neutral gradient call), and, on
TensorFlow, running a whole training epoch, an inference pass or a
diagnostics probe as one compiled call.
"""

from __future__ import annotations

import os
import platform
import weakref
from functools import lru_cache

import keras


def name() -> str:
    return keras.backend.backend()


_determinism_on = False


def seed_everything(seed: int, tensorflow_global: bool = True) -> None:
    """Seed Python, NumPy and the backend; on TensorFlow also make ops deterministic.

    With op determinism a rerun of a trial with the same seed gives identical
    metrics on the same machine (TensorFlow then also turns XLA off under
    ``jit_compile="auto"``). JAX is deterministic on CPU given the seed; torch
    gets ``use_deterministic_algorithms``.

    ``tensorflow_global=False`` seeds all but TensorFlow's global seed. Setting that seed
    clears TensorFlow's kernel cache, and every compiled function then pays its set-up again
    on its next call (about 0.3 s, more than a short trial's epochs). Only TensorFlow's own
    stateful random ops read it (``fit``'s tf.data shuffle, used in pretraining); Keras layers
    draw from Keras's seed generator and the compiled epoch shuffles with a stateless op.
    """
    global _determinism_on
    backend = name()
    if backend == "torch" or (tensorflow_global and backend == "tensorflow"):
        keras.utils.set_random_seed(seed)
    else:  # keras.utils.set_random_seed without its tf.random.set_seed (on JAX: without importing TensorFlow at all)
        import random

        import numpy as np
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils

        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
        random.seed(seed)
        np.random.seed(seed)
    if _determinism_on:
        return
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    _determinism_on = True


def gradients(loss_fn, values: list) -> list:
    """The gradient of ``loss_fn(values)`` (a scalar) with respect to each tensor in ``values``."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        values = [tf.convert_to_tensor(v) for v in values]
        with tf.GradientTape() as tape:
            tape.watch(values)
            loss = loss_fn(values)
        return tape.gradient(loss, values)
    if backend == "jax":
        import jax

        return jax.grad(loss_fn)(list(values))
    if backend == "torch":
        import torch

        values = [v.detach().requires_grad_(True) for v in values]
        return list(torch.autograd.grad(loss_fn(values), values, allow_unused=True))
    raise RuntimeError(f"gradient diagnostics do not support the {backend!r} backend")


def compiled_epoch(model, x, y, sample_weight, batch_size: int):
    """On TensorFlow, a function ``epoch(seed, rows=None) -> logs`` that runs one epoch of ``model.train_step``
    over shuffled batches inside one ``tf.function`` and returns the epoch's training metrics (as
    ``fit`` logs them, NumPy scalars); ``None`` on the other backends. ``rows`` (as many as the split
    has, repeats allowed: a bootstrap resample) are the examples the epoch shuffles and trains on;
    every example once when left out. An argument, not a constant: resamples share one trace.

    Keras's ``fit`` on TensorFlow pays a dispatch per step (its data iterator and a function call),
    which for small models costs several times the arithmetic. Here the training split stays on the
    device as tensors, the epoch's order is drawn from ``seed`` (a pair: trial seed, epoch) with a
    stateless op, and the loop over batches runs in the graph. ``train_step`` is Keras's own: the
    same loss (with regularization), sample weights, optimizer update and metrics as ``fit``. One
    ``tf.range`` loop takes the batches in order (``shuffle=False``: the rows as given, a fixed order that
    ``data.order`` asks for), the last one partial where the split does not
    divide evenly: ``train_step`` is traced once, its batch dimension left unknown. The metrics
    are reset and read inside the same call: done eagerly, each costs a dispatch per variable.
    """
    if name() != "tensorflow":
        return None
    import tensorflow as tf

    # Build the model, its compiled loss and metrics, and the optimizer's slots now, as fit does before
    # its first step: variables cannot be created inside the loop of a traced function.
    model._symbolic_build(data_batch=(x[:batch_size], y[:batch_size]))
    model.optimizer.build(model.trainable_variables)
    x, y = tf.constant(x), tf.constant(y)
    w = None if sample_weight is None else tf.constant(sample_weight, tf.float32)
    n = int(y.shape[0])
    steps = -(-n // batch_size)
    every = tf.range(n, dtype=tf.int32)

    @tf.function(reduce_retracing=True)
    def epoch(seed, rows, shuffle):
        model.reset_metrics()
        order = tf.gather(rows, tf.argsort(tf.random.stateless_uniform([n], seed=seed))) if shuffle else rows
        for i in tf.range(steps):
            start = i * batch_size
            index = tf.slice(order, [start], [tf.minimum(batch_size, n - start)])
            batch = (tf.gather(x, index), tf.gather(y, index))
            model.train_step(batch if w is None else (*batch, tf.gather(w, index)))
        return model.get_metrics_result()

    def run(seed, rows=None, shuffle=True):
        rows = every if rows is None else tf.constant(rows, tf.int32)
        return {k: v.numpy() for k, v in epoch(tf.constant(seed, tf.int64), rows, bool(shuffle)).items()}

    return run


_INFERENCE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its compiled forward pass


def inference(model):
    """``x -> outputs`` of ``model`` in inference mode. On TensorFlow a ``tf.function`` traced once per
    model (and input rank), kept while the model lives: an eager call of a small model costs a
    dispatch per layer, several times its arithmetic, and validation runs every epoch. Elsewhere
    the model's own call, which those backends dispatch cheaply enough."""
    if name() != "tensorflow":
        return lambda x: model(x, training=False)
    forward = _INFERENCE.get(model)
    if forward is None:
        import tensorflow as tf

        owner = weakref.ref(model)  # the function must not keep its model alive

        @tf.function(reduce_retracing=True)
        def forward(x):
            return owner()(x, training=False)

        _INFERENCE[model] = forward
    return forward


def compiled(fn):
    """``fn`` (tensors in, tensors out) as one compiled call: on TensorFlow a ``tf.function`` (traced
    once per input signature), elsewhere ``fn`` itself."""
    if name() != "tensorflow":
        return fn
    import tensorflow as tf

    return tf.function(fn, reduce_retracing=True)


def training_loop() -> str:
    """How an epoch runs on this backend, as recorded on every run (see ``compiled_epoch``)."""
    return "compiled epoch (tf.function)" if name() == "tensorflow" else "keras fit"


@lru_cache(maxsize=1)
def device() -> str:
    """The accelerator's name if the backend uses one, else the CPU model."""
    backend = name()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return f"GPU: {details.get('device_name', gpus[0].name)} x{len(gpus)}"
        elif backend == "jax":
            import jax

            devices = jax.devices()
            if devices[0].platform != "cpu":
                return f"GPU: {devices[0].device_kind} x{len(devices)}"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    except Exception:  # noqa: BLE001 - naming the device must never stop a study
        pass
    return f"CPU: {cpu_model()} ({os.cpu_count()} cores)"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
