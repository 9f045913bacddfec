"""Benchmark the torch time-series imaging transforms against pyts and the memory limit.

Times :func:`cnnpractice.timeseries.transforms.make_images` (float32 images, the
workflow's code path) on CPU (each requested thread count) or CUDA, and the equivalent
pyts estimators (on CPU, single-threaded: its numba kernels are not parallel) on the same
random walks, for GASF, GADF, MTF, RP and the GASF+GADF+MTF stack. For each it prints:

* ours: milliseconds and series/s, best of ``--repeats`` after two warm-up calls;
* ``x limit``: our time as a multiple of the *write limit*, the time to allocate a
  fresh float32 buffer of the same shape the same way and fill it (measured right
  before, best of several; see ``bench/hardware.py``), the least any function that
  returns new images must spend; ``x hot`` the same against filling a buffer that is
  in cache (the cache's write bandwidth, a lower floor than any pipeline sees);
* pyts's series/s, our speed-up over it, and the largest difference of the images.

On CPU, float32 GASF/GADF and distance plots come from the fused numba kernels
(``path`` fused); ``--paths fused torch`` also times the torch path they replace
(``CNNPRACTICE_FUSED=0``, same images) for comparison. The other transforms have one path.

Every timed call (ours, pyts's and the limit's) starts with cold caches: a 128 MiB
buffer (512 MiB on CUDA) is written before it, untimed, as other data would pass
through the caches between chunks of a real run. ``--clock cpu`` times CPU seconds
(steadier on a shared machine; pyts and ``--threads 1`` use one thread). pyts's import
(numba compilation, ~20 s) is timed separately and excluded.

    python bench/transforms.py --n 1000 --length 1024 --image-size 64 --repeats 5
    python bench/transforms.py --device cuda --json out/transforms.json
    python bench/transforms.py --check --max-limit 1.5 --min-ratio 30

With ``--check`` the exit status is 1 when a ratio to pyts is below ``--min-ratio``, or
(with ``--max-limit``) GASF, GADF or RP take more than that multiple of the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import CLOCKS, CacheFlush, best_seconds, load_average, machine_line, synchronize, write_limit  # noqa: E402

from cnnpractice.timeseries.transforms import make_images  # noqa: E402

# name -> channels of make_images
CASES = {
    "gasf": ["gasf"],
    "gadf": ["gadf"],
    "mtf": ["mtf"],
    "rp": ["rp"],
    "rp_binary": ["rp_binary"],
    "gasf+gadf+mtf": ["gasf", "gadf", "mtf"],
}
PARAMS = {"mtf": {"n_bins": 8, "strategy": "quantile"}, "rp_binary": {"threshold": "point", "percentage": 10}}
#: The transforms that only read a reduced series and write the image (memory-bound).
STREAMING = ("gasf", "gadf", "rp")
#: The channels the fused CPU kernels compute (the others have only the torch path).
FUSED = ("gasf", "gadf", "rp")


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="number of series")
    parser.add_argument("--length", type=int, default=1024, help="series length")
    parser.add_argument("--image-size", type=int, default=64, help="image side")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case (best is kept)")
    parser.add_argument("--device", default="cpu", help="where ours runs: cpu, cuda or auto")
    parser.add_argument(
        "--threads",
        nargs="+",
        default=["1", "default"],
        help="torch CPU thread counts to time ours with ('default' = torch's default)",
    )
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument(
        "--paths",
        nargs="+",
        default=["fused"],
        choices=["fused", "torch"],
        help="CPU code paths to time: fused (numba kernels, the default) and/or torch (CNNPRACTICE_FUSED=0)",
    )
    parser.add_argument("--no-pyts", action="store_true", help="skip pyts (no ratios, no differences)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall", help="cpu: CPU seconds (see above)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--min-ratio", type=float, default=5.0, help="least speed-up over pyts (--check)")
    parser.add_argument("--max-limit", type=float, default=None, help="most multiple of the limit (--check)")
    args = parser.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    if args.clock == "cpu" and args.device != "cpu":
        parser.error("--clock cpu measures CPU work: use it with --device cpu")
    return args


def random_walks(n: int, length: int, seed: int) -> np.ndarray:
    """Cumulative sums of standard normal steps, float32, shape (n, length)."""
    return np.random.default_rng(seed).standard_normal((n, length)).cumsum(axis=1).astype(np.float32)


def best_time(fn: Callable[[], object], repeats: int, device="cpu", clock: str = "wall") -> tuple[float, object]:
    """Best time of ``repeats`` cold-cache calls after two warm-up calls, and the last result.

    Two warm-up calls let the memory allocator settle: pyts's first calls on a
    new array size are up to 3x slower than its steady state.
    """
    result = None

    def call():
        nonlocal result
        result = fn()

    return best_seconds(call, repeats, device, 2, clock, before=CacheFlush(device)), result


def pyts_functions(image_size: int) -> tuple[dict[str, Callable[[np.ndarray], np.ndarray]], float]:
    """pyts equivalents of each case, and the time its import took."""
    start = time.perf_counter()
    from pyts.approximation import PiecewiseAggregateApproximation
    from pyts.image import GramianAngularField, MarkovTransitionField, RecurrencePlot

    import_s = time.perf_counter() - start

    def gasf(X):
        return GramianAngularField(image_size=image_size, method="summation").fit_transform(X)

    def gadf(X):
        return GramianAngularField(image_size=image_size, method="difference").fit_transform(X)

    def mtf(X):
        return MarkovTransitionField(image_size=image_size, **PARAMS["mtf"]).fit_transform(X)

    def rp(X, **params):
        reduced = PiecewiseAggregateApproximation(
            window_size=None, output_size=image_size, overlapping=False
        ).fit_transform(X)
        return RecurrencePlot(**params).fit_transform(reduced)

    functions = {
        "gasf": lambda X: gasf(X)[:, None],
        "gadf": lambda X: gadf(X)[:, None],
        "mtf": lambda X: mtf(X)[:, None],
        "rp": lambda X: rp(X, threshold=None)[:, None],
        "rp_binary": lambda X: rp(X, **PARAMS["rp_binary"])[:, None],
        "gasf+gadf+mtf": lambda X: np.stack([gasf(X), gadf(X), mtf(X)], axis=1),
    }
    return functions, import_s


def time_ours(X_dev: torch.Tensor, case: str, args, device: torch.device, path: str = "fused") -> dict:
    """Our time for one case on one code path and the write limit measured right before it."""
    shape = (args.n, len(CASES[case]), args.image_size, args.image_size)
    limit = write_limit(shape, torch.float32, device, repeats=max(5, args.repeats))
    previous = os.environ.get("CNNPRACTICE_FUSED")
    os.environ["CNNPRACTICE_FUSED"] = "1" if path == "fused" else "0"
    try:
        seconds, images = best_time(
            lambda: make_images(X_dev, CASES[case], args.image_size, PARAMS), args.repeats, device
        )
    finally:
        if previous is None:
            del os.environ["CNNPRACTICE_FUSED"]
        else:
            os.environ["CNNPRACTICE_FUSED"] = previous
    return {
        "transform": case,
        "path": path,
        "device": str(device),
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "seconds": seconds,
        "series_per_s": args.n / seconds,
        "limit_s": limit["cold"],
        "hot_limit_s": limit["hot"],
        "bytes": limit["bytes"],
        "x_limit": seconds / limit["cold"],
        "x_hot_limit": seconds / limit["hot"],
        "load_average": load_average(),
        "clock": args.clock,
        "images": images,
    }


def main(argv=None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    device = torch.device(args.device)
    X = random_walks(args.n, args.length, args.seed)
    X_dev = torch.from_numpy(X).to(device)
    default_threads = torch.get_num_threads()
    if device.type == "cpu":
        thread_counts = sorted({default_threads if t == "default" else int(t) for t in args.threads})
    else:
        thread_counts = [default_threads]
    warnings.filterwarnings("ignore", message="Some quantiles are equal")
    print(
        f"data: {args.n} random walks of length {args.length}, image size {args.image_size}, "
        f"best of {args.repeats}, cold caches, clock: {args.clock}; ours on {device}\n{machine_line(device)}"
    )
    pyts_results = {}
    if not args.no_pyts:
        functions, import_s = pyts_functions(args.image_size)
        print(f"pyts import: {import_s:.2f} s (excluded); pyts runs on the CPU, single-threaded")
        for case in args.cases:
            pyts_results[case] = best_time(lambda case=case: functions[case](X), args.repeats, clock=args.clock)

    header = (
        f"\n{'transform':<14} {'path':<6} {'threads':>7} {'ours ms':>8} {'limit ms':>8} {'x limit':>7} {'x hot':>6} "
        f"{'ours series/s':>13} {'pyts series/s':>13} {'ratio':>7} {'max|diff|':>9} {'load':>5}"
    )
    print(header)
    print("-" * len(header))
    rows, failures = [], []
    paths = args.paths if device.type == "cpu" else ["torch"]
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for case, path in [(case, path) for case in args.cases for path in paths]:
            has_fused = any(channel in FUSED for channel in CASES[case])
            if path == "torch" and "fused" in paths and not has_fused:
                continue  # one path only: already timed
            row = time_ours(X_dev, case, args, device, path)
            path = path if has_fused else "torch"
            row["path"] = path
            images = row.pop("images")
            pyts_cell, ratio_cell, diff_cell = "", "", ""
            if case in pyts_results:
                pyts_seconds, pyts_images = pyts_results[case]
                synchronize(device)
                diff = float(np.abs(images.cpu().numpy().astype(np.float64) - pyts_images).max())
                row.update(pyts_seconds=pyts_seconds, ratio=pyts_seconds / row["seconds"], max_abs_diff=diff)
                pyts_cell = f"{args.n / pyts_seconds:,.0f}"
                ratio_cell, diff_cell = f"{row['ratio']:.1f}x", f"{diff:.2e}"
                if row["ratio"] < args.min_ratio:
                    failures.append(f"{case} {path} ({threads} threads): {row['ratio']:.1f}x pyts < {args.min_ratio}x")
            checked = (path == "fused" or "fused" not in paths) and case in STREAMING
            if args.max_limit is not None and checked and row["x_limit"] > args.max_limit:
                failures.append(
                    f"{case} {path} ({threads} threads): {row['x_limit']:.2f}x the limit > {args.max_limit}x"
                )
            rows.append(row)
            print(
                f"{case:<14} {path:<6} {row['threads'] or '-':>7} {1e3 * row['seconds']:>8.2f} "
                f"{1e3 * row['limit_s']:>8.2f} "
                f"{row['x_limit']:>7.2f} {row['x_hot_limit']:>6.2f} {row['series_per_s']:>13,.0f} "
                f"{pyts_cell:>13} {ratio_cell:>7} {diff_cell:>9} {row['load_average']:>5.2f}",
                flush=True,
            )
    torch.set_num_threads(default_threads)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps({"machine": machine_line(device), "args": vars(args) | {"json": None}, "rows": rows}))
        tmp.replace(args.json)
    if args.check and failures:
        print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
