"""Backgrounds that look like signal: vertical laser shots, lightning lighting clouds, showers
across camera borders, events cut at the trace's edges, and the trigger that keeps them."""

import numpy as np
import pytest
from test_elves_simulate import config_settings

from cnnpractice.elves import backgrounds, simulate
from cnnpractice.elves.geometry import C_KM_PER_US, look_angles


def settings_for(**backgrounds_changes):
    settings = config_settings()
    settings["readout"] = {**settings["readout"], "n_bins": 50, "time_bin_us": 4.0}
    settings["backgrounds"].update(backgrounds_changes)
    return settings


def test_laser_beam_is_vertical_and_its_light_climbs_at_the_right_pace():
    """Every point of the beam has the laser's bearing from each eye (a vertical line in the
    camera) and appears at (z + |P - E|) / c."""
    settings = settings_for()
    detector = simulate.build_detector(settings)
    site = backgrounds.laser_site(settings, "clf")
    points, z = backgrounds.laser_points(site)
    for eye in detector.eyes:
        bearing, elevation, distance = look_angles(eye, points)
        assert np.ptp(bearing) < 1e-6  # vertical: one bearing for the whole beam
        assert np.all(np.diff(elevation) > 0)  # climbing
        ground = np.linalg.norm(points[0] - eye.position)
        assert distance[0] == pytest.approx(ground, rel=1e-9)
    lights = backgrounds.laser_light(detector, settings, site, 1e5)
    for (_, t_abs, _), eye in zip(lights, detector.eyes):
        _, _, distance = look_angles(eye, points)
        np.testing.assert_allclose(t_abs, (z + distance) / C_KM_PER_US)


def test_laser_movie_is_one_column_rising_in_time():
    settings = settings_for(cut_fraction=0.0)
    detector = simulate.build_detector(settings)
    rng = np.random.default_rng(2)
    signal, starts, tags = backgrounds.laser_signal(detector, settings, rng)
    assert not tags["cut"] and np.isfinite(starts).all()
    for e in range(len(detector.eyes)):
        movie = signal[e]  # (T, rows, columns)
        lit = movie > 1e-3 * movie.max()
        columns = np.flatnonzero(lit.any(axis=(0, 1)))
        assert len(columns) and np.ptp(columns) <= 1  # one column (the stagger can add its neighbour)
        rows_by_time = [
            np.average(np.arange(movie.shape[1]), weights=movie[k].sum(axis=1))
            for k in range(len(movie))
            if movie[k].sum() > 1e-3 * movie.sum()
        ]
        assert len(rows_by_time) > 3 and np.all(np.diff(rows_by_time) > -0.2)  # the light climbs
        assert rows_by_time[-1] > rows_by_time[0] + 1


@pytest.mark.parametrize("seed", range(4))
def test_border_showers_cross_a_camera_border(seed):
    settings = settings_for(shower_border_fraction=1.0, cut_fraction=0.0)
    detector = simulate.build_detector(settings)
    rng = np.random.default_rng(seed)
    signal, _, tags = backgrounds.shower_signal(detector, settings, rng)
    assert tags["border"] and not tags["cut"]
    columns = np.flatnonzero(signal.sum(axis=(0, 1, 2)) > 0)  # binned columns, 10 per telescope
    if columns.min() > 0 and columns.max() < 59:  # an inner border: pixels on both sides of it
        assert any(columns.min() < 10 * k <= columns.max() for k in range(1, 6)), columns
    else:  # the field's edge: the track leaves the camera
        assert columns.min() == 0 or columns.max() == 59


def test_cut_events_run_over_the_trace_edges():
    settings = settings_for(cut_fraction=1.0, shower_border_fraction=0.0)
    settings["readout"]["n_bins"] = 25
    detector = simulate.build_detector(settings)
    rng = np.random.default_rng(0)
    edges = 0
    for _ in range(20):
        signal, _, tags = backgrounds.shower_signal(detector, settings, rng)
        assert tags["cut"]
        curve = signal.sum(axis=(0, 2, 3))
        edges += bool(curve[0] > 0 or curve[-1] > 0)
    assert edges >= 17  # a track that also leaves the camera can have its seen part wholly inside
    for generator in (backgrounds.laser_signal, backgrounds.lightning_signal):
        signal, _, tags = generator(detector, settings, rng)
        assert tags["cut"]


def test_lightning_lights_the_low_rows_for_long():
    """A flash 30-40 km away, its cloud at 5-6 km: seen at low elevations, and its light lasts
    longer than the 100 us trace (decay 200-300 us)."""
    settings = settings_for(
        cut_fraction=0.0,
        lightning_distance_km=[30.0, 40.0],
        lightning_altitude_km=[5.0, 6.0],
        lightning_decay_us=[200.0, 300.0],
        lightning_pe=[1e6, 2e6],
    )
    settings["readout"]["n_bins"] = 25
    detector = simulate.build_detector(settings)
    signal, _, _ = backgrounds.lightning_signal(detector, settings, np.random.default_rng(4))
    rows = signal[0].sum(axis=(0, 2))
    assert rows.sum() > 0 and rows.argmax() <= 3  # the cloud sits low in the camera
    curve = signal[0].sum(axis=(1, 2))
    assert curve[-1] > 0.2 * curve.max()  # still glowing when the trace ends


def test_trigger_keeps_visible_events_only():
    settings = settings_for(trigger_pixels=3, trigger_sigma=5.0)
    shape = (2, 25, 11, 60)
    dark = np.zeros(shape)
    assert not backgrounds.triggers(dark, settings)
    bright = dark.copy()
    bright[0, 5, 2, 10:13] = 1000.0
    assert backgrounds.triggers(bright, settings)
    bright[0, 5, 2, 12] = 0.0
    assert not backgrounds.triggers(bright, settings)  # two pixels are not enough
    assert backgrounds.triggers(dark, {k: v for k, v in settings.items() if k != "backgrounds"})


def test_simulated_background_events_are_tagged_and_triggered():
    settings = config_settings()
    settings["readout"] = {**settings["readout"], "n_bins": 10, "time_bin_us": 10.0}
    settings["events"]["classes"] = {"elve": 0.0, "shower": 0.3, "noise": 0.1, "laser": 0.3, "lightning": 0.3}
    events = list(simulate.simulate_events(settings, 20, seed=1, split="train", shard=0))
    names = [simulate.CLASSES[ev["label"]] for ev in events]
    assert {"shower", "laser", "lightning", "noise"} == set(names)
    for ev, name in zip(events, names):
        if name in ("laser", "lightning"):
            assert np.isfinite(ev["window_start_us"]).all()
        if name == "noise":
            assert not ev["cut"] and not ev["border"]
    assert any(ev["cut"] for ev in events)
