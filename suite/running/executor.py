"""Which executor trains a study: ``grouped`` (JAX, a cell's seeds and a rate search's ladder as one compiled
program, ``suite.train.groups``) or ``alone`` (one trial at a time, on TensorFlow where it is installed).

``suite run``'s default, ``--executor auto``, picks per study by the rule the measurements support (2 CPU
cores, back to back, in the README's "What the suite costs" and ``results/bench/``): grouping pays where
every trial of a study groups (normalization_batch_size took 0.47x TensorFlow's wall time, weight_decay
0.68x, l1_sparsity 0.72x; with the probes in the group and a CPU's groups running only their active lanes,
lr_schedule 0.48x, dropout 0.73x, activations 0.84x), and costs where trials train alone on JAX
(activations' trials alone, when its probes kept them out of groups: 9.5 s against 3.5 s; a CNN's
convolutions about 6x slower under XLA on a CPU than TensorFlow's oneDNN). So:

- a study whose every trial can group trains grouped, on JAX;
- so does one whose only trials that cannot group are search candidates decided from scores, or over
  settings a lane does not hold (``suite.search.lanes``): they train alone beside the groups, on JAX,
  where a plain MLP's lone trial costs about what it costs on TensorFlow (optimizers at quick, when its
  rate and epsilon candidates still trained alone, back to back: 129.8 s grouped on JAX against 137.2 s
  and 156.0 s in two TensorFlow runs);
- any other trains alone, on TensorFlow; each reason names what would let it group (``reasons``);
- a claim about seconds is always timed alone: a grouped trial's seconds are its share of its group's.

Where ``KERAS_BACKEND`` is set, or Keras is already imported, that backend is kept: JAX trains grouped
where trials group (and alone where they do not, as before), any other backend alone. Where TensorFlow is
not installed (the lent GPU machine), every study goes to JAX, grouped. ``suite list`` prints each study's
path and reasons; the runner records it as the ``train.executor`` tag.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

from suite import metrics

SECONDS = metrics.TIMINGS  # metrics in seconds: a grouped trial's are a share
GROUPED_FAMILIES = ("mlp",)  # families measured faster grouped on a CPU


SEARCH = "search over"  # in a reason: search candidates that train alone (a grouped study's too: see ``choose``)


@dataclass(frozen=True)
class Path:
    """How one study trains: its executor, on which backend, and why not grouped (for a grouped study: which of
    its trials still train alone beside the groups; empty when every trial groups)."""

    executor: str  # "grouped" | "alone"
    backend: str  # "jax" | "tensorflow" | the process's
    reasons: tuple[str, ...] = ()

    @property
    def grouped(self) -> bool:
        return self.executor == "grouped"

    def line(self) -> str:
        """``grouped (jax)`` or ``alone (tensorflow): the first reason (+N more)``."""
        head = f"{self.executor} ({self.backend})"
        if not self.reasons:
            return head
        more = f" (+{len(self.reasons) - 1} more)" if len(self.reasons) > 1 else ""
        beside = "; alone beside its groups" if self.grouped else ""
        return f"{head}{beside}: {self.reasons[0]}{more}"


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def process_backend() -> str | None:
    """The backend this process is bound to (Keras imported, or ``KERAS_BACKEND`` set); None while it may still choose."""
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND") or None


def why_not_grouped(resolved) -> list[str]:
    """Every reason some trial of the study would not train in a group, or would train slower there on a CPU,
    each once, naming what would let it group. ``[]``: every trial groups."""
    from suite.search import lanes
    from suite.train.groups import alone_because

    reasons: list[str] = []

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    study = resolved.study
    seconds = list(dict.fromkeys(e.metric for e in study.expect if getattr(e, "metric", None) in SECONDS))
    if seconds:
        add(f"a claim in seconds ({', '.join(seconds)}): a grouped trial's seconds are its share of its group's, "
            "so it is timed alone")
    for cell in resolved.cells:
        settings = cell.settings
        family = settings.model.family
        if family not in GROUPED_FAMILIES:
            add(f"model.family: {family}: its layers under XLA on a CPU are slower than TensorFlow's (a CNN about 6x); "
                "on a GPU machine without TensorFlow it groups")
        for reason in alone_because(settings):
            add(reason)
        tune = cell.tune
        if tune is not None and tune.algorithm != "none" and not lanes.groups(tune, settings.train.optimizer):
            add(f"a {tune.algorithm} {SEARCH} {', '.join(tune.space)}: its candidates train one at a time; "
                "candidates as lanes beside the seeds they serve (numbers a group holds per lane, as it holds the rate "
                "and an Adam-family epsilon) would let it group")
    return reasons


def choose(resolved, *, requested: str = "auto", parallel: bool = False, bound: str | None = None) -> Path:
    """The path of one study. ``requested``: auto | grouped | alone (``--executor``); ``parallel``: trials go to
    worker processes (``--workers``/``--listen``), one at a time; ``bound``: the process's backend, if fixed."""
    if requested == "grouped":
        return Path("grouped", "jax")
    if requested == "alone" or parallel:
        why = ("--workers/--listen hand trials to worker processes one at a time",) if parallel and requested == "auto" else ()
        return Path("alone", bound or ("tensorflow" if installed("tensorflow") else "jax"), why)
    reasons = tuple(why_not_grouped(resolved))
    seconds = tuple(r for r in reasons if r.startswith("a claim in seconds"))
    searches_only = bool(reasons) and all(SEARCH in r for r in reasons)  # lone MLP candidates: no slower on JAX
    if bound is not None:  # the backend is fixed: JAX groups what groups; any other trains alone
        if bound == "jax" and not seconds:
            return Path("grouped", "jax", ())
        return Path("alone", bound, seconds or (f"this process's backend is {bound}",))
    if not installed("jax"):
        return Path("alone", "tensorflow", (*reasons, "JAX is not installed (pip install jax)"))
    if not installed("tensorflow"):  # the GPU machine: JAX only
        return Path("alone", "jax", seconds) if seconds else Path("grouped", "jax", ())
    if searches_only:
        return Path("grouped", "jax", reasons)
    return Path("alone", "tensorflow", reasons) if reasons else Path("grouped", "jax", ())


def segments(paths: list[Path]) -> list[tuple[str, list[int]]]:
    """Consecutive studies on one backend, in the order given: (backend, their indices). A process trains on
    one backend, so each segment after a change of backend runs in a process of its own."""
    out: list[tuple[str, list[int]]] = []
    for i, path in enumerate(paths):
        if out and out[-1][0] == path.backend:
            out[-1][1].append(i)
        else:
            out.append((path.backend, [i]))
    return out
