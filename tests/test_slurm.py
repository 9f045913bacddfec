"""The workflow on a real SLURM: profiles/slurm against a single-node cluster on loopback.

The module's cluster (tests/slurm_cluster.py) comes from the Debian packages munge,
slurmctld, slurmd and slurm-client (``make test-deps`` installs them as root). Without
them or without root the tests skip, and fail instead under REQUIRE_SLURM=1 (.ci/run).
Its daemons are killed by PID when the module ends, even on failure.
"""

import json
import re
import subprocess
import sys
import time

import pytest
from slurm_cluster import LoopbackSlurm, missing_reason
from test_workflow import SNAKEMAKE, copy_workflow

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

TINY = "tests/config/tiny.yaml"
RUN = "results/timeseries/GunPoint/cnn/gasf/run0/test.json"
# A job that fails on the cluster: fetching a UCR set the package does not ship, with the
# tiny config's offline source (shipped). Since the time-series study trains every model of
# a dataset in one job, a failing training would take the working one down with it.
BROKEN = "resources/timeseries/Coffee/train.npz"
# Status polling tuned to these jobs (10-20 s each; the plugin checks 15 s after a job
# ends, and 10 s later each time none has), a local filesystem's latency, SLURM logs kept.
FAST = [
    "--slurm-init-seconds-before-status-checks",
    "15",
    "--seconds-between-status-checks",
    "15",
    "--latency-wait",
    "5",
    "--slurm-keep-successful-logs",
]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    cluster = LoopbackSlurm(tmp_path_factory.mktemp("slurm"), gpus=2, mem_mb=20000)
    try:
        cluster.start()
        yield cluster
    finally:
        ours = cluster.stop()
        time.sleep(0.5)
        assert cluster.running(ours) == [], "SLURM/munge processes left behind"


def snakemake(cluster, wf, targets, *args, timeout=400):
    """Make ``targets`` in ``wf`` with the SLURM profile; (returncode, output)."""
    cmd = SNAKEMAKE + [*targets, "--workflow-profile", "profiles/slurm", *FAST, *args]
    proc = subprocess.run(cmd, cwd=wf, env=cluster.env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def submitted(out):
    """rule -> SLURM job ids, from Snakemake's log lines
    'Job 0 has been submitted with SLURM jobid 3 (log: .../slurm_logs/rule_<rule>/...)'."""
    jobs = {}
    for jobid, rule in re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+)/", out):
        jobs.setdefault(rule, []).append(jobid)
    return jobs


def test_workflow_runs_on_slurm(slurm, tmp_path):
    """The tiny config's time-series training (fetch_ucr -> transform_series ->
    train_timeseries) beside a fetch that fails: the profile's keep-going finishes the first
    and reports the second failed (retries off: each costs a status-polling round).
    Trainings ask SLURM for a GPU here (--set-resources, the override documented for GPU
    partitions)."""
    wf = copy_workflow(tmp_path)
    code, out = snakemake(
        slurm, wf, [RUN, BROKEN], "--retries", "0", "--set-resources", "train_timeseries:gpu=1", "--configfile", TINY
    )
    assert code != 0, out[-4000:]
    jobs = submitted(out)
    assert sorted(jobs) == ["fetch_ucr", "train_timeseries", "transform_series"], out[-4000:]
    assert [len(jobs[r]) for r in sorted(jobs)] == [2, 1, 1], jobs
    # scontrol remembers finished jobs for MinJobAge (300 s)
    states = {jobid: slurm.job(jobid) for ids in jobs.values() for jobid in ids}
    by_state = {}
    for jobid, job in states.items():
        by_state.setdefault(job["JobState"], []).append(jobid)
        assert job["Partition"] == slurm.partition and job["WorkDir"] == str(wf), job
    # GunPoint's fetch, transform and training completed; Coffee's fetch failed
    assert len(by_state["COMPLETED"]) == 3 and len(by_state["FAILED"]) == 1, (by_state, out[-3000:])
    (failed,) = by_state["FAILED"]
    assert failed in jobs["fetch_ucr"], (failed, jobs)

    # the training really ran on the cluster, with the rule's resources and its GPU
    result = json.loads((wf / RUN).read_text())
    assert result["n_test"] == 150 and result["processes"] == 1
    (train,) = [states[j] for j in jobs["train_timeseries"]]
    assert train["TresPerJob"] == "gres:gpu:1" and train["NumCPUs"] == "1", train
    # 12 runs (2 seeds x 6 models/images) of the tiny config: max(2 h, 10 min per run)
    assert train["TimeLimit"] == "02:00:00" and train["MinMemoryNode"] == "8000M", train
    (fetch_id,) = [j for j in jobs["fetch_ucr"] if j != failed]
    fetch = states[fetch_id]  # a data rule: the profile's default resources
    assert fetch["TimeLimit"] == "01:00:00" and fetch["MinMemoryNode"] == "4000M", fetch
    assert "gres" not in fetch.get("TresPerJob", ""), fetch
    log = next((wf / ".snakemake" / "slurm_logs").rglob(f"{fetch_id}.log")).read_text()
    assert "--executor slurm-jobstep" in log and "Finished job" in log, log[-2000:]

    # the broken fetch: reported failed, with its reason in the rule's log, nothing written
    assert f"SLURM-job '{failed}' failed, SLURM status is: 'FAILED'" in out, out[-3000:]
    assert "Coffee" in (wf / "logs/fetch_ucr/Coffee.log").read_text()
    assert "is not shipped" in (wf / "logs/fetch_ucr/Coffee.log").read_text()
    assert not (wf / BROKEN).exists()
    assert slurm.run("squeue", "-h", "-t", "PENDING,RUNNING") == ""  # nothing left queued


def test_ddp_under_srun_uses_slurm_environment(slurm, tmp_path):
    """Lightning's SLURM environment: srun starts one task per device, no launcher."""
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    out = slurm.run(
        "srun",
        "--nodes=1",
        "--ntasks-per-node=2",
        "--cpus-per-task=1",
        "--mem=2000",
        "-t",
        "5",
        sys.executable,
        str(script),
        str(tmp_path / "run"),
        timeout=240,
    )
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert sorted(r["rank"] for r in lines) == [0, 1], out
    assert {r["environment"] for r in lines} == {"SLURMEnvironment"}
    assert all(r["processes"] == 2 and r["n_test"] == 40 for r in lines)
    assert (tmp_path / "run" / "test.json").is_file()


DDP_SCRIPT = """
import json, sys
import numpy as np
from cnnpractice.training.data import ArrayDataModule
from cnnpractice.training import runner
from cnnpractice.training.settings import FitSettings

seen = {}
build = runner.build_trainer
def spy(**kwargs):
    trainer = build(**kwargs)
    seen["environment"] = type(trainer.strategy.cluster_environment).__name__
    return trainer
runner.build_trainer = spy

rng = np.random.default_rng(0)
y = np.arange(40) % 2
x = (rng.normal(size=(40, 24)) + y[:, None]).astype(np.float32)
spec = {"name": "lstm", "n_classes": 2, "hidden_size": 4, "num_layers": 1, "bidirectional": False,
        "dropout": 0.0, "window": 4, "pooling": "last"}
dm = ArrayDataModule(x, y, x, y, val_fraction=0.0, batch_size=8, seed=0, standardize="global")
result = runner.fit_and_test(task="classification", net_spec=spec, datamodule=dm, out_dir=sys.argv[1],
                             seed=0, fit=FitSettings(max_epochs=2),
                             trainer_options={"accelerator": "cpu", "devices": 2, "strategy": "ddp",
                                              "progress_bar": False})
print(json.dumps({"rank": runner.process_rank(), "processes": result["processes"],
                  "n_test": result["n_test"], "environment": seen["environment"]}), flush=True)
"""
