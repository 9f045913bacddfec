"""What this machine can do at best, measured in the bench's own process.

The benches report their speed as a fraction of two limits measured right beside them
(the machine may be shared, so a limit measured earlier or elsewhere would not apply):

* :func:`matmul_peak` -- dense matrix-multiply FLOP/s (best of several large products),
  the ceiling for convolution and linear layers;
* :func:`write_limit` -- seconds to write a given number of bytes into a fresh buffer
  with cold caches (best of several), the floor for a memory-bound transform that
  writes that much.

Both synchronise CUDA before reading the clock. :func:`machine_line` describes the
machine and its load (``os.getloadavg``), which every result should carry.

Clocks (:data:`CLOCKS`): ``wall`` (``time.perf_counter``) by default; ``cpu``
(``time.process_time``, the CPU seconds of this process, all its threads) measures what
the work costs when it has the cores to itself. On a machine shared with other jobs
that is the steadier measure *with one thread*: waiting for a core does not count. With
several threads it also counts the threads' spin-waiting, so use ``wall`` there.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

SRC = Path(__file__).resolve().parents[1] / "src"
# This checkout's package, not whatever an editable install elsewhere points at.
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

#: Matrix sides of the peak measurement (the best of them counts): large enough to reach
#: the plateau of the BLAS (2048: 17 GFLOP, ~0.1-0.2 s on 2 CPU cores; on one core 1024
#: is often a little faster; 8192: 1.1 TFLOP, ~1-2 ms on a big GPU).
PEAK_SIDES = {"cpu": (1024, 2048), "cuda": (4096, 8192)}
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def synchronize(device: torch.device | str) -> None:
    """Wait for queued CUDA work (a no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds(
    fn: Callable[[], object],
    repeats: int,
    device="cpu",
    warmup: int = 1,
    clock: str = "wall",
    before: Callable[[], object] | None = None,
) -> float:
    """Best time (by ``clock``) of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones;
    ``before`` (e.g. a :class:`CacheFlush`) runs untimed before every call."""
    now = CLOCKS[clock]
    best = float("inf")
    for i in range(warmup + repeats):
        if before is not None:
            before()
        synchronize(device)
        start = now()
        fn()
        synchronize(device)
        if i >= warmup:
            best = min(best, now() - start)
    return best


class CacheFlush:
    """Called, writes a buffer larger than the caches (128 MiB on CPU, 512 MiB on CUDA), so
    that what is timed next starts with cold caches, as in a pipeline where other data
    passed through since."""

    def __init__(self, device="cpu", nbytes: int | None = None):
        device = torch.device(device)
        nbytes = nbytes or (512 if device.type == "cuda" else 128) * 2**20
        self.buffer = torch.empty(nbytes // 4, dtype=torch.float32, device=device)
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        self.buffer.fill_(float(self.calls))


def matmul_peak(
    device="cpu", dtype: torch.dtype = torch.float32, repeats: int = 5, sides=None, clock: str = "wall"
) -> float:
    """Dense matmul throughput in GFLOP/s: the best of ``repeats`` square products of each
    side in ``sides`` (default :data:`PEAK_SIDES`).

    Uses all of torch's threads on CPU; on CUDA it honours the current TF32 setting for
    float32 (the same as the training it is compared with).
    """
    device = torch.device(device)
    best = 0.0
    for side in sides or PEAK_SIDES.get(device.type, (2048,)):
        generator = torch.Generator(device=device).manual_seed(0)
        a = torch.randn(side, side, device=device, generator=generator).to(dtype)
        b = torch.randn(side, side, device=device, generator=generator).to(dtype)
        c = torch.empty(side, side, device=device, dtype=dtype)
        seconds = best_seconds(lambda a=a, b=b, c=c: torch.mm(a, b, out=c), repeats, device, warmup=2, clock=clock)
        best = max(best, 2 * side**3 / seconds / 1e9)
    return best


def fresh_buffer(shape: tuple[int, ...], dtype: torch.dtype, device="cpu") -> torch.Tensor:
    """An uninitialised tensor allocated the way the transforms allocate their images
    (on CPU backed by numpy, whose large allocations get transparent huge pages)."""
    device = torch.device(device)
    if device.type == "cpu" and dtype in NUMPY_DTYPES:
        return torch.from_numpy(np.empty(shape, dtype=NUMPY_DTYPES[dtype]))
    return torch.empty(shape, dtype=dtype, device=device)


def write_limit(
    shape: tuple[int, ...], dtype=torch.float32, device="cpu", repeats: int = 5, clock: str = "wall"
) -> dict[str, float]:
    """Seconds to write a ``shape`` tensor of ``dtype``, best of ``repeats`` (by ``clock``).

    Returns ``cold``: allocate a new buffer and fill it, caches flushed first (the least a
    function that returns new images in a pipeline spends: the limit the transforms are
    measured against); ``hot``: fill a buffer that is mapped and in cache (the cache's
    write bandwidth); and ``bytes``.
    """
    hot = fresh_buffer(shape, dtype, device)
    flush = CacheFlush(device)
    return {
        "cold": best_seconds(
            lambda: fresh_buffer(shape, dtype, device).fill_(1.0), repeats, device, clock=clock, before=flush
        ),
        "hot": best_seconds(lambda: hot.fill_(1.0), repeats, device, clock=clock),
        "bytes": float(hot.numel() * hot.element_size()),
    }


def load_average() -> float:
    """The 1-minute load average (how busy the machine is; nan where unknown)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(device="cpu") -> str:
    """One line naming the machine: CPU or GPU, threads, torch, and the load now."""
    device = torch.device(device)
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        what = f"{cpu_name()}, {os.cpu_count()} CPUs"
    return (
        f"{what}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"load average {load_average():.2f} (1 min)"
    )
