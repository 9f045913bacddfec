"""Shared fixtures: no test may reach the network."""

import socket
from pathlib import Path

import pytest

from cnnpractice.semantic import wordnet
from cnnpractice.semantic.wordnet import load_wordnet, prepare_wordnet


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail (and record) any attempt to open a connection."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access is disabled in the tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield
    assert not attempts, f"a test tried to reach the network: {attempts}"


# WordNet 3.0 from the Debian packages, shared by the semantic tests.
DEBIAN = Path(wordnet.DEBIAN_DIR)
needs_debian_wordnet = pytest.mark.skipif(
    not (DEBIAN / "data.noun").is_file() or not (DEBIAN / "index.sense").is_file(),
    reason="Debian packages wordnet-base and wordnet-sense-index not installed (envs/debian-packages.txt)",
)


@pytest.fixture(scope="session")
def nltk_root(tmp_path_factory):
    """WordNet prepared once per test session (from the Debian packages)."""
    root = tmp_path_factory.getbasetemp() / "semantic_nltk_data"
    if (DEBIAN / "data.noun").is_file():
        prepare_wordnet(root / "corpora" / "wordnet", source="debian")
    return root


@pytest.fixture(scope="session")
def wn(nltk_root):
    return load_wordnet(nltk_root)
