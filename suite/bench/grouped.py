"""Trials trained together against trials trained alone, on JAX, in one fresh process
(``KERAS_BACKEND=jax python -m suite.bench.grouped STUDY PROFILE OUT [SIZES]``).

On the study's largest cell (an MLP), with every figure from the same process and minute:

- the NumPy **floor** per epoch (``floor.numpy_floor``): the matrix products any path must pay;
- for each group size G: G seeds of the cell trained as one group (``suite.train.grouped``),
  its compilation (the first epoch's extra time), its steady epoch, the training seconds per
  trial-epoch over the floor, and the whole group's wall time (initial weights, compilation,
  every epoch's validation) per trial-epoch over the floor;
- a **rate search** of 8 candidates (log-spaced around the cell's rate) as one group;
- **independence**: seed 0 trained in a full group and in a group where it is alone (same
  width: identical, the promise), and alone in a group of width 1 (how far a different width moves it).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from suite.bench.floor import mlp_cell, numpy_floor


def measure(study: Path, profile: str | None, sizes: list[int], epochs: int | None = None) -> dict:
    import jax
    import keras

    from suite.study import load_study
    from suite.train.groups import compiled_group
    from suite.train.grouped import Member, platform_lanes

    if keras.backend.backend() != "jax":
        raise SystemExit("bench grouped: needs KERAS_BACKEND=jax")
    cell, splits, layers = mlp_cell(load_study(study, profile), "grouped")
    s = cell.settings
    n, batch = len(splits.y_train), s.train.batch_size
    epochs = epochs or s.train.epochs  # the cell's own epochs: the whole cell, as a study trains it
    rate = float(s.train.learning_rate)

    def timed(members: list[Member], width: int) -> dict:
        clock: list[float] = []
        start = time.perf_counter()
        outcomes = compiled_group(cell.settings, splits, width).fit(members, splits, batch, epochs, clock=clock)
        wall = time.perf_counter() - start
        steady = statistics.median(clock[1:])
        return {"width": width, "trials": len(members), "wall_s": wall, "compile_s": max(0.0, clock[0] - steady),
                "epoch_s": steady, "trial_epochs_per_s": len(members) / steady, "outcomes": outcomes}

    floor = statistics.median(numpy_floor(layers, n, batch, epochs)[1:])
    groups = []
    for size in sizes:
        g = timed([Member(seed, rate) for seed in range(size)], size)
        g["train_over_floor"] = g["epoch_s"] / size / floor  # per trial-epoch
        g["wall_over_floor"] = g["wall_s"] / (size * epochs) / floor  # everything, per trial-epoch
        groups.append(g)
    rates = list(np.geomspace(rate / 10, rate * 10, 8))
    search = timed([Member(0, float(lr)) for lr in rates], 8)
    search["train_over_floor"] = search["epoch_s"] / 8 / floor
    search["wall_over_floor"] = search["wall_s"] / (8 * epochs) / floor

    full = groups[-1]
    alone_same_width = compiled_group(cell.settings, splits, full["width"]).fit([Member(0, rate)], splits, batch, epochs)[0]
    alone_width_1 = compiled_group(cell.settings, splits, 1).fit([Member(0, rate)], splits, batch, epochs)[0]
    in_group = full["outcomes"][0]

    def moved(a, b) -> dict:
        return {"val_accuracy_max_abs": float(np.max(np.abs(np.subtract(a.history["val_accuracy"], b.history["val_accuracy"])))),
                "weights_max_abs": float(max(np.max(np.abs(x - y)) for x, y in zip(a.weights[0], b.weights[0])))}

    # The two ways of running lanes (grouped.LANES), on 12 seeds of the cell with its own early stopping, back to back
    lanes = {}
    for way in ("mapped", "looped"):
        group = compiled_group(cell.settings, splits, 12)
        group.lanes = way
        start = time.perf_counter()
        trained = group.fit([Member(seed, rate) for seed in range(12)], splits, batch, epochs, patience=s.train.patience,
                            monitor=s.train.monitor)
        lanes[way] = {"wall_s": time.perf_counter() - start, "lane_epochs": sum(len(o.history["loss"]) for o in trained)}
    for g in (*groups, search):
        del g["outcomes"]
    device = jax.devices()[0]
    return {
        "cell": cell.label, "layers": layers, "train_examples": n, "batch_size": batch, "epochs": epochs,
        "device": f"{device.platform} ({device.device_kind})", "jax": jax.__version__, "keras": keras.__version__,
        "floor_epoch_s": floor, "groups": groups,
        "rate_search": {**search, "rates": [float(r) for r in rates]},
        "independence": {"group_width": full["width"], "same_width": moved(in_group, alone_same_width),
                         "width_1": moved(in_group, alone_width_1)},
        "lanes": {"patience": s.train.patience, "default": platform_lanes(), **lanes},
    }


def section(g: dict) -> list[str]:
    """The grouped figures as the bench README shows them."""
    net = "-".join(map(str, g["layers"]))
    lines = [
        "## Trials that train together (JAX)",
        "",
        f"The largest cell ({g['cell']}: an MLP {net}, {g['train_examples']} examples, batch {g['batch_size']}, "
        f"{g['epochs']} epochs) on {g['device']}, JAX {g['jax']}, Keras {g['keras']}. The NumPy floor's epoch: "
        f"{g['floor_epoch_s'] * 1000:.1f} ms. Each group is one compiled program over its trials' stacked weights "
        "(`suite.train.grouped`); *training / floor* is the steady epoch per trial over the floor's epoch, *whole / "
        "floor* the group's wall time (initial weights, compilation, validation every epoch) per trial-epoch over it.",
        "",
        "| trials in the group | compilation s | steady epoch ms | trial-epochs / s | training / floor | whole / floor |",
        "|---|---|---|---|---|---|",
    ]
    for row in g["groups"]:
        lines.append(f"| {row['trials']} (seeds) | {row['compile_s']:.2f} | {row['epoch_s'] * 1000:.1f} | "
                     f"{row['trial_epochs_per_s']:.1f} | {row['train_over_floor']:.2f}x | {row['wall_over_floor']:.2f}x |")
    r = g["rate_search"]
    lines.append(f"| 8 (a rate search, {r['rates'][0]:.2g} to {r['rates'][-1]:.2g}) | {r['compile_s']:.2f} | "
                 f"{r['epoch_s'] * 1000:.1f} | {r['trial_epochs_per_s']:.1f} | {r['train_over_floor']:.2f}x | "
                 f"{r['wall_over_floor']:.2f}x |")
    ind = g["independence"]
    lines += [
        "",
        f"Independence: seed 0 trained beside {ind['group_width'] - 1} companions and alone in a group of the same "
        f"width differs by {ind['same_width']['weights_max_abs']:.2g} in its weights and "
        f"{ind['same_width']['val_accuracy_max_abs']:.2g} in its validation accuracy (a fixed width fixes the "
        f"program); alone in a group of width 1, by {ind['width_1']['weights_max_abs']:.2g} and "
        f"{ind['width_1']['val_accuracy_max_abs']:.2g} (XLA picks other kernels for another width).",
        "",
    ]
    if "lanes" in g:
        la = g["lanes"]
        stopping = f"early stopping after {la['patience']} epochs without improvement" if la["patience"] else "no early stopping"
        lines += [
            f"Lanes side by side or one after another (`grouped.LANES`): 12 seeds of the cell, {stopping}, "
            f"as one group each way, back to back: mapped (jax.vmap, a frozen lane still costs its share) "
            f"{la['mapped']['wall_s']:.1f} s for {la['mapped']['lane_epochs']} lane-epochs, looped (the active lanes "
            f"only) {la['looped']['wall_s']:.1f} s for {la['looped']['lane_epochs']} "
            f"(**{la['looped']['wall_s'] / la['mapped']['wall_s']:.2f}x**); this device's default: {la['default']}.",
            "",
        ]
    return lines


def study_section(runs: list[dict], study: str, profile: str) -> list[str]:
    """The whole study, back to back: TensorFlow, JAX with every trial alone, JAX with each cell's seeds grouped, and
    the default (``--executor auto``), which takes one of these paths by the rule in ``suite.running.executor``."""
    base = runs[0]
    lines = [
        f"### The whole study: `suite run {study} --profile {profile}`, {len(runs)} ways, back to back", "",
        "Each a fresh process and store; *wall* is the whole command (start-up, searches, trials, report), "
        "*trials* the `study.trials` section (the compared trials, after the searches).", "",
        f"| run | wall s | wall / {base['run']}'s | trials s | verdicts |", "|---|---|---|---|---|",
    ]
    for r in runs:
        trials = "–" if r["trials_s"] is None else f"{r['trials_s']:.1f}"
        lines.append(f"| {r['run']} | {r['wall_s']:.1f} | {r['wall_s'] / base['wall_s']:.2f}x | {trials} | "
                     + ", ".join(r["verdicts"]) + " |")
    moved = [(s, [r["verdicts"][i] for r in runs]) for i, s in enumerate(base["says"])
             if len({r["verdicts"][i] for r in runs}) > 1]
    lines += ["", "Verdicts that differ between the runs: " + ("none." if not moved else "; ".join(
        f"*{s}* ({' / '.join(v)})" for s, v in moved) + " (each run trains on its backend's own random streams).")]
    return [*lines, ""]


if __name__ == "__main__":
    study, profile, out = sys.argv[1:4]
    sizes = [int(x) for x in (sys.argv[4] if len(sys.argv) > 4 else "1,5").split(",")]
    Path(out).write_text(json.dumps(measure(Path(study), profile or None, sizes)))
