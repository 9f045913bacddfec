"""Speed of the elves simulator: events per second, per class, on one core.

Simulates ``--n`` events of each class with the default config's elves settings (or
``--config``) and prints events/s per class and for the configured class mix, plus the
time of one elve at several sub-ray counts (the layer integral's resolution).

    python bench/elves_simulator.py --n 200
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from cnnpractice.elves import simulate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def settings_from(config: Path) -> dict:
    section = yaml.safe_load(config.read_text())["elves"]
    keys = ("sites", "eyes", "reference_site", "layer_altitude_km", "atmosphere", "emission", "readout", "events")
    return {k: section[k] for k in (*keys, "nuisances", "backgrounds") if k in section}


def events_per_second(settings: dict, n: int, shares: dict) -> float:
    settings = copy.deepcopy(settings)
    settings["events"]["classes"] = shares
    t0 = time.perf_counter()
    for _ in simulate.simulate_events(settings, n, seed=0, split="bench", shard=0):
        pass
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="events per class")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    args = parser.parse_args()
    settings = settings_from(args.config)
    print(f"movie per event: {simulate.movie_shape(simulate.build_detector(settings), settings)}")
    for name in simulate.CLASSES:
        shares = {c: float(c == name) for c in simulate.CLASSES}
        print(f"{name:>7}: {events_per_second(settings, args.n, shares):7.1f} events/s")
    mix = settings["events"]["classes"]
    print(f"    mix: {events_per_second(settings, args.n, mix):7.1f} events/s  ({mix})")
    detector = simulate.build_detector(settings)
    stroke = detector.stroke_position(150.0, 300.0)
    for n in (2, 4, 8):
        t0 = time.perf_counter()
        for _ in range(10):
            simulate.elve_signal(detector, settings, stroke, 100.0, rng=np.random.default_rng(0), subrays=n)
        print(f"one elve, {n}x{n} rays per pixel: {(time.perf_counter() - t0) / 10 * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
