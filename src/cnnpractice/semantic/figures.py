"""Figure of layer representativeness against depth (the talk: the last layers are best),
trained and untrained networks with their intervals, and the naming F1's null."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.figures import pyplot, save_figure

SCORES = (("mean_f1", "mean F1 of the WordNet names"), ("rank_correlation", "rank correlation with WordNet distances"))
STYLE = {"trained": "-", "untrained": ":"}


def _interval(summary: Mapping[str, Any], value: float) -> tuple[float, float]:
    lo, hi = summary.get("lo"), summary.get("hi")
    if lo is None or hi is None or np.isnan(lo) or np.isnan(hi):
        return 0.0, 0.0
    return value - lo, hi - value


def plot_layers(rows: Sequence[dict[str, Any]], out: str | Path) -> None:
    """Two panels (mean F1, rank correlation), one line per model and network group (95 %
    t intervals over the networks); the F1 panel shades the trained networks' null range."""
    plt = pyplot()
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    for ax, (key, title) in zip(axes, SCORES):
        for model in models:
            mine = sorted((r for r in rows if r["model"] == model), key=lambda r: r["depth"])
            depth = [r["depth"] for r in mine]
            for group in STYLE:
                summaries = [r["groups"][group][key] for r in mine if group in r["groups"]]
                if len(summaries) != len(mine):
                    continue
                values = [s["mean"] for s in summaries]
                errors = np.array([_interval(s, v) for s, v in zip(summaries, values)]).T
                ax.errorbar(
                    depth, values, yerr=errors, marker="o", capsize=3, linestyle=STYLE[group], label=f"{model} {group}"
                )
                if key == "mean_f1" and group == "trained":
                    nulls = [r["groups"][group]["f1_null"] for r in mine]
                    ax.fill_between(
                        depth,
                        [n["lo"] for n in nulls],
                        [n["hi"] for n in nulls],
                        alpha=0.15,
                        label=f"{model} null 95 %",
                    )
            for r in mine:
                ax.annotate(
                    r["layer"],
                    (r["depth"], ax.get_ylim()[0]),
                    textcoords="offset points",
                    xytext=(0, 4),
                    ha="center",
                    fontsize=7,
                )
        ax.set_xlabel("layer (input -> output)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Semantic embeddings: layer representativeness (95 % intervals over networks)")
    save_figure(fig, out, dpi=120)
