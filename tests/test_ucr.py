"""Tests of cnnpractice.data.ucr: UCR datasets materialized as validated npz splits.

No test touches the network: the autouse fixture in conftest.py makes every socket connection
fail (and records the attempt). Loading and downloading the raw data
(cnnpractice.data.ucr_source) is tested in test_ucr_source.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnpractice.data import ucr

# name, n_train, n_test, length, classes, options
SHIPPED_CASES = [
    ("GunPoint", 50, 150, 150, ["1", "2"], {}),
    ("ArrowHead", 36, 175, 251, ["0", "1", "2"], {}),
    ("ItalyPowerDemand", 67, 1029, 24, ["1", "2"], {}),
    ("OSULeaf", 200, 242, 427, ["1", "2", "3", "4", "5", "6"], {}),
    ("ACSF1", 100, 100, 1460, [str(i) for i in range(10)], {}),
    # unequal lengths 29..361; labels 1..10 must sort numerically, not as strings
    ("PickupGestureWiimoteZ", 50, 50, 361, [str(i) for i in range(1, 11)], {"unequal_length": "resample"}),
]


def fake_loader(monkeypatch, raw):
    """Make materialize_ucr see ``raw`` instead of loading a dataset."""
    calls = []

    def load(name, source="auto", extract_path=None, downloads=None):
        calls.append((name, source, extract_path))
        return raw

    monkeypatch.setattr(ucr, "load_ucr", load)
    return calls


def synthetic(n_train=6, n_test=4, length=20, seed=0, labels=("1", "2")):
    rng = np.random.default_rng(seed)
    return {
        "X_train": rng.normal(size=(n_train, 1, length)),
        "y_train": np.array([labels[i % len(labels)] for i in range(n_train)]),
        "X_test": rng.normal(size=(n_test, 1, length)),
        "y_test": np.array([labels[i % len(labels)] for i in range(n_test)]),
    }


# ---------------------------------------------------------------------------
# module and shipped data
# ---------------------------------------------------------------------------


def test_import_is_cheap():
    code = "import sys, cnnpractice.data.ucr; print(sorted({'aeon', 'torch', 'pandas'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(ucr.__file__).parents[2])},
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name,n_train,n_test,length,classes,options", SHIPPED_CASES, ids=[c[0] for c in SHIPPED_CASES])
def test_materialize_shipped(tmp_path, name, n_train, n_test, length, classes, options):
    summary = ucr.materialize_ucr(name, tmp_path, **options)
    assert summary == {"n_train": n_train, "n_test": n_test, "length": length, "n_classes": len(classes)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.npz", "train.npz"]

    raw = ucr.load_ucr(name, source="shipped")
    assert raw["source"] == "shipped"
    for split, n in (("train", n_train), ("test", n_test)):
        X, y, got_classes = ucr.load_split(tmp_path / f"{split}.npz")
        assert X.shape == (n, length) and X.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert got_classes == classes
        # same mapping in both files, and it gives back the original labels
        np.testing.assert_array_equal(np.asarray(got_classes)[y], raw[f"y_{split}"].astype(str))
        if not options:
            np.testing.assert_allclose(X, raw[f"X_{split}"][:, 0, :], rtol=1e-6, atol=1e-6)


def test_shipped_unequal_length_refused_by_default(tmp_path):
    with pytest.raises(ValueError) as err:
        ucr.materialize_ucr("PickupGestureWiimoteZ", tmp_path)
    msg = str(err.value)
    assert all(s in msg for s in ("PickupGestureWiimoteZ", "min 29", "max 361", "timeseries.unequal_length"))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"source": "web"}, "source must be one of"),
        ({"unequal_length": "pad"}, "timeseries.unequal_length must be one of"),
        ({"missing": "drop"}, "timeseries.missing must be one of"),
    ],
)
def test_bad_options_refused_before_loading(monkeypatch, tmp_path, kwargs, match):
    calls = fake_loader(monkeypatch, synthetic())
    with pytest.raises(ValueError, match=match):
        ucr.materialize_ucr("Fake", tmp_path, **kwargs)
    assert calls == []


# ---------------------------------------------------------------------------
# round trip and corrupt files
# ---------------------------------------------------------------------------


def test_round_trip(monkeypatch, tmp_path):
    raw = synthetic(labels=("b", "a", "10", "2"))
    calls = fake_loader(monkeypatch, raw)
    summary = ucr.materialize_ucr("Fake", tmp_path, source="download", extract_path="cache")
    assert calls == [("Fake", "download", "cache")]
    assert summary == {"n_train": 6, "n_test": 4, "length": 20, "n_classes": 4}
    for split in ("train", "test"):
        X, y, classes = ucr.load_split(tmp_path / f"{split}.npz")
        assert classes == ["2", "10", "a", "b"]
        np.testing.assert_array_equal(X, raw[f"X_{split}"][:, 0, :].astype(np.float32))
        np.testing.assert_array_equal(np.asarray(classes)[y], raw[f"y_{split}"])


def _write(path, **arrays):
    np.savez(path, **arrays)


GOOD = {"X": np.zeros((3, 5), np.float32), "y": np.array([0, 1, 0]), "classes": np.array(["1", "2"])}

CORRUPT_CASES = [
    ("garbage", lambda p: p.write_bytes(b"\x00not a zip archive" * 10), "not a readable .npz"),
    ("truncated", lambda p: (_write(p, **GOOD), p.write_bytes(p.read_bytes()[:40])), "not a readable .npz"),
    ("missing_y", lambda p: _write(p, X=GOOD["X"], classes=GOOD["classes"]), "missing array 'y'"),
    ("missing_classes", lambda p: _write(p, X=GOOD["X"], y=GOOD["y"]), "missing array 'classes'"),
    ("X_int", lambda p: _write(p, **{**GOOD, "X": np.zeros((3, 5), int)}), "'X' has dtype int64"),
    ("y_float", lambda p: _write(p, **{**GOOD, "y": np.zeros(3)}), "'y' has dtype float64"),
    ("classes_int", lambda p: _write(p, **{**GOOD, "classes": np.array([1, 2])}), "'classes' has dtype"),
    ("X_3d", lambda p: _write(p, **{**GOOD, "X": np.zeros((3, 1, 5), np.float32)}), r"'X' has shape \(3, 1, 5\)"),
    ("y_length", lambda p: _write(p, **{**GOOD, "y": np.array([0, 1])}), r"'y' has shape \(2,\), expected \(3,\)"),
    ("y_range", lambda p: _write(p, **{**GOOD, "y": np.array([0, 2, 0])}), r"expected 0\.\.1"),
    ("y_negative", lambda p: _write(p, **{**GOOD, "y": np.array([0, -1, 0])}), r"expected 0\.\.1"),
    ("duplicate_classes", lambda p: _write(p, **{**GOOD, "classes": np.array(["1", "1"])}), "duplicate"),
    (
        "nan",
        lambda p: _write(p, **{**GOOD, "X": np.array([[0, np.nan], [0, 1], [1, 1]], np.float32)}),
        "NaN/inf values in 1 series",
    ),
]


@pytest.mark.parametrize("make,match", [c[1:] for c in CORRUPT_CASES], ids=[c[0] for c in CORRUPT_CASES])
def test_load_split_rejects(tmp_path, make, match):
    path = tmp_path / "train.npz"
    make(path)
    with pytest.raises(ValueError, match=match) as err:
        ucr.load_split(path)
    assert str(path) in str(err.value)


def test_load_split_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        ucr.load_split(tmp_path / "nope.npz")


# ---------------------------------------------------------------------------
# conversion rules (synthetic raw data)
# ---------------------------------------------------------------------------


def ragged():
    """Train lengths 4 and 7, test length 5: a ramp 0..n-1 per series."""
    ramp = lambda n: np.arange(n, dtype=float)[None, :]  # noqa: E731
    return {
        "X_train": [ramp(4), ramp(7)],
        "y_train": np.array(["1", "2"]),
        "X_test": [ramp(5)],
        "y_test": np.array(["2"]),
    }


@pytest.mark.parametrize("option,length", [("resample", 7), ("truncate", 4)])
def test_unequal_lengths_handled(option, length):
    out = ucr.prepare_ucr("Ragged", ragged(), unequal_length=option)
    assert out["X_train"].shape == (2, length) and out["X_test"].shape == (1, length)
    if option == "resample":  # a ramp stays a ramp over the same range
        np.testing.assert_allclose(out["X_train"][0], np.linspace(0, 3, 7), rtol=1e-6)
        np.testing.assert_allclose(out["X_train"][1], np.arange(7))
        np.testing.assert_allclose(out["X_test"][0], np.linspace(0, 4, 7), rtol=1e-6)
    else:
        np.testing.assert_array_equal(out["X_train"], [np.arange(4)] * 2)
        np.testing.assert_array_equal(out["X_test"], [np.arange(4)])


def test_unequal_lengths_refused():
    with pytest.raises(ValueError) as err:
        ucr.prepare_ucr("Ragged", ragged())
    msg = str(err.value)
    assert all(s in msg for s in ("'Ragged'", "min 4", "max 7", "timeseries.unequal_length"))


def with_nans():
    raw = synthetic(length=6)
    raw["X_train"][0, 0, :] = [np.nan, 1.0, np.nan, 3.0, np.nan, np.nan]
    raw["X_train"][3, 0, 2] = np.nan
    raw["X_test"][1, 0, 0] = np.nan
    return raw


def test_missing_refused():
    with pytest.raises(ValueError) as err:
        ucr.prepare_ucr("Holes", with_nans())
    msg = str(err.value)
    assert all(s in msg for s in ("'Holes'", "2 of 6 train", "1 of 4 test", "timeseries.missing"))


def test_missing_interpolated():
    raw = with_nans()
    out = ucr.prepare_ucr("Holes", raw, missing="interpolate")
    # inner gap linear, leading/trailing gaps take the nearest valid value
    np.testing.assert_allclose(out["X_train"][0], [1, 1, 2, 3, 3, 3])
    row = raw["X_train"][3, 0]
    np.testing.assert_allclose(out["X_train"][3, 2], (row[1] + row[3]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out["X_test"][1, 0], raw["X_test"][1, 0, 1], rtol=1e-6)
    assert all(np.isfinite(out[k]).all() for k in ("X_train", "X_test"))


def test_missing_then_unequal_lengths():
    raw = ragged()
    raw["X_train"][1] = raw["X_train"][1].copy()
    raw["X_train"][1][0, 3] = np.nan
    out = ucr.prepare_ucr("Both", raw, missing="interpolate", unequal_length="truncate")
    np.testing.assert_array_equal(out["X_train"][1], np.arange(4))


@pytest.mark.parametrize("missing", ["error", "interpolate"])
def test_all_nan_series_refused(missing):
    raw = synthetic()
    raw["X_test"][2] = np.nan
    with pytest.raises(ValueError, match=r"'Fake' \(test\): 1 series are entirely NaN"):
        ucr.prepare_ucr("Fake", raw, missing=missing)


def test_infinite_values_refused():
    raw = synthetic()
    raw["X_train"][1, 0, 3] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        ucr.prepare_ucr("Fake", raw, missing="interpolate")


@pytest.mark.parametrize("X", [np.zeros((3, 2, 8)), [np.zeros((2, 8))] * 3], ids=["3d", "list"])
def test_multivariate_refused(X):
    raw = synthetic(n_train=3)
    raw["X_train"] = X
    with pytest.raises(ValueError, match="'Multi' .*2 channels.*only univariate"):
        ucr.prepare_ucr("Multi", raw)


def test_test_label_missing_from_train(monkeypatch, tmp_path):
    raw = synthetic()
    raw["y_test"] = np.array(["1", "2", "3", "2"])
    fake_loader(monkeypatch, raw)
    with pytest.raises(ValueError, match=r"'Fake': test labels \['3'\] do not occur in the training"):
        ucr.materialize_ucr("Fake", tmp_path)
    assert not list(tmp_path.iterdir())


def test_label_count_mismatch():
    raw = synthetic()
    raw["y_train"] = raw["y_train"][:-1]
    with pytest.raises(ValueError, match=r"'Fake' \(train\): 5 labels for 6 series"):
        ucr.prepare_ucr("Fake", raw)


@pytest.mark.parametrize(
    "labels,expected",
    [
        (["10", "2", "1"], ["1", "2", "10"]),
        (["1", "-1"], ["-1", "1"]),
        (["2.5", "10", "0.5"], ["0.5", "2.5", "10"]),
        (["b", "a", "2"], ["2", "a", "b"]),
        ([3, 1, 2], ["1", "2", "3"]),
    ],
)
def test_natural_class_order(labels, expected):
    assert ucr.sort_labels(labels) == expected


def test_znormalize():
    raw = synthetic()
    raw["X_train"] = raw["X_train"] * 5 + 3
    raw["X_train"][0] = 7.0  # constant series: centred only
    out = ucr.prepare_ucr("Fake", raw, znormalize=True)
    X = out["X_train"]
    np.testing.assert_allclose(X.mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(X[1:].std(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(X[0], 0)


# ---------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fail_on", ["train", "test"])
@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "over_old_pair"])
def test_failed_write_leaves_no_split(monkeypatch, tmp_path, fail_on, existing):
    fake_loader(monkeypatch, synthetic())
    if existing:
        ucr.materialize_ucr("Fake", tmp_path)
    real = np.savez_compressed

    def savez(file, **arrays):
        if Path(file).name.startswith(f".{fail_on}."):
            Path(file).write_bytes(b"PK\x03\x04 half an archive")
            raise OSError("disk full")
        real(file, **arrays)

    monkeypatch.setattr(np, "savez_compressed", savez)
    with pytest.raises(OSError, match="disk full"):
        ucr.materialize_ucr("Fake", tmp_path)
    assert list(tmp_path.iterdir()) == []
