"""Tests for cnnpractice.timeseries.transforms (GAF, MTF, RP, PAA, image files).

Hand-checkable cases run fast without pyts; the agreement with pyts is marked
``slow`` (pyts compiles its numba kernels at import); the CPU/CUDA agreement
is marked ``gpu``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from cnnpractice.timeseries import transforms as T
from cnnpractice.timeseries.transforms import (
    TRANSFORMS,
    gramian_angular_field,
    make_images,
    markov_transition_field,
    paa,
    recurrence_plot,
    rp_binary,
    transform_to_npy,
)


@pytest.fixture(autouse=True)
def torch_path(monkeypatch):
    """These tests check the torch path (against pyts and by hand) whatever else was
    imported; tests/test_transforms_fused.py checks the fused kernels against it."""
    monkeypatch.setenv("CNNPRACTICE_FUSED", "0")


def random_walks(n: int, length: int, seed: int = 0) -> np.ndarray:
    """Random walks, float64, shape (n, length)."""
    return np.random.default_rng(seed).standard_normal((n, length)).cumsum(axis=1)


def scaled(x: np.ndarray, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Per-row min-max scaling to [low, high]."""
    x_min, x_max = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    return low + (x - x_min) * (high - low) / (x_max - x_min)


# --------------------------------------------------------------------------- #
# PAA
# --------------------------------------------------------------------------- #
def test_paa_divisible_is_block_means():
    X = np.arange(24, dtype=float).reshape(2, 12)
    expected = X.reshape(2, 4, 3).mean(axis=2)
    np.testing.assert_allclose(paa(X, 4).numpy(), expected)


def test_paa_non_divisible_uses_linspace_windows():
    # 10 -> 4: bounds floor(linspace(0, 10, 5)) = [0, 2, 5, 7, 10]
    x = np.array([[1.0, 3.0, 2.0, 4.0, 6.0, 5.0, 7.0, 9.0, 8.0, 10.0]])
    expected = [[(1 + 3) / 2, (2 + 4 + 6) / 3, (5 + 7) / 2, (9 + 8 + 10) / 3]]
    np.testing.assert_allclose(paa(x, 4).numpy(), expected)


def test_paa_full_size_returns_input_unchanged():
    X = torch.randn(3, 7)
    assert paa(X, 7) is X


def test_paa_keeps_float_dtype_and_promotes_integers():
    assert paa(torch.randn(2, 8), 4).dtype == torch.float32
    assert paa(np.arange(16).reshape(2, 8), 4).dtype == torch.float64


# --------------------------------------------------------------------------- #
# Gramian angular fields
# --------------------------------------------------------------------------- #
def test_gasf_diagonal_is_double_angle_of_scaled_series():
    X = random_walks(3, 40)
    cos = scaled(X)
    gasf = gramian_angular_field(X, 40, "summation").numpy()
    np.testing.assert_allclose(np.diagonal(gasf, axis1=1, axis2=2), 2 * cos**2 - 1, atol=1e-12)
    np.testing.assert_allclose(gasf, np.transpose(gasf, (0, 2, 1)), atol=1e-12)


def test_gasf_entries_match_formula_after_paa():
    X = random_walks(2, 30)
    cos = scaled(X.reshape(2, 10, 3).mean(axis=2), 0.0, 1.0)
    sin = np.sqrt(1 - cos**2)
    expected = cos[:, :, None] * cos[:, None, :] - sin[:, :, None] * sin[:, None, :]
    got = gramian_angular_field(X, 10, "summation", sample_range=(0, 1)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-7)


def test_gadf_diagonal_is_zero_and_antisymmetric():
    X = random_walks(3, 50)
    gadf = gramian_angular_field(X, 25, "difference").numpy()
    np.testing.assert_allclose(np.diagonal(gadf, axis1=1, axis2=2), 0, atol=1e-12)
    np.testing.assert_allclose(gadf, -np.transpose(gadf, (0, 2, 1)), atol=1e-12)
    # orientation: [i, j] = sin_i cos_j - cos_i sin_j
    cos = scaled(X.reshape(3, 25, 2).mean(axis=2))
    sin = np.sqrt(np.clip(1 - cos**2, 0, 1))
    np.testing.assert_allclose(gadf[:, 0, 1], sin[:, 0] * cos[:, 1] - cos[:, 0] * sin[:, 1], atol=1e-7)


def test_gaf_without_scaling_uses_values_as_cosines():
    x = np.array([[-1.0, -0.5, 0.0, 0.25, 1.0]])
    gasf = gramian_angular_field(x, 5, sample_range=None).numpy()[0]
    np.testing.assert_allclose(np.diag(gasf), 2 * x[0] ** 2 - 1, atol=1e-12)


def test_gaf_constant_series_maps_to_range_low():
    gasf = gramian_angular_field(np.full((1, 8), 3.0), 4).numpy()
    np.testing.assert_allclose(gasf, 1.0)  # cos = -1 everywhere: (-1)(-1) - 0


# --------------------------------------------------------------------------- #
# Markov transition field
# --------------------------------------------------------------------------- #
STEP = np.array([[0.0] * 5 + [1.0] * 5])  # median edge 0.5: bins 0,0,0,0,0,1,1,1,1,1


def test_mtf_step_series_transition_matrix():
    # transitions: 0->0 x4, 0->1 x1, 1->1 x4  =>  T = [[0.8, 0.2], [0, 1]]
    mtf = markov_transition_field(STEP, 2, n_bins=2).numpy()[0]
    np.testing.assert_allclose(mtf, [[0.8, 0.2], [0.0, 1.0]], atol=1e-12)


def test_mtf_step_series_full_field_rows():
    field = markov_transition_field(STEP, 10, n_bins=2).numpy()[0]
    np.testing.assert_allclose(field[:5, :5], 0.8)
    np.testing.assert_allclose(field[:5, 5:], 0.2)
    np.testing.assert_allclose(field[5:, :5], 0.0)
    np.testing.assert_allclose(field[5:, 5:], 1.0)
    # each row sums to sum_p count_p * T[q_i, p] = 5 (both states have 5 points)
    np.testing.assert_allclose(field.sum(axis=1), 5.0)


def test_mtf_state_without_outgoing_transitions_has_zero_row():
    # [0, 0, 0, 1]: median edge 0 -> bins 0, 0, 0, 1; state 1 is never left
    field = markov_transition_field(np.array([[0.0, 0.0, 0.0, 1.0]]), 4, n_bins=2).numpy()[0]
    np.testing.assert_allclose(field[3], 0.0)
    np.testing.assert_allclose(field[0], [2 / 3, 2 / 3, 2 / 3, 1 / 3])


def test_mtf_aggregation_is_block_mean_of_full_field():
    X = random_walks(2, 21)
    full = markov_transition_field(X, 21, n_bins=4).numpy()
    bounds = np.linspace(0, 21, 6).astype(int)  # pyts's non-overlapping windows
    expected = np.array(
        [
            [
                [full[s, a0:a1, b0:b1].mean() for b0, b1 in zip(bounds[:-1], bounds[1:])]
                for a0, a1 in zip(bounds[:-1], bounds[1:])
            ]
            for s in range(2)
        ]
    )
    np.testing.assert_allclose(markov_transition_field(X, 5, n_bins=4).numpy(), expected, atol=1e-12)


def test_mtf_value_on_an_edge_goes_to_lower_bin():
    # uniform edges of [0, 4] with 4 bins: 1, 2, 3; the values 1, 2, 3 sit on them
    bins = T._discretize(torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0]], dtype=torch.float64), 4, "uniform")
    assert bins.tolist() == [[0, 0, 1, 2, 3]]


def _float32_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    walks = random_walks(30, 257, seed=5).astype(np.float32)
    ties = rng.integers(-2, 3, (30, 257)).astype(np.float32)
    ties[0] = 1.0  # constant series
    # neighbouring float32 numbers around interpolated (non-float32) quantile edges
    base = np.float32(1.0) + rng.integers(0, 6, (30, 257)).astype(np.float32) * np.float32(2**-23)
    return {"walks": walks, "ties": ties, "ulps": base, "large": walks * np.float32(3e6)}


@pytest.mark.parametrize("data", ["walks", "ties", "ulps", "large"])
@pytest.mark.parametrize("strategy", ["quantile", "uniform", "normal"])
@pytest.mark.parametrize("n_bins", [2, 5, 8, 16])
def test_float32_series_are_binned_as_their_float64_copies(data, strategy, n_bins):
    # float32 input is sorted and compared in float32 (faster); every bin must equal the float64 path's
    X = torch.from_numpy(_float32_cases()[data])
    ours = T._discretize(X, n_bins, strategy)
    assert torch.equal(ours, T._discretize(X.to(torch.float64), n_bins, strategy))
    X_ref = X.to(torch.float64)
    torch.testing.assert_close(
        markov_transition_field(X, 16, n_bins, strategy, dtype=torch.float64),
        markov_transition_field(X_ref, 16, n_bins, strategy),
        rtol=0,
        atol=0,
    )


def test_round_down_decides_comparisons_like_float64():
    from cnnpractice.timeseries.transforms.mtf import _round_down

    rng = np.random.default_rng(0)
    edges = torch.from_numpy(np.concatenate([rng.standard_normal(500) * 10 ** rng.uniform(-5, 5, 500), [0.5, -3.0]]))
    edges = torch.cat([edges, torch.tensor([math.inf, -math.inf, 1e39, -1e39], dtype=torch.float64)])
    near = edges.to(torch.float32)
    values = torch.stack([torch.nextafter(near, torch.full_like(near, -math.inf)), near,
                          torch.nextafter(near, torch.full_like(near, math.inf))])  # fmt: skip
    rounded = _round_down(edges, torch.float32)
    finite = torch.isfinite(values)
    assert torch.equal((values > rounded)[finite], (values.to(torch.float64) > edges)[finite])


# --------------------------------------------------------------------------- #
# Recurrence plot
# --------------------------------------------------------------------------- #
TINY = np.array([[0.0, 1.0, 3.0, 2.0]])
TINY_DIST = np.array([[0, 1, 3, 2], [1, 0, 2, 1], [3, 2, 0, 1], [2, 1, 1, 0]], dtype=float)


def test_rp_tiny_series_distances():
    np.testing.assert_allclose(recurrence_plot(TINY, 4).numpy()[0], TINY_DIST)


def test_rp_tiny_series_embedding():
    # trajectories (0, 1), (1, 3), (3, 2)
    r5, r10 = math.sqrt(5), math.sqrt(10)
    expected = [[0, r5, r10], [r5, 0, r5], [r10, r5, 0]]
    np.testing.assert_allclose(recurrence_plot(TINY, 3, dimension=2).numpy()[0], expected)


@pytest.mark.parametrize(
    "threshold, percentage, expected",
    [
        (1.5, None, TINY_DIST < 1.5),
        ("distance", 50, TINY_DIST < 1.5),  # 50 % of the maximum distance 3
        ("point", 50, TINY_DIST < 1.0),  # median of the 16 distances is 1
    ],
)
def test_rp_tiny_series_thresholds(threshold, percentage, expected):
    rp = recurrence_plot(TINY, 4, threshold=threshold, percentage=percentage).numpy()[0]
    np.testing.assert_array_equal(rp, expected.astype(float))
    binary = rp_binary(TINY, 4, threshold=threshold, percentage=percentage).numpy()[0]
    np.testing.assert_array_equal(binary, expected.astype(float))
    stacked = make_images(
        TINY, ["rp", "rp_binary"], 4, {"rp_binary": {"threshold": threshold, "percentage": percentage}}
    )
    np.testing.assert_allclose(stacked[0, 0].numpy(), TINY_DIST, atol=1e-6)
    np.testing.assert_array_equal(stacked[0, 1].numpy(), expected.astype(np.float32))


@pytest.mark.parametrize("percentage", [5, 10, 25, 50])
def test_rp_point_threshold_sets_the_recurrence_rate(percentage):
    """Eckmann's RP with the threshold as a percentage of points: about that share of
    each image's pixels are recurrent (distinct distances: exactly, up to the pixel grid)."""
    X = random_walks(6, 200)
    images = rp_binary(X, 40, threshold="point", percentage=percentage).numpy()
    rates = images.reshape(6, -1).mean(axis=1) * 100
    # the 40 zeros of the diagonal are always recurrent; the rest follows the percentile
    assert np.all(np.abs(rates - percentage) <= 100 * 41 / 1600), rates


@pytest.mark.parametrize("size", [1, 2, 3, 5, 17, 64])
@pytest.mark.parametrize("dimension", [1, 2])
def test_point_threshold_is_numpys_percentile_bitwise(size, dimension):
    """The threshold is taken from the distance plot's upper triangle (the plot is
    symmetric with a zero diagonal): it must still be numpy's percentile over all S x S
    pixels, bitwise, ties included (the integer series below tie often)."""
    from cnnpractice.timeseries.transforms.rp import _point_threshold, _trajectory_distances

    rng = np.random.default_rng(size * 10 + dimension)
    width = size + (dimension - 1) * 2  # delay 2
    for series in (rng.normal(size=(6, width)), np.round(2 * rng.normal(size=(6, width)))):
        dist = _trajectory_distances(torch.from_numpy(series), size, dimension, 2)
        flat = dist.reshape(6, -1).numpy()
        for percentage in [0, 0.1, 1, 5, 10, 12.5, 33.3, 50, 77, 99.9, 100, *rng.uniform(0, 100, 8)]:
            expected = np.percentile(flat, percentage, axis=1)
            np.testing.assert_array_equal(_point_threshold(dist, percentage).numpy(), expected)


def test_rp_float32_output_close_to_float64():
    X = random_walks(4, 200)
    exact = recurrence_plot(X, 50).numpy()
    fast = recurrence_plot(X.astype(np.float32), 50).numpy()
    assert fast.dtype == np.float32
    np.testing.assert_allclose(fast, exact, atol=1e-5 * np.abs(X).max())


# --------------------------------------------------------------------------- #
# Shapes, dtypes, channel stacks
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("n, length, size", [(1, 8, 8), (3, 50, 7), (4, 128, 32), (2, 100, 1), (0, 20, 5)])
@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transform_shapes(n, length, size, name):
    X = np.random.default_rng(1).standard_normal((n, length))
    out = TRANSFORMS[name](X, size)
    assert out.shape == (n, size, size) and out.dtype == torch.float64


def test_make_images_stacks_channels_in_order():
    X = random_walks(5, 90).astype(np.float32)
    params = {"mtf": {"n_bins": 5, "strategy": "uniform"}, "rp_binary": {"threshold": "point", "percentage": 20}}
    images = make_images(X, ["rp_binary", "gasf", "mtf", "gadf"], 30, params)
    assert images.shape == (5, 4, 30, 30) and images.dtype == torch.float32
    expected = [
        recurrence_plot(X, 30, threshold="point", percentage=20),
        gramian_angular_field(X, 30),
        markov_transition_field(X, 30, n_bins=5, strategy="uniform"),
        gramian_angular_field(X, 30, method="difference"),
    ]
    for channel, image in enumerate(expected):
        np.testing.assert_allclose(images[:, channel].numpy(), image.numpy(), atol=1e-6)


def test_make_images_ignores_params_of_unused_transforms():
    params = {
        "gasf": {"sample_range": [-1, 1]},
        "mtf": {"n_bins": 8},
        "rp_binary": {"threshold": 0.5, "percentage": None},
    }
    images = make_images(random_walks(2, 64), ["gasf"], 16, params)
    assert images.shape == (2, 1, 16, 16)


def test_integer_and_tensor_inputs():
    X = np.random.default_rng(0).integers(0, 10, (3, 40))
    assert gramian_angular_field(X, 10).dtype == torch.float64
    X_t = torch.as_tensor(X, dtype=torch.float32)
    assert markov_transition_field(X_t, 10).dtype == torch.float32
    assert recurrence_plot(X_t, 10, dtype=torch.float64).dtype == torch.float64


# --------------------------------------------------------------------------- #
# Bad inputs
# --------------------------------------------------------------------------- #
GOOD = random_walks(2, 20)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: paa(np.zeros(5), 2), "2D"),
        (lambda: gramian_angular_field(np.zeros((2, 3, 4)), 2), "2D"),
        (lambda: gramian_angular_field(np.zeros((2, 0)), 1), "at least one timestamp"),
        (lambda: gramian_angular_field(np.array([[1.0, np.nan, 2.0]]), 2), "NaN"),
        (lambda: recurrence_plot(np.array([[1.0, np.inf, 2.0]]), 2), "infinite"),
        (lambda: gramian_angular_field(np.array([["a", "b"]]), 2), "numeric"),
        (lambda: gramian_angular_field(np.zeros((1, 4), dtype=complex), 2), "real numbers"),
        (lambda: paa(GOOD, 0), "output_size"),
        (lambda: paa(GOOD, 21), "output_size"),
        (lambda: gramian_angular_field(GOOD, 0), "image_size"),
        (lambda: gramian_angular_field(GOOD, 21), "image_size must be <= n_timestamps (20)"),
        (lambda: markov_transition_field(GOOD, 4.0), "image_size must be an integer"),
        (lambda: gramian_angular_field(GOOD, True), "image_size must be an integer"),
        (lambda: gramian_angular_field(GOOD, 4, method="sum"), "method"),
        (lambda: gramian_angular_field(GOOD, 4, sample_range=(1, -1)), "sample_range"),
        (lambda: gramian_angular_field(GOOD, 4, sample_range=(-2, 1)), "sample_range"),
        (lambda: gramian_angular_field(GOOD, 4, sample_range=(0, 0.5, 1)), "sample_range"),
        (lambda: gramian_angular_field(GOOD, 4, sample_range=None), "[-1, 1]"),
        (lambda: markov_transition_field(GOOD, 4, n_bins=1), "n_bins"),
        (lambda: markov_transition_field(GOOD, 4, n_bins=2.5), "n_bins"),
        (lambda: markov_transition_field(GOOD, 4, strategy="kmeans"), "strategy"),
        (lambda: recurrence_plot(GOOD, 4, threshold=0), "threshold"),
        (lambda: recurrence_plot(GOOD, 4, threshold="median"), "threshold"),
        (lambda: recurrence_plot(GOOD, 4, threshold="point", percentage=150), "percentage"),
        (lambda: recurrence_plot(GOOD, 4, threshold="point"), "percentage must be a number in [0, 100]"),
        (lambda: recurrence_plot(GOOD, 4, percentage=10), "percentage=10 would be ignored with no threshold"),
        (lambda: recurrence_plot(GOOD, 4, threshold=0.5, percentage=10), "ignored with the fixed distance"),
        (lambda: rp_binary(GOOD, 4, threshold=None), "rp_binary needs a threshold"),
        (lambda: make_images(GOOD, ["rp_binary"], 4, {"rp_binary": {"threshold": None}}), "needs a threshold"),
        (lambda: make_images(GOOD, ["rp"], 4, {"rp": {"percentage": 10}}), "unknown parameter(s) ['percentage']"),
        (lambda: make_images(GOOD, ["rp"], 4, {"rp": {"threshold": "point"}}), "unknown parameter(s) ['threshold']"),
        (lambda: recurrence_plot(GOOD, 4, dimension=0), "dimension"),
        (lambda: recurrence_plot(GOOD, 4, time_delay=0), "time_delay"),
        (lambda: recurrence_plot(GOOD, 18, dimension=3, time_delay=2), "(dimension - 1) * time_delay = 22"),
        (lambda: gramian_angular_field(GOOD, 4, dtype=torch.int64), "dtype"),
        (lambda: make_images(GOOD, ["gaf"], 4), "unknown transform 'gaf'"),
        (lambda: make_images(GOOD, ["gasf"], 4, {"mtff": {}}), "unknown transform 'mtff'"),
        (lambda: make_images(GOOD, ["mtf"], 4, {"mtf": {"bins": 8}}), "unknown parameter(s) ['bins']"),
        (lambda: make_images(GOOD, ["gasf"], 4, {"gasf": {"method": "d"}}), "'method'"),
        (lambda: make_images(GOOD, [], 4), "channels"),
        (lambda: make_images(GOOD, "gasf", 4), "channels"),
        (lambda: make_images(GOOD, ["mtf"], 4, {"mtf": 8}), "params['mtf']"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError) as excinfo:
        call()
    assert message in str(excinfo.value)


# --------------------------------------------------------------------------- #
# transform_to_npy
# --------------------------------------------------------------------------- #
CHANNELS = ["gasf", "gadf", "mtf", "rp"]


def test_transform_to_npy_matches_make_images(tmp_path):
    X = random_walks(10, 60).astype(np.float32)
    out = tmp_path / "images.npy"
    shape = transform_to_npy(X, out, CHANNELS, 12, chunk_size=256, progress=False)
    assert shape == (10, 4, 12, 12)
    saved = np.load(out)
    assert saved.dtype == np.float32 and saved.shape == shape
    np.testing.assert_array_equal(saved, make_images(X, CHANNELS, 12).numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.npy"]


def test_transform_to_npy_chunking_gives_identical_results(tmp_path):
    X = random_walks(10, 60).astype(np.float32)
    params = {"rp_binary": {"threshold": "point", "percentage": 10}}
    channels = [*CHANNELS, "rp_binary"]
    transform_to_npy(X, tmp_path / "whole.npy", channels, 12, params, chunk_size=256, progress=False)
    transform_to_npy(X, tmp_path / "chunks.npy", channels, 12, params, chunk_size=3, progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "chunks.npy"), np.load(tmp_path / "whole.npy"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunks.npy", "whole.npy"]


def test_transform_to_npy_shows_progress_on_stderr(tmp_path, capsys):
    transform_to_npy(random_walks(4, 20), tmp_path / "x.npy", ["gasf"], 5, chunk_size=2, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "2/2" in captured.err


def test_transform_to_npy_failure_leaves_no_file(tmp_path, monkeypatch):
    calls = []

    def fail_on_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return make_images(*args, **kwargs)

    monkeypatch.setattr(T, "make_images", fail_on_second_chunk)
    with pytest.raises(RuntimeError, match="boom"):
        transform_to_npy(random_walks(6, 30), tmp_path / "images.npy", ["gasf"], 8, chunk_size=2, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_transform_to_npy_failure_keeps_previous_file(tmp_path):
    target = tmp_path / "images.npy"
    np.save(target, np.zeros(3))
    with pytest.raises(ValueError, match="image_size"):
        transform_to_npy(random_walks(6, 30), target, ["rp"], 29, {"rp": {"dimension": 3}}, progress=False)
    np.testing.assert_array_equal(np.load(target), np.zeros(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.npy"]


def test_transform_to_npy_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="2D"):
        transform_to_npy(np.zeros(10), tmp_path / "x.npy", ["gasf"], 4, progress=False)
    with pytest.raises(ValueError, match="chunk_size"):
        transform_to_npy(np.zeros((2, 10)), tmp_path / "x.npy", ["gasf"], 4, chunk_size=0, progress=False)
    with pytest.raises(ValueError, match="unknown transform"):
        transform_to_npy(np.zeros((2, 10)), tmp_path / "x.npy", ["xyz"], 4, progress=False)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- #
# Agreement with pyts
# --------------------------------------------------------------------------- #
TOL = 1e-5
SHAPES = [(128, 32), (150, 64), (97, 13), (40, 40)]  # divisible, not divisible, odd, no reduction


@pytest.fixture(scope="module")
def pyts_image():
    return pytest.importorskip("pyts.image")


def pyts_paa(X: np.ndarray, size: int) -> np.ndarray:
    from pyts.approximation import PiecewiseAggregateApproximation

    return PiecewiseAggregateApproximation(window_size=None, output_size=size, overlapping=False).fit_transform(X)


def max_diff(ours: torch.Tensor, ref: np.ndarray) -> float:
    assert ours.shape == ref.shape
    return float(np.abs(ours.numpy().astype(np.float64) - ref).max())


@pytest.mark.slow
@pytest.mark.parametrize("length, size", SHAPES + [(10, 1)])
def test_paa_matches_pyts_bitwise(pyts_image, length, size):
    X = random_walks(20, length, seed=length)
    np.testing.assert_array_equal(paa(X, size).numpy(), pyts_paa(X, size))


@pytest.mark.slow
@pytest.mark.parametrize("length, size", SHAPES)
@pytest.mark.parametrize("method", ["summation", "difference"])
@pytest.mark.parametrize("sample_range", [(-1, 1), (0, 1), (-0.5, 0.8), None])
def test_gaf_matches_pyts(pyts_image, length, size, method, sample_range):
    X = random_walks(20, length, seed=size)
    if sample_range is None:
        X = scaled(X, -0.9, 1.0)
    ref = pyts_image.GramianAngularField(image_size=size, method=method, sample_range=sample_range).fit_transform(X)
    assert max_diff(gramian_angular_field(X, size, method, sample_range), ref) <= TOL
    channel = "gasf" if method == "summation" else "gadf"
    images = make_images(X, [channel], size, {channel: {"sample_range": sample_range}})
    assert max_diff(images[:, 0], ref) <= TOL


@pytest.mark.slow
@pytest.mark.parametrize("length, size", SHAPES)
@pytest.mark.parametrize("strategy", ["quantile", "uniform", "normal"])
@pytest.mark.parametrize("n_bins", [2, 5, 8, 16])
@pytest.mark.parametrize("data", ["walk", "ties"])
def test_mtf_matches_pyts(pyts_image, length, size, strategy, n_bins, data):
    rng = np.random.default_rng(n_bins)
    if data == "walk":
        X = random_walks(20, length, seed=n_bins) / 5
    else:  # few distinct values: equal quantiles are merged, values sit on edges
        X = rng.integers(-2, 3, (20, length)).astype(float)
        X[0] = 1.0  # constant series
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyts: "Some quantiles are equal"
        ref = pyts_image.MarkovTransitionField(image_size=size, n_bins=n_bins, strategy=strategy).fit_transform(X)
    assert max_diff(markov_transition_field(X, size, n_bins, strategy), ref) <= TOL
    images = make_images(X, ["mtf"], size, {"mtf": {"n_bins": n_bins, "strategy": strategy}})
    assert max_diff(images[:, 0], ref) <= TOL


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["quantile", "uniform", "normal"])
def test_mtf_of_float32_series_matches_pyts(pyts_image, strategy):
    # the workflow's series are float32: binned in float32 here, in float64 by pyts
    X = (random_walks(50, 300, seed=11) / 5).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = pyts_image.MarkovTransitionField(image_size=30, n_bins=8, strategy=strategy).fit_transform(X)
    assert max_diff(make_images(X, ["mtf"], 30, {"mtf": {"n_bins": 8, "strategy": strategy}})[:, 0], ref) <= TOL


@pytest.mark.slow
@pytest.mark.parametrize("length, size", SHAPES)
@pytest.mark.parametrize("dimension, time_delay", [(1, 1), (2, 1), (3, 2)])
@pytest.mark.parametrize("threshold", [None, "point", "distance", 0.5])
@pytest.mark.parametrize("percentage", [10, 50])
def test_rp_matches_pyts(pyts_image, length, size, dimension, time_delay, threshold, percentage):
    needed = size + (dimension - 1) * time_delay
    if needed > length:
        size, needed = size - (needed - length), length
    X = random_walks(20, length, seed=size) / 5
    reduced = pyts_paa(X, needed) if needed < length else X
    ref = pyts_image.RecurrencePlot(
        dimension=dimension, time_delay=time_delay, threshold=threshold, percentage=percentage
    ).fit_transform(reduced)
    # pyts ignores percentage unless threshold is 'point' or 'distance'; we refuse it there
    ours_percentage = percentage if threshold in ("point", "distance") else None
    ours = recurrence_plot(X, size, dimension, time_delay, threshold, ours_percentage)
    assert max_diff(ours, ref) <= TOL
    embedding = {"dimension": dimension, "time_delay": time_delay}
    if threshold is None:  # the distance plot: image type rp
        images = make_images(X, ["rp"], size, {"rp": embedding})
    else:  # Eckmann's thresholded plot: image type rp_binary
        binary = {**embedding, "threshold": threshold, "percentage": ours_percentage}
        images = make_images(X, ["rp_binary"], size, {"rp_binary": binary})
        assert set(np.unique(images.numpy())) <= {0.0, 1.0}
    assert max_diff(images[:, 0], ref) <= TOL


@pytest.mark.slow
def test_rp_point_threshold_with_ties_matches_pyts(pyts_image):
    X = np.random.default_rng(3).integers(0, 4, (10, 48)).astype(float)
    for percentage in [0, 25, 50, 100]:
        ref = pyts_image.RecurrencePlot(threshold="point", percentage=percentage).fit_transform(pyts_paa(X, 24))
        assert max_diff(recurrence_plot(X, 24, threshold="point", percentage=percentage), ref) == 0


# --------------------------------------------------------------------------- #
# CPU vs CUDA
# --------------------------------------------------------------------------- #
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "params",
    [
        {"mtf": {"n_bins": 8, "strategy": "quantile"}, "rp_binary": {"threshold": 0.5, "percentage": None}},
        {"mtf": {"n_bins": 5, "strategy": "uniform"}, "rp_binary": {"threshold": "point", "dimension": 2}},
        {"mtf": {"n_bins": 4, "strategy": "normal"}, "rp_binary": {"threshold": "distance", "time_delay": 3}},
    ],
)
def test_cpu_and_cuda_agree(params):
    X = torch.as_tensor(random_walks(64, 150) / 5)
    channels = ["gasf", "gadf", "mtf", "rp", "rp_binary"]
    cpu = make_images(X, channels, 32, params)
    cuda = make_images(X.cuda(), channels, 32, params)
    assert cuda.device.type == "cuda"
    torch.testing.assert_close(cuda.cpu(), cpu, atol=1e-5, rtol=0)
    for name in ["gasf", "mtf", "rp", "rp_binary"]:
        kwargs = {k: v for k, v in params.get(name, {}).items()}
        torch.testing.assert_close(
            TRANSFORMS[name](X.cuda(), 32, **kwargs).cpu(), TRANSFORMS[name](X, 32, **kwargs), atol=1e-5, rtol=0
        )
