"""Geometry of elves seen by fluorescence-detector (FD) eyes, on a spherical Earth.

Frames and units
----------------
Positions are Earth-centred Cartesian vectors in km (spherical Earth of radius
:data:`EARTH_RADIUS_KM`), times in microseconds, angles in degrees. A site's local frame
is east-north-up; directions are given as a compass bearing (from north, clockwise) and an
elevation above the horizon. Ground positions of strokes are "km east / km north" of a
reference site in the azimuthal-equidistant projection around it (the arc distance along
the ground and the bearing are kept exactly), so the numbers mean what a map around the
observatory shows.

Cameras
-------
An FD eye has 6 telescopes side by side, each seeing 30 deg in azimuth; an eye covers
180 deg centred on its ``bearing_deg``. A camera has 440 hexagonal pixels in 22 rows by 20
columns: pixel centres 1.5 deg apart in a row, rows 1.5 * sqrt(3)/2 = 1.299 deg apart and
alternately shifted by half a pixel, elevations 1.5 to 30.1 deg (The Pierre Auger
Collaboration, NIM A 620 (2010) 227, arXiv:0907.4282). We model the hexagons as the
equivalent brick wall (same centres, same areas, rectangular cells), so the six cameras of
an eye form one image of 22 rows x 120 columns (row 0 at the bottom, columns left to right
in bearing). ``pixel_binning`` b sums b x b pixels of that image (b = 2: 11 x 60).

The light-arrival-time model
----------------------------
A stroke at ground point S and time t0 emits an EMP that travels at c in straight lines;
it excites the emission layer (a sphere of altitude ``layer_altitude_km``) at point P at
t0 + |S - P| / c, and P's light reaches the eye at E at

    t = t0 + (|S - P| + |P - E|) / c.

The elve's ring on the layer at time tau after the stroke is the circle |S - P| = c tau
(:func:`ring_radius`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

C_KM_PER_US = 0.299792458
EARTH_RADIUS_KM = 6371.0
ROWS, COLUMNS, TELESCOPES = 22, 20, 6
PIXEL_DEG = 1.5
ROW_DEG = PIXEL_DEG * math.sqrt(3.0) / 2.0
MIN_ELEVATION_DEG = 1.5
EYE_COLUMNS = COLUMNS * TELESCOPES
EYE_FOV_DEG = PIXEL_DEG * EYE_COLUMNS  # 180


def unit_vector(lat_deg, lon_deg) -> np.ndarray:
    """Earth-centred unit vector(s) (..., 3) of geodetic latitude/longitude (sphere)."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def enu_basis(lat_deg: float, lon_deg: float) -> np.ndarray:
    """Rows east, north, up (3, 3) of the local frame at a point of the sphere."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    east = [-math.sin(lon), math.cos(lon), 0.0]
    north = [-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)]
    return np.array([east, north, unit_vector(lat_deg, lon_deg).tolist()])


def directions(basis: np.ndarray, bearing_deg, elevation_deg) -> np.ndarray:
    """Earth-centred unit vectors (..., 3) of bearings/elevations in a local ``basis``."""
    az, el = np.radians(bearing_deg), np.radians(elevation_deg)
    local = np.stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)], axis=-1)
    return local @ basis


@dataclass(frozen=True)
class Site:
    """An FD eye (or the reference point of the map): where it is and where it looks."""

    name: str
    lat: float
    lon: float
    alt_km: float = 0.0
    bearing_deg: float = 0.0

    @property
    def basis(self) -> np.ndarray:
        return enu_basis(self.lat, self.lon)

    @property
    def position(self) -> np.ndarray:
        return (EARTH_RADIUS_KM + self.alt_km) * unit_vector(self.lat, self.lon)


def ground_point(reference: Site, east_km, north_km) -> np.ndarray:
    """Earth-centred ground points (..., 3) at ``east_km``/``north_km`` of ``reference``
    (azimuthal-equidistant: arc distance and bearing from the reference are exact)."""
    east_km, north_km = np.asarray(east_km, dtype=float), np.asarray(north_km, dtype=float)
    psi = np.hypot(east_km, north_km) / EARTH_RADIUS_KM
    bearing = np.arctan2(east_km, north_km)
    e, n, u = reference.basis
    unit = (
        np.cos(psi)[..., None] * u
        + (np.sin(psi) * np.sin(bearing))[..., None] * e
        + (np.sin(psi) * np.cos(bearing))[..., None] * n
    )
    return EARTH_RADIUS_KM * unit


def map_coordinates(reference: Site, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`ground_point`: (east_km, north_km) of Earth-centred points."""
    e, n, u = reference.basis
    unit = np.asarray(points, dtype=float)
    unit = unit / np.linalg.norm(unit, axis=-1, keepdims=True)
    x, y, z = unit @ e, unit @ n, unit @ u
    psi = np.arctan2(np.hypot(x, y), z)
    bearing = np.arctan2(x, y)
    return EARTH_RADIUS_KM * psi * np.sin(bearing), EARTH_RADIUS_KM * psi * np.cos(bearing)


def bearing_and_distance(origin: Site, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compass bearing (deg) and ground arc distance (km) of points as seen from ``origin``."""
    east, north = map_coordinates(origin, points)
    return np.degrees(np.arctan2(east, north)) % 360.0, np.hypot(east, north)


def look_angles(site: Site, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bearing (deg from north), elevation (deg above the horizon, no refraction) and
    straight-line distance (km) of Earth-centred ``points`` (..., 3) seen from ``site``."""
    local = (np.asarray(points, dtype=float) - site.position) @ site.basis.T
    x, y, z = local[..., 0], local[..., 1], local[..., 2]
    return (
        np.degrees(np.arctan2(x, y)) % 360.0,
        np.degrees(np.arctan2(z, np.hypot(x, y))),
        np.linalg.norm(local, axis=-1),
    )


def slant_depth(
    origin: np.ndarray, points: np.ndarray, tau_vertical: float, scale_height_km: float, steps: int = 64
) -> np.ndarray:
    """Optical depth along straight lines from ``origin`` (3,) to ``points`` (..., 3) through
    an exponential atmosphere (spherical Earth) whose vertical optical depth above
    ``origin`` is ``tau_vertical``: tau / H * integral of exp(-(z(s) - z_origin) / H) ds."""
    points = np.asarray(points, dtype=float)
    frac = np.linspace(0.0, 1.0, steps)
    path = origin + frac[:, None, None] * (points.reshape(-1, 3) - origin)[None]  # (steps, P, 3)
    z = np.linalg.norm(path, axis=-1) - EARTH_RADIUS_KM
    z_origin = float(np.linalg.norm(origin)) - EARTH_RADIUS_KM
    length = np.linalg.norm(points.reshape(-1, 3) - origin, axis=-1)
    density = np.exp(-(z - z_origin) / scale_height_km)
    depth = tau_vertical / scale_height_km * np.trapezoid(density, frac, axis=0) * length
    return depth.reshape(points.shape[:-1])


def arrival_time(stroke: np.ndarray, points: np.ndarray, eye: np.ndarray, t0=0.0) -> np.ndarray:
    """Time (us) at which light from layer ``points`` (..., 3) reaches ``eye`` (3,) when the
    stroke at ``stroke`` fires at ``t0``: t0 + (|S - P| + |P - E|) / c."""
    points = np.asarray(points, dtype=float)
    return t0 + (np.linalg.norm(points - stroke, axis=-1) + np.linalg.norm(points - eye, axis=-1)) / C_KM_PER_US


def ring_radius(tau_us, layer_altitude_km: float) -> np.ndarray:
    """Radius (km, measured along the layer) of the ring the EMP excites ``tau_us`` after a
    ground stroke: the layer points at straight-line distance c tau from it (law of
    cosines on the sphere). NaN before the pulse reaches the layer (c tau < h)."""
    r, rl = EARTH_RADIUS_KM, EARTH_RADIUS_KM + layer_altitude_km
    reach = C_KM_PER_US * np.asarray(tau_us, dtype=float)
    cos_psi = (r * r + rl * rl - reach * reach) / (2.0 * r * rl)
    with np.errstate(invalid="ignore"):
        psi = np.where(reach >= layer_altitude_km, np.arccos(np.clip(cos_psi, -1.0, 1.0)), np.nan)
    return rl * psi


def intersect_layer(origin: np.ndarray, dirs: np.ndarray, layer_radius: float):
    """Where rays from ``origin`` (inside the sphere) along unit ``dirs`` (..., 3) cross the
    sphere of radius ``layer_radius``.

    Returns
    -------
    points (..., 3), path length (...,) and cos(alpha) (...,), alpha being the angle between
    the ray and the layer's normal there (1 / cos(alpha) is how much thicker a thin layer
    looks along the ray).
    """
    b = dirs @ origin
    c = origin @ origin - layer_radius**2
    s = -b + np.sqrt(b * b - c)
    points = origin + s[..., None] * dirs
    return points, s, (b + s) / layer_radius


def slant_optical_depth_table(
    eye_alt_km: float, layer_altitude_km: float, tau_vertical: float, scale_height_km: float, step_deg: float = 0.05
):
    """(elevations, optical depths) from an eye up to the layer through an exponential
    atmosphere whose vertical optical depth above the eye is ``tau_vertical``.

    The integral of exp(-(z - z_eye) / H) along the straight ray is done numerically on a
    spherical Earth, so low elevations get the long, curved-Earth air masses (about 20 at
    2 deg) rather than 1 / sin(elevation).
    """
    elevation = np.arange(0.0, 90.0 + step_deg / 2, step_deg)
    r_eye = EARTH_RADIUS_KM + eye_alt_km
    rl = EARTH_RADIUS_KM + layer_altitude_km
    sin_e = np.sin(np.radians(elevation))[:, None]
    length = -r_eye * sin_e + np.sqrt((r_eye * sin_e) ** 2 + rl * rl - r_eye * r_eye)
    frac = np.concatenate([[0.0], np.geomspace(1e-6, 1.0, 3000)])[None, :]
    s = length * frac
    z = np.sqrt(r_eye * r_eye + s * s + 2.0 * r_eye * s * sin_e) - EARTH_RADIUS_KM
    density = np.exp(-(z - eye_alt_km) / scale_height_km)
    depth = tau_vertical / scale_height_km * np.trapezoid(density, s, axis=1)
    return elevation, depth


class Camera:
    """The 22 x 120 pixel image of one eye's six telescopes (see the module docstring).

    Pixel (row i, column c) covers elevations MIN_ELEVATION_DEG + [i, i + 1) * ROW_DEG and
    bearings ``bearing_deg - 90 + 1.5 * [c, c + 1) - shift_i`` with shift_i = +0.375 deg on
    even rows and -0.375 deg on odd rows (the half-pixel stagger of the hexagonal lattice).
    """

    def __init__(self, site: Site, pixel_binning: int = 1):
        if pixel_binning not in (1, 2):
            raise ValueError(f"pixel_binning must be 1 or 2 (22 rows and 20 columns divide by it), got {pixel_binning}")
        self.site, self.binning = site, pixel_binning
        self.rows, self.columns = ROWS // pixel_binning, EYE_COLUMNS // pixel_binning
        rows, cols = np.meshgrid(np.arange(ROWS), np.arange(EYE_COLUMNS), indexing="ij")
        shift = np.where(rows % 2 == 0, 0.375, -0.375)
        self.left_deg = site.bearing_deg - EYE_FOV_DEG / 2 + PIXEL_DEG * cols - shift  # (22, 120)
        self.bottom_deg = MIN_ELEVATION_DEG + ROW_DEG * rows
        # native pixel -> binned pixel (flat index of the rows x columns image)
        self.binned_index = ((rows // pixel_binning) * self.columns + cols // pixel_binning).ravel()

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.columns

    def pixel_of(self, bearing_deg, elevation_deg) -> np.ndarray:
        """Flat binned-pixel index of directions (bearing, elevation); -1 outside the eye."""
        elevation_deg = np.asarray(elevation_deg, dtype=float)
        row = np.floor((elevation_deg - MIN_ELEVATION_DEG) / ROW_DEG).astype(int)
        shift = np.where(row % 2 == 0, 0.375, -0.375)
        # bearing from the eye's left edge, in [-90, 270): the staggered rows reach past both edges
        relative = (np.asarray(bearing_deg) - self.site.bearing_deg + 180.0) % 360.0 - 180.0 + EYE_FOV_DEG / 2
        col = np.floor((relative + shift) / PIXEL_DEG).astype(int)
        inside = (row >= 0) & (row < ROWS) & (col >= 0) & (col < EYE_COLUMNS)
        flat = (np.clip(row, 0, ROWS - 1) // self.binning) * self.columns + np.clip(
            col, 0, EYE_COLUMNS - 1
        ) // self.binning
        return np.where(inside, flat, -1)

    def subrays(self, n: int, rng: np.random.Generator | None = None):
        """n x n directions per native pixel, one in each cell of an n x n split of it:
        the cell centres, or (with ``rng``) a uniform point in each cell (stratified
        sampling: an unbiased integral over the pixel without a fixed grid's aliasing).

        Returns bearing (22*120, n*n), elevation (same), solid angle (deg^2, same) and the
        binned pixel index (22*120,) of each native pixel.
        """
        shape = (ROWS * EYE_COLUMNS, n, n)
        offsets = (np.arange(n)[None, :, None], np.arange(n)[None, None, :])
        u = rng.random(shape) if rng is not None else np.full(shape, 0.5)
        v = rng.random(shape) if rng is not None else np.full(shape, 0.5)
        bearing = self.left_deg.reshape(-1, 1, 1) + (offsets[0] + u) / n * PIXEL_DEG
        elevation = self.bottom_deg.reshape(-1, 1, 1) + (offsets[1] + v) / n * ROW_DEG
        solid = (PIXEL_DEG / n) * (ROW_DEG / n) * np.cos(np.radians(elevation))
        flat = (ROWS * EYE_COLUMNS, n * n)
        return bearing.reshape(flat), elevation.reshape(flat), solid.reshape(flat), self.binned_index


class Detector:
    """The configured eyes, the map's reference site, the emission layer and the atmosphere.

    Parameters
    ----------
    sites : name -> {lat, lon, alt_km, bearing_deg} (config ``elves.sites``).
    eyes : names of the eyes whose cameras are simulated, in the order of the movie's eye axis.
    reference_site : origin of the km east / km north coordinates.
    layer_altitude_km : altitude of the emission layer.
    tau_vertical, scale_height_km : the atmosphere (vertical optical depth above an eye and
        scale height of the exponential profile).
    pixel_binning : 1 or 2 (see :class:`Camera`).
    """

    def __init__(
        self,
        sites: Mapping[str, Mapping[str, Any]],
        eyes: Sequence[str],
        reference_site: str,
        layer_altitude_km: float,
        tau_vertical: float,
        scale_height_km: float,
        pixel_binning: int = 1,
    ):
        for name in [*eyes, reference_site]:
            if name not in sites:
                raise ValueError(f"elves: site {name!r} is not defined under elves.sites ({sorted(sites)})")
        if not eyes:
            raise ValueError("elves.eyes: at least one eye is needed")
        self.sites = {name: Site(name=name, **dict(spec)) for name, spec in sites.items()}
        self.eyes = [self.sites[name] for name in eyes]
        self.reference = self.sites[reference_site]
        self.layer_altitude_km = float(layer_altitude_km)
        self.layer_radius = EARTH_RADIUS_KM + self.layer_altitude_km
        self.cameras = [Camera(eye, pixel_binning) for eye in self.eyes]
        self._depth = [
            slant_optical_depth_table(eye.alt_km, self.layer_altitude_km, tau_vertical, scale_height_km)
            for eye in self.eyes
        ]

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.cameras[0].shape

    def optical_depth(self, eye_index: int, elevation_deg) -> np.ndarray:
        elevation, depth = self._depth[eye_index]
        return np.interp(elevation_deg, elevation, depth)

    def rays(
        self,
        eye_index: int,
        n: int,
        rng: np.random.Generator | None = None,
        altitude_km=None,
        depth_scale: float = 1.0,
    ) -> dict[str, np.ndarray]:
        """Sub-rays of every pixel of one eye, where they meet the layer, and what the
        atmosphere lets through: ``points`` (P, 3), ``distance`` (km, eye to layer),
        ``cos_alpha``, ``transmission``, ``solid_deg2`` and ``pixel`` (binned index), with
        P = 22 * 120 * n * n rays (see :meth:`Camera.subrays`).

        ``altitude_km``: where the rays meet the emission layer instead of the nominal
        ``layer_altitude_km``; a number, or one altitude per ray (P,) for a thick layer.
        ``depth_scale``: the slant optical depths times this (an atmosphere of another
        vertical optical depth, same profile). The defaults give the nominal detector."""
        eye, camera = self.eyes[eye_index], self.cameras[eye_index]
        bearing, elevation, solid, binned = camera.subrays(n, rng)
        dirs = directions(eye.basis, bearing.ravel(), elevation.ravel())
        radius = self.layer_radius if altitude_km is None else EARTH_RADIUS_KM + np.asarray(altitude_km, dtype=float)
        points, distance, cos_alpha = intersect_layer(eye.position, dirs, radius)
        depth = self.optical_depth(eye_index, elevation.ravel())
        return {
            "points": points,
            "distance": distance,
            "cos_alpha": cos_alpha,
            "transmission": np.exp(-(depth if depth_scale == 1.0 else depth * depth_scale)),
            "solid_deg2": solid.ravel(),
            "pixel": np.repeat(binned, n * n),
        }

    def stroke_position(self, east_km, north_km) -> np.ndarray:
        return ground_point(self.reference, east_km, north_km)
