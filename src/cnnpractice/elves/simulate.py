"""Simulated FD movies: elves, cosmic-ray shower tracks and noise, written in shards.

An event is a movie (eyes, time bins, rows, columns) of photoelectrons (pe) per pixel and
time bin for every telescope of the configured eyes (:class:`~.geometry.Detector`).

Elve (the physics, one event at a time, vectorised over ~10^4-10^5 sub-rays):

* Every pixel is split into n x n cells and a ray through each (stratified: a random point
  in each cell) is followed to the emission layer: the rays sample the layer on a grid as
  fine as the camera can resolve, and each carries the solid angle of its cell.
* The stroke (ground point S, peak current I) radiates as a vertical dipole: the EMP's
  energy at layer point P goes as I^2 sin^2(theta) / r^2 (theta from the vertical at S,
  r = |S - P|), and so does the light (``current_exponent`` = 2 by default); P must see S
  (above S's horizon).
* The layer is thin and emits isotropically, so the pe a ray collects are the emission per
  unit area times its solid angle / cos(alpha) (the slant through the layer; the 1/d^2 to
  the eye cancels against the area a solid angle covers), times the atmosphere's
  transmission exp(-tau(elevation)) along the slant path.
* P's light starts at t = (|S - P| + |P - E|) / c after the stroke and decays
  exponentially (``decay_us``); it is integrated exactly over the time bins.
* The readout window opens ``pre_trigger_us`` before the first (>1 % of the brightest) light
  of each eye, give or take a uniform trigger jitter.

Shower: a straight track of ``shower_length_deg`` on one eye's camera, crossed in
``shower_duration_us`` with a rise-and-fall light profile (a short line of pixels lit in
sequence). Noise: nothing but the background. All events also get Poisson-many muon hits
(one pixel, one bin).

Noise: Poisson photoelectrons of (signal + night-sky background) plus Gaussian electronics
noise, stored as float16 (saturating at +-65000 pe).
"""

from __future__ import annotations

import json
import logging
import math
import time
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from cnnpractice.elves.geometry import C_KM_PER_US, EYE_FOV_DEG, Detector, ground_point, map_coordinates
from cnnpractice.io import load_npz, save_npz

log = logging.getLogger("cnnpractice.elves")

CLASSES = ("elve", "shower", "noise")
NATIVE_BIN_US = 0.1  # the FD's 100 ns sampling: electronics noise is given per native bin
TRIGGER_FRACTION = 0.01
SATURATION_PE = 65000.0
SHARD_ARRAYS = {
    "movies": "f",
    "label": "i",
    "event_id": "i",
    "east_km": "f",
    "north_km": "f",
    "current_ka": "f",
    "distance_km": "f",
    "bearing_deg": "f",
    "t0_us": "f",
    "window_start_us": "f",
    "class_names": "U",
    "settings_json": "U",
}


def build_detector(settings: Mapping[str, Any]) -> Detector:
    """The :class:`Detector` of the config section ``elves``."""
    return Detector(
        settings["sites"],
        settings["eyes"],
        settings["reference_site"],
        settings["layer_altitude_km"],
        settings["atmosphere"]["vertical_optical_depth"],
        settings["atmosphere"]["scale_height_km"],
        settings["readout"]["pixel_binning"],
    )


def movie_shape(detector: Detector, settings: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """(eyes, time bins, rows, columns) of one event."""
    return (len(detector.eyes), int(settings["readout"]["n_bins"]), *detector.image_shape)


def deposit(pixel, t_us, amplitude, n_pixels: int, n_bins: int, bin_us: float, decay_us: float) -> np.ndarray:
    """Sum light into (pixel, time bin): ``amplitude`` pe that start at ``t_us`` (from the
    window's start) and decay as exp(-t / decay_us), integrated exactly over bins of
    ``bin_us`` (``decay_us`` 0: all at once). Light that started before the window brings
    what is left of it; light after the window is lost. Returns (n_pixels, n_bins)."""
    pixel, t_us, amplitude = (np.asarray(a) for a in (pixel, t_us, amplitude))
    k = np.floor(t_us / bin_us).astype(np.int64)
    size = n_pixels * n_bins
    if decay_us <= 0:
        ok = (k >= 0) & (k < n_bins)
        out = np.bincount(pixel[ok] * n_bins + k[ok], weights=amplitude[ok], minlength=size)
        return out.reshape(n_pixels, n_bins)
    before = k < 0
    bin_end = np.where(before, 0.0, (k + 1) * bin_us)
    left = amplitude * np.exp(-(bin_end - t_us) / decay_us)  # still to come after that bin
    inside = ~before & (k < n_bins)
    direct = np.bincount(pixel[inside] * n_bins + k[inside], weights=(amplitude - left)[inside], minlength=size)
    carry_bin = np.where(before, 0, k + 1)
    carried = carry_bin < n_bins
    carry = np.bincount(pixel[carried] * n_bins + carry_bin[carried], weights=left[carried], minlength=size)
    a = math.exp(-bin_us / decay_us)
    tail = lfilter([1.0 - a], [1.0, -a], carry.reshape(n_pixels, n_bins), axis=1)
    return direct.reshape(n_pixels, n_bins) + tail


def elve_signal(
    detector: Detector,
    settings: Mapping[str, Any],
    stroke: np.ndarray,
    current_ka: float,
    window_start_us: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    subrays: int | None = None,
):
    """Expected pe (eyes, T, rows, columns) of an elve from a ground stroke at ``stroke``
    (Earth-centred km) firing at time 0 with peak current ``current_ka``.

    ``window_start_us`` (eyes,): when each eye's readout window opens; None applies the
    trigger rule (with ``rng``'s jitter when given). ``rng`` also jitters the sub-rays;
    without it the sub-rays are the cell centres (deterministic). Returns the signal and
    the window starts.
    """
    emission, readout = settings["emission"], settings["readout"]
    n_eyes, n_bins, rows, cols = movie_shape(detector, settings)
    n = int(subrays or readout["subrays"])
    up = stroke / np.linalg.norm(stroke)
    scale = emission["brightness_pe_per_deg2"] * (current_ka / 100.0) ** emission["current_exponent"]
    signal = np.zeros((n_eyes, n_bins, rows, cols))
    starts = np.zeros(n_eyes)
    for e in range(n_eyes):
        rays = detector.rays(e, n, rng)
        v = rays["points"] - stroke
        r = np.linalg.norm(v, axis=1)
        cos_theta = (v @ up) / r
        sin2 = np.clip(1.0 - cos_theta**2, 0.0, None)
        amplitude = (
            scale
            * sin2
            * (100.0 / r) ** 2
            * (cos_theta > 0)
            * rays["transmission"]
            / rays["cos_alpha"]
            * rays["solid_deg2"]
        )
        t_abs = (r + rays["distance"]) / C_KM_PER_US
        if window_start_us is None:
            lit = amplitude > TRIGGER_FRACTION * amplitude.max() if amplitude.max() > 0 else np.ones(len(t_abs), bool)
            jitter = rng.uniform(-1.0, 1.0) * readout["trigger_jitter_us"] if rng is not None else 0.0
            starts[e] = t_abs[lit].min() - readout["pre_trigger_us"] + jitter
        else:
            starts[e] = window_start_us[e]
        movie = deposit(
            rays["pixel"],
            t_abs - starts[e],
            amplitude,
            rows * cols,
            n_bins,
            readout["time_bin_us"],
            emission["decay_us"],
        )
        signal[e] = movie.T.reshape(n_bins, rows, cols)
    return signal, starts


def _log_uniform(rng: np.random.Generator, bounds) -> float:
    lo, hi = bounds
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def shower_signal(detector: Detector, settings: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Expected pe of a cosmic-ray shower track crossing one (random) eye's camera."""
    events, readout = settings["events"], settings["readout"]
    n_eyes, n_bins, rows, cols = movie_shape(detector, settings)
    signal = np.zeros((n_eyes, n_bins, rows, cols))
    e = int(rng.integers(n_eyes))
    eye, camera = detector.eyes[e], detector.cameras[e]
    window = n_bins * readout["time_bin_us"]
    length = rng.uniform(*events["shower_length_deg"])
    duration = min(rng.uniform(*events["shower_duration_us"]), 0.8 * window)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    elevation0 = rng.uniform(3.0, 28.0)
    bearing0 = eye.bearing_deg + rng.uniform(-EYE_FOV_DEG / 2, EYE_FOV_DEG / 2)
    u = np.linspace(0.0, 1.0, 256)
    elevation = elevation0 + u * length * math.sin(angle)
    bearing = bearing0 + u * length * math.cos(angle) / math.cos(math.radians(elevation0))
    start = rng.uniform(min(readout["pre_trigger_us"], window - duration), window - duration)
    profile = np.sin(math.pi * u) ** 2
    amplitude = _log_uniform(rng, events["shower_pe"]) * profile / profile.sum()
    pixel = camera.pixel_of(bearing, elevation)
    seen = pixel >= 0
    movie = deposit(
        pixel[seen], start + u[seen] * duration, amplitude[seen], rows * cols, n_bins, readout["time_bin_us"], 0.0
    )
    signal[e] = movie.T.reshape(n_bins, rows, cols)
    return signal


def add_muon_hits(signal: np.ndarray, settings: Mapping[str, Any], rng: np.random.Generator) -> None:
    """Add Poisson(``muon_hits_per_event``) single-pixel, single-bin hits, in place."""
    events = settings["events"]
    for _ in range(rng.poisson(events["muon_hits_per_event"])):
        index = tuple(int(rng.integers(s)) for s in signal.shape)
        signal[index] += _log_uniform(rng, events["muon_hit_pe"])


def add_noise(signal: np.ndarray, settings: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Poisson pe of (signal + background) plus Gaussian electronics noise, as float16."""
    readout = settings["readout"]
    pixels = readout["pixel_binning"] ** 2
    background = readout["background_pe_per_us"] * readout["time_bin_us"] * pixels
    sigma = readout["electronic_noise_pe"] * math.sqrt(readout["time_bin_us"] / NATIVE_BIN_US * pixels)
    counts = rng.poisson(signal + background).astype(np.float64)
    counts += rng.normal(0.0, sigma, size=signal.shape)
    return np.clip(counts, -SATURATION_PE, SATURATION_PE).astype(np.float16)


def class_counts(n: int, fractions: Mapping[str, float]) -> np.ndarray:
    """Events per class (in :data:`CLASSES` order) for ``n`` events: floor of the shares,
    the remainder to the largest shares first."""
    share = np.array([float(fractions.get(c, 0.0)) for c in CLASSES])
    if share.sum() <= 0:
        raise ValueError(f"elves.events.classes: the shares {dict(fractions)} must add up to more than 0")
    share = share / share.sum() * n
    counts = np.floor(share).astype(int)
    for i in np.argsort(-(share - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return counts


def sample_stroke(detector: Detector, settings: Mapping[str, Any], rng: np.random.Generator):
    """A stroke in the first eye's field of view: (position, bearing, distance, current)."""
    events = settings["events"]
    eye = detector.eyes[0]
    margin = 5.0
    bearing = eye.bearing_deg + rng.uniform(-EYE_FOV_DEG / 2 + margin, EYE_FOV_DEG / 2 - margin)
    distance = rng.uniform(*events["distance_km"])
    rad = math.radians(bearing)
    position = ground_point(eye, distance * math.sin(rad), distance * math.cos(rad))
    return position, bearing % 360.0, distance, _log_uniform(rng, events["current_ka"])


def simulate_events(settings: Mapping[str, Any], n: int, seed: int, split: str, shard: int) -> Iterator[dict]:
    """Yield ``n`` simulated events (dicts of the shard's per-event fields), seeded by
    (``seed``, ``split``, ``shard``): the same arguments give the same events."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(split.encode()), shard]))
    detector = build_detector(settings)
    labels = rng.permutation(np.repeat(np.arange(len(CLASSES)), class_counts(n, settings["events"]["classes"])))
    n_eyes = len(detector.eyes)
    for label in labels:
        event = {
            "label": int(label),
            "east_km": np.nan,
            "north_km": np.nan,
            "current_ka": np.nan,
            "distance_km": np.nan,
            "bearing_deg": np.nan,
            "t0_us": np.nan,
            "window_start_us": np.zeros(n_eyes),
        }
        if CLASSES[label] == "elve":
            position, bearing, distance, current = sample_stroke(detector, settings, rng)
            signal, starts = elve_signal(detector, settings, position, current, rng=rng)
            east, north = map_coordinates(detector.reference, position)
            event.update(
                east_km=float(east),
                north_km=float(north),
                current_ka=current,
                distance_km=distance,
                bearing_deg=bearing,
                t0_us=-starts[0],
                window_start_us=starts,
            )
        elif CLASSES[label] == "shower":
            signal = shower_signal(detector, settings, rng)
        else:
            signal = np.zeros(movie_shape(detector, settings))
        add_muon_hits(signal, settings, rng)
        event["movie"] = add_noise(signal, settings, rng)
        yield event


def simulate_shard(
    *, out: str | Path, settings: Mapping[str, Any], seed: int, split: str, shard: int, first_event: int, n_events: int
) -> dict[str, Any]:
    """Simulate shard ``shard`` of split ``split`` (``n_events`` events, ids from
    ``first_event``) and write it to ``out`` (.npz, atomically). Its random numbers come
    from (``seed``, ``split``, ``shard``) alone.

    Arrays: ``movies`` float16 (n, eyes, T, rows, columns) in pe; ``label`` (index into
    ``class_names``); ``event_id`` (position in the split); the truth ``east_km``,
    ``north_km`` (from the reference site), ``current_ka``, ``distance_km`` and
    ``bearing_deg`` (from the first eye), ``t0_us`` (stroke time from the first eye's window
    start), NaN for non-elves; ``window_start_us`` (n, eyes); ``settings_json``.
    """
    first, n = int(first_event), int(n_events)
    if n < 1:
        raise ValueError(f"{out}: a shard needs at least one event, got n_events={n}")
    t0 = time.perf_counter()
    events = list(simulate_events(settings, n, seed, split, shard))
    seconds = time.perf_counter() - t0
    arrays = {key: np.array([ev[key] for ev in events]) for key in events[0] if key != "movie"}
    arrays["movies"] = np.stack([ev["movie"] for ev in events])
    arrays["event_id"] = np.arange(first, first + n)
    arrays["class_names"] = np.array(CLASSES)
    arrays["settings_json"] = np.array(json.dumps(settings, sort_keys=True))
    save_npz(out, **arrays)
    counts = np.bincount(arrays["label"], minlength=len(CLASSES))
    log.info(
        f"{split} shard {shard}: {n} events ({dict(zip(CLASSES, counts.tolist()))}), "
        f"movie {arrays['movies'].shape[1:]}, {seconds:.1f} s = {n / seconds:.1f} events/s"
    )
    return {"events": n, "seconds": seconds}


def load_shards(paths, settings: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Concatenate simulated shards (in the given order). With ``settings``, a shard
    simulated under other settings is an error that names it."""
    parts = []
    for path in paths:
        data = load_npz(path, SHARD_ARRAYS)
        if settings is not None and json.loads(str(data["settings_json"])) != json.loads(json.dumps(settings)):
            raise ValueError(
                f"{path}: simulated with other elves settings than the configured ones; rerun simulate_elves"
            )
        parts.append(data)
    if not parts:
        raise ValueError("no simulated shards given")
    out = {
        key: np.concatenate([p[key] for p in parts])
        for key in SHARD_ARRAYS
        if key not in ("class_names", "settings_json")
    }
    out["class_names"] = parts[0]["class_names"]
    return out
