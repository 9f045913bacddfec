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
RUN = "results/timeseries/{}/cnn/gasf/run0/test.json"
# A job that fails on the cluster: a second dataset whose fetched series are not an .npz
# (one job per dataset trains every run, so the failing job must be another dataset's).
BROKEN = """\
timeseries:
  datasets: [GunPoint, ItalyPowerDemand]
  transfer: {datasets: []}
"""
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
    """The tiny config's CNN (fetch_ucr -> transform_series -> train_timeseries) beside a
    dataset whose series file is broken: the profile's keep-going finishes the first and
    reports the second's transform failed (retries off: each costs a status-polling round).
    Trainings ask SLURM for a GPU here (--set-resources, the override documented for GPU
    partitions). Downloads are local rules, so fetch_ucr may not reach SLURM at all."""
    wf = copy_workflow(tmp_path)
    (wf / "broken.yaml").write_text(BROKEN)
    for split in ("train", "test"):
        broken = wf / f"resources/timeseries/ItalyPowerDemand/{split}.npz"
        broken.parent.mkdir(parents=True, exist_ok=True)
        broken.write_bytes(b"not an npz archive")
    good, bad = RUN.format("GunPoint"), RUN.format("ItalyPowerDemand")
    code, out = snakemake(
        slurm,
        wf,
        [good, bad],
        "--retries",
        "0",
        "--set-resources",
        "train_timeseries:gpu=1",
        "--configfile",
        TINY,
        "broken.yaml",
    )
    assert code != 0, out[-4000:]
    jobs = submitted(out)
    assert (
        {"train_timeseries", "transform_series"} <= set(jobs) <= {"fetch_ucr", "train_timeseries", "transform_series"}
    ), out[-4000:]
    assert len(jobs["transform_series"]) == 2 and len(jobs["train_timeseries"]) == 1, out[-4000:]
    # scontrol remembers finished jobs for MinJobAge (300 s)
    states = {jobid: slurm.job(jobid) for ids in jobs.values() for jobid in ids}
    by_state = {}
    for jobid, job in states.items():
        by_state.setdefault(job["JobState"], []).append(jobid)
        assert job["Partition"] == slurm.partition and job["WorkDir"] == str(wf), job
    # GunPoint's jobs completed; ItalyPowerDemand's transform failed and its training never ran
    n_jobs = sum(len(ids) for ids in jobs.values())
    assert len(by_state["COMPLETED"]) == n_jobs - 1 and by_state["FAILED"] in ([j] for j in jobs["transform_series"]), (
        by_state,
        out[-3000:],
    )
    assert not (wf / bad).exists()

    # the CNN really ran on the cluster, with the rule's resources and its GPU
    result = json.loads((wf / good).read_text())
    assert result["n_test"] == 150 and result["processes"] == 1
    train_ok = next(states[j] for j in jobs["train_timeseries"] if states[j]["JobState"] == "COMPLETED")
    assert train_ok["TresPerJob"] == "gres:gpu:1" and train_ok["NumCPUs"] == "1", train_ok
    assert train_ok["TimeLimit"] == "02:00:00" and train_ok["MinMemoryNode"] == "8000M", train_ok
    done = next(j for j in jobs["transform_series"] if states[j]["JobState"] == "COMPLETED")
    log = next((wf / ".snakemake" / "slurm_logs").rglob(f"{done}.log")).read_text()
    assert "--executor slurm-jobstep" in log and "Finished job" in log, log[-2000:]

    # the broken dataset: reported failed, with our reader's message, nothing written
    (failed,) = by_state["FAILED"]
    assert f"SLURM-job '{failed}' failed, SLURM status is: 'FAILED'" in out, out[-3000:]
    assert "ItalyPowerDemand" in (wf / "logs/transform_series/ItalyPowerDemand.log").read_text()
    assert not (wf / "results/timeseries/ItalyPowerDemand/images").exists() or not any(
        (wf / "results/timeseries/ItalyPowerDemand/images").rglob("*.npy")
    )
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
