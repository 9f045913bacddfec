"""Figures of the elves study: frames of a simulated elve, location errors by distance."""

from __future__ import annotations

import copy
import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.figures import pyplot, save_figure


def plot_elve_frames(
    *, shard: str | Path, out: str | Path, settings: Mapping[str, Any], n_frames: int = 8, seed: int = 0
) -> None:
    """Frames of the first elve of a simulated shard as the first eye's six cameras see it,
    at the cameras' own 22 x 120 pixels (no binning): the expected light (left) and one
    noisy readout of it (right), background subtracted."""
    from cnnpractice.elves.simulate import CLASSES, add_noise, build_detector, elve_signal, load_shards

    data = load_shards([shard], settings)
    elves = np.flatnonzero(data["label"] == CLASSES.index("elve"))
    if not len(elves):
        raise ValueError(f"{shard}: no elve to draw (elves.events.classes.elve is 0?)")
    i = int(elves[0])
    native = copy.deepcopy(dict(settings))
    native["readout"] = {**settings["readout"], "pixel_binning": 1}
    detector = build_detector(native)
    stroke = detector.stroke_position(data["east_km"][i], data["north_km"][i])
    signal, _ = elve_signal(
        detector, native, stroke, float(data["current_ka"][i]), window_start_us=data["window_start_us"][i]
    )
    readout = native["readout"]
    background = readout["background_pe_per_us"] * readout["time_bin_us"]
    noisy = add_noise(signal, native, np.random.default_rng(seed)).astype(np.float32) - background
    frames = np.linspace(0, signal.shape[1] - 1, n_frames).round().astype(int)
    plt = pyplot()
    fig, axes = plt.subplots(n_frames, 2, figsize=(14, 1.45 * n_frames + 0.8), squeeze=False)
    eye = detector.eyes[0]
    extent = (eye.bearing_deg - 90, eye.bearing_deg + 90, 1.5, 30.1)
    vmax = float(np.percentile(signal[0], 99.9)) or 1.0
    for row, k in enumerate(frames):
        t0 = k * readout["time_bin_us"]
        for col, (movie, name) in enumerate(((signal, "expected"), (noisy, "with noise"))):
            ax = axes[row, col]
            ax.imshow(movie[0, k], origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=0, vmax=vmax)
            for edge in np.arange(1, 6) * 30 + extent[0]:
                ax.axvline(edge, color="white", lw=0.4, alpha=0.5)
            ax.set_yticks([5, 15, 25])
            ax.text(
                0.005,
                0.85,
                f"{name}, {t0:.0f}-{t0 + readout['time_bin_us']:.0f} us",
                transform=ax.transAxes,
                color="white",
                fontsize=8,
            )
            if row < n_frames - 1:
                ax.set_xticklabels([])
    axes[-1, 0].set_xlabel("bearing (deg from north)")
    axes[-1, 1].set_xlabel("bearing (deg from north)")
    fig.suptitle(
        f"Simulated elve seen by {eye.name} (6 telescopes, 22 x 120 pixels): stroke "
        f"{data['distance_km'][i]:.0f} km away at bearing {data['bearing_deg'][i]:.0f} deg, "
        f"{data['current_ka'][i]:.0f} kA; elevation (deg) vertical, pe per pixel and bin",
        fontsize=10,
    )
    fig.tight_layout()
    save_figure(fig, out, dpi=110)


def plot_location_errors(*, events_csv: str | Path, out: str | Path) -> None:
    """Location error of every held-out elve against its distance: the CNN and the timing fit,
    one eye and stereo, one panel per held-out split (with nuisances, without)."""
    with open(events_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{events_csv}: no events")
    splits = list(dict.fromkeys(r["split"] for r in rows))
    series = [
        c[: -len("_error_km")] for c in rows[0] if c.endswith("_error_km") and not c.endswith("distance_error_km")
    ]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(splits), figsize=(7 * len(splits), 4.5), squeeze=False, sharey=True)
    labels = {"test": "with nuisances (mismatched)", "nominal": "nominal physics (matched)"}
    for ax, split in zip(axes[0], splits):
        chosen = [r for r in rows if r["split"] == split]
        distance = np.array([float(r["distance_km"]) for r in chosen])
        for name in series:
            error = np.array([float(r[f"{name}_error_km"]) for r in chosen])
            finite = np.isfinite(error)
            marker = "o" if name.startswith("cnn") else "x"
            median = np.median(np.where(finite, error, np.inf))
            ax.scatter(
                distance[finite],
                np.maximum(error[finite], 1e-2),
                s=8,
                marker=marker,
                alpha=0.6,
                label=f"{name.replace('_', ' ')} (median {median:.1f} km, {int((~finite).sum())} failed)",
            )
        ax.set_yscale("log")
        ax.set_xlabel("distance of the stroke from the first eye (km)")
        ax.set_title(labels.get(split, split))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("location error (km)")
    fig.suptitle("Lightning location from the elve: CNN vs timing fit, one eye vs stereo (held-out elves)")
    fig.tight_layout()
    save_figure(fig, out, dpi=110)
