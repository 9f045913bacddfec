"""The fused CPU kernels (numba) against the torch path of the same transforms.

Float32 GASF/GADF and distance plots on the CPU come from
:mod:`cnnpractice.timeseries.transforms._fused`; ``CNNPRACTICE_FUSED=0`` gives the torch
path. The two must agree bit for bit wherever the float64 window sums are exact (every
case here but the one built to be inexact), whatever the layout, thread count or dtype.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from cnnpractice.timeseries import transforms as T
from cnnpractice.timeseries.transforms import _common, _fused


def walks(n: int, length: int, seed: int = 0) -> torch.Tensor:
    """float32 random walks, shape (n, length)."""
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, length)).cumsum(axis=1).astype(np.float32))


def both(monkeypatch, fn, *args, **kwargs):
    """``fn`` with the fused kernels, then with the torch path."""
    monkeypatch.setenv("CNNPRACTICE_FUSED", "1")
    fused = fn(*args, **kwargs)
    monkeypatch.setenv("CNNPRACTICE_FUSED", "0")
    return fused, fn(*args, **kwargs)


@pytest.fixture
def count_fused_calls(monkeypatch):
    """Counts the calls that reach each fused kernel."""
    calls = {"gaf": 0, "rp": 0}
    for name in calls:
        original = getattr(_fused, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(_fused, name, counted)
    return calls


CASES = [
    ("gasf", {}),
    ("gadf", {}),
    ("gasf", {"sample_range": (0.0, 1.0)}),
    ("rp", {}),
    ("rp", {"dimension": 3, "time_delay": 2}),
]


# windows of 8 (power of two), uneven, of 3 and of 10 values (float64 means that use every
# bit, where a different summation order would show), S == L, one series
SHAPES = [(70, 256, 32), (70, 250, 24), (500, 48, 16), (200, 1000, 100), (3, 40, 40), (5, 37, 5), (1, 9, 2)]


@pytest.mark.parametrize(
    ("name", "params", "n", "length", "size"),
    [
        (name, params, *shape)
        for name, params in CASES
        for shape in SHAPES
        if shape[2] + (params.get("dimension", 1) - 1) * params.get("time_delay", 1) <= shape[1]
    ],
)
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_equals_torch_path_bitwise(monkeypatch, count_fused_calls, name, params, n, length, size, threads):
    # divisible and uneven windows, windows shorter and longer than a SIMD block, S == L,
    # one series, and batches split over two threads
    X = walks(n, length, seed=n + length)
    monkeypatch.setattr(_fused, "MIN_PIXELS_PER_THREAD", 1)  # split even these small batches
    pools = {}
    monkeypatch.setattr(_fused, "_POOLS", pools)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fused, reference = both(monkeypatch, T.TRANSFORMS[name], X, size, **params)
    finally:
        torch.set_num_threads(previous)
        for pool in pools.values():
            pool.shutdown()
    assert count_fused_calls["gaf" if name.startswith("ga") else "rp"] == 1
    assert bool(pools) == (threads == 2 and n > 1)  # split over threads where asked and possible
    assert fused.dtype == reference.dtype == torch.float32
    assert torch.equal(fused, reference)


def test_fused_stack_writes_each_channel_in_place(monkeypatch, count_fused_calls):
    X = walks(80, 300, seed=3)
    channels = ["mtf", "gasf", "rp", "gadf", "rp_binary"]
    fused, reference = both(monkeypatch, T.make_images, X, channels, 30)
    assert count_fused_calls == {"gaf": 2, "rp": 1}
    assert torch.equal(fused, reference)
    for channel, name in enumerate(channels):
        alone = T.make_images(X, [name], 30)[:, 0]
        assert torch.equal(fused[:, channel], alone), name


@pytest.mark.parametrize(
    ("prepare", "fusable"),
    [
        (lambda X: X.half(), True),
        (lambda X: X.bfloat16(), True),
        (lambda X: X.t().contiguous().t(), True),  # a non-contiguous view
        (lambda X: X.numpy(), True),
        (lambda X: X.numpy().astype(np.float64) + 1e-9, False),  # float64 sums are inexact: torch path
    ],
    ids=["float16 in", "bfloat16 in", "strided", "numpy", "float64 in"],
)
def test_fused_inputs_of_other_types_match_torch_path(monkeypatch, count_fused_calls, prepare, fusable):
    X = prepare(walks(40, 128, seed=5))
    for name in ("gasf", "rp"):
        fused, reference = both(monkeypatch, T.TRANSFORMS[name], X, 16, dtype=torch.float32)
        assert torch.equal(fused, reference), name
    assert count_fused_calls == ({"gaf": 1, "rp": 1} if fusable else {"gaf": 0, "rp": 0})


def test_fused_kernels_refuse_a_block_of_the_wrong_shape():
    # they write without bounds checks, so a wrong block must never reach them
    X = walks(6, 64)
    for block, channel in [
        (torch.empty(6, 2, 8, 8), 2),
        (torch.empty(5, 1, 8, 8), 0),
        (torch.empty(6, 1, 8, 7), 0),
        (torch.empty(6, 1, 8, 8, dtype=torch.float64), 0),
        (torch.empty(6, 1, 8, 16)[..., ::2], 0),  # not contiguous
    ]:
        with pytest.raises(ValueError, match="C-contiguous float32 block"):
            _fused.gaf(X, 8, -1.0, 1.0, True, block, channel)
        with pytest.raises(ValueError, match="C-contiguous float32 block"):
            _fused.rp(X, 8, 1, 1, block, channel)


def test_fused_kernels_apply_only_to_float32_cpu_blocks(monkeypatch, count_fused_calls):
    monkeypatch.setenv("CNNPRACTICE_FUSED", "1")
    X = walks(10, 64)
    T.gasf(X, 8, dtype=torch.float64)  # float64 images: torch path
    T.gasf(X[:0], 8)  # empty batch
    T.rp_binary(X, 8)  # thresholded: torch path
    assert count_fused_calls == {"gaf": 0, "rp": 0}
    out = torch.empty(10, 8, 8)
    T._gaf(X, 8, "summation", (-1, 1), torch.float32, out)
    assert count_fused_calls["gaf"] == 1
    strided = torch.empty(10, 8, 16)[:, :, :8]  # not contiguous: torch path, same numbers
    T._gaf(X, 8, "summation", (-1, 1), torch.float32, strided)
    assert count_fused_calls["gaf"] == 1
    assert torch.equal(strided, out)


def test_gaf_without_scaling_takes_torch_path(monkeypatch, count_fused_calls):
    monkeypatch.setenv("CNNPRACTICE_FUSED", "1")
    X = torch.linspace(-0.9, 0.9, 32).reshape(2, 16)
    image = T.gasf(X, 8, sample_range=None)
    assert count_fused_calls["gaf"] == 0 and image.shape == (2, 8, 8)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", ["gasf", "gadf", "rp"])
def test_fused_path_rejects_non_finite_series(monkeypatch, name, bad):
    monkeypatch.setenv("CNNPRACTICE_FUSED", "1")
    X = walks(50, 64)
    X[37, 11] = bad
    with pytest.raises(ValueError, match="NaN" if math.isnan(bad) else "infinite"):
        T.TRANSFORMS[name](X, 16)


def test_window_means_match_exact_sums():
    # lanes + tree + ordered tail equal the exact mean (math.fsum) when every float64
    # partial sum is exact, for windows of 1 to 40 values
    rng = np.random.default_rng(0)
    x = (rng.integers(-(2**20), 2**20, 4000) / 8).astype(np.float32)  # exact in float64 sums
    for length in range(1, 41):
        for start in (0, 3, 17):
            expected = math.fsum(x[start : start + length].astype(np.float64)) / length
            assert _fused._window_mean(x[None], 0, start, length) == expected, (start, length)
    x64 = x.astype(np.float64).reshape(2, -1)
    assert _fused._window_mean(x64, 1, 5, 33) == math.fsum(x64[1, 5:38]) / 33


def test_inexact_window_sums_stay_within_float64_rounding(monkeypatch):
    # one value of +-2^40 in every window of values ~1: the float64 window sums are
    # inexact (checked), and the two paths add in different orders; the images still
    # agree to float32 rounding
    X = walks(64, 256, seed=9)
    signs = np.random.default_rng(9).choice([-1.0, 1.0], (64, 16)).astype(np.float32)
    X[:, 5::16] = torch.from_numpy(signs) * 2.0**40
    x = X[0].numpy()
    exact = [math.fsum(x[w : w + 16].astype(np.float64)) / 16 for w in range(0, 256, 16)]
    assert any(_fused._window_mean(x[None], 0, w * 16, 16) != exact[w] for w in range(16))
    fused, reference = both(monkeypatch, T.gasf, X, 16)
    torch.testing.assert_close(fused, reference, rtol=0, atol=1e-6)


def test_fused_switch_auto_and_missing_numba(monkeypatch):
    X, block = walks(4, 32), torch.empty(4, 1, 8, 8)
    name = "cnnpractice.timeseries.transforms._fused"
    monkeypatch.setenv("CNNPRACTICE_FUSED", "0")
    assert _common._fused_kernels(X, torch.float32, block) is None
    monkeypatch.setenv("CNNPRACTICE_FUSED", "1")
    assert _common._fused_kernels(X, torch.float32, block) is _fused
    monkeypatch.delenv("CNNPRACTICE_FUSED")  # auto: used once loaded
    assert _common._fused_kernels(X, torch.float32, block) is _fused
    monkeypatch.delitem(sys.modules, name)  # auto, not loaded: a small call does not load numba
    assert _common._fused_kernels(X, torch.float32, block) is None
    assert name not in sys.modules
    monkeypatch.setattr(_common, "FUSED_AUTO_PIXELS", block.numel())  # a large one does
    assert _common._fused_kernels(X, torch.float32, block).__name__ == name
    monkeypatch.setitem(sys.modules, name, None)  # numba missing: the torch path in auto mode
    assert _common._fused_kernels(X, torch.float32, block) is None
    monkeypatch.setenv("CNNPRACTICE_FUSED", "1")  # and an error where they were asked for
    with pytest.raises(ValueError, match="numba cannot be imported"):
        _common._fused_kernels(X, torch.float32, block)


def test_fused_switch_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv("CNNPRACTICE_FUSED", "yes")
    for call in (lambda: T.gasf(walks(2, 16), 4), lambda: T.gasf(walks(2, 16), 4, dtype=torch.float64)):
        with pytest.raises(ValueError, match="CNNPRACTICE_FUSED must be one of"):
            call()


def test_large_file_loads_the_kernels_in_auto_mode(monkeypatch, tmp_path):
    name = "cnnpractice.timeseries.transforms._fused"
    monkeypatch.delenv("CNNPRACTICE_FUSED", raising=False)
    monkeypatch.delitem(sys.modules, name)
    X = walks(20, 64).numpy()
    T.transform_to_npy(X, tmp_path / "small.npy", ["gasf"], 8, progress=False)
    assert name not in sys.modules  # small file: numba's start-up would not pay
    monkeypatch.setattr(T, "FUSED_AUTO_PIXELS", 20 * 8 * 8)
    T.transform_to_npy(X, tmp_path / "large.npy", ["gasf"], 8, progress=False)
    assert name in sys.modules
    assert np.array_equal(np.load(tmp_path / "small.npy"), np.load(tmp_path / "large.npy"))


def test_forked_child_gets_its_own_threads(monkeypatch):
    # a child forked after the parent used the thread pool would otherwise wait forever
    # on worker threads that do not exist in it
    monkeypatch.setenv("CNNPRACTICE_FUSED", "1")
    monkeypatch.setattr(_fused, "MIN_PIXELS_PER_THREAD", 1)
    monkeypatch.setattr(_fused, "_POOLS", _fused._POOLS)  # the dict the fork hook clears
    X = walks(128, 64)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = T.gasf(X, 16)
        assert _fused._POOLS, "the parent should have used a pool"
        context = __import__("multiprocessing").get_context("fork")
        with context.Pool(1) as pool:
            result = pool.apply_async(_child_gasf, (X.numpy(),))
            assert torch.equal(torch.from_numpy(result.get(timeout=20)), expected)
    finally:
        torch.set_num_threads(previous)


def _child_gasf(X: np.ndarray) -> np.ndarray:
    torch.set_num_threads(2)
    return T.gasf(torch.from_numpy(X), 16).numpy()
