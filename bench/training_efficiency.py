"""Training efficiency of each study's main network, against the machine's matmul peak.

For every network at its default (config/config.yaml) and paper (config/paper.yaml) size:
time full training steps (forward, cross-entropy, backward, AdamW) on random data that
already sits on the device, count the step's FLOPs with ``torch.utils.flop_counter``, and
report the achieved FLOP/s as a fraction of the dense matmul peak measured in the same
process right before and after (the better of the two; fp32 products on CPU, the
autocast dtype's products on CUDA). Data loading is not part of it: this is the compute
ceiling a training job can approach.

FLOPs are the *model's*: convolutions and linear layers, forward and backward (the
first convolution's input gradient is not needed and not counted). AlexNet's local
response normalisation is left out of the count (it is elementwise work; its window sums
are computed as a banded matrix product that would otherwise count ~0.3 GFLOP per
227 px image), so every implementation of it is measured against the same work.

    python bench/training_efficiency.py --quick
    python bench/training_efficiency.py --networks alexnet --sizes paper --channels-last off on
    python bench/training_efficiency.py --device cuda --amp bf16 --channels-last on --compile off on

Settings (each flag takes one or more values; every combination is timed):
``--amp`` none | bf16 (autocast), ``--channels-last`` on (the models' own layout, see
:mod:`cnnpractice.models`) | off (NCHW), ``--compile`` off | on (``torch.compile``; its
compile time is reported), ``--fused-adam`` on (what the training module uses) | off.
``--clock cpu`` times CPU seconds instead of wall seconds: on a machine shared with other
jobs, with ``--threads 1``, that measures the work itself.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from efficiency_cases import CASES, NETWORKS, QUICK, Case  # noqa: E402
from hardware import CLOCKS, load_average, machine_line, matmul_peak, synchronize  # noqa: E402

from cnnpractice.models import REGISTRY, build_model, to_channels_last  # noqa: E402
from cnnpractice.models.alexnet import ChannelLRN  # noqa: E402

#: Layers whose work is not counted as model FLOPs (see the module docstring).
UNCOUNTED = (ChannelLRN,)


@dataclass(frozen=True)
class Settings:
    """How a step is run: autocast dtype (or none), memory layout, compilation, optimizer."""

    amp: str = "none"
    channels_last: bool = True
    compile: bool = False
    fused_adam: bool = True

    def describe(self) -> str:
        return " ".join(
            [
                "fp32" if self.amp == "none" else f"{self.amp}-autocast",
                "channels_last" if self.channels_last else "NCHW",
                "compiled" if self.compile else "eager",
                "fused-AdamW" if self.fused_adam else "AdamW",
            ]
        )


AMP_DTYPES = {"none": torch.float32, "bf16": torch.bfloat16}


def build(case: Case, device="cpu", channels_last: bool = True) -> torch.nn.Module:
    """The case's network (seeded), on ``device``, in training mode: channels-last as
    :func:`~cnnpractice.models.build_model` builds it, or with ``channels_last=False``
    NCHW, as the registry's class alone builds it."""
    spec = dict(case.spec)
    torch.manual_seed(0)
    net = REGISTRY[spec.pop("name")](**spec)
    if channels_last:
        to_channels_last(net)
    return net.to(device).train()


def batch(case: Case, device="cpu", n: int | None = None):
    """Random inputs (n, *example) and labels on ``device`` (NCHW, as a data loader gives them)."""
    generator = torch.Generator().manual_seed(1)
    n = n or case.batch
    x = torch.randn(n, *case.example, generator=generator)
    y = torch.randint(0, case.n_classes, (n,), generator=generator)
    return x.to(device), y.to(device)


def training_flops(case: Case) -> float:
    """Model FLOPs of one training step per example (forward + backward; see module doc).

    Counted on the ``meta`` device where the network can be built there (no arithmetic
    is done), else on the CPU, with the :data:`UNCOUNTED`
    layers replaced by identities.
    """
    device = "meta"
    try:
        with torch.device(device):
            net = build_model(case.spec)
    except (RuntimeError, NotImplementedError):  # a constructor that needs values
        device = "cpu"
        net = build_model(case.spec)
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, UNCOUNTED):
                setattr(module, name, torch.nn.Identity())
    x, y = batch(case, device, n=2)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(net(x), y).backward()
    return counter.get_total_flops() / 2


def make_step(net, optimizer, x, y, settings: Settings, device):
    """One training step as the workflow's ClassificationModule takes it."""
    device = torch.device(device)
    if settings.amp == "none":
        autocast = nullcontext
    else:
        dtype = AMP_DTYPES[settings.amp]

        def autocast():
            return torch.autocast(device.type, dtype=dtype)

    def step():
        with autocast():
            logits = net(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step


def time_case(
    case: Case,
    settings: Settings,
    device="cpu",
    steps: int = 3,
    warmup: int = 1,
    min_seconds: float = 1.0,
    clock: str = "wall",
) -> dict:
    """Time training steps; return seconds and images/s.

    At least ``warmup`` untimed steps run first, and more until ``min_seconds`` have
    passed (allocators, oneDNN primitive caches and cuDNN autotuning settle), then at
    least ``steps`` timed steps, and more until another ``min_seconds`` have passed (at
    most 200): a small network's step takes milliseconds. Steps are timed with ``clock``
    (see ``bench/hardware.py``). ``compile_s``: the first warm-up step (where
    ``torch.compile`` compiles, partly in other processes) less the median step, both by
    the wall clock.
    """
    now = CLOCKS[clock]
    device = torch.device(device)
    net = build(case, device, settings.channels_last)
    x, y = batch(case, device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=True if settings.fused_adam else None)
    model = torch.compile(net) if settings.compile else net
    step = make_step(model, optimizer, x, y, settings, device)

    def run(least: int) -> tuple[list[float], list[float]]:
        """Steps timed by ``clock``, and by the wall clock (compilation runs in other processes)."""
        times, walls, start = [], [], time.perf_counter()
        while len(times) < least or (time.perf_counter() - start < min_seconds and len(times) < 200):
            synchronize(device)
            t0, w0 = now(), time.perf_counter()
            loss = step()
            synchronize(device)
            times.append(now() - t0)
            walls.append(time.perf_counter() - w0)
            if len(times) == 1 and not torch.isfinite(loss):
                raise RuntimeError(f"{case.label}: non-finite loss with {settings.describe()}")
        return times, walls

    _, warm_walls = run(warmup)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timed, walls = run(steps)
    median = statistics.median(timed)
    compile_s = max(0.0, warm_walls[0] - statistics.median(walls))
    result = {
        "steps": len(timed),
        "best_step_s": min(timed),
        "median_step_s": median,
        "first_step_wall_s": warm_walls[0],
        "compile_s": compile_s if settings.compile else None,
        "images_per_s": case.batch / min(timed),
    }
    if device.type == "cuda":
        result["max_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def measure(
    case: Case,
    settings: Settings,
    device="cpu",
    steps: int = 3,
    warmup: int = 1,
    peak_repeats: int = 5,
    flops: float | None = None,
    min_seconds: float = 1.0,
    clock: str = "wall",
) -> dict:
    """One row: the step timing between two peak measurements (all by ``clock``), and the fractions."""
    device = torch.device(device)
    peak_dtype = AMP_DTYPES[settings.amp]
    flops = training_flops(case) if flops is None else flops
    peak_before = matmul_peak(device, peak_dtype, peak_repeats, clock=clock)
    load = load_average()
    timing = time_case(case, settings, device, steps, warmup, min_seconds, clock)
    peak = max(peak_before, matmul_peak(device, peak_dtype, peak_repeats, clock=clock))
    achieved = flops * timing["images_per_s"] / 1e9
    return {
        "network": case.network,
        "size": case.size,
        "example": list(case.example),
        "batch": case.batch,
        "settings": settings.describe(),
        **{f"setting_{k}": v for k, v in settings.__dict__.items()},
        "device": str(device),
        "threads": torch.get_num_threads(),
        "gflop_per_image": flops / 1e9,
        **timing,
        "achieved_gflops": achieved,
        "peak_gflops": peak,
        "peak_dtype": str(peak_dtype).removeprefix("torch."),
        "fraction_of_peak": achieved / peak,
        "load_average": load,
        "clock": clock,
    }


HEADER = (
    f"{'network':<22} {'batch':>5} {'img/s':>8} {'GFLOP/img':>9} {'GFLOP/s':>8} {'peak':>7} {'% peak':>6} "
    f"{'compile s':>9} {'load':>5}  settings"
)


def format_row(r: dict) -> str:
    """One table line of a :func:`measure` row."""
    compile_s = "" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
    return (
        f"{r['network'] + '/' + r['size']:<22} {r['batch']:>5} {r['images_per_s']:>8.1f} "
        f"{r['gflop_per_image']:>9.3f} {r['achieved_gflops']:>8.1f} {r['peak_gflops']:>7.0f} "
        f"{100 * r['fraction_of_peak']:>5.1f}% {compile_s:>9} {r['load_average']:>5.2f}  {r['settings']}"
    )


def summarise(rows: list[dict]) -> list[dict]:
    """One row per (network, size, settings) from repeated rounds: the best images/s and
    the best peak of its rounds (each the least disturbed by other work), their ratio,
    the mean load; the rounds themselves under ``rounds``."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["network"], row["size"], row["settings"]), []).append(row)
    out = []
    for group in groups.values():
        best = dict(max(group, key=lambda r: r["images_per_s"]))
        best["peak_gflops"] = max(r["peak_gflops"] for r in group)
        best["fraction_of_peak"] = best["achieved_gflops"] / best["peak_gflops"]
        best["load_average"] = statistics.mean(r["load_average"] for r in group)
        best["rounds"] = [{k: r[k] for k in ("images_per_s", "peak_gflops", "load_average")} for r in group]
        out.append(best)
    return out


def save(path: Path | None, rows: list[dict], machine: str) -> None:
    """Write the rows (and the machine line) to ``path`` as JSON, atomically; nothing without a path."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    tmp.replace(path)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (cuda when there is one)")
    parser.add_argument("--networks", nargs="+", default=NETWORKS, choices=NETWORKS)
    parser.add_argument("--sizes", nargs="+", default=["default", "paper"], choices=["default", "paper"])
    parser.add_argument("--quick", action="store_true", help="default sizes and AlexNet at 227 px; 2 timed steps")
    parser.add_argument("--amp", nargs="+", default=None, choices=list(AMP_DTYPES), help="default: bf16 on CUDA")
    parser.add_argument(
        "--channels-last", nargs="+", default=["on"], choices=["off", "on"], help="on: as build_model builds them"
    )
    parser.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"])
    parser.add_argument("--fused-adam", nargs="+", default=["on"], choices=["off", "on"])
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 3; 2 with --quick)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (compilation happens here)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="least warm-up and timed seconds each")
    parser.add_argument("--batch", type=int, default=None, help="batch size for every network (default: config's)")
    parser.add_argument("--peak-repeats", type=int, default=5)
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat every (network, settings) this often, interleaved; summarise"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--clock", choices=list(CLOCKS), default="wall", help="cpu: CPU seconds (steadier on a busy machine, 1 thread)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--min-fraction", type=float, default=None, help="exit 1 if a row is below this")
    args = parser.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    if args.amp is None:
        args.amp = ["bf16"] if args.device.startswith("cuda") else ["none"]
    if args.clock == "cpu" and args.device != "cpu":
        parser.error("--clock cpu measures CPU work: use it with --device cpu")
    if args.steps is None:
        args.steps = 2 if args.quick else 3
    return args


def selected_cases(args) -> list[Case]:
    pool = QUICK if args.quick else CASES
    cases = [c for c in pool if c.network in args.networks and c.size in args.sizes]
    return [replace(c, batch=args.batch) for c in cases] if args.batch else cases


def all_settings(args) -> list[Settings]:
    on = {"on": True, "off": False}
    return [
        Settings(amp, on[cl], on[comp], on[fused])
        for amp, cl, comp, fused in itertools.product(args.amp, args.channels_last, args.compile, args.fused_adam)
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cases, settings = selected_cases(args), all_settings(args)
    if not cases:
        print("no case selected (see --networks, --sizes, --quick)", file=sys.stderr)
        return 2
    print(machine_line(args.device) + f"; clock: {args.clock}")
    print(f"{len(cases)} networks x {len(settings)} settings; best of {args.steps} steps after {args.warmup} warm-up\n")
    print(HEADER)
    print("-" * len(HEADER))
    rows = []
    flops = {case: training_flops(case) for case in cases}
    for _ in range(args.rounds):  # interleaved, so that drifting load hits every setting alike
        for case in cases:
            for s in settings:
                row = measure(
                    case,
                    s,
                    args.device,
                    args.steps,
                    args.warmup,
                    args.peak_repeats,
                    flops[case],
                    args.min_seconds,
                    args.clock,
                )
                rows.append(row)
                print(format_row(row), flush=True)
                save(args.json, rows, machine_line(args.device))  # what is done survives a timeout
    if args.rounds > 1:
        rows = summarise(rows)
        print(f"\nbest of {args.rounds} rounds (img/s and peak each the best of its rounds; load: their mean)")
        print(HEADER)
        print("-" * len(HEADER))
        for row in rows:
            print(format_row(row))
    save(args.json, rows, machine_line(args.device))
    worst = min(r["fraction_of_peak"] for r in rows)
    if args.min_fraction is not None and worst < args.min_fraction:
        print(f"FAIL: a network reaches {100 * worst:.1f}% < {100 * args.min_fraction:.0f}% of peak", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
