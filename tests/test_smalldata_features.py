"""Tests for cnnpractice.smalldata.features (HOG, HGD, HCFeats) and .classify (evaluate_features).

Hand-checkable patterns (step edge, ramp, blob, half-white image) and
parametrized tables of (params, expected shape) and (bad input, error message).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cnnpractice.smalldata.classify import evaluate_features
from cnnpractice.smalldata.features import EXTRACTORS, extract, hgd_features, hog_features
from cnnpractice.smalldata.hcfeats import HCFEATS_NAMES, hcfeats_features


def random_images(n: int, channels: int = 1, size: tuple[int, int] = (28, 28), seed: int = 0) -> np.ndarray:
    """Smooth-ish random uint8 images (noise plus a bright blob), shape (n, channels, H, W)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: size[0], : size[1]]
    centres = rng.uniform(6, min(size) - 6, (n, 2))
    blob = np.exp(-((yy - centres[:, 0, None, None]) ** 2 + (xx - centres[:, 1, None, None]) ** 2) / 20.0)
    img = 200 * blob[:, None] + rng.uniform(0, 55, (n, channels, *size))
    return img.astype(np.uint8)


def gray(image: np.ndarray) -> np.ndarray:
    """A (H, W) uint8 image as a one-image gray batch (1, 1, H, W)."""
    return np.asarray(image, np.uint8)[None, None]


def gaussian_blob(size: int = 28, sigma: float = 4.0) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2
    return np.rint(255 * np.exp(-((yy - c) ** 2 + (xx - c) ** 2) / (2 * sigma**2))).astype(np.uint8)


# --------------------------------------------------------------------------- #
# Shapes, dtype, determinism, chunking, channels
# --------------------------------------------------------------------------- #
SHAPES = [
    ("hog", {}, (28, 28), 6 * 6 * 2 * 2 * 9),
    ("hog", {"orientations": 8, "pixels_per_cell": 7, "cells_per_block": [1, 1]}, (28, 28), 4 * 4 * 8),
    ("hog", {}, (32, 24), 7 * 5 * 2 * 2 * 9),
    ("hgd", {}, (28, 28), 4 * 4 * 16),
    ("hgd", {"bins": 8, "cells": (2, 3), "value_range": (-1, 1)}, (28, 30), 2 * 3 * 8),
    ("hcfeats", {}, (28, 28), 17),
    ("hcfeats", {"glcm_distances": [1, 2], "glcm_angles": [0.0], "levels": 8}, (20, 16), 17),
]


@pytest.mark.parametrize("name, params, size, dim", SHAPES)
@pytest.mark.parametrize("n", [0, 3])
def test_shape_and_dtype(name, params, size, dim, n):
    out = extract(name, random_images(n, size=size), params)
    assert out.shape == (n, dim) and out.dtype == np.float32
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("name", sorted(EXTRACTORS))
def test_deterministic_and_chunk_independent(name, tmp_path):
    images = random_images(23, channels=3, seed=1)
    path = tmp_path / "images.npy"
    np.save(path, images)
    memmap = np.load(path, mmap_mode="r")
    whole = extract(name, images)
    np.testing.assert_array_equal(whole, extract(name, images))
    np.testing.assert_array_equal(whole, extract(name, memmap, {"chunk_size": 5}))
    np.testing.assert_array_equal(whole[7:9], extract(name, images[7:9], {"chunk_size": 1}))


@pytest.mark.parametrize("name", sorted(EXTRACTORS))
def test_rgb_is_luma(name):
    one = random_images(4, seed=2)
    np.testing.assert_array_equal(extract(name, np.repeat(one, 3, axis=1)), extract(name, one))
    rgb = random_images(4, channels=3, seed=3)
    luma = np.rint(rgb.astype(float).transpose(0, 2, 3, 1) @ [0.299, 0.587, 0.114]).astype(np.uint8)
    np.testing.assert_array_equal(extract(name, rgb), extract(name, luma[:, None]))


@pytest.mark.parametrize("name", sorted(EXTRACTORS))
def test_constant_image_is_finite(name):
    for value in (0, 128, 255):
        assert np.all(np.isfinite(extract(name, gray(np.full((28, 28), value)))))


# --------------------------------------------------------------------------- #
# Known values
# --------------------------------------------------------------------------- #
def test_hog_vertical_step_edge_is_horizontal_gradient():
    step = np.zeros((28, 28))
    step[:, 14:] = 255
    blocks = hog_features(gray(step)).reshape(6, 6, 2, 2, 9)  # block r, c, cell r, c, orientation
    cells = {}  # cell (row, col) -> its histogram, from any block holding it
    for br, bc, cr, cc in np.ndindex(6, 6, 2, 2):
        cells.setdefault((br + cr, bc + cc), []).append(blocks[br, bc, cr, cc])
    edge = [hist for (row, col), hists in cells.items() if col == 3 for hist in hists]
    assert len(edge) > 0 and all(h.argmax() == 0 and h[0] > 0 and np.all(h[1:] == 0) for h in edge)
    other = [hist for (row, col), hists in cells.items() if col != 3 for hist in hists]
    assert all(np.all(h == 0) for h in other)


def test_hog_constant_image_is_zero():
    assert not np.any(hog_features(gray(np.full((28, 28), 90))))


def test_hgd_ramp_has_zero_divergence():
    ramp = np.tile(np.arange(28) * 9, (28, 1))
    for image in (ramp, ramp.T, 243 - ramp):
        hist = hgd_features(gray(image)).reshape(16, 16)  # cells, bins; bin 8 = [0, 0.25)
        np.testing.assert_array_equal(hist[:, 8], 1.0)
        assert hist.sum() == 16


@pytest.mark.parametrize("bright, sign", [(True, -1), (False, +1)])
def test_hgd_blob_divergence_sign(bright, sign):
    blob = gaussian_blob() if bright else 255 - gaussian_blob()
    hist = hgd_features(gray(blob)).reshape(16, 16)
    negative, positive = hist[:, :8].sum(), hist[:, 8:].sum()  # bins 0-7: d < 0; 8-15: d >= 0
    assert (negative if sign < 0 else positive) > 5 * (positive if sign < 0 else negative)


def test_hgd_constant_image_is_zero_and_rows_are_l1():
    assert not np.any(hgd_features(gray(np.full((28, 28), 200))))
    hist = hgd_features(random_images(5), cells=(2, 2)).reshape(5, 4, 16)
    np.testing.assert_allclose(hist.sum(axis=2), 1.0, rtol=1e-6)


def test_hcfeats_names():
    assert len(HCFEATS_NAMES) == len(set(HCFEATS_NAMES)) == 17


def test_hcfeats_intensity_statistics_match_numpy():
    images = random_images(3, seed=4)
    feats = dict(zip(HCFEATS_NAMES, hcfeats_features(images).T))
    x = images[:, 0].reshape(3, -1) / 255.0
    np.testing.assert_allclose(feats["mean"], x.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(feats["std"], x.std(axis=1), rtol=1e-6)
    np.testing.assert_allclose(feats["p10"], np.percentile(x, 10, axis=1), rtol=1e-6)
    z = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    np.testing.assert_allclose(feats["skewness"], (z**3).mean(axis=1), rtol=1e-5, atol=1e-6)


def test_hcfeats_half_white_image():
    half = np.zeros((28, 28))
    half[:, 14:] = 255
    feats = dict(zip(HCFEATS_NAMES, hcfeats_features(gray(half))[0]))
    assert feats["fg_area_fraction"] == pytest.approx(0.5)
    assert feats["mean"] == pytest.approx(0.5) and feats["std"] == pytest.approx(0.5)
    assert feats["entropy"] == pytest.approx(1.0)
    assert feats["fg_solidity"] == pytest.approx(1.0) and feats["fg_extent"] == pytest.approx(1.0)


def test_hcfeats_constant_image_values():
    feats = dict(zip(HCFEATS_NAMES, hcfeats_features(gray(np.full((28, 28), 51)))[0]))
    ones = {"glcm_homogeneity", "glcm_energy", "glcm_asm", "glcm_correlation"}
    expected = {name: 1.0 if name in ones else 0.0 for name in HCFEATS_NAMES}
    expected.update(mean=0.2, p10=0.2, p90=0.2)
    assert feats == pytest.approx(expected)


# --------------------------------------------------------------------------- #
# Bad inputs
# --------------------------------------------------------------------------- #
GOOD = np.zeros((2, 1, 28, 28), np.uint8)
BAD = [
    ("hog", GOOD.astype(np.float32), None, "uint8"),
    ("hgd", GOOD[:, 0], None, r"\(N, C, H, W\)"),
    ("hcfeats", np.zeros((2, 2, 28, 28), np.uint8), None, "C 1"),
    ("sift", GOOD, None, "unknown feature extractor 'sift'; accepted: .*hcfeats"),
    ("hog", GOOD, {"orientation": 9}, r"unknown parameter\(s\) \['orientation'\].*accepted.*orientations"),
    ("hog", GOOD, {"orientations": 0}, "orientations must be >= 1"),
    ("hog", GOOD, {"block_norm": "L3"}, "block_norm must be one of"),
    ("hog", GOOD, {"pixels_per_cell": 16}, "no HOG block"),
    ("hgd", GOOD, {"value_range": (1, -1)}, "low < high"),
    ("hgd", GOOD, {"cells": (29, 4)}, "too small"),
    ("hgd", GOOD, {"chunk_size": 0}, "chunk_size must be >= 1"),
    ("hcfeats", GOOD, {"levels": 300}, "levels must be >= 2 and <= 256"),
    ("hcfeats", GOOD, {"glcm_distances": []}, "glcm_distances must be a non-empty"),
    ("hcfeats", GOOD, [("levels", 8)], "params must be a dict"),
]


@pytest.mark.parametrize("name, images, params, message", BAD)
def test_bad_input_raises(name, images, params, message):
    with pytest.raises(ValueError, match=message):
        extract(name, images, params)


# --------------------------------------------------------------------------- #
# evaluate_features
# --------------------------------------------------------------------------- #
def blobs(n_per_class: list[int], d: int = 6, seed: int = 0):
    """Well separated Gaussian classes plus a constant column; (x, y)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    centres = 4.0 * np.eye(len(n_per_class), d)
    x = centres[y] + rng.normal(size=(len(y), d))
    x[:, -1] = 7.0  # zero variance
    return x, y


@pytest.mark.parametrize("n_classes, has_auc", [(2, True), (3, False)])
def test_evaluate_separable(n_classes, has_auc):
    x, y = blobs([40] * n_classes)
    xt, yt = blobs([30] * n_classes, seed=1)
    results = evaluate_features(x, y, xt, yt, c_grid=(0.1, 1.0))
    assert [r["classifier"] for r in results] == ["svm", "logreg"]
    for r in results:
        assert r["accuracy"] >= 0.95 and r["cv_accuracy"] >= 0.9 and r["best_C"] in (0.1, 1.0)
        assert (r["auc"] is not None and r["auc"] >= 0.95) if has_auc else r["auc"] is None
        assert (r["n_train"], r["n_test"], r["n_features"], r["cv_folds"]) == (40 * n_classes, 30 * n_classes, 6, 3)
        assert r["note"] is None and r["convergence_warnings"] == 0
    again = evaluate_features(x, y, xt, yt, c_grid=(0.1, 1.0))
    strip = [{k: v for k, v in r.items() if k != "fit_seconds"} for r in (*results, *again)]
    assert strip[:2] == strip[2:]


@pytest.mark.parametrize("tiny, folds, note", [(2, 2, "reduced from 3 to 2"), (1, 0, "no cross-validation")])
def test_evaluate_tiny_class_reduces_folds(tiny, folds, note):
    x, y = blobs([20, tiny])
    results = evaluate_features(x, y, x, y, classifiers=["logreg"])
    assert results[0]["cv_folds"] == folds and note in results[0]["note"]
    assert results[0]["accuracy"] > 0.9


def test_evaluate_counts_convergence_warnings():
    x, y = blobs([30, 30, 30], d=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none may escape
        result = evaluate_features(x, y, x, y, classifiers=["logreg"], max_iter=1, c_grid=(1.0, 10.0))[0]
    assert result["convergence_warnings"] == 2 * 3 + 1  # every CV fit and the refit


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"classifiers": ["rf"]}, r"unknown classifier\(s\) \['rf'\]; accepted"),
        ({"cv_folds": 1}, "cv_folds must be an integer >= 2"),
        ({"c_grid": (0.0,)}, "c_grid must be"),
    ],
)
def test_evaluate_bad_options(kwargs, message):
    x, y = blobs([10, 10])
    with pytest.raises(ValueError, match=message):
        evaluate_features(x, y, x, y, **kwargs)
