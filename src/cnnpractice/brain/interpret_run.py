"""The interpretability stage for one trained network: brain models, dBMS, regions, figures.

The pieces (streamed accumulation, volumes, dBMS, ranking) are in :mod:`.interpret`; this
module runs them on a checkpoint and a slice set and writes the outputs (:data:`OUTPUTS`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from cnnpractice.brain.interpret import OUTPUTS, dbms, maps_to_volume, pooled_scale, rank_regions, stream_brain_models
from cnnpractice.io import write_json
from cnnpractice.tables import write_csv


def interpret_model(
    *,
    checkpoint,
    slices_dir,
    template_dir,
    out_dir,
    mean: float,
    std: float,
    subjects=None,
    batch_size: int = 64,
    example_subjects=None,
    sagittal_cuts_mm=(-34, -30, -26, -22, -18),
    device="cpu",
    net=None,
    seed: int = 0,
) -> dict:
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
    seed : initialisation of the untrained baseline (:func:`untrained_baseline`).

    Returns
    -------
    The summary dict also written to ``summary.json``.
    """
    from cnnpractice.brain import figures
    from cnnpractice.brain.slices import load_slices
    from cnnpractice.brain.template import load_template
    from cnnpractice.brain.volumes import save_volume

    t0 = time.perf_counter()
    slices_dir, template_dir, out_dir = Path(slices_dir), Path(template_dir), Path(out_dir)
    x, meta = load_slices(slices_dir)
    tpl = load_template(template_dir)
    template, affine, mask, atlas, names = tpl["template"], tpl["affine"], tpl["mask"], tpl["atlas"], tpl["names"]
    axis, plane_shape = int(meta["axis"]), tuple(int(s) for s in meta["plane_shape"])
    template_shape = tuple(int(s) for s in meta["template_shape"])
    if template.shape != template_shape or mask.shape != template_shape or atlas.shape != template_shape:
        raise ValueError(
            f"{slices_dir}: slices were cut from a {template_shape} grid but the template, "
            f"mask and atlas in {template_dir} are {template.shape}, {mask.shape}, {atlas.shape}"
        )
    if net is None:
        from cnnpractice.training.module import ClassificationModule

        net = ClassificationModule.from_checkpoint(checkpoint, map_location=device).net
    if not hasattr(net, "first_layer"):
        raise TypeError(f"{type(net).__name__} has no first_layer(x) method")
    net = net.to(device).eval()

    subject_label = meta["subject_label"].astype(np.int64)
    used = np.arange(meta["subjects"].size) if subjects is None else np.asarray(subjects, dtype=np.int64)
    if not set(np.unique(subject_label[used]).tolist()) == {0, 1}:
        raise ValueError(
            f"interpretation needs subjects of both classes 0 and 1, got labels "
            f"{np.unique(subject_label[used]).tolist()}"
        )
    rows = np.flatnonzero(np.isin(meta["subject_index"], used))
    labels = subject_label[meta["subject_index"][rows]]
    if not np.array_equal(labels, meta["label"][rows]):
        raise ValueError(f"{slices_dir}/meta.npz: slice labels disagree with their subjects' labels")
    positions = meta["position"][rows].astype(np.int64)
    stream = dict(mean=mean, std=std, batch_size=batch_size, device=device)
    grid_args = (axis, plane_shape, template_shape)
    # class models, differential model and the scale of every filter, in template space
    # (one (F, X, Y, Z) volume at a time is written, so at most two are held at once)
    class_means, counts, grid, scale = class_models(net, x, rows, labels, positions, grid_args, mask, **stream)
    volume = lambda maps: maps_to_volume(maps, grid, *grid_args)  # noqa: E731
    out_dir.mkdir(parents=True, exist_ok=True)
    model0 = volume(class_means[0])
    save_volume(out_dir / "brain_model_class0.nii.gz", np.moveaxis(model0, 0, -1), affine)
    diff = volume(class_means[1])
    save_volume(out_dir / "brain_model_class1.nii.gz", np.moveaxis(diff, 0, -1), affine)
    diff -= model0  # differential_model(model0, model1), in place
    del model0
    save_volume(out_dir / "differential.nii.gz", np.moveaxis(diff, 0, -1), affine)
    scores = dbms(diff, mask, scale)
    filter_a = best_filter(scores)
    regions = rank_regions(diff[filter_a], atlas, names, scale[filter_a])
    diff_a = diff[filter_a].copy()
    del diff
    write_csv(
        out_dir / "dbms.csv",
        [{"filter": f, "dbms": float(s), "is_filter_a": int(f == filter_a)} for f, s in enumerate(scores)],
        ["filter", "dbms", "is_filter_a"],
    )
    write_csv(out_dir / "regions.csv", regions, ["rank", "label", "region", "dbms", "n_voxels"])
    untrained = untrained_baseline(
        net, x, rows, labels, positions, seed=seed, grid_args=grid_args, mask=mask, atlas=atlas, names=names, **stream
    )
    write_csv(
        out_dir / "regions_untrained.csv", untrained.pop("regions"), ["rank", "label", "region", "dbms", "n_voxels"]
    )

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
        maps[0],
        maps[1],
        scores,
        out_dir / "filters.png",
        filter_a=filter_a,
        titles=(f"class 0: {names_ex[0]}", f"class 1: {names_ex[1]}"),
        suptitle=f"First-layer activations, slice {position} along axis {axis}; frame = dBMS",
    )

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
    figures.plot_model_cuts(
        model0_a[ix],
        model1_a[ix],
        diff_a[ix],
        [f"x = {mm:g} mm (cut {i})" for mm, i in cuts],
        out_dir / "filter_a_cuts.png",
        title=f"Brain models of filter A (filter {filter_a}), sagittal cuts",
    )

    summary = {
        "filter_a": filter_a,
        "dbms": [float(s) for s in scores],
        "scale": [float(s) for s in scale],
        "untrained": untrained,
        "n_slices_per_class": counts.sum(1).tolist(),
        "n_subjects_per_class": [int(np.sum(subject_label[used] == c)) for c in (0, 1)],
        "axis": axis,
        "positions": grid.tolist(),
        "figure_slice_position": position,
        "example_subjects": names_ex,
        "sagittal_cuts": [{"mm": float(mm), "index": i} for mm, i in cuts],
        "top_regions": [r["region"] for r in regions[:5]],
        "files": sorted(OUTPUTS),
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


def untrained_baseline(
    net,
    x,
    rows,
    labels,
    positions,
    *,
    mean: float,
    std: float,
    batch_size: int,
    device,
    seed: int,
    grid_args,
    mask,
    atlas,
    names,
) -> dict:
    """The same analysis for the same architecture freshly initialised (seeded), untrained.

    A first-layer map averaged over a class is close to a filtered copy of the class-mean
    image, so the class difference of even a random filter bank already shows where the
    images differ. This baseline says how much of the ranking the data alone give, and how
    much the trained filters add: the trained filter A's dBMS and ranking are read against
    the untrained filter A's.

    Returns ``{"filter_a", "dbms_filter_a", "dbms", "top_regions", "regions"}``.
    """
    from cnnpractice.brain.nulls import untrained_copy

    fresh = untrained_copy(net, seed).to(device).eval()  # the permutation nulls use the same one
    means, _, grid, scale = class_models(
        fresh, x, rows, labels, positions, grid_args, mask, mean=mean, std=std, batch_size=batch_size, device=device
    )
    diff = maps_to_volume(means[1], grid, *grid_args)
    diff -= maps_to_volume(means[0], grid, *grid_args)
    scores = dbms(diff, mask, scale)
    filter_a = best_filter(scores)
    regions = rank_regions(diff[filter_a], atlas, names, scale[filter_a])
    return {
        "filter_a": filter_a,
        "dbms_filter_a": float(scores[filter_a]),
        "dbms": [float(v) for v in scores],
        "top_regions": [r["region"] for r in regions[:5]],
        "regions": regions,
    }


def class_models(net, x, rows, labels, positions, grid_args, mask, *, mean: float, std: float, batch_size: int, device):
    """Stream the slices through ``net.first_layer``: (class means (2, F, P, S, S), slice counts
    (2, P), positions (P,), each filter's pooled within-class scale over ``mask`` (F,))."""
    acc = stream_brain_models(
        net, x, rows, labels, positions, n_classes=2, mean=mean, std=std, batch_size=batch_size, device=device
    )
    scale = pooled_scale(maps_to_volume(acc.pooled_variance(), acc.positions, *grid_args), mask)
    return acc.means(), acc.counts, acc.positions, scale


def best_filter(scores: np.ndarray) -> int:
    """Filter A: the filter with the highest finite dBMS."""
    if not np.isfinite(scores).any():
        raise ValueError("no filter has a finite dBMS (do the slices cover the brain mask?)")
    return int(np.nanargmax(np.where(np.isfinite(scores), scores, -np.inf)))
