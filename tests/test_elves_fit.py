"""The timing-fit baseline: exact recovery of a noiseless stroke, first light, current."""

import numpy as np
import pytest
from test_elves_simulate import small_settings, stroke_at

from cnnpractice.elves import fit, simulate
from cnnpractice.elves.geometry import map_coordinates


@pytest.fixture(scope="module")
def model():
    return fit.TimingModel(simulate.build_detector(small_settings()))


@pytest.mark.parametrize(
    "distance_km, bearing_deg, t0_us", [(250.0, 21.0, 3.0), (420.0, -40.0, -7.5), (650.0, 95.0, 0.0)]
)
def test_fit_recovers_a_noiseless_stroke_exactly(model, distance_km, bearing_deg, t0_us):
    """First-light times computed by the model itself, for the pixels the elve lights, are
    fitted back to the stroke (to 10 m) and its time (to 1 ns)."""
    stroke = stroke_at(model.detector, distance_km, bearing_deg)
    east, north = map_coordinates(model.detector.reference, stroke)
    pixels = np.arange(0, 11 * 60, 7)
    times = model.times(0, pixels, stroke, t0_us)
    visible = times < np.min(times) + 150.0  # the part of the camera a 150 us trace would see lit
    result = fit.fit_times(model, [(0, pixels[visible], times[visible])])
    assert result["success"] and result["n_pixels"] == visible.sum()
    assert np.hypot(result["east_km"] - east, result["north_km"] - north) < 0.01
    assert result["t0_us"] == pytest.approx(t0_us, abs=1e-3) and result["rms_us"] < 1e-3


def test_first_light_of_a_step():
    movie = np.zeros((10, 2, 3))
    movie[4:, 0, 1] = 100.0  # rises in bin 4 of pixel (0, 1)
    movie[6, 1, 2] = 100.0  # one bin only: a muon hit, not light
    rng = np.random.default_rng(0)
    pixels, times = fit.first_light(movie + rng.normal(0, 1e-3, movie.shape), 2.0, 4.0, 2)
    assert pixels.tolist() == [1]
    assert 3.5 * 2.0 < times[0] < 4.5 * 2.0  # between the centres of bins 3 and 4


def test_current_from_a_noiseless_movie():
    settings = small_settings(n_bins=30)
    detector = simulate.build_detector(settings)
    stroke = stroke_at(detector, 350.0, 0.0)
    signal, starts = simulate.elve_signal(detector, settings, stroke, 137.0)
    background = 50.0
    current = fit.estimate_current(detector, settings, signal + background, stroke, starts)
    assert current == pytest.approx(137.0, rel=1e-6)


def test_fit_event_on_a_noisy_elve():
    settings = small_settings(n_bins=25, time_bin_us=4.0)
    detector = simulate.build_detector(settings)
    model = fit.TimingModel(detector)
    rng = np.random.default_rng(5)
    stroke = stroke_at(detector, 320.0, 30.0)
    signal, starts = simulate.elve_signal(detector, settings, stroke, 150.0, rng=rng)
    movie = simulate.add_noise(signal, settings, rng)
    result = fit.fit_event(model, settings, movie, starts, threshold_sigma=3.0, min_bins=3, min_pixels=6)
    east, north = map_coordinates(detector.reference, stroke)
    assert result["success"] and np.hypot(result["east_km"] - east, result["north_km"] - north) < 10.0
    assert result["current_ka"] == pytest.approx(150.0, rel=0.15)
    empty = fit.fit_event(model, settings, simulate.add_noise(0 * signal, settings, rng), starts, 3.0, 3, 6)
    assert not empty["success"] and np.isnan(empty["east_km"])


@pytest.fixture(scope="module")
def stereo_model():
    settings = small_settings()
    settings["eyes"] = ["los_leones", "coihueco"]
    return fit.TimingModel(simulate.build_detector(settings))


@pytest.mark.parametrize("distance_km, bearing_deg, t0_us", [(250.0, 60.0, 2.0), (600.0, 80.0, -4.0)])
def test_stereo_fit_recovers_a_noiseless_stroke_exactly(stereo_model, distance_km, bearing_deg, t0_us):
    """First-light times of both eyes from the model itself, in the eyes' common clock, are
    fitted back jointly to the stroke (to 10 m) and its time (to 1 ns)."""
    model = stereo_model
    stroke = stroke_at(model.detector, distance_km, bearing_deg)
    east, north = map_coordinates(model.detector.reference, stroke)
    observations = []
    for e in range(2):
        pixels = np.arange(e, 11 * 60, 5)
        times = model.times(e, pixels, stroke, t0_us)
        visible = times < np.min(times) + 150.0
        observations.append((e, pixels[visible], times[visible]))
    result = fit.fit_times(model, observations)
    assert result["success"] and result["n_pixels"] == sum(len(p) for _, p, _ in observations)
    assert np.hypot(result["east_km"] - east, result["north_km"] - north) < 0.01
    assert result["t0_us"] == pytest.approx(t0_us, abs=1e-3) and result["rms_us"] < 1e-3


def test_stereo_and_mono_fits_of_a_noiseless_movie():
    """Noiseless movies of both eyes (4 us bins): the joint fit and the first eye's fit both
    find the stroke to within a few km; the joint one uses both eyes' pixels."""
    settings = small_settings(n_bins=25, time_bin_us=4.0)
    settings["eyes"] = ["los_leones", "coihueco"]
    detector = simulate.build_detector(settings)
    model = fit.TimingModel(detector)
    stroke = stroke_at(detector, 350.0, 70.0)
    signal, starts = simulate.elve_signal(detector, settings, stroke, 150.0)
    movie = (
        signal
        + settings["readout"]["background_pe_per_us"] * 16.0
        + np.random.default_rng(0).normal(0, 1, signal.shape)
    )
    east, north = map_coordinates(detector.reference, stroke)
    results = {
        name: fit.fit_event(model, settings, movie, starts, 3.0, 3, 6, eyes=eyes)
        for name, eyes in fit.eye_sets(2).items()
    }
    assert set(results) == {"mono", "stereo"}
    assert results["stereo"]["n_pixels"] > results["mono"]["n_pixels"] > 6
    for result in results.values():
        assert result["success"] and np.hypot(result["east_km"] - east, result["north_km"] - north) < 5.0
        assert result["current_ka"] == pytest.approx(150.0, rel=0.1)
    assert fit.eye_sets(1) == {"mono": [0]}
