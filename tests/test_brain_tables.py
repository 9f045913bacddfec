"""Brain study: subject-level aggregation and metrics, QC exclusion, the metrics and regions tables."""

import csv
import json

import numpy as np
import pytest

from cnnpractice.brain.alignment import collect_qc
from cnnpractice.brain.cohort import read_cohort
from cnnpractice.brain.metrics import aggregate_subjects, subject_metrics
from cnnpractice.brain.ranking import region_rows, write_regions
from cnnpractice.brain.tables import known_ad, metrics_rows, write_metrics


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


def write_rows(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_collect_qc_excludes_below_threshold_and_counts_per_class(tmp_path):
    base = {
        "label": 0,
        "group": "control",
        "volume": "v",
        "aligned": "a",
        "method": "m",
        "corr_before": 0.3,
        "corr_affine": 0.9,
        "corr_true": 0.95,
        "error_affine_mm": 2.0,
        "seconds": 1.0,
    }
    write_rows(
        tmp_path / "q0.csv",
        [{**base, "subject": "s2", "corr_after": 0.95}, {**base, "subject": "s4", "corr_after": 0.9}],
    )
    write_rows(
        tmp_path / "q1.csv",
        [
            {**base, "subject": "s1", "label": 1, "group": "impaired", "corr_after": 0.42, "error": ""},
            {
                **base,
                "subject": "s3",
                "label": 1,
                "group": "impaired",
                "corr_before": "nan",
                "corr_affine": "",
                "corr_true": "",
                "error_affine_mm": "",
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
    assert [(r["subject"], r["included"]) for r in rows] == [("s1", False), ("s2", True), ("s3", False), ("s4", True)]
    md = (tmp_path / "qc.md").read_text()
    assert "2 excluded" in md and "## Excluded" in md and "0.42 < 0.8" in md
    assert "1 failed to align" in md and "VolumeError: s3.nii.gz: truncated" in md
    # exclusions per class: both excluded subjects are impaired, which would bias the study
    assert "| control | 2 | 2 | 0 |" in md and "| impaired | 2 | 0 | 2 |" in md
    assert "| affine | 0.900 [0.900, 0.900] n=3 | 2.00 [2.00, 2.00] n=3 |" in md
    assert "| true transform (ceiling) | 0.950 [0.950, 0.950] n=3 |" in md
    # steps that did not run (no nonlinear step here; s3 failed) read "–", never an empty cell
    from cnnpractice.rehearsal.run import table_gaps

    assert table_gaps(tmp_path) == []
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


def test_metrics_table_has_intervals_chance_and_the_talk_beside(tmp_path):
    folds = []
    for k, (acc, labels) in enumerate([(0.75, [0, 1, 0, 1]), (0.5, [0, 1, 1, 1])]):
        path = tmp_path / "full" / f"fold{k}" / "fold.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"acc": acc, "auc": 0.9, "tpr": 1.0, "fpr": 0.25, "subjects": 4, "labels": labels}))
        folds.append(path)
    svm = tmp_path / "svm.json"
    per_fold = {"acc": 0.5, "auc": 0.5, "tpr": 0.5, "fpr": 0.5, "subjects": 4}
    svm.write_text(json.dumps({"features": 10, "folds": [per_fold] * 2}))
    inputs = {"full": {"axis": "sagittal", "range_mm": [-70, 70], "step": 2, "talk_row": "Full"}}
    rows = metrics_rows({"full": folds}, inputs, svm)
    assert [r["input"] for r in rows] == ["full", "voxels", "chance"]
    assert rows[0]["acc"]["mean"] == pytest.approx(5 / 8) and rows[0]["acc"]["n"] == 8
    assert rows[0]["acc_folds"]["mean"] == pytest.approx(0.625) and rows[0]["acc_folds"]["n"] == 2
    assert rows[0]["talk_acc_mean"] == 0.825 and rows[1]["auc_folds"]["sd"] == 0.0
    assert rows[2]["acc"]["mean"] == pytest.approx(5 / 8)  # majority class: 5 of the 8 tested subjects
    write_metrics(rows, tmp_path / "m.csv", tmp_path / "m.md", cohort="synthetic cohort")
    md = (tmp_path / "m.md").read_text()
    assert "0.625 [0.306, 0.863] n=8" in md and "0.825 (0.061)" in md and "| chance | majority class |" in md
    with open(tmp_path / "m.csv") as fh:
        first = next(csv.DictReader(fh))
    assert float(first["acc_ci_low"]) == pytest.approx(0.306, abs=1e-3) and first["acc_folds_n"] == "2"


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


def null_files(tmp_path, scores, alpha=0.05):
    """A regions_null.csv / null.json pair: ``scores`` = {region: {method: (score, rank, q)}}."""
    rows = []
    for region, methods in scores.items():
        row = {"region": region}
        for key, (score, rank, q) in methods.items():
            row |= {f"{key}_score": score, f"{key}_rank": rank, f"{key}_p": q / 2, f"{key}_q": q}
        rows.append(row)
    write_rows(tmp_path / "null.csv", rows)
    summary = {
        k: {"regions": len(scores), "significant": sum(m[k][2] < alpha for m in scores.values()), "best_null_95": 0.7}
        for k in ("trained", "untrained", "tmap")
    }
    (tmp_path / "null.json").write_text(
        json.dumps(
            {
                "alpha": alpha,
                "permutations": 1000,
                "fwhm_mm": 8.0,
                "subjects": 40,
                "per_class": [20, 20],
                "methods": summary,
                "filters": {
                    "trained": {"filter_a": 3, "best_null_95_with_selection": 0.8, "selection_permutations": 50},
                    "untrained": {"filter_a": 1},
                },
            }
        )
    )
    return tmp_path / "null.csv", json.loads((tmp_path / "null.json").read_text())


def test_regions_table_three_rankings_planted_checks_and_null_row(tmp_path):
    paths = []
    for k, order in enumerate([["A", "B", "C", "D"], ["B", "A", "D", "C"]]):
        path = tmp_path / f"r{k}.csv"
        write_rows(path, [{"rank": i + 1, "region": r, "dbms": 1.0 / (i + 1)} for i, r in enumerate(order)])
        paths.append(path)
    null_csv, null = null_files(
        tmp_path,
        {
            "A": {"trained": (1.0, 1, 0.01), "untrained": (0.9, 2, 0.01), "tmap": (3.0, 1, 0.002)},
            "B": {"trained": (0.9, 2, 0.2), "untrained": (1.0, 1, 0.01), "tmap": (1.0, 3, 0.4)},
            "C": {"trained": (0.5, 3, 0.03), "untrained": (0.5, 3, 0.2), "tmap": (2.0, 2, 0.01)},
            "D": {"trained": (0.1, 4, 0.9), "untrained": (0.1, 4, 0.9), "tmap": (0.1, 4, 0.9)},
        },
    )
    rows = region_rows(paths, null_csv, planted=["A", "C"], top=2)
    assert [r["region"] for r in rows] == ["A", "B", "C", "D"]
    assert rows[0]["mean_rank"]["mean"] == 1.5 and rows[0]["mean_rank"]["n"] == 2 and rows[2]["top2_folds"] == 0
    check = write_regions(
        rows, null, tmp_path / "r.csv", tmp_path / "r.md", selected=0, n_folds=2, planted=["A", "C"], top=2
    )
    assert check["trained"]["all_planted_significant"] is True and check["trained"]["other_significant"] == 0
    assert check["untrained"]["all_planted_significant"] is False and check["untrained"]["other_significant"] == 1
    assert check["tmap"]["planted"] == {"A": {"rank": 1, "q": 0.002}, "C": {"rank": 2, "q": 0.01}}
    md = (tmp_path / "r.md").read_text()
    assert "null: 95th pct of the best region's score" in md and "**0.010**" in md and "0.800 (50 permutations)" in md
    with open(tmp_path / "r.csv") as fh:
        first = next(csv.DictReader(fh))
    assert first["mean_rank_ci_low"] != "" and first["tmap_q"] == "0.002"


def test_regions_table_of_a_cohort_with_nothing_planted(tmp_path):
    write_rows(tmp_path / "r0.csv", [{"rank": 1, "region": "A", "dbms": 1.0}, {"rank": 2, "region": "B", "dbms": 0.5}])
    null_csv, null = null_files(
        tmp_path,
        {
            "A": {"trained": (1.0, 1, 0.5), "untrained": (1.0, 1, 0.5), "tmap": (1.0, 1, 0.04)},
            "B": {"trained": (0.5, 2, 0.6), "untrained": (0.5, 2, 0.6), "tmap": (0.5, 2, 0.6)},
        },
    )
    rows = region_rows([tmp_path / "r0.csv"], null_csv, planted=[], top=2)
    check = write_regions(rows, null, tmp_path / "r.csv", tmp_path / "r.md", selected=0, n_folds=1, planted=[], top=2)
    assert check["significant"] == {"trained": 0, "untrained": 0, "tmap": 1}
    assert "every significant region is a false positive" in (tmp_path / "r.md").read_text()
