"""Helpers of the rehearsal tests: loopback-only sockets (the suite's conftest refuses all)
and the miniatures, built once per session."""

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from cnnpractice.semantic.wordnet import DEBIAN_DIR

HAS_WORDNET = (Path(DEBIAN_DIR) / "data.noun").is_file()

# the real functions, captured before conftest's autouse fixture replaces them
_CONNECT, _CREATE, _GETADDRINFO = socket.socket.connect, socket.create_connection, socket.getaddrinfo


def _is_loopback(host) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except (TypeError, ValueError):
        return False


@pytest.fixture
def loopback(monkeypatch):
    """Allow connections to 127.0.0.1 / ::1 only; any other attempt fails the test."""
    refused = []

    def connect(self, address, *args):
        if isinstance(address, tuple) and _is_loopback(address[0]):
            return _CONNECT(self, address, *args)
        refused.append(address)
        raise OSError(f"only loopback connections are allowed in the tests, not {address!r}")

    def create_connection(address, *args, **kwargs):
        if _is_loopback(address[0]):
            return _CREATE(address, *args, **kwargs)
        refused.append(address)
        raise OSError(f"only loopback connections are allowed in the tests, not {address!r}")

    def getaddrinfo(host, *args, **kwargs):
        if _is_loopback(host):
            return _GETADDRINFO(host, *args, **kwargs)
        refused.append(host)
        raise OSError(f"only loopback names resolve in the tests, not {host!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    assert not refused, f"a test tried to leave loopback: {refused}"


# --------------------------------------------------------------------------- miniatures, built once

_BUILT: dict = {}


def _build_once(tmp_path_factory, key: str, **kwargs):
    """One build per session, shared by every test module (a fixture imported into two
    modules would otherwise be set up twice)."""
    from cnnpractice.rehearsal.miniatures import build_miniatures

    if key not in _BUILT:
        out = tmp_path_factory.mktemp(key)
        _BUILT[key] = (out, build_miniatures(out, seed=0, **kwargs))
    return _BUILT[key]


def miniatures(tmp_path_factory):
    """Every miniature but the (large) torchvision weights: (folder, manifest).
    Modules wrap this in a session fixture of their own."""
    skip = ["torchvision_weights"] + ([] if HAS_WORDNET else ["imagenet", "wordnet"])
    return _build_once(tmp_path_factory, "miniatures", skip=skip)


def weights(tmp_path_factory):
    """The torchvision weights (about 900 MB): (folder, manifest)."""
    return _build_once(tmp_path_factory, "miniature_weights", only=["torchvision_weights"])


def served(mini, url: str) -> Path:
    """Where the miniature of ``url`` lies."""
    from cnnpractice.rehearsal.layout import mirror_relpath

    return mini[0] / "mirror" / mirror_relpath(url)


def existence_only(fpath, md5=None):
    """Stands in for torchvision's check_integrity: the file exists (md5 NOT checked)."""
    return os.path.isfile(fpath)
