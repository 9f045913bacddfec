"""Recompute the tiny end-to-end run's tables from the per-run files the workflow wrote.

``tests/test_workflow.py::test_tiny_end_to_end`` calls :func:`check_tables`, which runs one
check per study. Each reads, on its own, the files the training, scoring and fitting jobs
wrote, recomputes the numbers of the study's table rows with NumPy/SciPy, and asserts the
table holds the same numbers (relative tolerance 1e-9). The package's table functions are
never called, so a table that reads the wrong run, a stale file or a mislabelled split
differs from what is recomputed here.

* time series: each run's accuracy from its ``test.json`` predictions against the dataset's
  test labels, its ``validation.json`` against its ``metrics.csv``; the rows (t interval over
  seeds clipped to [0, 1], the test split's Wilson interval, validation accuracy, chance),
  ``accuracy_runs.csv``, the transfer table, the image type chosen on validation.
* small data: each chosen run's ``test.json`` against the test labels; the learning rate and
  the stage chosen again from the candidates' ``metrics.csv`` (validation only); every row
  of ``greedy.csv`` (stages, choices, gain, paired difference and its t-test p, fine-tuning,
  chance) and ``features.csv`` (from the classifiers' score files).
* semantic: each network's F1 from its per-k values, the shown network's from its named
  clusters (``clusters.csv``); means over the seeds' networks with t intervals, the per-k
  table, the paired trained - untrained rows, Benjamini-Hochberg q over the layers. The
  permutation p-values (random-partition null, Mantel) are read, not redrawn.
* elves: precision, recall (Wilson), F1 and counts from the detector's predictions against
  the test shards' labels; every reconstruction row's median and 68 % quantile, n and
  failures from the locators' predictions and the fits against the shards' truth. Bootstrap
  intervals are checked to hold their estimate, not redrawn.
* brain: each fold's subject metrics from its ``predictions.csv`` (labels against the
  cohort's), its slice accuracy from its ``test.json``; the metrics rows (t over folds,
  pooled Wilson, chance), the SVM row from its folds, the leakage arms.

Each check also asserts one result of its study above chance on the tiny config by a
one-sided test (see each module), which labels shuffled against the data fail; the brain's
is the alignment, because no brain classifier is above chance on 8 subjects.
"""

import json
from pathlib import Path

import yaml

from e2e_tables.brain import check_brain_tables
from e2e_tables.common import assert_catches, edit_csv_cell
from e2e_tables.elves import check_elves_tables
from e2e_tables.semantic import check_semantic_tables
from e2e_tables.smalldata import check_smalldata_tables
from e2e_tables.timeseries import check_timeseries_tables

__all__ = [
    "assert_catches",
    "check_brain_tables",
    "check_elves_tables",
    "check_semantic_tables",
    "check_smalldata_tables",
    "check_tables",
    "check_timeseries_tables",
    "edit_csv_cell",
]


def check_tables(wf: Path, config: Path) -> None:
    """Every check of this package on the finished run ``wf`` of ``config`` (the tiny config);
    then edits of a finished run, each of which a check must notice: a table cell off by
    0.01 per study, a run's file in another run's place per study, labels shuffled."""
    tiny = yaml.safe_load(config.read_text())
    ts, sd = tiny["timeseries"], tiny["smalldata"]
    seeds = [tiny["seed"] + i for i in range(sd["seeds"])]
    # the tiny config's one small-data set and architecture, its one semantic model
    (dataset,) = sd["datasets"]
    (arch,) = [name for name, spec in sd["architectures"].items() if spec.get("enabled", True)]
    (model,) = tiny["semantic"]["models"]
    layers = tiny["semantic"]["models"][model]["layers"]
    checks = {
        "timeseries": lambda: check_timeseries_tables(wf, ts["datasets"], ts["transfer"]["datasets"], ts["repeats"]),
        "smalldata": lambda: check_smalldata_tables(wf, dataset, arch, seeds),
        "semantic": lambda: check_semantic_tables(wf, model, seeds),
        "elves": lambda: check_elves_tables(wf),
        "brain": lambda: check_brain_tables(wf),
    }
    for check in checks.values():
        check()

    def bump(cell):
        return repr(float(cell) + 0.01)

    results = wf / "results"
    image = json.loads((results / "timeseries/selection.json").read_text())["image"]
    run0 = results / f"timeseries/{ts['datasets'][0]}/cnn/{image}/run0/test.json"
    edits = [
        # a table cell off by 0.01
        ("timeseries", results / "timeseries/accuracy.csv", {"model": "fcn"}, "test_accuracy"),
        ("smalldata", results / "smalldata/greedy.csv", {"row": "L3"}, "accuracy"),
        ("smalldata", results / "smalldata/features.csv", {"feature_set": "hog", "classifier": "svm"}, "accuracy"),
        ("semantic", results / "semantic/layers.csv", {"layer": layers[-1], "network": "trained"}, "mean_f1"),
        (
            "elves",
            results / "elves/reconstruction.csv",
            {"nuisances": "matched", "method": "fit"},
            "location_km_median",
        ),
        ("elves", results / "elves/detection.csv", {"class": "elve"}, "recall"),
        ("brain", results / "brain/metrics.csv", {"input": "full"}, "acc"),
    ]
    for study, path, match, column in edits:
        assert_catches(path, lambda p, m=match, c=column: edit_csv_cell(p, m, c, bump), checks[study])
    # what a table reading another run sees: one run's file in another's place
    swaps = [
        ("timeseries", run0, run0.parent.parent / "run1/test.json"),
        ("smalldata", results / f"smalldata/{dataset}/{arch}/greedy/seed{seeds[0]}/L1/test.json", None),
        (
            "semantic",
            results / f"semantic/{model}/{layers[0]}/scores.json",
            results / f"semantic/{model}/{layers[-1]}/scores.json",
        ),
        ("elves", results / "elves/locator/mono/test.json", results / "elves/locator/stereo/test.json"),
        ("brain", results / "brain/full/fold0/fold.json", results / "brain/full/fold1/fold.json"),
    ]
    for study, path, other in swaps:
        other = other or path.parent.parent / "L3" / path.name
        assert_catches(path, lambda p, o=other: p.write_bytes(o.read_bytes()), checks[study])

    # a run scored against shuffled labels
    def shuffle_labels(path):
        res = json.loads(path.read_text())
        res["y_true"] = res["y_true"][1:] + res["y_true"][:1]
        path.write_text(json.dumps(res))

    assert_catches(run0, shuffle_labels, checks["timeseries"])
    assert_catches(results / "elves/detector/test.json", shuffle_labels, checks["elves"])
