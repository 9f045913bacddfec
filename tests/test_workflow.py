"""The workflow itself: lint, dry runs of the shipped configs, and a tiny end-to-end run."""

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import e2e_tables as e2e
import pytest

from cnnpractice import netguard

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run(args, cwd=ROOT, timeout=600):
    """Snakemake without network: its jobs behind the loopback-only guard, in a network
    namespace of its own where unshare works (cnnpractice.netguard)."""
    cmd, env = netguard.command(SNAKEMAKE + args), netguard.environment()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def copy_workflow(dst: Path) -> Path:
    """A copy of the workflow in ``dst``, so runs write nothing into the repository."""
    for name in ("Snakefile", "rules", "scripts", "config", "envs", "report", "src", "profiles", "tests"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst / name)
    return dst


def test_lint_is_clean():
    code, out = run(["--lint"])
    assert code == 0, out
    assert "Congratulations, your workflow is in a good condition" in out


@pytest.mark.parametrize(
    "extra, expected_jobs",
    [
        (
            [],
            {
                # time series: 3 default + 2 transfer datasets, one training job per dataset
                "fetch_ucr": 5,
                "transform_series": 5,
                "train_timeseries": 3,
                "select_timeseries_image": 1,
                "tabulate_timeseries": 1,
                "train_timeseries_transfer": 2,
                "tabulate_timeseries_transfer": 1,
                # small data: one architecture, 3 seeds: one job per scheme and seed (the lr grid
                # inside); 3 engineered sets + one file of learned sets per scheme (first seed)
                "fetch_smalldata": 1,
                "prepare_smalldata": 1,
                "train_smalldata_greedy": 3,
                "train_smalldata_full": 3,
                "extract_cnn_features": 2,
                "classify_features": 5,
                "plot_filters": 1,
                # semantic: the small-data study's three Full L5 AlexNets (and their untrained
                # twins) in one extraction, 7 layers
                "prepare_wordnet": 1,
                "extract_semantic_activations": 1,
                "map_semantic_classes": 1,
                "induce_semantic_taxonomy": 7,
                "tabulate_semantic": 1,
                "plot_semantic_layers": 1,
                # elves: 5 training shards + a test and a nominal test shard of 1,000 events; the
                # fit per held-out shard; a locator for the first eye and one for both eyes
                "simulate_elves": 7,
                "fit_elves": 2,
                "train_elves_detector": 1,
                "train_elves_locator": 2,
                "tabulate_elves": 1,
                "check_elves_physics": 1,
                "plot_elve_frames": 1,
                "plot_elves_errors": 1,
                # brain: synthetic cohort, 2 alignment shards, one slice configuration whose 5 folds
                # train in one job, every fold of it interpreted, the nulls, 3 more leakage arms
                "prepare_brain_template": 1,
                "make_brain_cohort": 1,
                "align_brain": 2,
                "collect_brain_qc": 1,
                "slice_brain": 1,
                "train_brain": 1,
                "svm_brain": 1,
                "tabulate_brain_metrics": 1,
                "interpret_brain": 5,
                "permute_brain_regions": 1,
                "tabulate_brain_regions": 1,
                "train_brain_leakage": 3,
                "tabulate_brain_leakage": 1,
            },
        ),
        (
            ["--configfile", "config/paper.yaml"],
            {
                "fetch_ucr": 4 + 2,
                "transform_series": 4 + 2,
                "train_timeseries": 4,
                "train_timeseries_transfer": 2,
                # Fashion-MNIST stays beside the talk's four datasets; both architectures, 3 seeds;
                # learned sets from every seed; DeCAF and fine-tuning switch on
                "fetch_smalldata": 5,
                "train_smalldata_greedy": 5 * 2 * 3,
                "train_smalldata_full": 5 * 2 * 3,
                "extract_cnn_features": 5 * 2 * 2 * 3,
                "extract_decaf_features": 5,
                "finetune_smalldata": 5,
                "classify_features": 5 * (3 + 2 + 12),
                # semantic: Fashion-MNIST CNN (7 layers), GoogLeNet (9 inception modules), VGG16 (7)
                "extract_semantic_activations": 3,
                "map_semantic_classes": 3,
                "induce_semantic_taxonomy": 23,
                # elves: 20,000 + 4,000 + 4,000 (nominal) events in shards of 2,000
                "simulate_elves": 14,
                "fit_elves": 4,
                # brain: OASIS-1 downloaded, 16 alignment shards
                "fetch_oasis": 1,
                "make_brain_cohort": 1,
                "align_brain": 16,
                "train_brain": 4,
                "interpret_brain": 5,
                "train_brain_leakage": 3,
            },
        ),
    ],
)
def test_dry_run(tmp_path, extra, expected_jobs):
    code, out = run(["-n", "--cores", "1", *extra], cwd=copy_workflow(tmp_path))
    assert code == 0, out
    for rule, count in expected_jobs.items():
        assert any(line.split() == [rule, str(count)] for line in out.splitlines()), (rule, out[-2000:])


def test_disabled_study_schedules_nothing(tmp_path):
    wf = copy_workflow(tmp_path)
    # the semantic study reads the small-data study's Fashion-MNIST: switch it off too
    (wf / "off.yaml").write_text(
        "timeseries:\n  enabled: false\nsmalldata:\n  enabled: false\n"
        "semantic:\n  enabled: false\nelves:\n  enabled: false\n"
        "brain:\n  enabled: false\n"
    )
    code, out = run(["-n", "--cores", "1", "--configfile", "off.yaml"], cwd=wf)
    assert code == 0, out
    for rule in (
        "train_timeseries",
        "fetch_ucr",
        "train_smalldata_greedy",
        "train_smalldata_full",
        "fetch_smalldata",
        "prepare_wordnet",
        "extract_semantic_activations",
        "simulate_elves",
        "fit_elves",
        "prepare_brain_template",
        "make_brain_cohort",
        "train_brain",
    ):
        assert rule not in out


def test_learned_features_from_a_depth_not_trained_is_an_error(tmp_path):
    wf = copy_workflow(tmp_path)
    (wf / "bad.yaml").write_text("smalldata:\n  greedy:\n    full_stages: [3]\n")
    code, out = run(["-n", "--cores", "1", "--configfile", "bad.yaml"], cwd=wf)
    assert code != 0 and "add 5 to smalldata.greedy.full_stages" in out, out[-2000:]


@pytest.mark.parametrize(
    "extra, message",
    [
        ("brain:\n  interpret: {input: sagital}\n", "brain.interpret.input names 'sagital'"),
        ("brain:\n  interpret: {fold: 7}\n", "brain.interpret.fold=7 but brain.cv.folds=5"),
    ],
)
def test_brain_interpret_settings_are_checked(tmp_path, extra, message):
    wf = copy_workflow(tmp_path)
    (wf / "bad.yaml").write_text(extra)
    code, out = run(["-n", "--cores", "1", "--configfile", "bad.yaml"], cwd=wf)
    assert code != 0 and message in out, out[-2000:]


def test_unknown_config_key_stops_before_running(tmp_path):
    code, out = run(
        ["-n", "--cores", "1", "--config", "seed=1", "trainer={acelerator: cpu}"], cwd=copy_workflow(tmp_path)
    )
    assert code != 0
    assert "'acelerator' was unexpected" in out


def test_command_line_switches_a_study_off(tmp_path):
    """The README's override syntax: nested --config values arrive as strings and are typed
    by the schema ('false' -> false) before validation."""
    wf = copy_workflow(tmp_path)
    code, out = run(["-n", "--cores", "1", "--config", "brain={enabled: false}", "timeseries={repeats: 2}"], cwd=wf)
    assert code == 0, out[-3000:]
    jobs = {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if re.fullmatch(r"[a-z_]+ +\d+", line)}
    assert not [rule for rule in jobs if "brain" in rule] and jobs["train_timeseries"] == 3
    assert "GunPoint/cnn/gasf/run1/test.json" in out and "run2/test.json" not in out  # repeats typed: 2


def test_float_where_an_integer_belongs_stops_before_running(tmp_path):
    code, out = run(["-n", "--cores", "1", "--config", "seed=42.0"], cwd=copy_workflow(tmp_path))
    assert code != 0 and "config key seed: 42.0 is not an integer" in out, out[-2000:]


@pytest.mark.slow
def test_tiny_end_to_end(tmp_path):
    wf = copy_workflow(tmp_path)
    # 900 s was too short on the shared 2-core machine under load 20-29 (59 of 77 jobs done)
    code, out = run(["--cores", "2", "--configfile", "tests/config/tiny.yaml"], cwd=wf, timeout=2400)
    assert code == 0, out[-4000:]

    check_timeseries_outputs(wf)
    check_smalldata_outputs(wf)
    check_semantic_outputs(wf)
    check_elves_outputs(wf)
    check_brain_outputs(wf)
    # every table row recomputed from the per-run files, one result above chance per study,
    # and an edited cell or run file per study that the recomputation notices
    e2e.check_tables(wf, wf / "tests/config/tiny.yaml")
    # no table a person reads has an empty cell: "not applicable" is written as such
    from cnnpractice.rehearsal.run import table_gaps

    assert table_gaps(wf / "results") == []

    # a changed setting of greedy stage 4 reruns the greedy trainings (one job per seed holds
    # all five stages) and what reads them; the end-to-end trainings stay
    (wf / "stage4.yaml").write_text("smalldata:\n  greedy:\n    stage_training:\n      L4: {lr: 0.002}\n")
    code, out = run(["-n", "--cores", "2", "--configfile", "tests/config/tiny.yaml", "stage4.yaml"], cwd=wf)
    assert code == 0, out[-2000:]
    jobs = {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if re.fullmatch(r"[a-z_]+ +\d+", line)}
    assert jobs.get("train_smalldata_greedy") == 2 and "train_smalldata_full" not in jobs, out[-3000:]
    assert "train_timeseries" not in out

    # a finished run has nothing left to do (its speed is a bench's business, not a test's)
    code, out = run(["-n", "--cores", "2", "--configfile", "tests/config/tiny.yaml"], cwd=wf)
    assert code == 0 and "Nothing to be done" in out, out[-2000:]

    code, out = run(["--report", "results/report.html", "--configfile", "tests/config/tiny.yaml"], cwd=wf)
    assert code == 0, out[-3000:]
    assert (wf / "results/report.html").stat().st_size > 50_000


def check_timeseries_outputs(wf):
    with open(wf / "results/timeseries/accuracy.csv") as fh:
        rows = list(csv.DictReader(fh))
    runs = {(r["dataset"], r["model"], r["image"]) for r in rows}
    models = {("cnn", "gasf"), ("cnn", "stack"), ("lstm", "raw"), ("lstm_step", "raw"), ("fcn", "raw")}
    assert runs == {("GunPoint", *m) for m in models | {("resnet", "raw"), ("chance", "majority")}}
    for row in rows:
        assert 0.0 <= float(row["test_accuracy"]) <= 1.0 and float(row["fcn"]) == 1.0 and row["n_test"] == "150"
        assert float(row["test_accuracy_ci_low"]) <= float(row["test_accuracy"]) <= float(row["test_accuracy_ci_high"])
        assert row["test_accuracy_n"] == ("150" if row["model"] == "chance" else "2")
    md = (wf / "results/timeseries/accuracy.md").read_text()
    assert "| GunPoint |" in md and "cnn/gasf" in md and "Image CNN (image type chosen on validation" in md
    with open(wf / "results/timeseries/comparisons.csv") as fh:
        pairs = {(r["family"], r["a"], r["b"]) for r in csv.DictReader(fh)}
    chosen = json.loads((wf / "results/timeseries/selection.json").read_text())["image"]
    assert {("primary", f"cnn/{chosen}", "fcn/raw"), ("lstm", "lstm/raw", "lstm_step/raw")} <= pairs
    for png in ("transforms.png", "val_accuracy.png"):
        assert (wf / "results/timeseries/GunPoint" / png).stat().st_size > 10_000
    assert (wf / "logs/train_timeseries/GunPoint.log").stat().st_size > 0
    with open(wf / "results/timeseries/accuracy_runs.csv") as fh:
        assert [r["seed"] for r in csv.DictReader(fh)] == ["7", "8"] * 6
    with open(wf / "results/timeseries/transfer.csv") as fh:
        transfer = {(r["dataset"], r["model"], r["image"]) for r in csv.DictReader(fh)}
    assert transfer == {
        ("ItalyPowerDemand", m, i) for m, i in (("chance", "majority"), ("cnn", chosen), ("fcn", "raw"))
    }


def check_smalldata_outputs(wf):
    with open(wf / "results/smalldata/greedy.csv") as fh:
        rows = list(csv.DictReader(fh))
    alexnet = [(r["row"], r["budget"]) for r in rows if r["arch"] == "alexnet"]
    per_budget = [
        ("Full L3", "{b}"),
        ("Full L5", "{b}"),
        ("end to end, stage chosen on validation", "{b}"),
        ("gain (greedy / end to end - 1)", "{b}"),
        ("greedy - end to end (paired by seed)", "{b}"),
    ]
    assert alexnet == [
        ("chance (majority class)", ""),
        *((f"L{k}", "") for k in range(1, 6)),
        ("greedy, stage chosen on validation", ""),
        *((row, b.format(b=budget)) for budget in ("per_update", "total") for row, b in per_budget),
    ]
    for row in rows:
        if row["arch"] == "alexnet" and not row["row"].startswith(("gain", "greedy -", "chance")):
            assert 0.0 <= float(row["accuracy"]) <= 1.0 and row["n_test"] == "40" and row["accuracy_n"] == "2"
            assert row["accuracy_ci_low"] and row["accuracy_ci_high"] and len(row["chosen_lr"].split(";")) == 2
    finetuned = [r for r in rows if r["arch"] == "finetune"]
    assert [r["row"] for r in finetuned] == ["Finetuned resnet18"] and finetuned[0]["accuracy_n"] == "40"
    with open(wf / "results/smalldata/features.csv") as fh:
        features = list(csv.DictReader(fh))
    scored = {(r["feature_set"], r["classifier"]) for r in features if r["classifier"]}
    learned = [f"alexnet_greedy_conv{b}{g}" for b in range(1, 6) for g in ("", "_2x2")]
    sets = {"hog", "hgd", "hcfeats", "decaf_fc6", "decaf_fc7", *learned}
    assert scored == {(s, c) for s in sets for c in ("svm", "logreg")}
    assert all(r["accuracy_n"] == "40" and r["accuracy_ci_low"] for r in features)
    assert [r["feature_set"] for r in features][0] == "chance (majority class)"
    assert "| L5 |" in (wf / "results/smalldata/greedy.md").read_text()
    assert (wf / "results/smalldata/fashion_mnist/alexnet/filters.png").stat().st_size > 5_000
    classes = (wf / "resources/smalldata/fashion_mnist/classes.json").read_text()
    assert "Ankle boot" in classes


def check_semantic_outputs(wf):
    with open(wf / "results/semantic/layers.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["layer"], r["network"]) for r in rows if r["network"] != "trained - untrained"] == [
        (layer, network) for layer in ("conv1", "conv5", "fc7") for network in ("trained", "untrained")
    ]
    for row in rows:
        assert row["model"] == "fashion_cnn" and row["mean_f1_n"] == "2"
        if row["network"] == "trained - untrained":
            continue
        assert 0.0 < float(row["mean_f1"]) <= 1.0 and -1.0 <= float(row["rank_correlation"]) <= 1.0
        assert 0.0 < float(row["f1_p"]) <= 1.0 and 0.0 < float(row["mantel_p"]) <= 1.0 and row["f1_null_n"] == "200"
        assert row["n_classes"] == "10" and (row["k_min"], row["k_max"]) == ("2", "4")
    with open(wf / "results/semantic/layers_k.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 3 * 2 * 3  # layers x networks x k
    with open(wf / "results/semantic/fashion_cnn/fc7/taxonomy.csv") as fh:
        taxonomy = list(csv.DictReader(fh))
    assert [r["k"] for r in taxonomy] == ["2", "3", "4"]
    assert all(r[f"cluster_{i}"] for r in taxonomy for i in range(1, int(r["k"]) + 1))
    assert "Named clusters per k" in (wf / "results/semantic/fashion_cnn/fc7/taxonomy.md").read_text()
    assert (wf / "results/semantic/layers.png").stat().st_size > 10_000
    # the small-data study's checkpoints were reused: this study trained nothing
    assert not (wf / "results/semantic/fashion_cnn/network").exists()
    assert (wf / "resources/nltk_data/corpora/wordnet/lexnames").is_file()


def check_elves_outputs(wf):
    with open(wf / "results/elves/detection.csv") as fh:
        rows = {r["class"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"elve", "shower", "noise", "laser", "lightning"}
    # 30 test events: 0.6 / 0.1 / 0.1 / 0.1 / 0.1 of them
    assert [rows[c]["n_true"] for c in ("elve", "shower", "noise", "laser", "lightning")] == ["18", "3", "3", "3", "3"]
    assert all(float(r["recall_ci_low"]) <= float(r["recall"]) <= float(r["recall_ci_high"]) for r in rows.values())
    detection = (wf / "results/elves/detection.md").read_text()
    assert "Chance (always" in detection and "Null (predictions shuffled" in detection
    with open(wf / "results/elves/reconstruction.csv") as fh:
        summary = list(csv.DictReader(fh))
    keys = {(r["nuisances"], r["eyes"], r["method"]) for r in summary}
    for nuisances in ("mismatched", "matched"):
        for eyes in ("mono", "stereo"):
            assert {(nuisances, eyes, "cnn"), (nuisances, eyes, "fit")} <= keys
        assert (nuisances, "-", "null (constant guess)") in keys
    assert [r["distance"] for r in summary[:5]] == ["150-300 km"] * 5
    overall = [r for r in summary if r["distance"] == "all" and r["method"] == "fit"]
    assert all(r["location_km_median_n"] == "18" for r in overall)
    assert all(float(r["location_km_median"]) < 1000 for r in overall if r["nuisances"] == "matched")
    text = (wf / "results/elves/reconstruction.md").read_text()
    for heading in ("Who wins", "degeneracy", "Which nuisance hurts", "WWLLN"):
        assert heading in text
    sanity = (wf / "results/elves/sanity.md").read_text()
    assert "Ring radius vs time" in sanity and "250 km" in sanity
    for png, size in (("elve_frames.png", 50_000), ("location_errors.png", 10_000)):
        assert (wf / "results/elves" / png).stat().st_size > size
    assert "events/s" in (wf / "logs/simulate_elves/nominal/shard0.log").read_text()


def check_brain_outputs(wf):
    with open(wf / "results/brain/qc.csv") as fh:
        qc = list(csv.DictReader(fh))
    assert len(qc) == 8 and all(r["included"] == "True" for r in qc)
    # alignment restores similarity to the template, short of the true transform's ceiling
    assert all(float(r["corr_before"]) < float(r["corr_after"]) < float(r["corr_true"]) for r in qc)
    assert all(float(r["error_affine_mm"]) > 0.5 for r in qc)
    assert "| impaired | 4 | 4 | 0 |" in (wf / "results/brain/qc.md").read_text()
    with open(wf / "results/brain/metrics.csv") as fh:
        rows = {r["input"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"full", "axial", "voxels", "chance"}
    for name in ("full", "axial", "voxels"):
        assert rows[name]["acc_folds_n"] == "2" and rows[name]["acc_n"] == "8"
        assert 0.0 <= float(rows[name]["acc_ci_low"]) <= float(rows[name]["acc"]) <= float(rows[name]["acc_ci_high"])
    assert rows["full"]["talk_acc_mean"] == "0.825" and rows["voxels"]["model"] == "linear_svm"
    assert float(rows["chance"]["acc"]) == 0.5
    md = (wf / "results/brain/metrics.md").read_text()
    assert "0.825 (0.061)" in md and "## The talk" in md
    with open(wf / "results/brain/regions.csv") as fh:
        regions = list(csv.DictReader(fh))
    ranked = [int(r["trained_rank"]) for r in regions if r["trained_rank"]]
    assert ranked == list(range(1, len(ranked) + 1))
    assert sum(r["planted"] == "True" for r in regions) == 2
    assert all(0 < float(r["tmap_q"]) <= 1 for r in regions)
    md = (wf / "results/brain/regions.md").read_text()
    assert "Frontal pole" in md and "null: 95th pct" in md and "voxel t-map" in md
    with open(wf / "results/brain/leakage.csv") as fh:
        arms = {r["arm"]: r for r in csv.DictReader(fh)}
    assert set(arms) == {"subject_true", "subject_shuffled", "slice_true", "slice_shuffled", "chance"}
    assert arms["subject_shuffled"]["mixed"] == "0.0" and float(arms["slice_shuffled"]["mixed"]) > 0
    interpret = wf / "results/brain/full/fold0/interpret"
    import nibabel as nib

    model = nib.load(str(interpret / "brain_model_class1.nii.gz"))
    assert model.shape[:3] == (99, 117, 95) and model.shape[3] == 4
    for png in ("filters.png", "filter_a_cuts.png"):
        assert (interpret / png).stat().st_size > 10_000
    # every fold's test subjects are disjoint from its training subjects
    import json

    for fold in (0, 1):
        result = json.loads((wf / f"results/brain/full/fold{fold}/test.json").read_text())
        assert not set(result["test_subjects"]) & set(result["train_subjects"] + result["val_subjects"])
