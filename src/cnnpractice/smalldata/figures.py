"""Figure of the small-datasets study: first-layer filters, greedy vs end-to-end training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnpractice.figures import pyplot, save_figure


def first_layer_filters(ckpt: str | Path) -> np.ndarray:
    """conv1 weights of a checkpoint written by the workflow, (filters, C, k, k)."""
    import torch

    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    key = "net.blocks.0.0.weight"
    if key not in state:
        raise ValueError(f"{ckpt}: no first conv layer ({key!r}); is it a small-data checkpoint?")
    return state[key].float().numpy()


def filter_grid(weights: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile filters into one image (``columns`` per row; default a square grid), each
    scaled to [0, 1] on its own.

    Returns (H, W) for one input channel, (H, W, 3) for RGB filters; other
    channel counts show the mean over channels.
    """
    n, c, kh, kw = weights.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    w = weights if c in (1, 3) else weights.mean(axis=1, keepdims=True)
    lo = w.min(axis=(1, 2, 3), keepdims=True)
    span = np.maximum(w.max(axis=(1, 2, 3), keepdims=True) - lo, 1e-12)
    w = (w - lo) / span
    rows = -(-n // columns)
    out = np.ones((w.shape[1], rows * (kh + pad) + pad, columns * (kw + pad) + pad), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, columns)
        out[
            :, pad + r * (kh + pad) : pad + r * (kh + pad) + kh, pad + col * (kw + pad) : pad + col * (kw + pad) + kw
        ] = w[i]
    return out[0] if out.shape[0] == 1 else out.transpose(1, 2, 0)


def plot_filters(*, greedy_ckpt: str | Path, full_ckpt: str | Path, out: str | Path, title: str = "") -> None:
    """Side by side: conv1 filters after greedy stage 1 (kept frozen up to L5) and after Full L5."""
    plt = pyplot()
    panels = [
        ("greedy (stage L1, frozen afterwards)", first_layer_filters(greedy_ckpt)),
        ("end to end (Full L5)", first_layer_filters(full_ckpt)),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.5))
    for ax, (name, weights) in zip(axes, panels):
        grid = filter_grid(weights)
        ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, interpolation="nearest")
        ax.set_title(f"{name}\n{weights.shape[0]} filters {weights.shape[2]}x{weights.shape[3]}", fontsize=9)
        ax.axis("off")
    fig.suptitle(title or "First-layer filters")
    fig.tight_layout()
    save_figure(fig, out, dpi=120)
