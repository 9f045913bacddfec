"""Time as channels (2D CNN) against 3D convolutions, for the elves locator.

Simulates ``--train`` elves (and ``--test`` held-out ones) with the default config's elves
settings, trains the locator CNN for ``--epochs`` in both modes (same seed, same data, same
training settings) and prints seconds per epoch and the median location error (km) of each.
The default config's choice of ``cnn.mode`` came from this comparison (README).

    python bench/elves_cnn_modes.py --train 1500 --test 300 --epochs 30
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from cnnpractice.elves import simulate  # noqa: E402
from cnnpractice.elves.training import train_locator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODES = {"channels": [32, 64, 96], "conv3d": [8, 16, 32]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1500)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["elves"]
    settings = {
        k: copy.deepcopy(config[k])
        for k in ("sites", "eyes", "reference_site", "layer_altitude_km", "atmosphere", "emission", "readout", "events")
    }
    settings["events"]["classes"] = {"elve": 1.0, "shower": 0.0, "noise": 0.0}
    training = {**config["training"], **config["locator"]["training"], "max_epochs": args.epochs}
    trainer = {"accelerator": "cpu", "devices": 1, "precision": "32-true", "deterministic": True, "progress_bar": False}
    with tempfile.TemporaryDirectory() as tmp:
        shards = {}
        for split, n in (("train", args.train), ("test", args.test)):
            shards[split] = [f"{tmp}/{split}.npz"]
            simulate.simulate_shard(
                out=shards[split][0], settings=settings, seed=0, split=split, shard=0, first_event=0, n_events=n
            )
        for mode, widths in MODES.items():
            cnn = {**config["cnn"], "mode": mode, "widths": widths}
            t0 = time.perf_counter()
            result = train_locator(
                train_shards=shards["train"],
                test_shards=shards["test"],
                out_dir=f"{tmp}/{mode}",
                settings=settings,
                cnn=cnn,
                training=training,
                loss=config["locator"]["loss"],
                trainer=trainer,
                seed=0,
            )
            seconds = time.perf_counter() - t0
            y, p = np.array(result["y_true"]), np.array(result["y_pred"])
            error = np.hypot(p[:, 0] - y[:, 0], p[:, 1] - y[:, 1])
            print(
                json.dumps(
                    {
                        "mode": mode,
                        "widths": widths,
                        "seconds": round(seconds, 1),
                        "seconds_per_epoch": round(seconds / args.epochs, 2),
                        "median_km": round(float(np.median(error)), 2),
                        "p90_km": round(float(np.percentile(error, 90)), 2),
                    }
                )
            )


if __name__ == "__main__":
    main()
