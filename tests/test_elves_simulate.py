"""The elves simulator: determinism per seed, shapes, exact time integration, physics scalings."""

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from cnnpractice.elves import simulate
from cnnpractice.elves.geometry import ground_point

ROOT = Path(__file__).resolve().parents[1]


SIMULATION_KEYS = (
    "sites",
    "eyes",
    "reference_site",
    "layer_altitude_km",
    "atmosphere",
    "emission",
    "readout",
    "events",
    "nuisances",
    "backgrounds",
)


def config_settings():
    """The default config's simulation settings (two eyes, nuisances, five classes)."""
    section = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["elves"]
    return copy.deepcopy({k: section[k] for k in SIMULATION_KEYS})


def small_settings(**readout):
    """The default config's elves settings as they were before nuisances, stereo and the new
    backgrounds (one eye, nominal physics, elves / showers / noise), with a short, coarse
    readout (fast tests)."""
    settings = config_settings()
    settings["eyes"] = ["los_leones"]
    settings["nuisances"]["enabled"] = False
    settings["events"]["classes"] = {"elve": 0.7, "shower": 0.15, "noise": 0.15}
    settings.pop("backgrounds")
    settings["readout"] = {**settings["readout"], "n_bins": 12, "time_bin_us": 5.0, "subrays": 2, **readout}
    return settings


def stroke_at(detector, distance_km, bearing_deg):
    eye = detector.eyes[0]
    b = math.radians(bearing_deg)
    return ground_point(eye, distance_km * math.sin(b), distance_km * math.cos(b))


def test_same_seed_same_events_other_seed_other_events():
    settings = small_settings()
    first = list(simulate.simulate_events(settings, 6, seed=3, split="train", shard=0))
    again = list(simulate.simulate_events(settings, 6, seed=3, split="train", shard=0))
    other = list(simulate.simulate_events(settings, 6, seed=4, split="train", shard=0))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a["movie"], b["movie"])
        assert a["label"] == b["label"]
        np.testing.assert_equal(a["east_km"], b["east_km"])
    assert any(not np.array_equal(a["movie"], c["movie"]) for a, c in zip(first, other))


def test_shard_file_shapes_labels_and_truth(tmp_path):
    settings = small_settings()
    out = tmp_path / "shard1.npz"
    simulate.simulate_shard(out=out, settings=settings, seed=1, split="test", shard=1, first_event=10, n_events=10)
    data = simulate.load_shards([out], settings)
    assert data["movies"].shape == (10, 1, 12, 11, 60) and data["movies"].dtype == np.float16
    assert data["event_id"].tolist() == list(range(10, 20))
    assert np.bincount(data["label"], minlength=3).tolist() == [7, 2, 1]  # 0.7 / 0.15 / 0.15 of 10
    elves = data["label"] == 0
    assert np.isfinite(data["east_km"][elves]).all() and np.isnan(data["east_km"][~elves]).all()
    lo, hi = settings["events"]["distance_km"]
    assert ((data["distance_km"][elves] >= lo) & (data["distance_km"][elves] <= hi)).all()
    changed = copy.deepcopy(settings)
    changed["layer_altitude_km"] = 85.0
    with pytest.raises(ValueError, match="shard1.npz: simulated with other elves settings"):
        simulate.load_shards([out], changed)


def test_two_eyes_make_two_movies_per_event():
    settings = small_settings()
    settings["eyes"] = ["los_leones", "coihueco"]
    event = next(simulate.simulate_events(settings, 1, seed=0, split="train", shard=0))
    assert event["movie"].shape == (2, 12, 11, 60) and event["window_start_us"].shape == (2,)


def test_stereo_strokes_are_in_every_eyes_view():
    settings = small_settings()
    settings["eyes"] = ["los_leones", "coihueco"]
    settings["events"]["seen_by_all_eyes"] = True
    detector = simulate.build_detector(settings)
    rng = np.random.default_rng(0)
    bearings = []
    for _ in range(200):
        position, bearing, distance, _ = simulate.sample_stroke(detector, settings, rng)
        assert simulate.in_view(detector, position) and 150.0 <= distance <= 700.0
        bearings.append(bearing)
    # Coihueco looks east-south-east: from Los Leones only bearings of about 17-106 deg are shared
    assert 10.0 < min(bearings) and max(bearings) < 110.0
    assert not simulate.in_view(detector, stroke_at(detector, 300.0, -40.0))  # behind Coihueco


@pytest.mark.parametrize("t_us, decay_us", [(2.5, 4.0), (0.0, 1.0), (-3.0, 2.0), (7.3, 0.0)])
def test_deposit_integrates_the_exponential_exactly(t_us, decay_us):
    bin_us, n_bins = 2.0, 40
    out = simulate.deposit(np.array([1]), np.array([t_us]), np.array([10.0]), 3, n_bins, bin_us, decay_us)
    edges = np.arange(n_bins + 1) * bin_us
    if decay_us:
        cdf = np.where(edges > t_us, 1 - np.exp(-(edges - t_us) / decay_us), 0.0)
        expected = 10.0 * np.diff(cdf)
    else:
        expected = np.zeros(n_bins)
        expected[int(t_us // bin_us)] = 10.0
    np.testing.assert_allclose(out[1], expected, atol=1e-9)
    assert not out[0].any() and not out[2].any()


def test_elve_light_goes_as_current_squared_and_falls_with_distance():
    settings = small_settings(n_bins=40)
    detector = simulate.build_detector(settings)
    near = stroke_at(detector, 300.0, 21.0)
    weak, starts = simulate.elve_signal(detector, settings, near, 50.0)
    strong, _ = simulate.elve_signal(detector, settings, near, 100.0, window_start_us=starts)
    np.testing.assert_allclose(strong.sum(), 4.0 * weak.sum(), rtol=1e-9)
    far, _ = simulate.elve_signal(detector, settings, stroke_at(detector, 650.0, 21.0), 100.0)
    assert far.sum() < strong.sum()


def test_first_light_comes_from_half_way_to_the_stroke():
    """The earliest light is the layer point minimising |S - P| + |P - E|: at the stroke's
    bearing, half way to it (400 km away: 200 km out at ~88 km above the eye's horizon,
    elevation 23.6 deg = native row 17 = binned row 8; bearing 51 deg = binned column 40)."""
    settings = small_settings(time_bin_us=1.0, n_bins=30)
    detector = simulate.build_detector(settings)
    signal, _ = simulate.elve_signal(detector, settings, stroke_at(detector, 400.0, 51.0), 100.0)
    movie = signal[0]
    first_bin = int(np.argmax(movie.max(axis=(1, 2)) > 0.01 * movie.max()))
    row, col = np.unravel_index(np.argmax(movie[first_bin]), movie.shape[1:])
    assert abs(row - 8) <= 1 and abs(col - 40) <= 1, (row, col)


def test_class_counts_follow_the_shares_exactly():
    assert simulate.class_counts(10, {"elve": 0.5, "shower": 0.25, "noise": 0.25}).tolist() == [5, 3, 2, 0, 0]
    assert simulate.class_counts(7, {"elve": 1.0, "shower": 0.0, "noise": 0.0}).tolist() == [7, 0, 0, 0, 0]
    shares = {"elve": 0.6, "shower": 0.1, "noise": 0.1, "laser": 0.1, "lightning": 0.1}
    assert simulate.class_counts(10, shares).tolist() == [6, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="elves.events.classes"):
        simulate.class_counts(3, {"elve": 0.0, "shower": 0.0, "noise": 0.0})
