"""Per-event physics that neither reconstruction is told about (config ``elves.nuisances``).

The timing fit keeps the nominal values of the config (``layer_altitude_km``,
``emission.current_exponent``, ``atmosphere.vertical_optical_depth``, a thin layer, one
pulse), as an analysis of real data would; the CNN sees only the movies. With
``nuisances.enabled`` on, every simulated elve draws, from the configured ranges (uniform):

* ``layer_altitude_km`` - where the EMP makes the layer glow. A higher layer lengthens the
  stroke-layer-eye path, so the same stroke's light reaches the eye later and from higher up.
* ``layer_thickness_km`` - a slab instead of a thin shell: each sub-ray's light comes from a
  uniformly drawn altitude inside it (a Monte Carlo integral along the ray through the slab;
  the column brightness is that of a thin layer, so only where and when the light comes from
  changes).
* ``current_exponent`` - the light goes as (I / 100 kA)^p with p drawn per event: a light
  yield that is a steeper (or shallower) function of the peak current than the EMP's energy
  (p = 2) the fit assumes. At 100 kA the yield is the nominal one.
* ``vertical_optical_depth`` - the night's aerosols: the slant optical depths of the nominal
  atmosphere scaled by this over the nominal vertical depth (same profile).
* ``multi_ring`` - with probability ``fraction`` the stroke emits more pulses (two, or three
  with probability ``triple_share``), each ``delay_us`` after the one before with ``ratio``
  times the first one's light: a multi-ring, multi-peak elve. The delay is the same in
  every direction, i.e. the second ring is not the ground reflection of the first, as the
  Auger observations of multi-elves suggest (quasi-constant gap vs distance).

With ``enabled`` off (or no ``nuisances`` section) :func:`draw` returns None and draws no
random number, so the simulation is the nominal one bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

RECORD_FIELDS = ("layer_altitude_km", "layer_thickness_km", "current_exponent", "vertical_optical_depth", "n_pulses")


@dataclass(frozen=True)
class Nuisances:
    """The physics of one elve (see the module docstring); the defaults of a field are the
    nominal ones only where said."""

    layer_altitude_km: float
    current_exponent: float
    vertical_optical_depth: float
    layer_thickness_km: float = 0.0
    delays_us: tuple[float, ...] = field(default_factory=tuple)  # of the pulses after the first
    ratios: tuple[float, ...] = field(default_factory=tuple)

    @property
    def n_pulses(self) -> int:
        return 1 + len(self.delays_us)

    def pulses(self) -> list[tuple[float, float]]:
        """(delay in us after the stroke, light relative to the first pulse) of every pulse."""
        return [(0.0, 1.0), *zip(self.delays_us, self.ratios)]

    def record(self) -> dict[str, float]:
        """The per-event truth written to the shards (:data:`RECORD_FIELDS`)."""
        return {
            "layer_altitude_km": self.layer_altitude_km,
            "layer_thickness_km": self.layer_thickness_km,
            "current_exponent": self.current_exponent,
            "vertical_optical_depth": self.vertical_optical_depth,
            "n_pulses": self.n_pulses,
        }


def nominal(settings: Mapping[str, Any]) -> Nuisances:
    """The values the fit assumes: the config's layer, light yield and atmosphere."""
    return Nuisances(
        layer_altitude_km=float(settings["layer_altitude_km"]),
        current_exponent=float(settings["emission"]["current_exponent"]),
        vertical_optical_depth=float(settings["atmosphere"]["vertical_optical_depth"]),
    )


def enabled(settings: Mapping[str, Any]) -> bool:
    return bool((settings.get("nuisances") or {}).get("enabled", False))


def without_nuisances(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with the nuisances switched off (the nominal, "matched" simulation)."""
    out = dict(settings)
    if "nuisances" in out:
        out["nuisances"] = {**out["nuisances"], "enabled": False}
    return out


def _uniform(rng: np.random.Generator, bounds, key: str) -> float:
    lo, hi = (float(b) for b in bounds)
    if hi < lo:
        raise ValueError(f"elves.nuisances.{key}: [low, high] expected, got {list(bounds)}")
    return float(rng.uniform(lo, hi))


def draw(settings: Mapping[str, Any], rng: np.random.Generator) -> Nuisances | None:
    """One elve's nuisances from ``settings["nuisances"]``; None (no random draw) when
    they are switched off."""
    if not enabled(settings):
        return None
    spec = settings["nuisances"]
    base = nominal(settings)
    if base.vertical_optical_depth <= 0:
        raise ValueError(
            "elves.atmosphere.vertical_optical_depth must be > 0 with nuisances on "
            "(the per-event optical depth scales the nominal atmosphere)"
        )
    altitude = _uniform(rng, spec["layer_altitude_km"], "layer_altitude_km")
    thickness = _uniform(rng, spec["layer_thickness_km"], "layer_thickness_km")
    exponent = _uniform(rng, spec["current_exponent"], "current_exponent")
    depth = _uniform(rng, spec["vertical_optical_depth"], "vertical_optical_depth")
    multi = spec["multi_ring"]
    delays, ratios = [], []
    if rng.random() < float(multi["fraction"]):
        extra = 2 if rng.random() < float(multi["triple_share"]) else 1
        for _ in range(extra):
            delays.append((delays[-1] if delays else 0.0) + _uniform(rng, multi["delay_us"], "multi_ring.delay_us"))
            ratios.append(_uniform(rng, multi["ratio"], "multi_ring.ratio"))
    return Nuisances(
        layer_altitude_km=altitude,
        current_exponent=exponent,
        vertical_optical_depth=depth,
        layer_thickness_km=thickness,
        delays_us=tuple(delays),
        ratios=tuple(ratios),
    )


def ray_altitudes(nuisance: Nuisances, n_rays: int, rng: np.random.Generator | None):
    """Where each of ``n_rays`` sub-rays meets the glowing layer: the layer altitude, or a
    uniform draw inside the slab of ``layer_thickness_km`` centred on it (needs ``rng``)."""
    if nuisance.layer_thickness_km <= 0:
        return nuisance.layer_altitude_km
    if rng is None:
        raise ValueError("a thick emission layer needs a random generator to place the light in it")
    return nuisance.layer_altitude_km + nuisance.layer_thickness_km * (rng.random(n_rays) - 0.5)


def empty_record() -> dict[str, float]:
    """The nuisance fields of an event that is not an elve (NaN, 0 pulses)."""
    return {**{k: np.nan for k in RECORD_FIELDS}, "n_pulses": 0}
