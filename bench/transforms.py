"""Benchmark the torch time-series imaging transforms against pyts on CPU.

Times :func:`cnnpractice.timeseries.transforms.make_images` (float32 images,
the workflow's code path) and the equivalent pyts estimators on the same
random-walk data, for GASF, GADF, MTF, RP and the GASF+GADF+MTF stack, and
prints series/s for both and their ratio. pyts's import (numba compilation)
is timed separately and excluded. pyts runs single-threaded (its numba
kernels are not parallel); ours runs with each requested torch thread count.

Usage::

    python bench/transforms.py --n 1000 --length 1024 --image-size 64 --repeats 3 [--check]

With ``--check`` the exit status is 1 when any measured ratio is below
``--min-ratio`` (default 5).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

try:
    from cnnpractice.timeseries.transforms import make_images
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from cnnpractice.timeseries.transforms import make_images

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


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="number of series")
    parser.add_argument("--length", type=int, default=1024, help="series length")
    parser.add_argument("--image-size", type=int, default=64, help="image side")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (best is kept)")
    parser.add_argument(
        "--threads",
        nargs="+",
        default=["1", "default"],
        help="torch thread counts to time ours with ('default' = torch's default)",
    )
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="exit 1 if any ratio < --min-ratio")
    parser.add_argument("--min-ratio", type=float, default=5.0)
    return parser.parse_args(argv)


def random_walks(n: int, length: int, seed: int) -> np.ndarray:
    """Cumulative sums of standard normal steps, float32, shape (n, length)."""
    return np.random.default_rng(seed).standard_normal((n, length)).cumsum(axis=1).astype(np.float32)


def best_time(fn: Callable[[], object], repeats: int, warmup: int = 2) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls after ``warmup`` untimed calls, and the last result.

    Two warm-up calls let the memory allocator settle: pyts's first calls on a
    new array size are up to 3x slower than its steady state.
    """
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


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


def main(argv=None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    X = random_walks(args.n, args.length, args.seed)
    X_torch = torch.from_numpy(X)
    default_threads = torch.get_num_threads()
    thread_counts = sorted({default_threads if t == "default" else int(t) for t in args.threads})
    warnings.filterwarnings("ignore", message="Some quantiles are equal")

    functions, import_s = pyts_functions(args.image_size)
    print(
        f"data: {args.n} random walks of length {args.length}, image size {args.image_size}, "
        f"best of {args.repeats}; torch {torch.__version__}, default threads {default_threads}"
    )
    print(f"pyts import: {import_s:.2f} s (excluded)\n")

    pyts_results = {}
    for case in args.cases:
        seconds, images = best_time(lambda case=case: functions[case](X), args.repeats)
        pyts_results[case] = (seconds, images)

    header = (
        f"{'transform':<15} {'threads':>7} {'ours series/s':>14} {'pyts series/s':>14} {'ratio':>7} {'max|diff|':>10}"
    )
    print(header)
    print("-" * len(header))
    worst = np.inf
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for case in args.cases:
            seconds, images = best_time(
                lambda case=case: make_images(X_torch, CASES[case], args.image_size, PARAMS), args.repeats
            )
            pyts_seconds, pyts_images = pyts_results[case]
            ratio = pyts_seconds / seconds
            worst = min(worst, ratio)
            diff = float(np.abs(images.numpy().astype(np.float64) - pyts_images).max())
            print(
                f"{case:<15} {threads:>7} {args.n / seconds:>14,.0f} {args.n / pyts_seconds:>14,.0f} "
                f"{ratio:>6.1f}x {diff:>10.2e}"
            )
    torch.set_num_threads(default_threads)
    print(f"\nlowest ratio: {worst:.1f}x (pyts is single-threaded)")
    if args.check and worst < args.min_ratio:
        print(f"FAIL: a ratio is below {args.min_ratio}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
