"""Glue between Snakemake scripts and the package: logging and thread limits.

Scripts stay thin: they unpack ``snakemake.input/output/params/log`` and call
one package function inside :func:`log_to`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def log_to(path: str | os.PathLike | None) -> Iterator[None]:
    """Send everything written to stdout/stderr (Python and C level) to ``path``.

    Both the file descriptors 1 and 2 and Python's ``sys.stdout``/``sys.stderr``
    are redirected, so Lightning's progress bar, tqdm, warnings and messages from
    compiled libraries all land in the rule's log. A failure's traceback is written to the log before it propagates.
    ``None`` leaves the streams alone.
    """
    if path is None:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", buffering=1) as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            import traceback

            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def set_threads(n: int) -> None:
    """Limit torch's intra-op threads to the rule's ``threads``."""
    import torch

    torch.set_num_threads(max(1, int(n)))
