"""Interpretability of the brain CNN: per-filter class brain models, differential models, dBMS.

The talk ("build a brain model", "rank brain substructures") averages, for every first-layer
filter, the activation maps of all the slices of one class taken at the same position of the
template grid, stacks these mean maps back into a template-space volume (the *brain model* of
the filter for that class), subtracts the class-0 model from the class-1 model (the
*differential model*) and summarises it by one number, the dBMS, per filter and per atlas
region.

* :class:`BrainModelAccumulator` -- streamed per-class sums (and sums of squares) of the maps
  at each slice position; memory O(classes x filters x positions x S x S), never all maps.
* :func:`maps_to_volume` -- mean maps (F, P, S, S) -> template-space volumes (F, X, Y, Z).
* :func:`differential_model`, :func:`dbms`, :func:`rank_regions` -- the summaries.
* :func:`cnnpractice.brain.interpret_run.interpret_model` -- the whole stage for one trained
  network and one slice set.

dBMS (our definition; the talk does not give one). For a filter ``f`` with differential model
``D_f = M1_f - M0_f`` and a set of voxels ``V`` (the brain mask, or one atlas region)::

    dBMS_f(V) = mean over v in V with finite D_f(v) of |D_f(v)| / scale_f

``scale_f`` is the pooled within-class standard deviation of filter ``f``'s activations over
the brain (square root of the mean, over mask voxels, of the per-voxel pooled within-class
variance), so a filter does not win by the size of its activations alone: dBMS is a mean
absolute standardized difference of the class means (a brain-averaged |Cohen's d|).
"""

from __future__ import annotations

import numpy as np

# what interpret_model writes (the interpret_brain rule's outputs); torch is imported inside
# the functions, so the Snakefile reads this list cheaply
OUTPUTS = (
    "brain_model_class0.nii.gz",
    "brain_model_class1.nii.gz",
    "differential.nii.gz",
    "dbms.csv",
    "regions.csv",
    "regions_untrained.csv",
    "filters.png",
    "filter_a_cuts.png",
    "summary.json",
)


class BrainModelAccumulator:
    """Running per-class, per-position sums of first-layer activation maps.

    Parameters
    ----------
    n_classes : number of classes C (labels are 0 .. C-1).
    n_filters : number of filters F.
    positions : (P,) int, the slice positions (voxel index along the slice axis) to expect.
    map_shape : (S, S) shape of one activation map.

    Attributes
    ----------
    positions : (P,) int64, sorted and unique.
    counts : (C, P) int64, number of maps added per class and position.
    sums, sumsq : (C, P, F, S, S) float64 running sums of the maps and of their squares.
    """

    def __init__(self, n_classes: int, n_filters: int, positions: np.ndarray, map_shape):
        self.positions = np.unique(np.asarray(positions, dtype=np.int64))
        self.n_classes, self.n_filters = int(n_classes), int(n_filters)
        self.map_shape = tuple(int(s) for s in map_shape)
        shape = (self.n_classes, self.positions.size, self.n_filters, *self.map_shape)
        self.counts = np.zeros((self.n_classes, self.positions.size), dtype=np.int64)
        self.sums = np.zeros(shape, dtype=np.float64)
        self.sumsq = np.zeros(shape, dtype=np.float64)

    def _rows(self, labels: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Row of each map in the flattened (C * P) axis; errors name unknown labels/positions."""
        labels = np.asarray(labels, dtype=np.int64)
        positions = np.asarray(positions, dtype=np.int64)
        k = np.clip(np.searchsorted(self.positions, positions), 0, self.positions.size - 1)
        unknown = self.positions[k] != positions
        if unknown.any():
            raise ValueError(
                f"positions {np.unique(positions[unknown]).tolist()} are not among the "
                f"configured positions {self.positions.tolist()}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValueError(f"labels must lie in 0..{self.n_classes - 1}, got {np.unique(labels).tolist()}")
        return labels * self.positions.size + k

    def add(self, maps, labels, positions) -> None:
        """Add a batch of maps.

        Parameters
        ----------
        maps : (B, F, S, S) float array or tensor.
        labels : (B,) int class of each map.
        positions : (B,) int slice position of each map (one of :attr:`positions`).
        """
        import torch

        maps = torch.as_tensor(maps).detach().to("cpu", torch.float64)
        if tuple(maps.shape[1:]) != (self.n_filters, *self.map_shape):
            raise ValueError(
                f"maps of shape {tuple(maps.shape)}, expected (B, {self.n_filters}, "
                f"{', '.join(map(str, self.map_shape))})"
            )
        rows = self._rows(labels, positions)
        index = torch.from_numpy(rows)
        flat = maps.reshape(maps.shape[0], -1)
        n_rows = self.counts.size
        torch.from_numpy(self.sums).view(n_rows, -1).index_add_(0, index, flat)
        torch.from_numpy(self.sumsq).view(n_rows, -1).index_add_(0, index, flat * flat)
        np.add.at(self.counts.reshape(-1), rows, 1)

    def means(self) -> np.ndarray:
        """(C, F, P, S, S) float32 class-mean maps; NaN at positions a class never had."""
        out = np.empty((self.n_classes, self.n_filters, self.positions.size, *self.map_shape), np.float32)
        for c in range(self.n_classes):  # one class at a time bounds the float64 temporaries
            n = self.counts[c][:, None, None, None]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[c] = (self.sums[c] / n).transpose(1, 0, 2, 3)
        return out

    def pooled_variance(self) -> np.ndarray:
        """(F, P, S, S) float32 pooled within-class variance of the maps at each pixel.

        ``sum_c sum_i (x_i - mean_c)^2 / (n - k)`` over the ``n`` maps of the ``k`` classes seen
        at the position; NaN where ``n - k < 1``.
        """
        within = self.sumsq.sum(0)  # (P, F, S, S)
        for c in range(self.n_classes):
            n = self.counts[c][:, None, None, None]
            within -= np.divide(self.sums[c] ** 2, n, out=np.zeros_like(within), where=n > 0)
        dof = (self.counts.sum(0) - (self.counts > 0).sum(0)).astype(np.float64)  # (P,)
        np.clip(within, 0, None, out=within)
        within /= np.where(dof > 0, dof, np.nan)[:, None, None, None]
        return np.ascontiguousarray(within.transpose(1, 0, 2, 3), dtype=np.float32)


def maps_to_volume(maps: np.ndarray, positions: np.ndarray, axis: int, plane_shape, template_shape) -> np.ndarray:
    """Place 2D maps back into the template grid.

    Each map is resized from S x S to ``plane_shape`` by bilinear interpolation with aligned
    corners (the inverse of ``scipy.ndimage.zoom(plane, S / plane_shape, order=1)``, which
    the slicer applies) and written at its position along ``axis``.

    Parameters
    ----------
    maps : (F, P, S, S) float maps (NaN allowed: a NaN map stays NaN).
    positions : (P,) int voxel index of each map along ``axis``.
    axis : 0 (sagittal, x), 1 (coronal, y) or 2 (axial, z).
    plane_shape : (2,) template shape without ``axis``.
    template_shape : (3,) template shape (X, Y, Z).

    Returns
    -------
    (F, X, Y, Z) float32; NaN at positions without a map.
    """
    import torch

    maps = np.asarray(maps, dtype=np.float32)
    positions = np.asarray(positions, dtype=np.int64)
    template_shape = tuple(int(s) for s in template_shape)
    plane_shape = tuple(int(s) for s in plane_shape)
    if plane_shape != tuple(s for i, s in enumerate(template_shape) if i != axis):
        raise ValueError(f"plane_shape {plane_shape} is not template_shape {template_shape} without axis {axis}")
    if maps.ndim != 4 or maps.shape[1] != positions.size:
        raise ValueError(f"maps of shape {maps.shape}, expected (F, {positions.size}, S, S)")
    if positions.size and (positions.min() < 0 or positions.max() >= template_shape[axis]):
        raise ValueError(f"positions outside 0..{template_shape[axis] - 1} along axis {axis}")
    n_filters = maps.shape[0]
    volume = np.full((n_filters, *template_shape), np.nan, dtype=np.float32)
    if positions.size:
        planes = torch.nn.functional.interpolate(
            torch.from_numpy(maps).transpose(0, 1), size=plane_shape, mode="bilinear", align_corners=True
        )  # (P, F, *plane_shape)
        np.moveaxis(volume, axis + 1, 1)[:, positions] = planes.transpose(0, 1).numpy()
    return volume


def differential_model(model0: np.ndarray, model1: np.ndarray) -> np.ndarray:
    """The differential brain model ``model1 - model0`` (any matching shapes, NaN propagates)."""
    return np.asarray(model1) - np.asarray(model0)


def dbms(diff: np.ndarray, mask: np.ndarray, scale) -> np.ndarray:
    """Differential brain model summary of every filter.

    ``dBMS_f = mean(|diff[f, v]|, v in mask with diff[f, v] finite) / scale[f]``: the mean
    absolute class difference over the brain, in units of the filter's pooled within-class
    standard deviation ``scale[f]`` (see the module docstring).

    Parameters
    ----------
    diff : (F, X, Y, Z) differential models; NaN voxels are ignored.
    mask : (X, Y, Z) bool brain mask.
    scale : (F,) positive scale per filter. A scale of 0 gives 0 when the filter's mean
        |diff| is 0 (a dead filter) and inf otherwise.

    Returns
    -------
    (F,) float64; NaN for a filter without any finite voxel in the mask.
    """
    diff = np.asarray(diff)
    mask = np.asarray(mask, dtype=bool)
    if diff.shape[1:] != mask.shape:
        raise ValueError(f"diff {diff.shape} and mask {mask.shape} do not match")
    values = np.abs(diff[:, mask])  # (F, n_mask), the input's precision
    n = np.isfinite(values).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_abs = np.nansum(values, axis=1, dtype=np.float64) / np.where(n > 0, n, np.nan)
    return _scaled(mean_abs, np.broadcast_to(np.asarray(scale, dtype=np.float64), mean_abs.shape))


def _scaled(value: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``value / scale`` with 0/0 -> 0 and x/0 -> inf (NaN values stay NaN)."""
    zero = np.where(value > 0, np.inf, np.where(np.isnan(value), np.nan, 0.0))
    return np.divide(value, scale, out=zero, where=scale > 0)


def rank_regions(
    diff_f: np.ndarray, atlas: np.ndarray, names: dict[int, str], scale: float, min_voxels: int = 10
) -> list[dict]:
    """Rank atlas regions by the dBMS of one filter's differential model.

    Parameters
    ----------
    diff_f : (X, Y, Z) differential model of one filter (NaN voxels ignored).
    atlas : (X, Y, Z) int labels, 0 = no region.
    names : label -> region name (labels missing here are called ``"label <n>"``).
    scale : the filter's scale (as in :func:`dbms`).
    min_voxels : regions with fewer finite voxels are left out.

    Returns
    -------
    list of ``{"rank", "label", "region", "dbms", "n_voxels"}``, highest dBMS first.
    """
    atlas = np.asarray(atlas)
    if atlas.shape != np.shape(diff_f):
        raise ValueError(f"atlas {atlas.shape} and differential model {np.shape(diff_f)} do not match")
    labels = atlas.ravel().astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError("atlas labels must be >= 0")
    values = np.abs(np.asarray(diff_f, dtype=np.float64).ravel())
    keep = np.isfinite(values) & (labels > 0)
    size = int(labels.max(initial=0)) + 1
    n = np.bincount(labels[keep], minlength=size)
    total = np.bincount(labels[keep], weights=values[keep], minlength=size)
    found = np.flatnonzero((n >= max(min_voxels, 1)) & (np.arange(size) > 0))
    scores = _scaled(total[found] / n[found], np.full(found.size, float(scale)))
    order = np.argsort(-scores, kind="stable")
    return [
        {
            "rank": r + 1,
            "label": int(found[i]),
            "region": names.get(int(found[i]), f"label {found[i]}"),
            "dbms": float(scores[i]),
            "n_voxels": int(n[found[i]]),
        }
        for r, i in enumerate(order)
    ]


def pooled_scale(variance: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(F,) scale of every filter: sqrt of the mean over finite mask voxels of ``variance``.

    ``variance`` is (F, X, Y, Z), the pooled within-class variance in template space; a
    filter without finite voxels in the mask gets NaN.
    """
    values = np.asarray(variance)[:, np.asarray(mask, dtype=bool)]  # (F, n_mask)
    n = np.isfinite(values).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.nansum(values, axis=1, dtype=np.float64) / np.where(n > 0, n, np.nan))


def stream_brain_models(
    net,
    x,
    rows: np.ndarray,
    labels: np.ndarray,
    positions: np.ndarray,
    *,
    n_classes: int,
    mean: float,
    std: float,
    batch_size: int = 64,
    device="cpu",
) -> BrainModelAccumulator:
    """Run the slices ``x[rows]`` through ``net.first_layer`` in batches and accumulate the maps.

    Parameters
    ----------
    net : module with ``first_layer(x (B, 1, S, S)) -> (B, F, S, S)``.
    x : (N, 1, S, S) uint8 slices (a memmap is read one batch at a time).
    rows : (n,) sorted indices into ``x`` to use.
    labels, positions : (n,) class and slice position of each used row.
    """
    import torch

    acc = None
    with torch.no_grad():
        for start in range(0, rows.size, batch_size):
            batch = slice(start, start + batch_size)
            xb = torch.from_numpy(np.asarray(x[rows[batch]], dtype=np.float32)).to(device)
            maps = net.first_layer((xb - mean) / std).float()
            if acc is None:
                acc = BrainModelAccumulator(n_classes, maps.shape[1], np.unique(positions), maps.shape[2:])
            acc.add(maps, labels[batch], positions[batch])
    if acc is None:
        raise ValueError("no slices to interpret")
    return acc
