"""Per-event nuisances of the elves simulator: the off switch reproduces the nominal movies bit
for bit, and each nuisance changes the movies as the physics says (hand-checked cases)."""

import copy
import hashlib
import math

import numpy as np
import pytest
from test_elves_simulate import config_settings, stroke_at

from cnnpractice.elves import nuisances, simulate
from cnnpractice.elves.geometry import C_KM_PER_US, EARTH_RADIUS_KM

# sha256 of 12 events (seed 42, split "test", shard 0) simulated by the code before nuisances,
# stereo and the new backgrounds existed (commit 2c8fb9b, with the config of that commit):
# movies (float16 bytes), then per event label, east, north, current, distance, bearing, t0
# (float64) and the window starts.
TODAY_SHA256 = {
    ("los_leones",): "bdb11202015eab53ca5738b7757e2968841e1783e873dcf1bd549f9f2e0a36e3",
    ("los_leones", "coihueco"): "012936ed7451d670e06594d17c575b61cc30f1d6884cf77fa277c65bd5413df9",
}
TODAY_LABELS = [1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 2]


def digest(events) -> str:
    h = hashlib.sha256()
    for ev in events:
        h.update(np.ascontiguousarray(ev["movie"]).tobytes())
        for k in ("label", "east_km", "north_km", "current_ka", "distance_km", "bearing_deg", "t0_us"):
            h.update(np.float64(ev[k]).tobytes())
        h.update(np.asarray(ev["window_start_us"], np.float64).tobytes())
    return h.hexdigest()


def today_settings(eyes, with_new_sections: bool):
    """The config of commit 2c8fb9b (100 us in 4 us bins, 4x4 rays per pixel, 70/15/15 % elves,
    showers, noise); with ``with_new_sections``, today's config with every new feature off:
    the nuisance switch off, no laser or lightning events, no cut or border showers, no
    trigger requirement."""
    settings = config_settings()
    settings["eyes"] = list(eyes)
    settings["readout"]["subrays"] = 4
    settings["events"]["classes"] = {"elve": 0.7, "shower": 0.15, "noise": 0.15}
    settings["nuisances"]["enabled"] = False
    if with_new_sections:
        settings["events"]["classes"].update(laser=0.0, lightning=0.0)
        settings["events"]["seen_by_all_eyes"] = False
        settings["backgrounds"].update(cut_fraction=0.0, shower_border_fraction=0.0, trigger_pixels=0)
    else:
        for key in ("nuisances", "backgrounds"):
            settings.pop(key)
        settings["events"].pop("seen_by_all_eyes")
    return settings


@pytest.mark.parametrize("with_new_sections", [False, True])
@pytest.mark.parametrize("eyes", list(TODAY_SHA256))
def test_nuisance_switch_off_reproduces_todays_movies_bit_for_bit(eyes, with_new_sections):
    settings = today_settings(eyes, with_new_sections)
    events = list(simulate.simulate_events(settings, 12, seed=42, split="test", shard=0))
    assert [ev["label"] for ev in events] == TODAY_LABELS
    assert digest(events) == TODAY_SHA256[eyes]
    # ... and switched on, the same seed gives other movies
    settings = today_settings(eyes, True)
    settings["nuisances"]["enabled"] = True
    assert digest(simulate.simulate_events(settings, 12, seed=42, split="test", shard=0)) != TODAY_SHA256[eyes]


def test_draw_is_none_and_draws_nothing_when_off():
    settings = config_settings()
    settings["nuisances"]["enabled"] = False
    rng = np.random.default_rng(0)
    assert nuisances.draw(settings, rng) is None
    assert rng.random() == np.random.default_rng(0).random()
    assert nuisances.draw({k: v for k, v in settings.items() if k != "nuisances"}, rng) is None


def test_draws_stay_in_their_ranges_and_multi_ring_share():
    settings = config_settings()
    spec = settings["nuisances"]
    rng = np.random.default_rng(1)
    draws = [nuisances.draw(settings, rng) for _ in range(3000)]
    for field in ("layer_altitude_km", "layer_thickness_km", "current_exponent", "vertical_optical_depth"):
        values = np.array([getattr(d, field) for d in draws])
        assert spec[field][0] <= values.min() and values.max() <= spec[field][1]
    pulses = np.array([d.n_pulses for d in draws])
    multi = (pulses > 1).mean()
    share = spec["multi_ring"]["fraction"]
    assert abs(multi - share) < 4 * math.sqrt(share * (1 - share) / len(draws))
    triple = (pulses == 3).sum() / max((pulses > 1).sum(), 1)
    assert abs(triple - spec["multi_ring"]["triple_share"]) < 0.08
    delays = [d.delays_us for d in draws if d.n_pulses == 3]
    assert all(b > a > 0 for a, b in delays)  # each pulse after the one before


def single(settings, **changes):
    base = nuisances.nominal(settings)
    return nuisances.Nuisances(
        layer_altitude_km=changes.get("layer_altitude_km", base.layer_altitude_km),
        current_exponent=changes.get("current_exponent", base.current_exponent),
        vertical_optical_depth=changes.get("vertical_optical_depth", base.vertical_optical_depth),
        layer_thickness_km=changes.get("layer_thickness_km", 0.0),
        delays_us=changes.get("delays_us", ()),
        ratios=changes.get("ratios", ()),
    )


def fine(time_bin_us=0.5, n_bins=120):
    settings = config_settings()
    settings["eyes"] = ["los_leones"]
    settings["emission"] = {**settings["emission"], "decay_us": 0.0}
    settings["readout"] = {**settings["readout"], "time_bin_us": time_bin_us, "n_bins": n_bins, "subrays": 2}
    return settings


def first_light_us(signal, time_bin_us):
    curve = signal[0].sum(axis=(1, 2))
    return np.argmax(curve > 1e-6 * curve.max()) * time_bin_us


def shortest_path_km(distance_km, altitude_km, eye_alt_km):
    """Hand check: min over layer points P on the great circle through S and E (the plane
    that holds the shortest path) of |S - P| + |P - E|, on a sphere."""
    rl = EARTH_RADIUS_KM + altitude_km
    psi_s = distance_km / EARTH_RADIUS_KM
    s = np.array([EARTH_RADIUS_KM * math.sin(psi_s), EARTH_RADIUS_KM * math.cos(psi_s)])
    e = np.array([0.0, EARTH_RADIUS_KM + eye_alt_km])
    psi = np.linspace(0.0, psi_s, 200001)
    p = np.stack([rl * np.sin(psi), rl * np.cos(psi)], axis=1)
    return float((np.linalg.norm(p - s, axis=1) + np.linalg.norm(p - e, axis=1)).min())


def test_higher_layer_means_later_first_light_by_the_longer_path():
    """Same stroke 400 km straight ahead: the 95 km layer's light reaches the eye later than
    the 85 km layer's, by the difference of the shortest stroke-layer-eye paths / c. By hand,
    flat Earth, light via the midpoint: 2 (sqrt(200^2 + 95^2) - sqrt(200^2 + 85^2)) = 8.4 km,
    28 us; on the sphere 28.0 us. The simulated first light agrees to within a few bins."""
    settings = fine()
    detector = simulate.build_detector(settings)
    stroke = stroke_at(detector, 400.0, 21.0)
    eye = detector.eyes[0]
    start = shortest_path_km(400.0, 85.0, eye.alt_km) / C_KM_PER_US - 10.0  # the window: 60 us from here
    times = {}
    for h in (85.0, 95.0):
        nuisance = single(settings, layer_altitude_km=h)
        signal, _ = simulate.elve_signal(
            detector, settings, stroke, 100.0, window_start_us=np.array([start]), nuisance=nuisance
        )
        times[h] = start + first_light_us(signal, 0.5)
        expected = shortest_path_km(400.0, h, eye.alt_km) / C_KM_PER_US
        assert abs(times[h] - expected) < 2.0, (h, times[h], expected)  # first light: within a few bins
    shift = (shortest_path_km(400.0, 95.0, eye.alt_km) - shortest_path_km(400.0, 85.0, eye.alt_km)) / C_KM_PER_US
    assert shift == pytest.approx(2 * (math.hypot(200, 95) - math.hypot(200, 85)) / C_KM_PER_US, abs=1.0)
    assert times[95.0] - times[85.0] == pytest.approx(shift, abs=1.0)


def test_a_thick_layer_lights_earlier_and_keeps_the_column_brightness():
    """A slab of 10 km around 92 km: its lowest part is on shorter paths, so the first light
    comes earlier (by about the 87-92 km path difference); the light summed over the movie
    stays that of the thin layer (a column through the slab), to Monte Carlo precision."""
    settings = fine(n_bins=400)
    detector = simulate.build_detector(settings)
    stroke = stroke_at(detector, 400.0, 21.0)
    start = np.array([shortest_path_km(400.0, 87.0, 1.42) / C_KM_PER_US - 10.0])  # 200 us from here
    thin, _ = simulate.elve_signal(detector, settings, stroke, 100.0, window_start_us=start)
    thick, _ = simulate.elve_signal(
        detector,
        settings,
        stroke,
        100.0,
        window_start_us=start,
        nuisance=single(settings, layer_thickness_km=10.0),
        rng=np.random.default_rng(3),
    )
    earlier = first_light_us(thin, 0.5) - first_light_us(thick, 0.5)
    expected = (shortest_path_km(400.0, 92.0, 1.42) - shortest_path_km(400.0, 87.0, 1.42)) / C_KM_PER_US
    assert 0.6 * expected < earlier < expected + 1.0  # the slab's very bottom is sampled by few rays
    assert thick.sum() == pytest.approx(thin.sum(), rel=0.03)


def test_light_yield_exponent_and_optical_depth_scale_the_light():
    settings = fine(n_bins=400)
    detector = simulate.build_detector(settings)
    stroke = stroke_at(detector, 500.0, 21.0)
    kwargs = {"window_start_us": np.array([shortest_path_km(500.0, 92.0, 1.42) / C_KM_PER_US - 10.0])}
    nominal, _ = simulate.elve_signal(detector, settings, stroke, 200.0, **kwargs)
    steeper, _ = simulate.elve_signal(
        detector, settings, stroke, 200.0, nuisance=single(settings, current_exponent=3.0), **kwargs
    )
    np.testing.assert_allclose(steeper, 2.0 * nominal, rtol=1e-12)  # (200 / 100)^(3 - 2)
    at_reference, _ = simulate.elve_signal(
        detector, settings, stroke, 100.0, nuisance=single(settings, current_exponent=3.0), **kwargs
    )
    same, _ = simulate.elve_signal(detector, settings, stroke, 100.0, **kwargs)
    np.testing.assert_allclose(at_reference, same, rtol=1e-12)  # the yields cross at 100 kA
    hazy, _ = simulate.elve_signal(
        detector, settings, stroke, 200.0, nuisance=single(settings, vertical_optical_depth=1.0), **kwargs
    )
    # twice the optical depth: transmission squared, so the low rows (long slant paths) lose most
    rows = nominal[0].sum(axis=(0, 2)), hazy[0].sum(axis=(0, 2))
    lit = rows[0] > 1e-3 * rows[0].max()
    ratio = rows[1][lit] / rows[0][lit]
    assert np.all(ratio < 1.0) and ratio[0] < ratio[-1]
    # stored row i spans elevations 1.5 + 2.598 [i, i + 1] deg: the extra loss exp(-tau_slant) of
    # its light lies between those of its edges
    for i in np.flatnonzero(lit):
        low, high = (np.exp(-detector.optical_depth(0, 1.5 + 2 * 1.299 * k)) for k in (i, i + 1))
        assert low < rows[1][i] / rows[0][i] < high


def test_multi_ring_elve_is_the_first_ring_plus_delayed_copies():
    """Pulses 3 and 8 bins after the first with 0.5 and 0.25 of its light: the movie is the
    single-pulse movie plus shifted, scaled copies (the deposit is linear and exact)."""
    settings = fine(time_bin_us=2.0, n_bins=60)
    settings["emission"]["decay_us"] = 10.0
    detector = simulate.build_detector(settings)
    stroke = stroke_at(detector, 300.0, 21.0)
    start = np.array([shortest_path_km(300.0, 92.0, 1.42) / C_KM_PER_US - 10.0])
    one, _ = simulate.elve_signal(detector, settings, stroke, 100.0, window_start_us=start)
    three, _ = simulate.elve_signal(
        detector,
        settings,
        stroke,
        100.0,
        window_start_us=start,
        nuisance=single(settings, delays_us=(6.0, 16.0), ratios=(0.5, 0.25)),
    )
    expected = one.copy()
    expected[:, 3:] += 0.5 * one[:, :-3]
    expected[:, 8:] += 0.25 * one[:, :-8]
    # light that started before the window also carries into the shifted copies: compare
    # where the window saw the whole history (the first pulse started after it opened)
    assert one[0, 0].sum() < 1e-9 * one.sum()
    np.testing.assert_allclose(three, expected, rtol=1e-9, atol=1e-9 * one.max())


def test_simulated_elves_record_their_nuisances():
    settings = copy.deepcopy(config_settings())
    settings["readout"] = {**settings["readout"], "n_bins": 10, "time_bin_us": 10.0}
    events = list(simulate.simulate_events(settings, 8, seed=5, split="train", shard=0))
    elves = [ev for ev in events if ev["label"] == 0]
    assert elves and all(85.0 <= ev["layer_altitude_km"] <= 95.0 and ev["n_pulses"] >= 1 for ev in elves)
    others = [ev for ev in events if ev["label"] != 0]
    assert all(np.isnan(ev["layer_altitude_km"]) and ev["n_pulses"] == 0 for ev in others)
