"""The benches in bench/: their cases follow the configs, their counts and parsers are right,
and they run end to end on the CPU (and on CUDA where there is one: marker ``gpu``)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def load(name: str):
    """Import bench/<name>.py as a module (bench/ is a folder of scripts, not a package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def merged(base: dict, over: dict) -> dict:
    """``over`` layered on ``base`` as Snakemake layers --configfile (dicts merge, the rest replaces)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture(scope="module")
def te():
    return load("training_efficiency")


@pytest.fixture(scope="module")
def configs():
    default = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    return {"default": default, "paper": merged(default, yaml.safe_load((ROOT / "config/paper.yaml").read_text()))}


def test_cases_are_the_configs_networks(te, configs):
    # a config change that the bench does not follow fails here
    for case in te.CASES:
        config = configs[case.size]
        spec, side = case.spec, case.example[-1]
        if case.network.startswith("alexnet"):
            section = config["smalldata"]
            params = section["architectures"][case.network]["params"]
            assert {k: spec[k] for k in params} == params, case.label
            dataset = "fashion_mnist" if case.size == "default" else "flowers102"
            data = section["datasets"][dataset]
            assert (spec["input_size"], spec["in_channels"]) == (data["image_size"], data["channels"]), case.label
            assert case.batch == section["training"]["batch_size"], case.label
        elif case.network in ("timeseries_cnn", "vgg16"):
            section = config["timeseries"]
            model = section["models"]["cnn" if case.network == "timeseries_cnn" else "vgg"]
            params = {k: v for k, v in model["params"].items() if k != "weights"}
            assert {k: spec[k] for k in params} == params, case.label
            assert side == section["image_size"] and case.batch == section["training"]["batch_size"], case.label
            assert "batch_size" not in model.get("training", {}), case.label
        elif case.network == "brain_cnn":
            section = config["brain"]
            assert {k: spec[k] for k in section["cnn"]} == section["cnn"], case.label
            assert side == section["slice_size"] == spec["input_size"], case.label
            assert case.batch == section["training"]["batch_size"], case.label
        elif case.network == "elves_cnn":
            section = config["elves"]
            assert {k: spec[k] for k in section["cnn"]} == section["cnn"], case.label
            binning = section["readout"]["pixel_binning"]
            shape = [len(section["eyes"]), section["readout"]["n_bins"], 22 // binning, 120 // binning]
            assert spec["in_shape"] == shape == list(case.example), case.label
            assert case.batch == section["training"]["batch_size"], case.label
        else:
            pytest.fail(f"no config check for {case.label}")


def _conv_flops(conv, side_out):
    return 2 * conv.out_channels * conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1] * side_out**2


def test_alexnet_training_flops_by_hand(te):
    # forward + backward of every conv and linear layer (3x the forward), except that the
    # first conv needs no input gradient (2x); the LRN is not counted
    from cnnpractice.models.alexnet import POOL_AFTER

    case = next(c for c in te.CASES if c.label == "alexnet/paper")
    net = te.build(case)
    convs = [block[0] for block in net.blocks]
    side, conv_sides = 227, []
    for conv, pool in zip(convs, POOL_AFTER):
        side = (side + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1
        conv_sides.append(side)
        side = (side - 3) // 2 + 1 if pool else side
    assert conv_sides == [55, 27, 13, 13, 13]
    forward = [_conv_flops(c, s) for c, s in zip(convs, conv_sides)]
    linears = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    expected = 3 * sum(forward) - forward[0] + 3 * sum(2 * m.in_features * m.out_features for m in linears)
    assert te.training_flops(case) == expected
    assert 6.5e9 < expected < 6.7e9  # the 6.9 GFLOP also counted the LRN's banded products


def test_flops_of_every_case_can_be_counted(te):
    for case in te.CASES:
        assert te.training_flops(case) > 1e6, case.label


@pytest.mark.parametrize(
    "settings", [{}, {"channels_last": False, "fused_adam": False}], ids=["as_built", "nchw+foreach"]
)
def test_measure_on_cpu(te, settings):
    case = next(c for c in te.CASES if c.label == "timeseries_cnn/default")
    row = te.measure(case, te.Settings(**settings), "cpu", steps=2, warmup=1, peak_repeats=2, min_seconds=0.0)
    assert row["steps"] == 2 and row["images_per_s"] > 0 and row["peak_gflops"] > 0
    assert row["achieved_gflops"] == pytest.approx(row["gflop_per_image"] * row["images_per_s"])
    assert row["fraction_of_peak"] == pytest.approx(row["achieved_gflops"] / row["peak_gflops"])
    assert row["peak_dtype"] == "float32" and row["compile_s"] is None
    assert ("channels_last" in row["settings"]) == row["setting_channels_last"] == (not settings)


def test_main_quick_writes_json(te, tmp_path, capsys):
    out = tmp_path / "eff.json"
    argv = ["--quick", "--networks", "brain_cnn", "elves_cnn", "--min-seconds", "0", "--peak-repeats", "1"]
    assert te.main([*argv, "--json", str(out), "--channels-last", "off", "on"]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["network"], r["size"], r["setting_channels_last"]) for r in rows] == [
        ("brain_cnn", "default", False),
        ("brain_cnn", "default", True),
        ("elves_cnn", "default", False),
        ("elves_cnn", "default", True),
    ]
    printed = capsys.readouterr().out
    assert "% peak" in printed and "elves_cnn/default" in printed
    assert te.main([*argv[:2], "elves_cnn", *argv[4:], "--min-fraction", "2.0"]) == 1  # none reaches twice the peak


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("compile_", [False, True], ids=["eager", "compiled"])
def test_measure_on_cuda_bf16(te, compile_):
    case = next(c for c in te.CASES if c.label == "alexnet/paper")
    settings = te.Settings(amp="bf16", channels_last=True, compile=compile_, fused_adam=True)
    row = te.measure(case, settings, "cuda", steps=3, warmup=2, peak_repeats=3, min_seconds=0.0)
    assert row["peak_dtype"] == "bfloat16" and row["device"] == "cuda"
    assert 0 < row["fraction_of_peak"] < 1.5 and row["max_memory_gib"] > 0


def test_hardware_limits_on_cpu():
    hw = load("hardware")
    limit = hw.write_limit((64, 1, 32, 32), repeats=2)
    assert limit["bytes"] == 64 * 32 * 32 * 4 and limit["cold"] > 0 and limit["hot"] > 0
    assert hw.matmul_peak("cpu", sides=(128, 256), repeats=2) > 0.1  # GFLOP/s
    assert "load average" in hw.machine_line("cpu")


def test_transforms_bench_reports_the_limit(tmp_path):
    tb = load("transforms")
    out = tmp_path / "tr.json"
    argv = ["--n", "40", "--length", "96", "--image-size", "16", "--repeats", "1", "--threads", "1", "--no-pyts"]
    assert tb.main([*argv, "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["transform"] for r in rows] == list(tb.CASES)
    for row in rows:
        assert row["x_limit"] == pytest.approx(row["seconds"] / row["limit_s"])
        assert row["bytes"] == 40 * len(tb.CASES[row["transform"]]) * 16 * 16 * 4
    assert tb.main([*argv, "--check", "--max-limit", "0.001"]) == 1  # no transform is 1000x faster than a write


def test_transforms_bench_times_both_cpu_paths(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNPRACTICE_FUSED", raising=False)
    tb = load("transforms")
    out = tmp_path / "tr.json"
    argv = ["--n", "30", "--length", "64", "--image-size", "8", "--repeats", "1", "--threads", "1", "--no-pyts"]
    assert tb.main([*argv, "--paths", "fused", "torch", "--json", str(out)]) == 0
    rows = [(r["transform"], r["path"]) for r in json.loads(out.read_text())["rows"]]
    fused = [case for case in tb.CASES if any(channel in tb.FUSED for channel in tb.CASES[case])]
    expected = [(case, path) for case in tb.CASES for path in ("fused", "torch") if path == "torch" or case in fused]
    assert sorted(rows) == sorted(expected)
    assert {"gasf", "gadf", "rp", "gasf+gadf+mtf"} == set(fused)
    assert "CNNPRACTICE_FUSED" not in os.environ  # the switch is restored


@pytest.mark.gpu
@needs_cuda
def test_transforms_bench_on_cuda(tmp_path):
    tb = load("transforms")
    out = tmp_path / "tr.json"
    argv = ["--n", "100", "--length", "256", "--image-size", "32", "--repeats", "2", "--no-pyts", "--device", "cuda"]
    assert tb.main([*argv, "--json", str(out)]) == 0
    assert {r["device"] for r in json.loads(out.read_text())["rows"]} == {"cuda"}


LOG = """\
[Sun Nov 29 04:00:35 2026]
localrule fetch_ucr:
    output: resources/timeseries/GunPoint/train.npz, resources/timeseries/GunPoint/test.npz
    jobid: 9
[Sun Nov 29 04:00:35 2026]
localrule prepare_wordnet:
    output: resources/nltk_data/corpora/wordnet
    jobid: 3
[Sun Nov 29 04:00:37 2026]
Finished jobid: 9 (Rule: fetch_ucr)
[Sun Nov 29 04:00:37 2026]
rule train_brain:
    input: results/brain/slices/full/x.npy
    output: results/brain/full/fold0/model.ckpt, results/brain/full/fold0/test.json
    jobid: 12
[Sun Nov 29 04:00:41 2026]
Finished job 3.
[Sun Nov 29 04:01:40 2026]
Finished jobid: 12 (Rule: train_brain)
[Sun Nov 29 04:01:41 2026]
localrule plot_filters:
    output: results/smalldata/filters.png
    jobid: 40
"""


def test_dag_time_reads_jobs_from_the_log():
    dt = load("dag_time")
    jobs = dt.parse_log(LOG)
    assert [(j["jobid"], j["rule"], j["study"], j["seconds"]) for j in jobs] == [
        (3, "prepare_wordnet", "semantic", 6.0),
        (9, "fetch_ucr", "timeseries", 2.0),
        (12, "train_brain", "brain", 63.0),
    ]  # job 40 never finished: left out
    summary = dt.summarise(jobs)
    assert summary["studies"]["brain"] == {"jobs": 1, "job_seconds": 63.0, "span_seconds": 63.0, "cpu_seconds": 0.0}
    assert list(summary["rules"]) == ["train_brain", "prepare_wordnet", "fetch_ucr"]
    assert dt.study_of("logs/x.log") == "other" and dt.study_of("results/elves/a.npz") == "elves"


@pytest.mark.parametrize("fail", [False, True], ids=["ok", "a_step_fails"])
def test_gpu_script_runs_each_step_and_reports_failures(tmp_path, fail):
    # the script's plumbing, with a stand-in for python that records its arguments
    stub = tmp_path / "python"
    exit_code = 'case "$1" in bench/*) exit 3;; esac' if fail else ""
    stub.write_text(f'#!/usr/bin/env bash\necho "$@" >> "$STUB_LOG"\n{exit_code}\n')
    stub.chmod(0o755)
    out, log = tmp_path / "out", tmp_path / "calls.log"
    env = {**os.environ, "PYTHON": str(stub), "OUT": str(out), "STUB_LOG": str(log)}
    proc = subprocess.run(["bash", str(BENCH / "gpu_bench.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == (1 if fail else 0), proc.stdout + proc.stderr
    calls = [line for line in log.read_text().splitlines() if line.startswith("bench/")]
    assert [c.split()[0] for c in calls] == ["bench/training_efficiency.py"] * 2 + ["bench/transforms.py"]
    assert all("--device cuda" in c for c in calls) and "--compile off on" in calls[1]
    tables = {"machine.txt", "training_paper.txt", "training_compiled.txt", "transforms.txt"}
    assert {p.name for p in out.iterdir()} >= tables


def test_gpu_script_stops_at_once_without_cuda(tmp_path):
    # a stand-in python whose torch sees no CUDA device: exit 2 with a message, nothing run
    stub = tmp_path / "python"
    stub.write_text('#!/usr/bin/env bash\necho "$@" >> "$STUB_LOG"\ncase "$1" in -c) exit 1;; esac\n')
    stub.chmod(0o755)
    out, log = tmp_path / "out", tmp_path / "calls.log"
    env = {**os.environ, "PYTHON": str(stub), "OUT": str(out), "STUB_LOG": str(log)}
    proc = subprocess.run(["bash", str(BENCH / "gpu_bench.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr, proc.stdout + proc.stderr
    assert not out.exists() and not any(line.startswith("bench/") for line in log.read_text().splitlines())


def test_dag_time_reads_cpu_seconds_from_the_jobs_logs(tmp_path):
    dt = load("dag_time")
    from cnnpractice.workflow import CPU_PREFIX

    assert dt.CPU_PREFIX == CPU_PREFIX  # the bench reads what log_to writes
    log = LOG.replace("    jobid: 12", "    log: logs/train_brain/full.log\n    jobid: 12")
    (tmp_path / "logs" / "train_brain").mkdir(parents=True)
    (tmp_path / "logs" / "train_brain" / "full.log").write_text(f"Epoch 3\n{CPU_PREFIX}41.50\n")
    jobs = dt.add_cpu(dt.parse_log(log), tmp_path)
    assert [j["cpu_seconds"] for j in jobs] == [None, None, 41.5]  # no log line: no CPU
    summary = dt.summarise(jobs)
    assert summary["studies"]["brain"]["cpu_seconds"] == 41.5 and summary["studies"]["semantic"]["cpu_seconds"] == 0
    assert summary["rules"]["train_brain"]["cpu_seconds"] == 41.5
    assert dt.children_cpu() >= 0
