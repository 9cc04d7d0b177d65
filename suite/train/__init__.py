"""train: one trial, from data settings and a seed to measured metrics.

Owns the registries of what can be trained (``datasets``, model families in
``models``, ``optimizers``), the splits a trial sees (``splits``), building and
fitting (``layers``, ``fitting``, ``transfer``; an ensemble's members and their
average in ``ensemble``), measurements (``measure``,
``convergence``, ``diagnostics``) and the only backend-specific code
(``backend``). ``trial.run`` takes validated settings, a seed and a target and
hands on a ``TrialResult``; it knows nothing of searches or MLflow. The
registries import no backend, so the schema can ask them for names.
"""

import os as _os

# XLA on a GPU may sum with atomics, whose order changes the last bits from run to run, unless told to be
# deterministic. JAX reads the flag when it starts its first device, after import but before any trial's first
# number, so it is set here, where every path to training passes, touching no backend (see backend.py).
if "xla_gpu_deterministic_ops" not in _os.environ.get("XLA_FLAGS", ""):
    _os.environ["XLA_FLAGS"] = (_os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true").strip()
