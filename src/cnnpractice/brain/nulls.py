"""What noise gives: label-permutation nulls for every region ranking, and the voxel t-map.

A region ranking means something only against what a ranking of shuffled labels gives. For
the interpreted fold's network (trained) and the same architecture untrained, and for the
classic mass-univariate voxel t-map, every region's score is recomputed under ``B`` random
permutations of the subject labels (subject level: a subject's slices move together; the
networks stay fixed):

* **CNN** (:func:`cnn_null`): every subject's first-layer maps are computed once
  (:func:`subject_maps`, template space, on the sampled planes); a permutation only changes
  which subjects are averaged into which class, so the class means, the pooled within-class
  variance (per slice pixel, as :mod:`.interpret` computes it) and every filter's dBMS are
  matrix products over the subject axis, ``B`` at a time. Filter A is re-chosen in every
  permutation (the highest brain-wide dBMS, as for the real labels), so the null includes
  the selection: the region scores of "the best filter" under shuffled labels.
* **t-map** (:func:`tmap_null`): the aligned volumes (scaled by each subject's robust maximum,
  smoothed by a Gaussian of ``fwhm_mm``), a two-sample Student t per voxel
  (``scipy.stats.ttest_ind`` for the real labels; the same formula vectorised over
  permutations), a region's score = mean |t| over its voxels.

A region's p-value is ``stats.empirical_p`` of its observed score against its null scores,
and ``stats.fdr`` (Benjamini-Hochberg) adjusts them over the regions of each ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def permutations(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, M) bool: class-1 membership of the M subjects under ``n`` seeded random
    permutations of ``labels`` (class sizes kept)."""
    labels = np.asarray(labels).astype(bool)
    rng = np.random.default_rng([int(seed), 151])
    return np.stack([rng.permutation(labels) for _ in range(int(n))]) if n else np.zeros((0, labels.size), bool)


def _contrast(members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W1, W0, Wd) (B, M) float32 weights of class-1 mean, class-0 mean and their difference."""
    one = members.astype(np.float32)
    n1 = one.sum(1, keepdims=True)
    n0 = members.shape[1] - n1
    w1, w0 = one / n1, (1 - one) / n0
    return w1, w0, w1 - w0


class RegionIndex:
    """Voxels grouped by atlas region for fast per-region means (``np.add.reduceat``).

    Parameters
    ----------
    labels : (V,) atlas label of each voxel (0 = none).
    names : label -> region name.
    min_voxels : regions with fewer voxels are left out (as :func:`.interpret.rank_regions`).
    """

    def __init__(self, labels: np.ndarray, names: Mapping[int, str], min_voxels: int = 10):
        labels = np.asarray(labels, dtype=np.int64)
        counts = np.bincount(labels, minlength=1)
        keep = np.flatnonzero((counts >= max(min_voxels, 1)) & (np.arange(counts.size) > 0))
        chosen = np.isin(labels, keep)
        self.order = np.flatnonzero(chosen)[np.argsort(labels[chosen], kind="stable")]
        self.labels = keep
        self.counts = counts[keep].astype(np.float64)
        self.starts = np.concatenate([[0], np.cumsum(counts[keep])[:-1]]).astype(np.int64)
        self.names = [names.get(int(k), f"label {k}") for k in keep]

    def means(self, values: np.ndarray) -> np.ndarray:
        """Mean of ``values`` (..., V) over each region's voxels -> (..., R) float64."""
        return self.sorted_means(np.asarray(values)[..., self.order])

    def sorted_means(self, values: np.ndarray) -> np.ndarray:
        """The same for values already taken at ``order`` (..., len(order)): no gather."""
        return np.add.reduceat(values, self.starts, axis=-1, dtype=np.float64) / self.counts


def subject_maps(net, x, meta, *, mean: float, std: float, filters=None, batch_size: int = 64):
    """Every subject's first-layer maps of ``filters`` (all when None), one slice per position.

    Returns ``(maps (M, F', P, S, S) float32, positions (P,))``; subjects follow
    ``meta["subjects"]`` and must all have the same positions.
    """
    import torch

    positions = np.unique(meta["position"])
    n_subjects = meta["subjects"].size
    rows = np.full((n_subjects, positions.size), -1, dtype=np.int64)
    rows[meta["subject_index"], np.searchsorted(positions, meta["position"])] = np.arange(meta["position"].size)
    if (rows < 0).any():
        raise ValueError("permutation nulls need every subject sliced at every position")
    flat = rows.ravel()
    out = None
    with torch.no_grad():
        for start in range(0, flat.size, batch_size):
            idx = flat[start : start + batch_size]
            order = np.argsort(idx)
            xb = torch.from_numpy(np.asarray(x[idx[order]], dtype=np.float32))
            maps = net.first_layer((xb - mean) / std).float().numpy()[np.argsort(order)]
            if filters is not None:
                maps = maps[:, list(filters)]
            if out is None:
                out = np.empty((flat.size, *maps.shape[1:]), dtype=np.float32)
            out[start : start + len(idx)] = maps
    out = out.reshape(n_subjects, positions.size, *out.shape[1:])  # (M, P, F, S, S)
    return np.ascontiguousarray(out.transpose(0, 2, 1, 3, 4)), positions


def plane_operator(positions: np.ndarray, axis: int, plane_shape, template_shape, mask: np.ndarray, map_side: int):
    """The template voxels the maps cover and how the maps reach them.

    Returns ``(voxels (V,) flat indices of mask voxels on the sampled planes, to_volume)``
    where ``to_volume(maps (..., P, S, S)) -> (..., V)`` is :func:`.interpret.maps_to_volume`
    restricted to those voxels, and ``weights`` (P, S, S): how much each map pixel's value
    counts in the mean over those voxels of the interpolated maps (the adjoint of
    ``to_volume`` applied to ``1 / V``), for the pooled scale."""
    import torch

    from cnnpractice.brain.interpret import maps_to_volume

    probe = maps_to_volume(
        np.zeros((1, positions.size, map_side, map_side), np.float32), positions, axis, plane_shape, template_shape
    )
    covered = np.isfinite(probe[0]) & np.asarray(mask, dtype=bool)
    voxels = np.flatnonzero(covered)
    # voxel -> (plane k, pixel in the plane): the plane's row in maps_to_volume's layout
    coords = np.unravel_index(voxels, template_shape)
    plane_k = np.searchsorted(positions, coords[axis])
    in_plane = [c for i, c in enumerate(coords) if i != axis]
    flat_in_plane = np.ravel_multi_index(in_plane, plane_shape)

    def to_volume(maps: np.ndarray) -> np.ndarray:
        lead = maps.shape[:-3]
        t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32).reshape(-1, *maps.shape[-3:]))
        planes = torch.nn.functional.interpolate(t, size=tuple(plane_shape), mode="bilinear", align_corners=True)
        planes = planes.reshape(t.shape[0], positions.size, -1).numpy()
        return planes[:, plane_k, flat_in_plane].reshape(*lead, voxels.size)

    ones = torch.ones((1, positions.size, map_side, map_side), requires_grad=True)
    up = torch.nn.functional.interpolate(ones, size=tuple(plane_shape), mode="bilinear", align_corners=True)
    selector = torch.zeros_like(up)
    selector.reshape(1, positions.size, -1)[0, plane_k, flat_in_plane] = 1.0 / voxels.size
    (up * selector).sum().backward()
    return voxels, to_volume, ones.grad[0].numpy().astype(np.float64)


class PooledScale:
    """dBMS's denominator for any class membership: the filter's pooled within-class standard
    deviation, from the weighted Gram matrix of the subjects' maps.

    :mod:`.interpret` averages the per-pixel pooled within-class variance over the covered
    voxels, i.e. takes ``sum_pix w_pix SS_within(pix) / (M - 2)`` with the weights ``w`` of
    :func:`plane_operator`. With ``G = (X * w) X^T`` (X: the subjects' maps of one filter,
    flattened), ``sum_pix w SS_within = trace(G) - z1' G z1 / n1 - z0' G z0 / n0`` for class
    indicators ``z1``, ``z0``: a quadratic form, cheap for any number of permutations.
    Shapes: maps (M, F, P, S, S), weights (P, S, S); :meth:`__call__` (B, M) bool -> (B, F).
    """

    def __init__(self, maps: np.ndarray, weights: np.ndarray):
        m, f = maps.shape[:2]
        w = np.asarray(weights, dtype=np.float64).ravel()
        pix = maps.reshape(m, f, -1)
        self.m = m
        gram = []
        for k in range(f):
            a = np.ascontiguousarray(pix[:, k], dtype=np.float64)  # (M, P*S*S), contiguous: BLAS
            gram.append((a * w) @ a.T)
        self.gram = np.stack(gram)
        self.trace = np.trace(self.gram, axis1=1, axis2=2)

    def __call__(self, members: np.ndarray) -> np.ndarray:
        z1 = np.asarray(members, dtype=np.float64)
        z0 = 1.0 - z1
        quad1 = np.einsum("bi,kij,bj->bk", z1, self.gram, z1)
        quad0 = np.einsum("bi,kij,bj->bk", z0, self.gram, z0)
        within = self.trace[None] - quad1 / z1.sum(1)[:, None] - quad0 / z0.sum(1)[:, None]
        return np.sqrt(np.clip(within, 0, None) / (self.m - 2))


def cnn_null(
    maps: np.ndarray,
    labels: np.ndarray,
    members: np.ndarray,
    to_volume,
    weights: np.ndarray,
    regions: RegionIndex,
    chunk: int = 50,
) -> dict[str, np.ndarray]:
    """Observed and permuted region scores of one filter (filter A) of a fixed network.

    ``maps`` (M, 1, P, S, S): every subject's maps of that filter (:func:`subject_maps`);
    ``labels`` (M,) the real labels; ``members`` (B, M) bool permuted class-1 memberships;
    ``to_volume``, ``weights`` from :func:`plane_operator`; ``regions`` the atlas regions of
    the covered voxels (in ``to_volume``'s voxel order). A region's score is its mean
    |class-mean difference| over its voxels divided by the filter's pooled within-class
    standard deviation (:func:`.interpret.rank_regions`'s dBMS).

    Returns ``{"observed" (R,), "null" (B, R), "brain" () the brain-wide dBMS}``.
    """
    scale = PooledScale(maps, weights)
    vol = to_volume(maps[:, 0])  # (M, V) covered voxels
    labels = np.asarray(labels, dtype=bool)[None]
    diff = _contrast(labels)[2] @ vol
    brain = float(np.abs(diff).mean(dtype=np.float64) / scale(labels)[0, 0])
    grouped = np.ascontiguousarray(vol[:, regions.order])  # (M, region voxels), grouped by region
    observed = regions.sorted_means(np.abs(diff[:, regions.order])) / scale(labels)
    null = np.empty((len(members), len(regions.labels)))
    for start in range(0, len(members), chunk):
        part = members[start : start + chunk]
        null[start : start + len(part)] = regions.sorted_means(np.abs(_contrast(part)[2] @ grouped)) / scale(part)
    return {"observed": observed[0], "null": null, "brain": brain}


def selection_null(
    maps: np.ndarray, members: np.ndarray, to_volume, weights: np.ndarray, regions: RegionIndex, chunk: int = 10
) -> dict[str, np.ndarray]:
    """Region scores under shuffled labels when filter A is re-chosen in every permutation.

    ``maps`` (M, F, P, S, S): every filter. In each permutation the filter with the highest
    brain-wide dBMS is taken (as for the real labels) and its region scores kept; the
    fixed-filter null (:func:`cnn_null`) leaves that choice out. Costs F times as much per
    permutation, so it runs on a few. Returns ``{"null" (B, R), "filters" (B,)}``."""
    m, f = maps.shape[:2]
    scale = PooledScale(maps, weights)
    flat = np.ascontiguousarray(to_volume(maps).reshape(m, -1), dtype=np.float32)  # (M, F*V)
    null = np.empty((len(members), len(regions.labels)))
    chosen = np.empty(len(members), dtype=np.int64)
    for start in range(0, len(members), chunk):
        part = members[start : start + chunk]
        absd = np.abs(_contrast(part)[2] @ flat).reshape(len(part), f, -1)  # (B, F, V)
        sd = scale(part)
        brain = absd.mean(-1, dtype=np.float64) / sd
        best = np.argmax(np.where(np.isfinite(brain), brain, -np.inf), axis=1)
        at = np.arange(len(part))
        null[start : start + len(part)] = regions.means(absd[at, best]) / sd[at, best][:, None]
        chosen[start : start + len(part)] = best
    return {"null": null, "filters": chosen}


def tmap_null(
    volumes: np.ndarray, labels: np.ndarray, members: np.ndarray, regions: RegionIndex, chunk: int = 50
) -> dict[str, np.ndarray]:
    """Observed and permuted region scores (mean |t|) of the voxel-wise two-sample t-test.

    ``volumes`` (M, V) the subjects' preprocessed voxels. The observed t is
    ``scipy.stats.ttest_ind`` (pooled variance). Under a permutation the class sizes and every
    voxel's total sum of squares stay, so with ``d`` the class-mean difference and ``c = n1
    n0 / M``, ``SS_within = SS_total - c d^2`` and ``t = d sqrt(c (M - 2) / SS_within)``: one
    matrix product per batch of permutations. Returns ``{"observed" (R,), "null" (B, R),
    "t" (V,)}``."""
    from scipy import stats as sps

    y = np.asarray(volumes, dtype=np.float32)
    labels = np.asarray(labels, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_obs = np.nan_to_num(sps.ttest_ind(y[labels], y[~labels], axis=0).statistic, nan=0.0)
    m = y.shape[0]
    ys = np.ascontiguousarray(y[:, regions.order])  # grouped by region
    ss_total = ((ys.astype(np.float64) - ys.mean(0, dtype=np.float64)) ** 2).sum(0).astype(np.float32)
    null = np.empty((len(members), len(regions.labels)))
    for start in range(0, len(members), chunk):
        part = members[start : start + chunk]
        n1 = part.sum(1, keepdims=True).astype(np.float32)
        c = n1 * (m - n1) / m
        d = _contrast(part)[2] @ ys  # (B, V) class-mean differences
        within = ss_total[None] - c * d * d
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.abs(d) * np.sqrt(c * (m - 2) / within)
        null[start : start + len(part)] = regions.sorted_means(np.nan_to_num(t, nan=0.0, posinf=0.0))
    return {"observed": regions.means(np.abs(t_obs)), "null": null, "t": t_obs}


def region_pvalues(observed: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-region empirical p-values (``stats.empirical_p``, larger is more extreme) and their
    Benjamini-Hochberg adjustment over the regions (``stats.fdr``)."""
    from cnnpractice import stats

    p = np.array([stats.empirical_p(observed[r], null[:, r]) for r in range(observed.size)])
    return p, stats.fdr(p)


def untrained_copy(net, seed: int):
    """The same architecture freshly initialised from ``seed`` (parameters reset in module
    order), in eval mode: the untrained baseline of :mod:`.interpret_run` and of the nulls."""
    import copy

    import torch

    fresh = copy.deepcopy(net).cpu()
    torch.manual_seed(seed)
    for module in fresh.modules():
        if hasattr(module, "reset_parameters") and module is not fresh:
            module.reset_parameters()
    return fresh.eval()


def ranks(scores: np.ndarray) -> np.ndarray:
    """1 = highest score (stable for ties)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    out = np.empty(order.size, dtype=np.int64)
    out[order] = np.arange(1, order.size + 1)
    return out


def summarise(names: Sequence[str], methods: Mapping[str, Mapping[str, np.ndarray]]) -> list[dict]:
    """One row per region: for every method its score, rank, p and FDR-adjusted q."""
    rows = [{"region": n} for n in names]
    for key, res in methods.items():
        p, q = region_pvalues(res["observed"], res["null"])
        rk = ranks(res["observed"])
        for i, row in enumerate(rows):
            row |= {
                f"{key}_score": float(res["observed"][i]),
                f"{key}_rank": int(rk[i]),
                f"{key}_p": p[i],
                f"{key}_q": q[i],
            }
    return rows
