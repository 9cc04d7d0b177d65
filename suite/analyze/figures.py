"""Report figures: learning curves per cell (faceted by the grid), and headline metrics against the grid."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402



def curves(histories: dict[int, list[list[tuple[int, float]]]], cells: dict[int, dict], metric: str, path: Path,
           target: float | None = None):
    """Median over seeds per epoch, with a band from the lowest to the highest seed.

    One panel per value of the grid's second axis (and any further ones); within a panel one colour per
    value of the first axis, from a palette whose neighbours differ, labelled by that value only. With a
    ``target``, a dashed line marks it and a dot where each cell's median first reaches it."""
    axes = list(next(iter(cells.values()), {}))
    colour_axis, facet_axes = (axes[0], axes[1:]) if axes else (None, [])
    facets = list(dict.fromkeys(tuple(cells[c][a] for a in facet_axes) for c in sorted(histories)))
    shades = list(dict.fromkeys(cells[c][colour_axis] if colour_axis else "all" for c in sorted(histories)))
    palette = plt.cm.tab10.colors if len(shades) <= 10 else plt.cm.tab20.colors
    columns = min(len(facets), 3) or 1
    rows = -(-len(facets) // columns) if facets else 1
    fig, panels = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False, sharey=True)
    for ax, facet in zip(panels.flat, facets or [()]):
        for cell, runs in sorted(histories.items()):
            if tuple(cells[cell][a] for a in facet_axes) != facet:
                continue
            frame = pd.DataFrame({i: dict(run) for i, run in enumerate(runs)}).sort_index()
            if frame.empty:
                continue
            shade = cells[cell][colour_axis] if colour_axis else "all"
            color = palette[shades.index(shade) % len(palette)]
            median = frame.median(axis=1)
            ax.plot(frame.index, median, color=color, label=str(shade), lw=1.6)
            if frame.shape[1] > 1:
                ax.fill_between(frame.index, frame.min(axis=1), frame.max(axis=1), color=color, alpha=0.15, lw=0)
            if target is not None:
                reached = median[median >= target]
                if not reached.empty:
                    ax.plot(reached.index[0], reached.iloc[0], "o", color=color, ms=5, mec="black", mew=0.6)
        if target is not None:
            ax.axhline(target, color="grey", ls="--", lw=0.9)
        ax.set_title(", ".join(f"{_short(a)}={v}" for a, v in zip(facet_axes, facet)) or metric, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in panels[:, 0]:
        ax.set_ylabel(metric)
    for ax in list(panels.flat)[len(facets or [()]):]:
        ax.set_visible(False)
    panels.flat[0].legend(fontsize=7, title=_short(colour_axis) if colour_axis else None, title_fontsize=7,
                          ncol=2 if len(shades) > 6 else 1)
    marks = "; dashed: the target, dot: where the median first reaches it" if target is not None else ""
    fig.suptitle(_fitted(f"{metric}: median over seeds, band = min..max{marks}", fig), fontsize=9)
    _save(fig, path)


def _short(axis: str) -> str:
    return axis.rpartition(".")[2]


def metrics_vs_axis(done: pd.DataFrame, axes: list[str], path: Path, shown: list[tuple[str, str]]):
    """Each headline metric (``shown``: (column, title) pairs) of the finished trials against the first grid axis;
    one line per combination of the others."""
    x_axis = axes[0] if axes else None
    others = axes[1:]
    fig, panels = plt.subplots(1, len(shown), figsize=(4 * len(shown), 3.6))
    groups = list(done.groupby(others, sort=False)) if others else [((), done)]
    numeric = x_axis is not None and pd.api.types.is_numeric_dtype(done[x_axis])
    order = sorted(done[x_axis].unique()) if numeric else list(dict.fromkeys(done[x_axis])) if x_axis else ["base"]
    palette = plt.cm.tab10.colors if len(groups) <= 10 else plt.cm.tab20.colors
    for ax, (metric, title) in zip(panels, shown):
        for g, (key, group) in enumerate(groups):
            if metric not in group:
                continue
            label = ", ".join(str(v) for v in (key if isinstance(key, tuple) else (key,)))  # the legend's title names them
            xs = group[x_axis] if numeric else group[x_axis].map(order.index) if x_axis else pd.Series(0, group.index)
            color = palette[g % len(palette)]  # a group's points and its line share one colour
            ax.scatter(xs, group[metric], s=12, alpha=0.45, color=color)
            means = group.assign(_x=xs).groupby("_x")[metric].mean()
            ax.plot(means.index, means.values, marker="o", lw=1.4, color=color, label=label or None)
        if metric not in done or done[metric].notna().sum() == 0:
            ax.text(0.5, 0.5, "no trial reached the target", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(x_axis or "")
        if not x_axis:  # one cell: no axis to read values from, only its name
            ax.set_xticks([0], ["base"])
            ax.set_xlim(-0.5, 0.5)
        if x_axis and not numeric:
            ax.set_xticks(range(len(order)), [str(v) for v in order], rotation=30, fontsize=7)
        if numeric and _log_spaced(order):
            ax.set_xscale("symlog", linthresh=min(v for v in order if v > 0))
        ax.grid(alpha=0.3)
    right = 1.0
    if others:  # beside the panels, where it hides no point
        handles, names = panels[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="center right", fontsize=7, frameon=False, title=", ".join(map(_short, others)),
                   title_fontsize=7)
        right = 1 - 2.6 / (4 * len(shown) + 2.6)
        fig.set_figwidth(4 * len(shown) + 2.6)
    fig.suptitle("points: seeds; line: mean over seeds (censored trials omitted from the right-hand panels)", fontsize=9)
    _save(fig, path, right=right)


def _fitted(title: str, fig) -> str:
    """A title wrapped to its figure's width (about 15 characters an inch at 9 points), so none is cut off."""
    return "\n".join(textwrap.wrap(title, max(int(fig.get_figwidth() * 15), 30)))


def _log_spaced(values) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) >= 3 and max(positive) / min(positive) >= 100


def _save(fig, path: Path, right: float = 1.0):
    fig.tight_layout(rect=(0, 0, right, 1))
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=110, format=path.suffix.lstrip("."))
    plt.close(fig)
    tmp.replace(path)  # atomic: a crash never leaves a half-written figure


def search_curves(progress: pd.DataFrame, groups: dict[int, str], budget: float, path: Path):
    """Best validation accuracy found so far against the epochs a search has spent.

    Cells with the same label (e.g. one algorithm over several search seeds) are drawn as one line:
    the median over them, with a band from the lowest to the highest.
    """
    fig, ax = plt.subplots(figsize=(7, 4.2))
    grid = np.linspace(0, max(budget, float(progress["spent"].max() or 0)), 200)
    labels = list(dict.fromkeys(groups[c] for c in sorted(progress["cell"].unique())))
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(len(labels), 1)))
    for color, label in zip(colors, labels):
        curves = []
        for (cell, _), trials in progress.groupby(["cell", "for_seed"]):
            if groups[cell] != label:
                continue
            spent, best = trials["spent"].to_numpy(), trials["best_so_far"].to_numpy()
            index = np.searchsorted(spent, grid, side="right") - 1  # the last trial finished by then
            curves.append(np.where(index >= 0, best[np.clip(index, 0, None)], np.nan))
        stack = np.vstack(curves)
        with warnings.catch_warnings():  # an all-NaN column: no search trial had ended by then
            warnings.simplefilter("ignore", RuntimeWarning)
            ax.plot(grid, np.nanmedian(stack, axis=0), color=color, label=f"{label} ({len(curves)})" if len(curves) > 1 else label)
            if len(curves) > 1:
                ax.fill_between(grid, np.nanmin(stack, axis=0), np.nanmax(stack, axis=0), color=color, alpha=0.15, lw=0)
    ax.set_xlabel("epochs spent by the search (the budget's unit)")
    ax.set_ylabel("best val_accuracy so far")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(labels) > 6 else 1)
    searched = progress["cell"].nunique()
    ax.set_title("nuisance search: best so far" + (" (median over cells, band = min..max)" if len(labels) < searched else ""))
    _save(fig, path)



def _layer_profile(series: dict[str, list[tuple[int, float]]], prefix: str, step: int | None) -> tuple[list[int], list[float]]:
    """Per layer, the value at ``step`` (None: the last step) of ``prefix/NN`` series."""
    layers, values = [], []
    for key in sorted(k for k in series if k.startswith(prefix + "/")):
        points = dict(series[key])
        if not points:
            continue
        at = max(points) if step is None else step
        if at in points:
            layers.append(int(key.split("/")[1]))
            values.append(points[at])
    return layers, values


def diagnostics(per_cell: dict[int, list[dict]], labels: dict[int, str], path: Path, legend_title: str | None = None):
    """Activation spread and gradient norm against depth (at initialization and after training), and the
    first-to-last gradient ratio per epoch; only the panels with measurements are drawn.

    ``per_cell``: cell -> one dict per seed of ``metric key -> [(step, value)]``; lines are medians over seeds.
    Cells are told apart by colour (a qualitative palette) and, past its colours, by dash; the legend sits
    beside the panels, so it never hides a line.
    """
    titles = (
        "activation std per layer, at initialization",
        "gradient norm per layer (kernels), at initialization",
        "gradient norm per layer, after the last epoch",
        "gradient norm: first layer / last hidden layer",
    )
    lines: dict[int, list[tuple[int, list, list]]] = {i: [] for i in range(len(titles))}  # panel -> (cell, x, y)
    for cell, seeds in sorted(per_cell.items()):
        for i, (prefix, step) in enumerate((("act_std", 0), ("grad_norm", 0), ("grad_norm", None))):
            profiles = [p for p in (_layer_profile(s, prefix, step) for s in seeds) if p[0]]
            if profiles:
                layers = profiles[0][0]
                lines[i].append((cell, layers, np.median(np.array([p[1] for p in profiles if p[0] == layers]), axis=0)))
        ratios = []
        for s in seeds:
            first = dict(s.get("grad_norm/01", []))
            hidden = sorted(k for k in s if k.startswith("grad_norm/"))
            if len(hidden) < 2:
                continue
            last = dict(s[hidden[-2] if len(hidden) > 2 else hidden[-1]])
            ratios.append({e: first[e] / last[e] for e in first if e in last and last[e] > 0})
        if ratios:
            frame = pd.DataFrame(ratios).T.sort_index()
            lines[3].append((cell, list(frame.index), list(frame.median(axis=1))))
    shown = [i for i in range(len(titles)) if lines[i]] or [0]
    fig, panels = plt.subplots(1, len(shown), figsize=(4.4 * len(shown) + 2.6, 3.9), squeeze=False)
    order = sorted(per_cell)
    palette = plt.cm.tab10.colors if len(order) <= 10 else plt.cm.tab20.colors
    dashes = ("-", "--", ":", "-.")
    for ax, i in zip(panels[0], shown):
        for cell, x, y in lines[i]:
            k = order.index(cell)
            style = dict(color=palette[k % len(palette)], ls=dashes[(k // len(palette)) % len(dashes)], label=labels[cell])
            ax.plot(x, y, marker="o" if i < 3 else None, ms=3, lw=1.3, **style)
        ax.set_title(titles[i], fontsize=9)
        ax.set_xlabel("layer (1 = nearest the input)" if i < 3 else "epoch (0 = initialization)")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if lines[i]:
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.grid(alpha=0.3)
    handles, names = panels[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="center right", fontsize=6, ncol=1 if len(names) <= 24 else 2, frameon=False,
                   title=legend_title, title_fontsize=7)
    fig.suptitle("diagnostics on a fixed probe batch, training mode; lines: median over seeds", fontsize=9)
    _save(fig, path, right=1 - 2.4 / (4.4 * len(shown) + 2.6) * (1 if len(names) <= 24 else 1.8))  # room for the legend


def activation_histograms(histograms: dict[int, dict], labels: dict[int, str], path: Path, max_layers: int = 10):
    """Per cell (rows) and layer (columns), the histogram of activations at initialization (first seed)."""
    cells = sorted(histograms)
    layers = sorted({int(k) for h in histograms.values() for k in h})[:max_layers]
    fig, axes = plt.subplots(len(cells), len(layers), figsize=(1.6 * len(layers) + 1, 1.3 * len(cells) + 0.6), squeeze=False)
    for r, cell in enumerate(cells):
        for c, layer in enumerate(layers):
            ax = axes[r][c]
            edges, counts = histograms[cell].get(str(layer), ([0, 1], [0]))
            ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="tab:blue", lw=0)
            ax.set_yticks([])
            ax.tick_params(labelsize=5)
            if r == 0:
                ax.set_title(f"layer {layer}", fontsize=7)
            if c == 0:
                ax.set_ylabel(labels[cell], fontsize=6, rotation=0, ha="right", va="center")
    fig.suptitle("activations at initialization (probe batch, first seed)", fontsize=9)
    _save(fig, path)


def survival(panels: list[tuple[str, str, list[tuple[str, np.ndarray, np.ndarray, float]]]], path: Path):
    """Kaplan-Meier curves of time to target: per expectation one panel, per arm one step line of the
    fraction of seeds that had reached the target, against epochs (steps, seconds) up to its budget."""
    from suite.kinds.survival import step_points

    columns = min(len(panels), 3)
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 3.4 * rows), squeeze=False)
    for ax, (title, unit, arms) in zip(axes.flat, panels):
        palette = plt.cm.tab10.colors if len(arms) <= 10 else plt.cm.tab20.colors
        for i, (label, times, reached, until) in enumerate(arms):
            if len(times) == 0:
                continue
            xs, ys = step_points(times, reached, until)
            ax.step(xs, ys, where="post", color=palette[i % len(palette)], lw=1.6,
                    label=f"{label} ({int(np.sum(reached))}/{len(reached)})")
            censored = ~np.asarray(reached, dtype=bool)
            if censored.any():  # a tick where seeds stopped without reaching the target
                ends = np.asarray(times, dtype=float)[censored]
                ax.plot(ends, np.interp(ends, xs, ys), "|", color=palette[i % len(palette)], ms=9, mew=1.4)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title("\n".join(textwrap.wrap(title, 55)[:3]), fontsize=8)
        ax.set_xlabel(unit)
        ax.set_ylabel("fraction of seeds at target")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right", title="arm (reached/seeds)", title_fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    _save(fig, path)


def isolation(finished: pd.DataFrame, groups: dict[int, str], chosen: dict[tuple[int, int], dict], settings: list[str],
              log: set[str], path: Path):
    """The tuning playbook's isolation plot: each search trial's score against the value it tried, one panel per
    tuned numeric setting, one colour per cell (a cell's per-seed searches share it), the chosen value of each
    search marked with a star. A star at the end of its cell's points is a choice on the edge of what was tried.
    ``finished``: the finished search trials."""
    import json

    values = [json.loads(v) for v in finished["values"]]
    labels = list(dict.fromkeys(groups[c] for c in sorted(finished["cell"].unique())))
    palette = plt.cm.tab10.colors if len(labels) <= 10 else plt.cm.tab20.colors
    fig, panels = plt.subplots(1, len(settings), figsize=(5.2 * len(settings), 3.8), squeeze=False)
    for ax, setting in zip(panels.flat, settings):
        for i, label in enumerate(labels):
            color = palette[i % len(palette)]
            for (cell, for_seed), rows in finished.groupby(["cell", "for_seed"]):
                if groups[cell] != label:
                    continue
                tried = {finished.index[j]: values[j] for j in range(len(values)) if finished.index[j] in rows.index}
                points = sorted((tried[k][setting], y) for k, y in rows["search_score"].items() if setting in tried[k])
                if not points:  # this cell searched other settings (a case with its own space)
                    continue
                ax.plot(*zip(*points), "o-", color=color, ms=3, lw=0.8, alpha=0.8,
                        label=label if for_seed == rows["for_seed"].min() and cell == min(c for c in finished["cell"].unique()
                                                                                           if groups[c] == label) else None)
                best = chosen.get((cell, for_seed), {})
                if setting in best:
                    score = [y for x, y in points if x == best[setting]]
                    if score:
                        ax.plot(best[setting], max(score), "*", color=color, ms=12, mec="black", mew=0.6)
        if setting in log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # decades only: minor labels collide
        ax.set_xlabel(setting)
        ax.set_ylabel("search score")
        ax.grid(alpha=0.3)
    panels.flat[0].legend(fontsize=7, ncol=2 if len(labels) > 6 else 1)
    fig.suptitle("isolation plot: each search's score against the value tried (star: chosen)", fontsize=9)
    _save(fig, path)
