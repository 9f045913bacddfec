"""Figure of layer representativeness against depth (the talk: the last layers are best)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnpractice.figures import pyplot, save_figure

SCORES = (("mean_f1", "mean F1 of the WordNet names"), ("rank_correlation", "rank correlation with WordNet distances"))


def plot_layers(rows: Sequence[dict[str, Any]], out: str | Path) -> None:
    """Two panels (mean F1, rank correlation), one line per model, layers left to right."""
    plt = pyplot()
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for ax, (key, title) in zip(axes, SCORES):
        for model in models:
            mine = sorted((r for r in rows if r["model"] == model), key=lambda r: r["depth"])
            ax.plot([r["depth"] for r in mine], [r[key] for r in mine], marker="o", label=model)
            for r in mine:
                ax.annotate(
                    r["layer"], (r["depth"], r[key]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7
                )
        ax.set_xlabel("layer (input -> output)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Semantic embeddings: layer representativeness")
    save_figure(fig, out, dpi=120)
