"""UCR univariate time-series classification datasets as validated ``.npz`` splits.

:func:`materialize_ucr` loads one dataset of the UCR archive (with
:func:`cnnpractice.data.ucr_source.load_ucr`), checks and converts it
(:func:`prepare_ucr`), and writes ``<out_dir>/train.npz`` and
``<out_dir>/test.npz``, each holding

* ``X``: float32, shape ``(n_series, length)``;
* ``y``: int64, shape ``(n_series,)``, class indices ``0..K-1``;
* ``classes``: unicode strings, shape ``(K,)``: the original class labels,
  sorted naturally (numeric labels numerically: ``"1" < "2" < "10"``, see
  :func:`sort_labels`), so that ``classes[y]`` gives back the original labels.
  Train and test share the same ``classes`` (computed from the union of their
  labels).

:func:`load_split` reads one of those files back, validating it.

Getting the raw data (datasets shipped with ``aeon``, downloads from Zenodo)
is the job of :mod:`cnnpractice.data.ucr_source`, whose public names are
re-exported here. Nothing heavy (``aeon`` included) is imported at import time.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.data.ucr_source import (
    SHIPPED,
    SOURCES,
    ZENODO_RECORD_URL,
    _check_name,
    _check_option,
    load_ucr,
    shipped_files,
)
from cnnpractice.io import load_npz, save_npz

UNEQUAL_LENGTH_OPTIONS = ("error", "resample", "truncate")
MISSING_OPTIONS = ("error", "interpolate")


# ---------------------------------------------------------------------------
# conversion and checks
# ---------------------------------------------------------------------------


def _label_key(label: str) -> tuple:
    """Natural order: numeric labels first, by value; then the others as strings."""
    try:
        value = float(label)
    except ValueError:
        return (1, 0.0, label)
    if math.isnan(value):
        return (1, 0.0, label)
    return (0, value, label)


def sort_labels(labels) -> list[str]:
    """Distinct labels as strings, in natural order (``"2" < "10"``, ``"-1" < "1"``).

    Parameters
    ----------
    labels : iterable
        Class labels (any type; compared by their ``str``).

    Returns
    -------
    list of str
    """
    return sorted({str(v).strip() for v in labels}, key=_label_key)


def _as_series(X: Any, name: str, split: str) -> list[np.ndarray]:
    """Univariate series of one split as a list of 1D float64 arrays."""
    where = f"UCR dataset {name!r} ({split})"
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim == 3:
            if X.shape[1] != 1:
                raise ValueError(
                    f"{where}: {X.shape[1]} channels (X shape {X.shape}); only univariate "
                    "datasets (1 channel) are supported"
                )
            X = X[:, 0, :]
        elif X.ndim != 2:
            raise ValueError(f"{where}: X has shape {X.shape}, expected (n, 1, length) or (n, length)")
        items = list(X)
    else:
        items = list(X)
    if not items:
        raise ValueError(f"{where}: no series")
    out = []
    for i, item in enumerate(items):
        try:
            arr = np.asarray(item, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: series {i} is not numeric ({exc})") from exc
        if arr.ndim == 2:
            if arr.shape[0] != 1:
                raise ValueError(
                    f"{where}: series {i} has {arr.shape[0]} channels (shape {arr.shape}); "
                    "only univariate datasets (1 channel) are supported"
                )
            arr = arr[0]
        elif arr.ndim != 1:
            raise ValueError(f"{where}: series {i} has shape {arr.shape}, expected (1, length)")
        if arr.size == 0:
            raise ValueError(f"{where}: series {i} is empty")
        out.append(arr)
    return out


def _as_labels(y: Any, n: int, name: str, split: str) -> list[str]:
    labels = [str(v).strip() for v in np.asarray(y, dtype=object).ravel()]
    if len(labels) != n:
        raise ValueError(f"UCR dataset {name!r} ({split}): {len(labels)} labels for {n} series")
    return labels


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaNs; leading/trailing NaNs take the nearest value."""
    missing = np.isnan(x)
    if not missing.any():
        return x
    t = np.arange(x.size)
    x = x.copy()
    x[missing] = np.interp(t[missing], t[~missing], x[~missing])
    return x


def _resample(x: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of ``x`` onto ``length`` evenly spaced points (ends kept)."""
    if x.size == length:
        return x
    return np.interp(np.linspace(0.0, x.size - 1, length), np.arange(x.size), x)


def _znormalize(X: np.ndarray) -> np.ndarray:
    mean = X.mean(axis=1, keepdims=True)
    std = X.std(axis=1, keepdims=True)
    std[std < 1e-8] = 1.0  # constant series: centred only
    return (X - mean) / std


def prepare_ucr(
    name: str,
    raw: dict[str, Any],
    unequal_length: str = "error",
    missing: str = "error",
    znormalize: bool = False,
) -> dict[str, np.ndarray]:
    """Validate and convert raw splits (as from :func:`load_ucr`) to arrays.

    Parameters
    ----------
    name : str
        Dataset name, used in error messages.
    raw : dict
        ``X_train``, ``y_train``, ``X_test``, ``y_test``. X may be a 3D array
        ``(n, 1, length)``, a 2D array ``(n, length)``, or a list of 1D or
        ``(1, length_i)`` arrays.
    unequal_length : {"error", "resample", "truncate"}, default "error"
        Config key ``timeseries.unequal_length``. For series of different
        lengths (over train and test together): raise; linearly interpolate every
        series to the longest length; or cut every series to the shortest.
    missing : {"error", "interpolate"}, default "error"
        Config key ``timeseries.missing``. For series with NaN: raise; or
        interpolate linearly over time within each series (leading and trailing
        NaNs take the nearest valid value). Applied before ``unequal_length``.
    znormalize : bool, default False
        Scale every series to zero mean and unit variance (constant series are
        only centred), after the steps above.

    Returns
    -------
    dict
        ``X_train``, ``X_test`` float32 ``(n, length)``; ``y_train``, ``y_test``
        int64; ``classes`` unicode ``(K,)`` shared by both splits.

    Raises
    ------
    ValueError
        Naming the dataset, for: multivariate data; a bad option value; unequal
        lengths or NaNs under ``"error"`` (naming the config key); an all-NaN,
        empty or infinite-valued series; label/series count mismatch; a test
        label absent from train; fewer than two classes.
    """
    _check_option(unequal_length, UNEQUAL_LENGTH_OPTIONS, "timeseries.unequal_length")
    _check_option(missing, MISSING_OPTIONS, "timeseries.missing")

    series = {s: _as_series(raw[f"X_{s}"], name, s) for s in ("train", "test")}
    labels = {s: _as_labels(raw[f"y_{s}"], len(series[s]), name, s) for s in ("train", "test")}

    # labels: one mapping for both splits
    unseen = sorted(set(labels["test"]) - set(labels["train"]), key=_label_key)
    if unseen:
        raise ValueError(
            f"UCR dataset {name!r}: test labels {unseen} do not occur in the training split "
            f"(train classes: {sort_labels(labels['train'])})"
        )
    classes = sort_labels(labels["train"] + labels["test"])
    if len(classes) < 2:
        raise ValueError(f"UCR dataset {name!r}: a single class {classes}; nothing to classify")
    index = {c: i for i, c in enumerate(classes)}

    # non-finite values
    for split, xs in series.items():
        bad = [i for i, x in enumerate(xs) if np.isinf(x).any()]
        if bad:
            raise ValueError(
                f"UCR dataset {name!r} ({split}): {len(bad)} series hold infinite values (first: {bad[:5]})"
            )
        dead = [i for i, x in enumerate(xs) if np.isnan(x).all()]
        if dead:
            raise ValueError(
                f"UCR dataset {name!r} ({split}): {len(dead)} series are entirely NaN "
                f"(first: {dead[:5]}); they cannot be interpolated"
            )
    with_nan = {s: sum(bool(np.isnan(x).any()) for x in xs) for s, xs in series.items()}
    if any(with_nan.values()):
        if missing == "error":
            raise ValueError(
                f"UCR dataset {name!r}: {with_nan['train']} of {len(series['train'])} train "
                f"and {with_nan['test']} of {len(series['test'])} test series contain missing "
                "values (NaN); set timeseries.missing: interpolate to fill them by linear "
                "interpolation"
            )
        series = {s: [_fill_nan(x) for x in xs] for s, xs in series.items()}

    # lengths
    lengths = [x.size for xs in series.values() for x in xs]
    lo, hi = min(lengths), max(lengths)
    if lo != hi:
        if unequal_length == "error":
            raise ValueError(
                f"UCR dataset {name!r}: series have unequal lengths (min {lo}, max {hi}); set "
                "timeseries.unequal_length: resample (interpolate to the max length) or "
                "truncate (cut to the min length)"
            )
        if unequal_length == "resample":
            series = {s: [_resample(x, hi) for x in xs] for s, xs in series.items()}
        else:
            series = {s: [x[:lo] for x in xs] for s, xs in series.items()}

    out: dict[str, np.ndarray] = {"classes": np.asarray(classes, dtype=str)}
    for split, xs in series.items():
        X = np.stack(xs)
        if znormalize:
            X = _znormalize(X)
        X32 = X.astype(np.float32)
        if not np.isfinite(X32).all():
            raise ValueError(f"UCR dataset {name!r} ({split}): values overflow float32")
        out[f"X_{split}"] = X32
        out[f"y_{split}"] = np.asarray([index[c] for c in labels[split]], dtype=np.int64)
    return out


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------


def _write_splits(out_dir: Path, data: dict[str, np.ndarray]) -> None:
    """Write train.npz and test.npz: both appear, or (on any failure) neither."""
    paths = {s: out_dir / f"{s}.npz" for s in ("train", "test")}
    try:
        for split, path in paths.items():
            save_npz(path, X=data[f"X_{split}"], y=data[f"y_{split}"], classes=data["classes"])
    except BaseException:
        for path in paths.values():
            path.unlink(missing_ok=True)
        raise


def materialize_ucr(
    name: str,
    out_dir: str | os.PathLike,
    source: str = "auto",
    extract_path: str | os.PathLike | None = None,
    unequal_length: str = "error",
    missing: str = "error",
    znormalize: bool = False,
    downloads=None,
) -> dict[str, int]:
    """Load, validate and convert a UCR dataset; write ``train.npz`` and ``test.npz``.

    Parameters
    ----------
    name : str
        Dataset name as in the UCR archive, e.g. ``"GunPoint"``.
    out_dir : str or path-like
        Directory that receives ``train.npz`` and ``test.npz`` (created if needed).
    source, extract_path, downloads
        See :func:`load_ucr`.
    unequal_length, missing, znormalize
        See :func:`prepare_ucr`.

    Returns
    -------
    dict
        ``n_train``, ``n_test``, ``length``, ``n_classes``.

    Raises
    ------
    ValueError, RuntimeError
        See :func:`load_ucr` and :func:`prepare_ucr`. Option values are checked
        before anything is loaded.

    Notes
    -----
    Each file is written atomically (:func:`cnnpractice.io.save_npz`); if
    writing the second one fails, the first is removed again, so the directory
    never holds a train/test pair of different runs.
    """
    _check_name(name)
    _check_option(source, SOURCES, "source")
    _check_option(unequal_length, UNEQUAL_LENGTH_OPTIONS, "timeseries.unequal_length")
    _check_option(missing, MISSING_OPTIONS, "timeseries.missing")
    raw = load_ucr(name, source=source, extract_path=extract_path, downloads=downloads)
    data = prepare_ucr(name, raw, unequal_length=unequal_length, missing=missing, znormalize=znormalize)
    _write_splits(Path(out_dir), data)
    return {
        "n_train": int(len(data["y_train"])),
        "n_test": int(len(data["y_test"])),
        "length": int(data["X_train"].shape[1]),
        "n_classes": int(len(data["classes"])),
    }


def load_split(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a ``train.npz``/``test.npz`` written by :func:`materialize_ucr`.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file.

    Returns
    -------
    X : numpy.ndarray
        float32, ``(n_series, length)``.
    y : numpy.ndarray
        int64, ``(n_series,)``, indices into ``classes``.
    classes : list of str
        Original class labels.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable ``.npz``, lacks ``X``/``y``/``classes``, or
        they have the wrong dtype or shape, disagree in length, ``y`` falls
        outside ``0..len(classes)-1``, or ``X`` holds NaN/inf. The message names
        the file and what was expected.
    """
    path = Path(path)
    arrays = load_npz(path, {"X": "f", "y": "iu", "classes": "U"})
    X, y, classes = arrays["X"], arrays["y"], arrays["classes"]
    if X.ndim != 2 or 0 in X.shape:
        raise ValueError(f"{path}: array 'X' has shape {X.shape}, expected a non-empty (n_series, length)")
    if y.shape != (X.shape[0],):
        raise ValueError(f"{path}: array 'y' has shape {y.shape}, expected ({X.shape[0]},) to match X")
    if classes.ndim != 1 or classes.size == 0:
        raise ValueError(
            f"{path}: array 'classes' has shape {classes.shape}, expected (n_classes,) with n_classes >= 1"
        )
    if len(set(classes.tolist())) != classes.size:
        raise ValueError(f"{path}: array 'classes' has duplicate labels {classes.tolist()}")
    if y.min() < 0 or y.max() >= classes.size:
        raise ValueError(
            f"{path}: array 'y' holds labels in [{y.min()}, {y.max()}], expected 0..{classes.size - 1} "
            f"(indices into {classes.size} classes)"
        )
    finite = np.isfinite(X)
    if not finite.all():
        rows = int((~finite).any(axis=1).sum())
        raise ValueError(f"{path}: array 'X' has NaN/inf values in {rows} series, expected finite values")
    return X.astype(np.float32, copy=False), y.astype(np.int64, copy=False), [str(c) for c in classes]


__all__ = [
    "MISSING_OPTIONS",
    "SHIPPED",
    "SOURCES",
    "UNEQUAL_LENGTH_OPTIONS",
    "ZENODO_RECORD_URL",
    "load_split",
    "load_ucr",
    "materialize_ucr",
    "prepare_ucr",
    "shipped_files",
    "sort_labels",
]
