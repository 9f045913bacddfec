"""Glue between Snakemake scripts and the package: logging and thread limits.

Scripts stay thin: they unpack ``snakemake.input/output/params/log`` and call
one package function inside :func:`log_to`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


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
    with open(path, "a", buffering=1) as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
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


def visible_gpus() -> int:
    """GPUs this process may use, counted without importing torch (the Snakefile asks, to
    reserve GPUs for trainings): inside a SLURM job the ones SLURM allocated to it
    (``SLURM_JOB_GPUS``); else the devices ``CUDA_VISIBLE_DEVICES`` lists, when set; else
    the NVIDIA device files ``/dev/nvidia0``, ``/dev/nvidia1``, ..."""
    if "SLURM_JOB_ID" in os.environ:
        return len([g for g in os.environ.get("SLURM_JOB_GPUS", "").split(",") if g.strip()])
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        ids = [g.strip() for g in os.environ["CUDA_VISIBLE_DEVICES"].split(",")]
        return len([g for g in ids if g and not g.startswith("-")])
    import glob

    return len(glob.glob("/dev/nvidia[0-9]*"))
