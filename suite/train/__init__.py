"""train: one trial, from data settings and a seed to measured metrics.

Owns the registries of what can be trained (``datasets``, model families in
``models``, ``optimizers``), the splits a trial sees (``splits``), building and
fitting (``layers``, ``fitting``, ``transfer``; an ensemble's members and their
average in ``ensemble``), measurements (``measure``,
``convergence``, ``diagnostics``) and the only backend-specific code
(``backend``). ``trial.run`` takes validated settings, a seed and a target and
hands on a ``TrialResult``; it knows nothing of searches or MLflow. What the
process must set before a backend starts (XLA's deterministic GPU ops) is set by
``suite.ground.process.prepare``, not here. The
registries import no backend, so the schema can ask them for names.
"""
