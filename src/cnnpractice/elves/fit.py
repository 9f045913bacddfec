"""The analytic baseline: lightning location from the timing of the elve's light front.

1. :func:`first_light` - per pixel, the time the trace first rises above the background by
   ``threshold_sigma`` for ``min_bins`` consecutive bins (background level and noise from
   the median and MAD of the whole movie), interpolated linearly between bin centres.
2. :func:`fit_times` - least squares (scipy ``least_squares``, robust soft-L1 loss) of the
   stroke's (east, north, t0) to the arrival-time model: a pixel's first light comes from
   the earliest of the layer points it sees, t0 + min_k (|S - P_k| + |P_k - E|) / c, with
   P_k the layer points of a grid of directions inside the pixel. The start is the best
   point of a grid of bearings and distances from the first eye (t0 from the median
   residual), so the fit needs no prior beyond a box of +-1500 km around the first eye.
3. :func:`estimate_current` - with the position fixed, the peak current follows from the
   light: the forward model's expected movie for 100 kA at that position and time, summed
   over the pixels it lights, against the background-subtracted data; light goes as
   I^current_exponent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from cnnpractice.elves.geometry import C_KM_PER_US, EYE_FOV_DEG, Detector, ground_point, map_coordinates
from cnnpractice.io import save_npz

log = logging.getLogger("cnnpractice.elves")

FIT_SUBRAYS = 2  # directions per native pixel side in the first-light model
GRID_BEARING_STEP_DEG = 2.0
GRID_DISTANCES_KM = np.arange(50.0, 1201.0, 20.0)
GRID_MAX_PIXELS = 40  # per eye, for the start grid
REFERENCE_KA = 100.0
SEARCH_RADIUS_KM = 1500.0  # elves are seen up to ~1000 km away


def first_light(movie: np.ndarray, time_bin_us: float, threshold_sigma: float, min_bins: int):
    """Per-pixel time of first light of one eye's movie (T, rows, columns).

    Returns the flat pixel indices that saw light and their times (us from the window's
    start). A pixel whose first ``min_bins`` bins are already above threshold gets the
    first bin's centre.
    """
    trace = np.asarray(movie, dtype=np.float64).reshape(movie.shape[0], -1)
    level = np.median(trace)
    sigma = 1.4826 * np.median(np.abs(trace - level)) or 1.0
    threshold = level + threshold_sigma * sigma
    above = trace > threshold
    run = above[: len(above) - min_bins + 1].copy()
    for j in range(1, min_bins):
        run &= above[j : len(above) - min_bins + 1 + j]
    seen = run.any(axis=0)
    pixels = np.flatnonzero(seen)
    k = run[:, pixels].argmax(axis=0)
    lo = trace[np.maximum(k - 1, 0), pixels]
    hi = trace[k, pixels]
    frac = np.where((k > 0) & (hi > lo), (threshold - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    times = (np.maximum(k - 1, 0) + 0.5 + np.where(k > 0, np.clip(frac, 0.0, 1.0), 0.0)) * time_bin_us
    return pixels, times


def first_light_maps(movies: np.ndarray, time_bin_us: float, threshold_sigma: float, min_bins: int) -> np.ndarray:
    """:func:`first_light` of many movies (N, T, rows, columns) at once: the time of first
    light (us from the window's start) of every pixel, NaN where there is none; (N, rows,
    columns). Model-free: it reads the movie only."""
    movies = np.asarray(movies, dtype=np.float32)
    n, steps = movies.shape[:2]
    trace = movies.reshape(n, steps, -1)
    level = np.median(trace.reshape(n, -1), axis=1)[:, None, None]
    sigma = 1.4826 * np.median(np.abs(trace - level).reshape(n, -1), axis=1)[:, None, None]
    threshold = level + threshold_sigma * np.where(sigma > 0, sigma, 1.0)
    above = trace > threshold
    run = above[:, : steps - min_bins + 1].copy()
    for j in range(1, min_bins):
        run &= above[:, j : steps - min_bins + 1 + j]
    seen = run.any(axis=1)
    k = run.argmax(axis=1)  # (n, pixels)
    lo = np.take_along_axis(trace, np.maximum(k - 1, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(trace, k[:, None], axis=1)[:, 0]
    threshold = threshold[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where((k > 0) & (hi > lo), (threshold - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    times = (np.maximum(k - 1, 0) + 0.5 + np.where(k > 0, np.clip(frac, 0.0, 1.0), 0.0)) * time_bin_us
    return np.where(seen, times, np.nan).reshape(n, *movies.shape[2:])


class TimingModel:
    """The arrival-time model of every binned pixel of the detector's eyes (fixed layer
    points, computed once), evaluated for candidate strokes."""

    def __init__(self, detector: Detector, subrays: int = FIT_SUBRAYS):
        self.detector = detector
        self.points, self.eye_distance = [], []
        for e in range(len(detector.eyes)):
            rays = detector.rays(e, subrays)
            order = np.argsort(rays["pixel"], kind="stable")
            n_pix = detector.image_shape[0] * detector.image_shape[1]
            self.points.append(rays["points"][order].reshape(n_pix, -1, 3))
            self.eye_distance.append(rays["distance"][order].reshape(n_pix, -1))

    def times(self, eye: int, pixels: np.ndarray, stroke: np.ndarray, t0: float) -> np.ndarray:
        """First-light times of ``pixels`` of eye ``eye`` for a ground stroke at ``stroke``."""
        path = np.linalg.norm(self.points[eye][pixels] - stroke, axis=-1) + self.eye_distance[eye][pixels]
        return t0 + path.min(axis=-1) / C_KM_PER_US

    def centre_times(self, eye: int, pixels: np.ndarray, strokes: np.ndarray) -> np.ndarray:
        """Arrival times (t0 = 0) via each pixel's mean layer point, for many strokes (S, 3):
        (S, len(pixels)); the cheap model of the start grid."""
        centre = self.points[eye][pixels].mean(axis=1)
        dist = self.eye_distance[eye][pixels].mean(axis=1)
        # |C - S|^2 = |C|^2 + |S|^2 - 2 C.S as one matrix product (cancellation ~1e-8 km^2: fine for a grid)
        square = (centre**2).sum(axis=1)[None] + (strokes**2).sum(axis=1)[:, None] - 2.0 * strokes @ centre.T
        return (np.sqrt(np.maximum(square, 0.0)) + dist[None]) / C_KM_PER_US


def _start_grid(model: TimingModel, observations) -> tuple[float, float, float]:
    """Best (east, north, t0) of a bearing x distance grid around the first eye."""
    detector = model.detector
    eye = detector.eyes[0]
    bearings = np.radians(
        np.arange(eye.bearing_deg - EYE_FOV_DEG / 2, eye.bearing_deg + EYE_FOV_DEG / 2 + 1e-9, GRID_BEARING_STEP_DEG)
    )
    b, d = np.meshgrid(bearings, GRID_DISTANCES_KM, indexing="ij")
    strokes = ground_point(eye, (d * np.sin(b)).ravel(), (d * np.cos(b)).ravel())
    # a spread-out subset of each eye's pixels is enough to rank the grid (and 5x cheaper)
    subsets = [
        np.unique(np.linspace(0, len(p) - 1, min(len(p), GRID_MAX_PIXELS)).astype(int)) for _, p, _ in observations
    ]
    residual = np.concatenate(
        [t[k][None, :] - model.centre_times(e, p[k], strokes) for (e, p, t), k in zip(observations, subsets)], axis=1
    )
    t0 = np.median(residual, axis=1)
    cost = np.median(np.abs(residual - t0[:, None]), axis=1)
    best = int(np.argmin(cost))
    east, north = map_coordinates(detector.reference, strokes[best])
    return float(east), float(north), float(t0[best])


def fit_times(model: TimingModel, observations, sigma_us: float = 1.0) -> dict[str, Any]:
    """Fit (east_km, north_km, t0_us) to first-light ``observations``: a list of
    (eye index, pixel indices, absolute times in us) per eye.

    Returns ``east_km``, ``north_km``, ``t0_us``, ``rms_us`` (of the residuals), ``n_pixels``
    and ``success`` (scipy's status > 0).
    """
    detector = model.detector
    n_pixels = int(sum(len(p) for _, p, _ in observations))

    def residuals(x):
        stroke = ground_point(detector.reference, x[0], x[1])
        return np.concatenate([(t - model.times(e, p, stroke, x[2])) / sigma_us for e, p, t in observations])

    start = _start_grid(model, observations)
    # the stroke stays within SEARCH_RADIUS_KM of the first eye (a box around it on the map)
    east0, north0 = map_coordinates(detector.reference, detector.eyes[0].position)
    bounds = (
        [east0 - SEARCH_RADIUS_KM, north0 - SEARCH_RADIUS_KM, -np.inf],
        [east0 + SEARCH_RADIUS_KM, north0 + SEARCH_RADIUS_KM, np.inf],
    )
    sol = least_squares(
        residuals,
        start,
        x_scale=[10.0, 10.0, 10.0],
        loss="soft_l1",
        f_scale=1.0,
        diff_step=1e-6,
        max_nfev=300,
        bounds=bounds,
    )
    return {
        "east_km": float(sol.x[0]),
        "north_km": float(sol.x[1]),
        "t0_us": float(sol.x[2]),
        "rms_us": float(np.sqrt(np.mean(sol.fun**2)) * sigma_us),
        "n_pixels": n_pixels,
        "success": bool(sol.status > 0),
    }


def estimate_current(
    detector: Detector,
    settings: Mapping[str, Any],
    movie: np.ndarray,
    stroke: np.ndarray,
    window_start_us: np.ndarray,
    eyes: Sequence[int] | None = None,
) -> float:
    """Peak current (kA) of a stroke at ``stroke`` firing at absolute time 0 whose readout
    windows opened at ``window_start_us``, from the light in ``movie`` (eyes, T, rows, cols)
    of the eyes ``eyes`` (all by default)."""
    from cnnpractice.elves.simulate import elve_signal

    eyes = list(range(len(detector.eyes))) if eyes is None else list(eyes)
    template, _ = elve_signal(detector, settings, stroke, REFERENCE_KA, window_start_us=window_start_us, eyes=eyes)
    template = template[eyes]
    data = np.asarray(movie, dtype=np.float64)[eyes]
    level = np.median(data, axis=(1, 2, 3), keepdims=True)
    lit = template > 0.01 * template.max() if template.max() > 0 else np.zeros(template.shape, bool)
    ratio = (data - level)[lit].sum() / template[lit].sum() if lit.any() else np.nan
    if not ratio > 0:
        return float("nan")
    return REFERENCE_KA * ratio ** (1.0 / settings["emission"]["current_exponent"])


def fit_event(
    model: TimingModel,
    settings: Mapping[str, Any],
    movie: np.ndarray,
    window_start_us: np.ndarray,
    threshold_sigma: float,
    min_bins: int,
    min_pixels: int,
    eyes: Sequence[int] | None = None,
) -> dict[str, Any]:
    """First light, timing fit and current of one event (movie: eyes, T, rows, cols), from
    the eyes ``eyes`` (default all: a joint, stereo fit when there are several)."""
    readout = settings["readout"]
    eyes = list(range(movie.shape[0])) if eyes is None else list(eyes)
    observations = []
    for e in eyes:
        pixels, times = first_light(movie[e], readout["time_bin_us"], threshold_sigma, min_bins)
        observations.append((e, pixels, times + window_start_us[e]))
    n_pixels = sum(len(p) for _, p, _ in observations)
    if n_pixels < min_pixels:
        return {
            "east_km": np.nan,
            "north_km": np.nan,
            "t0_us": np.nan,
            "rms_us": np.nan,
            "n_pixels": n_pixels,
            "success": False,
            "current_ka": np.nan,
        }
    result = fit_times(model, observations, sigma_us=readout["time_bin_us"] / 2)
    stroke = ground_point(model.detector.reference, result["east_km"], result["north_km"])
    result["current_ka"] = estimate_current(
        model.detector, settings, movie, stroke, np.asarray(window_start_us) - result["t0_us"], eyes
    )
    return result


def eye_sets(n_eyes: int) -> dict[str, list[int]]:
    """The fits of every event: ``mono`` (the first eye alone) and, with several eyes,
    ``stereo`` (all of them, one joint fit)."""
    sets = {"mono": [0]}
    if n_eyes > 1:
        sets["stereo"] = list(range(n_eyes))
    return sets


FIT_FIELDS = ("east_km", "north_km", "t0_us", "current_ka", "rms_us", "n_pixels", "success", "seconds")


def fit_shard(
    *,
    shard: str | Path,
    out: str | Path,
    settings: Mapping[str, Any],
    threshold_sigma: float,
    min_bins: int,
    min_pixels: int,
) -> dict[str, Any]:
    """Fit every elve of a simulated shard with the first eye alone (``mono``) and, with
    several eyes, with all of them (``stereo``); write ``event_id`` and, per eye set
    ``<set>``, the fitted ``<set>_east_km``, ``_north_km``, ``_t0_us`` (the stroke's time in
    the eyes' common clock, in which the truth is 0), ``_current_ka``, ``_rms_us``,
    ``_n_pixels``, ``_success`` and ``_seconds`` (per event) to ``out`` (.npz)."""
    from cnnpractice.elves.simulate import CLASSES, build_detector, load_shards

    data = load_shards([shard], settings)
    detector = build_detector(settings)
    model = TimingModel(detector)
    elves = np.flatnonzero(data["label"] == CLASSES.index("elve"))
    arrays: dict[str, Any] = {"event_id": data["event_id"][elves]}
    for name, eyes in eye_sets(len(detector.eyes)).items():
        rows = []
        for i in elves:
            t0 = time.perf_counter()
            result = fit_event(
                model,
                settings,
                data["movies"][i],
                data["window_start_us"][i],
                threshold_sigma,
                min_bins,
                min_pixels,
                eyes=eyes,
            )
            result["seconds"] = time.perf_counter() - t0
            rows.append(result)
        arrays.update({f"{name}_{k}": np.array([r[k] for r in rows], dtype=float) for k in FIT_FIELDS})
        arrays[f"{name}_success"] = arrays[f"{name}_success"].astype(bool)
        error = np.hypot(
            arrays[f"{name}_east_km"] - data["east_km"][elves], arrays[f"{name}_north_km"] - data["north_km"][elves]
        )
        log.info(
            f"fit {shard} ({name}, eyes {eyes}): {len(rows)} elves, "
            f"{int((~arrays[f'{name}_success']).sum())} failed, median location error "
            f"{np.nanmedian(error) if rows else float('nan'):.2f} km, {arrays[f'{name}_seconds'].sum():.1f} s"
        )
    save_npz(out, **arrays)
    seconds = sum(float(arrays[f"{name}_seconds"].sum()) for name in eye_sets(len(detector.eyes)))
    return {"events": len(elves), "seconds": seconds}
