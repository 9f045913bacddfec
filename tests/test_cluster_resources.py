"""What a training job asks the scheduler for: GPUs, threads, time and memory."""

import re

import pytest
from test_workflow import copy_workflow, run

from cnnpractice.workflow import visible_gpus


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "0,1"}, 2),  # what SLURM allocated
        ({"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "0"}, 0),  # a SLURM job without GPUs
        ({"CUDA_VISIBLE_DEVICES": "0,1,2"}, 3),
        ({"CUDA_VISIBLE_DEVICES": ""}, 0),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, 0),
    ],
)
def test_visible_gpus(monkeypatch, env, expected):
    for var in ("SLURM_JOB_ID", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert visible_gpus() == expected


def training_job(wf, trainer_yaml, *extra):
    """threads and resources of one training job, from a dry run."""
    (wf / "trainer.yaml").write_text(trainer_yaml)
    code, out = run(
        [
            "-n",
            "-p",
            "results/timeseries/GunPoint/lstm/raw/run0/test.json",
            *extra,
            "--configfile",
            "tests/config/tiny.yaml",
            "trainer.yaml",
        ],
        cwd=wf,
    )
    assert code == 0, out[-2000:]
    block = out[out.index("rule train_timeseries:") :]
    threads = re.search(r"threads: (\d+)", block.split("resources:")[0])
    threads = int(threads.group(1)) if threads else 1  # Snakemake prints threads > 1 only
    resources = dict(re.findall(r"(\w+)=([^,\s]+)", re.search(r"resources: (.*)", block).group(1)))
    return threads, resources


@pytest.mark.parametrize(
    "trainer, cuda_visible, extra, threads, gpus",
    [
        ("accelerator: cpu\n  devices: 2", "0", [], 2, "0"),  # CPU processes: no GPU
        ("accelerator: gpu\n  devices: 1", "", [], 1, "1"),
        ("accelerator: auto\n  devices: 1", "", [], 1, "0"),  # auto, no GPU here
        ("accelerator: auto\n  devices: 1", "0", [], 1, "1"),  # auto, a GPU here
        ("accelerator: cuda\n  devices: 2", "0,1", [], 2, "1"),  # profiles/default: gpu=1
        ("accelerator: cuda\n  devices: 2", "0,1", ["--resources", "gpu=2"], 2, "2"),
    ],
)
def test_training_jobs_reserve_their_gpus(tmp_path, monkeypatch, trainer, cuda_visible, extra, threads, gpus):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", cuda_visible)
    got_threads, resources = training_job(copy_workflow(tmp_path), f"trainer:\n  {trainer}\n", *extra)
    assert (got_threads, resources["gpu"]) == (threads, gpus)
    # one SLURM task holds the GPUs; time and memory are the training rule's own
    assert resources["tasks_per_gpu"] == "0"
    assert (resources["runtime"], resources["mem_mb"]) == ("120", "8000")
