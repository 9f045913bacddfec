"""Atomic file writes and validated array files shared by every study.

Every writer in the package goes through :func:`atomic_path`: data is written
to a temporary file beside the target and renamed into place only once it is
complete, so a killed job never leaves a truncated output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps ``path``'s suffix (or ``suffix``) so libraries that
    infer a format from the extension (``np.save``, matplotlib) behave. On any
    exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0o600 would outlive the rename
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` to ``path`` atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def load_npz(path: str | os.PathLike, required: dict[str, str]) -> dict[str, np.ndarray]:
    """Load an ``.npz`` file and check that it holds the ``required`` arrays.

    Parameters
    ----------
    path : path of the ``.npz`` file.
    required : mapping of array name -> numpy dtype kind(s) accepted
        (e.g. ``{"X": "f", "y": "iu", "classes": "UO"}``).

    Raises
    ------
    FileNotFoundError, ValueError
        With a message that names the file and what was expected.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc}); delete it and rerun") from exc
    for key, kinds in required.items():
        if key not in arrays:
            raise ValueError(f"{path}: missing array {key!r} (has {sorted(arrays)}); expected {sorted(required)}")
        if arrays[key].dtype.kind not in kinds:
            raise ValueError(f"{path}: array {key!r} has dtype {arrays[key].dtype}, expected kind in {kinds!r}")
    return arrays
