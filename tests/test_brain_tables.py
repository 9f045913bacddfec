"""Brain study: subject-level aggregation and metrics, QC exclusion, the two tables."""

import csv
import json

import numpy as np
import pytest

from cnnpractice.brain.alignment import collect_qc
from cnnpractice.brain.cohort import read_cohort
from cnnpractice.brain.metrics import aggregate_subjects, subject_metrics
from cnnpractice.brain.tables import known_ad, mean_std, metrics_rows, region_rows, write_metrics, write_regions


@pytest.mark.parametrize(
    "y,prob,expected",
    [
        ([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.4], {"acc": 0.5, "auc": 0.75, "tpr": 0.5, "fpr": 0.5}),
        ([0, 1, 1, 1], [0.2, 0.9, 0.8, 0.7], {"acc": 1.0, "auc": 1.0, "tpr": 1.0, "fpr": 0.0}),
        ([0, 0, 1, 1], [0.9, 0.8, 0.1, 0.2], {"acc": 0.0, "auc": 0.0, "tpr": 0.0, "fpr": 1.0}),
    ],
)
def test_subject_metrics(y, prob, expected):
    assert subject_metrics(np.array(y), np.array(prob)) == pytest.approx(expected)


def test_subject_metrics_one_class_has_nan_auc():
    m = subject_metrics(np.array([1, 1]), np.array([0.7, 0.2]))
    assert np.isnan(m["auc"]) and np.isnan(m["fpr"]) and m["tpr"] == 0.5


def test_aggregate_subjects_means_each_subjects_slices():
    subjects, prob, counts = aggregate_subjects(np.array([4, 2, 4, 4, 2]), np.array([0.9, 0.2, 0.6, 0.3, 0.4]))
    assert subjects.tolist() == [2, 4] and counts.tolist() == [2, 3]
    assert prob == pytest.approx([0.3, 0.6])


def test_mean_std_is_sample_std_over_folds():
    assert mean_std([0.5, 1.0, np.nan]) == pytest.approx((0.75, np.std([0.5, 1.0], ddof=1)))
    assert mean_std([0.7]) == (0.7, 0.0)


def write_rows(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_collect_qc_excludes_below_threshold_and_says_so(tmp_path):
    base = {
        "label": 0,
        "group": "control",
        "volume": "v",
        "aligned": "a",
        "method": "m",
        "corr_before": 0.3,
        "seconds": 1.0,
    }
    write_rows(tmp_path / "q0.csv", [{**base, "subject": "s2", "corr_after": 0.95}])
    write_rows(
        tmp_path / "q1.csv",
        [
            {**base, "subject": "s1", "corr_after": 0.42, "error": ""},
            {
                **base,
                "subject": "s3",
                "corr_before": "nan",
                "corr_after": "nan",
                "error": "VolumeError: s3.nii.gz: truncated",
            },
        ],
    )
    rows = collect_qc(
        shard_qcs=[tmp_path / "q0.csv", tmp_path / "q1.csv"],
        out_csv=tmp_path / "qc.csv",
        out_md=tmp_path / "qc.md",
        min_correlation=0.8,
    )
    assert [(r["subject"], r["included"]) for r in rows] == [("s1", False), ("s2", True), ("s3", False)]
    md = (tmp_path / "qc.md").read_text()
    assert "2 excluded" in md and "## Excluded" in md and "0.42 < 0.8" in md
    assert "1 failed to align" in md and "VolumeError: s3.nii.gz: truncated" in md and "0.685 after alignment" in md
    with pytest.raises(ValueError, match="every subject failed QC"):
        collect_qc(
            shard_qcs=[tmp_path / "q1.csv"], out_csv=tmp_path / "x.csv", out_md=tmp_path / "x.md", min_correlation=0.8
        )


@pytest.mark.parametrize(
    "rows,match",
    [
        ([{"subject": "a", "label": "0", "group": "g", "volume": "v"}], "both classes"),
        ([{"subject": "a", "label": "2", "group": "g", "volume": "v"}], "label must be 0 or 1"),
        ([{"subject": "a", "label": "0", "group": "g"}], "expected a CSV with columns"),
    ],
)
def test_read_cohort_errors_name_the_file(tmp_path, rows, match):
    write_rows(tmp_path / "subjects.csv", rows)
    with pytest.raises(ValueError, match=rf"subjects\.csv: .*{match}"):
        read_cohort(tmp_path / "subjects.csv")


def test_metrics_table_has_talk_beside(tmp_path):
    folds = []
    for k, acc in enumerate([0.75, 0.875]):
        path = tmp_path / "full" / f"fold{k}" / "fold.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"acc": acc, "auc": 0.9, "tpr": 1.0, "fpr": 0.25}))
        folds.append(path)
    svm = tmp_path / "svm.json"
    svm.write_text(json.dumps({"features": 10, "folds": [{"acc": 0.5, "auc": 0.5, "tpr": 0.5, "fpr": 0.5}] * 2}))
    inputs = {"full": {"axis": "sagittal", "range_mm": [-70, 70], "step": 2, "talk_row": "Full"}}
    rows = metrics_rows({"full": folds}, inputs, svm)
    assert rows[0]["acc_mean"] == pytest.approx(0.8125) and rows[0]["talk_acc_mean"] == 0.825
    assert rows[1]["model"] == "linear_svm" and rows[1]["acc_std"] == 0.0
    write_metrics(rows, tmp_path / "m.csv", tmp_path / "m.md", cohort="synthetic cohort")
    md = (tmp_path / "m.md").read_text()
    assert "0.812 (0.088)" in md and "0.825 (0.061)" in md and "linear_svm" in md


@pytest.mark.parametrize(
    "name,flag",
    [
        ("Hippocampus_L", True),
        ("Left Amygdala", True),
        ("Frontal Pole", True),
        ("Temporal_Pole_Sup_R", True),
        ("Occipital Pole", False),
        ("Thalamus_L", False),
    ],
)
def test_known_ad_flags(name, flag):
    assert known_ad(name) is flag


def test_regions_table_checks_planted(tmp_path):
    paths = []
    for k, order in enumerate([["A", "B", "C", "D"], ["B", "A", "D", "C"]]):
        path = tmp_path / f"r{k}.csv"
        write_rows(
            path,
            [
                {"rank": i + 1, "label": i, "region": r, "dbms": 1.0 / (i + 1), "n_voxels": 50}
                for i, r in enumerate(order)
            ],
        )
        paths.append(path)
    rows = region_rows(paths, 0, planted=["A", "C"], top=2)
    assert [r["region"] for r in rows] == ["A", "B", "C", "D"]
    assert rows[0]["mean_rank"] == 1.5 and rows[2]["top2_folds"] == 0
    check = write_regions(
        rows, tmp_path / "r.csv", tmp_path / "r.md", selected=0, n_folds=2, filter_a=3, planted=["A", "C"], top=2
    )
    assert check == {"planted_ranks": {"A": 1, "C": 3}, "all_planted_in_top": False}
    assert "all in the top 2: **no**" in (tmp_path / "r.md").read_text()
    check = write_regions(
        rows, tmp_path / "r.csv", tmp_path / "r.md", selected=0, n_folds=2, filter_a=3, planted=["A", "C"], top=3
    )
    assert check["all_planted_in_top"] is True


def test_regions_table_shows_the_untrained_baseline(tmp_path):
    write_rows(
        tmp_path / "r0.csv",
        [
            {"rank": i + 1, "label": i, "region": r, "dbms": 2.0 - i / 2, "n_voxels": 50}
            for i, r in enumerate(["A", "B", "C"])
        ],
    )
    write_rows(
        tmp_path / "u0.csv",
        [{"rank": i + 1, "label": i, "region": r, "dbms": 1.0, "n_voxels": 50} for i, r in enumerate(["C", "A", "B"])],
    )
    rows = region_rows([tmp_path / "r0.csv"], 0, planted=None, top=2, untrained=tmp_path / "u0.csv")
    assert [(r["region"], r["untrained_rank"]) for r in rows] == [("A", 2), ("B", 3), ("C", 1)]
    write_regions(
        rows,
        tmp_path / "r.csv",
        tmp_path / "r.md",
        selected=0,
        n_folds=1,
        filter_a=1,
        planted=None,
        top=2,
        dbms_a=0.4,
        untrained={"filter_a": 5, "dbms_filter_a": 0.3, "top_regions": ["C", "A", "B"]},
    )
    md = (tmp_path / "r.md").read_text()
    assert "its filter A (filter 5) has brain dBMS 0.300 against 0.400 trained; its top 2: C, A" in md
    with open(tmp_path / "r.csv") as fh:
        assert [r["untrained_rank"] for r in csv.DictReader(fh)] == ["2", "3", "1"]
