"""UCR univariate time-series classification datasets as validated ``.npz`` splits.

:func:`materialize_ucr` loads one dataset of the UCR archive, checks it, and
writes ``<out_dir>/train.npz`` and ``<out_dir>/test.npz``, each holding

* ``X``: float32, shape ``(n_series, length)``;
* ``y``: int64, shape ``(n_series,)``, class indices ``0..K-1``;
* ``classes``: unicode strings, shape ``(K,)``: the original class labels,
  sorted naturally (numeric labels numerically: ``"1" < "2" < "10"``), so that
  ``classes[y]`` gives back the original labels. Train and test share the same
  ``classes`` (computed from the union of their labels).

:func:`load_split` reads one of those files back, validating it.

Data comes from ``aeon`` in one of two ways (see :func:`load_ucr`): a few
datasets are bundled inside the installed ``aeon`` package (:data:`SHIPPED`, no
network needed); every other dataset is downloaded by
:func:`aeon.datasets.load_classification` from the Zenodo "tsml" community
(``https://zenodo.org/api/records/<record>``) into an explicit cache directory.
A failed download leaves nothing behind in that directory.

``aeon`` is imported inside the functions only: importing this module is cheap.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cnnpractice.io import load_npz, save_npz

#: UCR univariate classification datasets bundled as ``.ts`` files inside the
#: installed aeon (1.6.0), mapped to the stem of their files relative to the
#: aeon package directory: the data lie in ``<stem>_TRAIN.ts`` and
#: ``<stem>_TEST.ts`` and are read offline with
#: :func:`aeon.datasets.load_from_ts_file`.
#:
#: ======================  =======  ======  ============  =======
#: name                    n_train  n_test  length        classes
#: ======================  =======  ======  ============  =======
#: ACSF1                   100      100     1460          10
#: ArrowHead               36       175     251           3
#: GunPoint                50       150     150           2
#: ItalyPowerDemand        67       1029    24            2
#: OSULeaf                 200      242     427           6
#: PickupGestureWiimoteZ   50       50      29..361 (*)   10
#: ======================  =======  ======  ============  =======
#:
#: (*) unequal lengths: needs ``unequal_length="resample"`` or ``"truncate"``.
#: Also bundled by aeon but left out here: BasicMotions and JapaneseVowels
#: (multivariate UEA problems), UnitTest (a 20/22-series subset of Chinatown),
#: Covid3Month(_disc) and CardanoSentiment (regression / not in the UCR archive).
SHIPPED: dict[str, str] = {
    name: f"datasets/data/{name}/{name}"
    for name in (
        "ACSF1",
        "ArrowHead",
        "GunPoint",
        "ItalyPowerDemand",
        "OSULeaf",
        "PickupGestureWiimoteZ",
    )
}

SOURCES = ("auto", "shipped", "download")
UNEQUAL_LENGTH_OPTIONS = ("error", "resample", "truncate")
MISSING_OPTIONS = ("error", "interpolate")

#: Where aeon 1.6's ``load_classification`` fetches a dataset: the metadata of
#: the Zenodo record listed for it in ``aeon.datasets.tsc_datasets.tsc_zenodo``,
#: then every file attached to that record.
ZENODO_RECORD_URL = "https://zenodo.org/api/records/{record}"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
_STAGING_PREFIX = ".download-"


# ---------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"invalid UCR dataset name {name!r}: expected letters, digits, '_' or '-' "
            "(e.g. 'GunPoint')"
        )


def _check_option(value: Any, options: Sequence[str], key: str) -> None:
    if value not in options:
        raise ValueError(f"{key} must be one of {list(options)}, got {value!r}")


def _aeon_dir() -> Path | None:
    """Directory of the installed aeon package, found without importing it."""
    spec = importlib.util.find_spec("aeon")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def shipped_files(name: str) -> tuple[Path, Path] | None:
    """Paths of the bundled train/test ``.ts`` files of ``name``.

    Parameters
    ----------
    name : str
        UCR dataset name, e.g. ``"GunPoint"``.

    Returns
    -------
    tuple of pathlib.Path or None
        ``(train_file, test_file)``, or None when ``name`` is not in
        :data:`SHIPPED` or the installed aeon does not hold both files.
    """
    stem = SHIPPED.get(name)
    root = _aeon_dir()
    if stem is None or root is None:
        return None
    train, test = root / f"{stem}_TRAIN.ts", root / f"{stem}_TEST.ts"
    if train.is_file() and test.is_file():
        return train, test
    return None


def _has_dataset(root: Path, name: str) -> bool:
    """Whether ``root/<name>/`` holds both ``.ts`` splits (aeon's own criterion)."""
    folder = root / name
    return (folder / f"{name}_TRAIN.ts").is_file() and (folder / f"{name}_TEST.ts").is_file()


def _default_extract_path() -> Path:
    # Same resolution as aeon's ``_get_data_home``: $AEON_DATA, else ~/aeon_data.
    return Path(os.path.expanduser(os.environ.get("AEON_DATA", os.path.join("~", "aeon_data"))))


def _load_shipped(name: str) -> dict[str, Any]:
    files = shipped_files(name)
    if files is None:
        raise ValueError(
            f"UCR dataset {name!r} is not shipped with the installed aeon; shipped: "
            f"{sorted(SHIPPED)}. Use source='download' (or 'auto')."
        )
    from aeon.datasets import load_from_ts_file

    X_train, y_train = load_from_ts_file(str(files[0]))
    X_test, y_test = load_from_ts_file(str(files[1]))
    raw = {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}
    _check_not_empty(raw, files[0].parent)
    raw["source"] = "shipped"
    return raw


def _load_with_aeon(name: str, root: Path) -> dict[str, Any]:
    """Both splits via ``aeon.datasets.load_classification`` from/into ``root``."""
    from aeon.datasets import load_classification

    X_train, y_train = load_classification(name, split="train", extract_path=str(root))
    # The first call fetched everything the record holds; this one reads locally.
    X_test, y_test = load_classification(name, split="test", extract_path=str(root))
    raw = {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}
    _check_not_empty(raw, root / name)
    return raw


def _check_not_empty(raw: dict[str, Any], folder: Path) -> None:
    # aeon parses any text without a "@data" section (an HTML error page, say)
    # as an empty dataset instead of failing: treat that as unreadable.
    for split in ("train", "test"):
        X, y = raw[f"X_{split}"], raw[f"y_{split}"]
        if len(X) == 0 or len(X) != len(y):
            raise ValueError(
                f"{folder}: the {split.upper()} .ts file holds {len(X)} series and "
                f"{len(y)} labels; it is not a valid .ts dataset file"
            )


def _load_download(name: str, extract_path: str | os.PathLike | None) -> dict[str, Any]:
    root = (Path(extract_path).expanduser() if extract_path is not None
            else _default_extract_path()).absolute()

    if _has_dataset(root, name):
        try:
            raw = _load_with_aeon(name, root)
        except Exception as exc:
            raise ValueError(
                f"UCR dataset {name!r}: the cached copy in {root / name} could not be read "
                f"({type(exc).__name__}: {exc}); delete that directory to download it again"
            ) from exc
        raw["source"] = "cache"
        return raw

    from aeon.datasets.tsc_datasets import tsc_zenodo

    if name not in tsc_zenodo:
        import difflib

        close = difflib.get_close_matches(name, list(tsc_zenodo), n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise ValueError(
            f"unknown UCR dataset {name!r}: aeon.datasets.tsc_datasets.tsc_zenodo does not "
            f"list it, so there is nothing to download{hint}"
        )
    url = ZENODO_RECORD_URL.format(record=tsc_zenodo[name])

    # aeon writes the record's files straight into <extract_path>/<name>/ and leaves
    # whatever it got on failure (and a half-written file counts as "downloaded" on
    # the next run if both split files exist). So download into a private staging
    # directory and move the dataset into place only once it loaded cleanly.
    created = [p for p in (root, *root.parents) if not p.exists()]
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}{_STAGING_PREFIX}", dir=root))
    ok = False
    try:
        raw = _load_with_aeon(name, staging)
        final = root / name
        if not _has_dataset(root, name):  # else: another process finished first
            if final.is_symlink() or final.is_file():
                final.unlink()
            elif final.exists():  # incomplete leftover of an earlier attempt
                shutil.rmtree(final)
            os.replace(staging / name, final)
        ok = True
    except Exception as exc:
        raise RuntimeError(
            f"could not download UCR dataset {name!r} from {url} into {root}: "
            f"{type(exc).__name__}: {exc}. Check the network connection, or fetch the "
            f"files by hand and place {name}_TRAIN.ts and {name}_TEST.ts in {root / name}/"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not ok:
            for path in created:  # innermost first; stop at the first non-empty one
                try:
                    path.rmdir()
                except OSError:
                    break
    raw["source"] = "download"
    return raw


def load_ucr(
    name: str,
    source: str = "auto",
    extract_path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Load both splits of a UCR classification dataset, as aeon returns them.

    Parameters
    ----------
    name : str
        Dataset name as in the UCR archive, e.g. ``"GunPoint"``.
    source : {"auto", "shipped", "download"}, default "auto"
        ``"shipped"`` reads the copy bundled inside the installed aeon (see
        :data:`SHIPPED`), without network. ``"download"`` uses
        :func:`aeon.datasets.load_classification`: the dataset is read from
        ``<extract_path>/<name>/`` when both ``<name>_TRAIN.ts`` and
        ``<name>_TEST.ts`` are there, and otherwise downloaded there from Zenodo
        (see :data:`ZENODO_RECORD_URL`). ``"auto"`` is ``"shipped"`` when the
        dataset is bundled, else ``"download"``.
    extract_path : str or path-like, optional
        Cache directory of downloaded datasets (the workflow uses
        ``resources/ucr_archive/``). Default: ``$AEON_DATA`` or ``~/aeon_data``,
        as in aeon. Unused for shipped datasets.

    Returns
    -------
    dict
        ``X_train``, ``X_test``: 3D arrays ``(n, channels, length)``, or lists of
        2D ``(channels, length_i)`` arrays for unequal lengths; ``y_train``,
        ``y_test``: 1D arrays of labels (strings); ``source``: one of
        ``"shipped"``, ``"cache"``, ``"download"``.

    Raises
    ------
    ValueError
        For a bad ``name`` or ``source``, a dataset that is not shipped (with
        ``source="shipped"``), a name aeon cannot download, or an unreadable
        cached copy.
    RuntimeError
        When the download fails; the message names the dataset and the URL
        tried. Nothing the failed attempt created is left in ``extract_path``.
    """
    _check_name(name)
    _check_option(source, SOURCES, "source")
    if source == "shipped" or (source == "auto" and shipped_files(name) is not None):
        return _load_shipped(name)
    return _load_download(name, extract_path)


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
                f"UCR dataset {name!r} ({split}): {len(bad)} series hold infinite values "
                f"(first: {bad[:5]})"
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
) -> dict[str, int]:
    """Load, validate and convert a UCR dataset; write ``train.npz`` and ``test.npz``.

    Parameters
    ----------
    name : str
        Dataset name as in the UCR archive, e.g. ``"GunPoint"``.
    out_dir : str or path-like
        Directory that receives ``train.npz`` and ``test.npz`` (created if needed).
    source, extract_path
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
    raw = load_ucr(name, source=source, extract_path=extract_path)
    data = prepare_ucr(name, raw, unequal_length=unequal_length, missing=missing,
                       znormalize=znormalize)
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
