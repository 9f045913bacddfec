"""Simulated FD movies: elves, showers, laser shots, lightning and noise, written in shards.

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

With ``nuisances`` on, every elve draws its own layer, light yield, aerosols and pulses
(:mod:`~cnnpractice.elves.nuisances`); with them off, the simulation is the nominal one bit
for bit. Strokes lie in the first eye's field of view (and, with
``events.seen_by_all_eyes``, in every eye's).

Shower, laser shot, lightning flash: :mod:`~cnnpractice.elves.backgrounds` (kept only if
they would trigger). Noise: nothing but the background. All events also get Poisson-many
muon hits (one pixel, one bin).

Noise: Poisson photoelectrons of (signal + night-sky background) plus Gaussian electronics
noise, stored as float16 (saturating at +-65000 pe).
"""

from __future__ import annotations

import json
import logging
import math
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.elves import backgrounds, nuisances
from cnnpractice.elves.geometry import (
    C_KM_PER_US,
    EYE_COLUMNS,
    EYE_FOV_DEG,
    ROWS,
    Detector,
    bearing_and_distance,
    ground_point,
    map_coordinates,
)
from cnnpractice.elves.nuisances import Nuisances, ray_altitudes
from cnnpractice.elves.render import deposit, log_uniform
from cnnpractice.io import load_npz, save_npz

log = logging.getLogger("cnnpractice.elves")

CLASSES = ("elve", "shower", "noise", "laser", "lightning")
NATIVE_BIN_US = 0.1  # the FD's 100 ns sampling: electronics noise is given per native bin
TRIGGER_FRACTION = 0.01
SATURATION_PE = 65000.0
MAX_TRIGGER_ATTEMPTS = 200
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
    "cut": "b",
    "border": "b",
    "layer_altitude_km": "f",
    "layer_thickness_km": "f",
    "current_exponent": "f",
    "vertical_optical_depth": "f",
    "n_pulses": "i",
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


def elve_signal(
    detector: Detector,
    settings: Mapping[str, Any],
    stroke: np.ndarray,
    current_ka: float,
    window_start_us: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    subrays: int | None = None,
    nuisance: Nuisances | None = None,
    eyes: Sequence[int] | None = None,
):
    """Expected pe (eyes, T, rows, columns) of an elve from a ground stroke at ``stroke``
    (Earth-centred km) firing at time 0 with peak current ``current_ka``.

    ``window_start_us`` (eyes,): when each eye's readout window opens; None applies the
    trigger rule (with ``rng``'s jitter when given). ``rng`` also jitters the sub-rays;
    without it the sub-rays are the cell centres (deterministic). ``nuisance``: this
    elve's layer, light yield, atmosphere and pulses (:mod:`~cnnpractice.elves.nuisances`);
    None is the nominal physics. ``eyes``: only these eyes (the others stay dark). Returns
    the signal and the window starts.
    """
    emission, readout = settings["emission"], settings["readout"]
    n_eyes, n_bins, rows, cols = movie_shape(detector, settings)
    n = int(subrays or readout["subrays"])
    up = stroke / np.linalg.norm(stroke)
    exponent = emission["current_exponent"] if nuisance is None else nuisance.current_exponent
    scale = emission["brightness_pe_per_deg2"] * (current_ka / 100.0) ** exponent
    pulses = [(0.0, 1.0)] if nuisance is None else nuisance.pulses()
    signal = np.zeros((n_eyes, n_bins, rows, cols))
    starts = np.zeros(n_eyes) if window_start_us is None else np.array(window_start_us, dtype=float)
    for e in range(n_eyes) if eyes is None else eyes:
        if nuisance is None:
            rays = detector.rays(e, n, rng)
        else:
            altitude = ray_altitudes(nuisance, ROWS * EYE_COLUMNS * n * n, rng)
            nominal_depth = settings["atmosphere"]["vertical_optical_depth"]
            rays = detector.rays(e, n, rng, altitude, nuisance.vertical_optical_depth / nominal_depth)
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
        for delay, ratio in pulses:
            movie = deposit(
                rays["pixel"],
                t_abs + delay - starts[e],
                amplitude if ratio == 1.0 else amplitude * ratio,
                rows * cols,
                n_bins,
                readout["time_bin_us"],
                emission["decay_us"],
            )
            signal[e] += movie.T.reshape(n_bins, rows, cols)
    return signal, starts


def add_muon_hits(signal: np.ndarray, settings: Mapping[str, Any], rng: np.random.Generator) -> None:
    """Add Poisson(``muon_hits_per_event``) single-pixel, single-bin hits, in place."""
    events = settings["events"]
    for _ in range(rng.poisson(events["muon_hits_per_event"])):
        index = tuple(int(rng.integers(s)) for s in signal.shape)
        signal[index] += log_uniform(rng, events["muon_hit_pe"])


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


def in_view(detector: Detector, position: np.ndarray, margin_deg: float = 5.0) -> bool:
    """Whether a ground point lies within every eye's 180 deg of azimuth (less ``margin_deg``)."""
    for eye in detector.eyes:
        bearing, _ = bearing_and_distance(eye, position[None])
        if abs((bearing[0] - eye.bearing_deg + 180.0) % 360.0 - 180.0) > EYE_FOV_DEG / 2 - margin_deg:
            return False
    return True


def sample_stroke(detector: Detector, settings: Mapping[str, Any], rng: np.random.Generator):
    """A stroke in the first eye's field of view (and, with ``events.seen_by_all_eyes``, in
    every eye's): (position, bearing, distance, current)."""
    events = settings["events"]
    eye = detector.eyes[0]
    margin = 5.0
    for _ in range(10000):
        bearing = eye.bearing_deg + rng.uniform(-EYE_FOV_DEG / 2 + margin, EYE_FOV_DEG / 2 - margin)
        distance = rng.uniform(*events["distance_km"])
        rad = math.radians(bearing)
        position = ground_point(eye, distance * math.sin(rad), distance * math.cos(rad))
        if len(detector.eyes) == 1 or not events.get("seen_by_all_eyes", False) or in_view(detector, position, margin):
            return position, bearing % 360.0, distance, log_uniform(rng, events["current_ka"])
    names = [e.name for e in detector.eyes]
    raise ValueError(
        f"elves.events.seen_by_all_eyes: no stroke at {events['distance_km']} km is in view of all of {names}"
    )


def _blank_event(label: int, n_eyes: int) -> dict[str, Any]:
    return {
        "label": int(label),
        "east_km": np.nan,
        "north_km": np.nan,
        "current_ka": np.nan,
        "distance_km": np.nan,
        "bearing_deg": np.nan,
        "t0_us": np.nan,
        "window_start_us": np.zeros(n_eyes),
        "cut": False,
        "border": False,
        **nuisances.empty_record(),
    }


def simulate_events(settings: Mapping[str, Any], n: int, seed: int, split: str, shard: int) -> Iterator[dict]:
    """Yield ``n`` simulated events (dicts of the shard's per-event fields), seeded by
    (``seed``, ``split``, ``shard``): the same arguments give the same events."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(split.encode()), shard]))
    detector = build_detector(settings)
    labels = rng.permutation(np.repeat(np.arange(len(CLASSES)), class_counts(n, settings["events"]["classes"])))
    n_eyes = len(detector.eyes)
    generators = {
        "shower": backgrounds.shower_signal,
        "laser": backgrounds.laser_signal,
        "lightning": backgrounds.lightning_signal,
    }
    for label in labels:
        event = _blank_event(label, n_eyes)
        name = CLASSES[label]
        if name == "elve":
            position, bearing, distance, current = sample_stroke(detector, settings, rng)
            nuisance = nuisances.draw(settings, rng)
            signal, starts = elve_signal(detector, settings, position, current, rng=rng, nuisance=nuisance)
            east, north = map_coordinates(detector.reference, position)
            event.update(
                east_km=float(east),
                north_km=float(north),
                current_ka=current,
                distance_km=distance,
                bearing_deg=bearing,
                t0_us=-starts[0],
                window_start_us=starts,
                **(nuisance or nuisances.nominal(settings)).record(),
            )
        elif name in generators:
            for _ in range(MAX_TRIGGER_ATTEMPTS):  # what the FD records: redraw until it triggers
                signal, starts, tags = generators[name](detector, settings, rng)
                if backgrounds.triggers(signal, settings):
                    break
            event.update(window_start_us=starts, **tags)
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
    start), NaN for non-elves; ``window_start_us`` (n, eyes); the elves' nuisances
    (``layer_altitude_km``, ``layer_thickness_km``, ``current_exponent``,
    ``vertical_optical_depth``: NaN for other events; ``n_pulses``: 0); the background tags
    ``cut`` and ``border``; ``settings_json``.
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
    simulated under other settings (except the nuisance switch: the nominal test split is
    simulated with it off) is an error that names it."""
    allowed = (
        []
        if settings is None
        else [json.loads(json.dumps(s)) for s in (settings, nuisances.without_nuisances(settings))]
    )
    parts = []
    for path in paths:
        data = load_npz(path, SHARD_ARRAYS)
        if settings is not None and json.loads(str(data["settings_json"])) not in allowed:
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
