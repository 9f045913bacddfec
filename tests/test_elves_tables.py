"""Tables of the elves study: scores with intervals, the per-event join, the summaries."""

import math

import numpy as np
import pytest
from test_elves_simulate import config_settings

from cnnpractice.elves import reconstruction, scores, tables
from cnnpractice.io import save_npz


def test_detection_rows_have_intervals_chance_and_null():
    y_true = [0, 0, 0, 1, 1, 2] * 10
    y_pred = [0, 0, 1, 1, 2, 2] * 10
    rows, summary = scores.detection_rows(y_true, y_pred, ["elve", "shower", "noise", "laser"], seed=0)
    by = {r["class"]: r for r in rows}
    assert set(by) == {"elve", "shower", "noise"}  # laser is not in the test split
    assert by["elve"]["precision"]["mean"] == 1.0 and by["elve"]["recall"]["mean"] == pytest.approx(2 / 3)
    assert by["shower"]["precision"]["mean"] == 0.5 and by["noise"]["recall"]["mean"] == 1.0
    assert by["noise"]["f1"]["value"] == pytest.approx(2 / 3)
    assert by["elve"]["recall"]["lo"] < 2 / 3 < by["elve"]["recall"]["hi"] and by["elve"]["recall"]["n"] == 30
    assert summary["macro_f1"]["value"] == pytest.approx(np.mean([0.8, 0.5, 2 / 3]))
    assert summary["chance"]["class"] == "elve" and summary["chance"]["accuracy"]["mean"] == 0.5
    assert summary["chance"]["macro_f1"]["value"] == pytest.approx((2 / 3) / 3)
    assert summary["null"]["hi"] < summary["macro_f1"]["value"] and summary["null"]["p"] < 0.01


def test_error_cells_count_failures_as_worst_and_never_average_them():
    values = [1.0, 2.0, 3.0, np.inf]
    cells = scores.error_cells(values, seed=0)
    assert cells["median"]["value"] == 2.0  # an order statistic: not (2 + 3) / 2
    assert cells["q68"]["value"] == 3.0
    assert scores.error_cells([np.inf, np.inf, 1.0], 0)["median"]["value"] == scores.FAILED
    assert scores.failed_cell(scores.error_cells([np.inf, np.inf, 1.0], 0)["median"]).startswith("failed")
    assert scores.error_cells([], 0) == {"median": None, "q68": None}


def test_median_difference_is_paired_and_signed():
    rng = np.random.default_rng(0)
    a = rng.exponential(5.0, 300)
    b = a + 3.0 + rng.normal(0, 0.1, 300)  # b is worse on every event by about 3
    diff = scores.median_difference(a, b, seed=0)
    assert diff["value"] == pytest.approx(-3.0, abs=0.5) and diff["hi"] < -2.5
    same = scores.median_difference(a, a, seed=0)
    assert same["value"] == 0.0 and same["lo"] <= 0 <= same["hi"]
    with pytest.raises(ValueError, match="equal lengths"):
        scores.median_difference(a, b[:-1], 0)


def test_spearman_interval_holds_zero_for_noise_and_not_for_a_trend():
    rng = np.random.default_rng(1)
    x = rng.random(200)
    trend = scores.spearman(x, x + rng.normal(0, 0.1, 200), 0)
    noise = scores.spearman(x, rng.random(200), 0)
    assert trend["lo"] > 0.8 and noise["lo"] < 0 < noise["hi"]
    assert scores.spearman([1.0, 2.0], [1.0, 2.0], 0) is None


def truth():
    nan = np.nan
    return {
        "label": np.array([0, 1, 0, 0]),
        "event_id": np.array([10, 11, 12, 13]),
        "east_km": np.array([100.0, nan, 300.0, 500.0]),
        "north_km": np.array([0.0, nan, 0.0, 0.0]),
        "current_ka": np.array([100.0, nan, 50.0, 200.0]),
        "distance_km": np.array([100.0, nan, 300.0, 500.0]),
        "bearing_deg": np.array([90.0, nan, 90.0, 90.0]),
        "layer_altitude_km": np.array([90.0, nan, 92.0, 94.0]),
        "layer_thickness_km": np.array([1.0, nan, 2.0, 3.0]),
        "current_exponent": np.array([2.0, nan, 2.5, 3.0]),
        "vertical_optical_depth": np.array([0.5, nan, 0.6, 0.7]),
        "n_pulses": np.array([1, 0, 2, 1]),
    }


def fits():
    return {
        "event_id": np.array([13, 12, 10]),
        "mono_east_km": np.array([np.nan, 302.0, 100.0]),
        "mono_north_km": np.array([np.nan, 0.0, 0.5]),
        "mono_current_ka": np.array([np.nan, 55.0, 100.0]),
        "mono_t0_us": np.array([np.nan, 1.0, -2.0]),
        "mono_success": np.array([False, True, True]),
    }


def test_reconstruction_events_join_by_split_and_event():
    settings = config_settings()
    settings["reference_site"] = "los_leones"
    cnn = {
        "mono": {
            ("test", 10): np.array([103.0, 4.0, math.log(110.0)]),
            ("test", 12): np.array([300.0, 1.0, math.log(50.0)]),
            ("test", 13): np.array([480.0, 0.0, math.log(100.0)]),
        }
    }
    events = reconstruction.reconstruction_events("test", truth(), cnn, fits(), settings)
    assert [e["event_id"] for e in events] == [10, 12, 13]
    assert events[0]["cnn_mono_error_km"] == pytest.approx(5.0) and events[0]["fit_mono_error_km"] == pytest.approx(0.5)
    assert events[0]["cnn_mono_current_error"] == pytest.approx(0.1)
    assert events[1]["fit_mono_current_error"] == pytest.approx(0.1) and events[1]["n_pulses"] == 2
    assert events[2]["fit_mono_error_km"] == math.inf and not events[2]["fit_mono_success"]
    assert events[0]["fit_mono_t0_us"] == -2.0
    rows = reconstruction.summary_rows(events, ["test"], ["mono"], [0, 200, 600], seed=0)
    fit_rows = {r["distance"]: r for r in rows if r["method"] == "fit"}
    assert list(fit_rows) == ["0-200 km", "200-600 km", "all"]
    assert fit_rows["200-600 km"]["failed"] == 1 and fit_rows["200-600 km"]["location_km_median_n"] == 2
    assert fit_rows["200-600 km"]["location_km_q68"] == scores.FAILED  # the failed fit is the worst
    nulls = [r for r in rows if r["method"].startswith("null")]
    assert len(nulls) == 3 and nulls[-1]["location_km_median"] > 0
    comparisons = reconstruction.comparison_rows(events, ["test"], ["mono"], [0, 600], seed=0)
    assert [r["comparison"] for r in comparisons] == ["CNN - fit (mono)", "CNN - fit (mono)"]
    del cnn["mono"][("test", 13)]
    with pytest.raises(ValueError, match="held-out elve test/13 has no CNN or fit result"):
        reconstruction.reconstruction_events("test", truth(), cnn, fits(), settings)


def test_load_fits_names_a_bad_file(tmp_path):
    path = tmp_path / "fit.npz"
    save_npz(path, event_id=np.array([1]))
    with pytest.raises(ValueError, match="fit.npz: not a fit file of fit_elves"):
        tables.load_fits([path])
