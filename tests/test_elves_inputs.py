"""What the elves CNNs see: noise units, the eyes' clock frames, first-light frames."""

import numpy as np
import pytest
from test_elves_simulate import config_settings

from cnnpractice.elves import fit, inputs


def fake_data(n=4, eyes=2, steps=10):
    rng = np.random.default_rng(0)
    settings = config_settings()
    readout = settings["readout"]
    background = readout["background_pe_per_us"] * readout["time_bin_us"] * 4
    movies = rng.poisson(background, size=(n, eyes, steps, 11, 60)).astype(np.float16)
    movies[:, :, 5:, 3, 7] += 2000  # light from bin 5 on in one pixel of every eye
    return settings, {
        "movies": movies,
        "window_start_us": np.array([[100.0, 130.0], [0.0, -20.0], [5.0, 5.0], [1.0, 2.0]])[:n, :eyes],
        "label": np.zeros(n, int),
        "east_km": np.arange(n, dtype=float),
        "north_km": np.arange(n, dtype=float) + 10,
        "current_ka": np.full(n, 100.0),
    }


def test_noise_units_put_the_sky_at_zero_with_unit_noise():
    settings, data = fake_data()
    x = inputs.noise_units(data["movies"], settings, compress=None)
    sky = np.ones(x.shape, bool)
    sky[:, :, 5:, 3, 7] = False
    assert abs(x[sky].mean()) < 0.05 and x[sky].std() == pytest.approx(1.0, abs=0.05)
    compressed = inputs.noise_units(data["movies"], settings)
    assert compressed.max() < x.max() and np.allclose(compressed[sky], x[sky], atol=0.2)


@pytest.mark.parametrize("eyes, first_light, steps", [([0], None, 10), (None, None, 11), (None, True, 12)])
def test_locator_inputs_frames(eyes, first_light, steps):
    settings, data = fake_data()
    rule = {"threshold_sigma": 3.0, "min_bins": 3} if first_light else None
    x = inputs.locator_inputs(data, np.arange(4), eyes, settings, rule)
    assert x.shape == (4, 1 if eyes else 2, steps, 11, 60) and x.dtype == np.float32
    if eyes is None:  # the last frame of each eye: its window start minus the first eye's, / 10 us
        np.testing.assert_allclose(x[:, 1, -1, 0, 0], [3.0, -2.0, 0.0, 0.1])
        assert np.all(x[:, 0, -1] == 0.0)
    if first_light:
        frame = x[:, :, -2]
        maps = fit.first_light_maps(data["movies"][:, 0], settings["readout"]["time_bin_us"], 3.0, 3)
        np.testing.assert_allclose(frame[:, 0][np.isfinite(maps)], maps[np.isfinite(maps)] / 10.0, rtol=1e-6)
        # rises in bin 5: just after the centre of bin 4 (interpolated towards bin 5 by threshold / 2000 pe)
        assert frame[0, 0, 3, 7] == pytest.approx(4.5 * 4.0 / 10.0, abs=0.1)
        assert np.all(frame[:, :, 0, 0] == -1.0)  # no light: -1


def test_first_light_maps_agree_with_first_light():
    settings, data = fake_data()
    movie = data["movies"][0, 0]
    pixels, times = fit.first_light(movie, 4.0, 3.0, 3)
    maps = fit.first_light_maps(movie[None], 4.0, 3.0, 3)[0].ravel()
    assert set(np.flatnonzero(np.isfinite(maps))) == set(pixels)
    np.testing.assert_allclose(maps[pixels], times, rtol=1e-5)


def test_detector_per_class_subset_is_seeded_and_capped():
    from cnnpractice.elves.training import per_class_subset

    labels = np.array([0] * 50 + [1] * 5 + [2] * 20)
    keep = per_class_subset(labels, 10, seed=3)
    assert np.bincount(labels[keep]).tolist() == [10, 5, 10] and np.all(np.diff(keep) > 0)
    np.testing.assert_array_equal(keep, per_class_subset(labels, 10, seed=3))
    assert not np.array_equal(keep, per_class_subset(labels, 10, seed=4))
    np.testing.assert_array_equal(per_class_subset(labels, None, 0), np.arange(75))


def test_projections_keep_where_when_and_how_bright():
    settings, data = fake_data()
    x = inputs.projections(data["movies"], settings)
    assert x.shape == (4, 2, 3, 11, 60) and x.dtype == np.float32
    lit = x[:, :, :, 3, 7]
    assert np.all(lit[:, :, 0] > 20.0)  # the lit pixel's peak, in compressed noise units
    assert np.all((lit[:, :, 2] >= 5 / 9) & (lit[:, :, 2] <= 1.0))  # its peak: one of bins 5-9 of 0-9
    dark = x[:, :, :, 0, 0]
    assert np.all(np.abs(dark[:, :, 0]) < 6.0) and np.all(np.isin(dark[:, :, 2], [-1.0]) | (dark[:, :, 0] > 3.0))
    framed = inputs.locator_inputs(data, np.arange(4), None, settings, {"threshold_sigma": 3.0, "min_bins": 3}, True)
    assert framed.shape == (4, 2, 5, 11, 60)  # 3 projections, first light, clock
