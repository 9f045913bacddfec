"""What noise would give: the naming F1 of random partitions, and the Mantel test.

The naming F1 of a clustering (:mod:`.naming`: each cluster's best-covering WordNet
hypernym, F1 averaged over the clusters) is not 0 for a random clustering: with 10
classes and k = 9, eight clusters are single classes whose own synset names them with
F1 = 1. The null is therefore the same naming applied to random partitions of the
classes *with the observed cluster sizes*; the observed F1 gets a percentile and a
p-value against it (:func:`cnnpractice.stats.empirical_p`, never 0).

* :func:`random_partition_f1` -- mean naming F1 of ``draws`` random partitions with
  given cluster sizes, vectorised over the draws (chunked, so memory stays bounded for
  ImageNet's 1000 classes).
* :func:`distance_matrix` -- the class vectors' cosine distances, for the Mantel test
  against WordNet path lengths (:func:`cnnpractice.stats.mantel`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from cnnpractice.semantic.clustering import cosine_similarity

MAX_ELEMENTS = 1 << 22  # per chunk of draws: draws x classes x candidates


def random_partition_f1(
    sizes: Sequence[int], membership: np.ndarray, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Mean naming F1 of ``draws`` random partitions of the classes into clusters of ``sizes``.

    ``membership`` (n_classes, n_candidates) bool: which classes each candidate hypernym
    covers (:func:`cnnpractice.semantic.wordnet.load_hierarchy`). A random partition is a
    random permutation of the classes cut into consecutive blocks of ``sizes``; each
    block's F1 is its best candidate's 2 |C ∩ S| / (|C| + |S|), as :func:`.naming.coverage`
    computes it. Returns (draws,) float64.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    member = np.asarray(membership, dtype=bool)
    n, n_candidates = member.shape
    if sizes.sum() != n or np.any(sizes < 1):
        raise ValueError(f"cluster sizes {sizes.tolist()} do not partition {n} classes")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    k = sizes.size
    under = member.sum(axis=0)
    block = np.repeat(np.arange(k), sizes)  # the cluster of each position of a permutation
    denominator = sizes[None, :, None] + under[None, None, :]
    member = member.astype(np.float64)  # counts <= n: exact in float64, and a BLAS product
    chunk = max(1, MAX_ELEMENTS // max(1, k * n_candidates + n * k))
    out = np.empty(draws, dtype=np.float64)
    for start in range(0, draws, chunk):
        d = min(chunk, draws - start)
        perms = rng.permuted(np.tile(np.arange(n), (d, 1)), axis=1)
        # class perms[t, i] falls in cluster block[i]: a (d, k, n) one-hot assignment whose
        # product with the membership counts, per draw and cluster, the classes each
        # candidate covers (one matrix product instead of a cumulative sum over classes)
        assign = np.zeros((d, k, n))
        assign[np.arange(d)[:, None], block[None, :], perms] = 1.0
        covered = (assign.reshape(d * k, n) @ member).reshape(d, k, n_candidates)
        out[start : start + d] = (2.0 * covered / denominator).max(axis=2).mean(axis=1)
    return out


def null_rng(seed: int, *labels: object) -> np.random.Generator:
    """A generator for one null, seeded by the config seed and stable labels (layer, k, network)."""
    return np.random.default_rng([int(seed), *(zlib.crc32(str(label).encode()) for label in labels)])


def distance_matrix(vectors: np.ndarray) -> np.ndarray:
    """(n, F) class vectors -> (n, n) cosine distances (0 on the diagonal)."""
    return 1.0 - cosine_similarity(vectors)
