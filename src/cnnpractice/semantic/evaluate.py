"""One layer of several networks against WordNet, with nulls and intervals.

Per network (a trained seed, or an untrained initialisation; :mod:`.networks`):
spectral clustering for every k, the WordNet names and their F1 (:mod:`.naming`), the
random-partition null of the F1 for every k (:func:`.nulls.random_partition_f1`, the
observed cluster sizes), and Spearman's rank correlation of the class vectors' cosine
distances with WordNet path lengths.

Per group of networks (``trained``, ``untrained``):

* mean F1 (over k, then over the networks) with its t interval over the networks; its null
  is the draw-wise mean of the networks' nulls, giving a percentile and a p-value
  (:func:`cnnpractice.stats.empirical_p`) of the group's mean, per k and over k;
* the rank correlation: mean over the networks with its t interval, and the Mantel
  permutation test (:func:`cnnpractice.stats.mantel`) of the networks' mean distance
  matrix (class pairs share classes, so the usual correlation p-value is invalid);
* trained vs untrained: the paired difference (:func:`cnnpractice.stats.paired`) of both
  scores, networks paired by seed (an untrained network is its trained twin's starting point).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cnnpractice import stats

GROUPS = ("trained", "untrained")


def evaluate_network(
    means: np.ndarray,
    tree: Mapping[str, np.ndarray],
    classes: Sequence[str],
    ks: Sequence[int],
    *,
    seed: int,
    label: str,
    draws: int,
    assign_labels: str = "kmeans",
    n_init: int = 10,
    qualifier_share: float = 0.5,
) -> dict[str, Any]:
    """Clusters, names, per-k F1 and its null, and the rank correlation of one network's
    class means (n_classes, F). ``label`` (layer and network) seeds its null draws."""
    from scipy.stats import spearmanr

    from cnnpractice.semantic.clustering import spectral_clusters
    from cnnpractice.semantic.naming import name_clusters
    from cnnpractice.semantic.nulls import distance_matrix, null_rng, random_partition_f1

    labels = spectral_clusters(means, ks, seed=seed, assign_labels=assign_labels, n_init=n_init)
    by_k = {k: name_clusters(labels[k], tree, classes, qualifier_share) for k in ks}
    per_k = {k: float(np.mean([c["f1"] for c in clusters])) for k, clusters in by_k.items()}
    null_k = {
        k: random_partition_f1(np.bincount(labels[k]), tree["membership"], draws, null_rng(seed, label, k)) for k in ks
    }
    distance = distance_matrix(means)
    upper = np.triu_indices(len(classes), k=1)
    rho = float(spearmanr(distance[upper], np.asarray(tree["distance"])[upper]).statistic)
    return {
        "by_k": by_k,
        "per_k": per_k,
        "mean_f1": float(np.mean(list(per_k.values()))),
        "null_k": null_k,
        "distance": distance,
        "rank_correlation": rho,
    }


def null_summary(observed: float, null: np.ndarray) -> dict[str, Any]:
    """The null's mean and central 95 % range (n = draws), and where ``observed`` falls."""
    lo, hi = np.quantile(null, [0.025, 0.975])
    return {
        "null": {"mean": float(null.mean()), "lo": float(lo), "hi": float(hi), "n": int(null.size)},
        "percentile": stats.percentile_of(observed, null),
        "p": stats.empirical_p(observed, null, alternative="greater"),
    }


def summarise_group(
    results: Sequence[Mapping[str, Any]], ks: Sequence[int], wordnet_distance: np.ndarray, permutations: int, seed: int
) -> dict[str, Any]:
    """The scores of a group of networks (see the module docstring)."""
    f1 = np.array([r["mean_f1"] for r in results])
    layer_null = np.mean([np.mean([r["null_k"][k] for k in ks], axis=0) for r in results], axis=0)
    per_k = {}
    for k in ks:
        values = np.array([r["per_k"][k] for r in results])
        null = np.mean([r["null_k"][k] for r in results], axis=0)
        per_k[str(k)] = {"f1": stats.mean_ci(values), **null_summary(float(values.mean()), null)}
    mean_distance = np.mean([r["distance"] for r in results], axis=0)
    mantel = stats.mantel(mean_distance, wordnet_distance, permutations=permutations, seed=seed)
    return {
        "n_networks": len(results),
        "mean_f1": stats.mean_ci(f1),
        **{f"f1_{key}": value for key, value in null_summary(float(f1.mean()), layer_null).items()},
        "per_k": per_k,
        "rank_correlation": stats.mean_ci([r["rank_correlation"] for r in results]),
        "mantel": mantel,
    }


def compare_groups(trained: Mapping[int, Mapping[str, Any]], untrained: Mapping[int, Mapping[str, Any]]) -> dict | None:
    """Trained minus untrained, paired by seed (None without shared seeds, e.g. a pretrained
    torchvision model, whose one trained network has no seed)."""
    seeds = sorted(set(trained) & set(untrained))
    if not seeds:
        return None
    return {
        "seeds": seeds,
        "mean_f1": stats.paired([trained[s]["mean_f1"] for s in seeds], [untrained[s]["mean_f1"] for s in seeds]),
        "rank_correlation": stats.paired(
            [trained[s]["rank_correlation"] for s in seeds], [untrained[s]["rank_correlation"] for s in seeds]
        ),
    }
