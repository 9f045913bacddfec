"""Glue between Snakemake scripts and the package: logs, signals, threads, trainer settings.

Scripts stay thin: they unpack ``snakemake.input/output/params/log`` and call
one function of their study's ``stages`` module inside :func:`log_to`.

Imports only the standard library (the Snakefile imports :func:`visible_gpus`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: Parent of the package's loggers; each study logs as ``cnnpractice.<study>``.
LOGGER = "cnnpractice"


class Terminated(SystemExit):
    """Raised in the main thread when the process receives SIGTERM (SLURM's time limit,
    ``scancel``, Snakemake stopping its jobs), so that ``finally`` blocks and
    :func:`cnnpractice.io.atomic_path` remove temporary files and staging folders."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(128 + int(signum))
        self.signum = int(signum)

    def __str__(self) -> str:
        return f"stopped by signal {self.signum} (SIGTERM); temporary files removed"


_deferred: list[bool] = []  # a stack: inside sigterm_deferred() when non-empty
_pending: list[int] = []


def _on_sigterm(signum, frame) -> None:
    if _deferred:
        _pending.append(signum)  # raised when the deferred section ends
        return
    raise Terminated(signum)


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the block runs (main thread only;
    elsewhere a no-op). Python's default would end the process without cleanup."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def sigterm_deferred() -> Iterator[None]:
    """Inside the block a SIGTERM is only noted, and acted on at a safe point: a batch
    boundary of a Lightning fit or test (Lightning's own SIGTERM handler, which calls
    ours too, and :func:`raise_if_terminated` in a callback stop there), so a checkpoint
    is never cut in half. A SIGTERM still pending when the block ends is raised there;
    Lightning's ``SIGTERMException`` (a ``SystemExit`` with status 0) becomes
    :class:`Terminated`, so the job fails as it should."""
    _deferred.append(True)
    try:
        yield
    except SystemExit as exc:
        _deferred.pop()
        if _pending and not isinstance(exc, Terminated):
            raise_if_terminated()
        raise
    except BaseException:
        _deferred.pop()
        raise
    _deferred.pop()
    if not _deferred:
        raise_if_terminated()


def raise_if_terminated() -> None:
    """Raise :class:`Terminated` for a SIGTERM noted inside :func:`sigterm_deferred`
    (the training callbacks call this at every batch)."""
    if _pending:
        signum = _pending[-1]
        _pending.clear()
        raise Terminated(signum)


class _StudyFormatter(logging.Formatter):
    """``[brain] message`` for the logger ``cnnpractice.brain``."""

    def format(self, record: logging.LogRecord) -> str:
        name = record.name.split(".", 1)[1] if record.name.startswith(LOGGER + ".") else record.name
        prefix = "" if record.levelno == logging.INFO else f"{record.levelname}: "
        return f"[{name}] {prefix}{record.getMessage()}"


@contextlib.contextmanager
def _package_logging() -> Iterator[None]:
    """INFO and above of the package's loggers to ``sys.stderr`` (the rule's log)."""
    logger = logging.getLogger(LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StudyFormatter())
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        handler.flush()
        logger.removeHandler(handler)
        logger.setLevel(level)


CPU_PREFIX = "cnnpractice job cpu_seconds="


def cpu_line() -> str:
    """``cnnpractice job cpu_seconds=S``: user + system CPU seconds of this process and its
    finished children so far. :func:`log_to` ends every rule's log with it, so
    ``bench/dag_time.py`` can sum a run's CPU per rule and study: Snakemake's benchmark
    ``cpu_time`` is a sample taken every 30 s, which misses up to 30 s of a job's end."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return f"{CPU_PREFIX}{seconds:.2f}"


@contextlib.contextmanager
def log_to(path: str | os.PathLike | None) -> Iterator[None]:
    """Send everything written to stdout/stderr (Python and C level) to ``path``, and
    clean up on SIGTERM.

    Both the file descriptors 1 and 2 and Python's ``sys.stdout``/``sys.stderr``
    are redirected, so the package's log messages (``logging``, one logger per study,
    written as ``[study] message``), Lightning's progress bar, tqdm, warnings and
    messages from compiled libraries all land in the rule's log. A failure's traceback
    is written to the log before it propagates. SIGTERM raises :class:`Terminated`, so
    temporary files and staging folders are removed before the process ends. The log's
    last line is the job's CPU seconds (:func:`cpu_line`).
    ``None`` leaves the streams alone (messages go to stderr).
    """
    if path is None:
        with sigterm_raises(), _package_logging():
            yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    done = False
    with open(path, "a", buffering=1) as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with sigterm_raises(), _package_logging():
                yield
            done = True
        except BaseException:
            import traceback

            traceback.print_exc()
            raise
        finally:
            print(cpu_line(), flush=True)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    if done and _snakemake_script():
        _exit_now()


def _snakemake_script() -> bool:
    """Whether this process is a Snakemake ``script:`` job (its preamble puts the
    ``snakemake`` object into ``__main__``), as opposed to a test or a notebook."""
    main = sys.modules.get("__main__")
    return main is not None and type(getattr(main, "snakemake", None)).__name__ == "Snakemake"


def _exit_now() -> None:
    """End a finished job at once: its outputs are written and closed, its log too. The
    interpreter's own teardown (unloading torch, Lightning, SciPy, ...) would cost about a
    CPU second per job and change nothing on disk. What the skipped exit handlers would
    have stopped is stopped here: joblib's worker processes (scikit-learn with
    ``n_jobs`` > 1), which would otherwise outlive the job, and a distributed process group."""
    loky = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(loky, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def trainer_options(trainer: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """A training rule's ``params.trainer`` (the settings that change results) plus the
    progress bar, read from the workflow's config: toggling it reruns nothing."""
    return {**trainer, "progress_bar": bool(config.get("trainer", {}).get("progress_bar", True))}


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
