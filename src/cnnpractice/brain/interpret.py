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
* :func:`interpret_model` -- the whole stage for one trained network and one slice set.

dBMS (our definition; the talk does not give one). For a filter ``f`` with differential model
``D_f = M1_f - M0_f`` and a set of voxels ``V`` (the brain mask, or one atlas region)::

    dBMS_f(V) = mean over v in V with finite D_f(v) of |D_f(v)| / scale_f

``scale_f`` is the pooled within-class standard deviation of filter ``f``'s activations over
the brain (square root of the mean, over mask voxels, of the per-voxel pooled within-class
variance), so a filter does not win by the size of its activations alone: dBMS is a mean
absolute standardized difference of the class means (a brain-averaged |Cohen's d|).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import torch

from cnnpractice.io import write_json
from cnnpractice.tables import write_csv

OUTPUTS = ("brain_model_class0.nii.gz", "brain_model_class1.nii.gz", "differential.nii.gz", "dbms.csv",
           "regions.csv", "filters.png", "filter_a_cuts.png", "summary.json")
META_REQUIRED = {"subject_index": "iu", "position": "iu", "label": "iu", "subjects": "UO",
                 "subject_label": "iu", "axis": "iu", "plane_shape": "iu", "template_shape": "iu"}


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
            raise ValueError(f"positions {np.unique(positions[unknown]).tolist()} are not among the "
                             f"configured positions {self.positions.tolist()}")
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
        maps = torch.as_tensor(maps).detach().to("cpu", torch.float64)
        if tuple(maps.shape[1:]) != (self.n_filters, *self.map_shape):
            raise ValueError(f"maps of shape {tuple(maps.shape)}, expected (B, {self.n_filters}, "
                             f"{', '.join(map(str, self.map_shape))})")
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


def maps_to_volume(maps: np.ndarray, positions: np.ndarray, axis: int, plane_shape,
                   template_shape) -> np.ndarray:
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


def rank_regions(diff_f: np.ndarray, atlas: np.ndarray, names: dict[int, str], scale: float,
                 min_voxels: int = 10) -> list[dict]:
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
    return [{"rank": r + 1, "label": int(found[i]), "region": names.get(int(found[i]), f"label {found[i]}"),
             "dbms": float(scores[i]), "n_voxels": int(n[found[i]])} for r, i in enumerate(order)]


def pooled_scale(variance: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(F,) scale of every filter: sqrt of the mean over finite mask voxels of ``variance``.

    ``variance`` is (F, X, Y, Z), the pooled within-class variance in template space; a
    filter without finite voxels in the mask gets NaN.
    """
    values = np.asarray(variance)[:, np.asarray(mask, dtype=bool)]  # (F, n_mask)
    n = np.isfinite(values).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.nansum(values, axis=1, dtype=np.float64) / np.where(n > 0, n, np.nan))


def read_atlas_labels(path: str | Path) -> dict[int, str]:
    """``atlas_labels.csv`` (columns ``label,name``) -> {label: name}."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not {"label", "name"} <= set(rows[0]):
        raise ValueError(f"{path}: expected columns label,name, got {sorted(rows[0])}")
    return {int(r["label"]): r["name"] for r in rows}


def stream_brain_models(net, x, rows: np.ndarray, labels: np.ndarray, positions: np.ndarray, *,
                        n_classes: int, mean: float, std: float, batch_size: int = 64,
                        device="cpu") -> BrainModelAccumulator:
    """Run the slices ``x[rows]`` through ``net.first_layer`` in batches and accumulate the maps.

    Parameters
    ----------
    net : module with ``first_layer(x (B, 1, S, S)) -> (B, F, S, S)``.
    x : (N, 1, S, S) uint8 slices (a memmap is read one batch at a time).
    rows : (n,) sorted indices into ``x`` to use.
    labels, positions : (n,) class and slice position of each used row.
    """
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


def interpret_model(*, checkpoint, slices_dir, template_dir, out_dir, mean: float, std: float,
                    subjects=None, batch_size: int = 64, example_subjects=None,
                    sagittal_cuts_mm=(-34, -30, -26, -22, -18), device="cpu", net=None) -> dict:
    """Class brain models, differential models, dBMS and the region ranking of one network.

    Parameters
    ----------
    checkpoint : a ``ClassificationModule`` checkpoint whose ``net`` has ``first_layer``.
    slices_dir : ``x.npy`` (N, 1, S, S) uint8 and ``meta.npz`` (see the slice contract).
    template_dir : ``template.nii.gz``, ``mask.nii.gz``, ``atlas.nii.gz``, ``atlas_labels.csv``.
    out_dir : where the outputs go (:data:`OUTPUTS`, also listed in the summary's ``files``).
    mean, std : the input standardization ``(x - mean) / std`` used in training.
    subjects : indices into ``meta["subjects"]`` to use (None = all). Labels must be 0/1.
    example_subjects : (class-0 subject, class-1 subject) indices for ``filters.png``
        (default: the first used subject of each class having the chosen slice).
    sagittal_cuts_mm : world x (mm) of the sagittal cuts of ``filter_a_cuts.png``.
    net : a ready network, used instead of ``checkpoint`` (tests).

    Returns
    -------
    The summary dict also written to ``summary.json``.
    """
    from cnnpractice.brain import figures
    from cnnpractice.brain.volumes import load_volume, save_volume
    from cnnpractice.io import load_npz

    t0 = time.perf_counter()
    slices_dir, template_dir, out_dir = Path(slices_dir), Path(template_dir), Path(out_dir)
    meta = load_npz(slices_dir / "meta.npz", META_REQUIRED)
    x = np.load(slices_dir / "x.npy", mmap_mode="r")
    template, affine = load_volume(template_dir / "template.nii.gz")
    mask = load_volume(template_dir / "mask.nii.gz", check_brain=False)[0] > 0
    atlas = load_volume(template_dir / "atlas.nii.gz", dtype=np.int32, check_brain=False)[0]
    names = read_atlas_labels(template_dir / "atlas_labels.csv")
    axis, plane_shape = int(meta["axis"]), tuple(int(s) for s in meta["plane_shape"])
    template_shape = tuple(int(s) for s in meta["template_shape"])
    if template.shape != template_shape or mask.shape != template_shape or atlas.shape != template_shape:
        raise ValueError(f"{slices_dir}: slices were cut from a {template_shape} grid but the template, "
                         f"mask and atlas in {template_dir} are {template.shape}, {mask.shape}, {atlas.shape}")
    if net is None:
        from cnnpractice.training.module import ClassificationModule

        net = ClassificationModule.from_checkpoint(checkpoint, map_location=device).net
    if not hasattr(net, "first_layer"):
        raise TypeError(f"{type(net).__name__} has no first_layer(x) method")
    net = net.to(device).eval()

    subject_label = meta["subject_label"].astype(np.int64)
    used = np.arange(meta["subjects"].size) if subjects is None else np.asarray(subjects, dtype=np.int64)
    if not set(np.unique(subject_label[used]).tolist()) == {0, 1}:
        raise ValueError(f"interpretation needs subjects of both classes 0 and 1, got labels "
                         f"{np.unique(subject_label[used]).tolist()}")
    rows = np.flatnonzero(np.isin(meta["subject_index"], used))
    labels = subject_label[meta["subject_index"][rows]]
    if not np.array_equal(labels, meta["label"][rows]):
        raise ValueError(f"{slices_dir}/meta.npz: slice labels disagree with their subjects' labels")
    positions = meta["position"][rows].astype(np.int64)
    acc = stream_brain_models(net, x, rows, labels, positions, n_classes=2, mean=mean, std=std,
                              batch_size=batch_size, device=device)

    # class models, differential model and the scale of every filter, in template space
    # (one (F, X, Y, Z) volume at a time is written, so at most two are held at once)
    class_means, counts, grid = acc.means(), acc.counts, acc.positions  # (2, F, P, S, S)
    volume = lambda maps: maps_to_volume(maps, grid, axis, plane_shape, template_shape)  # noqa: E731
    scale = pooled_scale(volume(acc.pooled_variance()), mask)
    del acc
    out_dir.mkdir(parents=True, exist_ok=True)
    model0 = volume(class_means[0])
    save_volume(out_dir / "brain_model_class0.nii.gz", np.moveaxis(model0, 0, -1), affine)
    diff = volume(class_means[1])
    save_volume(out_dir / "brain_model_class1.nii.gz", np.moveaxis(diff, 0, -1), affine)
    diff -= model0  # differential_model(model0, model1), in place
    del model0
    save_volume(out_dir / "differential.nii.gz", np.moveaxis(diff, 0, -1), affine)
    scores = dbms(diff, mask, scale)
    if not np.isfinite(scores).any():
        raise ValueError("no filter has a finite dBMS (do the slices cover the brain mask?)")
    filter_a = int(np.nanargmax(np.where(np.isfinite(scores), scores, -np.inf)))
    regions = rank_regions(diff[filter_a], atlas, names, scale[filter_a])
    diff_a = diff[filter_a].copy()
    del diff
    write_csv(out_dir / "dbms.csv", [{"filter": f, "dbms": float(s), "is_filter_a": int(f == filter_a)}
                                     for f, s in enumerate(scores)], ["filter", "dbms", "is_filter_a"])
    write_csv(out_dir / "regions.csv", regions, ["rank", "label", "region", "dbms", "n_voxels"])

    # Figure 2: every filter on one slice of a class-0 and a class-1 subject
    energy = np.nansum(np.abs(class_means[1, filter_a] - class_means[0, filter_a]), axis=(1, 2))
    k = int(np.argmax(energy)) if energy.max() > 0 else grid.size // 2
    position = int(grid[k])
    examples = _example_rows(meta, rows, labels, positions, position, example_subjects)
    with torch.no_grad():
        xb = torch.from_numpy(np.asarray(x[np.sort(examples)], dtype=np.float32)).to(device)
        maps = net.first_layer((xb - mean) / std).float().cpu().numpy()
    maps = maps[np.argsort(np.argsort(examples))]  # back to (class 0, class 1) order
    names_ex = [str(meta["subjects"][meta["subject_index"][r]]) for r in examples]
    figures.plot_filter_activations(
        maps[0], maps[1], scores, out_dir / "filters.png", filter_a=filter_a,
        titles=(f"class 0: {names_ex[0]}", f"class 1: {names_ex[1]}"),
        suptitle=f"First-layer activations, slice {position} along axis {axis}; frame = dBMS")

    # Figure 3: sagittal cuts of filter A's models
    inverse = np.linalg.inv(affine)
    centre_vox = (np.asarray(template_shape) - 1) / 2
    centre = affine @ np.r_[centre_vox, 1]
    cut_index = [int(round((inverse @ np.r_[mm, centre[1], centre[2], 1])[0])) for mm in sagittal_cuts_mm]
    # a sagittal configuration sampled every n-th plane has models only there: move each
    # requested cut to the nearest plane with data (and label it with that plane's x)
    covered = np.flatnonzero(np.isfinite(diff_a).any(axis=(1, 2)))
    snapped = []
    for i in (i for i in cut_index if 0 <= i < template_shape[0]):  # cuts off the grid are dropped
        j = int(covered[np.argmin(np.abs(covered - i))]) if covered.size else i
        if j not in snapped:
            snapped.append(j)
    cuts = [(float((affine @ np.r_[j, centre_vox[1], centre_vox[2], 1])[0]), j) for j in snapped]
    ix = [i for _, i in cuts]
    model0_a, model1_a = volume(class_means[:, filter_a])  # (2, X, Y, Z)
    figures.plot_model_cuts(model0_a[ix], model1_a[ix], diff_a[ix],
                            [f"x = {mm:g} mm (cut {i})" for mm, i in cuts], out_dir / "filter_a_cuts.png",
                            title=f"Brain models of filter A (filter {filter_a}), sagittal cuts")

    summary = {
        "filter_a": filter_a, "dbms": [float(s) for s in scores], "scale": [float(s) for s in scale],
        "n_slices_per_class": counts.sum(1).tolist(),
        "n_subjects_per_class": [int(np.sum(subject_label[used] == c)) for c in (0, 1)],
        "axis": axis, "positions": grid.tolist(), "figure_slice_position": position,
        "example_subjects": names_ex, "sagittal_cuts": [{"mm": float(mm), "index": i} for mm, i in cuts],
        "top_regions": [r["region"] for r in regions[:5]], "files": sorted(OUTPUTS),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    write_json(out_dir / "summary.json", summary)
    return summary


def _example_rows(meta, rows, labels, positions, position, example_subjects) -> np.ndarray:
    """Rows of ``x`` holding slice ``position`` of the class-0 and the class-1 example subject."""
    subject_of = meta["subject_index"][rows]
    chosen = []
    for c in (0, 1):
        here = (positions == position) & (labels == c)
        if example_subjects is not None:
            wanted = int(example_subjects[c])
            if meta["subject_label"][wanted] != c:
                raise ValueError(f"example subject {wanted} has label {meta['subject_label'][wanted]}, not {c}")
            if (here & (subject_of == wanted)).any():
                here &= subject_of == wanted
        if not here.any():
            here = labels == c  # no subject of this class at that position: any slice of the class
        chosen.append(rows[np.flatnonzero(here)[0]])
    return np.asarray(chosen)
