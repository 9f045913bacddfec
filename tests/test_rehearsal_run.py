"""The rehearsal (``make rehearse``): config/paper.yaml, shrunk by config/rehearsal.yaml, runs
end to end on the miniatures served on loopback. Every rule of the paper DAG runs at least
once, every table has a value in every cell, the report builds, and no job tried to leave
loopback (a guard in every Snakemake process refuses and records it)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / ".rehearsal" / "mini"  # shared with `make rehearse`: built once, rebuilt when its code changes


@pytest.mark.slow
def test_rehearsal_runs_every_rule_of_the_paper_dag(tmp_path):
    from cnnpractice.rehearsal.run import build_report, paper_rules, rehearse, table_gaps

    # 182 jobs: 401 s on 2 idle cores; the limit leaves room for a machine shared with
    # other work (the 203 jobs before took 40 min at load ~4)
    result = rehearse(tmp_path, mini=MINI, cores=os.cpu_count() or 2, timeout=3600)
    assert result["status"] == 0, result["log"][-6000:]
    assert result["refused"] == []
    missing = set(paper_rules()) - set(result["rules"])
    assert missing == set(), f"rules of the paper DAG that did not run: {sorted(missing)}"
    run = Path(result["run_dir"])
    assert table_gaps(run / "results") == []
    status, out = build_report(run)
    assert status == 0, out[-3000:]
    assert (run / "report.html").stat().st_size > 100_000


def test_table_gaps_finds_empty_and_nan_cells(tmp_path):
    from cnnpractice.rehearsal.run import table_gaps

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "t.md").write_text(
        "# T\n\n| model | acc | talk |\n|---|---|---|\n| cnn | 0.91 (n = 5) | – |\n| lstm |  | nan |\n"
    )
    assert table_gaps(tmp_path) == [f"{tmp_path / 'a' / 't.md'}:6:1", f"{tmp_path / 'a' / 't.md'}:6:2"]


def test_the_rehearsal_runs_behind_the_network_guard(tmp_path):
    """The environment of the rehearsal's Snakemake (and so of every job): cnnpractice.netguard
    refuses a name lookup or connection beyond loopback and logs it where the rehearsal reads
    it; loopback works (the mirror is served there)."""
    import subprocess
    import sys

    from cnnpractice import netguard
    from cnnpractice.rehearsal.run import _environment

    code = (
        "import socket, urllib.request\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); port = s.getsockname()[1]\n"
        "socket.create_connection(('127.0.0.1', port)).close()\n"
        "try:\n    urllib.request.urlopen('https://zenodo.org/api/records/1', timeout=5)\n"
        "except OSError as exc:\n    print('refused:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=_environment(tmp_path), capture_output=True, text=True)
    assert "refused:" in out.stdout and netguard.MESSAGE in out.stdout, out.stdout + out.stderr
    assert any("zenodo.org" in line for line in netguard.refused(tmp_path / "refused.log"))


def test_only_finished_jobs_count():
    from cnnpractice.rehearsal.run import jobs_per_rule

    output = (
        "[Sun Nov 29 07:09:52 2026]\nlocalrule train_smalldata:\n    jobid: 26\n"
        "[Sun Nov 29 07:09:53 2026]\nrule fetch_oasis:\n    jobid: 3\n"
        "Finished jobid: 26 (Rule: train_smalldata)\n"
        "Error in rule fetch_oasis:\n"
        "Finished jobid: 27 (Rule: train_smalldata)\n"
    )
    assert jobs_per_rule(output) == {"train_smalldata": 2}
