"""Name each cluster by the WordNet hypernym that best covers its classes and excludes the others.

For a cluster C and a candidate hypernym h (any WordNet noun above at least one
class, the classes' own synsets included; see
:func:`cnnpractice.semantic.wordnet.class_hierarchy`) with S_h the classes under h:

* precision = |C ∩ S_h| / |S_h| (how much of what h covers is in the cluster),
* recall = |C ∩ S_h| / |C| (how much of the cluster h covers),
* F1 = 2 |C ∩ S_h| / (|C| + |S_h|).

The name is the candidate of highest F1. Candidates that cover exactly the same
classes score the same; the most specific of them (deepest in WordNet) is the
name and the others are listed as ``equivalent`` (e.g. "Organism", equivalent
"Living thing"). When the name does not fit the cluster exactly (F1 < 1), a
*qualifier* in parentheses, as in the talk's "Matter (reptile)", names the
cluster's main narrower group: the deepest candidate that covers a strict
subset of the name's classes, at least two of the cluster's classes and more
than ``qualifier_share`` of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_TIE = 1e-12


def coverage(mask: np.ndarray, membership: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate: classes of the cluster it covers, classes it covers, and the F1.

    mask (n_classes,) bool; membership (n_classes, n_candidates) bool.
    """
    covered = mask.astype(np.int64) @ membership
    under = membership.sum(axis=0)
    f1 = 2.0 * covered / (mask.sum() + under)
    return covered, under, f1


def name_cluster(mask: np.ndarray, hierarchy: dict[str, np.ndarray], qualifier_share: float = 0.5) -> dict[str, Any]:
    """The WordNet name of the classes in ``mask`` (see the module docstring).

    ``hierarchy``: ``membership``, ``candidates``, ``labels``, ``depth`` arrays.
    Returns ``synset``, ``name``, ``label`` (name plus qualifier), ``qualifier``,
    ``precision``, ``recall``, ``f1``, ``n_classes`` (in the cluster),
    ``n_under`` (classes under the name), ``n_covered`` (both), ``equivalent``.
    """
    mask = np.asarray(mask, dtype=bool)
    membership = hierarchy["membership"]
    n = int(mask.sum())
    if n == 0:
        raise ValueError("cannot name an empty cluster")
    covered, under, f1 = coverage(mask, membership)
    depth, names = hierarchy["depth"], hierarchy["candidates"]
    best_f1 = f1.max()
    tied = np.flatnonzero(f1 >= best_f1 - _TIE)
    best = min(tied, key=lambda j: (-depth[j], names[j]))
    column = membership[:, best]
    equivalent = [j for j in tied if j != best and np.array_equal(membership[:, j], column)]

    inside = ~np.any(membership & ~column[:, None], axis=0)  # covers a subset of the name's classes
    narrower = inside & (membership.sum(axis=0) < column.sum()) & (covered >= 2) & (covered > qualifier_share * n)
    qualifier = None
    if narrower.any() and f1[best] < 1.0 - _TIE:
        qualifier = min(np.flatnonzero(narrower), key=lambda j: (-depth[j], -covered[j], names[j]))
    label = str(hierarchy["labels"][best])
    if qualifier is not None:
        label += f" ({str(hierarchy['labels'][qualifier]).lower()})"
    return {
        "synset": str(names[best]),
        "name": str(hierarchy["labels"][best]),
        "label": label,
        "qualifier": None if qualifier is None else str(names[qualifier]),
        "precision": float(covered[best] / under[best]),
        "recall": float(covered[best] / n),
        "f1": float(f1[best]),
        "n_classes": n,
        "n_under": int(under[best]),
        "n_covered": int(covered[best]),
        "equivalent": [str(hierarchy["labels"][j]) for j in sorted(equivalent, key=lambda j: depth[j])],
    }


def name_clusters(
    labels: np.ndarray, hierarchy: dict[str, np.ndarray], class_names: Sequence[str], qualifier_share: float = 0.5
) -> list[dict[str, Any]]:
    """Name every cluster of one clustering; clusters ordered as WordNet orders their classes.

    labels (n_classes,) cluster ids. Each returned dict is :func:`name_cluster`'s plus
    ``members`` (class names, in WordNet order) and ``position`` (1-based column).
    Clusters are sorted by the mean WordNet rank (``hierarchy["order"]``) of their
    classes, so related clusters sit side by side and columns stay stable across k.
    """
    labels = np.asarray(labels)
    order = hierarchy["order"]
    clusters = []
    for cluster in np.unique(labels):
        mask = labels == cluster
        members = sorted(np.flatnonzero(mask), key=lambda i: order[i])
        named = name_cluster(mask, hierarchy, qualifier_share)
        named["members"] = [str(class_names[i]) for i in members]
        named["_rank"] = (float(np.mean(order[mask])), int(order[members[0]]))
        clusters.append(named)
    clusters.sort(key=lambda c: c.pop("_rank"))
    for position, named in enumerate(clusters, start=1):
        named["position"] = position
    return clusters
