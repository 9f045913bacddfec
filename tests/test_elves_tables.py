"""Tables of the elves study: precision/recall, and the CNN-vs-fit reconstruction summary."""

import math

import numpy as np
import pytest

from cnnpractice.elves import tables
from cnnpractice.io import save_npz


def test_detection_rows():
    rows = tables.detection_rows([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ["elve", "shower", "noise"])
    by = {r["class"]: r for r in rows}
    assert by["elve"]["precision"] == 1.0 and by["elve"]["recall"] == pytest.approx(2 / 3)
    assert by["shower"]["precision"] == 0.5 and by["shower"]["recall"] == 0.5
    assert by["noise"]["precision"] == 0.5 and by["noise"]["recall"] == 1.0
    assert by["noise"]["f1"] == pytest.approx(2 / 3) and by["elve"]["n_predicted"] == 2
    empty = tables.detection_rows([0], [0], ["elve", "shower"])[1]
    assert math.isnan(empty["precision"]) and math.isnan(empty["recall"])


def truth():
    return {
        "label": np.array([0, 1, 0, 0]),
        "event_id": np.array([10, 11, 12, 13]),
        "east_km": np.array([100.0, np.nan, 300.0, 500.0]),
        "north_km": np.array([0.0, np.nan, 0.0, 0.0]),
        "current_ka": np.array([100.0, np.nan, 50.0, 200.0]),
        "distance_km": np.array([100.0, np.nan, 300.0, 500.0]),
        "bearing_deg": np.array([90.0, np.nan, 90.0, 90.0]),
    }


def test_reconstruction_events_and_summary():
    cnn = {
        "event_id": [10, 12, 13],
        "y_pred": [[103.0, 4.0, math.log(110.0)], [300.0, 1.0, math.log(50.0)], [480.0, 0.0, math.log(100.0)]],
    }
    fits = {
        "event_id": np.array([13, 12, 10]),
        "east_km": np.array([np.nan, 302.0, 100.0]),
        "north_km": np.array([np.nan, 0.0, 0.5]),
        "current_ka": np.array([np.nan, 55.0, 100.0]),
        "success": np.array([False, True, True]),
        "n_pixels": np.array([2, 40, 50]),
    }
    events = tables.reconstruction_events(truth(), cnn, fits)
    assert [e["event_id"] for e in events] == [10, 12, 13]
    assert events[0]["cnn_error_km"] == pytest.approx(5.0) and events[0]["fit_error_km"] == pytest.approx(0.5)
    assert events[0]["cnn_current_error"] == pytest.approx(0.1) and events[1]["fit_current_error"] == pytest.approx(0.1)
    assert events[2]["fit_error_km"] == math.inf and not events[2]["fit_success"]
    rows = tables.summary_rows(events, [0, 200, 600])
    assert [r["distance"] for r in rows] == ["0-200 km", "200-600 km", "all"]
    assert [r["n"] for r in rows] == [1, 2, 3] and rows[1]["fit_failed"] == 1
    assert rows[1]["cnn_median_km"] == pytest.approx(10.5)  # median of 1 and 20
    assert rows[1]["fit_p90_km"] == math.inf  # the failed fit counts as infinitely wrong
    with pytest.raises(ValueError, match="without a CNN or a fit result: event ids \\[13\\]"):
        tables.reconstruction_events(truth(), {"event_id": [10, 12], "y_pred": cnn["y_pred"][:2]}, fits)


def test_load_fits_names_a_bad_file(tmp_path):
    path = tmp_path / "fit.npz"
    save_npz(path, event_id=np.array([1]))
    with pytest.raises(ValueError, match="fit.npz: missing array 'east_km'"):
        tables.load_fits([path])
