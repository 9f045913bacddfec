"""The simulator against derived geometry and published facts (``sanity.{csv,md}``).

1. **Ring radius vs time.** The EMP leaves the stroke S at c; ``tau`` after the stroke it
   excites the layer points at straight distance c tau from S, a ring of radius (along the
   layer, spherical Earth) R(tau) = R_L arccos((R_E^2 + R_L^2 - (c tau)^2) / (2 R_E R_L))
   (:func:`~cnnpractice.elves.geometry.ring_radius`), R_L = R_E + h; flat-Earth limit
   sqrt((c tau)^2 - h^2). It expands faster than light: dR/dtau = c^2 tau / R in the flat
   limit. Measured: every lit native pixel of a noiseless simulated elve gives its first
   light-weighted time t at the eye (when the ring crosses it), its centre's layer point P
   and so the emission time tau = t - |P - E| / c and the radius of P along the layer;
   binned in tau, the measured radius must follow R(tau) to within a pixel's footprint.
2. **Radial extent.** The simulator's emission per unit layer area goes as sin^2(theta) /
   r^2 (vertical dipole): the fraction of its peak left at 250 km from the point above the
   stroke, beside the published "radial extent typically greater than 250 km" (Pierre Auger
   Collaboration, Earth and Space Science 7 (2020) e2019EA000582, abstract).
3. **Brightness at the eye.** Peak and total background-subtracted pe of the held-out elves
   (and of the other classes) per native pixel and microsecond, by distance. The scale is set
   by ``emission.brightness_pe_per_deg2``, which is tuned (the weakest, farthest elves near
   the noise), not measured: compare its shape, not its level, with the example traces of the
   Auger elves papers (their figures of an elve's pixel traces); no published number is
   copied here.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice import stats
from cnnpractice.elves.geometry import C_KM_PER_US, EARTH_RADIUS_KM, ring_radius
from cnnpractice.tables import markdown_table, write_csv, write_markdown

log = logging.getLogger("cnnpractice.elves")

TAU_US = (400.0, 500.0, 600.0, 800.0, 1000.0, 1500.0)
PUBLISHED_EXTENT_KM = 250.0
CSV_COLUMNS = ("check", "quantity", "derived", *stats.columns("simulated"), "published", "source")


def _fine_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Native pixels and 1 us bins over 3 ms: the whole ring, finely timed."""
    fine = copy.deepcopy(dict(settings))
    fine["readout"] = {**fine["readout"], "pixel_binning": 1, "time_bin_us": 1.0, "n_bins": 3000, "subrays": 2}
    fine["eyes"] = [settings["eyes"][0]]
    return fine


def measured_ring(settings: Mapping[str, Any], distance_km: float = 300.0) -> list[dict[str, float]]:
    """Ring radius vs emission time measured on a noiseless elve ``distance_km`` from the
    first eye (straight ahead), against R(tau) (derived) for the bins of :data:`TAU_US`."""
    from cnnpractice.elves.geometry import ground_point
    from cnnpractice.elves.simulate import build_detector, elve_signal

    fine = _fine_settings(settings)
    fine["emission"] = {**fine["emission"], "decay_us": 0.0}
    detector = build_detector(fine)
    eye = detector.eyes[0]
    b = np.radians(eye.bearing_deg)
    stroke = ground_point(eye, distance_km * np.sin(b), distance_km * np.cos(b))
    signal, starts = elve_signal(detector, fine, stroke, 100.0, window_start_us=np.zeros(1))
    movie = signal[0].reshape(signal.shape[1], -1)  # (T, pixels)
    lit = movie.max(axis=0) > 1e-3 * movie.max()
    centres = (np.arange(movie.shape[0]) + 0.5) * fine["readout"]["time_bin_us"]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_time = (centres[:, None] * movie).sum(axis=0) / movie.sum(axis=0)  # when the ring crosses the pixel
    rays = detector.rays(0, 1)  # the pixel centres (binning 1, one ray each)
    tau = mean_time - rays["distance"] / C_KM_PER_US
    up = stroke / np.linalg.norm(stroke)
    radius_layer = detector.layer_radius
    cos_psi = np.clip((rays["points"] / radius_layer) @ up, -1.0, 1.0)
    radius = radius_layer * np.arccos(cos_psi)
    residual = radius - ring_radius(tau, detector.layer_altitude_km)
    rows = []
    for t in TAU_US:
        near = lit & (np.abs(tau - t) < 25.0) & np.isfinite(residual)
        derived = float(ring_radius(t, detector.layer_altitude_km))
        measured = None
        if near.sum():
            measured = stats.bootstrap_ci(residual[near] + derived)
        rows.append(
            {
                "tau_us": t,
                "derived_km": derived,
                "flat_km": float(np.sqrt(max((C_KM_PER_US * t) ** 2 - detector.layer_altitude_km**2, 0.0))),
                "simulated": measured,
                "speed_c": _speed(t, detector) / C_KM_PER_US,
            }
        )
    return rows


def _speed(tau_us: float, detector) -> float:
    """dR/dtau (km/us) of the ring at ``tau_us`` (numerical derivative of R(tau))."""
    h = detector.layer_altitude_km
    return float((ring_radius(tau_us + 0.5, h) - ring_radius(tau_us - 0.5, h)) / 1.0)


def extent_fraction(settings: Mapping[str, Any], radius_km: float = PUBLISHED_EXTENT_KM) -> dict[str, float]:
    """The emission per unit area (sin^2 theta / r^2 of the vertical dipole, spherical Earth)
    at ``radius_km`` along the layer from above the stroke, as a fraction of its peak, and
    the radii where it falls to half and to a tenth of the peak (outer side)."""
    h = float(settings["layer_altitude_km"])
    rl = EARTH_RADIUS_KM + h
    arc = np.linspace(0.5, 1500.0, 30000)
    psi = arc / rl
    point = np.stack([rl * np.sin(psi), rl * np.cos(psi) - EARTH_RADIUS_KM], axis=1)  # from the stroke
    r = np.linalg.norm(point, axis=1)
    cos_theta = point[:, 1] / r
    emission = (1 - cos_theta**2) / r**2 * (cos_theta > 0)
    peak = emission.argmax()
    outer = arc[peak:][emission[peak:] < 0.5 * emission[peak]]
    tenth = arc[peak:][emission[peak:] < 0.1 * emission[peak]]
    return {
        "peak_km": float(arc[peak]),
        "fraction": float(np.interp(radius_km, arc, emission) / emission[peak]),
        "half_km": float(outer[0]) if len(outer) else float("nan"),
        "tenth_km": float(tenth[0]) if len(tenth) else float("nan"),
    }


def brightness_rows(data: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per class (and elves by distance): the median [5 %, 95 %] over events of the peak
    background-subtracted pe per native pixel and us in the first eye."""
    from cnnpractice.elves.simulate import CLASSES

    readout = settings["readout"]
    per = readout["pixel_binning"] ** 2 * readout["time_bin_us"]
    background = readout["background_pe_per_us"] * readout["time_bin_us"] * readout["pixel_binning"] ** 2
    movies = data["movies"][:, 0].astype(np.float32) - background
    peak = movies.reshape(len(movies), -1).max(axis=1) / per
    groups = [(name, data["label"] == k) for k, name in enumerate(CLASSES)]
    distance = data["distance_km"]
    for lo, hi in ((150, 300), (300, 450), (450, 700)):
        groups.append((f"elve {lo}-{hi} km", (data["label"] == 0) & (distance >= lo) & (distance < hi)))
    rows = []
    for name, mask in groups:
        if mask.sum() >= 3:
            q = np.quantile(peak[mask], [0.05, 0.5, 0.95])
            row = {"events": name, "n": int(mask.sum()), "p5": q[0], "median": q[1], "p95": q[2]}
            rows.append({**row, "_median": stats.bootstrap_ci(peak[mask], np.median)})
    return rows


def check_physics(
    *, test_shards: Sequence[str | Path], settings: Mapping[str, Any], csv: str | Path, md: str | Path
) -> None:
    """Write the sanity tables (see the module docstring)."""
    from cnnpractice.elves.simulate import load_shards

    ring = measured_ring(settings)
    extent = extent_fraction(settings)
    bright = brightness_rows(load_shards(test_shards, settings), settings)
    csv_rows = [
        {
            "check": "ring radius",
            "quantity": f"R at tau = {r['tau_us']:g} us (km)",
            "derived": round(r["derived_km"], 2),
            **stats.flatten("simulated", r["simulated"], key="value"),
            "published": None,
            "source": "geometry (ring_radius)",
        }
        for r in ring
    ]
    csv_rows.append(
        {
            "check": "radial extent",
            "quantity": f"emission at {PUBLISHED_EXTENT_KM:g} km / peak",
            "derived": round(extent["fraction"], 3),
            "simulated": None,
            "published": f"radial extent typically > {PUBLISHED_EXTENT_KM:g} km",
            "source": "Pierre Auger Collaboration, Earth Space Sci. 7 (2020) e2019EA000582",
        }
    )
    csv_rows += [
        {
            "check": "brightness",
            "quantity": f"peak pe per native pixel and us, {b['events']} (median; n={b['n']})",
            "derived": None,
            **stats.flatten("simulated", b["_median"], key="value"),
            "published": None,
            "source": "compare the shape with the Auger elves papers' pixel-trace figures",
        }
        for b in bright
    ]
    write_csv(csv, csv_rows, CSV_COLUMNS)
    ring_md = [
        {
            "tau after the stroke (us)": f"{r['tau_us']:g}",
            "R derived, sphere (km)": f"{r['derived_km']:.1f}",
            "R flat Earth (km)": f"{r['flat_km']:.1f}",
            "R measured in the simulated movie (km)": stats.cell(r["simulated"], 1),
            "expansion speed dR/dtau (c)": f"{r['speed_c']:.2f}",
        }
        for r in ring
    ]
    bright_md = [
        {
            "events (first eye)": b["events"],
            "median [95 % interval] n": stats.cell(b["_median"], 1),
            "5 % of events": f"{b['p5']:.1f}",
            "95 % of events": f"{b['p95']:.1f}",
        }
        for b in bright
    ]
    sections = [
        (
            "Ring radius vs time after the stroke",
            markdown_table(ring_md, list(ring_md[0]))
            + "\nMeasured: native pixels of a noiseless 100 kA elve straight ahead of the first eye at 300 km, "
            "1 us bins; per pixel, tau = its light-weighted time - |P - E| / c and the radius of its centre's "
            "layer point P, "
            "R(tau) plus its residual from R(its own tau) (median [bootstrap interval] n pixels within 25 us). "
            "The ring expands faster than light, and slows towards c. Compare with the published ring "
            "expansion (elves are described as rapidly expanding rings whose centre is not above the "
            "lightning, Pierre Auger Collaboration, ICRC 2025, arXiv:2507.11641).\n",
        ),
        (
            "Radial extent",
            f"The simulator's emission per unit area peaks {extent['peak_km']:.0f} km from the point above the "
            f"stroke, falls to half at {extent['half_km']:.0f} km and to a tenth at {extent['tenth_km']:.0f} km; "
            f"at {PUBLISHED_EXTENT_KM:g} km it is {extent['fraction']:.2f} of the peak. Published: elves have "
            f'"a radial extent typically greater than {PUBLISHED_EXTENT_KM:g} km" (Pierre Auger Collaboration, '
            "Earth and Space Science 7 (2020) e2019EA000582). Consistent: our rings are still bright there.\n",
        ),
        (
            "Brightness at the eye (held-out events)",
            markdown_table(bright_md, list(bright_md[0]) if bright_md else ["events (first eye)"])
            + "\nPeak background-subtracted pe per native pixel and microsecond (the movie's maximum over its "
            "pixels and bins, divided by the pixels and microseconds a stored bin sums). The level follows "
            "`emission.brightness_pe_per_deg2`, a tuned value; no published brightness is copied here. Compare "
            "the spread with distance, and with the showers and lasers, with the pixel traces shown in the "
            "Auger elves papers.\n",
        ),
    ]
    write_markdown(md, sections, title="Elves: the simulator against geometry and published facts")
    log.info(f"sanity: ring {[(r['tau_us'], round(r['derived_km'], 1)) for r in ring]}, extent {extent}")
