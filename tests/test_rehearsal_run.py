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

    result = rehearse(tmp_path, mini=MINI, cores=os.cpu_count() or 2, timeout=2400)
    assert result["status"] == 0, result["log"][-6000:]
    assert result["refused"] == []
    missing = set(paper_rules()) - set(result["rules"])
    assert missing == set(), f"rules of the paper DAG that did not run: {sorted(missing)}"
    run = Path(result["run_dir"])
    assert table_gaps(run / "results") == []
    status, out = build_report(run)
    assert status == 0, out[-3000:]
    assert (run / "report.html").stat().st_size > 100_000
