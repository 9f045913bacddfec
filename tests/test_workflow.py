"""The workflow itself: lint, dry runs of the shipped configs, and a tiny end-to-end run."""

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run(args, cwd=ROOT, timeout=600):
    proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def copy_workflow(dst: Path) -> Path:
    """A copy of the workflow in ``dst``, so runs write nothing into the repository."""
    for name in ("Snakefile", "rules", "scripts", "config", "envs", "report", "src", "profiles", "tests"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst / name)
    return dst


def test_lint_is_clean():
    code, out = run(["--lint"])
    assert code == 0, out
    assert "Congratulations, your workflow is in a good condition" in out


@pytest.mark.parametrize("extra, expected_jobs", [
    ([], {"fetch_ucr": 3, "transform_series": 12, "train_timeseries": 15}),
    (["--configfile", "config/paper.yaml"],
     {"fetch_ucr": 4, "transform_series": 20, "train_timeseries": 32 * 5}),
])
def test_dry_run(tmp_path, extra, expected_jobs):
    code, out = run(["-n", "--cores", "1", *extra], cwd=copy_workflow(tmp_path))
    assert code == 0, out
    for rule, count in expected_jobs.items():
        assert any(line.split() == [rule, str(count)] for line in out.splitlines()), (rule, out[-2000:])


def test_disabled_study_schedules_nothing(tmp_path):
    wf = copy_workflow(tmp_path)
    (wf / "off.yaml").write_text("timeseries:\n  enabled: false\n")
    code, out = run(["-n", "--cores", "1", "--configfile", "off.yaml"], cwd=wf)
    assert code == 0, out
    assert "train_timeseries" not in out and "fetch_ucr" not in out


def test_unknown_config_key_stops_before_running(tmp_path):
    code, out = run(["-n", "--cores", "1", "--config", "seed=1", "trainer={acelerator: cpu}"],
                    cwd=copy_workflow(tmp_path))
    assert code != 0
    assert "'acelerator' was unexpected" in out


@pytest.mark.slow
def test_tiny_end_to_end(tmp_path):
    wf = copy_workflow(tmp_path)
    code, out = run(["--cores", "2", "--configfile", "tests/config/tiny.yaml"], cwd=wf, timeout=900)
    assert code == 0, out[-4000:]

    with open(wf / "results/timeseries/accuracy.csv") as fh:
        rows = list(csv.DictReader(fh))
    runs = {(r["dataset"], r["model"], r["image"]) for r in rows}
    assert runs == {("GunPoint", "cnn", "gasf"), ("GunPoint", "cnn", "stack"), ("GunPoint", "lstm", "raw")}
    for row in rows:
        assert 0.0 <= float(row["test_accuracy"]) <= 1.0 and row["runs"] == "2"
        assert float(row["test_accuracy_std"]) >= 0.0
        assert float(row["fcn"]) == 1.0 and row["n_test"] == "150"
    md = (wf / "results/timeseries/accuracy.md").read_text()
    assert "| GunPoint |" in md and "cnn/gasf" in md
    for png in ("transforms.png", "val_accuracy.png"):
        assert (wf / "results/timeseries/GunPoint" / png).stat().st_size > 10_000
    assert (wf / "logs/train_timeseries/GunPoint/cnn/gasf/run0.log").stat().st_size > 0
    with open(wf / "results/timeseries/accuracy_runs.csv") as fh:
        assert [r["seed"] for r in csv.DictReader(fh)] == ["7", "8", "7", "8", "7", "8"]

    # a finished run has nothing left to do, and says so quickly
    t0 = time.perf_counter()
    code, out = run(["-n", "--cores", "2", "--configfile", "tests/config/tiny.yaml"], cwd=wf)
    assert code == 0 and "Nothing to be done" in out, out[-2000:]
    assert time.perf_counter() - t0 < 30

    code, out = run(["--report", "results/report.html", "--configfile", "tests/config/tiny.yaml"], cwd=wf)
    assert code == 0, out[-3000:]
    assert (wf / "results/report.html").stat().st_size > 50_000
