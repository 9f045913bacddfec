"""The naming F1's random-partition null, the group summaries and the layer table."""

import csv
import itertools

import numpy as np
import pytest

from cnnpractice import stats
from cnnpractice.semantic.evaluate import compare_groups, null_summary, summarise_group
from cnnpractice.semantic.layer_table import group_rows, write_layers
from cnnpractice.semantic.naming import name_clusters
from cnnpractice.semantic.nulls import null_rng, random_partition_f1


def toy_hierarchy():
    """5 classes: each its own synset, 'pets' = {0, 1}, 'vehicles' = {2, 3, 4}, 'thing' = all."""
    own = np.eye(5, dtype=bool)
    groups = np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 1], [0, 1, 1]], dtype=bool)
    return {
        "membership": np.concatenate([own, groups], axis=1),
        "candidates": np.array([f"c{i}.n.01" for i in range(5)] + ["pet.n.01", "vehicle.n.01", "thing.n.01"]),
        "labels": np.array([f"C{i}" for i in range(5)] + ["Pet", "Vehicle", "Thing"]),
        "depth": np.array([3] * 5 + [2, 2, 0]),
        "order": np.arange(5),
    }


def exact_values(sizes):
    """Mean naming F1 of every partition of the 5 classes into blocks of ``sizes`` (by name_clusters)."""
    tree, values = toy_hierarchy(), []
    for perm in itertools.permutations(range(5)):
        labels = np.empty(5, int)
        start = 0
        for cluster, size in enumerate(sizes):
            labels[list(perm[start : start + size])] = cluster
            start += size
        values.append(np.mean([c["f1"] for c in name_clusters(labels, tree, [f"C{i}" for i in range(5)])]))
    return np.array(values)


@pytest.mark.parametrize("sizes", [(2, 3), (1, 4), (1, 1, 3), (2, 2, 1)])
def test_null_draws_are_namings_of_random_partitions_with_those_sizes(sizes):
    exact = exact_values(sizes)
    draws = random_partition_f1(sizes, toy_hierarchy()["membership"], 4000, np.random.default_rng(0))
    assert draws.shape == (4000,)
    assert set(np.round(draws, 9)) <= set(np.round(exact, 9))
    assert draws.mean() == pytest.approx(exact.mean(), abs=0.01)


def test_singletons_are_always_named_perfectly():
    # why the null matters: k = n classes gives F1 = 1 whatever the network learned
    draws = random_partition_f1([1] * 5, toy_hierarchy()["membership"], 50, np.random.default_rng(1))
    assert np.all(draws == 1.0)


def test_the_right_partition_beats_the_null_and_a_wrong_one_does_not():
    tree = toy_hierarchy()
    null = random_partition_f1([2, 3], tree["membership"], 2000, np.random.default_rng(2))
    right = np.mean([c["f1"] for c in name_clusters(np.array([0, 0, 1, 1, 1]), tree, list("abcde"))])
    wrong = np.mean([c["f1"] for c in name_clusters(np.array([0, 1, 1, 0, 1]), tree, list("abcde"))])
    assert right == 1.0
    assert null_summary(right, null)["p"] < 0.15  # 1 of the 10 partitions is the right one
    assert null_summary(wrong, null)["p"] > 0.5


def test_large_hierarchies_are_drawn_in_chunks():
    rng = np.random.default_rng(3)
    membership = rng.random((300, 400)) < 0.05
    membership[np.arange(300), np.arange(300)] = True
    draws = random_partition_f1([100, 120, 80], membership, 60, np.random.default_rng(4))
    assert draws.shape == (60,) and np.all((0 < draws) & (draws <= 1))


@pytest.mark.parametrize("sizes, message", [((2, 2), "do not partition 5 classes"), ((0, 5), "do not partition")])
def test_bad_sizes_are_refused(sizes, message):
    with pytest.raises(ValueError, match=message):
        random_partition_f1(sizes, toy_hierarchy()["membership"], 10, np.random.default_rng(0))


def test_null_draws_are_seeded_by_seed_and_labels():
    m = toy_hierarchy()["membership"]
    a = random_partition_f1([2, 3], m, 100, null_rng(42, "conv1", 2))
    assert np.array_equal(a, random_partition_f1([2, 3], m, 100, null_rng(42, "conv1", 2)))
    assert not np.array_equal(a, random_partition_f1([2, 3], m, 100, null_rng(42, "conv2", 2)))


def fake_result(f1, rho, null_level, rng, ks=(2, 3)):
    points = rng.random((5, 3))
    distance = np.linalg.norm(points[:, None] - points[None], axis=2)
    return {
        "mean_f1": f1,
        "per_k": {k: f1 for k in ks},
        "null_k": {k: rng.normal(null_level, 0.02, 500) for k in ks},
        "distance": distance,
        "rank_correlation": rho,
    }


def test_group_summary_and_paired_comparison():
    rng = np.random.default_rng(0)
    wordnet = np.abs(np.subtract.outer(np.arange(5), np.arange(5))).astype(float)
    trained = {s: fake_result(f, 0.5, 0.7, rng) for s, f in zip((1, 2, 3), (0.90, 0.92, 0.91))}
    untrained = {s: fake_result(f, 0.2, 0.7, rng) for s, f in zip((1, 2, 3), (0.80, 0.83, 0.81))}
    g = summarise_group(list(trained.values()), [2, 3], wordnet, permutations=99, seed=0)
    assert g["n_networks"] == 3 and g["mean_f1"] == stats.mean_ci([0.90, 0.92, 0.91])
    assert g["f1_p"] == pytest.approx(1 / 501) and g["f1_percentile"] == 100.0
    assert 0.69 < g["f1_null"]["mean"] < 0.71 and g["f1_null"]["n"] == 500
    assert set(g["per_k"]) == {"2", "3"} and g["mantel"]["permutations"] == 99
    comparison = compare_groups(trained, untrained)
    assert comparison["seeds"] == [1, 2, 3]
    assert comparison["mean_f1"]["diff"] == pytest.approx(0.0966667, abs=1e-6) and comparison["mean_f1"]["n"] == 3
    assert compare_groups({None: trained[1]}, untrained) is None


def layer_scores(layer, depth, p_trained):
    def group(f1, p):
        return {
            "n_networks": 3,
            "mean_f1": stats.mean_ci([f1 - 0.01, f1, f1 + 0.01]),
            "f1_null": {"mean": 0.7, "lo": 0.65, "hi": 0.75, "n": 1000},
            "f1_percentile": 99.0,
            "f1_p": p,
            "per_k": {
                "2": {"f1": stats.mean_ci([f1, f1, f1]), "null": {"mean": 0.7, "lo": 0.6, "hi": 0.8, "n": 1000}}
                | {"percentile": 90.0, "p": p}
            },
            "rank_correlation": stats.mean_ci([0.3, 0.4, 0.5]),
            "mantel": {"r": 0.4, "p": 0.01, "n_objects": 10, "permutations": 999},
        }

    paired = stats.paired([0.9, 0.91, 0.92], [0.8, 0.8, 0.85])
    return {
        "model": "m",
        "layer": layer,
        "depth": depth,
        "n_classes": 10,
        "n_features": 8,
        "k_min": 2,
        "k_max": 2,
        "draws": 1000,
        "permutations": 999,
        "k2": ["A", "B"],
        "groups": {"trained": group(0.9, p_trained), "untrained": group(0.8, 0.5)},
        "trained_vs_untrained": {"seeds": [1, 2, 3], "mean_f1": paired, "rank_correlation": paired},
    }


def test_layer_table_q_values_null_rows_and_differences(tmp_path):
    scores = [layer_scores("conv1", 1, 0.001), layer_scores("conv2", 2, 0.04), layer_scores("fc", 3, 0.3)]
    rows, k_rows = group_rows(scores)
    trained = [r for r in rows if r["network"] == "trained"]
    q = stats.fdr([0.001, 0.04, 0.3])
    assert [r["f1_q"] for r in trained] == pytest.approx(list(q))
    assert [r["beats_null"] for r in trained] == [True, False, False]  # 0.04 -> q 0.06
    assert not any(r["beats_null"] for r in rows if r["network"] == "untrained")
    diffs = [r for r in rows if r["network"] == "trained - untrained"]
    assert len(diffs) == 3 and diffs[0]["mean_f1"] == pytest.approx(0.91 - 2.45 / 3) and diffs[0]["mean_f1_n"] == 3
    assert len(k_rows) == 6 and {r["k"] for r in k_rows} == {2}
    write_layers(scores, tmp_path / "l.csv", tmp_path / "l.md", tmp_path / "k.csv")
    with open(tmp_path / "l.csv") as fh:
        written = list(csv.DictReader(fh))
    assert {"mean_f1_ci_low", "mean_f1_n", "f1_null_ci_high", "rank_correlation_n", "mantel_p"} <= set(written[0])
    md = (tmp_path / "l.md").read_text()
    assert "| conv1 | trained | 0.900 [" in md and "| yes |" in md and "naming F1 per k" in md
