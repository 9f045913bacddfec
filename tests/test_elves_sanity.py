"""The simulator against derived geometry and published facts (the sanity table)."""

import math

import numpy as np
import pytest
from test_elves_simulate import config_settings

from cnnpractice.elves import sanity, simulate


def test_simulated_ring_follows_the_emp_front():
    """Per native pixel of a noiseless elve, the radius of the layer point against the time
    the pulse reached it: within 1 km of R(tau) = R_L arccos(...) at every tau."""
    for row in sanity.measured_ring(config_settings()):
        assert row["simulated"] is not None and row["simulated"]["n"] >= 10
        assert row["simulated"]["value"] == pytest.approx(row["derived_km"], abs=1.0), row
        assert row["derived_km"] == pytest.approx(row["flat_km"], rel=0.02)  # curvature: < 2 %
        assert row["speed_c"] > 1.0  # faster than light


def test_radial_extent_matches_the_flat_earth_dipole():
    """sin^2(theta) / r^2 with sin(theta) = R / r, r^2 = R^2 + h^2 peaks at R = h and falls to
    half at R = h sqrt(3 + 2 sqrt 2) = 2.414 h (flat Earth, by hand)."""
    extent = sanity.extent_fraction(config_settings())
    h = 92.0
    assert extent["peak_km"] == pytest.approx(h, rel=0.03)
    assert extent["half_km"] == pytest.approx(h * math.sqrt(3 + 2 * math.sqrt(2)), rel=0.03)
    x = 250.0 / h
    assert extent["fraction"] == pytest.approx(4 * x**2 / (1 + x**2) ** 2, rel=0.05)


def test_brightness_rows_per_class():
    settings = config_settings()
    readout = settings["readout"]
    background = readout["background_pe_per_us"] * readout["time_bin_us"] * 4
    movies = np.full((6, 2, 3, 2, 2), background, dtype=np.float16)
    movies[:3, 0, 1, 0, 0] += np.array([16.0, 32.0, 64.0], dtype=np.float16) * 16  # 16, 32, 64 pe/pixel/us
    data = {
        "movies": movies,
        "label": np.array([0, 0, 0, 2, 2, 2]),
        "distance_km": np.array([200.0, 200.0, 200.0, np.nan, np.nan, np.nan]),
    }
    rows = {r["events"]: r for r in sanity.brightness_rows(data, settings)}
    assert rows["elve"]["median"] == pytest.approx(32.0) and rows["elve"]["n"] == 3
    assert rows["noise"]["median"] == pytest.approx(0.0) and set(rows) == {"elve", "noise", "elve 150-300 km"}
    assert simulate.CLASSES[2] == "noise"
