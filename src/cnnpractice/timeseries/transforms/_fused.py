"""Fused one-pass CPU kernels (numba) for GASF/GADF and the RP distance plot.

The torch versions in :mod:`.gaf` and :mod:`.rp` reduce the whole batch (PAA), then form
each image in two passes over the output. These kernels go series by series and write
every output byte once: while row ``i`` of image ``k`` is written, window ``i`` of series
``k + 1`` is summed, so the PAA's reads and arithmetic overlap the output's writes. They
compute what the torch versions compute (tested bitwise on float32 random walks):

* window means in float64: eight lanes (elements ``l, l + 8, ...`` of the window, one
  SIMD vector), the lanes added as a tree, then the leftover elements left to right. A
  float64 sum of ``W`` float32 values is exact unless their magnitudes span more than
  about 2^(29 - log2 W) (2^25 for 16 values), so this equals ``pyts``'s left-to-right
  sums and torch's reduction except in such windows (then within an ulp of float64);
* the same float64 scaling steps as torch, with no fused multiply-add where torch has
  none, and ``sin`` rounded once from float64;
* GAF pixels ``a_i c_j - b_i s_j`` in float32 with each product rounded on its own (no
  fused multiply-add: whether torch's ``addcmul`` fuses depends on the CPU's kernels, so
  the torch path forms them the same explicit way);
* RP distances from the per-series centred values in float32, accumulated over the
  embedding dimension as torch does, square roots correctly rounded (the torch path
  rounds them from float64: torch's float32 CPU ``sqrt`` is not always correctly
  rounded). The centring mean is a left-to-right float64 sum of the window means
  (torch's reduction may round its last bit differently).

The kernels run without the GIL, on ``torch.get_num_threads()`` Python threads that each
take a contiguous share of the series (no numba threading layer, so nothing competes with
torch's OpenMP pool or breaks after a fork). They write a C-contiguous (n, C, S, S) block;
other layouts take the torch path. numba caches the compiled code on disk
(``NUMBA_CACHE_DIR``, else beside this file or in the user's cache), so only the first
call on a machine compiles (a few seconds).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._common import _segments

#: Fewest output pixels worth a thread of its own: about a millisecond of work, so that
#: handing work to a pool thread (tens of microseconds, more with cold caches) pays.
MIN_PIXELS_PER_THREAD = 2**22
#: Elements a window mean adds per SIMD step.
LANES = 8
_POOLS: dict[int, ThreadPoolExecutor] = {}
# A forked child inherits the pools but not their threads: it starts its own.
os.register_at_fork(after_in_child=_POOLS.clear)


def _jit(fn=None, **extra):
    """Compile ``fn`` without the GIL, cached on disk where numba finds a writable place."""
    if fn is None:
        return lambda fn: _jit(fn, **extra)
    options = {"nogil": True, "boundscheck": False, "error_model": "numpy", **extra}
    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError:  # numba found no writable cache directory
        return numba.njit(**options)(fn)


@intrinsic
def _lane_sum(typingctx, X, row, start, blocks):
    """float64 sum of ``X[row, start : start + LANES * blocks]`` (``X``: 2D C-contiguous float32/64).

    Lane ``l`` adds elements ``l, l + LANES, ...`` in order (one vector add per block);
    the lanes are then added pairwise, ``((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7))``.
    """
    floating = (types.float32, types.float64)
    if not (isinstance(X, types.Array) and X.ndim == 2 and X.layout == "C" and X.dtype in floating):
        return None
    signature = types.float64(X, row, start, blocks)
    widen = X.dtype == types.float32

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        doubles = ir.VectorType(ir.DoubleType(), LANES)
        floats = ir.VectorType(ir.FloatType(), LANES) if widen else doubles
        length = cgutils.unpack_tuple(builder, array.shape, 2)[1]
        first = builder.add(builder.mul(args[1], length), args[2])
        base = builder.gep(array.data, [first])
        total = cgutils.alloca_once_value(builder, ir.Constant(doubles, [0.0] * LANES))
        with cgutils.for_range(builder, args[3]) as loop:
            offset = builder.mul(loop.index, ir.Constant(loop.index.type, LANES))
            block = builder.load(builder.bitcast(builder.gep(base, [offset]), floats.as_pointer()), align=4)
            if widen:
                block = builder.fpext(block, doubles)
            builder.store(builder.fadd(builder.load(total), block), total)
        value, width = builder.load(total), LANES
        while width > 1:
            half = ir.VectorType(ir.IntType(32), width // 2)
            even = builder.shuffle_vector(value, value, ir.Constant(half, list(range(0, width, 2))))
            odd = builder.shuffle_vector(value, value, ir.Constant(half, list(range(1, width, 2))))
            value, width = builder.fadd(even, odd), width // 2
        return builder.extract_element(value, ir.Constant(ir.IntType(32), 0))

    return signature, codegen


@_jit(inline="always")  # one call per window otherwise: most of the PAA's time
def _window_mean(X, row, start, length):
    """Mean of ``X[row, start:start + length]`` in float64 (lanes, then the rest in order)."""
    blocks = length // LANES
    if blocks:
        total = _lane_sum(X, row, start, blocks)
        t = start + blocks * LANES
    else:
        total = np.float64(X[row, start])
        t = start + 1
    for u in range(t, start + length):
        total += np.float64(X[row, u])
    return total / length


@_jit
def _means(X, row, start, length, out):
    """All window means of series ``row`` into ``out``."""
    for w in range(start.shape[0]):
        out[w] = _window_mean(X, row, start[w], length[w])


@_jit
def _gaf_rows(X, start, length, low, high, summation, out, channel, k0, k1):
    """GASF (``summation``) or GADF of series ``k0 .. k1 - 1`` into ``out[k0:k1, channel]``.

    Returns False if a window mean is not finite (the caller then looks at ``X``).
    """
    size = start.shape[0]
    reduced = np.empty(size)
    upcoming = np.empty(size)
    cos = np.empty(size, np.float32)
    sin = np.empty(size, np.float32)
    # pixel (i, j) = first_i cos_j - second_i sin_j: GASF cos_i cos_j - sin_i sin_j,
    # GADF sin_i cos_j - cos_i sin_j
    first, second = (cos, sin) if summation else (sin, cos)
    finite = True
    tiny = 10 * np.finfo(np.float64).eps
    if k0 < k1:
        _means(X, k0, start, length, reduced)
    for k in range(k0, k1):
        row_min = reduced[0]
        row_max = reduced[0]
        for w in range(size):
            finite = finite and np.isfinite(reduced[w])
            row_min = min(row_min, reduced[w])
            row_max = max(row_max, reduced[w])
        row_range = row_max - row_min
        if row_range < tiny:
            row_range = 1.0
        scale = (high - low) / row_range
        offset = low - row_min * scale
        for w in range(size):
            c = reduced[w] * scale
            c = c + offset
            q = 1.0 - c * c
            cos[w] = np.float32(c)
            sin[w] = np.float32(np.sqrt(min(max(q, 0.0), 1.0)))
        following = k + 1 < k1
        for i in range(size):
            a = first[i]
            b = second[i]
            for j in range(size):
                out[k, channel, i, j] = a * cos[j] - b * sin[j]  # each product rounded on its own
            if following:
                upcoming[i] = _window_mean(X, k + 1, start[i], length[i])
        reduced, upcoming = upcoming, reduced
    return finite


@_jit
def _rp_rows(X, start, length, size, dimension, time_delay, out, channel, k0, k1):
    """Distance plots of series ``k0 .. k1 - 1`` into ``out[k0:k1, channel]`` (float32).

    ``start``/``length``: the ``size + (dimension - 1) * time_delay`` windows.
    Returns False if a window mean is not finite.
    """
    n_windows = start.shape[0]
    reduced = np.empty(n_windows)
    upcoming = np.empty(n_windows)
    centred = np.empty(n_windows, np.float32)
    finite = True
    if k0 < k1:
        _means(X, k0, start, length, reduced)
    for k in range(k0, k1):
        total = 0.0
        for w in range(n_windows):
            total += reduced[w]
        finite = finite and np.isfinite(total)
        mean = total / n_windows
        for w in range(n_windows):
            centred[w] = np.float32(reduced[w] - mean)
        following = k + 1 < k1
        for i in range(size):
            a = centred[i]
            if dimension == 1:
                for j in range(size):
                    out[k, channel, i, j] = abs(a - centred[j])
            else:
                for j in range(size):
                    diff = a - centred[j]
                    acc = diff * diff
                    for d in range(1, dimension):
                        diff = centred[i + d * time_delay] - centred[j + d * time_delay]
                        acc = acc + diff * diff
                    out[k, channel, i, j] = np.sqrt(acc)
            if following:
                upcoming[i] = _window_mean(X, k + 1, start[i], length[i])
        if following:
            for w in range(size, n_windows):
                upcoming[w] = _window_mean(X, k + 1, start[w], length[w])
        reduced, upcoming = upcoming, reduced
    return finite


def _run(kernel, n: int, pixels: int, args: tuple) -> bool:
    """``kernel(*args, k0, k1)`` over ``[0, n)`` (``pixels`` in all), split across up to
    torch's CPU thread count."""
    threads = max(1, min(torch.get_num_threads(), n, pixels // MIN_PIXELS_PER_THREAD))
    if threads == 1:
        return bool(kernel(*args, 0, n))
    pool = _POOLS.get(threads)
    if pool is None:
        pool = _POOLS.setdefault(threads, ThreadPoolExecutor(threads, thread_name_prefix="cnnpractice-images"))
    bounds = np.linspace(0, n, threads + 1).astype(np.int64)
    futures = [pool.submit(kernel, *args, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return all([bool(future.result()) for future in futures])


@functools.lru_cache(maxsize=64)
def windows(n_timestamps: int, n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`._common._segments`, computed once per shape (read-only arrays)."""
    start, length = _segments(n_timestamps, n_segments)
    start.setflags(write=False)
    length.setflags(write=False)
    return start, length


def _series(X: torch.Tensor) -> np.ndarray:
    """``X`` as a C-contiguous float32 numpy array (float16/bfloat16 widened exactly)."""
    if X.dtype != torch.float32:
        X = X.to(torch.float32)
    return X.contiguous().numpy()


def _check_block(block: torch.Tensor, channel: int, n: int, size: int) -> np.ndarray:
    """``block`` as the (n, C, S, S) float32 array the kernels write (without bounds checks)."""
    if (
        block.dtype != torch.float32
        or block.ndim != 4
        or tuple(block.shape[::2]) != (n, size)
        or block.shape[3] != size
        or not 0 <= channel < block.shape[1]
        or not block.is_contiguous()
    ):
        raise ValueError(
            f"the fused kernels write channel {channel} of a C-contiguous float32 block of shape "
            f"({n}, C, {size}, {size}); got {block.dtype} of shape {tuple(block.shape)}"
        )
    return block.numpy()


def gaf(X, size: int, low: float, high: float, summation: bool, block: torch.Tensor, channel: int) -> bool:
    """GASF/GADF of ``X`` into ``block[:, channel]`` (``block``: C-contiguous (n, C, S, S) float32 on CPU).

    Returns False if a window mean is not finite.
    """
    start, length = windows(X.shape[1], size)
    out = _check_block(block, channel, X.shape[0], size)
    args = (_series(X), start, length, float(low), float(high), bool(summation), out, channel)
    return _run(_gaf_rows, X.shape[0], X.shape[0] * size * size, args)


def rp(X, size: int, dimension: int, time_delay: int, block: torch.Tensor, channel: int) -> bool:
    """Distance plots of ``X`` into ``block[:, channel]``; see :func:`gaf`."""
    start, length = windows(X.shape[1], size + (dimension - 1) * time_delay)
    out = _check_block(block, channel, X.shape[0], size)
    args = (_series(X), start, length, size, dimension, time_delay, out, channel)
    return _run(_rp_rows, X.shape[0], X.shape[0] * size * size, args)
