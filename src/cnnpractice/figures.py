"""Figure setup shared by every study: matplotlib without a display, atomic PNG writes.

Studies draw with ``plt = pyplot()`` and finish with ``save_figure(fig, out, dpi=...)``;
matplotlib is imported only when a figure is made (keeps package imports cheap).
"""

from __future__ import annotations

import os

from cnnpractice.io import atomic_path


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (cluster nodes have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out: str | os.PathLike, *, dpi: int = 120, **savefig) -> None:
    """Write ``fig`` to ``out`` atomically (format from its suffix) and close it."""
    plt = pyplot()
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=dpi, **savefig)
    finally:
        plt.close(fig)
