"""Run subprocesses (Snakemake and every job it starts) without network.

Two layers, the second where the machine allows it:

* :func:`environment` -- an environment whose ``PYTHONPATH`` starts with :data:`GUARD_DIR`,
  a folder holding only a ``sitecustomize.py`` that Python imports at every start-up: in
  each Python process (Snakemake, its jobs, their workers; ``rules/common.smk`` prepends
  ``src/`` to ``PYTHONPATH`` and keeps the rest) a connection to anything but loopback, or a
  lookup of any name but localhost, raises ``OSError`` with :data:`MESSAGE` and is logged to
  ``$CNNPRACTICE_NETGUARD_LOG`` when that is set (read it back with :func:`refused`).
* :func:`command` -- the same command inside a new network namespace (``unshare -n``, with
  loopback brought up), where that works (Linux, root or user namespaces): non-Python tools
  (curl, wget, git) are cut off too. Elsewhere the command is returned unchanged.

Loopback stays open: the paper rehearsal serves its mirror from a local HTTP server, and
DistributedDataParallel on one machine talks over 127.0.0.1.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

GUARD_DIR = Path(__file__).resolve().parent / "site"
SRC_DIR = Path(__file__).resolve().parents[2]
LOG_VARIABLE = "CNNPRACTICE_NETGUARD_LOG"
MESSAGE = "cnnpractice.netguard: network access is refused (loopback only)"
# unshare's namespace starts with loopback down; bring it up, then run the command
_UNSHARE = ["unshare", "--net", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "netguard"]


def environment(base: Mapping[str, str] | None = None, log: str | os.PathLike | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) with the guard first on ``PYTHONPATH`` and this
    package's ``src/`` after it; ``log`` (or ``base``'s own ``CNNPRACTICE_NETGUARD_LOG``)
    receives one line per refused attempt. Idempotent: entries already there move, not repeat."""
    env = dict(os.environ if base is None else base)
    given = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    first = [str(GUARD_DIR), str(SRC_DIR)]
    env["PYTHONPATH"] = os.pathsep.join(first + [p for p in given if p not in first])
    if log is not None:
        env[LOG_VARIABLE] = str(log)
    return env


@functools.cache
def unshare_works() -> bool:
    """Whether ``unshare --net`` can start a process here (it needs root or user namespaces)."""
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run([*_UNSHARE, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def command(cmd: Sequence[str], unshare: bool | None = None) -> list[str]:
    """``cmd`` run in a new network namespace when ``unshare`` (default: when
    :func:`unshare_works` and ``$CNNPRACTICE_NETGUARD_UNSHARE`` is not ``0``)."""
    if unshare is None:
        unshare = os.environ.get("CNNPRACTICE_NETGUARD_UNSHARE", "1") != "0" and unshare_works()
    return [*_UNSHARE, *cmd] if unshare else list(cmd)


def refused(log: str | os.PathLike) -> list[str]:
    """The attempts the guard refused and logged to ``log`` (none when it does not exist)."""
    path = Path(log)
    return path.read_text().splitlines() if path.is_file() else []
