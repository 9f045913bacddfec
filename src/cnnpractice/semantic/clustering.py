"""Spectral clustering of class vectors with a cosine affinity, for a range of k.

The affinity of two classes is the cosine similarity of their mean activation
vectors, clipped at 0 (spectral clustering needs non-negative affinities;
post-ReLU activations are non-negative anyway, so the clip changes nothing
there). A class whose vector is all zeros is similar to nothing but itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero). (n, F) -> (n, F) float64."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected class vectors of shape (n_classes, features), got {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    """(n, F) -> (n, n) cosine similarities, 1 on the diagonal."""
    x = unit_rows(vectors)
    sim = np.clip(x @ x.T, -1.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return sim


def cosine_affinity(vectors: np.ndarray) -> np.ndarray:
    """(n, F) -> (n, n) affinity in [0, 1]: cosine similarity clipped at 0."""
    return np.clip(cosine_similarity(vectors), 0.0, 1.0)


def k_range(k_min: int, k_max: int, n_classes: int) -> tuple[list[int], str | None]:
    """The cluster counts to try: ``k_min..k_max`` clamped to ``n_classes - 1``.

    Returns the list and a note saying what was clamped (None when nothing was).

    >>> k_range(2, 19, 10)
    ([2, 3, 4, 5, 6, 7, 8, 9], 'k_max 19 clamped to 9: 10 classes allow at most 9 clusters')
    >>> k_range(2, 4, 1000)
    ([2, 3, 4], None)
    """
    if n_classes < 3:
        raise ValueError(f"clustering needs at least 3 classes, got {n_classes}")
    if not 2 <= k_min <= k_max:
        raise ValueError(f"need 2 <= k_min <= k_max, got k_min={k_min}, k_max={k_max}")
    top = min(k_max, n_classes - 1)
    if k_min > top:
        raise ValueError(f"k_min {k_min} is more than the {n_classes} classes allow (at most {n_classes - 1} clusters)")
    note = None
    if top < k_max:
        note = f"k_max {k_max} clamped to {top}: {n_classes} classes allow at most {n_classes - 1} clusters"
    return list(range(k_min, top + 1)), note


def spectral_clusters(
    vectors: np.ndarray, ks: Sequence[int], *, seed: int, assign_labels: str = "kmeans", n_init: int = 10
) -> dict[int, np.ndarray]:
    """Spectral clustering of the rows of ``vectors`` (n_classes, F) for every k in ``ks``.

    Each k is clustered independently (as the talk did: 2, 3, ..., 19 clusters) on the
    same cosine affinity, with ``random_state=seed``: same input, same labels.
    Returns ``{k: labels (n_classes,) int}``.
    """
    from sklearn.cluster import SpectralClustering

    affinity = cosine_affinity(vectors)
    out = {}
    for k in ks:
        model = SpectralClustering(
            n_clusters=int(k), affinity="precomputed", random_state=seed, assign_labels=assign_labels, n_init=n_init
        )
        out[int(k)] = model.fit_predict(affinity).astype(np.int64)
    return out


def rank_correlation(vectors: np.ndarray, wordnet_distance: np.ndarray) -> tuple[float, float]:
    """Spearman's rho (and p-value) between cosine distances of the class vectors and
    WordNet path lengths, over all pairs of classes."""
    from scipy.stats import spearmanr

    n = len(vectors)
    upper = np.triu_indices(n, k=1)
    cosine_distance = 1.0 - cosine_similarity(vectors)[upper]
    result = spearmanr(cosine_distance, np.asarray(wordnet_distance)[upper])
    return float(result.statistic), float(result.pvalue)
