"""Geometry of the elves study: the arrival-time model against hand-computed cases, ring
growth, map coordinates, camera pixels and the atmosphere."""

import math

import numpy as np
import pytest
from test_elves_simulate import small_settings

from cnnpractice.elves import geometry as g
from cnnpractice.elves.simulate import build_detector

C = g.C_KM_PER_US
R = g.EARTH_RADIUS_KM
ORIGIN = g.Site("origin", lat=0.0, lon=0.0)


def test_arrival_time_straight_up_and_back():
    """Stroke, eye and the layer point all above one ground point: t0 + 2 h / c (h = 92 km: 613.76 us)."""
    stroke = eye = g.ground_point(ORIGIN, 0.0, 0.0)
    point = (R + 92.0) * g.unit_vector(0.0, 0.0)
    assert g.arrival_time(stroke, point, eye, t0=5.0) == pytest.approx(5.0 + 2 * 92.0 / C, abs=1e-9)
    assert 2 * 92.0 / C == pytest.approx(613.758, abs=1e-3)


def test_arrival_time_hand_computed_with_the_law_of_cosines():
    """Stroke 100 km west, eye 300 km east of the point below P, eye 1.4 km up, layer 90 km.
    By hand: |S - P|^2 = R^2 + (R + h)^2 - 2 R (R + h) cos(100 / R), same for the eye's leg
    with R + 1.4 and 300 km; t = t0 + (|S - P| + |P - E|) / c."""
    stroke = g.ground_point(ORIGIN, -100.0, 0.0)
    eye = g.Site("eye", lat=0.0, lon=math.degrees(300.0 / R), alt_km=1.4).position
    point = (R + 90.0) * g.unit_vector(0.0, 0.0)
    leg1 = math.sqrt(R**2 + (R + 90) ** 2 - 2 * R * (R + 90) * math.cos(100 / R))
    leg2 = math.sqrt((R + 1.4) ** 2 + (R + 90) ** 2 - 2 * (R + 1.4) * (R + 90) * math.cos(300 / R))
    assert g.arrival_time(stroke, point, eye, t0=-2.0) == pytest.approx(-2.0 + (leg1 + leg2) / C, rel=1e-12)
    # close to the flat-Earth value sqrt(d^2 + h^2) for the 100 km leg (curvature: < 0.5 %)
    assert leg1 == pytest.approx(math.hypot(100.0, 90.0), rel=5e-3)


@pytest.mark.parametrize("tau_us", [320.0, 400.0, 600.0, 1200.0, 2500.0])
def test_ring_radius_is_where_the_pulse_is_on_the_layer(tau_us):
    """Layer points along a great circle from the stroke: the pulse reaches them at |S - P| / c;
    the one reached tau after the stroke is ring_radius(tau) from the point above the stroke."""
    h = 92.0
    psi = np.linspace(0.0, 0.16, 200_001)
    points = (R + h) * np.stack([np.cos(psi), np.sin(psi), np.zeros_like(psi)], axis=1)
    stroke = np.array([R, 0.0, 0.0])
    reached = np.linalg.norm(points - stroke, axis=1) / C
    radius = (R + h) * np.interp(tau_us, reached, psi)
    assert g.ring_radius(tau_us, h) == pytest.approx(radius, abs=0.01)
    # flat-Earth value for small rings: sqrt((c tau)^2 - h^2)
    if tau_us <= 400:
        assert g.ring_radius(tau_us, h) == pytest.approx(math.sqrt((C * tau_us) ** 2 - h**2), rel=0.01)
    assert np.isnan(g.ring_radius(h / C * 0.99, h))


def test_the_simulated_layer_points_lit_at_tau_form_the_ring():
    """Rays of the simulated camera: those whose layer point the pulse reaches within 2 us of
    tau lie at ring_radius(tau) from the point above the stroke, and the ring grows."""
    detector = build_detector(small_settings())
    rays = detector.rays(0, 4)
    stroke = g.ground_point(detector.eyes[0], 150.0, 400.0)
    reach = np.linalg.norm(rays["points"] - stroke, axis=1) / C
    above = stroke / np.linalg.norm(stroke) * detector.layer_radius
    previous = 0.0
    for tau in (400.0, 600.0, 900.0):
        ring = np.abs(reach - tau) < 2.0
        chord = np.linalg.norm(rays["points"][ring] - above, axis=1)
        arc = 2 * detector.layer_radius * np.arcsin(chord / (2 * detector.layer_radius))
        assert ring.sum() > 20
        np.testing.assert_allclose(arc, g.ring_radius(tau, 92.0), atol=2.5)
        assert arc.mean() > previous
        previous = arc.mean()


def test_map_coordinates_invert_ground_points():
    site = g.Site("los_leones", lat=-35.496, lon=-69.450)
    east, north = np.array([0.0, 120.0, -450.0, 700.0]), np.array([0.0, 35.0, 600.0, -20.0])
    back = g.map_coordinates(site, g.ground_point(site, east, north))
    np.testing.assert_allclose(back, (east, north), atol=1e-6)
    bearing, distance = g.bearing_and_distance(site, g.ground_point(site, 300.0, 0.0)[None])
    assert bearing[0] == pytest.approx(90.0) and distance[0] == pytest.approx(300.0)


@pytest.mark.parametrize("binning, shape", [(1, (22, 120)), (2, (11, 60))])
def test_camera_pixels_round_trip(binning, shape):
    camera = g.Camera(g.Site("eye", lat=-35.0, lon=-69.0, bearing_deg=21.0), pixel_binning=binning)
    assert camera.shape == shape
    bearing, elevation, solid, binned = camera.subrays(3, np.random.default_rng(0))
    pixels = camera.pixel_of(bearing, elevation)
    np.testing.assert_array_equal(pixels, np.repeat(binned[:, None], 9, axis=1))
    assert np.bincount(binned).tolist() == [binning**2] * (shape[0] * shape[1])
    # 6 telescopes of 440 pixels, 1.5 x 1.299 deg each (solid angle in deg^2 at elevation e: x cos e)
    assert len(binned) == 6 * 440
    assert solid.sum() == pytest.approx(np.sum(1.5 * g.ROW_DEG * np.cos(np.radians(elevation.mean(axis=1)))), rel=1e-3)
    assert camera.pixel_of(21.0 + 180.0, 10.0) == -1 and camera.pixel_of(21.0, 31.0) == -1


def test_slant_optical_depth():
    elevation, depth = g.slant_optical_depth_table(1.4, 92.0, 0.5, 8.0)
    assert depth[-1] == pytest.approx(0.5, rel=1e-3)  # straight up
    assert np.interp(30.0, elevation, depth) == pytest.approx(1.0, rel=0.01)  # air mass 2
    assert (np.diff(depth) < 0).all()
    assert 15 < np.interp(2.0, elevation, depth) / 0.5 < 25  # curved-Earth air mass at 2 deg
