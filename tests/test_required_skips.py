"""Hardware tests skip without their hardware, and fail instead where it is required:
REQUIRE_GPU=1 / REQUIRE_SLURM=1 (tests/conftest.py) turn a skip of a gpu / slurm test into
a failure that carries the skip's reason."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REQUIRED

TESTS = Path(__file__).resolve().parent

CASES = """
import pytest


@pytest.mark.{marker}
def test_skips_inside():
    pytest.skip("no such hardware here")


@pytest.mark.{marker}
@pytest.mark.skipif(True, reason="no such hardware either")
def test_skipif_mark():
    pass


@pytest.fixture
def hardware():
    pytest.skip("the fixture found none")


@pytest.mark.{marker}
def test_skips_in_fixture(hardware):
    pass


def test_unmarked_skip_stays_a_skip():
    pytest.skip("not hardware")
"""


def outcome(tmp_path, marker, env):
    """Run the cases above with the suite's conftest; (exit status, output)."""
    tmp_path.mkdir()
    (tmp_path / "test_cases.py").write_text(textwrap.dedent(CASES.format(marker=marker)))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "conftest",
            "-p",
            "no:cacheprovider",
            "-rA",
            "-W",
            "ignore::pytest.PytestUnknownMarkWarning",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": f"{TESTS}:{env.get('PYTHONPATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("marker", sorted(REQUIRED))
def test_required_hardware_turns_skips_into_failures(tmp_path, marker):
    variable = REQUIRED[marker]
    base = {k: v for k, v in os.environ.items() if k not in REQUIRED.values()}
    code, out = outcome(tmp_path / "off", marker, base)
    assert code == 0 and "4 skipped" in out, out[-3000:]

    code, out = outcome(tmp_path / "on", marker, {**base, variable: "1"})
    # a skip in the test body fails it; one during setup (skipif, a fixture) is an error
    assert code == 1 and "1 failed, 1 skipped, 2 errors" in out, out[-3000:]
    for reason in ("no such hardware here", "no such hardware either", "the fixture found none"):
        assert f"{variable}=1 but this {marker} test was skipped: {reason}" in out, out[-3000:]
