"""Atomic file writes and validated array files shared by every study.

Every writer in the package goes through :func:`atomic_path`: data is written
to a temporary file beside the target and renamed into place only once it is
complete, so a killed job never leaves a truncated output behind.

Temporary names carry their owner (``<pid>@<host>``, :func:`owner_tag`). A job
stopped by SIGTERM or Ctrl-C removes its own (see
:func:`cnnpractice.workflow.log_to`); one killed outright (SIGKILL, a power cut)
cannot, so the next write of the same target sweeps the leftovers whose owner
is gone (:func:`sweep_stale`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_TAG = r"(?P<pid>[0-9]+)@(?P<host>[A-Za-z0-9-]+)"
# temporary names from another host are judged by age only (their pid means nothing here)
FOREIGN_STALE_SECONDS = 24 * 3600


def owner_tag() -> str:
    """``<pid>@<host>`` of this process, part of every temporary name the package makes."""
    return f"{os.getpid()}@{_HOST}"


def _owner_gone(pid: int, host: str, path: Path) -> bool:
    if host != _HOST:
        try:
            return time.time() - path.lstat().st_mtime > FOREIGN_STALE_SECONDS
        except FileNotFoundError:
            return False
    if pid == os.getpid():
        return True  # this process makes one temporary name per target at a time
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def sweep_stale(parent: str | os.PathLike, prefix: str, suffix: str = "") -> list[Path]:
    """Delete the entries of ``parent`` named ``prefix<pid>@<host>[.-]<8 chars>suffix`` (what
    :func:`atomic_path` and :func:`private_dir` make) whose owner process is gone.

    Returns the paths removed. Only exact matches are touched, so a target's sweep never
    reaches another target's temporary files.
    """
    parent = Path(parent)
    pattern = re.compile(re.escape(prefix) + _TAG + r"[.-][A-Za-z0-9_]{8}" + re.escape(suffix))
    removed = []
    try:
        entries = list(parent.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or not _owner_gone(int(match["pid"]), match["host"], entry):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def private_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new empty folder ``parent/<prefix><pid>@<host>-<8 chars>`` (permissions as the
    umask says, not mkdtemp's 0o700, which would outlive a rename), after sweeping the
    stale ones of the same ``prefix``."""
    parent = Path(parent)
    sweep_stale(parent, prefix)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{owner_tag()}-", dir=parent))
    folder.chmod(0o777 & ~_UMASK)
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps ``path``'s suffix (or ``suffix``) so libraries that
    infer a format from the extension (``np.save``, matplotlib) behave. On any
    exception (SIGTERM included, see :func:`cnnpractice.workflow.log_to`) the
    temporary file is removed and ``path`` is left untouched; leftovers of a
    writer killed outright are swept first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    sweep_stale(path.parent, f".{path.stem}.", f".tmp{suffix}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{owner_tag()}.", suffix=f".tmp{suffix}", dir=path.parent)
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
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as exc:
        # zlib.error: a compressed member damaged inside an intact zip directory
        raise ValueError(
            f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc}); delete it and rerun"
        ) from exc
    for key, kinds in required.items():
        if key not in arrays:
            raise ValueError(f"{path}: missing array {key!r} (has {sorted(arrays)}); expected {sorted(required)}")
        if arrays[key].dtype.kind not in kinds:
            raise ValueError(f"{path}: array {key!r} has dtype {arrays[key].dtype}, expected kind in {kinds!r}")
    return arrays


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
