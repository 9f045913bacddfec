"""Shared fixtures: no test may reach the network, in this process or in any it starts;
skips of hardware tests become failures where the hardware is required."""

import os
import socket
from pathlib import Path

import pytest

from cnnpractice import netguard
from cnnpractice.semantic import wordnet
from cnnpractice.semantic.wordnet import DATABASE_FILES, LEXNAMES_MAN, load_wordnet, prepare_wordnet

# Marker -> the variable that turns its skips into failures (CI sets REQUIRE_SLURM=1 in
# .ci/run; a GPU machine's bench run sets REQUIRE_GPU=1): a green run then means the test ran.
REQUIRED = {"gpu": "REQUIRE_GPU", "slurm": "REQUIRE_SLURM"}


@pytest.fixture(scope="session", autouse=True)
def guarded_subprocesses(tmp_path_factory):
    """Every process the tests start inherits the network guard (cnnpractice.netguard):
    Python refuses non-loopback connections there and logs each attempt to one file."""
    log = tmp_path_factory.getbasetemp() / "netguard_refused.log"
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", netguard.LOG_VARIABLE)}
    os.environ.update(netguard.environment(log=log))
    yield log
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def no_network(monkeypatch, guarded_subprocesses):
    """Fail (and record) any attempt to open a connection, here or in a subprocess (one
    that caught the guard's error and carried on still left its line in the log)."""
    attempts = []
    before = len(netguard.refused(guarded_subprocesses))

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access is disabled in the tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield
    assert not attempts, f"a test tried to reach the network: {attempts}"
    from_children = netguard.refused(guarded_subprocesses)[before:]  # the guard's own tests log elsewhere
    assert not from_children, f"a subprocess tried to reach the network: {from_children}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped gpu/slurm test fails when its REQUIRE_* variable is 1."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    for marker, variable in REQUIRED.items():
        if item.get_closest_marker(marker) and os.environ.get(variable) == "1":
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            report.outcome = "failed"
            report.longrepr = f"{variable}=1 but this {marker} test was skipped: {reason}"


# WordNet 3.0 from the Debian packages, shared by the semantic tests.
DEBIAN = Path(wordnet.DEBIAN_DIR)
# every file prepare_wordnet(source="debian") reads: the database and the lexnames man page
# (Debian images that drop /usr/share/man lack the latter even with the packages installed)
DEBIAN_MISSING = [str(p) for p in [*(DEBIAN / f for f in DATABASE_FILES), Path(LEXNAMES_MAN)] if not p.is_file()]
needs_debian_wordnet = pytest.mark.skipif(
    bool(DEBIAN_MISSING),
    reason=f"Debian WordNet files missing ({', '.join(DEBIAN_MISSING[:3])}): packages wordnet-base and "
    "wordnet-sense-index (envs/debian-packages.txt), with their man pages",
)


@pytest.fixture(scope="session")
def nltk_root(tmp_path_factory):
    """WordNet prepared once per test session (from the Debian packages)."""
    root = tmp_path_factory.getbasetemp() / "semantic_nltk_data"
    if not DEBIAN_MISSING:
        prepare_wordnet(root / "corpora" / "wordnet", source="debian")
    return root


@pytest.fixture(scope="session")
def wn(nltk_root):
    return load_wordnet(nltk_root)
