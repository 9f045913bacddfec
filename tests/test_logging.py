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


def run_snakemake_job(tmp_path, header: str, body: str) -> subprocess.CompletedProcess:
    """Run ``body`` inside ``log_to(tmp_path / "job.log")`` in a fresh Python that looks like
    a Snakemake script job (a ``snakemake`` object of class Snakemake in ``__main__``);
    ``header`` runs before it."""
    import textwrap
    from pathlib import Path

    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(header)
        + "\nclass Snakemake:\n    pass\n\nsnakemake = Snakemake()\n"
        + "from cnnpractice.workflow import log_to\n\n"
        + f"with log_to({str(tmp_path / 'job.log')!r}):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("fails", [False, True])
def test_a_finished_snakemake_job_skips_the_interpreter_teardown(tmp_path, fails):
    """A Snakemake script job (``snakemake`` in ``__main__``) that finished ends right after
    its log is closed: outputs and log complete, exit status 0, no teardown (an atexit
    handler never runs). A failing job still fails the normal way, traceback logged."""
    header = f"""
        import atexit
        from pathlib import Path

        atexit.register(lambda: Path({str(tmp_path / "teardown")!r}).write_text("ran"))
    """
    body = f"""
        print("working")
        Path({str(tmp_path / "out.txt")!r}).write_text("result")
        if {fails}:
            raise RuntimeError("boom")
    """
    proc = run_snakemake_job(tmp_path, header, body)
    log = (tmp_path / "job.log").read_text()
    assert (tmp_path / "out.txt").read_text() == "result"
    assert "working" in log and "cpu_seconds=" in log
    if fails:
        assert proc.returncode == 1 and "RuntimeError: boom" in log
        assert (tmp_path / "teardown").read_text() == "ran"
    else:
        assert proc.returncode == 0, proc.stderr
        assert not (tmp_path / "teardown").exists()


def test_a_finished_job_leaves_no_joblib_workers_behind(tmp_path):
    """The skipped exit handlers would have stopped joblib's worker processes (scikit-learn
    with n_jobs > 1); the job stops them itself before it ends."""
    import json
    import time
    from pathlib import Path

    body = f"""
        pids = set(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(8)))
        open({str(tmp_path / "pids.json")!r}, "w").write(json.dumps(sorted(pids - {{os.getpid()}})))
    """
    proc = run_snakemake_job(tmp_path, "import json, os\nfrom joblib import Parallel, delayed\n", body)
    assert proc.returncode == 0, proc.stderr
    workers = json.loads((tmp_path / "pids.json").read_text())
    assert workers, "joblib ran no worker process"
    deadline = time.monotonic() + 10
    alive = list(workers)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists()]
        time.sleep(0.2)
    assert alive == [], f"joblib workers still running after the job ended: {alive}"
