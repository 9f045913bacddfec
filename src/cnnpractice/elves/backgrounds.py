"""Events that are not elves but light the FD's cameras like one (config ``elves.backgrounds``).

Each generator returns the expected pe (eyes, T, rows, columns) of one event, the window
start of every eye (us, in the event's own clock, as :func:`~.simulate.elve_signal`) and
its tags ``cut`` and ``border`` (see below).

* :func:`shower_signal` - a cosmic-ray shower: a straight track of ``shower_length_deg`` on one
  eye's camera, crossed in ``shower_duration_us`` with a rise-and-fall light profile. A share
  ``shower_border_fraction`` is centred on a camera border (between two of an eye's six
  telescopes, or the edge of its field of view), so the track crosses cameras as an elve's
  light does.
* :func:`laser_signal` - a vertical shot of one of the ``lasers`` (the CLF/XLF, which fire
  UV pulses straight up for the FD's calibration): light scattered out of the beam reaches
  each eye from the beam point at height z at z / c + |P - E| / c, so the track is a
  vertical line of pixels (constant bearing) climbing in elevation. Brightness per unit
  height: molecular (Rayleigh) scattering, exp(-z / 8 km) times (1 + cos^2 psi), the
  transmission to the eye and 1 / d^2.
* :func:`lightning_signal` - a lightning flash lighting a cloud: a blob of cloud (Gaussian,
  ``lightning_cloud_km`` wide, at ``lightning_altitude_km``) ``lightning_distance_km`` from
  the first eye glows in 1-``lightning_pulses`` pulses that decay over
  ``lightning_decay_us``, so the light often starts before the trace or outlasts it.

Only events that would trigger the FD are kept (:func:`triggers`, applied by the
simulation to every background class): a flash below every eye's horizon records nothing.

"Cut" events: a share ``cut_fraction`` of showers, laser shots and lightning flashes are
placed across the trace's start or end, so only part of their light is in the trace.

The random draws of the shower generator with ``shower_border_fraction`` = ``cut_fraction``
= 0 are those of the original generator, so such settings simulate today's showers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from cnnpractice.elves.geometry import (
    C_KM_PER_US,
    EARTH_RADIUS_KM,
    EYE_FOV_DEG,
    Detector,
    Site,
    ground_point,
    look_angles,
    slant_depth,
)
from cnnpractice.elves.render import deposit, log_uniform

RAYLEIGH_SCALE_HEIGHT_KM = 8.0  # of the molecular density that scatters the laser light
LASER_REFERENCE_KM = 30.0  # laser_pe: pe an eye this far from the laser collects
LASER_TOP_KM = 40.0  # the beam is followed up to here (far above the cameras' 30 deg at ~30-70 km)
LASER_STEPS = 800
CLOUD_POINTS = 600
LIGHTNING_REFERENCE_KM = 100.0  # lightning_pe: pe an eye this far from the flash collects


def triggers(signal: np.ndarray, settings: Mapping[str, Any]) -> bool:
    """Whether an event's expected light (eyes, T, rows, columns) would be recorded: at least
    ``backgrounds.trigger_pixels`` pixels (of any eye) with a bin ``trigger_sigma`` Poisson
    sigmas of the night-sky background above it. Without a ``backgrounds`` section every
    event is recorded."""
    spec = settings.get("backgrounds")
    if not spec:
        return True
    readout = settings["readout"]
    background = readout["background_pe_per_us"] * readout["time_bin_us"] * readout["pixel_binning"] ** 2
    bright = signal.max(axis=1) > spec["trigger_sigma"] * math.sqrt(max(background, 1.0))
    return int(bright.sum()) >= int(spec["trigger_pixels"])


def _shape(detector: Detector, settings: Mapping[str, Any]) -> tuple[int, int, int, int]:
    return (len(detector.eyes), int(settings["readout"]["n_bins"]), *detector.image_shape)


def _cut(settings: Mapping[str, Any], rng: np.random.Generator) -> bool:
    """Whether this background event is cut at the trace's edges (no draw when the share is 0)."""
    share = float((settings.get("backgrounds") or {}).get("cut_fraction", 0.0))
    return share > 0 and bool(rng.random() < share)


def _render(
    detector: Detector, settings: Mapping[str, Any], rng: np.random.Generator, lights, decay_us: float, cut: bool
):
    """Movies of light ``lights``: per eye, (pixel (-1: not seen), absolute time in us,
    pe) of point sources; each eye's window is placed by :func:`_window_starts`."""
    shape = _shape(detector, settings)
    n_eyes, n_bins, rows, cols = shape
    first = np.array([t[p >= 0].min() if (p >= 0).any() else np.nan for p, t, _ in lights])
    starts = _window_starts(first, settings, rng, cut)
    signal = np.zeros(shape)
    for e, (pixel, t_abs, amplitude) in enumerate(lights):
        seen = pixel >= 0
        movie = deposit(
            pixel[seen],
            t_abs[seen] - starts[e],
            amplitude[seen],
            rows * cols,
            n_bins,
            settings["readout"]["time_bin_us"],
            decay_us,
        )
        signal[e] = movie.T.reshape(n_bins, rows, cols)
    return signal, starts


def _window_starts(first_light: np.ndarray, settings: Mapping[str, Any], rng: np.random.Generator, cut: bool):
    """Each eye's window opens ``pre_trigger_us`` (+- jitter) before its first light (an eye
    that sees nothing: with the first eye that does); a cut event's windows are all moved
    by 1-9 tenths of the trace, earlier or later, so the light runs over the trace's end or
    starts before it."""
    readout = settings["readout"]
    window = readout["n_bins"] * readout["time_bin_us"]
    jitter = rng.uniform(-1.0, 1.0) * readout["trigger_jitter_us"]
    shift = (rng.uniform(0.1, 0.9) * window * (1 if rng.random() < 0.5 else -1)) if cut else 0.0
    seen = np.isfinite(first_light)
    start = np.where(seen, first_light, np.nanmin(first_light) if seen.any() else 0.0)
    return start - readout["pre_trigger_us"] + jitter + shift


def shower_signal(detector: Detector, settings: Mapping[str, Any], rng: np.random.Generator):
    """Expected pe of a cosmic-ray shower track crossing one (random) eye's camera, and the
    window starts (zeros: the track is placed in the window's own time)."""
    events, readout = settings["events"], settings["readout"]
    backgrounds = settings.get("backgrounds") or {}
    n_eyes, n_bins, rows, cols = shape = _shape(detector, settings)
    signal = np.zeros(shape)
    e = int(rng.integers(n_eyes))
    eye, camera = detector.eyes[e], detector.cameras[e]
    window = n_bins * readout["time_bin_us"]
    length = rng.uniform(*events["shower_length_deg"])
    duration = min(rng.uniform(*events["shower_duration_us"]), 0.8 * window)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    elevation0 = rng.uniform(3.0, 28.0)
    bearing0 = eye.bearing_deg + rng.uniform(-EYE_FOV_DEG / 2, EYE_FOV_DEG / 2)
    u = np.linspace(0.0, 1.0, 256)
    start = rng.uniform(min(readout["pre_trigger_us"], window - duration), window - duration)
    border_share = float(backgrounds.get("shower_border_fraction", 0.0))
    border = border_share > 0 and bool(rng.random() < border_share)
    if border:
        # the track's middle on one of the 7 camera borders (5 between telescopes, 2 at the
        # field's edges), within 45 deg of horizontal so that it crosses it
        edge = eye.bearing_deg + 30.0 * int(rng.integers(-3, 4))
        angle = rng.uniform(-math.pi / 4, math.pi / 4) + (math.pi if rng.random() < 0.5 else 0.0)
        middle = rng.uniform(3.0, 28.0)
        elevation0 = middle - 0.5 * length * math.sin(angle)
        bearing0 = edge - 0.5 * length * math.cos(angle) / math.cos(math.radians(elevation0))
    cut = _cut(settings, rng)
    if cut:
        if rng.random() < 0.5:  # started before the window opened
            start = -rng.uniform(0.1, 0.9) * duration
        else:  # still going when it closes
            start = window - rng.uniform(0.1, 0.9) * duration
    elevation = elevation0 + u * length * math.sin(angle)
    bearing = bearing0 + u * length * math.cos(angle) / math.cos(math.radians(elevation0))
    profile = np.sin(math.pi * u) ** 2
    amplitude = log_uniform(rng, events["shower_pe"]) * profile / profile.sum()
    pixel = camera.pixel_of(bearing, elevation)
    seen = pixel >= 0
    movie = deposit(
        pixel[seen], start + u[seen] * duration, amplitude[seen], rows * cols, n_bins, readout["time_bin_us"], 0.0
    )
    signal[e] = movie.T.reshape(n_bins, rows, cols)
    return signal, np.zeros(n_eyes), {"cut": cut, "border": border}


def laser_points(site: Site, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Points of a vertical beam from ``site`` (LASER_STEPS, 3) and their heights above it
    (km; stratified in LASER_TOP_KM / LASER_STEPS steps, jittered with ``rng``)."""
    step = LASER_TOP_KM / LASER_STEPS
    offset = rng.random(LASER_STEPS) if rng is not None else np.full(LASER_STEPS, 0.5)
    z = (np.arange(LASER_STEPS) + offset) * step
    up = site.position / np.linalg.norm(site.position)
    return site.position + z[:, None] * up, z


def laser_site(settings: Mapping[str, Any], name: str) -> Site:
    spec = settings["backgrounds"]["lasers"][name]
    return Site(name=name, lat=spec["lat"], lon=spec["lon"], alt_km=spec["alt_km"])


def laser_light(detector: Detector, settings: Mapping[str, Any], site: Site, pe: float, rng=None):
    """Per eye, (pixel, absolute time in us, pe) of the scattered light of a vertical shot of
    ``pe`` (at LASER_REFERENCE_KM) fired from ``site`` at time 0."""
    atmosphere = settings["atmosphere"]
    points, z = laser_points(site, rng)
    up = site.position / np.linalg.norm(site.position)
    tau, height = atmosphere["vertical_optical_depth"], atmosphere["scale_height_km"]
    beam = tau * (1 - np.exp(-z / height))  # the pulse's own way up (same atmosphere above every site)
    lights = []
    for eye, camera in zip(detector.eyes, detector.cameras):
        bearing, elevation, distance = look_angles(eye, points)
        cos_psi = ((eye.position - points) @ up) / distance
        to_eye = slant_depth(eye.position, points, tau, height)
        weight = (
            np.exp(-z / RAYLEIGH_SCALE_HEIGHT_KM)
            * 0.75
            * (1 + cos_psi**2)
            * np.exp(-beam - to_eye)
            * (LASER_REFERENCE_KM / distance) ** 2
            * (LASER_TOP_KM / LASER_STEPS / RAYLEIGH_SCALE_HEIGHT_KM)
        )
        lights.append((camera.pixel_of(bearing, elevation), (z + distance) / C_KM_PER_US, pe * weight))
    return lights


def laser_signal(detector: Detector, settings: Mapping[str, Any], rng: np.random.Generator):
    """Expected pe of one vertical shot of a random laser of ``backgrounds.lasers``, seen by
    every eye, and the window starts."""
    lasers = sorted(settings["backgrounds"]["lasers"])
    if not lasers:
        raise ValueError("elves.backgrounds.lasers: at least one laser is needed for the laser class")
    site = laser_site(settings, lasers[int(rng.integers(len(lasers)))])
    pe = log_uniform(rng, settings["backgrounds"]["laser_pe"])
    lights = laser_light(detector, settings, site, pe, rng)
    cut = _cut(settings, rng)
    return (*_render(detector, settings, rng, lights, 0.0, cut), {"cut": cut, "border": False})


def lightning_signal(detector: Detector, settings: Mapping[str, Any], rng: np.random.Generator):
    """Expected pe of a lightning flash lighting a cloud in the first eye's field of view,
    seen by every eye above whose horizon it is, and the window starts."""
    spec = settings["backgrounds"]
    eye0 = detector.eyes[0]
    bearing = math.radians(eye0.bearing_deg + rng.uniform(-EYE_FOV_DEG / 2, EYE_FOV_DEG / 2))
    distance = rng.uniform(*spec["lightning_distance_km"])
    width = rng.uniform(*spec["lightning_cloud_km"])
    altitude = rng.uniform(*spec["lightning_altitude_km"])
    east = distance * math.sin(bearing) + width * rng.standard_normal(CLOUD_POINTS)
    north = distance * math.cos(bearing) + width * rng.standard_normal(CLOUD_POINTS)
    height = np.clip(altitude + 0.5 * width * rng.standard_normal(CLOUD_POINTS), 0.5, None)
    ground = ground_point(eye0, east, north)
    points = ground * ((EARTH_RADIUS_KM + height) / EARTH_RADIUS_KM)[:, None]
    n_pulses = int(rng.integers(1, int(spec["lightning_pulses"]) + 1))
    pulse_times = np.concatenate([[0.0], np.cumsum(rng.uniform(20.0, 300.0, n_pulses - 1))])
    pulse_pe = log_uniform(rng, spec["lightning_pe"]) * rng.dirichlet(np.ones(n_pulses))
    tau, scale_height = settings["atmosphere"]["vertical_optical_depth"], settings["atmosphere"]["scale_height_km"]
    rise = rng.uniform(0.0, 30.0, CLOUD_POINTS)  # light diffusing out of the cloud
    decay = rng.uniform(*spec["lightning_decay_us"])
    lights = []
    for eye, camera in zip(detector.eyes, detector.cameras):
        b, elevation, d = look_angles(eye, points)
        transmission = np.exp(-slant_depth(eye.position, points, tau, scale_height))
        pixel = np.tile(camera.pixel_of(b, elevation), n_pulses)
        t_abs = (pulse_times[:, None] + (rise + d / C_KM_PER_US)[None]).ravel()
        brightness = transmission * (LIGHTNING_REFERENCE_KM / d) ** 2 / CLOUD_POINTS
        amplitude = (pulse_pe[:, None] * brightness[None]).ravel()
        lights.append((pixel, t_abs, amplitude))
    cut = _cut(settings, rng)
    return (*_render(detector, settings, rng, lights, decay, cut), {"cut": cut, "border": False})
