"""Spectral clustering of class vectors with a cosine affinity (semantic study, stage 2)."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from cnnpractice.semantic.clustering import cosine_affinity, cosine_similarity, k_range, spectral_clusters

# 12 classes: 2 groups of 2 subgroups of 3 classes
TOP = np.repeat([0, 1], 6)
SUB = np.repeat([0, 1, 2, 3], 3)


def planted(seed=0, noise=0.3):
    """Non-negative (ReLU-like) class vectors: a group direction, a subgroup direction, noise."""
    rng = np.random.default_rng(seed)
    x = noise * np.abs(rng.normal(size=(12, 30)))
    x[np.arange(12), TOP] += 4.0
    x[np.arange(12), 2 + SUB] += 2.0
    return x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clustering_recovers_a_planted_hierarchy(seed):
    labels = spectral_clusters(planted(seed), [2, 4], seed=seed)
    assert adjusted_rand_score(TOP, labels[2]) == 1.0
    assert adjusted_rand_score(SUB, labels[4]) == 1.0


def test_same_seed_same_clusters_and_one_label_per_class():
    a = spectral_clusters(planted(noise=1.5), range(2, 8), seed=3)
    b = spectral_clusters(planted(noise=1.5), range(2, 8), seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert all(len(a[k]) == 12 and len(np.unique(a[k])) == k for k in a)


def test_cosine_affinity_is_symmetric_in_zero_one_and_ignores_scale():
    x = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [0.0, 0.0]])
    sim, aff = cosine_similarity(x), cosine_affinity(x)
    np.testing.assert_allclose(sim, sim.T)
    assert sim[0, 1] == pytest.approx(1.0) and sim[0, 2] == pytest.approx(0.0) and sim[0, 3] == pytest.approx(-1.0)
    assert aff.min() >= 0.0 and aff[0, 3] == 0.0 and np.all(np.diag(aff) == 1.0)
    assert aff[4, :4].tolist() == [0.0] * 4  # an all-zero vector is similar to nothing


@pytest.mark.parametrize(
    "k_min, k_max, n, expected, note",
    [
        (2, 19, 10, list(range(2, 10)), "k_max 19 clamped to 9: 10 classes allow at most 9 clusters"),
        (2, 19, 1000, list(range(2, 20)), None),
        (3, 3, 4, [3], None),
    ],
)
def test_k_range_is_clamped_to_the_class_count(k_min, k_max, n, expected, note):
    assert k_range(k_min, k_max, n) == (expected, note)


@pytest.mark.parametrize(
    "k_min, k_max, n, message",
    [
        (12, 19, 10, "k_min 12 is more than the 10 classes allow"),
        (5, 3, 10, "need 2 <= k_min <= k_max"),
        (2, 3, 2, "at least 3 classes"),
    ],
)
def test_bad_k_range_is_an_error(k_min, k_max, n, message):
    with pytest.raises(ValueError, match=message):
        k_range(k_min, k_max, n)
