"""cnnpractice.workflow.log_to: everything a rule's code prints lands in its log."""

import os
import subprocess
import sys

import pytest

from cnnpractice.workflow import CPU_PREFIX, log_to


def test_log_to_captures_python_and_fd_output(tmp_path):
    log = tmp_path / "logs" / "rule.log"
    with log_to(log):
        print("from print")
        sys.stderr.write("from stderr\n")
        os.write(1, b"from fd 1\n")
    text = log.read_text()
    assert "from print" in text and "from stderr" in text and "from fd 1" in text


def test_log_to_records_the_traceback_and_restores_streams(tmp_path, capfd):
    log = tmp_path / "rule.log"
    with pytest.raises(ValueError):
        with log_to(log):
            raise ValueError("bad input: train.npz")
    assert "ValueError: bad input: train.npz" in log.read_text()
    os.write(1, b"back on the terminal\n")
    assert "back on the terminal" in capfd.readouterr().out


def test_log_to_ends_with_the_jobs_cpu_seconds(tmp_path):
    # in a fresh process, as a job is: the figure counts the whole process and its finished
    # children (in the pytest process it would count every subprocess the suite ran before)
    log = tmp_path / "rule.log"
    script = (
        "import time\n"
        "from cnnpractice.workflow import log_to\n"
        f"with log_to({str(log)!r}):\n"
        "    deadline = time.process_time() + 0.3\n"
        "    while time.process_time() < deadline:  # burn 0.3 CPU-s\n"
        "        pass\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    last = log.read_text().splitlines()[-1]
    assert last.startswith(CPU_PREFIX)
    assert 0.3 <= float(last[len(CPU_PREFIX) :]) < 60
