"""Raw UCR univariate classification datasets, as ``aeon`` returns them.

:func:`load_ucr` gets both splits of one dataset of the UCR archive in one of
two ways: a few datasets are bundled inside the installed ``aeon`` package
(:data:`SHIPPED`, located by :func:`shipped_files`, no network needed); every
other dataset is fetched from its record of the Zenodo "tsml" community (the
record ids are aeon's, ``aeon.datasets.tsc_datasets.tsc_zenodo``): the record's
metadata (:data:`ZENODO_RECORD_URL`), then every file it lists
(:data:`ZENODO_FILE_URL`), each checked against the md5 the record publishes,
through :class:`cnnpractice.data.downloads.Downloads` (so ``downloads.mirror``
applies; aeon's own downloader hard-codes zenodo.org and checks nothing). aeon
then reads the local copy. A download goes through a private staging
directory: a failed one leaves nothing behind in the cache directory.

Validation, conversion and writing of the splits live in
:mod:`cnnpractice.data.ucr`.

``aeon`` is imported inside the functions only: importing this module is cheap.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnpractice.io import private_dir

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

#: The metadata of the Zenodo record listed for a dataset in
#: ``aeon.datasets.tsc_datasets.tsc_zenodo`` (where aeon 1.6 looks too) ...
ZENODO_RECORD_URL = "https://zenodo.org/api/records/{record}"
#: ... and the public download URL of each file the record lists (``files[].key``).
ZENODO_FILE_URL = "https://zenodo.org/records/{record}/files/{key}?download=1"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
_STAGING_PREFIX = ".download-"


# _check_name and _check_option are also used by cnnpractice.data.ucr.


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"invalid UCR dataset name {name!r}: expected letters, digits, '_' or '-' (e.g. 'GunPoint')")


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


def _fetch_zenodo(record: int, folder: Path, downloads) -> list[dict]:
    """Every file of Zenodo record ``record`` into ``folder``, md5-checked as the record says."""
    import json

    url = ZENODO_RECORD_URL.format(record=record)
    meta_file = folder / ".record.json"
    downloads.fetch(url, meta_file, record=False)  # metadata: no checksum, nothing recorded (it changes)
    try:
        files = json.loads(meta_file.read_text())["files"]
        entries = [(f["key"], f.get("checksum", "")) for f in files]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{url}: not a Zenodo record with files ({type(exc).__name__}: {exc})") from exc
    finally:
        meta_file.unlink(missing_ok=True)
    received = []
    for key, checksum in entries:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"{url}: file name {key!r} is not a plain file name")
        kind, _, value = str(checksum).partition(":")
        published = {kind: value} if kind in ("md5", "sha256") and value else {}
        received.append(downloads.fetch(ZENODO_FILE_URL.format(record=record, key=key), folder / key, **published))
    return received


def _load_download(name: str, extract_path: str | os.PathLike | None, downloads=None) -> dict[str, Any]:
    from cnnpractice.data.downloads import Downloads

    downloads = downloads if downloads is not None else Downloads(dataset="ucr")
    root = (Path(extract_path).expanduser() if extract_path is not None else _default_extract_path()).absolute()

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

    # Download into a private staging directory and move the dataset into place only
    # once it loaded cleanly (a half-written file would count as "downloaded" next time).
    created = [p for p in (root, *root.parents) if not p.exists()]
    root.mkdir(parents=True, exist_ok=True)
    staging = private_dir(root, f".{name}{_STAGING_PREFIX}")  # sweeps killed runs' leftovers
    ok = False
    try:
        files = _fetch_zenodo(tsc_zenodo[name], staging / name, downloads)
        if not _has_dataset(staging, name):  # else aeon would try its own download
            raise ValueError(
                f"the record lists {sorted(f['url'].split('/files/')[-1].split('?')[0] for f in files)}, "
                f"not {name}_TRAIN.ts and {name}_TEST.ts"
            )
        raw = _load_with_aeon(name, staging)
        final = root / name
        if not _has_dataset(root, name):  # else: another process finished first
            if final.is_symlink() or final.is_file():
                final.unlink()
            elif final.exists():  # incomplete leftover of an earlier attempt
                shutil.rmtree(final)
            os.replace(staging / name, final)
        ok = True
    except OSError as exc:
        if getattr(exc, "errno", None) is not None:
            raise  # full disk, permissions: say so, as it is
        raise RuntimeError(f"could not download UCR dataset {name!r} from {url} into {root}: {exc}") from exc
    except Exception as exc:
        raise RuntimeError(
            f"could not download UCR dataset {name!r} from {downloads.source(url)} into {root}: "
            f"{type(exc).__name__}: {exc}. Check the network connection (or downloads.mirror), or fetch the "
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
    raw["files"] = files
    return raw


def load_ucr(
    name: str,
    source: str = "auto",
    extract_path: str | os.PathLike | None = None,
    downloads=None,
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
        (see :data:`ZENODO_RECORD_URL`, :data:`ZENODO_FILE_URL`). ``"auto"`` is ``"shipped"`` when the
        dataset is bundled, else ``"download"``.
    extract_path : str or path-like, optional
        Cache directory of downloaded datasets (the workflow uses
        ``resources/ucr_archive/``). Default: ``$AEON_DATA`` or ``~/aeon_data``,
        as in aeon. Unused for shipped datasets.
    downloads : cnnpractice.data.downloads.Downloads, optional
        Mirror and checksum settings of the download (default: the original URLs).

    Returns
    -------
    dict
        ``X_train``, ``X_test``: 3D arrays ``(n, channels, length)``, or lists of
        2D ``(channels, length_i)`` arrays for unequal lengths; ``y_train``,
        ``y_test``: 1D arrays of labels (strings); ``source``: one of
        ``"shipped"``, ``"cache"``, ``"download"``; after a download, ``files`` (what
        was received: url, size, md5, sha256, verified).

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
    return _load_download(name, extract_path, downloads)


__all__ = [
    "SHIPPED",
    "SOURCES",
    "ZENODO_FILE_URL",
    "ZENODO_RECORD_URL",
    "load_ucr",
    "shipped_files",
]
