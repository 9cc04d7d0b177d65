"""The report's figures, drawn from small frames: what a reader sees on them (no training)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from suite.analyze import figures
from suite.analyze.drawing import panels


def test_a_one_cell_figure_names_its_cell_instead_of_a_numeric_x_axis(tmp_path, monkeypatch):
    """Issue 60: a one-cell metrics.png had an x axis from -0.04 to 0.04."""
    seen = {}
    save = figures._save

    def keep(fig, path, right=1.0):
        seen["ticks"] = [t.get_text() for t in fig.axes[0].get_xticklabels()]
        save(fig, path, right)

    monkeypatch.setattr(figures, "_save", keep)
    done = pd.DataFrame({"cell": [0, 0, 0], "test_accuracy": [0.5, 0.6, 0.55], "generalization_gap": [0.1, 0.2, 0.1],
                         "epochs_to_target": [3.0, 4.0, 5.0], "time_to_target_s": [1.0, 1.1, 1.2]})
    figures.metrics_vs_axis(done, [], tmp_path / "metrics.png", panels("classification"))
    assert seen["ticks"] == ["base"] and (tmp_path / "metrics.png").is_file()


def test_a_figure_title_is_wrapped_to_its_figure_so_none_is_cut_off():
    fig = plt.figure(figsize=(4, 3))
    title = "val_accuracy: median over seeds, band = min..max; dashed: the target, dot: where the median first reaches it"
    lines = figures._fitted(title, fig).split("\n")
    plt.close(fig)
    assert len(lines) > 1 and max(map(len, lines)) <= 60 and " ".join(lines) == title
